package cluster

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/entvoice/entvoice/internal/cdr"
	"github.com/entvoice/entvoice/internal/cdrstore"
	"github.com/entvoice/entvoice/internal/provision"
	"github.com/entvoice/entvoice/internal/store"
	"github.com/entvoice/entvoice/internal/store/storetest"
)

// centralCDRs counts central's CDRs and distinct uniqueids.
func centralCDRs(t *testing.T, st *store.Store) (rows, distinct int) {
	t.Helper()
	if err := st.DB().QueryRow("SELECT COUNT(*), COUNT(DISTINCT uniqueid) FROM cdr").Scan(&rows, &distinct); err != nil {
		t.Fatal(err)
	}
	return rows, distinct
}

func nodeCDRs(n int, from int) []cdr.Record {
	start := time.Date(2026, 11, 29, 9, 0, 0, 0, time.UTC)
	out := make([]cdr.Record, n)
	for i := range out {
		k := from + i
		out[i] = cdr.Record{Src: "1001", Dst: "600", DContext: "internal", Channel: fmt.Sprintf("PJSIP/1001-%08x", k),
			Start: start.Add(time.Duration(k) * time.Second), End: start.Add(time.Duration(k)*time.Second + 3*time.Second),
			Duration: 3, Disposition: cdr.DispositionAnswered, UniqueID: fmt.Sprintf("site-a-%d.%d", 1700000000, k),
			LinkedID: fmt.Sprintf("site-a-%d.%d", 1700000000, k), Node: "site-a"}
	}
	return out
}

// TestCDRsExactlyOnce ships a node's CDRs while central is stopped and
// restarted mid-stream, more CDRs are written during the outage, and the
// node's link itself is restarted: central ends with every CDR once.
func TestCDRsExactlyOnce(t *testing.T) {
	ctx := context.Background()
	copts := storetest.PostgresOptionsOrSQLite(t)
	cst := storetest.Open(t, copts)
	repo, err := provision.New(ctx, cst, provision.Options{Realm: "entvoice"})
	if err != nil {
		t.Fatal(err)
	}
	caDir := filepath.Join(t.TempDir(), "cluster")
	ca, err := LoadOrCreateCA("", "", caDir)
	if err != nil {
		t.Fatal(err)
	}
	log := &logBuf{t: t}
	logger := slog.New(slog.NewTextHandler(log, &slog.HandlerOptions{Level: slog.LevelDebug}))
	start := func(addr string) *Hub {
		h, err := StartHub(ctx, HubOptions{Store: cst, Source: repo, CA: ca, Listen: addr, Heartbeat: 200 * time.Millisecond, Logger: logger})
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	h := start("127.0.0.1:0")
	addr := h.Addr().String()
	defer func() { h.Close() }()
	tok, err := h.Registry().CreateToken(ctx, ca, "site-a", []netipPrefix{mustPrefix("127.0.0.0/8")}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	dataDir := t.TempDir()
	if _, err := Join(ctx, dataDir, "https://"+addr, tok.String(), ""); err != nil {
		t.Fatal(err)
	}
	nst := storetest.Open(t, store.Options{DataDir: dataDir})
	// 2,000 CDRs before the link comes up: four batches at least.
	if err := cdrstore.Insert(ctx, nst, nodeCDRs(2000, 0)); err != nil {
		t.Fatal(err)
	}
	newLink := func() *Link {
		l, err := NewLink(LinkOptions{DataDir: dataDir, Store: nst, Heartbeat: 200 * time.Millisecond, Logger: logger})
		if err != nil {
			t.Fatal(err)
		}
		l.Start(ctx)
		return l
	}
	l := newLink()
	defer func() { l.Close() }()
	// Stop central as soon as shipping has begun but not finished.
	waitFor(t, "the first ack", func() bool { return l.CDRAcked() > 0 })
	h.Close()
	if got := l.CDRAcked(); got >= 2000 {
		t.Logf("all acked before central stopped (acked %d); the outage still covers the next writes", got)
	}
	// Writes during the outage, and a node restart (a new link, same data).
	if err := cdrstore.Insert(ctx, nst, nodeCDRs(700, 2000)); err != nil {
		t.Fatal(err)
	}
	l.Close()
	l = newLink()
	time.Sleep(300 * time.Millisecond) // the link keeps failing meanwhile
	h = start(addr)
	if err := cdrstore.Insert(ctx, nst, nodeCDRs(300, 2700)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "every CDR acked", func() bool { return l.CDRAcked() >= 3000 })
	rows, distinct := centralCDRs(t, cst)
	if rows != 3000 || distinct != 3000 {
		t.Fatalf("central holds %d CDRs (%d distinct), want 3000 once each", rows, distinct)
	}
	n, err := h.Registry().Node(ctx, "site-a")
	if err != nil || n.CDRAcked != 3000 {
		t.Fatalf("node row: %+v %v", n, err)
	}
	// A resend of acked CDRs (a lost ack) changes nothing.
	if _, err := h.intake(ctx, "site-a", []ShippedCDR{{Seq: 5, Record: nodeCDRs(1, 4)[0]}}); err != nil {
		t.Fatal(err)
	}
	if rows, distinct = centralCDRs(t, cst); rows != 3000 || distinct != 3000 {
		t.Fatalf("after a resend: %d rows, %d distinct", rows, distinct)
	}
	if n, _ = h.Registry().Node(ctx, "site-a"); n.CDRAcked != 3000 {
		t.Fatalf("a resend moved cdr_acked back to %d", n.CDRAcked)
	}
}

// TestCDRsShippedFromWriter: CDRs the node's writer commits are shipped
// from its hand-off (no read back from the store) and still reach central
// once each, also when part of them was written while central was down
// (those are read from the store).
func TestCDRsShippedFromWriter(t *testing.T) {
	ctx := context.Background()
	th := startTestHub(t, store.Options{DataDir: t.TempDir()})
	dataDir := t.TempDir()
	if _, err := Join(ctx, dataDir, th.url, th.token(t, "site-a", "127.0.0.0/8", time.Hour), ""); err != nil {
		t.Fatal(err)
	}
	nst := storetest.Open(t, store.Options{DataDir: dataDir})
	l, err := NewLink(LinkOptions{DataDir: dataDir, Store: nst, Heartbeat: 200 * time.Millisecond, Logger: storetest.Logger(t)})
	if err != nil {
		t.Fatal(err)
	}
	var handOff atomic.Bool // the writer hands its commits to the link once set
	w := cdrstore.NewWriter(nst, storetest.Logger(t), cdrstore.WriterOptions{Linger: time.Millisecond, OnCommit: func(rows []cdr.Row) {
		if handOff.Load() {
			l.ShipCommitted(rows)
		}
	}})
	defer w.Close(ctx)
	write := func(from, n int) {
		var wg sync.WaitGroup
		for _, r := range nodeCDRs(n, from) {
			wg.Go(func() {
				if err := w.Write(ctx, r); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
	}
	write(0, 300) // before the hand-off: read from the store
	handOff.Store(true)
	l.Start(ctx)
	defer l.Close()
	waitFor(t, "the first 300 acked", func() bool { return l.CDRAcked() >= 300 })
	write(300, 1200)
	waitFor(t, "every CDR acked", func() bool { return l.CDRAcked() >= 1500 })
	if rows, distinct := centralCDRs(t, th.st); rows != 1500 || distinct != 1500 {
		t.Fatalf("central holds %d CDRs (%d distinct), want 1500 once each", rows, distinct)
	}
	if n := l.fromTail.Load(); n == 0 || n > 1200 {
		t.Errorf("%d CDRs shipped from the writer's hand-off, want some of the 1200 written with it", n)
	} else {
		t.Logf("%d of 1500 shipped from the hand-off", n)
	}
}

// TestCDRTail: the tail ships only what continues exactly where shipping
// is; anything else is read from the store.
func TestCDRTail(t *testing.T) {
	rows := func(ids ...int64) []cdr.Row {
		out := make([]cdr.Row, len(ids))
		for i, id := range ids {
			out[i] = cdr.Row{ID: id}
		}
		return out
	}
	tl := newCDRTail()
	tl.add(rows(5, 6, 7, 9))
	if _, ok := tl.after(3, 10); ok {
		t.Error("a tail starting at 5 continued shipping at 4")
	}
	got, ok := tl.after(4, 10)
	if !ok || len(got) != 3 || got[2].ID != 7 {
		t.Errorf("after 4: %v %v, want 5..7 (9 is past a gap)", got, ok)
	}
	tl.add(rows(8, 3)) // not after 9: left to the store
	if got, ok := tl.after(7, 1); ok {
		t.Errorf("after 7: %v; want 8 read from the store", got)
	}
	if got, ok := tl.after(8, 5); !ok || len(got) != 1 || got[0].ID != 9 {
		t.Errorf("after 8: %v %v, want 9", got, ok)
	}
	tl.add(rows(10))
	if _, ok := tl.after(20, 10); ok {
		t.Error("a tail behind shipping was used")
	}
}
