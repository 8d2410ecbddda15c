package hub_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/entvoice/entvoice/internal/cluster/clustertest"
	"github.com/entvoice/entvoice/internal/cluster/hub"
	"github.com/entvoice/entvoice/internal/cluster/link"
	"github.com/entvoice/entvoice/internal/cluster/wire"
	"github.com/entvoice/entvoice/internal/events"
	"github.com/entvoice/entvoice/internal/store"
	"github.com/entvoice/entvoice/internal/store/storetest"
)

// eventsLink starts a hub with a bus of its own and enrols site-a, whose
// link (not started) carries nodeBus's events: central's bus, the node's
// bus and the link.
func eventsLink(t *testing.T) (central, nodeBus *events.Bus, l *link.Link) {
	t.Helper()
	central = events.New()
	th := clustertest.StartHub(t, store.Options{DataDir: t.TempDir()}, hub.Options{Events: central})
	nodeBus = events.New()
	l, err := link.New(link.Options{DataDir: th.Enrol(t, "site-a"), Heartbeat: clustertest.Heartbeat, Logger: storetest.Logger(t)})
	if err != nil {
		t.Fatal(err)
	}
	return central, nodeBus, l
}

// TestEventsUp: a node's bus events reach central's bus while linked.
func TestEventsUp(t *testing.T) {
	ctx := context.Background()
	central, nodeBus, l := eventsLink(t)
	sub := central.Subscribe(100, nil)
	defer sub.Close()
	l.Start(ctx, link.Node{Events: nodeBus})
	defer l.Close()
	waitFor(t, "the link", l.Connected)
	snap := &events.Snapshot{Channel: "PJSIP/1001-00000001", UniqueID: "site-a-1700000000.1", LinkedID: "site-a-1700000000.1", Tenant: "acme"}
	nodeBus.Publish(events.Event{Kind: events.Newchannel, Channel: snap})
	nodeBus.Publish(events.Event{Kind: events.DTMFEnd, Channel: snap, Digit: '5', Duration: 120 * time.Millisecond, Direction: "Received"})
	nodeBus.Publish(events.Event{Kind: events.Hangup, Channel: snap, Cause: 16})
	var got []events.Event
	deadline := time.After(10 * time.Second)
	for len(got) < 3 {
		select {
		case e := <-sub.C:
			got = append(got, *e)
		case <-deadline:
			t.Fatalf("central got %d of 3 events", len(got))
		}
	}
	if got[0].Kind != events.Newchannel || *got[0].Channel != *snap || got[1].Digit != '5' || got[1].Duration != 120*time.Millisecond ||
		got[2].Kind != events.Hangup || got[2].Cause != 16 {
		t.Fatalf("events at central: %+v", got)
	}
}

// TestEventsOnDemand: a node sends its events up only while someone at
// central wants them. With nobody subscribed at central the node does not
// even collect them (its bus has no subscriber); a subscriber switches
// them on at once, closing it switches them off again.
func TestEventsOnDemand(t *testing.T) {
	ctx := context.Background()
	central, nodeBus, l := eventsLink(t)
	l.Start(ctx, link.Node{Events: nodeBus})
	defer l.Close()
	waitFor(t, "the link", l.Connected)
	waitFor(t, "the node to stop collecting events nobody wants", func() bool { return !nodeBus.HasSubscribers() })
	// A passive subscriber (AMI's fan-out with no session) is no demand.
	passive := central.SubscribePassive(10, nil)
	defer passive.Close()
	nodeBus.Publish(events.Event{Kind: events.FullyBooted})

	sub := central.Subscribe(10, nil)
	waitFor(t, "the node to collect events again", nodeBus.HasSubscribers)
	nodeBus.Publish(events.Event{Kind: events.PeerStatus, Peer: "PJSIP/1001", Tenant: "acme"})
	select {
	case e := <-sub.C:
		if e.Kind != events.PeerStatus {
			t.Fatalf("first event at central = %v, want the one published after the demand (the earlier one is not kept)", e.Kind)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the event published once central wanted events did not arrive")
	}
	if len(passive.C) != 1 {
		t.Errorf("the passive subscriber got %d events, want the one that went up", len(passive.C))
	}
	sub.Close()
	waitFor(t, "the node to stop again", func() bool { return !nodeBus.HasSubscribers() })
}

// TestEventsAcrossInstances: two central instances share one store and CA,
// each with its own bus. A node linked to the second has each of its events
// on both buses exactly once: while linked to the second, after the first
// instance's subscription to the second is cut and comes back, and after
// the node moves to the first instance. Each instance subscribes to the
// other, so an instance relaying what it received would loop the events
// back and the counts would show it.
func TestEventsAcrossInstances(t *testing.T) {
	ctx := context.Background()
	c := clustertest.NewCentral(t, storetest.Open(t, storetest.PostgresOptionsOrSQLite(t)))
	bus1, bus2 := events.New(), events.New()
	h1 := c.Start(t, hub.Options{Events: bus1})
	h2 := c.Start(t, hub.Options{Events: bus2})
	// An instance follows the others only while its own bus has demand
	// (an AMI session; here these subscribers).
	time.Sleep(2 * clustertest.Heartbeat)
	if h1.Subscriptions() != 0 || h2.Subscriptions() != 0 {
		t.Fatal("instances follow each other with nobody wanting events")
	}
	sub1, sub2 := bus1.Subscribe(1000, nil), bus2.Subscribe(1000, nil)
	defer sub1.Close()
	defer sub2.Close()
	waitFor(t, "each instance subscribed to the other", func() bool { return h1.Subscriptions() == 1 && h2.Subscriptions() == 1 })

	dir := h2.Enrol(t, "site-a")
	nodeBus := events.New()
	startLink := func(central string) *link.Link {
		l := clustertest.StartLink(t, dir, link.Options{Central: central}, link.Node{Events: nodeBus})
		waitFor(t, "the link", l.Connected)
		return l
	}
	l := startLink("")
	waitFor(t, "site-a on the second instance", func() bool { return len(h2.Connected()) == 1 })

	// round publishes n events and a marker on the node, waits for the
	// marker on both buses, then for three more heartbeats (a duplicate
	// coming the other way round would arrive by then), and checks that
	// each bus holds each event once.
	round := func(name string, n int) {
		t.Helper()
		ids := make([]string, n+1)
		for i := range ids {
			ids[i] = fmt.Sprintf("site-a-%s.%d", name, i)
			nodeBus.Publish(events.Event{Kind: events.Newchannel, Channel: &events.Snapshot{Channel: "PJSIP/1001-" + ids[i], UniqueID: ids[i]}})
		}
		for b, sub := range []*events.Subscription{sub1, sub2} {
			seen := map[string]int{}
			deadline := time.After(10 * time.Second)
			var settle <-chan time.Time
			for done := false; !done; {
				select {
				case e := <-sub.C:
					seen[e.Channel.UniqueID]++
					if e.Channel.UniqueID == ids[n] {
						settle = time.After(3 * clustertest.Heartbeat)
					}
				case <-settle:
					done = true
				case <-deadline:
					t.Fatalf("%s: bus %d got %d distinct events of %d, no marker", name, b+1, len(seen), n+1)
				}
			}
			if len(seen) != n+1 {
				t.Fatalf("%s: bus %d got %d distinct events, want %d", name, b+1, len(seen), n+1)
			}
			for id, c := range seen {
				if c != 1 {
					t.Fatalf("%s: bus %d got %s %d times", name, b+1, id, c)
				}
			}
		}
	}
	round("linked-to-2", 200)

	// The first instance's subscription is cut (as by a network flap): it
	// resubscribes with back-off, and events are again on both buses once.
	h2.CutSubscribers()
	waitFor(t, "the first instance resubscribed", func() bool {
		return h1.Log.Count("subscribed to a central instance's node events") >= 2 && h1.Subscriptions() == 1
	})
	round("after-flap", 200)

	// The node moves to the first instance.
	l.Close()
	startLink(h1.URL)
	waitFor(t, "site-a on the first instance only", func() bool { return len(h1.Connected()) == 1 && len(h2.Connected()) == 0 })
	round("linked-to-1", 200)

	// A node's certificate cannot subscribe.
	stream, err := wire.SubscribeEvents(ctx, nodeConn(t, h1, dir), &wire.EventsRequest{})
	if err == nil {
		err = stream.RecvMsg(&wire.EventBatch{})
	}
	if status.Code(err) != codes.PermissionDenied {
		t.Fatalf("Events with a node certificate = %v", err)
	}
	waitFor(t, "the refusal in the log", func() bool { return h1.Log.Has("caller is not a central instance") })

	// An instance reaching itself (both advertising one shared address)
	// is refused: its own nodes' events would come back.
	if err := h1.SubscribeOnce(ctx, "shared", h1.Addr().String()); status.Code(err) != codes.FailedPrecondition {
		t.Fatalf("an instance subscribing to itself = %v", err)
	}
}
