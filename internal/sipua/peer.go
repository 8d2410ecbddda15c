package sipua

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync"

	"github.com/emiago/sipgo/sip"

	"github.com/entvoice/entvoice/internal/control"
	"github.com/entvoice/entvoice/internal/tenancy"
)

// Calls between the nodes of a cluster (docs/cluster.md). A user registered on
// another node is called there over SIP on TLS: the calling node asks a
// PeerLocator (the cluster link, which asks central) where the user is
// registered and sends the INVITE to that node's peer listener. Both sides
// authenticate with the node certificates the cluster CA issued (mutual
// TLS), so a peer INVITE carries no digest: the TLS handshake is the
// authentication, as a PJSIP endpoint identified by its transport would be.
//
// The receiving node runs the call in the dialplan context PeerContext,
// which by default rings the user (PJSIP/${EXTEN}); the operator may define
// that context in extensions.conf to do more (record, screen...).

// PeerContext is the dialplan context calls from other nodes start in.
const PeerContext = "entvoice-peer"

// Channel variables of calls between nodes: on the calling node's leg to
// the other node, the node it went to; on the receiving node's channel,
// the node it came from.
const (
	VarPeerNode = "ENTVOICE_PEER_NODE"
	VarFromNode = "ENTVOICE_FROM_NODE"
)

// Headers a node adds to a call it hands to another node: the tenant the
// user belongs to and the call's linkedid (so both nodes' CDRs of the call
// share it, as Asterisk's linkedid does across a bridge of channels).
const (
	hdrPeerTenant   = "X-Entvoice-Tenant"
	hdrPeerLinkedID = "X-Entvoice-Linkedid"
)

// PeerLocator finds the node a user is registered on, with the address
// of its peer (TLS) listener.
type PeerLocator interface {
	LocatePeer(ctx context.Context, tenant, user string) (control.Location, error)
}

// PeerOptions enable calls between nodes.
type PeerOptions struct {
	// Addr is the TLS listener other nodes call this one on.
	Addr netip.AddrPort
	// TLS serves Addr and dials other nodes. It must present this node's
	// certificate, require the peer's and verify it (VerifyConnection):
	// the node link's PeerTrust builds it from the node's enrolment.
	TLS *tls.Config
	// Locator finds where a user not registered here is (nil: nowhere,
	// such a user is CHANUNAVAIL).
	Locator PeerLocator
}

func (s *Server) peerLocator() PeerLocator {
	if s.opts.Peer == nil {
		return nil
	}
	return s.opts.Peer.Locator
}

// PeerAddr is the address other nodes call this one on (invalid when
// peering is off).
func (s *Server) PeerAddr() netip.AddrPort {
	if s.opts.Peer == nil {
		return netip.AddrPort{}
	}
	return s.opts.Peer.Addr
}

// Registered reports whether a user of the tenant has a registered contact
// on this node.
func (s *Server) Registered(tenant, user string) bool {
	ep, ok := s.dir.Load().UserIn(tenant, user)
	if !ok {
		return false
	}
	_, ok = latestBinding(s.reg.Lookup(ep.AOR()))
	return ok
}

// locatePeer finds the node a user with no contact here is registered on
// and the address of its peer listener.
func (s *Server) locatePeer(ctx context.Context, ep *Endpoint) (control.Location, netip.AddrPort, error) {
	loc := s.peerLocator()
	if loc == nil || s.opts.Peer == nil {
		return control.Location{}, netip.AddrPort{}, fmt.Errorf("%w: %s", ErrNotRegistered, ep.Name)
	}
	p, err := loc.LocatePeer(ctx, tenancy.Of(ep.Tenant), ep.Name)
	if err != nil {
		return control.Location{}, netip.AddrPort{}, fmt.Errorf("%w: %s (%w)", ErrNotRegistered, ep.Name, err)
	}
	addr, err := netip.ParseAddrPort(p.SIP)
	if err != nil {
		return p, netip.AddrPort{}, fmt.Errorf("%w: %s is registered on node %s, which takes no calls from other nodes (peer address %q)", ErrNotRegistered, ep.Name, p.Node, p.SIP)
	}
	return p, addr, nil
}

// peerListener hands sipgo TLS connections whose peer presented a node
// certificate, and remembers which node each connection is.
type peerListener struct {
	net.Listener
	srv *Server
}

func (l *peerListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	remote := c.RemoteAddr().String()
	cfg := l.srv.opts.Peer.TLS.Clone()
	verify := cfg.VerifyConnection
	cfg.VerifyConnection = func(cs tls.ConnectionState) error {
		if verify != nil {
			if err := verify(cs); err != nil {
				l.srv.log.Warn("node-to-node TLS connection refused", "remote", remote, "err", err)
				return err
			}
		}
		if len(cs.PeerCertificates) == 0 {
			return errors.New("no node certificate")
		}
		l.srv.peerConns.Store(remote, cs.PeerCertificates[0].Subject.CommonName)
		return nil
	}
	return tls.Server(&peerConn{Conn: c, forget: func() { l.srv.peerConns.Delete(remote) }}, cfg), nil
}

// peerConn forgets its peer's identity when it closes.
type peerConn struct {
	net.Conn
	once   sync.Once
	forget func()
}

func (c *peerConn) Close() error {
	c.once.Do(c.forget)
	return c.Conn.Close()
}

// peerOf names the node a request came from over the peer listener.
func (s *Server) peerOf(req *sip.Request) (string, bool) {
	if transportOf(req) != "tls" {
		return "", false
	}
	v, ok := s.peerConns.Load(req.Source())
	if !ok {
		return "", false
	}
	return v.(string), true
}

// identifyPeer makes the endpoint of an INVITE from another node: named
// after that node, in the tenant the call is for, starting in PeerContext,
// with the called user's codecs. It answers the request itself when it
// refuses it.
func (s *Server) identifyPeer(dir *Directory, node string, req *sip.Request, tx sip.ServerTransaction) (*Endpoint, string, bool) {
	tid := tenancy.Default
	if h := req.GetHeader(hdrPeerTenant); h != nil && h.Value() != "" {
		tid = h.Value()
	}
	user, ok := dir.UserIn(tid, req.Recipient.User)
	if !ok {
		s.log.Info("call from another node for an unknown user", "node", node, "tenant", tid, "user", req.Recipient.User)
		s.respond(req, tx, 404, "Not Found")
		return nil, "", false
	}
	linked := ""
	if h := req.GetHeader(hdrPeerLinkedID); h != nil && validLinkedID(h.Value()) {
		linked = h.Value()
	}
	return &Endpoint{
		Name: node, Trunk: true, Enabled: true, Tenant: tid, Context: PeerContext,
		Codecs: user.Codecs, Language: user.Language,
	}, linked, true
}

// validLinkedID accepts what a node's uniqueid looks like
// ("site-a-1700000000.12"), nothing that could smuggle other text into
// CDRs and events.
func validLinkedID(v string) bool {
	if v == "" || len(v) > 128 {
		return false
	}
	return !strings.ContainsFunc(v, func(r rune) bool {
		return !(r == '-' || r == '.' || r == '_' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z')
	})
}
