package cluster

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"

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

var eventsStreamDesc = grpc.StreamDesc{StreamName: "Events", ServerStreams: true}

// peerEvents is a hub's part in the exchange.
type peerEvents struct {
	h *Hub
	// nodeBus carries the events of the nodes linked to this hub only:
	// what the Events method streams.
	nodeBus *events.Bus

	mu     sync.Mutex
	served map[string]context.CancelFunc // Events streams served, by caller instance
	follow map[string]*following         // subscriptions held, by instance

	up   atomic.Int64 // subscriptions established now (tests, logs)
	wg   sync.WaitGroup
	done chan struct{}
}

type following struct {
	addr   string
	cancel context.CancelFunc
}

func newPeerEvents(h *Hub) *peerEvents {
	return &peerEvents{h: h, nodeBus: events.New(), served: map[string]context.CancelFunc{}, follow: map[string]*following{}, done: make(chan struct{})}
}

// start follows the other instances until ctx ends, when this hub has a
// bus to publish their nodes' events on.
func (p *peerEvents) start(ctx context.Context) {
	if p.h.o.Events == nil {
		close(p.done)
		return
	}
	go func() {
		defer close(p.done)
		p.run(ctx)
	}()
}

// wait returns when the subscriptions have ended (after start's ctx).
func (p *peerEvents) wait() { <-p.done }

// relay offers a linked node's events to the other instances' streams.
func (p *peerEvents) relay(evs []events.Event) {
	for _, e := range evs {
		p.nodeBus.Publish(e)
	}
}

// instanceCaller is the id of the central instance calling (the CN of its
// instance certificate, central:<id>), or false for anyone else.
func instanceCaller(ctx context.Context) (string, bool) {
	p, _ := peer.FromContext(ctx)
	var info credentials.TLSInfo
	if p != nil {
		info, _ = p.AuthInfo.(credentials.TLSInfo)
	}
	if len(info.State.PeerCertificates) == 0 {
		return "", false
	}
	id, ok := strings.CutPrefix(info.State.PeerCertificates[0].Subject.CommonName, instanceCNPrefix)
	return id, ok && id != ""
}

// events serves another instance's subscription: the events of the nodes
// linked here, batched, with an empty batch at once (the subscriber knows
// it is in) and every heartbeat, the shorter of the two instances' (it
// knows the stream is alive). One stream per subscribing instance: a newer
// one replaces an older, so a resubscription racing an old stream that has
// not yet failed cannot deliver an event twice.
func (h *Hub) events(req *EventsRequest, stream grpc.ServerStream) error {
	ctx := stream.Context()
	id, ok := instanceCaller(ctx)
	if !ok {
		_, remote := peerAddr(ctx)
		h.log.Warn("event subscription refused: caller is not a central instance", "remote", remote)
		return status.Error(codes.PermissionDenied, "only central instances subscribe to events")
	}
	if id == h.inst.id {
		// Its own events would come back twice: cluster.advertise names
		// a shared address (a load balancer) rather than this instance.
		h.log.Warn("event subscription refused: this instance subscribing to itself; cluster.advertise must name each instance, not a shared address")
		return status.Error(codes.FailedPrecondition, "an instance cannot subscribe to itself: cluster.advertise must be this instance's own address")
	}
	p := h.pev
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	sub := p.nodeBus.Subscribe(eventQueue, nil)
	defer sub.Close()
	var mine atomic.Bool
	mine.Store(true)
	stop := func() { mine.Store(false); cancel() }
	p.mu.Lock()
	if old := p.served[id]; old != nil {
		old()
	}
	p.served[id] = stop
	p.mu.Unlock()
	defer func() {
		p.mu.Lock()
		if mine.Load() {
			delete(p.served, id)
		}
		p.mu.Unlock()
	}()
	if err := stream.SendMsg(&EventBatch{}); err != nil {
		return err
	}
	every := h.o.Heartbeat
	if req.Heartbeat >= 10*time.Millisecond { // a sane interval only
		every = min(every, req.Heartbeat)
	}
	beat := time.NewTicker(every)
	defer beat.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-beat.C:
			if err := stream.SendMsg(&EventBatch{}); err != nil {
				return err
			}
		case e := <-sub.C:
			batch := []events.Event{e}
		more:
			for len(batch) < eventBatch {
				select {
				case e := <-sub.C:
					batch = append(batch, e)
				default:
					break more
				}
			}
			if err := stream.SendMsg(&EventBatch{Events: batch}); err != nil {
				return err
			}
		}
	}
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

// subscribe holds the subscription to one instance, redialling with
// exponential backoff and full jitter (as the node link does) until ctx
// ends.
func (p *peerEvents) subscribe(ctx context.Context, id, addr string) {
	log := p.h.log.With("instance", id, "addr", addr)
	delay := backoffMin
	for ctx.Err() == nil {
		start := time.Now()
		err := p.once(ctx, id, addr)
		if ctx.Err() != nil {
			return
		}
		log.Warn("event subscription to a central instance lost; resubscribing", "err", err)
		if time.Since(start) > 30*time.Second {
			delay = backoffMin
		}
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
	stream, err := conn.NewStream(ctx, &eventsStreamDesc, methodEvents, grpc.ForceCodec(jsonCodec{}))
	if err != nil {
		return err
	}
	if err := stream.SendMsg(&EventsRequest{Heartbeat: p.h.o.Heartbeat}); err != nil {
		return err
	}
	if err := stream.CloseSend(); err != nil {
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
		var b EventBatch
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

// live is the other instances seen within three heartbeats with an
// address: id to address.
func (in *instances) live(ctx context.Context) (map[string]string, error) {
	st := in.h.o.Store
	since := st.TimeArg(time.Now().Add(-3 * in.h.o.Heartbeat))
	rows, err := st.DB().QueryContext(ctx, st.Rebind(`SELECT id, addr FROM central_instances WHERE id <> ? AND seen >= ? AND addr <> ''`), in.id, since)
	if err != nil {
		return nil, fmt.Errorf("cluster: %w", err)
	}
	defer func() { _ = rows.Close() }()
	out := map[string]string{}
	for rows.Next() {
		var id, addr string
		if err := rows.Scan(&id, &addr); err != nil {
			return nil, fmt.Errorf("cluster: %w", err)
		}
		out[id] = addr
	}
	return out, rows.Err()
}
