package cluster

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/status"

	"github.com/entvoice/entvoice/internal/events"
	"github.com/entvoice/entvoice/internal/provision"
	"github.com/entvoice/entvoice/internal/store/storetest"
)

func (w *logBuf) count(s string) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return strings.Count(w.b.String(), s)
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
	st := storetest.Open(t, storetest.PostgresOptionsOrSQLite(t))
	repo, err := provision.New(ctx, st, provision.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ca, err := LoadOrCreateCA("", "", filepath.Join(t.TempDir(), "ca"))
	if err != nil {
		t.Fatal(err)
	}
	start := func() (*Hub, *events.Bus, *logBuf) {
		lb := &logBuf{t: t}
		bus := events.New()
		h, err := StartHub(ctx, HubOptions{Store: st, Source: repo, CA: ca, Listen: "127.0.0.1:0", Heartbeat: 200 * time.Millisecond,
			Events: bus, Logger: slog.New(slog.NewTextHandler(lb, nil))})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(h.Close)
		return h, bus, lb
	}
	h1, bus1, log1 := start()
	h2, bus2, _ := start()
	// An instance follows the others only while its own bus has demand
	// (an AMI session; here these subscribers).
	time.Sleep(400 * time.Millisecond)
	if h1.pev.up.Load() != 0 || h2.pev.up.Load() != 0 {
		t.Fatal("instances follow each other with nobody wanting events")
	}
	sub1, sub2 := bus1.Subscribe(1000, nil), bus2.Subscribe(1000, nil)
	defer sub1.Close()
	defer sub2.Close()
	waitFor(t, "each instance subscribed to the other", func() bool { return h1.pev.up.Load() == 1 && h2.pev.up.Load() == 1 })

	tok, err := h2.Registry().CreateToken(ctx, ca, "site-a", []netipPrefix{mustPrefix("127.0.0.1/32")}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if _, err := Join(ctx, dir, "https://"+h2.Addr().String(), tok.String(), ""); err != nil {
		t.Fatal(err)
	}
	nodeBus := events.New()
	link := func(central string) *Link {
		l, err := NewLink(LinkOptions{DataDir: dir, Central: central, Events: nodeBus, Heartbeat: 200 * time.Millisecond, Logger: storetest.Logger(t)})
		if err != nil {
			t.Fatal(err)
		}
		l.Start(ctx)
		waitFor(t, "the link", l.Connected)
		return l
	}
	l := link("")
	defer func() { l.Close() }()
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
						settle = time.After(600 * time.Millisecond)
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
	// resubscribes with backoff, and events are again on both buses once.
	h2.pev.mu.Lock()
	for _, stop := range h2.pev.served {
		stop()
	}
	h2.pev.mu.Unlock()
	waitFor(t, "the first instance resubscribed", func() bool {
		return log1.count("subscribed to a central instance's node events") >= 2 && h1.pev.up.Load() == 1
	})
	round("after-flap", 200)

	// The node moves to the first instance.
	l.Close()
	l = link("https://" + h1.Addr().String())
	waitFor(t, "site-a on the first instance only", func() bool { return len(h1.Connected()) == 1 && len(h2.Connected()) == 0 })
	round("linked-to-1", 200)

	// A node's certificate cannot subscribe.
	id, err := loadIdentity(dir, "")
	if err != nil {
		t.Fatal(err)
	}
	conn, err := grpc.NewClient("passthrough:///"+h1.Addr().String(),
		grpc.WithTransportCredentials(credentials.NewTLS(pinnedTLS(nil, id.ca, []tls.Certificate{id.cert}))))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	stream, err := conn.NewStream(ctx, &eventsStreamDesc, methodEvents, grpc.ForceCodec(jsonCodec{}))
	if err == nil {
		err = stream.SendMsg(&EventsRequest{})
	}
	if err == nil {
		err = stream.RecvMsg(&EventBatch{})
	}
	if status.Code(err) != codes.PermissionDenied {
		t.Fatalf("Events with a node certificate = %v", err)
	}
	waitFor(t, "the refusal in the log", func() bool { return log1.has("caller is not a central instance") })

	// An instance reaching itself (both advertising one shared address)
	// is refused: its own nodes' events would come back.
	if err := h1.pev.once(ctx, "shared", h1.Addr().String()); status.Code(err) != codes.FailedPrecondition {
		t.Fatalf("an instance subscribing to itself = %v", err)
	}
}
