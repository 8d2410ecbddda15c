package link

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/entvoice/entvoice/internal/cluster/wire"
	"github.com/entvoice/entvoice/internal/control"
)

// locateTimeout bounds a Locate: central asks every node, each answers
// from memory.
const locateTimeout = 3 * time.Second

// LocatePeer asks central which other node has the user registered, for a
// call from this node (sipua's PeerLocator): the node and the address of
// its peer listener (empty when it takes no calls from other nodes). It
// fails at once while the link is down: a node alone serves its own users
// only.
func (l *Link) LocatePeer(ctx context.Context, tenant, user string) (control.Location, error) {
	if !l.connected.Load() {
		return control.Location{}, fmt.Errorf("%w: central unreachable", control.ErrNodeNotLinked)
	}
	ctx, cancel := context.WithTimeout(ctx, locateTimeout)
	defer cancel()
	req := l.locating.Open()
	defer req.Close()
	select {
	case l.locates <- &wire.LocateRequest{ID: req.ID, Tenant: tenant, User: user}:
	case <-ctx.Done():
		return control.Location{}, fmt.Errorf("locate %s: %w", user, ctx.Err())
	}
	rep, err := req.Wait(ctx, nil)
	if err != nil {
		return control.Location{}, fmt.Errorf("locate %s: %w", user, err)
	}
	if rep.Err != "" {
		return control.Location{}, errors.New(rep.Err)
	}
	return control.Location{Node: rep.Node, SIP: rep.SIP}, nil
}
