package cluster

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/entvoice/entvoice/internal/cdrstore"
	"github.com/entvoice/entvoice/internal/provision"
	"github.com/entvoice/entvoice/internal/store"
	"github.com/entvoice/entvoice/internal/store/storetest"
)

// BenchmarkCDRDrain measures how fast a node's CDR backlog (b.N records
// written during an outage) drains to central through the link: TLS,
// gRPC, JSON, the central upsert. Central's store is PostgreSQL when
// ENTVOICE_TEST_PG_DSN is set. Reported as CDR/s.
//
//	go test -run '^$' -bench CDRDrain -benchtime 20000x ./internal/cluster
func BenchmarkCDRDrain(b *testing.B) {
	ctx := context.Background()
	cst := storetest.Open(b, storetest.PostgresOptionsOrSQLite(b))
	repo, err := provision.New(ctx, cst, provision.Options{})
	if err != nil {
		b.Fatal(err)
	}
	ca, err := LoadOrCreateCA("", "", filepath.Join(b.TempDir(), "ca"))
	if err != nil {
		b.Fatal(err)
	}
	quiet := slog.New(slog.DiscardHandler)
	h, err := StartHub(ctx, HubOptions{Store: cst, Source: repo, CA: ca, Listen: "127.0.0.1:0", Logger: quiet})
	if err != nil {
		b.Fatal(err)
	}
	defer h.Close()
	tok, err := h.Registry().CreateToken(ctx, ca, "site-a", []netipPrefix{mustPrefix("127.0.0.1/32")}, time.Hour)
	if err != nil {
		b.Fatal(err)
	}
	dir := b.TempDir()
	if _, err := Join(ctx, dir, "https://"+h.Addr().String(), tok.String(), ""); err != nil {
		b.Fatal(err)
	}
	nst := storetest.Open(b, store.Options{DataDir: dir})
	for i := 0; i < b.N; i += 5000 {
		if err := cdrstore.Insert(ctx, nst, nodeCDRs(min(5000, b.N-i), i)); err != nil {
			b.Fatal(err)
		}
	}
	l, err := NewLink(LinkOptions{DataDir: dir, Store: nst, Logger: quiet})
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	start := time.Now()
	l.Start(ctx)
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
//	go test -run '^$' -bench Propagation -benchtime 200x ./internal/cluster
func BenchmarkPropagation(b *testing.B) {
	const nodes = 10
	ctx := context.Background()
	cst := storetest.Open(b, storetest.PostgresOptionsOrSQLite(b))
	repo, err := provision.New(ctx, cst, provision.Options{})
	if err != nil {
		b.Fatal(err)
	}
	ca, err := LoadOrCreateCA("", "", filepath.Join(b.TempDir(), "ca"))
	if err != nil {
		b.Fatal(err)
	}
	quiet := slog.New(slog.DiscardHandler)
	h, err := StartHub(ctx, HubOptions{Store: cst, Source: repo, CA: ca, Listen: "127.0.0.1:0", Logger: quiet})
	if err != nil {
		b.Fatal(err)
	}
	defer h.Close()
	links := make([]*Link, nodes)
	for i := range links {
		tok, err := h.Registry().CreateToken(ctx, ca, fmt.Sprintf("site-%d", i), []netipPrefix{mustPrefix("127.0.0.1/32")}, time.Hour)
		if err != nil {
			b.Fatal(err)
		}
		dir := b.TempDir()
		if _, err := Join(ctx, dir, "https://"+h.Addr().String(), tok.String(), ""); err != nil {
			b.Fatal(err)
		}
		if links[i], err = NewLink(LinkOptions{DataDir: dir, Logger: quiet}); err != nil {
			b.Fatal(err)
		}
		links[i].Start(ctx)
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
		u, err := repo.CreateUser(ctx, provision.User{Name: fmt.Sprintf("u%d", i)}, "password123")
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
