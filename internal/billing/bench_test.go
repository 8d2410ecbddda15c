package billing_test

import (
	"crypto/sha256"
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/entvoice/entvoice/internal/billing"
	"github.com/entvoice/entvoice/internal/billing/tariff"
	"github.com/entvoice/entvoice/internal/store"
	"github.com/entvoice/entvoice/internal/store/storetest"
)

// bigDeckCSV is a real-shaped deck of n distinct prefixes: country codes
// and nested area/mobile ranges of 2 to 9 digits, prices with 4 to 6
// decimals, a third of them with a connect fee.
func bigDeckCSV(n int) string {
	rng := rand.New(rand.NewPCG(3, 4))
	var b strings.Builder
	b.Grow(n * 60)
	b.WriteString("prefix,description,rate_per_min,connect_fee,initial_s,increment_s,effective_from\n")
	seen := make(map[string]struct{}, n)
	for len(seen) < n {
		p := strconv.Itoa(1 + rng.IntN(9))
		for l := 1 + rng.IntN(8); l > 0; l-- {
			p += strconv.Itoa(rng.IntN(10))
		}
		if _, dup := seen[p]; dup {
			continue
		}
		seen[p] = struct{}{}
		bl := blocks[rng.IntN(len(blocks))]
		conn := "0"
		if rng.IntN(3) == 0 {
			conn = "0.0" + strconv.Itoa(rng.IntN(10))
		}
		fmt.Fprintf(&b, "%s,Destination %s,0.%04d,%s,%d,%d,2026-01-01\n", p, p[:min(4, len(p))], rng.IntN(10000), conn, bl[0], bl[1])
	}
	return b.String()
}

// BenchmarkDeckLoad1M: parse, validate and index a 1,000,000-prefix
// deck in memory (what an import does before storing, and what a node
// would do with a pushed deck). Target: <= 10 s.
func BenchmarkDeckLoad1M(b *testing.B) {
	csv := bigDeckCSV(1_000_000)
	b.SetBytes(int64(len(csv)))
	b.ResetTimer()
	for b.Loop() {
		rates, err := tariff.ParseCSV(strings.NewReader(csv), tariff.ParseOptions{Currency: eur})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := tariff.NewIndex(rates, time.UTC); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(b.Elapsed().Seconds()/float64(b.N), "s/load")
}

// BenchmarkDeckImport1M: the whole import of a 1,000,000-prefix deck
// into the store (parse, validate, one transaction of batched INSERTs
// on SQLite or COPY on PostgreSQL), then the first rating of a call,
// which reads the version back and indexes it.
func BenchmarkDeckImport1M(b *testing.B) {
	csv := bigDeckCSV(1_000_000)
	for _, eng := range []string{"sqlite", "postgres"} {
		b.Run(eng, func(b *testing.B) {
			var opts store.Options
			if eng == "sqlite" {
				opts = store.Options{DataDir: b.TempDir()}
			} else {
				opts = storetest.PostgresOptions(b)
			}
			st := storetest.Open(b, opts)
			svc := billing.New(billing.Options{Store: st})
			var imp, load time.Duration
			for b.Loop() {
				t0 := time.Now()
				res, err := svc.ImportDeck(ctx, billing.ImportRequest{Tenant: "acme", CSV: strings.NewReader(csv)})
				if err != nil {
					b.Fatal(err)
				}
				imp += time.Since(t0)
				t0 = time.Now()
				if _, err := svc.Repo.LoadRates(ctx, res.Version.ID); err != nil {
					b.Fatal(err)
				}
				load += time.Since(t0)
			}
			b.ReportMetric(imp.Seconds()/float64(b.N), "s/import")
			b.ReportMetric(load.Seconds()/float64(b.N), "s/readback")
		})
	}
}

func randomRates(n int) []tariff.Rate {
	rng := rand.New(rand.NewPCG(5, 6))
	seen := make(map[string]struct{}, n)
	rates := make([]tariff.Rate, 0, n)
	for len(rates) < n {
		p := strconv.Itoa(1 + rng.IntN(9))
		for l := 1 + rng.IntN(8); l > 0; l-- {
			p += strconv.Itoa(rng.IntN(10))
		}
		if _, dup := seen[p]; dup {
			continue
		}
		seen[p] = struct{}{}
		rates = append(rates, tariff.Rate{Prefix: p, PerMinute: int64(rng.IntN(1e9)), Initial: 60, Increment: 60})
	}
	return rates
}

// BenchmarkLookup1M: longest-prefix match of a 12-15 digit number in a
// 1,000,000-prefix index. Target: <= 1 µs.
func BenchmarkLookup1M(b *testing.B) {
	ix, err := tariff.NewIndex(randomRates(1_000_000), time.UTC)
	if err != nil {
		b.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(7, 8))
	nums := make([]string, 4096)
	for i := range nums {
		s := strconv.Itoa(1 + rng.IntN(9))
		for len(s) < 12+rng.IntN(4) {
			s += strconv.Itoa(rng.IntN(10))
		}
		nums[i] = s
	}
	at := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	hits := 0
	i := 0
	runtime.GC() // the build's garbage is not the lookup's cost
	for b.Loop() {
		if _, ok := ix.Lookup(nums[i&4095], at); ok {
			hits++
		}
		i++
	}
	b.ReportMetric(float64(hits)/float64(b.N), "hit-ratio")
}

// ratingFixture is a store with a 100,000-prefix deck, an account and
// the deck loaded in the catalog.
func ratingFixture(b *testing.B) (*billing.Service, []billing.CDR) {
	st := storetest.Open(b, store.Options{DataDir: b.TempDir()})
	svc := billing.New(billing.Options{Store: st, CatalogTTL: time.Hour})
	csv := bigDeckCSV(100_000)
	if _, err := svc.ImportDeck(ctx, billing.ImportRequest{Tenant: "acme", CSV: strings.NewReader(csv)}); err != nil {
		b.Fatal(err)
	}
	if _, _, err := svc.PutAccount(ctx, billing.Account{Tenant: "acme", Name: "1001", Kind: billing.Prepaid}); err != nil {
		b.Fatal(err)
	}
	if _, _, err := svc.Post(ctx, "acme", "1001", billing.Credit{Kind: billing.KindTopUp, Key: "k", Amount: 1 << 40}); err != nil {
		b.Fatal(err)
	}
	var prefixes []string
	for line := range strings.SplitSeq(csv, "\n") {
		if p, _, ok := strings.Cut(line, ","); ok && p != "prefix" {
			prefixes = append(prefixes, p)
		}
	}
	rng := rand.New(rand.NewPCG(9, 10))
	cdrs := make([]billing.CDR, 8192)
	start := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	for i := range cdrs {
		num := prefixes[rng.IntN(len(prefixes))]
		for len(num) < 12 {
			num += strconv.Itoa(rng.IntN(10))
		}
		cdrs[i] = billing.CDR{ID: int64(i + 1), UniqueID: fmt.Sprintf("b%d", i), Tenant: "acme", Channel: "PJSIP/1001-00000001",
			DstChannel: "PJSIP/carrier-00000002", Dst: "+" + num, Start: start.Add(time.Duration(i) * time.Second), BillSec: int64(rng.IntN(600)), Disposition: "ANSWERED"}
	}
	if _, err := billing.RateCDR(ctx, svc.Catalog, &cdrs[0], start); err != nil { // loads the index
		b.Fatal(err)
	}
	return svc, cdrs
}

// BenchmarkRateCDR: rating throughput on one goroutine (account and
// plan resolution, E.164 normalisation, version choice, longest-prefix
// match, exact cost). Target: >= 100,000 CDR/s on one core.
func BenchmarkRateCDR(b *testing.B) {
	svc, cdrs := ratingFixture(b)
	now := time.Now()
	i := 0
	for b.Loop() {
		rt, err := billing.RateCDR(ctx, svc.Catalog, &cdrs[i&8191], now)
		if err != nil || rt.Status != billing.StatusRated {
			b.Fatal(rt, err)
		}
		i++
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "CDR/s")
}

// BenchmarkAuthorize: Authorize then Settle of a prepaid call, in
// process; reports the p50 and p99 latency of Authorize.
func BenchmarkAuthorize(b *testing.B) {
	svc, cdrs := ratingFixture(b)
	lat := make([]time.Duration, 0, 1<<20)
	i := 0
	for b.Loop() {
		c := &cdrs[i&8191]
		t0 := time.Now()
		r, err := svc.Authorizer.Authorize(ctx, billing.AuthRequest{Tenant: "acme", User: "1001", Trunk: "carrier", Destination: c.Dst, UniqueID: c.UniqueID})
		d := time.Since(t0)
		if err != nil {
			b.Fatal(err)
		}
		if len(lat) < cap(lat) {
			lat = append(lat, d)
		}
		if _, err := svc.Authorizer.Settle(r, 0); err != nil {
			b.Fatal(err)
		}
		i++
	}
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Nanoseconds())/1e3, "p50-µs")
	b.ReportMetric(float64(lat[len(lat)*99/100].Nanoseconds())/1e3, "p99-µs")
}

// BenchmarkRaterStore: the Rater end to end on SQLite: unrated CDRs read
// from the cdr table, rated, rating rows and debits committed in
// batches of 500.
func BenchmarkRaterStore(b *testing.B) {
	n := 20_000
	for b.Loop() {
		b.StopTimer()
		st := storetest.Open(b, store.Options{DataDir: b.TempDir()})
		f := &fixture{st: st, svc: billing.New(billing.Options{Store: st})}
		if _, err := f.svc.ImportDeck(ctx, billing.ImportRequest{Tenant: "acme", CSV: strings.NewReader(deckCSV)}); err != nil {
			b.Fatal(err)
		}
		if _, _, err := f.svc.PutAccount(ctx, billing.Account{Tenant: "acme", Name: "1001", Kind: billing.Postpaid, CreditLimit: 1 << 50}); err != nil {
			b.Fatal(err)
		}
		insertCDRs(b, st, n)
		b.StartTimer()
		for {
			k, err := f.svc.Rater.RunOnce(ctx)
			if err != nil {
				b.Fatal(err)
			}
			if k == 0 {
				break
			}
		}
	}
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "CDR/s")
}

// BenchmarkCalibration is a fixed CPU yardstick (SHA-256 over 64 KiB)
// printed beside the results by bench/billing.sh, so that figures taken
// on different machines can be compared.
func BenchmarkCalibration(b *testing.B) {
	buf := make([]byte, 64<<10)
	b.SetBytes(int64(len(buf)))
	for b.Loop() {
		sha256.Sum256(buf)
	}
}
