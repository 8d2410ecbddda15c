package hub_test

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/entvoice/entvoice/internal/billing"
	"github.com/entvoice/entvoice/internal/cdrstore"
	"github.com/entvoice/entvoice/internal/cluster/clustertest"
	"github.com/entvoice/entvoice/internal/cluster/hub"
	"github.com/entvoice/entvoice/internal/cluster/link"
	"github.com/entvoice/entvoice/internal/control"
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

// BenchmarkChargeOverLink measures a node's authorization of a trunk leg
// by central's billing, through the link (TLS, gRPC, JSON, the hub, the
// Authorizer), settled at once: p50 and p99 of Authorize as the node's
// call path sees it.
//
//	go test -run '^$' -bench ChargeOverLink -benchtime 2000x ./internal/cluster/hub
func BenchmarkChargeOverLink(b *testing.B) {
	ctx := context.Background()
	c := clustertest.NewCentral(b, storetest.Open(b, storetest.PostgresOptionsOrSQLite(b)))
	svc := billing.New(billing.Options{Store: c.Store})
	if _, err := svc.ImportDeck(ctx, billing.ImportRequest{Tenant: "default", CSV: strings.NewReader(
		"prefix,description,rate_per_min,connect_fee,initial_s,increment_s,effective_from\n33,France,0.60,0,6,6,2026-01-01\n")}); err != nil {
		b.Fatal(err)
	}
	if _, _, err := svc.PutAccount(ctx, billing.Account{Tenant: "default", Name: "1001", Kind: billing.Postpaid, CreditLimit: 1 << 40}); err != nil {
		b.Fatal(err)
	}
	h := c.Start(b, hub.Options{Heartbeat: 5 * time.Second, Charging: billing.NewCharging(svc), Logger: slog.New(slog.DiscardHandler)})
	l := benchLink(b, h.Enrol(b, "site-a"), nil)
	l.Start(ctx, link.Node{})
	defer l.Close()
	for !l.Connected() {
		time.Sleep(time.Millisecond)
	}
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := range b.N {
		start := time.Now()
		g, err := l.Authorize(ctx, control.ChargeRequest{Tenant: "default", User: "1001", Trunk: "carrier", Number: "33123456789",
			UniqueID: fmt.Sprintf("bench-%d", i)})
		lat = append(lat, time.Since(start))
		if err != nil {
			b.Fatal(err)
		}
		if _, err := g.Settle(ctx, 0); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
}
