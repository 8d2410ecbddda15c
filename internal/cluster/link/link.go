// Package link is the node side of the distributed tier: enrolment with
// a one-time token (Join), the link to central's hub (Link: configuration
// down into a replica that is the node's provision.Source, CDRs shipped up
// exactly once, events up, central's commands run on the node's
// controller, certificate renewal), and the trust between nodes for calls
// from node to node (PeerTrust). Central runs internal/cluster/hub; both
// speak internal/cluster/wire. docs/cluster.md describes the design.
package link

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc/status"

	"github.com/entvoice/entvoice/internal/cluster/backoff"
	"github.com/entvoice/entvoice/internal/cluster/pending"
	"github.com/entvoice/entvoice/internal/cluster/pki"
	"github.com/entvoice/entvoice/internal/cluster/wire"
	"github.com/entvoice/entvoice/internal/control"
	"github.com/entvoice/entvoice/internal/events"
	"github.com/entvoice/entvoice/internal/store"
)

// Options configure a node's link.
type Options struct {
	DataDir string
	// Central overrides the URL remembered at enrolment.
	Central string
	// Store is the node's local store, whose cdr table is shipped.
	Store *store.Store
	// LocalAddr is the IP the node dials central from (cluster.bind).
	LocalAddr string
	Heartbeat time.Duration
	Version   string
	Logger    *slog.Logger
	// Peers, when set, learns from central which nodes are enrolled (the
	// node-to-node calls' certificate check).
	Peers *PeerTrust
	// RenewBefore, when set, renews the node certificate over the link
	// once less than this is left of it, instead of a third of its
	// lifetime (renew.go).
	RenewBefore time.Duration
}

// Node is what a link serves for the node it links, given at Start (the
// node is built on the link's replica, so it exists only after the link).
type Node struct {
	// Controller runs central's commands on the node's calls (nil: they
	// are answered with an error).
	Controller control.Controller
	// Events, when set, is the node's bus: its events go up while linked.
	Events *events.Bus
	// ReloadDialplan runs central's reload command (nil: refused).
	ReloadDialplan func(context.Context) error
}

// Link is a node's side of the link. It is the node's provision.Source: a
// replica of central's configuration (a snapshot plus the changes after
// it), persisted in data_dir/cluster so a node restarted while central is
// unreachable serves its last configuration.
type Link struct {
	*replica
	o    Options
	node Node // set by Start
	id   *pki.Identity
	log  *slog.Logger

	connected atomic.Bool
	acked     atomic.Int64 // highest CDR sequence central holds

	tail     *cdrTail     // committed CDRs not read back (ShipCommitted)
	fromTail atomic.Int64 // CDRs shipped from the tail (tests)
	// Locate requests (LocatePeer) go to the session and wait for
	// central's answer.
	locates  chan *wire.LocateRequest
	locating pending.Table[*wire.LocateReply]
	// Billing questions (Authorize, Settle, the accounts) likewise.
	charges  chan *wire.ChargeRequest
	charging pending.Table[*wire.ChargeReply]
	billed   billedAccounts

	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// New loads the node's identity and persisted configuration.
func New(o Options) (*Link, error) {
	if o.Heartbeat <= 0 {
		o.Heartbeat = 5 * time.Second
	}
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	id, err := pki.LoadIdentity(o.DataDir, o.Central)
	if err != nil {
		return nil, err
	}
	l := &Link{o: o, id: id, log: log.With("component", "cluster-link", "node", id.Name),
		locates: make(chan *wire.LocateRequest), charges: make(chan *wire.ChargeRequest), tail: &cdrTail{}}
	l.replica = newReplica(o.DataDir, l.log)
	return l, nil
}

// Name is the node's enrolled name.
func (l *Link) Name() string { return l.id.Name }

// Connected reports whether the link to central is up.
func (l *Link) Connected() bool { return l.connected.Load() }

// CDRAcked is the highest CDR sequence central has acknowledged.
func (l *Link) CDRAcked() int64 { return l.acked.Load() }

// Start runs the link for node (dialling, redialling with back-off) and
// the replica's persistence until Close.
func (l *Link) Start(ctx context.Context, node Node) {
	l.node = node
	ctx, l.cancel = context.WithCancel(ctx)
	l.wg.Go(func() { l.replica.persistLoop(ctx) })
	l.wg.Go(func() { l.run(ctx) })
	l.wg.Go(func() { l.refreshAccounts(ctx) })
}

// Close stops the link and writes the replica.
func (l *Link) Close() {
	if l.cancel != nil {
		l.cancel()
		l.wg.Wait()
	}
}

// run keeps the link up: a session at a time, redialled with back-off.
func (l *Link) run(ctx context.Context) {
	backoff.Default().Run(ctx, func(ctx context.Context) error {
		defer l.connected.Store(false)
		return l.connect(ctx)
	}, func(err error) {
		if s, ok := status.FromError(err); ok && s.Message() != "" {
			l.log.Warn("link to central down; serving the last configuration", "central", l.id.Central, "code", s.Code().String(), "err", s.Message())
		} else {
			l.log.Warn("link to central down; serving the last configuration", "central", l.id.Central, "err", err)
		}
	})
}
