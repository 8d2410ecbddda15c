// Package hub is the central side of the distributed tier: the node hub
// that enrols nodes and serves their links (configuration down, CDRs and
// events up, commands down and replies up), the registry of nodes and
// tokens in central's store, Remote (the control.Controller that acts on
// live calls over the links), and the exchange between central instances
// that share one database (commands forwarded, node events followed).
// Nodes run internal/cluster/link; both speak internal/cluster/wire.
// docs/cluster.md describes the design.
package hub

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"

	"github.com/entvoice/entvoice/internal/cluster/pki"
	"github.com/entvoice/entvoice/internal/cluster/wire"
	"github.com/entvoice/entvoice/internal/control"
	"github.com/entvoice/entvoice/internal/events"
	"github.com/entvoice/entvoice/internal/provision"
	"github.com/entvoice/entvoice/internal/store"
)

// Options configure the central node hub.
type Options struct {
	Store  *store.Store
	Source provision.Source // the provisioning repository
	CA     *pki.CA
	// Registry is the node registry, shared with the API (nil: one of
	// the hub's own on Store).
	Registry *Registry
	// Listen is "IP:PORT".
	Listen string
	// ServerNames go into the hub certificate besides the listen IP,
	// localhost and the host name.
	ServerNames []string
	Heartbeat   time.Duration
	Logger      *slog.Logger
	// Remote, when set, is given each linked node's command queue.
	Remote *Remote
	// Events, when set, receives the events of every linked node (their
	// uniqueids carry the node's system_name).
	Events *events.Bus
	// Advertise is the address other central instances sharing the
	// database dial to forward commands (default: Listen when it names an
	// IP).
	Advertise string
	// Charging answers the nodes' billing questions (nil: no billing,
	// every caller is not charged).
	Charging control.Charging
}

// Hub is the central side of the node link: enrolment, then one mutual
// TLS stream per node carrying configuration down and CDRs up.
type Hub struct {
	o   Options
	reg *Registry
	log *slog.Logger
	ln  net.Listener
	srv *grpc.Server

	// config wakes the links when the provisioning feed moves.
	config wakeSet
	// trusted is the enrolled-node list every link carries.
	trusted trustedNodes
	// grants are the nodes' charged legs not settled yet.
	grants grants

	mu     sync.Mutex
	active map[string]*nodeLink // by node name

	inst *instances
	pev  *peerEvents // events to and from the other instances

	cancel    context.CancelFunc
	wg        sync.WaitGroup
	closeOnce sync.Once
}

// Start listens and serves until Close.
func Start(ctx context.Context, o Options) (*Hub, error) {
	if o.Heartbeat <= 0 {
		o.Heartbeat = 5 * time.Second
	}
	if o.Registry == nil {
		o.Registry = NewRegistry(o.Store)
	}
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	h := &Hub{o: o, reg: o.Registry, log: log.With("component", "cluster-hub"), active: map[string]*nodeLink{}}
	h.trusted.reg = h.reg
	cert, err := o.CA.ServerCert(serverNames(o.Listen, o.ServerNames))
	if err != nil {
		return nil, err
	}
	h.ln, err = net.Listen("tcp", o.Listen)
	if err != nil {
		return nil, fmt.Errorf("cluster.listen: %w", err)
	}
	h.srv = grpc.NewServer(append(wire.ServerOptions(), grpc.Creds(credentials.NewTLS(h.tlsConfig(cert))))...)
	wire.Register(h.srv, service{h})
	h.pev = newPeerEvents(h)
	if h.inst, err = newInstances(h, advertised(o.Advertise, h.ln.Addr())); err == nil {
		err = h.inst.beat(ctx)
	}
	if err == nil {
		err = h.trusted.refresh(ctx)
	}
	if err != nil {
		_ = h.ln.Close()
		return nil, err
	}
	if o.Remote != nil {
		o.Remote.setPeers(h.inst.peers)
	}
	lctx, cancel := context.WithCancel(context.Background())
	h.cancel = cancel
	if o.Events != nil {
		// The other instances' node events, for this hub's bus.
		h.wg.Go(func() { h.pev.run(lctx) })
	}
	h.wg.Go(func() { h.watch(lctx) })
	h.wg.Go(func() {
		if err := h.srv.Serve(h.ln); err != nil {
			h.log.Warn("node hub stopped", "err", err)
		}
	})
	h.log.Info("node hub listening", "addr", h.ln.Addr().String(), "ca_sha256", fmt.Sprintf("%x", o.CA.Fingerprint()))
	return h, nil
}

// serverNames are the names the hub's certificate is issued for.
func serverNames(listen string, extra []string) []string {
	names := append([]string{"localhost", "127.0.0.1", "::1"}, extra...)
	host, _, err := net.SplitHostPort(listen)
	if err == nil {
		if ip := net.ParseIP(host); ip == nil || !ip.IsUnspecified() {
			names = append(names, host)
		}
	}
	if hn, err := os.Hostname(); err == nil {
		names = append(names, hn)
	}
	return names
}

// watch runs the hub's background work until ctx ends: it wakes the links
// when the provisioning feed moves, reads the enrolled-node list again
// when it may have changed (pushed to every link when it did), and
// records this instance every heartbeat.
func (h *Hub) watch(ctx context.Context) {
	notify := h.o.Source.Notify()
	nodes, stop := h.reg.Watch()
	defer stop()
	// On PostgreSQL a node registry change anywhere also wakes the feed
	// (Registry.changed): the enrolments and renewals at the other
	// instances, a revocation by the command line.
	shared := h.o.Store.Dialect() == store.Postgres
	tick := time.NewTicker(h.o.Heartbeat)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-notify:
			h.config.wake()
			if shared {
				h.refreshTrusted(ctx)
			}
		case <-nodes:
			h.refreshTrusted(ctx)
		case <-tick.C:
			if err := h.inst.beat(ctx); err != nil && ctx.Err() == nil {
				h.log.Warn("recording this central instance", "err", err)
			}
			// A change no signal reached this process with (a revocation
			// by the command line on a SQLite store) shows here.
			h.refreshTrusted(ctx)
		}
	}
}

func (h *Hub) refreshTrusted(ctx context.Context) {
	if err := h.trusted.refresh(ctx); err != nil && ctx.Err() == nil {
		h.log.Warn("reading the enrolled nodes", "err", err)
	}
}

// Addr is the hub's listening address.
func (h *Hub) Addr() net.Addr { return h.ln.Addr() }

// Registry is the hub's node registry.
func (h *Hub) Registry() *Registry { return h.reg }

// Connected lists the names of the nodes linked now.
func (h *Hub) Connected() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]string, 0, len(h.active))
	for n := range h.active {
		out = append(out, n)
	}
	return out
}

// Close stops the hub: links are cut (nodes keep serving and redial).
func (h *Hub) Close() {
	h.closeOnce.Do(func() {
		h.srv.Stop()
		h.cancel()
		h.wg.Wait()
		if h.o.Remote != nil {
			h.o.Remote.setPeers(nil)
		}
		h.inst.leave()
	})
}

// service is the hub as the gRPC service's handlers see it.
type service struct{ h *Hub }

func (s service) Enrol(ctx context.Context, req *wire.EnrolRequest) (*wire.EnrolReply, error) {
	return s.h.enrol(ctx, req)
}

func (s service) Link(stream grpc.ServerStream) error { return s.h.serveLink(stream) }

func (s service) Forward(ctx context.Context, req *wire.ForwardRequest) (*wire.ForwardReply, error) {
	return s.h.forward(ctx, req)
}

func (s service) Events(req *wire.EventsRequest, stream grpc.ServerStream) error {
	return s.h.events(req, stream)
}

// tlsConfig is TLS 1.3 only. A client certificate is requested, not
// required: Enrol is called without one. A certificate that is given must
// chain to the cluster CA (checked here, so the refusal is logged with the
// peer's address); Link refuses callers without one.
func (h *Hub) tlsConfig(cert tls.Certificate) *tls.Config {
	pool := h.o.CA.Pool()
	base := &tls.Config{MinVersion: tls.VersionTLS13, Certificates: []tls.Certificate{cert}, NextProtos: []string{"h2"}}
	cfg := base.Clone()
	cfg.GetConfigForClient = func(hello *tls.ClientHelloInfo) (*tls.Config, error) {
		c := base.Clone()
		remote := hello.Conn.RemoteAddr().String()
		c.ClientAuth = tls.RequestClientCert
		c.VerifyPeerCertificate = func(raw [][]byte, _ [][]*x509.Certificate) error {
			if len(raw) == 0 {
				return nil
			}
			if err := pki.VerifyChain(raw, pool, x509.ExtKeyUsageClientAuth); err != nil {
				h.log.Warn("node link refused: client certificate not valid for this cluster (foreign CA or expired)", "remote", remote, "err", err)
				return err
			}
			return nil
		}
		return c, nil
	}
	return cfg
}

// peerAddr is the caller's address, parsed and as text.
func peerAddr(ctx context.Context) (netip.Addr, string) {
	p, ok := peer.FromContext(ctx)
	if !ok || p.Addr == nil {
		return netip.Addr{}, ""
	}
	ap, err := netip.ParseAddrPort(p.Addr.String())
	if err != nil {
		return netip.Addr{}, p.Addr.String()
	}
	return ap.Addr().Unmap(), p.Addr.String()
}

// peerCert is the caller's client certificate (nil without one).
func peerCert(ctx context.Context) *x509.Certificate {
	p, _ := peer.FromContext(ctx)
	if p == nil {
		return nil
	}
	info, _ := p.AuthInfo.(credentials.TLSInfo)
	if len(info.State.PeerCertificates) == 0 {
		return nil
	}
	return info.State.PeerCertificates[0]
}

func (h *Hub) enrol(ctx context.Context, req *wire.EnrolRequest) (*wire.EnrolReply, error) {
	addr, remote := peerAddr(ctx)
	var cert *x509.Certificate
	name, err := h.reg.enrol(ctx, req.TokenID, req.Secret, addr, func(name string) (string, string, error) {
		c, err := h.o.CA.SignCSR(req.CSR, name)
		if err != nil {
			return "", "", err
		}
		cert = c
		return pki.SerialHex(c), pki.CertFingerprint(c), nil
	})
	if err != nil {
		h.log.Warn("node enrolment refused", "remote", remote, "node", name, "token", req.TokenID, "err", err)
		switch {
		case errors.Is(err, ErrTokenUnknown), errors.Is(err, ErrTokenUsed), errors.Is(err, ErrTokenExpired), errors.Is(err, ErrAddrRefused):
			return nil, status.Error(codes.PermissionDenied, err.Error())
		}
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	h.log.Info("node enrolled", "node", name, "remote", remote, "serial", pki.SerialHex(cert))
	return &wire.EnrolReply{Name: name, Cert: cert.Raw, CA: h.o.CA.Cert.Raw}, nil
}

// authorize checks a link's caller: a certificate of an enrolled node, the
// current one for its name, not revoked, from an allowed address.
func (h *Hub) authorize(ctx context.Context) (control.NodeInfo, error) {
	cert := peerCert(ctx)
	if cert == nil {
		return control.NodeInfo{}, status.Error(codes.Unauthenticated, "the link needs the node's client certificate: enrol first")
	}
	name := cert.Subject.CommonName
	n, err := h.reg.Node(ctx, name)
	if errors.Is(err, control.ErrNodeUnknown) {
		return n, status.Errorf(codes.PermissionDenied, "node %q is not enrolled", name)
	}
	if err != nil {
		return n, status.Error(codes.Unavailable, err.Error())
	}
	if n.Revoked {
		return n, status.Errorf(codes.PermissionDenied, "node %q: %v", name, ErrNodeRevoked)
	}
	if s := pki.SerialHex(cert); s != n.Serial && s != n.NextSerial {
		return n, status.Errorf(codes.PermissionDenied, "node %q: certificate superseded by a later enrolment or renewal", name)
	}
	addr, _ := peerAddr(ctx)
	if !allowed(n.Allow, addr) {
		return n, status.Errorf(codes.PermissionDenied, "node %q: %v (%s)", name, ErrAddrRefused, addr)
	}
	return h.adoptRenewed(ctx, n, cert), nil
}
