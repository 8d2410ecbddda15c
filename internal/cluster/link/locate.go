package link

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/entvoice/entvoice/internal/cluster/wire"
	"github.com/entvoice/entvoice/internal/control"
	"github.com/entvoice/entvoice/internal/sipua"
)

// locateTimeout bounds a Locate: central asks every node, each answers
// from memory.
const locateTimeout = 3 * time.Second

// LocatePeer asks central which other node has the user registered, for a
// call from this node (sipua's PeerLocator). It fails at once while the
// link is down: a node alone serves its own users only.
func (l *Link) LocatePeer(ctx context.Context, tenant, user string) (sipua.Peer, error) {
	if !l.connected.Load() {
		return sipua.Peer{}, fmt.Errorf("%w: central unreachable", control.ErrNodeNotLinked)
	}
	ctx, cancel := context.WithTimeout(ctx, locateTimeout)
	defer cancel()
	req := l.locating.Open()
	defer req.Close()
	select {
	case l.locates <- &wire.LocateRequest{ID: req.ID, Tenant: tenant, User: user}:
	case <-ctx.Done():
		return sipua.Peer{}, fmt.Errorf("locate %s: %w", user, ctx.Err())
	}
	rep, err := req.Wait(ctx, nil)
	if err != nil {
		return sipua.Peer{}, fmt.Errorf("locate %s: %w", user, err)
	}
	if rep.Err != "" {
		return sipua.Peer{}, errors.New(rep.Err)
	}
	addr, err := netip.ParseAddrPort(rep.SIP)
	if err != nil {
		return sipua.Peer{Node: rep.Node}, fmt.Errorf("node %s takes no calls from other nodes (peer address %q)", rep.Node, rep.SIP)
	}
	return sipua.Peer{Node: rep.Node, Addr: addr}, nil
}
