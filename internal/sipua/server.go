// Package sipua is the node's SIP side on emiago/sipgo: transports, the
// registrar, endpoint identification, digest authentication of calls and the
// B2BUA legs that back channels. Applications never see SIP: an inbound
// INVITE becomes a channel handed to the CallHandler, and Dial asks Call for
// an outbound leg.
package sipua

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"github.com/entvoice/entvoice/internal/acl"
	"github.com/entvoice/entvoice/internal/channel"
	"github.com/entvoice/entvoice/internal/events"
	"github.com/entvoice/entvoice/internal/media"
	"github.com/entvoice/entvoice/internal/registrar"
	"github.com/entvoice/entvoice/internal/sipauth"
	"github.com/entvoice/entvoice/internal/tenancy"
)

// CallHandler receives inbound calls.
type CallHandler interface {
	// Exists reports whether the dialplan has context/exten (PJSIP answers
	// 404 to an INVITE for an extension that does not exist).
	Exists(context, exten string) bool
	// HandleCall runs the dialplan on a new inbound channel. It is called
	// on its own goroutine and returns when the channel is gone.
	HandleCall(ch *channel.Channel)
}

// Listener is one transport the server listens on.
type Listener struct {
	Transport string // udp, tcp, tls, ws or wss
	Addr      netip.AddrPort
}

// Options configure a Server.
type Options struct {
	Listeners      []Listener
	Realm          string
	UserAgent      string
	MediaAddr      netip.Addr
	Ports          *media.PortPool
	Pacer          *media.Pacer
	Channels       *channel.Registry
	Handler        CallHandler
	Guard          *acl.Guard
	Challenger     *sipauth.Challenger
	MinExpires     int
	MaxExpires     int
	DefaultExpires int
	SessionExpires int
	Logger         *slog.Logger
	// Directory is the endpoints served from the start (static users and
	// trunks); SetDirectory swaps in realtime changes.
	Directory *Directory
	// Limits counts the tenants' live legs against their max_calls: an
	// INVITE past a tenant's limit gets 503. Outbound legs are counted by
	// the channel technologies registry, on the same Limits.
	Limits *tenancy.Limits
	// Peer, when set, takes and places calls between the nodes of a
	// cluster (peer.go).
	Peer *PeerOptions
	// MWI, when set, is the message waiting the node's phones are told
	// of: SUBSCRIBE/NOTIFY message-summary and unsolicited NOTIFYs (mwi.go).
	MWI MWI

	// Edge is the first look at every request: bans, per-method rates,
	// scanners, force_rport (edge.go). Guard is its ban list and buckets.
	Edge EdgeOptions
	// TLS serves the tls and wss listeners (certificates that reload,
	// client verification); ClientTLS dials TLS (trunks with transport
	// tls) when the node does not peer (peering dials with its own).
	TLS, ClientTLS *tls.Config
}

// Server is the SIP user agent of a node.
type Server struct {
	opts      Options
	log       *slog.Logger
	ua        *sipgo.UserAgent
	srv       *sipgo.Server
	clients   map[string]*sipgo.Client // by transport
	dialogUAs map[string]*sipgo.DialogUA
	// natDialogUAs rewrite the contact (endpoints with rewrite_contact).
	natDialogUAs map[string]*sipgo.DialogUA
	reg          *registrar.Registrar
	dir          atomic.Pointer[Directory]
	bus          *events.Bus
	draining     atomic.Bool
	contact      map[string]sip.ContactHeader
	laddr        map[string]netip.AddrPort
	udp          net.PacketConn // first UDP listener, set by Start

	mu   sync.Mutex
	legs map[string]leg // by dialog id

	realmMu sync.Mutex
	realms  map[string]*sipauth.Challenger // hosted tenants' challengers by realm

	closing atomic.Bool // set by Close: UDP listeners drop what they read
	edge    *edge
	calls   callCounter // endpoints' live calls (max_calls)

	dtlsOnce sync.Once // the DTLS identity of WebRTC streams, made on first use
	dtlsID   *media.DTLSIdentity
	dtlsErr  error

	peerConns sync.Map // remote "ip:port" of a peer TLS connection -> node name
	tlsNames  sync.Map // remote "ip:port" of a TLS client with a verified certificate -> its names

	wg     sync.WaitGroup
	cancel context.CancelFunc
	closed chan struct{}

	// routes are the request handlers by method, as sipgo's server has
	// them (tests hand requests to them the same way).
	routes map[sip.RequestMethod]sipgo.RequestHandler

	mwi *mwiManager // nil without Options.MWI
}

// leg is what in-dialog requests are routed to.
type leg interface {
	onBye(req *sip.Request, tx sip.ServerTransaction)
	onAck(req *sip.Request, tx sip.ServerTransaction)
	onReinvite(req *sip.Request, tx sip.ServerTransaction)
	onInfo(req *sip.Request, tx sip.ServerTransaction)
}

// New builds a server; Start makes it listen.
func New(opts Options) (*Server, error) {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Limits == nil {
		opts.Limits = tenancy.NewLimits()
	}
	if len(opts.Listeners) == 0 {
		return nil, errors.New("sipua: no listeners")
	}
	// sipgo's layers log to slog.Default unless told otherwise.
	sipgoLog := slog.New(quietParseErrors{opts.Logger.Handler()})
	uaOpts := []sipgo.UserAgentOption{sipgo.WithUserAgent(opts.UserAgent),
		sipgo.WithUserAgentHostname(opts.Listeners[0].Addr.Addr().String()),
		sipgo.WithUserAgentTransportLayerOptions(sip.WithTransportLayerLogger(sipgoLog)),
		sipgo.WithUserAgentTransactionLayerOptions(sip.WithTransactionLayerLogger(sipgoLog))}
	listeners := opts.Listeners
	if opts.Peer != nil {
		if opts.Peer.TLS == nil || !opts.Peer.Addr.IsValid() {
			return nil, errors.New("sipua: peering needs an address and a TLS configuration")
		}
		// TLS connections sipgo dials go to other nodes only.
		uaOpts = append(uaOpts, sipgo.WithUserAgenTLSConfig(opts.Peer.TLS))
		listeners = append(listeners[:len(listeners):len(listeners)], Listener{Transport: "tls", Addr: opts.Peer.Addr})
	} else if opts.ClientTLS != nil {
		uaOpts = append(uaOpts, sipgo.WithUserAgenTLSConfig(opts.ClientTLS))
	}
	ua, err := sipgo.NewUA(uaOpts...)
	if err != nil {
		return nil, fmt.Errorf("sipua: user agent: %w", err)
	}
	srv, err := sipgo.NewServer(ua, sipgo.WithServerLogger(opts.Logger))
	if err != nil {
		return nil, fmt.Errorf("sipua: server: %w", err)
	}
	s := &Server{
		opts:         opts,
		log:          opts.Logger,
		ua:           ua,
		srv:          srv,
		clients:      map[string]*sipgo.Client{},
		dialogUAs:    map[string]*sipgo.DialogUA{},
		natDialogUAs: map[string]*sipgo.DialogUA{},
		bus:          opts.Channels.Bus(),
		legs:         map[string]leg{},
		contact:      map[string]sip.ContactHeader{},
		laddr:        map[string]netip.AddrPort{},
		closed:       make(chan struct{}),
		realms:       map[string]*sipauth.Challenger{},
	}
	if opts.Directory == nil {
		opts.Directory = NewDirectory(nil)
	}
	s.dir.Store(opts.Directory)
	s.edge = newEdge(opts.Edge, opts.Guard, &s.dir, opts.Logger)
	for _, l := range listeners {
		if _, ok := s.clients[l.Transport]; ok {
			continue
		}
		copts := []sipgo.ClientOption{sipgo.WithClientAddr(l.Addr.String()), sipgo.WithClientLogger(opts.Logger)}
		if l.Transport == "udp" {
			// Send from the listening socket so replies and NAT bindings
			// use the address phones registered to.
			copts = append(copts, sipgo.WithClientConnectionAddr(l.Addr.String()))
		}
		c, err := sipgo.NewClient(ua, copts...)
		if err != nil {
			return nil, fmt.Errorf("sipua: client: %w", err)
		}
		s.clients[l.Transport] = c
		ch := sip.ContactHeader{Address: sip.Uri{Scheme: "sip", Host: l.Addr.Addr().String(), Port: int(l.Addr.Port())}}
		if l.Transport != "udp" {
			ch.Address.UriParams = sip.NewParams()
			ch.Address.UriParams.Add("transport", l.Transport)
		}
		s.contact[l.Transport] = ch
		s.laddr[l.Transport] = l.Addr
		s.dialogUAs[l.Transport] = &sipgo.DialogUA{Client: c, ContactHDR: ch}
		s.natDialogUAs[l.Transport] = &sipgo.DialogUA{Client: c, ContactHDR: ch, RewriteContact: true}
	}
	s.reg = registrar.NewRegistrar(registrar.Options{
		Realm:          opts.Realm,
		Challenger:     opts.Challenger,
		Lookup:         s.lookupAccount,
		Scope:          s.registerScope,
		MinExpires:     time.Duration(opts.MinExpires) * time.Second,
		MaxExpires:     time.Duration(opts.MaxExpires) * time.Second,
		DefaultExpires: time.Duration(opts.DefaultExpires) * time.Second,
		Guard:          opts.Guard,
		Logger:         opts.Logger,
		OnChange:       s.onRegistrationChange,
		Security:       s.registerSecurity,
	})
	// ACK and CANCEL are exempt from the checks (RFC 3261 8.2.2.3).
	s.routes = map[sip.RequestMethod]sipgo.RequestHandler{
		sip.INVITE:   s.validated(s.onInvite),
		sip.ACK:      s.onAck,
		sip.BYE:      s.validated(s.inDialog(leg.onBye)),
		sip.CANCEL:   s.onCancel,
		sip.REGISTER: s.validated(s.onRegister),
		sip.OPTIONS:  s.validated(s.onOptions),
		sip.INFO:     s.validated(s.inDialog(leg.onInfo)),
		// UPDATE (RFC 3311) refreshes a session (RFC 4028) or carries
		// an offer like a re-INVITE.
		sip.UPDATE: s.validated(s.inDialog(leg.onReinvite)),
		// SUBSCRIBE to message-summary: MWI (RFC 3842, mwi.go).
		sip.SUBSCRIBE: s.validated(s.onSubscribe),
	}
	if opts.MWI != nil {
		s.mwi = newMWIManager(s, opts.MWI)
	}
	// Requests over stream transports meet the edge here (UDP ones did
	// before parsing).
	for method, h := range s.routes {
		s.routes[method] = s.admitted(h)
	}
	for method, h := range s.routes {
		srv.OnRequest(method, h)
	}
	srv.OnNoRoute(s.admitted(s.onNoRoute))
	return s, nil
}

// Registrar is the node's location service.
func (s *Server) Registrar() *registrar.Registrar { return s.reg }

// SetDirectory swaps in a new endpoint snapshot. Registrations of users that
// were removed or disabled (or whose tenant was suspended) are dropped
// (realtime: a disabled user loses its registrations at once).
func (s *Server) SetDirectory(d *Directory) {
	old := s.dir.Swap(d)
	if old == nil {
		return
	}
	for _, u := range old.Users() {
		if nu, ok := d.UserIn(u.Tenant, u.Name); !ok || !nu.Enabled {
			s.reg.Unregister(u.AOR())
			if s.mwi != nil {
				s.mwi.forget(u.Tenant, u.Name)
			}
		}
	}
}

// Directory returns the current endpoint snapshot.
func (s *Server) Directory() *Directory { return s.dir.Load() }

func (s *Server) lookupAccount(user string) (registrar.Account, bool) {
	return accountOf(s.dir.Load().User(user))
}

func accountOf(e *Endpoint, ok bool) (registrar.Account, bool) {
	if !ok {
		return registrar.Account{}, false
	}
	return registrar.Account{Username: e.Name, Credentials: e.Credentials, ACL: e.ACL, MaxContacts: e.MaxContacts, Enabled: e.Enabled, AOR: e.AOR()}, true
}

// tenantOfRequest picks the tenant a request is for in hosted mode: the
// tenant whose domain is the host of the first URI that names one (for
// REGISTER the To URI, the address-of-record; for an INVITE the From URI,
// the caller's), else the Request-URI's; any other host (an IP address,
// an unknown domain) is the default tenant's.
func tenantOfRequest(d *Directory, first *sip.Uri, req *sip.Request) string {
	if first != nil {
		if t, ok := d.TenantForHost(first.Host); ok {
			return t
		}
	}
	t, _ := d.TenantForHost(req.Recipient.Host)
	return t
}

// challengerFor returns the digest challenger of a tenant: the configured
// one (sip.realm) for the default tenant, one whose realm is the tenant's
// SIP domain for a hosted tenant (the realm its users' HA1s are made with:
// MD5(user:domain:password)).
func (s *Server) challengerFor(d *Directory, tid string) *sipauth.Challenger {
	t := d.Tenant(tid)
	if tenancy.IsDefault(tid) || t == nil || t.Domain == "" {
		return s.opts.Challenger
	}
	realm := t.Domain
	s.realmMu.Lock()
	defer s.realmMu.Unlock()
	c, ok := s.realms[realm]
	if !ok {
		base := s.opts.Challenger
		c = sipauth.NewChallenger(sipauth.Options{Realm: realm, NonceLifetime: base.NonceLifetime(), Algorithms: base.Algorithms()})
		s.realms[realm] = c
	}
	return c
}

// registerScope selects the realm and users of a REGISTER by its AOR's
// domain (hosted mode).
func (s *Server) registerScope(req *sip.Request) registrar.Scope {
	d := s.dir.Load()
	var aor *sip.Uri
	if to := req.To(); to != nil {
		aor = &to.Address
	}
	tid := tenantOfRequest(d, aor, req)
	return registrar.Scope{
		Challenger: s.challengerFor(d, tid),
		Lookup:     func(user string) (registrar.Account, bool) { return accountOf(d.UserIn(tid, user)) },
	}
}

// TenantCalls is the number of live legs of a tenant.
func (s *Server) TenantCalls(tid string) int { return s.opts.Limits.Count(tid) }

func (s *Server) onRegistrationChange(aor string, prev, bindings []registrar.Binding) {
	// Events name the endpoint as its tenant knows it (PJSIP/1001), with
	// the tenant beside it, as channel events do.
	tid, name := tenancy.SplitAOR(aor)
	// ContactStatus for each contact added or removed (res_pjsip's
	// Created/Removed); a refresh changes nothing and raises nothing. The
	// registrar hands over the set before the change, so no copy of every
	// contact is kept here.
	before, now := contactURIs(prev), contactURIs(bindings)
	contact := func(uri, status string) {
		s.bus.Publish(events.Event{Kind: events.ContactStatus, Tenant: tid, Peer: "PJSIP/" + name, Status: status, URI: uri})
	}
	for _, uri := range now {
		if !slices.Contains(before, uri) {
			contact(uri, "Created")
			if s.mwi != nil {
				s.mwi.contactRegistered(aor, uri, bindings)
			}
		}
	}
	for _, uri := range before {
		if !slices.Contains(now, uri) {
			contact(uri, "Removed")
		}
	}
	// PeerStatus when the endpoint becomes reachable or unreachable.
	if (len(before) == 0) != (len(now) == 0) {
		status := "Reachable"
		if len(now) == 0 {
			status = "Unreachable"
		}
		s.bus.Publish(events.Event{Kind: events.PeerStatus, Peer: "PJSIP/" + name, Status: status, Tenant: tid})
	}
}

// contactURIs is the contact URIs of bs, without angle brackets, each once.
func contactURIs(bs []registrar.Binding) []string {
	out := make([]string, 0, len(bs))
	for _, b := range bs {
		if u := strings.Trim(b.Contact, "<>"); !slices.Contains(out, u) {
			out = append(out, u)
		}
	}
	return out
}

// Start listens on every configured transport. It returns once the sockets
// are bound; serving goes on until ctx is cancelled or Close.
func (s *Server) Start(ctx context.Context) error {
	ctx, s.cancel = context.WithCancel(ctx)
	if s.mwi != nil {
		s.mwi.start()
	}
	for _, l := range s.opts.Listeners {
		switch l.Transport {
		case "udp":
			pc, err := net.ListenPacket("udp", l.Addr.String())
			if err != nil {
				s.cancel()
				return fmt.Errorf("sipua: listen udp %s: %w", l.Addr, err)
			}
			// REGISTER is answered statelessly on UDP before sipgo's
			// transaction layer sees it (docs/design-notes.md, "Where the
			// time goes": REGISTER floods need a stateless path).
			if s.udp == nil {
				s.udp = pc
			}
			wrapped := registrar.WrapPacketConn(&edgeConn{PacketConn: pc, edge: s.edge, closing: &s.closing}, s.reg)
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				if err := s.srv.ServeUDP(wrapped); err != nil && ctx.Err() == nil {
					s.log.Error("sip udp server stopped", "addr", l.Addr, "err", err)
				}
			}()
			context.AfterFunc(ctx, func() { _ = pc.Close() })
			waitServing(s.srv.TransportLayer(), pc.LocalAddr().String())
		case "tcp", "tls", "ws", "wss":
			if err := s.serveStream(ctx, l); err != nil {
				s.cancel()
				return err
			}
		default:
			s.cancel()
			return fmt.Errorf("sipua: transport %q not supported", l.Transport)
		}
	}
	if p := s.opts.Peer; p != nil {
		ln, err := net.Listen("tcp", p.Addr.String())
		if err != nil {
			s.cancel()
			return fmt.Errorf("sipua: listen tls (calls from other nodes) %s: %w", p.Addr, err)
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			if err := s.srv.ServeTLS(&peerListener{Listener: ln, srv: s}); ctx.Err() == nil {
				s.log.Error("sip tls (peer) server stopped", "addr", p.Addr, "err", err)
			}
		}()
		context.AfterFunc(ctx, func() { _ = ln.Close() })
	}
	return nil
}

// waitServing waits until sipgo has taken the UDP socket into its pool:
// until then a request sent from that address would try to bind it again.
func waitServing(tl *sip.TransportLayer, addr string) {
	for i := 0; i < 200; i++ {
		if c, err := tl.GetConnection("udp", addr); err == nil && c != nil {
			_, _ = c.TryClose() // GetConnection took a reference; the listener stays open
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Drain makes new INVITEs get 503 (graceful shutdown).
func (s *Server) Drain() { s.draining.Store(true) }

// Close stops listening and releases sipgo's resources.
func (s *Server) Close() error {
	// Transactions go first: a retransmission timer that fired after the
	// listening socket closed would make sipgo open a new socket to send
	// from, one nothing would ever close. Before them, UDP listeners stop
	// delivering datagrams (the sockets stay open for those last writes):
	// a request read after the transport layer closed would get a new
	// server transaction answering from a new socket, leaked the same way.
	s.closing.Store(true)
	if s.mwi != nil {
		s.mwi.close()
	}
	err := s.ua.Close()
	if s.cancel != nil {
		s.cancel()
	}
	if cerr := s.srv.Close(); err == nil {
		err = cerr
	}
	for _, c := range s.clients {
		_ = c.Close()
	}
	s.wg.Wait()
	return err
}

func (s *Server) addLeg(id string, l leg) {
	s.mu.Lock()
	s.legs[id] = l
	s.mu.Unlock()
}

func (s *Server) removeLeg(id string) {
	s.mu.Lock()
	delete(s.legs, id)
	s.mu.Unlock()
}

// findLeg matches an in-dialog request to a leg, as UAS then as UAC.
func (s *Server) findLeg(req *sip.Request) leg {
	s.mu.Lock()
	defer s.mu.Unlock()
	if id, err := sip.DialogIDFromRequestUAS(req); err == nil {
		if l, ok := s.legs[id]; ok {
			return l
		}
	}
	if id, err := sip.DialogIDFromRequestUAC(req); err == nil {
		if l, ok := s.legs[id]; ok {
			return l
		}
	}
	return nil
}

// LegCount is the number of live SIP call legs.
func (s *Server) LegCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.legs)
}

func (s *Server) respond(req *sip.Request, tx sip.ServerTransaction, code int, reason string, hdrs ...sip.Header) {
	res := sip.NewResponseFromRequest(req, code, reason, nil)
	for _, h := range hdrs {
		res.AppendHeader(h)
	}
	s.decorate(res)
	if err := tx.Respond(res); err != nil {
		if errors.Is(err, sip.ErrUDPMTUCongestion) && s.sendLargeUDP(res) {
			return
		}
		s.log.Debug("respond failed", "code", code, "err", err)
	}
}

// sendLargeUDP sends a response sipgo refused to write because it exceeds
// 1300 bytes. That limit is RFC 3261 18.1.1's rule for requests, which can
// move to TCP; a response to a request that came over UDP can only go back
// over UDP (18.2.2), so it is sent as one (fragmented) datagram rather
// than not at all: a request carrying many Vias or long headers would
// otherwise never be answered.
func (s *Server) sendLargeUDP(res *sip.Response) bool {
	if s.udp == nil || sip.NetworkToLower(res.Transport()) != "udp" {
		return false
	}
	dst, err := netip.ParseAddrPort(res.Destination())
	if err != nil {
		return false
	}
	if _, err := s.udp.WriteTo([]byte(res.String()), net.UDPAddrFromAddrPort(dst)); err != nil {
		s.log.Debug("large UDP response not sent", "destination", dst, "err", err)
		return false
	}
	return true
}

func (s *Server) decorate(res *sip.Response) {
	if s.opts.UserAgent != "" && res.GetHeader("Server") == nil {
		res.AppendHeader(sip.NewHeader("Server", s.opts.UserAgent))
	}
}

// source returns the address a request came from.
func source(req *sip.Request) netip.AddrPort {
	ap, err := netip.ParseAddrPort(req.Source())
	if err != nil {
		return netip.AddrPort{}
	}
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
}

func transportOf(req *sip.Request) string {
	switch sip.NetworkToLower(req.Transport()) {
	case "tcp":
		return "tcp"
	case "tls":
		return "tls"
	case "ws":
		return "ws"
	case "wss":
		return "wss"
	default:
		return "udp"
	}
}

func (s *Server) onRegister(req *sip.Request, tx sip.ServerTransaction) {
	res := s.reg.Handle(req, source(req), transportOf(req))
	if res == nil {
		return
	}
	s.decorate(res)
	if err := tx.Respond(res); err != nil {
		s.log.Debug("register respond failed", "err", err)
	}
}

// onOptions answers OPTIONS pings (RFC 3261 section 11) with our capabilities.
func (s *Server) onOptions(req *sip.Request, tx sip.ServerTransaction) {
	s.respond(req, tx, 200, "OK",
		sip.NewHeader("Allow", "INVITE, ACK, CANCEL, BYE, OPTIONS, REGISTER, INFO, UPDATE, SUBSCRIBE"),
		sip.NewHeader("Allow-Events", mwiEvent),
		sip.NewHeader("Accept", "application/sdp, application/dtmf-relay"),
		sip.NewHeader("Supported", "timer"))
}

func (s *Server) onNoRoute(req *sip.Request, tx sip.ServerTransaction) {
	s.respond(req, tx, 405, "Method Not Allowed", sip.NewHeader("Allow", "INVITE, ACK, CANCEL, BYE, OPTIONS, REGISTER, INFO, UPDATE, SUBSCRIBE"))
}

func (s *Server) onAck(req *sip.Request, tx sip.ServerTransaction) {
	if l := s.findLeg(req); l != nil {
		l.onAck(req, tx)
	}
}

// inDialog routes an in-dialog request to its leg; a request that matches
// no dialog gets 481 (RFC 3261 section 12.2.2).
func (s *Server) inDialog(handle func(leg, *sip.Request, sip.ServerTransaction)) sipgo.RequestHandler {
	return func(req *sip.Request, tx sip.ServerTransaction) {
		l := s.findLeg(req)
		if l == nil {
			s.respond(req, tx, 481, "Call/Transaction Does Not Exist")
			return
		}
		handle(l, req, tx)
	}
}

// onCancel sees only CANCELs that matched no INVITE transaction: sipgo's
// transaction layer answers the others (200, then 487 to the INVITE).
func (s *Server) onCancel(req *sip.Request, tx sip.ServerTransaction) {
	s.respond(req, tx, 481, "Call/Transaction Does Not Exist")
}

// deadline bounds the time a signalling goroutine may take.
const signallingTimeout = 32 * time.Second
