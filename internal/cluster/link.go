package cluster

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/status"

	"github.com/entvoice/entvoice/internal/cdr"
	"github.com/entvoice/entvoice/internal/cdrstore"
	"github.com/entvoice/entvoice/internal/control"
	"github.com/entvoice/entvoice/internal/events"
	"github.com/entvoice/entvoice/internal/provision"
	"github.com/entvoice/entvoice/internal/sipua"
	"github.com/entvoice/entvoice/internal/store"
)

// Replica compaction: past this many changes after its snapshot the node
// asks for a fresh snapshot.
const maxReplicaChanges = 5000

// Shipping: how many CDRs go in one message and how often the node store
// is looked at for new ones.
const (
	shipBatch  = 500
	shipWindow = 4 // batches in flight
	shipPoll   = 200 * time.Millisecond
)

// Backoff bounds between link attempts.
const (
	backoffMin = 250 * time.Millisecond
	backoffMax = 10 * time.Second
)

// LinkOptions configure a node's link.
type LinkOptions struct {
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
	// Controller runs central's commands on this node's calls (nil: they
	// are answered with an error).
	Controller control.Controller
	// Events, when set, is the node's bus: its events go up while linked.
	Events *events.Bus
	// Peers, when set, learns from central which nodes are enrolled (the
	// node-to-node calls' certificate check).
	Peers *PeerTrust
	// ReloadDialplan runs central's reload command (nil: refused).
	ReloadDialplan func(context.Context) error
	// RenewBefore, when set, renews the node certificate over the link
	// once less than this is left of it, instead of a third of its
	// lifetime (renew.go).
	RenewBefore time.Duration
}

// eventQueue is the node's event queue while linked; past it events are
// dropped (counted by the bus) rather than slowing calls.
const (
	eventQueue = 8192
	eventBatch = 256
)

// Link is a node's side of the link. It is the node's provision.Source: a
// replica of central's configuration (a snapshot plus the changes after
// it), persisted in data_dir/cluster so a node restarted while central is
// unreachable serves its last configuration.
type Link struct {
	o   LinkOptions
	id  *identity
	log *slog.Logger

	mu      sync.Mutex
	base    *provision.Snapshot
	changes []provision.Change
	// resync makes the next Changes call answer ErrResync, after a new
	// snapshot replaced the base.
	resync bool
	// compactAsked is set once a fresh snapshot has been asked for, until
	// one arrives (or the link is redialled).
	compactAsked bool
	maxChanges   int
	subs         []chan struct{}
	persist      chan struct{}

	connected atomic.Bool
	acked     atomic.Int64 // highest CDR sequence central holds

	// Locate requests (LocatePeer) wait for central's answer here.
	tail       *cdrTail     // committed CDRs not read back (ShipCommitted)
	fromTail   atomic.Int64 // CDRs shipped from the tail (tests)
	locates    chan *LocateRequest
	locMu      sync.Mutex
	locPending map[uint64]chan *LocateReply
	locNext    atomic.Uint64

	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// NewLink loads the node's identity and persisted configuration.
func NewLink(o LinkOptions) (*Link, error) {
	if o.Heartbeat <= 0 {
		o.Heartbeat = 5 * time.Second
	}
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	id, err := loadIdentity(o.DataDir, o.Central)
	if err != nil {
		return nil, err
	}
	l := &Link{o: o, id: id, log: log.With("component", "cluster-link", "node", id.name), persist: make(chan struct{}, 1), maxChanges: maxReplicaChanges,
		locates: make(chan *LocateRequest), locPending: map[uint64]chan *LocateReply{}, tail: newCDRTail()}
	if err := l.load(); err != nil {
		l.log.Warn("persisted configuration unreadable; waiting for central", "err", err)
	}
	return l, nil
}

// Name is the node's enrolled name.
func (l *Link) Name() string { return l.id.name }

// Connected reports whether the link to central is up.
func (l *Link) Connected() bool { return l.connected.Load() }

// CDRAcked is the highest CDR sequence central has acknowledged.
func (l *Link) CDRAcked() int64 { return l.acked.Load() }

// persisted is the replica file.
type persisted struct {
	Snapshot *wireSnapshot `json:"snapshot"`
	Changes  []wireChange  `json:"changes"`
}

func (l *Link) load() error {
	b, err := os.ReadFile(filepath.Join(ClusterDir(l.o.DataDir), replicaFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	var p persisted
	if err := json.Unmarshal(b, &p); err != nil {
		return err
	}
	if p.Snapshot == nil {
		return nil
	}
	l.base = p.Snapshot.snapshot()
	for _, c := range p.Changes {
		l.changes = append(l.changes, c.change())
	}
	l.log.Info("serving the persisted configuration until central answers", "revision", l.revisionLocked())
	return nil
}

// save writes the replica atomically.
func (l *Link) save() error {
	l.mu.Lock()
	if l.base == nil {
		l.mu.Unlock()
		return nil
	}
	p := persisted{Snapshot: toWireSnapshot(l.base), Changes: make([]wireChange, len(l.changes))}
	for i, c := range l.changes {
		p.Changes[i] = toWireChange(c)
	}
	l.mu.Unlock()
	b, err := json.Marshal(&p)
	if err != nil {
		return err
	}
	return writeFileAtomic(filepath.Join(ClusterDir(l.o.DataDir), replicaFile), b, 0o600)
}

func (l *Link) revisionLocked() int64 {
	if n := len(l.changes); n > 0 {
		return l.changes[n-1].Revision
	}
	if l.base != nil {
		return l.base.Revision
	}
	return 0
}

// Revision is the configuration revision the replica holds.
func (l *Link) Revision() int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.revisionLocked()
}

// Snapshot implements provision.Source from the replica.
func (l *Link) Snapshot(context.Context) (*provision.Snapshot, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.base == nil {
		return nil, errors.New("cluster: no configuration from central yet")
	}
	l.resync = false
	return l.base, nil
}

// Changes implements provision.Source from the replica.
func (l *Link) Changes(_ context.Context, since int64, limit int) ([]provision.Change, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.base == nil {
		return nil, errors.New("cluster: no configuration from central yet")
	}
	if l.resync || since < l.base.Revision {
		return nil, provision.ErrResync
	}
	var out []provision.Change
	for _, c := range l.changes {
		if c.Revision > since {
			out = append(out, c)
			if len(out) == limit {
				break
			}
		}
	}
	return out, nil
}

// Notify implements provision.Source. The channel starts with a value: a
// consumer that has just taken the Snapshot asks for the Changes after it
// at once (a replica loaded from disk holds changes after its snapshot,
// and with central away nothing else would wake the consumer).
func (l *Link) Notify() <-chan struct{} {
	ch := make(chan struct{}, 1)
	ch <- struct{}{}
	l.mu.Lock()
	l.subs = append(l.subs, ch)
	l.mu.Unlock()
	return ch
}

func (l *Link) wakeLocked() {
	for _, ch := range l.subs {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
	select {
	case l.persist <- struct{}{}:
	default:
	}
}

// apply takes a message's configuration into the replica. It reports
// whether the replica should be compacted.
func (l *Link) apply(d *Down) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if d.Snapshot != nil {
		l.base, l.changes, l.resync, l.compactAsked = d.Snapshot.snapshot(), nil, true, false
		l.wakeLocked()
	}
	if len(d.Changes) > 0 && l.base != nil {
		rev := l.revisionLocked()
		for _, w := range d.Changes {
			if w.Revision > rev {
				l.changes = append(l.changes, w.change())
				rev = w.Revision
			}
		}
		l.wakeLocked()
	}
	if len(l.changes) > l.maxChanges && !l.compactAsked {
		l.compactAsked = true
		return true
	}
	return false
}

// Start runs the link (dialling, redialling with backoff) and the
// replica's persistence until Close.
func (l *Link) Start(ctx context.Context) {
	ctx, l.cancel = context.WithCancel(ctx)
	l.wg.Add(2)
	go func() {
		defer l.wg.Done()
		l.persistLoop(ctx)
	}()
	go func() {
		defer l.wg.Done()
		l.run(ctx)
	}()
}

// Close stops the link and writes the replica.
func (l *Link) Close() {
	if l.cancel != nil {
		l.cancel()
		l.wg.Wait()
	}
}

func (l *Link) persistLoop(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			select {
			case <-l.persist:
				if err := l.save(); err != nil {
					l.log.Warn("persisting the configuration failed", "err", err)
				}
			default:
			}
			return
		case <-l.persist:
			if err := l.save(); err != nil {
				l.log.Warn("persisting the configuration failed", "err", err)
			}
		}
	}
}

func (l *Link) run(ctx context.Context) {
	delay := backoffMin
	for ctx.Err() == nil {
		start := time.Now()
		err := l.session(ctx)
		l.connected.Store(false)
		if ctx.Err() != nil {
			return
		}
		if s, ok := status.FromError(err); ok && s.Message() != "" {
			l.log.Warn("link to central down; serving the last configuration", "central", l.id.central, "code", s.Code().String(), "err", s.Message())
		} else {
			l.log.Warn("link to central down; serving the last configuration", "central", l.id.central, "err", err)
		}
		if time.Since(start) > 30*time.Second {
			delay = backoffMin
		}
		// Full jitter (AWS architecture blog's "exponential backoff and
		// jitter"): nodes of a site do not redial in step.
		wait := delay/2 + rand.N(delay/2+1)
		delay = min(delay*2, backoffMax)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// session is one connection: it returns when the link fails.
func (l *Link) session(ctx context.Context) error {
	target, err := hubTarget(l.id.central)
	if err != nil {
		return err
	}
	conn, err := grpc.NewClient("passthrough:///"+target,
		grpc.WithTransportCredentials(credentials.NewTLS(pinnedTLS(nil, l.id.ca, []tls.Certificate{l.id.cert}))),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(maxMsgSize), grpc.MaxCallSendMsgSize(maxMsgSize)),
		dialFrom(l.o.LocalAddr))
	if err != nil {
		return err
	}
	defer func() { _ = conn.Close() }()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// Events queue from here on: the link is about to be up.
	// Central says whether anyone there wants them (Welcome, then
	// Down.Events); while nobody does they are not even collected.
	var (
		evSub *events.Subscription
		evc   <-chan events.Event
	)
	setEvents := func(on bool) {
		switch {
		case on && evSub == nil && l.o.Events != nil:
			evSub = l.o.Events.Subscribe(eventQueue, nil)
			evc = evSub.C
		case !on && evSub != nil:
			evSub.Close()
			evSub, evc = nil, nil
		}
	}
	setEvents(true)
	defer setEvents(false)
	stream, err := conn.NewStream(ctx, &linkStreamDesc, methodLink, grpc.ForceCodec(jsonCodec{}))
	if err != nil {
		return err
	}
	head, _ := l.cdrHead(ctx)
	if err := stream.SendMsg(&Up{Hello: &Hello{Protocol: protoVersion, Version: l.o.Version, Revision: l.Revision(), CDRHead: head}}); err != nil {
		if errors.Is(err, io.EOF) {
			// The hub ended the stream (a refusal): its status comes
			// with the receive.
			var d Down
			return stream.RecvMsg(&d)
		}
		return err
	}
	// A hub that takes the connection but does not answer is given up on
	// after three heartbeats (cancelling the stream ends the receive).
	silent := time.AfterFunc(3*l.o.Heartbeat, cancel)
	var first Down
	err = stream.RecvMsg(&first)
	if !silent.Stop() {
		return fmt.Errorf("cluster: central did not answer within %s", 3*l.o.Heartbeat)
	}
	if err != nil {
		return err
	}
	if first.Welcome == nil {
		return errors.New("cluster: central did not welcome the link")
	}
	l.acked.Store(first.Welcome.CDRAcked)
	l.o.Peers.setNodes(first.Welcome.Peers)
	setEvents(!first.Welcome.EventsOff)
	l.connected.Store(true)
	l.log.Info("linked to central", "central", l.id.central, "revision", l.Revision(), "cdr_acked", first.Welcome.CDRAcked,
		"clock_skew", time.Since(first.Welcome.Time).Round(time.Millisecond))

	// Receiver: configuration, acks, heartbeats. Everything else (the
	// sender) runs here, the only writer of the stream.
	acks := make(chan int64, 16)
	compact := make(chan struct{}, 1)
	alive := make(chan struct{}, 1)
	recvErr := make(chan error, 1)
	replies := make(chan *Reply, 16)
	eventsOn := make(chan bool, 16)
	rs := newRenewState()
	var commands sync.WaitGroup
	defer commands.Wait()
	go func() {
		for {
			var d Down
			if err := stream.RecvMsg(&d); err != nil {
				recvErr <- err
				return
			}
			select {
			case alive <- struct{}{}:
			default:
			}
			if l.apply(&d) {
				select {
				case compact <- struct{}{}:
				default:
				}
			}
			if hb := d.Heartbeat; hb != nil {
				l.o.Peers.setNodes(hb.Peers)
			}
			if d.Events != nil {
				select {
				case eventsOn <- *d.Events:
				case <-ctx.Done():
				}
			}
			if rep := d.Located; rep != nil {
				l.locMu.Lock()
				ch := l.locPending[rep.ID]
				delete(l.locPending, rep.ID)
				l.locMu.Unlock()
				if ch != nil {
					ch <- rep
				}
			}
			if cmd := d.Command; cmd != nil {
				commands.Go(func() {
					var rep *Reply
					if cmd.Op == opReload {
						rep = reloadModule(ctx, l.o.ReloadDialplan, cmd)
					} else {
						rep = execute(ctx, l.o.Controller, cmd)
					}
					select {
					case replies <- rep:
					case <-ctx.Done():
					}
				})
			}
			if d.CDRAck > 0 {
				select {
				case acks <- d.CDRAck:
				case <-ctx.Done():
				}
			}
			if d.Renewal != nil {
				select {
				case rs.in <- d.Renewal:
				case <-ctx.Done():
				}
			}
		}
	}()
	defer func() {
		cancel()
		<-recvErr
	}()

	hb := time.NewTicker(l.o.Heartbeat)
	defer hb.Stop()
	poll := time.NewTicker(shipPoll)
	defer poll.Stop()
	lastHeard := time.Now()
	// send reports, when the hub ended the stream, why (the receiver's
	// error carries its status) rather than io.EOF.
	send := func(m *Up) error {
		err := stream.SendMsg(m)
		if errors.Is(err, io.EOF) {
			err = <-recvErr
			recvErr <- err
		}
		return err
	}
	sh := shipper{sent: l.acked.Load()}
	l.mu.Lock()
	l.compactAsked = false
	l.mu.Unlock()
	if err := l.ship(ctx, send, &sh); err != nil {
		return err
	}
	if err := l.renew(send, rs); err != nil {
		return err
	}
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case err := <-recvErr:
			recvErr <- err // for the deferred wait
			return err
		case <-alive:
			lastHeard = time.Now()
		case on := <-eventsOn:
			setEvents(on)
		case rep := <-replies:
			if err := send(&Up{Reply: rep}); err != nil {
				return err
			}
		case req := <-l.locates:
			if err := send(&Up{Locate: req}); err != nil {
				return err
			}
		case e := <-evc:
			batch := []wireEvent{toWireEvent(&e)}
		more:
			for len(batch) < eventBatch {
				select {
				case e := <-evc:
					batch = append(batch, toWireEvent(&e))
				default:
					break more
				}
			}
			if err := send(&Up{Events: batch}); err != nil {
				return err
			}
		case seq := <-acks:
			if seq > l.acked.Load() {
				l.acked.Store(seq)
			}
			sh.inflight = max(0, sh.inflight-1)
			if seq >= sh.sent {
				sh.inflight = 0
			}
			if err := l.ship(ctx, send, &sh); err != nil {
				return err
			}
		case r := <-rs.in:
			if err := l.renewed(send, rs, r); err != nil {
				return err
			}
		case <-compact:
			if err := send(&Up{Resync: true}); err != nil {
				return err
			}
		case <-poll.C:
			if err := l.ship(ctx, send, &sh); err != nil {
				return err
			}
		case <-hb.C:
			if time.Since(lastHeard) > 3*l.o.Heartbeat {
				return fmt.Errorf("cluster: central silent for %s", time.Since(lastHeard).Round(time.Second))
			}
			if err := send(&Up{Heartbeat: &Heartbeat{Revision: l.Revision(), Time: time.Now().UTC()}}); err != nil {
				return err
			}
			if err := l.renew(send, rs); err != nil {
				return err
			}
		}
	}
}

// shipper is one session's CDR shipping state.
type shipper struct {
	sent     int64 // highest sequence sent in this session (or acked before it)
	inflight int   // batches sent and not yet acked
}

// ship sends the batches of CDRs after the last one sent while fewer than
// shipWindow are unacknowledged. Central handles a stream's messages in
// order, so acks come back in order and each covers its batch and those
// before it.
func (l *Link) ship(ctx context.Context, send func(*Up) error, sh *shipper) error {
	if l.o.Store == nil {
		return nil
	}
	for sh.inflight < shipWindow {
		from := max(sh.sent, l.acked.Load())
		rows, ok := l.tail.after(from, shipBatch)
		if ok {
			l.fromTail.Add(int64(len(rows)))
		} else {
			var err error
			if rows, _, err = cdrstore.List(ctx, l.o.Store, cdrstore.Filter{After: from, Limit: shipBatch}); err != nil {
				l.log.Warn("reading CDRs to ship", "err", err)
				return nil
			}
		}
		if len(rows) == 0 {
			return nil
		}
		batch := make([]ShippedCDR, len(rows))
		for i, r := range rows {
			batch[i] = ShippedCDR{Seq: r.ID, Record: r.Record}
		}
		if err := send(&Up{CDRs: batch}); err != nil {
			return err
		}
		sh.sent = rows[len(rows)-1].ID
		sh.inflight++
	}
	return nil
}

// cdrHead is the node's highest CDR sequence.
func (l *Link) cdrHead(ctx context.Context) (int64, error) {
	if l.o.Store == nil {
		return 0, nil
	}
	var n int64
	err := l.o.Store.DB().QueryRowContext(ctx, "SELECT COALESCE(MAX(id), 0) FROM cdr").Scan(&n)
	return n, err
}

// ShipCommitted takes the rows the node's CDR writer just committed
// (cdrstore.Writer.OnCommit) and ships them without reading them back from the
// store; it does not block.
func (l *Link) ShipCommitted(rows []cdr.Row) { l.tail.add(rows) }

// locateTimeout bounds a Locate: central asks every node, each answers
// from memory.
const locateTimeout = 3 * time.Second

// LocatePeer asks central which other node has the user registered, for a
// call from this node (sipua's PeerLocator). It fails at once while the
// link is down: a node alone serves its own users only.
func (l *Link) LocatePeer(ctx context.Context, tenant, user string) (sipua.Peer, error) {
	if !l.connected.Load() {
		return sipua.Peer{}, fmt.Errorf("%w: central unreachable", ErrNodeNotLinked)
	}
	ctx, cancel := context.WithTimeout(ctx, locateTimeout)
	defer cancel()
	req := &LocateRequest{ID: l.locNext.Add(1), Tenant: tenant, User: user}
	ch := make(chan *LocateReply, 1)
	l.locMu.Lock()
	l.locPending[req.ID] = ch
	l.locMu.Unlock()
	defer func() {
		l.locMu.Lock()
		delete(l.locPending, req.ID)
		l.locMu.Unlock()
	}()
	select {
	case l.locates <- req:
	case <-ctx.Done():
		return sipua.Peer{}, fmt.Errorf("locate %s: %w", user, ctx.Err())
	}
	select {
	case rep := <-ch:
		if rep.Err != "" {
			return sipua.Peer{}, errors.New(rep.Err)
		}
		addr, err := netip.ParseAddrPort(rep.SIP)
		if err != nil {
			return sipua.Peer{Node: rep.Node}, fmt.Errorf("node %s takes no calls from other nodes (peer address %q)", rep.Node, rep.SIP)
		}
		return sipua.Peer{Node: rep.Node, Addr: addr}, nil
	case <-ctx.Done():
		return sipua.Peer{}, fmt.Errorf("locate %s: %w", user, ctx.Err())
	}
}
