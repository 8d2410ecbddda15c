package hub_test

import (
	"context"
	"testing"
	"time"

	"github.com/entvoice/entvoice/internal/cdrstore"
	"github.com/entvoice/entvoice/internal/cluster/clustertest"
	"github.com/entvoice/entvoice/internal/cluster/hub"
	"github.com/entvoice/entvoice/internal/cluster/link"
	"github.com/entvoice/entvoice/internal/cluster/wire"
	"github.com/entvoice/entvoice/internal/store"
	"github.com/entvoice/entvoice/internal/store/storetest"
)

// TestCDRsExactlyOnce ships a node's CDRs while central is stopped and
// restarted mid-stream, more CDRs are written during the outage, and the
// node's link itself is restarted: central ends with every CDR once.
func TestCDRsExactlyOnce(t *testing.T) {
	ctx := context.Background()
	c := clustertest.NewCentral(t, storetest.Open(t, storetest.PostgresOptionsOrSQLite(t)))
	h := c.Start(t, hub.Options{})
	addr := h.Addr().String()
	dataDir := h.Enrol(t, "site-a")
	nst := storetest.Open(t, store.Options{DataDir: dataDir})
	// 2,000 CDRs before the link comes up: four batches at least.
	if err := cdrstore.Insert(ctx, nst, clustertest.CDRs(2000, 0)); err != nil {
		t.Fatal(err)
	}
	l := clustertest.StartLink(t, dataDir, link.Options{Store: nst, Logger: h.Log.Logger()})
	// Stop central as soon as shipping has begun but not finished.
	waitFor(t, "the first ack", func() bool { return l.CDRAcked() > 0 })
	h.Close()
	if got := l.CDRAcked(); got >= 2000 {
		t.Logf("all acked before central stopped (acked %d); the outage still covers the next writes", got)
	}
	// Writes during the outage, and a node restart (a new link, same data).
	if err := cdrstore.Insert(ctx, nst, clustertest.CDRs(700, 2000)); err != nil {
		t.Fatal(err)
	}
	l.Close()
	l = clustertest.StartLink(t, dataDir, link.Options{Store: nst, Logger: h.Log.Logger()})
	time.Sleep(300 * time.Millisecond) // the link keeps failing meanwhile
	h = c.Start(t, hub.Options{Listen: addr})
	if err := cdrstore.Insert(ctx, nst, clustertest.CDRs(300, 2700)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "every CDR acked", func() bool { return l.CDRAcked() >= 3000 })
	rows, distinct := clustertest.CentralCDRs(t, c.Store)
	if rows != 3000 || distinct != 3000 {
		t.Fatalf("central holds %d CDRs (%d distinct), want 3000 once each", rows, distinct)
	}
	n, err := h.Registry().Node(ctx, "site-a")
	if err != nil || n.CDRAcked != 3000 {
		t.Fatalf("node row: %+v %v", n, err)
	}
	// A resend of acked CDRs (a lost ack) changes nothing.
	if _, err := h.Intake(ctx, "site-a", []wire.ShippedCDR{{Seq: 5, Record: clustertest.CDRs(1, 4)[0]}}); err != nil {
		t.Fatal(err)
	}
	if rows, distinct = clustertest.CentralCDRs(t, c.Store); rows != 3000 || distinct != 3000 {
		t.Fatalf("after a resend: %d rows, %d distinct", rows, distinct)
	}
	if n, _ = h.Registry().Node(ctx, "site-a"); n.CDRAcked != 3000 {
		t.Fatalf("a resend moved cdr_acked back to %d", n.CDRAcked)
	}
}
