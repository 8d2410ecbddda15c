package hub

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/entvoice/entvoice/internal/cluster/backoff"
	"github.com/entvoice/entvoice/internal/cluster/wire"
	"github.com/entvoice/entvoice/internal/events"
)

// Events across central instances. A node's events go up its link and are
// published on the bus of the instance it is linked to. Every other
// instance holds one subscription (method Events, server streaming) to
// each instance it finds in central_instances and publishes what arrives
// on its own bus. A hub streams only the events of nodes linked to it
// (nodeBus below), never those it received from another instance, so an
// event crosses at most one instance-to-instance hop and each bus carries
// it once: no loops, no duplicates. Like the link, the stream is live: an
// event of an outage is not replayed (AMI does not replay), so a stream
// that flaps, or a node that moves to another instance, can lose events of
// the gap but never repeat one.

// peerEvents is a hub's part in the exchange.
type peerEvents struct {
	h *Hub
	// nodeBus carries the events of the nodes linked to this hub only:
	// what the Events method streams.
	nodeBus *events.Bus

	mu     sync.Mutex
	served map[string]*served    // Events streams served, by caller instance
	follow map[string]*following // subscriptions held, by instance

	up atomic.Int64 // subscriptions established now (tests, logs)
	wg sync.WaitGroup
}

// served is an Events stream served to another instance.
type served struct{ cancel context.CancelFunc }

type following struct {
	addr   string
	cancel context.CancelFunc
}

// Events streams are batched: up to eventBatch events a message, from a
// queue of eventQueue (past it events are dropped, counted by the bus,
// rather than slowing the node links).
const (
	eventQueue = 8192
	eventBatch = 256
)

func newPeerEvents(h *Hub) *peerEvents {
	return &peerEvents{h: h, nodeBus: events.New(), served: map[string]*served{}, follow: map[string]*following{}}
}

// relay offers a linked node's events to the other instances' streams.
func (p *peerEvents) relay(evs []events.Event) {
	for _, e := range evs {
		p.nodeBus.Publish(e)
	}
}

// events serves another instance's subscription: the events of the nodes
// linked here, batched, with an empty batch at once (the subscriber knows
// it is in) and every heartbeat, the shorter of the two instances' (it
// knows the stream is alive).
func (h *Hub) events(req *wire.EventsRequest, stream grpc.ServerStream) error {
	ctx := stream.Context()
	id, err := h.subscriber(ctx)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer h.pev.serving(id, cancel)()
	every := h.o.Heartbeat
	if req.Heartbeat >= 10*time.Millisecond { // a sane interval only
		every = min(every, req.Heartbeat)
	}
	return h.pev.stream(ctx, stream, every)
}

// subscriber is the id of the central instance an Events call comes from;
// anyone else is refused, and so is this instance itself.
func (h *Hub) subscriber(ctx context.Context) (string, error) {
	id, ok := instanceCaller(ctx)
	if !ok {
		_, remote := peerAddr(ctx)
		h.log.Warn("event subscription refused: caller is not a central instance", "remote", remote)
		return "", status.Error(codes.PermissionDenied, "only central instances subscribe to events")
	}
	if id == h.inst.id {
		// Its own events would come back twice: cluster.advertise names
		// a shared address (a load balancer) rather than this instance.
		h.log.Warn("event subscription refused: this instance subscribing to itself; cluster.advertise must name each instance, not a shared address")
		return "", status.Error(codes.FailedPrecondition, "an instance cannot subscribe to itself: cluster.advertise must be this instance's own address")
	}
	return id, nil
}

// serving makes a stream the one served to instance id until done: a
// newer one replaces (cancels) an older, so a resubscription racing an old
// stream that has not yet failed cannot deliver an event twice.
func (p *peerEvents) serving(id string, cancel context.CancelFunc) (done func()) {
	me := &served{cancel: cancel}
	p.mu.Lock()
	if old := p.served[id]; old != nil {
		old.cancel()
	}
	p.served[id] = me
	p.mu.Unlock()
	return func() {
		p.mu.Lock()
		if p.served[id] == me {
			delete(p.served, id)
		}
		p.mu.Unlock()
	}
}

// stream sends the nodes' events until ctx ends: an empty batch at once
// and every beat, the events in batches.
func (p *peerEvents) stream(ctx context.Context, stream grpc.ServerStream, every time.Duration) error {
	sub := p.nodeBus.Subscribe(eventQueue, nil)
	defer sub.Close()
	if err := stream.SendMsg(&wire.EventBatch{}); err != nil {
		return err
	}
	beat := time.NewTicker(every)
	defer beat.Stop()
	for {
		var batch []events.Event
		select {
		case <-ctx.Done():
			return nil
		case <-beat.C:
		case e := <-sub.C:
			batch = queued(sub.C, e)
		}
		if err := stream.SendMsg(&wire.EventBatch{Events: batch}); err != nil {
			return err
		}
	}
}

// queued is e and the events queued behind it on c, up to eventBatch.
func queued(c <-chan *events.Event, e *events.Event) []events.Event {
	batch := []events.Event{*e}
	for len(batch) < eventBatch {
		select {
		case e := <-c:
			batch = append(batch, *e)
		default:
			return batch
		}
	}
	return batch
}

// run keeps one subscription per live instance until ctx ends, looking at
// central_instances every heartbeat.
func (p *peerEvents) run(ctx context.Context) {
	defer func() {
		p.mu.Lock()
		for id, f := range p.follow {
			f.cancel()
			delete(p.follow, id)
		}
		p.mu.Unlock()
		p.wg.Wait()
	}()
	t := time.NewTicker(p.h.o.Heartbeat)
	defer t.Stop()
	for {
		// Other instances' node events are followed only while someone
		// here wants them (an AMI session): otherwise their nodes need
		// not even send them up.
		wanted, changed := p.h.o.Events.Wanted()
		p.sync(ctx, wanted)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-changed:
		}
	}
}

// sync starts subscriptions to instances that appeared (or moved) and
// stops those to instances gone from the table.
func (p *peerEvents) sync(ctx context.Context, wanted bool) {
	live, err := p.h.inst.live(ctx)
	if err != nil {
		if ctx.Err() == nil {
			p.h.log.Warn("listing central instances", "err", err)
		}
		return
	}
	if !wanted {
		live = nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for id, f := range p.follow {
		if live[id] != f.addr {
			f.cancel()
			delete(p.follow, id)
		}
	}
	for id, addr := range live {
		if p.follow[id] != nil {
			continue
		}
		fctx, cancel := context.WithCancel(ctx)
		p.follow[id] = &following{addr: addr, cancel: cancel}
		p.wg.Go(func() { p.subscribe(fctx, id, addr) })
	}
}

// subscribe holds the subscription to one instance, resubscribing with
// back-off (internal/cluster/backoff, as the node link redials) until ctx
// ends.
func (p *peerEvents) subscribe(ctx context.Context, id, addr string) {
	log := p.h.log.With("instance", id, "addr", addr)
	backoff.Default().Run(ctx, func(ctx context.Context) error { return p.once(ctx, id, addr) }, func(err error) {
		log.Warn("event subscription to a central instance lost; resubscribing", "err", err)
	})
}

// once is one subscription: it publishes what arrives on this instance's
// bus (and not on nodeBus: nothing received from an instance is streamed
// on) until the stream fails or stays silent for three heartbeats.
func (p *peerEvents) once(ctx context.Context, id, addr string) error {
	conn, err := p.h.inst.conn(id, addr)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := wire.SubscribeEvents(ctx, conn, &wire.EventsRequest{Heartbeat: p.h.o.Heartbeat})
	if err != nil {
		return err
	}
	silence := 3 * p.h.o.Heartbeat
	watchdog := time.AfterFunc(silence, cancel)
	defer watchdog.Stop()
	counted := false
	defer func() {
		if counted {
			p.up.Add(-1)
		}
	}()
	for {
		var b wire.EventBatch
		if err := stream.RecvMsg(&b); err != nil {
			if errors.Is(ctx.Err(), context.Canceled) && !watchdog.Stop() {
				return fmt.Errorf("cluster: central instance silent for %s", silence)
			}
			return err
		}
		watchdog.Reset(silence)
		if !counted {
			counted = true
			p.up.Add(1)
			p.h.log.Info("subscribed to a central instance's node events", "instance", id, "addr", addr)
		}
		for _, e := range b.Events {
			p.h.o.Events.Publish(e)
		}
	}
}
