// Package system is entVoice's composition root: it builds the three ways
// the binary runs from a validated configuration, in dependency order, with
// every dependency given at construction, and runs them with one lifecycle.
//
//   - Serve (`entvoice serve`): central and one node in one process, the
//     node fed by central's provisioning repository in-process.
//   - Server (`entvoice server`): central alone: API, provisioning, the
//     node hub and the cluster-wide AMI. It builds no SIP or media code:
//     its half of this package (this file) imports none, and
//     `go build -tags central` leaves the node half out of the binary.
//   - Node (`entvoice node`): a site's PBX, fed by central over its link.
package system

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/entvoice/entvoice/internal/acl"
	"github.com/entvoice/entvoice/internal/ami"
	"github.com/entvoice/entvoice/internal/api"
	"github.com/entvoice/entvoice/internal/astdb"
	"github.com/entvoice/entvoice/internal/billing"
	"github.com/entvoice/entvoice/internal/cdrstore"
	"github.com/entvoice/entvoice/internal/central"
	"github.com/entvoice/entvoice/internal/cluster/hub"
	"github.com/entvoice/entvoice/internal/cluster/pki"
	"github.com/entvoice/entvoice/internal/config"
	"github.com/entvoice/entvoice/internal/control"
	"github.com/entvoice/entvoice/internal/events"
	"github.com/entvoice/entvoice/internal/provision"
	"github.com/entvoice/entvoice/internal/store"
)

// Options are what a process takes beside its configuration.
type Options struct {
	Logger *slog.Logger
	// Stderr receives the first admin token when one is generated.
	Stderr io.Writer
	// Version is the binary's version (sent to central by a node).
	Version string
}

// Process is a built entVoice process. Run starts it, waits for its
// context and shuts it down; its parts are exposed for tests and logs.
type Process struct {
	cfg *config.Config
	log *slog.Logger
	// Store is the process's database (central's, or a node's local one).
	Store *store.Store
	// Central is the API and provisioning (serve and server).
	Central *central.Central
	// Repo is central's provisioning repository (serve and server).
	Repo *provision.Repo
	// Billing rates the CDRs central stores, keeps the accounts and
	// authorizes calls (serve and server).
	Billing *billing.Service
	// Bans is the process's one ban list: SIP, AMI and the API ban into
	// it and refuse what it holds (docs/config.md, "Security").
	Bans *acl.BanList
	nodePart

	// starts run in order by Run; stops in reverse, each with the grace
	// live calls have (only the node's uses it).
	starts []func(ctx context.Context) error
	stops  []func(grace time.Duration)
	closed bool
}

// onStart adds a step to Run's start sequence.
func (p *Process) onStart(f func(ctx context.Context) error) { p.starts = append(p.starts, f) }

// onStop adds a step to the shutdown sequence, run in reverse order.
func (p *Process) onStop(f func(grace time.Duration)) { p.stops = append(p.stops, f) }

// stop runs the shutdown sequence once.
func (p *Process) stop(grace time.Duration) {
	if p.closed {
		return
	}
	p.closed = true
	for i := len(p.stops) - 1; i >= 0; i-- {
		p.stops[i](grace)
	}
}

// fail undoes a half-built process and returns err.
func (p *Process) fail(err error) (*Process, error) {
	p.stop(0)
	return nil, err
}

// Start starts every part. run is the context the parts run on: it must
// outlive the signal that ends the process, since draining calls still
// need their transports and links until Stop returns.
func (p *Process) Start(run context.Context) error {
	for _, f := range p.starts {
		if err := f(run); err != nil {
			p.stop(0)
			return err
		}
	}
	return nil
}

// Stop shuts the process down: new calls are refused, live calls have
// shutdown.grace to end, every CDR is flushed, then the store closes.
func (p *Process) Stop() { p.stop(p.cfg.Shutdown.Grace.Duration) }

// Run starts the process, waits until ctx is done and stops it.
func (p *Process) Run(ctx context.Context) error {
	run, endRun := context.WithCancel(context.Background())
	defer endRun()
	if err := p.Start(run); err != nil {
		return err
	}
	<-ctx.Done()
	p.log.Info("shutting down", "grace", p.cfg.Shutdown.Grace.Duration)
	p.Stop()
	p.log.Info("stopped")
	return nil
}

func newProcess(cfg *config.Config, o Options) *Process {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return &Process{cfg: cfg, log: o.Logger, Bans: acl.NewBanList(acl.BanListOptions{Allow: cfg.Security.AllowPrefixes()})}
}

// openStore opens the process's database (SQLite in data_dir, or the
// configured PostgreSQL) and closes it last.
func (p *Process) openStore(ctx context.Context) error {
	if err := os.MkdirAll(p.cfg.DataDir, 0o755); err != nil {
		return fmt.Errorf("data_dir: %w", err)
	}
	st, err := store.Open(ctx, store.Options{DSN: p.cfg.Database.DSN, DataDir: p.cfg.DataDir, Logger: p.log})
	if err != nil {
		return fmt.Errorf("open store: %w", err)
	}
	p.Store = st
	p.onStop(func(time.Duration) {
		if err := st.Close(); err != nil {
			p.log.Error("store close", "err", err)
		}
	})
	return nil
}

// openRepo opens central's provisioning repository and billing on the
// store.
func (p *Process) openRepo(ctx context.Context) error {
	if err := cdrstore.EnsureReportIndexes(ctx, p.Store); err != nil {
		return err
	}
	repo, err := provision.New(ctx, p.Store, provision.Options{KnownApp: control.IsApplication, Realm: p.cfg.SIP.Realm, Logger: p.log})
	if err != nil {
		return fmt.Errorf("provisioning: %w", err)
	}
	p.Repo = repo
	// The rater follows the CDRs central stores, from Start to Stop.
	p.Billing = billing.New(billing.Options{Store: p.Store, Logger: p.log})
	p.onStart(func(context.Context) error { p.Billing.Start(); return nil })
	p.onStop(func(time.Duration) { p.Billing.Close() })
	return nil
}

// startCentral serves the API on the repository.
func (p *Process) startCentral(ctx context.Context, ctl control.Controller, nodes api.Nodes, queues control.Queues, vm api.Voicemail, stderr io.Writer) error {
	c, err := central.Start(ctx, central.Options{Config: p.cfg, Store: p.Store, Repo: p.Repo, Billing: p.Billing, Controller: ctl, Nodes: nodes,
		Queues: queues, Voicemail: vm, Logger: p.log, Stderr: stderr, Bans: p.Bans})
	if err != nil {
		return err
	}
	p.Central = c
	p.onStop(func(time.Duration) {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		c.Close(sctx)
	})
	return nil
}

// Server builds `entvoice server`: central alone, the nodes linked to its
// hub. The API acts on live calls through the nodes' links and manages
// nodes through the hub's registry; one AMI shows every node's events and
// runs actions through the links.
func Server(ctx context.Context, cfg *config.Config, o Options) (*Process, error) {
	p := newProcess(cfg, o)
	if err := p.openStore(ctx); err != nil {
		return p.fail(err)
	}
	if err := p.openRepo(ctx); err != nil {
		return p.fail(err)
	}
	remote := hub.NewRemote()
	bus := events.New()
	// One registry for the API and the hub: a revocation through the API
	// reaches the hub (and the nodes) at once.
	reg := hub.NewRegistry(p.Store)
	var ca *pki.CA
	var nodesAPI api.Nodes
	if cfg.Cluster.Listen != "off" {
		var err error
		if ca, err = pki.LoadOrCreateCA(cfg.Cluster.CACert, cfg.Cluster.CAKey, pki.Dir(cfg.DataDir)); err != nil {
			return p.fail(err)
		}
		nodesAPI = &hub.Admin{Registry: reg, CA: ca, Remote: remote}
	}
	// The nodes keep their voicemail messages: none here (the messages
	// endpoints answer 503).
	if err := p.startCentral(ctx, remote, nodesAPI, nil, nil, o.Stderr); err != nil {
		return p.fail(err)
	}
	if ca != nil {
		nodeHub, err := hub.Start(ctx, hub.Options{Store: p.Store, Source: p.Repo, CA: ca, Registry: reg, Listen: cfg.Cluster.Listen,
			ServerNames: cfg.Cluster.ServerNames, Heartbeat: cfg.Cluster.Heartbeat.Duration, Remote: remote, Advertise: cfg.Cluster.Advertise,
			// Every node's events, for the cluster-wide AMI; the nodes'
			// trunk legs authorized by billing.
			Events: bus, Charging: billing.NewCharging(p.Billing), Logger: p.log})
		if err != nil {
			return p.fail(err)
		}
		p.onStop(func(time.Duration) { nodeHub.Close() })
	}
	// Central's AMI takes only the static users, as before.
	amiOpts, err := AMIOptions(cfg, nil)
	if err != nil {
		return p.fail(err)
	}
	if amiOpts != nil {
		amiOpts.Bus, amiOpts.Control, amiOpts.DB, amiOpts.Logger, amiOpts.Bans = bus, remote, astdb.New(p.Store), p.log, p.Bans
		srv, err := ami.New(*amiOpts)
		if err != nil {
			return p.fail(err)
		}
		p.onStart(srv.Start)
		p.onStop(func(time.Duration) { _ = srv.Close() })
	}
	return p, nil
}

// AMIOptions checks the ami section (manager.conf's settings and static
// users) and returns the AMI server's options, extra users (the store's)
// asked after the static ones; the caller adds what the process provides
// (Bus, Control, DB, Node, Logger). It is nil when ami.listen is "off" or
// there is no user to log in as, as Asterisk's manager.conf ships with
// enabled = no.
func AMIOptions(cfg *config.Config, extra ami.UserSource) (*ami.Options, error) {
	c := cfg.AMI
	if strings.EqualFold(c.Listen, "off") {
		return nil, nil
	}
	specs := make([]ami.UserSpec, 0, len(c.Users))
	for _, u := range c.Users {
		specs = append(specs, ami.UserSpec{Name: u.Name, Secret: u.Secret, Tenant: u.Tenant, Read: u.Read, Write: u.Write,
			Permit: u.Permit, Deny: u.Deny, MultiLogin: u.AllowMultipleLogin == nil || *u.AllowMultipleLogin, Events: u.Events})
	}
	static, err := ami.NewStaticUsers(specs)
	if err != nil {
		return nil, fmt.Errorf("%s: ami.users: %w", cfg.Path(), err)
	}
	if len(static) == 0 && extra == nil {
		return nil, nil
	}
	o := &ami.Options{
		Listen: c.Listen, TLSListen: c.TLSListen, AuthLimit: c.AuthLimit,
		TimestampEvents: c.TimestampEvents, SystemName: cfg.SystemName, QueueSize: c.QueueSize,
		MaxAuthFailures: c.MaxAuthFailures, Users: static,
		AuthTimeout: c.AuthTimeout.Duration, FailureWindow: c.AuthFailureWindow.Duration, BanTime: c.BanTime.Duration,
	}
	if extra != nil {
		o.Users = ami.Chain{static, extra}
	}
	if c.TLSListen != "" {
		cert, err := tls.LoadX509KeyPair(cfg.Resolve(c.TLSCert), cfg.Resolve(c.TLSKey))
		if err != nil {
			return nil, fmt.Errorf("ami.tls_cert/tls_key: %w", err)
		}
		o.TLS = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	return o, nil
}

// StoreAMIUsers are the AMI users of the provisioning store (Asterisk's
// realtime manager users), looked up at each login, so that a user
// created, changed or deleted through the API takes effect on the next
// login. A user of a suspended (or deleted) tenant is unknown.
func StoreAMIUsers(repo *provision.Repo) ami.UserSource {
	return ami.UserFunc(func(ctx context.Context, name string) (ami.User, error) {
		a, err := repo.GetAMIUser(ctx, name)
		if errors.Is(err, provision.ErrNotFound) {
			return ami.User{}, ami.ErrNoUser
		}
		if err != nil {
			return ami.User{}, fmt.Errorf("AMI user %q: %w", name, err)
		}
		if a.Tenant != "" {
			t, err := repo.GetTenant(ctx, a.Tenant)
			if errors.Is(err, provision.ErrNotFound) || (err == nil && t.Status == "suspended") {
				return ami.User{}, ami.ErrNoUser
			}
			if err != nil {
				return ami.User{}, fmt.Errorf("AMI user %q: tenant: %w", name, err)
			}
		}
		return ami.ParseUser(ami.UserSpec{Name: a.Name, Secret: a.Secret, Tenant: a.Tenant, Read: a.Read, Write: a.Write,
			Permit: a.Permit, Deny: a.Deny, MultiLogin: a.AllowMultipleLogin})
	})
}
