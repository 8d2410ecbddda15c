package hub

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/entvoice/entvoice/internal/cluster/wire"
	"github.com/entvoice/entvoice/internal/control"
	"github.com/entvoice/entvoice/internal/events"
	"github.com/entvoice/entvoice/internal/provision"
)

// nodeLink is one node's Link stream at the hub: Hello, Welcome, then
// configuration down (a snapshot or the changes after the node's
// revision, then changes as they happen), CDRs up with acks, commands
// down and replies up, heartbeats both ways. The goroutine that runs
// serve is the only writer of the stream; receive reads it on a goroutine
// of its own and hands what needs an answer to serve.
type nodeLink struct {
	h      *Hub
	stream grpc.ServerStream
	node   control.NodeInfo // as authorized
	remote string
	log    *slog.Logger
	cancel context.CancelFunc

	cmds    *nodeCmds // central's commands for the node (nil without a Remote)
	renewal *linkRenewal
	// heard is the unix nanoseconds of the node's last message, or
	// heardBusy while the receiver is storing a CDR batch: a node is not
	// silent while central is slow to read it (a large upsert on a loaded
	// database), its heartbeats are queued behind the batch.
	heard atomic.Int64

	// From the receiver to the sender.
	acks    chan int64
	resync  chan struct{}
	located chan *wire.LocateReply
	charged chan *wire.ChargeReply

	// The sender's.
	config       chan struct{} // the provisioning feed moved, or a push is due
	trusted      chan struct{} // the enrolled-node list changed
	rev          int64         // the revision the node holds
	needSnapshot bool
	eventsOn     bool
	wantA, wantB <-chan struct{} // closed when the demand for events changes
}

// heardBusy marks a link's receiver busy storing CDRs (not silent).
const heardBusy = -1

// serveLink serves one node's stream until it ends.
func (h *Hub) serveLink(stream grpc.ServerStream) error {
	ctx := stream.Context()
	_, remote := peerAddr(ctx)
	n, err := h.authorize(ctx)
	if err != nil {
		h.log.Warn("node link refused", "remote", remote, "node", n.Name, "err", status.Convert(err).Message())
		return err
	}
	c := &nodeLink{h: h, stream: stream, node: n, remote: remote, log: h.log.With("node", n.Name, "remote", remote),
		renewal: newLinkRenewal(n.Serial), acks: make(chan int64, 16), resync: make(chan struct{}, 1),
		located: make(chan *wire.LocateReply, 16), charged: make(chan *wire.ChargeReply, 16)}
	hello, err := c.awaitHello()
	if err != nil {
		return err
	}
	ctx, c.cancel = context.WithCancel(ctx)
	defer c.cancel()
	defer h.attach(c)()
	if err := c.welcome(ctx, hello); err != nil {
		return err
	}
	c.heard.Store(time.Now().UnixNano())
	recvErr := make(chan error, 1)
	go func() { recvErr <- c.receive(ctx) }()
	return c.serve(ctx, recvErr)
}

// awaitHello reads the node's Hello: it speaks first, and one that does
// not within three heartbeats is dropped (returning ends the stream,
// which ends the receive).
func (c *nodeLink) awaitHello() (*wire.Hello, error) {
	var hello wire.Up
	got := make(chan error, 1)
	go func() { got <- c.stream.RecvMsg(&hello) }()
	select {
	case err := <-got:
		if err != nil {
			return nil, err
		}
	case <-time.After(3 * c.h.o.Heartbeat):
		c.log.Warn("node link dropped: no hello")
		return nil, status.Error(codes.DeadlineExceeded, "no hello")
	}
	if hello.Hello == nil {
		return nil, status.Error(codes.InvalidArgument, "the link opens with hello")
	}
	return hello.Hello, nil
}

// attach makes c the node's one stream (a newer one replaces an older: a
// node that redialled before its old connection timed out), subscribes it
// to configuration and enrolled-node changes and, with a Remote, to
// commands. detach undoes it.
func (h *Hub) attach(c *nodeLink) (detach func()) {
	var stopConfig, stopTrusted func()
	c.config, stopConfig = h.config.add()
	c.trusted, stopTrusted = h.trusted.subs.add()
	h.mu.Lock()
	if old := h.active[c.node.Name]; old != nil {
		old.cancel()
	}
	h.active[c.node.Name] = c
	h.mu.Unlock()
	if h.o.Remote != nil {
		c.cmds = h.o.Remote.attach(c.node.Name)
	}
	return func() {
		if c.cmds != nil {
			h.o.Remote.detach(c.cmds)
		}
		stopConfig()
		stopTrusted()
		h.mu.Lock()
		if h.active[c.node.Name] == c {
			delete(h.active, c.node.Name)
		}
		h.mu.Unlock()
	}
}

// welcome answers the Hello and decides the first push: a snapshot for a
// node that holds nothing, or one that holds a later revision than
// central (a central store restored from an older backup), else the
// changes after its revision.
func (c *nodeLink) welcome(ctx context.Context, hello *wire.Hello) error {
	var wanted bool
	wanted, c.wantA, c.wantB = c.h.eventsWanted()
	c.eventsOn = wanted
	w := &wire.Welcome{Node: c.node.Name, CDRAcked: c.node.CDRAcked, Time: time.Now().UTC(), Peers: c.h.trusted.current(), EventsOff: !wanted}
	if err := c.stream.SendMsg(&wire.Down{Welcome: w}); err != nil {
		return err
	}
	_ = c.h.reg.seen(ctx, c.node.Name, c.remote, hello.Revision)
	c.log.Info("node linked", "revision", hello.Revision, "cdr_acked", c.node.CDRAcked, "cdr_head", hello.CDRHead)
	c.rev, c.needSnapshot = hello.Revision, hello.Revision == 0
	if r, ok := c.h.o.Source.(interface {
		Revision(context.Context) (int64, error)
	}); ok {
		if cur, err := r.Revision(ctx); err == nil && c.rev > cur {
			c.log.Warn("node holds a later revision than central; sending central's snapshot", "node_revision", c.rev, "revision", cur)
			c.needSnapshot = true
		}
	}
	poke(c.config) // the first push
	return nil
}

// serve is the sender: it writes what the receiver, the feed, the
// commands and the timers ask for, until the stream ends.
func (c *nodeLink) serve(ctx context.Context, recvErr <-chan error) error {
	heartbeat := time.NewTicker(c.h.o.Heartbeat)
	defer heartbeat.Stop()
	var cmds <-chan *wire.Command
	if c.cmds != nil {
		cmds = c.cmds.out
	}
	for {
		var err error
		select {
		case <-ctx.Done():
			<-recvErr
			return ctx.Err()
		case err := <-recvErr:
			c.log.Info("node link closed", "err", err)
			return err
		case seq := <-c.acks:
			err = c.stream.SendMsg(&wire.Down{CDRAck: seq})
		case cmd := <-cmds:
			err = c.stream.SendMsg(&wire.Down{Command: cmd})
		case rep := <-c.located:
			err = c.stream.SendMsg(&wire.Down{Located: rep})
		case rep := <-c.charged:
			err = c.stream.SendMsg(&wire.Down{Charged: rep})
		case d := <-c.renewal.out:
			err = c.stream.SendMsg(d)
		case <-c.wantA:
			err = c.switchEvents()
		case <-c.wantB:
			err = c.switchEvents()
		case <-c.resync:
			c.needSnapshot = true
			poke(c.config)
		case <-heartbeat.C:
			err = c.heartbeat()
		case <-c.trusted:
			err = c.sendTrusted(ctx)
		case <-c.config:
			if err = c.push(ctx); err != nil && ctx.Err() == nil {
				c.log.Warn("config push failed", "err", err)
			}
		}
		if err != nil {
			return err
		}
	}
}

// heartbeat drops a node silent for three heartbeats, else sends one.
func (c *nodeLink) heartbeat() error {
	if at := c.heard.Load(); at != heardBusy && time.Since(time.Unix(0, at)) > 3*c.h.o.Heartbeat {
		c.log.Warn("node link dropped: node silent", "for", time.Since(time.Unix(0, at)).Round(time.Millisecond))
		return status.Error(codes.DeadlineExceeded, "node silent")
	}
	return c.stream.SendMsg(&wire.Down{Heartbeat: &wire.Heartbeat{Revision: c.rev, Time: time.Now().UTC()}})
}

// sendTrusted sends the node the enrolled-node list that just changed, or
// cuts the link when the node is no longer on it with the certificate it
// linked with (or renewed to over this link): revoked, or superseded by a
// later enrolment.
func (c *nodeLink) sendTrusted(ctx context.Context) error {
	nodes := c.h.trusted.current()
	if serials, ok := nodes[c.node.Name]; (!ok || !c.renewal.holds(serials[0])) && c.revoked(ctx) {
		c.log.Warn("node link cut: certificate revoked or superseded")
		return status.Error(codes.PermissionDenied, ErrNodeRevoked.Error())
	}
	return c.stream.SendMsg(&wire.Down{Heartbeat: &wire.Heartbeat{Revision: c.rev, Time: time.Now().UTC(), Peers: nodes}})
}

// revoked asks the registry whether the link's certificate is still the
// node's: the list may have been read before this link came up (while
// the node enrolled again, or renewed), and a database error cuts nothing.
func (c *nodeLink) revoked(ctx context.Context) bool {
	n, err := c.h.reg.Node(ctx, c.node.Name)
	if err != nil {
		return errors.Is(err, control.ErrNodeUnknown)
	}
	return n.Revoked || !c.renewal.holds(n.Serial)
}

// switchEvents tells the node when the demand for its events changed.
func (c *nodeLink) switchEvents() error {
	var now bool
	now, c.wantA, c.wantB = c.h.eventsWanted()
	if now == c.eventsOn {
		return nil
	}
	c.eventsOn = now
	return c.stream.SendMsg(&wire.Down{Events: &now})
}

// eventsWanted says whether anyone here wants the nodes' events (a
// consumer on central's bus, such as an AMI session, or another central
// instance subscribed to this hub's), with channels closed when either
// changes.
func (h *Hub) eventsWanted() (bool, <-chan struct{}, <-chan struct{}) {
	var local bool
	var a <-chan struct{}
	if h.o.Events != nil {
		local, a = h.o.Events.Wanted()
	}
	peers, b := h.pev.nodeBus.Wanted()
	return local || peers, a, b
}

// pushLimit is how many changes go in one message.
const pushLimit = 1000

// push sends the node what it lacks: a snapshot when asked or when the
// feed no longer reaches its revision, else the changes after it.
func (c *nodeLink) push(ctx context.Context) error {
	src := c.h.o.Source
	for !c.needSnapshot {
		changes, err := src.Changes(ctx, c.rev, pushLimit)
		if errors.Is(err, provision.ErrResync) {
			c.needSnapshot = true
			break
		}
		if err != nil || len(changes) == 0 {
			return err
		}
		w := make([]wire.Change, len(changes))
		for i, ch := range changes {
			w[i] = wire.EncodeChange(ch)
		}
		if err := c.stream.SendMsg(&wire.Down{Changes: w}); err != nil {
			return err
		}
		c.rev = changes[len(changes)-1].Revision
		if len(changes) < pushLimit {
			return nil
		}
	}
	s, err := src.Snapshot(ctx)
	if err != nil {
		return err
	}
	if err := c.stream.SendMsg(&wire.Down{Snapshot: wire.EncodeSnapshot(s)}); err != nil {
		return err
	}
	c.rev, c.needSnapshot = s.Revision, false
	return nil
}

// receive reads the node's messages until the stream ends. CDR batches
// are stored by a goroutine of their own, in order, so the receiver
// decodes the next message while the database writes this one (draining a
// backlog, decoding was a third of the work).
func (c *nodeLink) receive(ctx context.Context) error {
	var locating sync.WaitGroup
	defer locating.Wait()
	batches := make(chan []wire.ShippedCDR, wire.CDRWindow)
	intakeErr := make(chan error, 1)
	var storing sync.WaitGroup
	storing.Go(func() { c.storeCDRs(ctx, batches, intakeErr) })
	defer func() {
		close(batches)
		storing.Wait()
	}()
	for {
		var up wire.Up
		if err := c.stream.RecvMsg(&up); err != nil {
			return err
		}
		select {
		case err := <-intakeErr:
			return err
		default:
		}
		c.heard.Store(time.Now().UnixNano())
		if up.Reply != nil && c.cmds != nil {
			c.cmds.pending.Deliver(up.Reply.ID, up.Reply)
		}
		if req := up.Locate; req != nil {
			// Asking every node takes a round trip: not on the receiver.
			locating.Go(func() { c.locate(ctx, req) })
		}
		if req := up.Charge; req != nil {
			// Billing reads the store: not on the receiver either.
			locating.Go(func() { c.charge(ctx, req) })
		}
		c.publish(up.Events)
		if up.Renew != nil || up.RenewAck != "" {
			if err := c.renew(ctx, &up); err != nil {
				return err
			}
		}
		if hb := up.Heartbeat; hb != nil {
			c.heartbeatFrom(ctx, hb)
		}
		if up.Resync {
			poke(c.resync)
		}
		if len(up.CDRs) > 0 {
			if err := c.queueCDRs(ctx, up.CDRs, batches, intakeErr); err != nil {
				return err
			}
		}
	}
}

// heartbeatFrom records the node's heartbeat and reports clock skew.
func (c *nodeLink) heartbeatFrom(ctx context.Context, hb *wire.Heartbeat) {
	_ = c.h.reg.seen(ctx, c.node.Name, c.remote, hb.Revision)
	if skew := time.Since(hb.Time); skew > 2*time.Second || skew < -2*time.Second {
		c.log.Warn("node clock skew (node times are kept in its CDRs)", "skew", skew.Round(time.Millisecond))
	}
}

// publish puts the node's events on central's bus and offers them to the
// other instances.
func (c *nodeLink) publish(up []wire.Event) {
	if len(up) == 0 {
		return
	}
	evs := make([]events.Event, len(up))
	for i := range up {
		evs[i] = up[i].Decode()
	}
	if bus := c.h.o.Events; bus != nil {
		for _, e := range evs {
			bus.Publish(e)
		}
	}
	c.h.pev.relay(evs)
}

// locate answers the node's LocateRequest from the other nodes'
// registrations.
func (c *nodeLink) locate(ctx context.Context, req *wire.LocateRequest) {
	rep := &wire.LocateReply{ID: req.ID}
	if r := c.h.o.Remote; r == nil {
		rep.Err = "this central server does not reach its nodes"
	} else {
		lctx, cancel := context.WithTimeout(ctx, locateTimeout)
		loc, err := r.locate(lctx, c.node.Name, req.Tenant, req.User)
		cancel()
		if err != nil {
			rep.Err = err.Error()
		}
		rep.Node, rep.SIP = loc.Node, loc.SIP
	}
	select {
	case c.located <- rep:
	case <-ctx.Done():
	}
}

// locateTimeout bounds a node's locate: central asks every node, each
// answers from memory.
const locateTimeout = 3 * time.Second
