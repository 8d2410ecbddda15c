// Package node assembles a PBX node: SIP, media, dialplan, applications and
// the CDR writer, configured from a snapshot of the configuration.
package node

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/entvoice/entvoice/internal/acl"
	"github.com/entvoice/entvoice/internal/agi"
	"github.com/entvoice/entvoice/internal/ami"
	"github.com/entvoice/entvoice/internal/apps"
	"github.com/entvoice/entvoice/internal/astdb"
	"github.com/entvoice/entvoice/internal/cdr"
	"github.com/entvoice/entvoice/internal/cdrstore"
	"github.com/entvoice/entvoice/internal/channel"
	"github.com/entvoice/entvoice/internal/conference"
	"github.com/entvoice/entvoice/internal/config"
	"github.com/entvoice/entvoice/internal/control"
	"github.com/entvoice/entvoice/internal/dialplan"
	"github.com/entvoice/entvoice/internal/digest"
	"github.com/entvoice/entvoice/internal/events"
	"github.com/entvoice/entvoice/internal/localchan"
	"github.com/entvoice/entvoice/internal/media"
	"github.com/entvoice/entvoice/internal/media/moh"
	"github.com/entvoice/entvoice/internal/parking"
	"github.com/entvoice/entvoice/internal/pbx"
	"github.com/entvoice/entvoice/internal/prompts"
	"github.com/entvoice/entvoice/internal/provision"
	"github.com/entvoice/entvoice/internal/q850"
	"github.com/entvoice/entvoice/internal/queue"
	"github.com/entvoice/entvoice/internal/queuelog"
	"github.com/entvoice/entvoice/internal/sipauth"
	"github.com/entvoice/entvoice/internal/sipua"
	"github.com/entvoice/entvoice/internal/store"
	"github.com/entvoice/entvoice/internal/tenancy"
	"github.com/entvoice/entvoice/internal/voicemail"
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
	CDR      *cdrstore.Writer
	AGI      *agi.AGI
	Control  *Controller
	AMI      *ami.Server // nil when AMI is off (set by Start)
	// Voicemail is the node's mailboxes and messages (voicemail.go).
	Voicemail *voicemail.Service
	// Queues are the call queues (queues.go).
	Queues *queue.Engine
	qlog   *queuelog.Writer
	// Bans is the ban list the node's SIP side bans into (the process's,
	// shared with AMI and the API, when one was given).
	Bans     *acl.BanList
	limits   *tenancy.Limits
	pacer    *media.Pacer
	ports    *media.PortPool
	moh      *moh.Player
	confs    *conference.Service
	parking  *parking.Service
	stopOnce sync.Once

	// Realtime provisioning (Options.Source).
	staticPlan *dialplan.Dialplan
	staticEPs  []*sipua.Endpoint
	source     provision.Source
	rt         *realtime

	amiOpts *ami.Options // nil: AMI off
	peering bool         // calls between nodes (Options.Peers)

	speech *speechStack // recognition, TTS, stored grammars (speech.go)
}

// Options are what a node takes from the process it runs in, beside its
// configuration.
type Options struct {
	Logger *slog.Logger
	// Store is the open store the node keeps its CDRs in (and astdb); the
	// caller closes it after Shutdown.
	Store *store.Store
	// Source is realtime provisioning (tenants, users, extension rows)
	// applied on top of the static configuration from Start on: central's
	// repository in one process, the node link on a remote node. Nil:
	// static configuration only.
	Source provision.Source
	// AMI is the node's AMI server, configured (system.AMIOptions): the
	// node adds its events, calls and the rest. Nil: no AMI.
	AMI *ami.Options
	// Peers makes the node take calls from the other nodes of its cluster
	// and call users registered on them (sipua/peer.go). The dialplan
	// gains the context those calls start in, sipua.PeerContext, unless
	// extensions.conf defines it: it rings the called user.
	Peers *sipua.PeerOptions
	// OnCDRCommit, when set, is handed every batch of CDRs once committed
	// (the node link ships them to central from there).
	OnCDRCommit func([]cdr.Row)
	// Charging authorizes the legs that leave through a trunk against the
	// caller's balance (billing at central); nil: no billing.
	Charging control.Charging
	// Bans is the process's ban list, shared by SIP, AMI and the API
	// (nil: the node's SIP side keeps its own).
	Bans *acl.BanList
}

// New builds a node from a configuration. It fails, naming file and line,
// when the dialplan or the configuration has errors.
func New(ctx context.Context, cfg *config.Config, o Options) (*Node, error) {
	log := o.Logger
	if log == nil {
		log = slog.Default()
	}
	if o.Store == nil {
		return nil, errors.New("node: a store is required")
	}
	plan, err := LoadDialplan(cfg)
	if err != nil {
		return nil, err
	}
	queues, err := loadQueueConfig(cfg)
	if err != nil {
		return nil, err
	}
	if o.Peers != nil && !plan.HasContext(sipua.PeerContext) {
		if err := addPeerContext(plan); err != nil {
			return nil, err
		}
	}
	// Unified communications: parking lots and their extensions.
	parked, err := newParking(cfg, plan)
	if err != nil {
		return nil, err
	}
	eps, err := staticEndpoints(cfg)
	if err != nil {
		return nil, err
	}
	n := &Node{cfg: cfg, log: log, Store: o.Store, Bus: events.New(), staticPlan: plan, staticEPs: eps,
		peering: o.Peers != nil, source: o.Source, limits: tenancy.NewLimits(), parking: parked}
	n.CDR = cdrstore.NewWriter(o.Store, log, cdrstore.WriterOptions{SpoolPath: filepath.Join(cfg.DataDir, "cdr-spool.jsonl"), OnCommit: o.OnCDRCommit})
	if _, err := n.CDR.ReplaySpool(ctx); err != nil {
		log.Error("CDR spool replay failed; the spool is kept", "err", err)
	}
	ok := false
	defer func() {
		if !ok {
			n.closeQueues()
			n.closeCDR()
		}
	}()
	n.Channels = channel.NewRegistry(cfg.SystemName, n.Bus, log)
	if n.Voicemail, err = newVoicemail(cfg, n.Bus, o.Store, log); err != nil {
		return nil, err
	}
	defer func() {
		if !ok {
			n.Voicemail.Close()
		}
	}()

	lo, hi := cfg.RTPPorts()
	pool, err := media.NewPortPool(cfg.MediaAddr(), lo, hi, media.PoolOptions{Logger: log})
	if err != nil {
		return nil, fmt.Errorf("rtp.ports: %w", err)
	}
	n.ports = pool
	n.pacer = media.NewPacer(log)
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return nil, fmt.Errorf("nonce key: %w", err)
	}
	guard := sipGuard(cfg, o.Bans)
	n.Bans = guard.Bans()
	n.PBX = pbx.New(pbx.Options{
		Channels:      n.Channels,
		CDR:           n.CDR,
		Logger:        log,
		Node:          cfg.SystemName,
		LogUnanswered: cfg.CDR.Unanswered == nil || *cfg.CDR.Unanswered,
		Congestion:    cfg.CDR.Congestion,
	})
	tlsServer, tlsClient, err := sipTLS(cfg, log)
	if err != nil {
		return nil, err
	}
	var listeners []sipua.Listener
	for _, l := range cfg.Listeners() {
		listeners = append(listeners, sipua.Listener{Transport: l.Transport, Addr: l.Addr})
	}
	n.SIP, err = sipua.New(sipua.Options{
		Listeners: listeners, Realm: cfg.SIP.Realm, UserAgent: cfg.SIP.UserAgent,
		MediaAddr: cfg.MediaAddr(), Ports: pool, Pacer: n.pacer, Channels: n.Channels, Handler: n.PBX,
		Guard: guard, Limits: n.limits,
		Challenger: sipauth.NewChallenger(sipauth.Options{Realm: cfg.SIP.Realm, Key: key, NonceLifetime: cfg.SIP.NonceLifetime.Duration, Algorithms: cfg.SIP.AuthAlgorithms}),
		MinExpires: cfg.SIP.MinExpires, MaxExpires: cfg.SIP.MaxExpires, DefaultExpires: cfg.SIP.DefaultExpires,
		SessionExpires: cfg.SIP.SessionExpires, Logger: log, Peer: o.Peers, Directory: sipua.NewDirectory(eps),
		MWI:  mwiSource{n.Voicemail},
		Edge: edgeOptions(cfg), TLS: tlsServer, ClientTLS: tlsClient,
	})
	if err != nil {
		return nil, err
	}
	// Every leg Dial, Originate and AGI place goes through the channel
	// technologies, which apply the tenant policy first.
	techs := channel.NewTechnologies(channel.TechnologiesOptions{Limits: n.limits, Charging: o.Charging})
	techs.Register(n.SIP, "PJSIP", "SIP")
	techs.Register(localchan.New(n.Channels, n.PBX, func() (*media.Session, *media.Session, error) {
		return media.NewLoopbackPair(pool, n.pacer, log)
	}), "Local")
	n.speech = newSpeech(cfg, log)
	defer func() {
		if !ok {
			n.speech.close()
		}
	}()
	sounds := prompts.Sounds{Library: prompts.NewLibrary(cfg.SoundsDir), Files: media.NewFileCache(64 << 20),
		Speaker: n.speech.speaker(cfg.Speech.TTS.Rate)}
	recordings := filepath.Join(cfg.DataDir, "recordings")
	if n.moh, err = newMusicOnHold(cfg, n.pacer, sounds.Files, log); err != nil {
		return nil, err
	}
	// Unified communications: conferences.
	if n.confs, err = newConferences(cfg, n.pacer, sounds, n.Bus, techs, n.Channels, recordings, log); err != nil {
		return nil, err
	}
	ap := apps.Register(n.PBX, apps.Services{Sounds: sounds, Techs: techs, RecordingsDir: recordings, MOH: n.moh,
		Conferences: n.confs, Parking: n.parking, Voicemail: n.Voicemail, Speech: n.speech.apps, TTS: n.speech.tts(cfg.Speech.TTS.Rate)})
	// Call queues: Queue() and its applications, queues.conf, queue_log.
	if err := n.newQueues(cfg, queues, techs, ap); err != nil {
		return nil, err
	}
	n.AGI = agi.Register(n.PBX, agi.Options{Dir: cfg.AGIDir, ConnectTimeout: cfg.AGI.ConnectTimeout.Duration,
		IdleTimeout: cfg.AGI.IdleTimeout.Duration, DB: astdb.New(o.Store), Sounds: sounds, RecordingsDir: recordings,
		Speech: n.speech.apps})
	if err := checkApps(plan, n.PBX); err != nil {
		return nil, err
	}
	n.PBX.SetDialplan(plan)
	n.Control = NewController(n.PBX, n.Channels, techs, n.SIP, log)
	n.Control.Conferences, n.Control.Parking = n.confs, n.parking
	if o.AMI != nil {
		n.amiOpts = n.amiOptions(*o.AMI)
	}
	ok = true
	return n, nil
}

// newMusicOnHold builds the music-on-hold classes: musiconhold.conf when
// the configuration names one (errors with file:line), else class default
// playing data_dir/moh/default (a synthesised tune without files).
func newMusicOnHold(cfg *config.Config, pacer *media.Pacer, files *media.FileCache, log *slog.Logger) (*moh.Player, error) {
	mc := moh.DefaultConfig(filepath.Join(cfg.DataDir, "moh", "default"))
	if cfg.MusicOnHold != "" {
		var err error
		if mc, err = moh.LoadConfig(cfg.MusicOnHold, ""); err != nil {
			return nil, err
		}
	}
	p, err := moh.New(pacer, mc, moh.Options{Load: files.Load, Logger: log})
	if err != nil {
		return nil, fmt.Errorf("music on hold: %w", err)
	}
	return p, nil
}

// ReloadDialplan reads extensions.conf again (Asterisk's "dialplan
// reload"): a file with errors is refused and the running plan kept; the
// realtime rows stay merged over the new file.
func (n *Node) ReloadDialplan(ctx context.Context) error {
	plan, err := LoadDialplan(n.cfg)
	if err != nil {
		return err
	}
	if err := n.parking.AddExtensions(plan); err != nil {
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
		groups, err := userGroups(u)
		if err != nil {
			return nil, fmt.Errorf("%s: user %q: %w", cfg.Path(), u.Name, err)
		}
		eps = append(eps, endpointSecurity(&sipua.Endpoint{
			Name: u.Name, Enabled: true,
			Credentials: sipauth.Credentials{
				HA1MD5:    digest.HA1("MD5", u.Name, cfg.SIP.Realm, u.Secret),
				HA1SHA256: digest.HA1("SHA-256", u.Name, cfg.SIP.Realm, u.Secret),
			},
			ACL: list, MaxContacts: u.MaxContacts, Context: u.Context, Language: u.Language,
			AccountCode: u.AccountCode, CallerNum: num, CallerName: name, Codecs: codecs(u.Codecs),
			Groups: groups,
		}, u.EndpointSecurity))
	}
	for _, t := range cfg.Trunks {
		eps = append(eps, endpointSecurity(&sipua.Endpoint{
			Name: t.Name, Trunk: true, Enabled: true, Context: t.Context, Language: t.Language,
			Codecs: codecs(t.Codecs), Match: t.MatchPrefixes(), Host: t.HostAddr(), Transport: t.Transport,
		}, t.EndpointSecurity))
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
	n.Queues.Start()
	if err := n.SIP.Start(ctx); err != nil {
		if n.rt != nil {
			n.rt.stop()
		}
		return err
	}
	if err := n.startAMI(ctx); err != nil {
		return err
	}
	// Messages left while the store was away reach its index.
	if err := n.Voicemail.Sync(ctx); err != nil {
		n.log.Warn("voicemail index not brought up to date", "err", err)
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
			ch.Hangup(q850.NormalClearing)
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
	n.confs.Close()
	n.closeQueues()
	n.moh.Close()
	n.pacer.Close()
	n.ports.Close()
	n.speech.close()
	n.Voicemail.Close()
	n.closeCDR()
}

// closeCDR flushes the CDR writer; the store stays open for the caller.
func (n *Node) closeCDR() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := n.CDR.Close(ctx); err != nil {
		n.log.Error("CDR flush failed", "err", err)
	}
}
