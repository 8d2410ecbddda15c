package ami

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/entvoice/entvoice/internal/acl"
	"github.com/entvoice/entvoice/internal/control"
	"github.com/entvoice/entvoice/internal/events"
)

// Version is the AMI protocol version of Asterisk 22 (AMI_VERSION), sent in
// the banner.
const Version = "11.0.0"

// Banner is the line a client reads on connect (no blank line follows).
const Banner = "Asterisk Call Manager/" + Version + "\r\n"

// Options configure a Server.
type Options struct {
	// Listen is the plain TCP address ("" disables it); TLSListen, with
	// TLS, the TLS one.
	Listen    string
	TLSListen string
	TLS       *tls.Config
	// AuthTimeout bounds the time to log in (default 30 s); AuthLimit the
	// unauthenticated connections at once (default 50).
	AuthTimeout time.Duration
	AuthLimit   int
	// TimestampEvents adds Timestamp: to events.
	TimestampEvents bool
	// SystemName adds SystemName: to events when set.
	SystemName string
	// QueueSize bounds each session's queue of events not yet written;
	// a session that lets it fill is disconnected (default 10000).
	QueueSize int
	// WriteTimeout disconnects a client that does not read a write for
	// this long (default 5 s; manager.conf writetimeout).
	WriteTimeout time.Duration
	// WriteLinger bounds how often a session writes events to its
	// socket (default 10 ms; negative: write each batch at once): an
	// event after a quiet spell is written at once, a busy stream is
	// gathered into one write per WriteLinger. Fewer system calls make
	// fan-out several times cheaper, for at most that much delay.
	WriteLinger time.Duration
	// Repeated login failures from one address ban it.
	MaxAuthFailures int
	FailureWindow   time.Duration
	BanTime         time.Duration
	// Bans is the process's ban list, shared with SIP and the API: an
	// address banned by any of them cannot connect (nil: AMI's own).
	Bans *acl.BanList

	Users   UserSource
	Bus     *events.Bus
	Control control.Controller
	Node    NodeInfo // optional: endpoints, hints, reload, version
	DB      Database // optional: DBGet/DBPut/DBDel
	AGI     AsyncAGI // optional: the AGI action (AsyncAGI)
	// Queues are the node's call queues (app_queue's actions); nil:
	// none (central).
	Queues control.Queues
	// Mailboxes answers MailboxCount and MailboxStatus (optional: every
	// count 0 without it).
	Mailboxes Mailboxes
	Logger    *slog.Logger
	// Started is when the node started (FullyBooted's Uptime).
	Started time.Time
	// Realtime says the configuration comes from the provisioning store
	// (CoreSettings' CoreRealTimeEnabled).
	Realtime bool
}

// Database is Asterisk's astdb as DBGet, DBPut, DBDel and DBDelTree use
// it, within the AMI user's tenant (astdb.DB implements it).
type Database interface {
	Get(ctx context.Context, tenant, family, key string) (string, bool, error)
	Put(ctx context.Context, tenant, family, key, value string) error
	Del(ctx context.Context, tenant, family, key string) (bool, error)
	DelTree(ctx context.Context, tenant, family, keytree string) (int64, error)
	// Tree lists the entries at or below "/family[/keytree]" (every entry
	// for an empty family) as "/family/key" paths, sorted (ast_db_gettree).
	Tree(ctx context.Context, tenant, family, keytree string) ([][2]string, error)
}

// AsyncAGI queues commands on channels in AsyncAGI (agi.AGI implements
// it). scope is the AMI user's tenant ("" for an admin); errors wrap
// control.ErrNoChannel for a channel that does not exist or is not
// visible, others mean the channel is not in AsyncAGI. accepted runs
// before the command can run (the action's ack goes out there, ahead of
// the command's AsyncAGIExec).
type AsyncAGI interface {
	QueueCommand(scope, channel, command, commandID string, accepted func()) (name string, err error)
}

// Server is a running AMI server.
type Server struct {
	o      Options
	log    *slog.Logger
	guard  *acl.Guard
	render renderOpts
	// actions are the actions this server runs, by lower-case name.
	actions map[string]action

	lns      []net.Listener
	sessions atomic.Pointer[[]*session]
	smu      sync.Mutex            // serialises updates of sessions, guards conns
	conns    map[*session]struct{} // every open connection, logged in or not
	unauth   atomic.Int64
	sub      *events.Subscription
	dev      *deviceStates
	wg       sync.WaitGroup
	ctx      context.Context
	cancel   context.CancelFunc
	closed   atomic.Bool
	reloaded atomic.Int64 // unix seconds of the last Reload
	nextID   atomic.Uint64

	// Counters for benchmarks and logs.
	Delivered atomic.Uint64 // event messages queued to sessions
	Kicked    atomic.Uint64 // sessions disconnected for not reading
}

// New checks options and returns a server that is not listening yet.
func New(o Options) (*Server, error) {
	if o.Users == nil || o.Bus == nil {
		return nil, errors.New("ami: Users and Bus are required")
	}
	if o.AuthTimeout <= 0 {
		o.AuthTimeout = 30 * time.Second
	}
	if o.AuthLimit <= 0 {
		o.AuthLimit = 50
	}
	if o.QueueSize <= 0 {
		o.QueueSize = 10000
	}
	if o.WriteTimeout <= 0 {
		o.WriteTimeout = 5 * time.Second
	}
	if o.WriteLinger == 0 {
		o.WriteLinger = 10 * time.Millisecond
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Started.IsZero() {
		o.Started = time.Now()
	}
	if o.TLSListen != "" && o.TLS == nil {
		return nil, errors.New("ami: tls_listen needs a certificate and key")
	}
	s := &Server{o: o, log: o.Logger.With("component", "ami"),
		render: renderOpts{timestamps: o.TimestampEvents, systemName: o.SystemName}, actions: actionTable()}
	s.guard = acl.NewGuard(acl.GuardOptions{Service: "AMI", Bans: o.Bans, MaxAuthFailures: o.MaxAuthFailures, FailureWindow: o.FailureWindow, BanTime: o.BanTime})
	s.reloaded.Store(o.Started.Unix())
	s.sessions.Store(&[]*session{})
	s.conns = map[*session]struct{}{}
	s.dev = newDeviceStates(o.Node)
	return s, nil
}

// Start binds the listeners and starts serving.
func (s *Server) Start(ctx context.Context) error {
	s.ctx, s.cancel = context.WithCancel(context.Background())
	var lc net.ListenConfig
	if s.o.Listen != "" {
		ln, err := lc.Listen(ctx, "tcp", s.o.Listen)
		if err != nil {
			return fmt.Errorf("ami listen %s: %w", s.o.Listen, err)
		}
		s.lns = append(s.lns, ln)
	}
	if s.o.TLSListen != "" {
		ln, err := lc.Listen(ctx, "tcp", s.o.TLSListen)
		if err != nil {
			s.closeListeners()
			return fmt.Errorf("ami tls_listen %s: %w", s.o.TLSListen, err)
		}
		s.lns = append(s.lns, tls.NewListener(ln, s.o.TLS))
	}
	// One subscription feeds every session: events are formatted once and
	// the call path never waits for a client. It is passive: the demand
	// for events is the logged-in sessions' (addSession), so on central the
	// nodes send their events up only while an AMI client is there.
	// While no session is logged in, only the events that move device
	// states are taken (DeviceStateChange and ExtensionState must be right
	// when a client comes): the bus then copies 3 events a call instead of
	// 15, and the queue's 20 MB stay untouched on a node nobody watches.
	s.sub = s.o.Bus.SubscribePassive(1<<16, func(e *events.Event) bool {
		return len(*s.sessions.Load()) > 0 || movesDeviceState(e.Kind)
	})
	s.wg.Add(1)
	go s.dispatchLoop()
	for i, ln := range s.lns {
		s.wg.Add(1)
		go s.acceptLoop(ln, s.o.TLSListen != "" && i == len(s.lns)-1)
	}
	return nil
}

// Addrs are the bound addresses (plain first, then TLS).
func (s *Server) Addrs() []net.Addr {
	var out []net.Addr
	for _, ln := range s.lns {
		out = append(out, ln.Addr())
	}
	return out
}

func (s *Server) closeListeners() {
	for _, ln := range s.lns {
		_ = ln.Close()
	}
}

// Close stops listening, ends every session and waits for them.
func (s *Server) Close() error {
	if !s.closed.CompareAndSwap(false, true) {
		return nil
	}
	s.closeListeners()
	if s.cancel != nil {
		s.cancel()
	}
	if s.sub != nil {
		s.sub.Close()
	}
	s.smu.Lock()
	for ss := range s.conns {
		ss.stop()
	}
	s.smu.Unlock()
	s.wg.Wait()
	return nil
}

func (s *Server) acceptLoop(ln net.Listener, isTLS bool) {
	defer s.wg.Done()
	for {
		c, err := ln.Accept()
		if err != nil {
			if s.closed.Load() {
				return
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				time.Sleep(10 * time.Millisecond)
				continue
			}
			s.log.Error("accept failed", "err", err)
			return
		}
		s.serve(c, isTLS)
	}
}

func remoteAddr(c net.Conn) netip.AddrPort { return addrPortOf(c.RemoteAddr()) }

// addrPortOf is a net.Addr as an address and port.
func addrPortOf(a net.Addr) netip.AddrPort {
	if ta, ok := a.(*net.TCPAddr); ok {
		return ta.AddrPort()
	}
	ap, _ := netip.ParseAddrPort(a.String())
	return ap
}

func (s *Server) serve(c net.Conn, isTLS bool) {
	ra := remoteAddr(c)
	if s.guard.Banned(ra.Addr().Unmap()) {
		s.log.Info("connection from a banned address refused", "remote", ra)
		_ = c.Close()
		return
	}
	// Asterisk rejects a connection at once when authlimit unauthenticated
	// sessions exist.
	if s.unauth.Add(1) > int64(s.o.AuthLimit) {
		s.unauth.Add(-1)
		s.log.Warn("authlimit reached, connection refused", "remote", ra, "authlimit", s.o.AuthLimit)
		_ = c.Close()
		return
	}
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetNoDelay(true)
	}
	ss := newSession(s, c, ra)
	ss.tls = isTLS
	s.smu.Lock()
	if s.closed.Load() {
		s.smu.Unlock()
		s.unauth.Add(-1)
		_ = c.Close()
		return
	}
	s.conns[ss] = struct{}{}
	s.smu.Unlock()
	s.wg.Add(2)
	go ss.writeLoop()
	go ss.readLoop()
}

// addSession publishes a logged-in session to the dispatcher.
func (s *Server) addSession(ss *session) {
	s.smu.Lock()
	cur := *s.sessions.Load()
	next := make([]*session, 0, len(cur)+1)
	next = append(next, cur...)
	next = append(next, ss)
	s.sessions.Store(&next)
	ss.wantEvents = s.o.Bus.Want()
	s.smu.Unlock()
}

func (s *Server) forget(ss *session) {
	s.smu.Lock()
	delete(s.conns, ss)
	s.smu.Unlock()
}

func (s *Server) removeSession(ss *session) {
	s.smu.Lock()
	cur := *s.sessions.Load()
	next := make([]*session, 0, len(cur))
	for _, x := range cur {
		if x != ss {
			next = append(next, x)
		}
	}
	s.sessions.Store(&next)
	if ss.wantEvents != nil {
		ss.wantEvents()
	}
	s.smu.Unlock()
}

// userLoggedIn reports whether a user has a session (allowmultiplelogin=no).
func (s *Server) userLoggedIn(name string) bool {
	for _, ss := range *s.sessions.Load() {
		if ss.username() == name {
			return true
		}
	}
	return false
}

func (s *Server) dispatchLoop() {
	defer s.wg.Done()
	var dropped uint64
	for e := range s.sub.C {
		s.dispatch(e)
		for _, d := range s.dev.update(e) {
			s.dispatch(&d)
		}
		// The bus drops rather than block the call path; say so once
		// per burst.
		if d := s.sub.Dropped(); d != dropped && len(s.sub.C) == 0 {
			s.log.Warn("AMI fell behind the event bus, events lost", "lost", d-dropped)
			dropped = d
		}
	}
}

// dispatch queues one event to every session allowed to see it. It is
// formatted once, on first use.
func (s *Server) dispatch(e *events.Event) {
	var (
		msg   []byte
		class Class
		done  bool
	)
	tenant := e.TenantOf()
	for _, ss := range *s.sessions.Load() {
		if !ss.authed.Load() {
			continue
		}
		if t := ss.tenant; t != "" && t != tenant {
			continue
		}
		if !done {
			var ok bool
			class, msg, ok = render(e, s.render)
			if !ok {
				return
			}
			done = true
		}
		// An event reaches a session only if it asked for every class
		// of the event (send_events & category) == category.
		if Class(ss.sendEvents.Load())&class != class {
			continue
		}
		ss.deliver(string(e.Kind), msg)
	}
}

// publish puts an AMI-originated event on the bus, for every session.
func (s *Server) publish(e events.Event) { s.o.Bus.Publish(e) }
