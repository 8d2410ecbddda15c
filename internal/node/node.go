// Package node assembles a PBX node: SIP, media, dialplan, applications and
// the CDR writer, configured from a snapshot of the configuration.
package node

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/entvoice/entvoice/internal/acl"
	"github.com/entvoice/entvoice/internal/agi"
	"github.com/entvoice/entvoice/internal/ami"
	"github.com/entvoice/entvoice/internal/apps"
	"github.com/entvoice/entvoice/internal/cdr"
	"github.com/entvoice/entvoice/internal/channel"
	"github.com/entvoice/entvoice/internal/config"
	"github.com/entvoice/entvoice/internal/control"
	"github.com/entvoice/entvoice/internal/dialplan"
	"github.com/entvoice/entvoice/internal/events"
	"github.com/entvoice/entvoice/internal/media"
	"github.com/entvoice/entvoice/internal/pbx"
	"github.com/entvoice/entvoice/internal/prompts"
	"github.com/entvoice/entvoice/internal/provision"
	"github.com/entvoice/entvoice/internal/sipauth"
	"github.com/entvoice/entvoice/internal/sipua"
	"github.com/entvoice/entvoice/internal/store"
)

// Node is one running PBX node.
type Node struct {
	cfg      *config.Config
	log      *slog.Logger
	Bus      *events.Bus
	Channels *channel.Registry
	PBX      *pbx.PBX
	SIP      *sipua.Server
	Store    *store.Store
	CDR      *cdr.Writer
	AGI      *agi.AGI
	Control  *control.Local
	AMI      *ami.Server // nil when AMI is off (set by Start)
	pacer    *media.Pacer
	stopOnce sync.Once

	// Realtime provisioning (SetSource).
	staticPlan *dialplan.Dialplan
	staticEPs  []*sipua.Endpoint
	source     provision.Source
	rt         *realtime

	amiOpts   *ami.Options
	amiSource ami.UserSource
	peering   bool // calls between nodes (WithPeers)
}

// Option adjusts a node beyond its configuration file.
type Option func(*options)

type options struct {
	peer *sipua.PeerOptions
}

// WithPeers makes the node take calls from the other nodes of its cluster
// and call users registered on them (sipua/peer.go). The dialplan gains
// the context those calls start in, PeerContext, unless extensions.conf
// defines it: it rings the called user.
func WithPeers(p *sipua.PeerOptions) Option { return func(o *options) { o.peer = p } }

// New builds a node from a configuration. It fails, naming file and line,
// when the dialplan or the configuration has errors.
func New(ctx context.Context, cfg *config.Config, log *slog.Logger, opts ...Option) (*Node, error) {
	var o options
	for _, fn := range opts {
		fn(&o)
	}
	plan, err := LoadDialplan(cfg)
	if err != nil {
		return nil, err
	}
	if o.peer != nil && !plan.HasContext(sipua.PeerContext) {
		if err := addPeerContext(plan); err != nil {
			return nil, err
		}
	}
	eps, err := staticEndpoints(cfg)
	if err != nil {
		return nil, err
	}
	dir := sipua.NewDirectory(eps)
	if err := os.MkdirAll(cfg.DataDir, 0o755); err != nil {
		return nil, fmt.Errorf("data_dir: %w", err)
	}
	st, err := store.Open(ctx, store.Options{DSN: cfg.Database.DSN, DataDir: cfg.DataDir, Logger: log})
	if err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	n := &Node{cfg: cfg, log: log, Store: st, Bus: events.New(), staticPlan: plan, staticEPs: eps, peering: o.peer != nil}
	ok := false
	defer func() {
		if !ok {
			n.closeStore()
		}
	}()
	n.CDR = cdr.NewWriter(st, log, cdr.WriterOptions{SpoolPath: filepath.Join(cfg.DataDir, "cdr-spool.jsonl")})
	if _, err := n.CDR.ReplaySpool(ctx); err != nil {
		log.Error("CDR spool replay failed; the spool is kept", "err", err)
	}
	n.Channels = channel.NewRegistry(cfg.SystemName, n.Bus, log)

	lo, hi, _ := cfg.RTPRange()
	maddr, _ := cfg.MediaAddr()
	pool, err := media.NewPortPool(maddr, lo, hi)
	if err != nil {
		return nil, fmt.Errorf("rtp.ports: %w", err)
	}
	n.pacer = media.NewPacer(log)

	nonceLife, _ := config.Duration("sip.nonce_lifetime", cfg.SIP.NonceLifetime)
	window, _ := config.Duration("sip.auth_failure_window", cfg.SIP.AuthFailureWindow)
	ban, _ := config.Duration("sip.ban_time", cfg.SIP.BanTime)
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return nil, fmt.Errorf("nonce key: %w", err)
	}
	guard := acl.NewGuard(acl.GuardOptions{
		RequestsPerSecond: cfg.SIP.FloodRate, Burst: cfg.SIP.FloodBurst,
		MaxAuthFailures: cfg.SIP.MaxAuthFailures, FailureWindow: window, BanTime: ban,
	})
	files := media.NewFileCache(64 << 20)
	n.PBX = pbx.New(pbx.Options{
		Channels:      n.Channels,
		CDR:           n.CDR,
		Logger:        log,
		Node:          cfg.SystemName,
		LogUnanswered: cfg.CDR.Unanswered == nil || *cfg.CDR.Unanswered,
		Congestion:    cfg.CDR.Congestion,
	})
	agiConnect, _ := config.Duration("agi.connect_timeout", cfg.AGI.ConnectTimeout)
	agiIdle, _ := config.Duration("agi.idle_timeout", cfg.AGI.IdleTimeout)
	n.AGI = registerApps(n.PBX, agi.Options{Dir: cfg.AGIDir, ConnectTimeout: agiConnect, IdleTimeout: agiIdle, Store: st})
	if err := checkApps(plan, n.PBX); err != nil {
		return nil, err
	}
	n.PBX.SetDialplan(plan)

	ls, _ := cfg.Listeners()
	var listeners []sipua.Listener
	for _, l := range ls {
		listeners = append(listeners, sipua.Listener{Transport: l.Transport, Addr: l.Addr})
	}
	n.SIP, err = sipua.New(sipua.Options{
		Listeners: listeners, Realm: cfg.SIP.Realm, UserAgent: cfg.SIP.UserAgent,
		MediaAddr: maddr, Ports: pool, Pacer: n.pacer, Channels: n.Channels, Handler: n.PBX,
		Guard:      guard,
		Challenger: sipauth.NewChallenger(sipauth.Options{Realm: cfg.SIP.Realm, Key: key, NonceLifetime: nonceLife, Algorithms: cfg.SIP.AuthAlgorithms}),
		MinExpires: cfg.SIP.MinExpires, MaxExpires: cfg.SIP.MaxExpires, DefaultExpires: cfg.SIP.DefaultExpires,
		SessionExpires: cfg.SIP.SessionExpires, Logger: log, Peer: o.peer,
	})
	if err != nil {
		return nil, err
	}
	n.SIP.SetDirectory(dir)
	n.PBX.SetServices(&apps.Services{
		Prompts:       prompts.NewLibrary(cfg.SoundsDir),
		Files:         files,
		Dialer:        n.SIP,
		RecordingsDir: filepath.Join(cfg.DataDir, "recordings"),
		Logger:        log,
	})
	n.Control = control.NewLocal(n.PBX, n.Channels, n.SIP, log)
	if n.amiOpts, err = amiOptions(cfg, n, log); err != nil {
		return nil, err
	}
	ok = true
	return n, nil
}

// ReloadDialplan reads extensions.conf again (Asterisk's "dialplan
// reload"): a file with errors is refused and the running plan kept; the
// realtime rows stay merged over the new file.
func (n *Node) ReloadDialplan(ctx context.Context) error {
	plan, err := LoadDialplan(n.cfg)
	if err != nil {
		return err
	}
	if err := checkApps(plan, n.PBX); err != nil {
		return err
	}
	if n.peering && !plan.HasContext(sipua.PeerContext) {
		if err := addPeerContext(plan); err != nil {
			return err
		}
	}
	if n.rt != nil {
		return n.rt.reload(ctx, plan)
	}
	n.PBX.SetDialplan(plan)
	return nil
}

// addPeerContext adds the default context of calls from other nodes:
//
//	[entvoice-peer]
//	exten => _.,1,Dial(PJSIP/${EXTEN})
//	exten => h,1,NoOp()
//
// The calling node's Dial keeps its own timeout and options (it cancels
// this leg); the h extension keeps "_." from matching the hangup.
func addPeerContext(plan *dialplan.Dialplan) error {
	if err := plan.AddContext(sipua.PeerContext); err != nil {
		return err
	}
	if err := plan.AddRow(sipua.PeerContext, "_.", 1, "", "Dial", "PJSIP/${EXTEN}"); err != nil {
		return err
	}
	return plan.AddRow(sipua.PeerContext, "h", 1, "", "NoOp", "")
}

// registerApps gives a PBX every dialplan application a node has.
func registerApps(p *pbx.PBX, o agi.Options) *agi.AGI {
	apps.Register(p)
	return agi.Register(p, o)
}

// KnownApp reports whether a node has a dialplan application: what a
// central server without a node of its own checks extension rows against.
func KnownApp() func(app string) bool {
	p := pbx.New(pbx.Options{})
	registerApps(p, agi.Options{})
	return p.HasApp
}

// LoadDialplan parses the configured extensions.conf (an empty plan when
// none is set).
func LoadDialplan(cfg *config.Config) (*dialplan.Dialplan, error) {
	if cfg.Dialplan == "" {
		return dialplan.Parse("(none)", strings.NewReader(""))
	}
	return dialplan.ParseFile(cfg.Dialplan)
}

// checkApps refuses a dialplan that names an application the node lacks,
// naming file and line, as a typo would otherwise only show at call time.
func checkApps(plan *dialplan.Dialplan, p *pbx.PBX) error {
	var errs []error
	for _, c := range plan.Contexts() {
		for _, x := range plan.Extensions(c) {
			for _, st := range plan.Steps(c, x) {
				if st.Priority == dialplan.PriorityHint {
					continue // a hint names devices, not an application
				}
				if !p.HasApp(st.App) {
					errs = append(errs, fmt.Errorf("%s:%d: unknown application %q in %s@%s priority %d", st.File, st.Line, st.App, st.Exten, st.Context, st.Priority))
				}
			}
		}
	}
	return errors.Join(errs...)
}

// BuildDirectory turns static users and trunks into SIP endpoints, hashing
// secrets into HA1s.
func BuildDirectory(cfg *config.Config) (*sipua.Directory, error) {
	eps, err := staticEndpoints(cfg)
	if err != nil {
		return nil, err
	}
	return sipua.NewDirectory(eps), nil
}

func staticEndpoints(cfg *config.Config) ([]*sipua.Endpoint, error) {
	var eps []*sipua.Endpoint
	for _, u := range cfg.Users {
		list, err := acl.ParseList(u.Permit, u.Deny)
		if err != nil {
			return nil, fmt.Errorf("%s: user %q: %w", cfg.Path(), u.Name, err)
		}
		if len(u.Permit) == 0 && len(u.Deny) == 0 {
			list = nil
		}
		name, num := pbx.SplitCallerID(u.CallerID)
		eps = append(eps, &sipua.Endpoint{
			Name: u.Name, Enabled: true,
			Credentials: sipauth.Credentials{
				HA1MD5:    sipauth.HA1("MD5", u.Name, cfg.SIP.Realm, u.Secret),
				HA1SHA256: sipauth.HA1("SHA-256", u.Name, cfg.SIP.Realm, u.Secret),
			},
			ACL: list, MaxContacts: u.MaxContacts, Context: u.Context, Language: u.Language,
			AccountCode: u.AccountCode, CallerNum: num, CallerName: name, Codecs: codecs(u.Codecs),
		})
	}
	for _, t := range cfg.Trunks {
		var match []netip.Prefix
		for _, m := range t.Match {
			p, _ := config.ParsePrefix(m)
			match = append(match, p)
		}
		host, _ := netip.ParseAddrPort(t.Host)
		eps = append(eps, &sipua.Endpoint{
			Name: t.Name, Trunk: true, Enabled: true, Context: t.Context, Language: t.Language,
			Codecs: codecs(t.Codecs), Match: match, Host: host, Transport: t.Transport,
		})
	}
	return eps, nil
}

func codecs(names []string) []media.Codec {
	var out []media.Codec
	for _, n := range names {
		switch strings.ToLower(n) {
		case "pcmu", "ulaw":
			out = append(out, media.PCMU)
		case "pcma", "alaw":
			out = append(out, media.PCMA)
		}
	}
	return out
}

// SetSource makes the node apply realtime provisioning from src (tenants,
// users, extension rows) on top of its static configuration, from Start
// on. Call it before Start.
func (n *Node) SetSource(src provision.Source) { n.source = src }

// Revision is the realtime revision in force (0 without a Source).
func (n *Node) Revision() int64 {
	if n.rt == nil {
		return 0
	}
	return n.rt.inForce.Load()
}

// WaitRevision waits until realtime revision rev (or a later one) is in
// force on the node.
func (n *Node) WaitRevision(ctx context.Context, rev int64) error {
	if n.rt == nil {
		return errors.New("node has no realtime source")
	}
	return n.rt.waitRevision(ctx, rev)
}

// Start makes the node listen. With a realtime Source it first takes its
// snapshot (a Source that fails is retried while the node serves its
// static configuration).
func (n *Node) Start(ctx context.Context) error {
	if n.source != nil {
		n.rt = newRealtime(n.source, n, n.staticPlan, n.staticEPs)
		n.rt.start(ctx)
	}
	if err := n.SIP.Start(ctx); err != nil {
		if n.rt != nil {
			n.rt.stop()
		}
		return err
	}
	if err := n.startAMI(ctx); err != nil {
		return err
	}
	n.Bus.Publish(events.Event{Kind: events.FullyBooted})
	return nil
}

// Shutdown stops the node gracefully: new INVITEs get 503, live calls have
// grace to end, then are hung up; every CDR is flushed before it returns.
func (n *Node) Shutdown(grace time.Duration) {
	n.stopOnce.Do(func() { n.shutdown(grace) })
}

func (n *Node) shutdown(grace time.Duration) {
	if n.rt != nil {
		n.rt.stop()
	}
	n.SIP.Drain()
	deadline := time.Now().Add(grace)
	for n.PBX.Active() > 0 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if live := n.PBX.Active(); live > 0 {
		n.log.Warn("grace period over, hanging up live calls", "calls", live)
		for _, ch := range n.Channels.List() {
			ch.Hangup(channel.CauseNormalClearing)
		}
		end := time.Now().Add(5 * time.Second)
		for n.PBX.Active() > 0 && time.Now().Before(end) {
			if time.Until(end) < 3*time.Second {
				// AGI scripts that keep a dead channel's session open
				// had 2 s after their HANGUP line.
				n.AGI.Close()
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	if n.AMI != nil {
		_ = n.AMI.Close()
	}
	// Let BYEs go out before the transports close.
	end := time.Now().Add(2 * time.Second)
	for n.SIP.LegCount() > 0 && time.Now().Before(end) {
		time.Sleep(20 * time.Millisecond)
	}
	if err := n.SIP.Close(); err != nil {
		n.log.Debug("sip close", "err", err)
	}
	n.pacer.Close()
	n.closeStore()
}

func (n *Node) closeStore() {
	if n.CDR != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		if err := n.CDR.Close(ctx); err != nil {
			n.log.Error("CDR flush failed", "err", err)
		}
		cancel()
	}
	if err := n.Store.Close(); err != nil {
		n.log.Error("store close", "err", err)
	}
}
