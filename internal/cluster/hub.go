package cluster

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
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"

	"github.com/entvoice/entvoice/internal/cdr"
	"github.com/entvoice/entvoice/internal/cdrstore"
	"github.com/entvoice/entvoice/internal/events"
	"github.com/entvoice/entvoice/internal/provision"
	"github.com/entvoice/entvoice/internal/store"
)

// HubOptions configure the central node hub.
type HubOptions struct {
	Store  *store.Store
	Source provision.Source // the provisioning repository
	CA     *CA
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
}

// Hub is the central side of the node link: enrolment, then one mutual
// TLS stream per node carrying configuration down and CDRs up.
type Hub struct {
	o   HubOptions
	reg *Registry
	log *slog.Logger
	ln  net.Listener
	srv *grpc.Server

	mu      sync.Mutex
	waiters map[chan struct{}]struct{} // config-change subscribers (streams)
	active  map[string]*activeLink

	inst *instances
	pev  *peerEvents // events to and from the other instances

	cancel context.CancelFunc
	done   chan struct{}
	beats  chan struct{}
}

type activeLink struct{ cancel context.CancelFunc }

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

// StartHub listens and serves until Close.
func StartHub(ctx context.Context, o HubOptions) (*Hub, error) {
	if o.Heartbeat <= 0 {
		o.Heartbeat = 5 * time.Second
	}
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	h := &Hub{o: o, reg: NewRegistry(o.Store), log: log.With("component", "cluster-hub"),
		waiters: map[chan struct{}]struct{}{}, active: map[string]*activeLink{}, done: make(chan struct{})}
	host, _, err := net.SplitHostPort(o.Listen)
	if err != nil {
		return nil, fmt.Errorf("cluster.listen %q: %w", o.Listen, err)
	}
	names := append([]string{"localhost", "127.0.0.1", "::1"}, o.ServerNames...)
	if ip := net.ParseIP(host); ip == nil || !ip.IsUnspecified() {
		names = append(names, host)
	}
	if hn, err := os.Hostname(); err == nil {
		names = append(names, hn)
	}
	cert, err := o.CA.ServerCert(names)
	if err != nil {
		return nil, err
	}
	h.ln, err = net.Listen("tcp", o.Listen)
	if err != nil {
		return nil, fmt.Errorf("cluster.listen: %w", err)
	}
	h.srv = grpc.NewServer(grpc.Creds(credentials.NewTLS(h.tlsConfig(cert))),
		grpc.ForceServerCodec(jsonCodec{}), grpc.MaxRecvMsgSize(maxMsgSize), grpc.MaxSendMsgSize(maxMsgSize))
	h.srv.RegisterService(&serviceDesc, h)
	h.pev = newPeerEvents(h)
	if h.inst, err = newInstances(h, advertised(o.Advertise, h.ln.Addr())); err != nil {
		_ = h.ln.Close()
		return nil, err
	}
	if err := h.inst.beat(ctx); err != nil {
		_ = h.ln.Close()
		return nil, err
	}
	if o.Remote != nil {
		o.Remote.setPeers(h.inst.peers)
	}
	lctx, cancel := context.WithCancel(context.Background())
	h.cancel = cancel
	h.pev.start(lctx)
	h.beats = make(chan struct{})
	go func() {
		defer close(h.beats)
		t := time.NewTicker(o.Heartbeat)
		defer t.Stop()
		for {
			select {
			case <-lctx.Done():
				return
			case <-t.C:
				if err := h.inst.beat(lctx); err != nil && lctx.Err() == nil {
					h.log.Warn("recording this central instance", "err", err)
				}
			}
		}
	}()
	notify := o.Source.Notify()
	go func() {
		defer close(h.done)
		for {
			select {
			case <-lctx.Done():
				return
			case <-notify:
				h.mu.Lock()
				for w := range h.waiters {
					select {
					case w <- struct{}{}:
					default:
					}
				}
				h.mu.Unlock()
			}
		}
	}()
	go func() {
		if err := h.srv.Serve(h.ln); err != nil {
			h.log.Warn("node hub stopped", "err", err)
		}
	}()
	h.log.Info("node hub listening", "addr", h.ln.Addr().String(), "ca_sha256", fmt.Sprintf("%x", o.CA.Fingerprint()))
	return h, nil
}

// Addr is the hub's listening address.
func (h *Hub) Addr() net.Addr { return h.ln.Addr() }

// Registry is the hub's node registry.
func (h *Hub) Registry() *Registry { return h.reg }

// Close stops the hub: links are cut (nodes keep serving and redial).
func (h *Hub) Close() {
	h.srv.Stop()
	h.cancel()
	<-h.done
	<-h.beats
	h.pev.wait()
	if h.o.Remote != nil {
		h.o.Remote.setPeers(nil)
	}
	h.inst.leave()
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
			if err := verifyChain(raw, pool, x509.ExtKeyUsageClientAuth); err != nil {
				h.log.Warn("node link refused: client certificate not valid for this cluster (foreign CA or expired)", "remote", remote, "err", err)
				return err
			}
			return nil
		}
		return c, nil
	}
	return cfg
}

// verifyChain checks that raw[0] chains to the pool for usage. Host names
// are not checked: the pinned private CA is the trust anchor, and it gives
// server authentication to the hub's certificate only.
func verifyChain(raw [][]byte, roots *x509.CertPool, usage x509.ExtKeyUsage) error {
	certs := make([]*x509.Certificate, 0, len(raw))
	for _, r := range raw {
		c, err := x509.ParseCertificate(r)
		if err != nil {
			return fmt.Errorf("bad certificate: %w", err)
		}
		certs = append(certs, c)
	}
	inter := x509.NewCertPool()
	for _, c := range certs[1:] {
		inter.AddCert(c)
	}
	_, err := certs[0].Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, KeyUsages: []x509.ExtKeyUsage{usage}})
	return err
}

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

func (h *Hub) enrol(ctx context.Context, req *EnrolRequest) (*EnrolReply, error) {
	addr, remote := peerAddr(ctx)
	var cert *x509.Certificate
	name, err := h.reg.enrol(ctx, req.TokenID, req.Secret, addr, func(name string) (string, string, error) {
		c, err := h.o.CA.SignCSR(req.CSR, name)
		if err != nil {
			return "", "", err
		}
		cert = c
		return SerialHex(c), CertFingerprint(c), nil
	})
	if err != nil {
		h.log.Warn("node enrolment refused", "remote", remote, "node", name, "token", req.TokenID, "err", err)
		switch {
		case errors.Is(err, ErrTokenUnknown), errors.Is(err, ErrTokenUsed), errors.Is(err, ErrTokenExpired), errors.Is(err, ErrAddrRefused):
			return nil, status.Error(codes.PermissionDenied, err.Error())
		}
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	h.log.Info("node enrolled", "node", name, "remote", remote, "serial", SerialHex(cert))
	return &EnrolReply{Name: name, Cert: cert.Raw, CA: h.o.CA.Cert.Raw}, nil
}

// authorize checks a link's caller: a certificate of an enrolled node, the
// current one for its name, not revoked, from an allowed address.
func (h *Hub) authorize(ctx context.Context) (NodeInfo, error) {
	p, _ := peer.FromContext(ctx)
	var tlsInfo credentials.TLSInfo
	if p != nil {
		tlsInfo, _ = p.AuthInfo.(credentials.TLSInfo)
	}
	certs := tlsInfo.State.PeerCertificates
	if len(certs) == 0 {
		return NodeInfo{}, status.Error(codes.Unauthenticated, "the link needs the node's client certificate: enrol first")
	}
	name := certs[0].Subject.CommonName
	n, err := h.reg.Node(ctx, name)
	if errors.Is(err, ErrNodeUnknown) {
		return n, status.Errorf(codes.PermissionDenied, "node %q is not enrolled", name)
	}
	if err != nil {
		return n, status.Error(codes.Unavailable, err.Error())
	}
	if n.Revoked {
		return n, status.Errorf(codes.PermissionDenied, "node %q: %v", name, ErrNodeRevoked)
	}
	if s := SerialHex(certs[0]); s != n.Serial && s != n.NextSerial {
		return n, status.Errorf(codes.PermissionDenied, "node %q: certificate superseded by a later enrolment or renewal", name)
	}
	addr, _ := peerAddr(ctx)
	if !allowed(n.Allow, addr) {
		return n, status.Errorf(codes.PermissionDenied, "node %q: %v (%s)", name, ErrAddrRefused, addr)
	}
	n = h.adoptRenewed(ctx, n, certs[0])
	return n, nil
}

// link serves one node's stream: Hello, Welcome, then configuration down
// (snapshot or changes after the node's revision, then changes as they
// happen), CDRs up with acks, heartbeats both ways.
func (h *Hub) link(stream grpc.ServerStream) error {
	ctx := stream.Context()
	_, remote := peerAddr(ctx)
	n, err := h.authorize(ctx)
	if err != nil {
		h.log.Warn("node link refused", "remote", remote, "node", n.Name, "err", status.Convert(err).Message())
		return err
	}
	log := h.log.With("node", n.Name, "remote", remote)
	// The node speaks first; one that does not within 3 heartbeats is
	// dropped (returning ends the stream, which ends the receive).
	var hello Up
	got := make(chan error, 1)
	go func() { got <- stream.RecvMsg(&hello) }()
	select {
	case err := <-got:
		if err != nil {
			return err
		}
	case <-time.After(3 * h.o.Heartbeat):
		log.Warn("node link dropped: no hello")
		return status.Error(codes.DeadlineExceeded, "no hello")
	}
	if hello.Hello == nil {
		return status.Error(codes.InvalidArgument, "the link opens with hello")
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// One stream per node: a newer one replaces an older (a node that
	// redialled before its old connection timed out).
	me := &activeLink{cancel: cancel}
	h.mu.Lock()
	if old := h.active[n.Name]; old != nil {
		old.cancel()
	}
	h.active[n.Name] = me
	wake := make(chan struct{}, 1)
	h.waiters[wake] = struct{}{}
	h.mu.Unlock()
	defer func() {
		h.mu.Lock()
		delete(h.waiters, wake)
		if h.active[n.Name] == me {
			delete(h.active, n.Name)
		}
		h.mu.Unlock()
	}()
	var nc *nodeCmds
	var cmds <-chan *Command
	if h.o.Remote != nil {
		nc = h.o.Remote.attach(n.Name)
		defer h.o.Remote.detach(nc)
		cmds = nc.out
	}
	wanted, wantA, wantB := h.eventsWanted()
	if err := stream.SendMsg(&Down{Welcome: &Welcome{Node: n.Name, CDRAcked: n.CDRAcked, Time: time.Now().UTC(), Peers: h.enrolledNodes(ctx), EventsOff: !wanted}}); err != nil {
		return err
	}
	_ = h.reg.seen(ctx, n.Name, remote, hello.Hello.Revision)
	log.Info("node linked", "revision", hello.Hello.Revision, "cdr_acked", n.CDRAcked, "cdr_head", hello.Hello.CDRHead)

	// The receiver hands what needs a reply to the sender (this goroutine),
	// the only one that writes to the stream.
	acks := make(chan int64, 16)
	resync := make(chan struct{}, 1)
	located := make(chan *LocateReply, 16)
	recvErr := make(chan error, 1)
	rn := newLinkRenewal(n.Serial)
	var lastRev int64
	// heard is the unix nanoseconds of the node's last message, or
	// heardBusy while the receiver is storing a CDR batch: a node is not
	// silent while central is slow to read it (a large upsert on a loaded
	// database), its heartbeats are queued behind the batch.
	var heard atomic.Int64
	heard.Store(time.Now().UnixNano())
	go func() {
		recvErr <- h.receive(ctx, stream, n.Name, log, acks, resync, located, &heard, nc, rn)
	}()
	rev := hello.Hello.Revision
	needSnapshot := rev == 0
	// A node ahead of central (a central store restored from an older
	// backup) takes central's snapshot, whatever its revision.
	if r, ok := h.o.Source.(interface {
		Revision(context.Context) (int64, error)
	}); ok {
		if cur, err := r.Revision(ctx); err == nil && rev > cur {
			log.Warn("node holds a later revision than central; sending central's snapshot", "node_revision", rev, "revision", cur)
			needSnapshot = true
		}
	}
	heartbeat := time.NewTicker(h.o.Heartbeat)
	defer heartbeat.Stop()
	// The first push (the feed may already have woken us: wake holds one).
	select {
	case wake <- struct{}{}:
	default:
	}
	for {
		select {
		case <-ctx.Done():
			<-recvErr
			return ctx.Err()
		case err := <-recvErr:
			log.Info("node link closed", "err", err)
			return err
		case seq := <-acks:
			if err := stream.SendMsg(&Down{CDRAck: seq}); err != nil {
				return err
			}
		case cmd := <-cmds:
			if err := stream.SendMsg(&Down{Command: cmd}); err != nil {
				return err
			}
		case <-wantA:
			if wanted, wantA, wantB, err = h.switchEvents(stream, wanted); err != nil {
				return err
			}
		case <-wantB:
			if wanted, wantA, wantB, err = h.switchEvents(stream, wanted); err != nil {
				return err
			}
		case rep := <-located:
			if err := stream.SendMsg(&Down{Located: rep}); err != nil {
				return err
			}
		case d := <-rn.out:
			if err := stream.SendMsg(d); err != nil {
				return err
			}
		case <-resync:
			needSnapshot = true
			select {
			case wake <- struct{}{}:
			default:
			}
		case <-heartbeat.C:
			if at := heard.Load(); at != heardBusy && time.Since(time.Unix(0, at)) > 3*h.o.Heartbeat {
				silent := time.Since(time.Unix(0, at))
				log.Warn("node link dropped: node silent", "for", silent.Round(time.Millisecond))
				return status.Error(codes.DeadlineExceeded, "node silent")
			}
			peers := h.enrolledNodes(ctx)
			if err := stream.SendMsg(&Down{Heartbeat: &Heartbeat{Revision: lastRev, Time: time.Now().UTC(), Peers: peers}}); err != nil {
				return err
			}
			// A revocation cuts a live link at the next heartbeat.
			if serials, ok := peers[n.Name]; peers != nil && (!ok || !rn.holds(serials[0])) {
				log.Warn("node link cut: certificate revoked or superseded")
				return status.Error(codes.PermissionDenied, ErrNodeRevoked.Error())
			}
		case <-wake:
			var err error
			rev, needSnapshot, err = h.push(ctx, stream, rev, needSnapshot)
			if err != nil {
				if ctx.Err() == nil {
					log.Warn("config push failed", "err", err)
				}
				return err
			}
			lastRev = rev
		}
	}
}

// push sends the node what it lacks after rev: a snapshot when asked or
// when the feed no longer reaches rev, else the changes.
func (h *Hub) push(ctx context.Context, stream grpc.ServerStream, rev int64, snap bool) (int64, bool, error) {
	for !snap {
		changes, err := h.o.Source.Changes(ctx, rev, 1000)
		if errors.Is(err, provision.ErrResync) {
			snap = true
			break
		}
		if err != nil {
			return rev, false, err
		}
		if len(changes) == 0 {
			return rev, false, nil
		}
		w := make([]wireChange, len(changes))
		for i, c := range changes {
			w[i] = toWireChange(c)
		}
		if err := stream.SendMsg(&Down{Changes: w}); err != nil {
			return rev, false, err
		}
		rev = changes[len(changes)-1].Revision
		if len(changes) < 1000 {
			return rev, false, nil
		}
	}
	s, err := h.o.Source.Snapshot(ctx)
	if err != nil {
		return rev, true, err
	}
	if err := stream.SendMsg(&Down{Snapshot: toWireSnapshot(s)}); err != nil {
		return rev, true, err
	}
	return s.Revision, false, nil
}

// receive reads a node's messages until the stream ends.
func (h *Hub) receive(ctx context.Context, stream grpc.ServerStream, name string, log *slog.Logger, acks chan<- int64, resync chan<- struct{}, located chan<- *LocateReply, heard *atomic.Int64, nc *nodeCmds, rn *linkRenewal) error {
	var locating sync.WaitGroup
	defer locating.Wait()
	// CDR batches are stored by a goroutine of their own, in order, so the
	// receiver decodes the next message while the database writes this
	// one (draining a backlog, decoding was a third of the work).
	batches := make(chan []ShippedCDR, shipWindow)
	intakeErr := make(chan error, 1)
	var storing sync.WaitGroup
	storing.Go(func() { h.intakeLoop(ctx, name, log, batches, acks, intakeErr) })
	defer func() {
		close(batches)
		storing.Wait()
	}()
	for {
		var up Up
		if err := stream.RecvMsg(&up); err != nil {
			return err
		}
		select {
		case err := <-intakeErr:
			return err
		default:
		}
		heard.Store(time.Now().UnixNano())
		if up.Reply != nil && nc != nil {
			nc.deliver(up.Reply)
		}
		if req := up.Locate; req != nil {
			// Asking every node takes a round trip: not on the receiver.
			locating.Go(func() {
				rep := h.locate(ctx, name, req)
				select {
				case located <- rep:
				case <-ctx.Done():
				}
			})
		}
		if len(up.Events) > 0 {
			evs := make([]events.Event, len(up.Events))
			for i := range up.Events {
				evs[i] = up.Events[i].event()
			}
			if h.o.Events != nil {
				for _, e := range evs {
					h.o.Events.Publish(e)
				}
			}
			h.pev.relay(evs)
		}
		if up.Renew != nil || up.RenewAck != "" {
			if err := h.renewal(ctx, name, log, &up, rn); err != nil {
				return err
			}
		}
		if hb := up.Heartbeat; hb != nil {
			_, remote := peerAddr(ctx)
			_ = h.reg.seen(ctx, name, remote, hb.Revision)
			if skew := time.Since(hb.Time); skew > 2*time.Second || skew < -2*time.Second {
				log.Warn("node clock skew (node times are kept in its CDRs)", "skew", skew.Round(time.Millisecond))
			}
		}
		if up.Resync {
			select {
			case resync <- struct{}{}:
			default:
			}
		}
		if len(up.CDRs) > 0 {
			// A full queue waits for the database: the node is not silent
			// meanwhile.
			heard.Store(heardBusy)
			select {
			case batches <- up.CDRs:
			case err := <-intakeErr:
				return err
			case <-ctx.Done():
				return ctx.Err()
			}
			heard.Store(time.Now().UnixNano())
		}
	}
}

// intakeLoop stores a link's CDR batches in order and acks each. On a
// failure it reports to errc (the receiver ends the stream: the node
// resends from its last ack) and discards what is still queued.
func (h *Hub) intakeLoop(ctx context.Context, name string, log *slog.Logger, batches <-chan []ShippedCDR, acks chan<- int64, errc chan<- error) {
	for batch := range batches {
		seq, err := h.intake(ctx, name, batch)
		if err != nil {
			log.Warn("CDR intake failed; the node will resend", "err", err)
			errc <- status.Error(codes.Unavailable, "CDR intake failed: "+err.Error())
			break
		}
		select {
		case acks <- seq:
			continue
		case <-ctx.Done():
			errc <- ctx.Err()
		}
		break
	}
	for range batches {
	}
}

// eventsWanted says whether anyone here wants the nodes' events (a
// consumer on central's bus, such as an AMI session, or another central
// instance subscribed to this hub's), with channels closed when either
// changes.
func (h *Hub) eventsWanted() (bool, <-chan struct{}, <-chan struct{}) {
	var local bool
	var a <-chan struct{}
	if h.o.Events != nil {
		local, a = h.o.Events.Wanted()
	}
	peers, b := h.pev.nodeBus.Wanted()
	return local || peers, a, b
}

// switchEvents tells a node when the demand for its events changed.
func (h *Hub) switchEvents(stream grpc.ServerStream, was bool) (bool, <-chan struct{}, <-chan struct{}, error) {
	now, a, b := h.eventsWanted()
	if now != was {
		if err := stream.SendMsg(&Down{Events: &now}); err != nil {
			return was, a, b, err
		}
	}
	return now, a, b, nil
}

// heardBusy marks a link's receiver busy storing CDRs (not silent).
const heardBusy = -1

// locate answers a node's LocateRequest from the other nodes' registrations.
func (h *Hub) locate(ctx context.Context, asker string, req *LocateRequest) *LocateReply {
	rep := &LocateReply{ID: req.ID}
	if h.o.Remote == nil {
		rep.Err = "this central server does not reach its nodes"
		return rep
	}
	ctx, cancel := context.WithTimeout(ctx, locateTimeout)
	defer cancel()
	loc, err := h.o.Remote.locate(ctx, asker, req.Tenant, req.User)
	if err != nil {
		rep.Err = err.Error()
		return rep
	}
	rep.Node, rep.SIP = loc.Node, loc.SIP
	return rep
}

// intake stores a batch by uniqueid (an upsert: a batch resent after a
// lost ack changes nothing) and then records the acked sequence.
func (h *Hub) intake(ctx context.Context, name string, batch []ShippedCDR) (int64, error) {
	recs := make([]cdr.Record, len(batch))
	var maxSeq int64
	for i, b := range batch {
		recs[i] = b.Record
		if recs[i].Node == "" {
			recs[i].Node = name
		}
		maxSeq = max(maxSeq, b.Seq)
	}
	if err := cdrstore.Insert(ctx, h.o.Store, recs); err != nil {
		return 0, err
	}
	if err := h.reg.setCDRAcked(ctx, name, maxSeq); err != nil {
		return 0, err
	}
	return maxSeq, nil
}
