package cluster

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/entvoice/entvoice/internal/events"
	"github.com/entvoice/entvoice/internal/provision"
	"github.com/entvoice/entvoice/internal/store"
	"github.com/entvoice/entvoice/internal/store/storetest"
)

// eventsLink starts a hub with a bus of its own and enrols site-a, whose
// link (not started) carries nodeBus's events: central's bus, the node's
// bus and the link.
func eventsLink(t *testing.T) (central, nodeBus *events.Bus, l *Link) {
	t.Helper()
	ctx := context.Background()
	st := storetest.Open(t, store.Options{DataDir: t.TempDir()})
	repo, err := provision.New(ctx, st, provision.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ca, err := LoadOrCreateCA("", "", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	central = events.New()
	h, err := StartHub(ctx, HubOptions{Store: st, Source: repo, CA: ca, Listen: "127.0.0.1:0", Heartbeat: 200 * time.Millisecond,
		Events: central, Logger: slog.New(slog.NewTextHandler(&logBuf{t: t}, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Close)
	tok, err := h.Registry().CreateToken(ctx, ca, "site-a", []netipPrefix{mustPrefix("127.0.0.1/32")}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if _, err := Join(ctx, dir, "https://"+h.Addr().String(), tok.String(), ""); err != nil {
		t.Fatal(err)
	}
	nodeBus = events.New()
	l, err = NewLink(LinkOptions{DataDir: dir, Events: nodeBus, Heartbeat: 200 * time.Millisecond, Logger: storetest.Logger(t)})
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
	l.Start(ctx)
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
			got = append(got, e)
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
	l.Start(ctx)
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
