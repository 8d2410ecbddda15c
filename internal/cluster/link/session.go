package link

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	"github.com/entvoice/entvoice/internal/cluster/pki"
	"github.com/entvoice/entvoice/internal/cluster/wire"
	"github.com/entvoice/entvoice/internal/events"
)

// The node's events are queued while linked; past eventQueue they are
// dropped (counted by the bus) rather than slowing calls, and go up
// eventBatch at most a message.
const (
	eventQueue = 8192
	eventBatch = 256
)

// session is one connection to central, from the Hello until it fails.
// The goroutine that runs it is the only writer of the stream; receive
// reads the stream on a goroutine of its own and hands what needs an
// answer to it.
type session struct {
	l      *Link
	stream grpc.ClientStream
	cancel context.CancelFunc

	// The receiver's end: received is closed once it has stopped, with
	// the stream's error in recvErr.
	received chan struct{}
	recvErr  error
	commands sync.WaitGroup // central's commands running

	// From the receiver to the sender.
	alive    chan struct{}
	acks     chan int64
	compact  chan struct{}
	replies  chan *wire.Reply
	eventsOn chan bool
	renewals chan *wire.Renewal

	// The sender's.
	events    *events.Subscription // the node's events, while central wants them
	lastHeard time.Time
	ship      shipper
	renewal   renewState
}

// connect runs one session: it returns when the link fails.
func (l *Link) connect(ctx context.Context) error {
	target, err := hubTarget(l.id.Central)
	if err != nil {
		return err
	}
	conn, err := grpc.NewClient("passthrough:///"+target,
		grpc.WithTransportCredentials(credentials.NewTLS(pki.HubClientTLS(nil, l.id.CA, []tls.Certificate{l.id.Cert}))),
		wire.DialOption(), dialFrom(l.o.LocalAddr))
	if err != nil {
		return err
	}
	defer func() { _ = conn.Close() }()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	s := &session{l: l, cancel: cancel, received: make(chan struct{}),
		alive: make(chan struct{}, 1), acks: make(chan int64, 16), compact: make(chan struct{}, 1),
		replies: make(chan *wire.Reply, 16), eventsOn: make(chan bool, 16), renewals: make(chan *wire.Renewal, 1)}
	// Events queue from here on: the link is about to be up. Central says
	// whether anyone there wants them (Welcome, then Down.Events); while
	// nobody does they are not even collected.
	s.setEvents(true)
	defer s.setEvents(false)
	if err := s.open(ctx, conn); err != nil {
		return err
	}
	go s.receive(ctx)
	defer func() {
		cancel()
		<-s.received
		s.commands.Wait()
	}()
	return s.run(ctx)
}

// open opens the stream, says Hello and takes central's Welcome.
func (s *session) open(ctx context.Context, conn *grpc.ClientConn) error {
	l := s.l
	stream, err := wire.OpenLink(ctx, conn)
	if err != nil {
		return err
	}
	s.stream = stream
	head, _ := l.cdrHead(ctx)
	if err := stream.SendMsg(&wire.Up{Hello: &wire.Hello{Protocol: wire.Protocol, Version: l.o.Version, Revision: l.Revision(), CDRHead: head}}); err != nil {
		if errors.Is(err, io.EOF) {
			// The hub ended the stream (a refusal): its status comes
			// with the receive.
			var d wire.Down
			return stream.RecvMsg(&d)
		}
		return err
	}
	// A hub that takes the connection but does not answer is given up on
	// after three heartbeats (cancelling the stream ends the receive).
	silent := time.AfterFunc(3*l.o.Heartbeat, s.cancel)
	var first wire.Down
	err = stream.RecvMsg(&first)
	if !silent.Stop() {
		return fmt.Errorf("cluster: central did not answer within %s", 3*l.o.Heartbeat)
	}
	if err != nil {
		return err
	}
	w := first.Welcome
	if w == nil {
		return errors.New("cluster: central did not welcome the link")
	}
	l.acked.Store(w.CDRAcked)
	l.o.Peers.setNodes(w.Peers)
	s.setEvents(!w.EventsOff)
	l.connected.Store(true)
	l.log.Info("linked to central", "central", l.id.Central, "revision", l.Revision(), "cdr_acked", w.CDRAcked,
		"clock_skew", time.Since(w.Time).Round(time.Millisecond))
	return nil
}

// receive reads central's messages until the stream ends.
func (s *session) receive(ctx context.Context) {
	defer close(s.received)
	for {
		var d wire.Down
		if err := s.stream.RecvMsg(&d); err != nil {
			s.recvErr = err
			return
		}
		s.handle(ctx, &d)
	}
}

// handle takes one message: configuration into the replica, the
// enrolled-node list into PeerTrust, locate answers to their callers;
// what needs the sender goes to it.
func (s *session) handle(ctx context.Context, d *wire.Down) {
	l := s.l
	poke(s.alive)
	if l.apply(d) {
		poke(s.compact)
	}
	if hb := d.Heartbeat; hb != nil {
		l.o.Peers.setNodes(hb.Peers)
	}
	if rep := d.Located; rep != nil {
		l.locating.Deliver(rep.ID, rep)
	}
	if rep := d.Charged; rep != nil {
		l.charging.Deliver(rep.ID, rep)
	}
	if cmd := d.Command; cmd != nil {
		s.commands.Go(func() { s.reply(ctx, l.runCommand(ctx, cmd)) })
	}
	if d.Events != nil {
		forward(ctx, s.eventsOn, *d.Events)
	}
	if d.CDRAck > 0 {
		forward(ctx, s.acks, d.CDRAck)
	}
	if d.Renewal != nil {
		forward(ctx, s.renewals, d.Renewal)
	}
}

// reply hands a command's reply to the sender.
func (s *session) reply(ctx context.Context, rep *wire.Reply) { forward(ctx, s.replies, rep) }

// forward hands v to the sender unless the session ends first.
func forward[T any](ctx context.Context, ch chan<- T, v T) {
	select {
	case ch <- v:
	case <-ctx.Done():
	}
}

// poke signals ch unless a signal is already pending.
func poke(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// run is the sender: CDRs, events, replies, locates, renewal and
// heartbeats up, until the stream fails.
func (s *session) run(ctx context.Context) error {
	l := s.l
	hb := time.NewTicker(l.o.Heartbeat)
	defer hb.Stop()
	poll := time.NewTicker(shipPoll)
	defer poll.Stop()
	s.lastHeard = time.Now()
	s.ship = shipper{sent: l.acked.Load()}
	l.relinked()
	if err := s.shipCDRs(ctx); err != nil {
		return err
	}
	if err := s.renew(); err != nil {
		return err
	}
	for {
		var err error
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-s.received:
			return s.recvErr
		case <-s.alive:
			s.lastHeard = time.Now()
		case on := <-s.eventsOn:
			s.setEvents(on)
		case rep := <-s.replies:
			err = s.send(&wire.Up{Reply: rep})
		case req := <-l.locates:
			err = s.send(&wire.Up{Locate: req})
		case req := <-l.charges:
			err = s.send(&wire.Up{Charge: req})
		case e := <-s.eventC():
			err = s.sendEvents(e)
		case seq := <-s.acks:
			err = s.acked(ctx, seq)
		case r := <-s.renewals:
			err = s.renewed(r)
		case <-s.compact:
			err = s.send(&wire.Up{Resync: true})
		case <-poll.C:
			err = s.shipCDRs(ctx)
		case <-hb.C:
			err = s.heartbeat()
		}
		if err != nil {
			return err
		}
	}
}

// send writes m; when the hub has ended the stream it reports why (the
// receiver's error carries its status) rather than io.EOF.
func (s *session) send(m *wire.Up) error {
	err := s.stream.SendMsg(m)
	if errors.Is(err, io.EOF) {
		<-s.received
		return s.recvErr
	}
	return err
}

// heartbeat gives up on a central silent for three heartbeats, else
// sends one (and renews the certificate when that has become due).
func (s *session) heartbeat() error {
	l := s.l
	if silent := time.Since(s.lastHeard); silent > 3*l.o.Heartbeat {
		return fmt.Errorf("cluster: central silent for %s", silent.Round(time.Second))
	}
	if err := s.send(&wire.Up{Heartbeat: &wire.Heartbeat{Revision: l.Revision(), Time: time.Now().UTC()}}); err != nil {
		return err
	}
	return s.renew()
}

// setEvents collects the node's events (for central) or stops.
func (s *session) setEvents(on bool) {
	switch bus := s.l.node.Events; {
	case on && s.events == nil && bus != nil:
		s.events = bus.Subscribe(eventQueue, nil)
	case !on && s.events != nil:
		s.events.Close()
		s.events = nil
	}
}

// eventC is the node's events while collected (nil otherwise: never
// ready).
func (s *session) eventC() <-chan *events.Event {
	if s.events == nil {
		return nil
	}
	return s.events.C
}

// sendEvents sends e and whatever is queued behind it, up to a batch.
func (s *session) sendEvents(e *events.Event) error {
	batch := []wire.Event{wire.EncodeEvent(e)}
	for len(batch) < eventBatch {
		select {
		case e := <-s.events.C:
			batch = append(batch, wire.EncodeEvent(e))
		default:
			return s.send(&wire.Up{Events: batch})
		}
	}
	return s.send(&wire.Up{Events: batch})
}
