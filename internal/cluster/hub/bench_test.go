package hub_test

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/entvoice/entvoice/internal/cdrstore"
	"github.com/entvoice/entvoice/internal/cluster/clustertest"
	"github.com/entvoice/entvoice/internal/cluster/hub"
	"github.com/entvoice/entvoice/internal/cluster/link"
	"github.com/entvoice/entvoice/internal/provision"
	"github.com/entvoice/entvoice/internal/store"
	"github.com/entvoice/entvoice/internal/store/storetest"
)

// benchHub is a quiet hub (default heartbeat) on a store that is
// PostgreSQL when ENTVOICE_TEST_PG_DSN is set.
func benchHub(b *testing.B) *clustertest.Hub {
	b.Helper()
	c := clustertest.NewCentral(b, storetest.Open(b, storetest.PostgresOptionsOrSQLite(b)))
	return c.Start(b, hub.Options{Heartbeat: 5 * time.Second, Logger: slog.New(slog.DiscardHandler)})
}

// benchLink is a quiet link (default heartbeat) of a node enrolled with h.
func benchLink(b *testing.B, dir string, st *store.Store) *link.Link {
	b.Helper()
	l, err := link.New(link.Options{DataDir: dir, Store: st, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	return l
}

// BenchmarkCDRDrain measures how fast a node's CDR backlog (b.N records
// written during an outage) drains to central through the link: TLS,
// gRPC, JSON, the central upsert. Central's store is PostgreSQL when
// ENTVOICE_TEST_PG_DSN is set. Reported as CDR/s.
//
//	go test -run '^$' -bench CDRDrain -benchtime 20000x ./internal/cluster/hub
func BenchmarkCDRDrain(b *testing.B) {
	ctx := context.Background()
	h := benchHub(b)
	dir := h.Enrol(b, "site-a")
	nst := storetest.Open(b, store.Options{DataDir: dir})
	for i := 0; i < b.N; i += 5000 {
		if err := cdrstore.Insert(ctx, nst, clustertest.CDRs(min(5000, b.N-i), i)); err != nil {
			b.Fatal(err)
		}
	}
	l := benchLink(b, dir, nst)
	b.ResetTimer()
	start := time.Now()
	l.Start(ctx, link.Node{})
	defer l.Close()
	for l.CDRAcked() < int64(b.N) {
		time.Sleep(time.Millisecond)
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "CDR/s")
}

// BenchmarkPropagation measures how long a provisioning write takes to
// reach the replicas of 10 linked nodes (hub, TLS, gRPC, JSON, the node's
// replica; a node's realtime rebuild comes on top and is measured in
// internal/node). Reports p50 and p99 over b.N writes of the time until
// the last of the 10 nodes holds the revision.
//
//	go test -run '^$' -bench Propagation -benchtime 200x ./internal/cluster/hub
func BenchmarkPropagation(b *testing.B) {
	const nodes = 10
	ctx := context.Background()
	h := benchHub(b)
	links := make([]*link.Link, nodes)
	for i := range links {
		links[i] = benchLink(b, h.Enrol(b, fmt.Sprintf("site-%d", i)), nil)
		links[i].Start(ctx, link.Node{})
		defer links[i].Close()
	}
	for _, l := range links {
		for !l.Connected() {
			time.Sleep(time.Millisecond)
		}
	}
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := range b.N {
		start := time.Now()
		u, err := h.Repo.CreateUser(ctx, provision.User{Name: fmt.Sprintf("u%d", i)}, "password123")
		if err != nil {
			b.Fatal(err)
		}
		for _, l := range links {
			for l.Revision() < u.Revision {
				time.Sleep(100 * time.Microsecond)
			}
		}
		lat = append(lat, time.Since(start))
	}
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
}
