package link_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/entvoice/entvoice/internal/cdr"
	"github.com/entvoice/entvoice/internal/cdrstore"
	"github.com/entvoice/entvoice/internal/cluster/clustertest"
	"github.com/entvoice/entvoice/internal/cluster/hub"
	"github.com/entvoice/entvoice/internal/cluster/link"
	"github.com/entvoice/entvoice/internal/store"
	"github.com/entvoice/entvoice/internal/store/storetest"
)

// TestCDRsShippedFromWriter: CDRs the node's writer commits are shipped
// from its hand-off (no read back from the store) and still reach central
// once each, also when part of them was written while central was down
// (those are read from the store).
func TestCDRsShippedFromWriter(t *testing.T) {
	ctx := context.Background()
	th := clustertest.StartHub(t, store.Options{DataDir: t.TempDir()}, hub.Options{})
	dataDir := th.Enrol(t, "site-a")
	nst := storetest.Open(t, store.Options{DataDir: dataDir})
	l, err := link.New(link.Options{DataDir: dataDir, Store: nst, Heartbeat: clustertest.Heartbeat, Logger: storetest.Logger(t)})
	if err != nil {
		t.Fatal(err)
	}
	var handOff atomic.Bool // the writer hands its commits to the link once set
	w := cdrstore.NewWriter(nst, storetest.Logger(t), cdrstore.WriterOptions{Interval: time.Millisecond, OnCommit: func(rows []cdr.Row) {
		if handOff.Load() {
			l.ShipCommitted(rows)
		}
	}})
	defer w.Close(ctx)
	write := func(from, n int) {
		var wg sync.WaitGroup
		for _, r := range clustertest.CDRs(n, from) {
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
	l.Start(ctx, link.Node{})
	defer l.Close()
	waitFor(t, "the first 300 acked", func() bool { return l.CDRAcked() >= 300 })
	write(300, 1200)
	waitFor(t, "every CDR acked", func() bool { return l.CDRAcked() >= 1500 })
	if rows, distinct := clustertest.CentralCDRs(t, th.Store); rows != 1500 || distinct != 1500 {
		t.Fatalf("central holds %d CDRs (%d distinct), want 1500 once each", rows, distinct)
	}
	if n := l.FromTail(); n == 0 || n > 1200 {
		t.Errorf("%d CDRs shipped from the writer's hand-off, want some of the 1200 written with it", n)
	} else {
		t.Logf("%d of 1500 shipped from the hand-off", n)
	}
}
