// Package apibench measures the provisioning API: a bulk import of 10,000
// users and 50,000 extension rows, and the latency of user creation and
// CDR page queries over 1,000,000 CDRs, on SQLite and (with
// ENTVOICE_TEST_PG_DSN) PostgreSQL, over real HTTP on loopback.
//
//	go test ./bench/api/ -run '^$' -bench . -benchtime 1x -timeout 60m
//
// Figures are reported as custom metrics (seconds, p50/p99 ms); see
// bench/api/README.md.
package apibench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/entvoice/entvoice/internal/api"
	"github.com/entvoice/entvoice/internal/cdr"
	"github.com/entvoice/entvoice/internal/cdrstore"
	"github.com/entvoice/entvoice/internal/provision"
	"github.com/entvoice/entvoice/internal/store"
	"github.com/entvoice/entvoice/internal/store/storetest"
)

var apps = map[string]bool{"answer": true, "dial": true, "playback": true, "hangup": true, "voicemail": true, "noop": true}

type rig struct {
	st    *store.Store
	repo  *provision.Repo
	srv   *httptest.Server
	cl    *http.Client
	admin string
}

func engines(b *testing.B, fn func(b *testing.B, opts store.Options)) {
	b.Run("sqlite", func(b *testing.B) {
		fn(b, store.Options{DataDir: b.TempDir()})
	})
	b.Run("postgres", func(b *testing.B) {
		opts := storetest.PostgresOptions(b)
		opts.Logger = nil
		fn(b, opts)
	})
}

func newRig(b *testing.B, opts store.Options) *rig {
	b.Helper()
	st := storetest.Open(b, opts)
	repo, err := provision.New(context.Background(), st, provision.Options{KnownApp: func(a string) bool { return apps[strings.ToLower(a)] }})
	if err != nil {
		b.Fatal(err)
	}
	h, err := api.New(api.Options{Store: st, Provision: repo, MaxImportBytes: 256 << 20})
	if err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(h)
	cl := &http.Client{Timeout: 10 * time.Minute}
	b.Cleanup(func() { cl.CloseIdleConnections(); srv.Close() })
	const admin = "bench-admin-token-0123456789"
	if _, err := api.Bootstrap(context.Background(), repo, func(string) string { return admin }, nil, nil); err != nil {
		b.Fatal(err)
	}
	return &rig{st: st, repo: repo, srv: srv, cl: cl, admin: admin}
}

func (r *rig) do(b *testing.B, method, path, ctype string, body []byte, want int) []byte {
	b.Helper()
	req, err := http.NewRequest(method, r.srv.URL+path, bytes.NewReader(body))
	if err != nil {
		b.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+r.admin)
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	res, err := r.cl.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = res.Body.Close() }()
	out, _ := io.ReadAll(res.Body)
	if res.StatusCode != want {
		b.Fatalf("%s %s: %d: %.500s", method, path, res.StatusCode, out)
	}
	return out
}

// BenchmarkBulkImport imports 10,000 users (CSV) and 50,000 extension rows
// (extensions.conf: 10,000 extensions of 5 priorities) through the API, in
// one transaction each; the metric is the wall time of both requests.
func BenchmarkBulkImport(b *testing.B) {
	var users, conf bytes.Buffer
	users.WriteString("name,password,callerid,codecs\n")
	for i := range 10000 {
		fmt.Fprintf(&users, "%d,secret-%06d,\"\"\"User %d\"\" <%d>\",pcmu pcma\n", 100000+i, i, i, 100000+i)
	}
	conf.WriteString("[internal]\n")
	for i := range 10000 {
		n := 100000 + i
		fmt.Fprintf(&conf, "exten => %d,1,Answer()\n same => n,Playback(hello)\n same => n,Dial(PJSIP/%d,20)\n same => n,VoiceMail(%d@default)\n same => n,Hangup()\n", n, n, n)
	}
	engines(b, func(b *testing.B, opts store.Options) {
		var total time.Duration
		for i := 0; i < b.N; i++ {
			b.StopTimer()
			r := newRig(b, opts)
			tenant := fmt.Sprintf("bulk%d", i)
			r.do(b, "POST", "/api/v1/tenants", "application/json", []byte(`{"id":"`+tenant+`","domain":"`+tenant+`.test"}`), 201)
			b.StartTimer()
			t0 := time.Now()
			out := r.do(b, "POST", "/api/v1/tenants/"+tenant+"/users/import", "text/csv", users.Bytes(), 200)
			t1 := time.Now()
			out2 := r.do(b, "POST", "/api/v1/tenants/"+tenant+"/extensions/import", "text/plain", conf.Bytes(), 200)
			t2 := time.Now()
			b.StopTimer()
			total += t2.Sub(t0)
			var res provision.ImportResult
			_ = json.Unmarshal(out, &res)
			var res2 provision.ImportResult
			_ = json.Unmarshal(out2, &res2)
			if res.Users != 10000 || res2.Extensions != 50000 {
				b.Fatalf("imported %+v %+v", res, res2)
			}
			b.Logf("users %.2fs, extensions %.2fs", t1.Sub(t0).Seconds(), t2.Sub(t1).Seconds())
			b.StartTimer()
		}
		b.ReportMetric(total.Seconds()/float64(b.N), "s/import")
	})
}

func percentiles(ds []time.Duration) (p50, p99 float64) {
	slices.Sort(ds)
	at := func(q float64) float64 {
		return float64(ds[min(len(ds)-1, int(q*float64(len(ds))))].Microseconds()) / 1000
	}
	return at(0.50), at(0.99)
}

// BenchmarkUserCreate times POST /tenants/{t}/users one at a time (each a
// transaction with a revision bump and a change-feed row).
func BenchmarkUserCreate(b *testing.B) {
	engines(b, func(b *testing.B, opts store.Options) {
		r := newRig(b, opts)
		r.do(b, "POST", "/api/v1/tenants", "application/json", []byte(`{"id":"lat","domain":"lat.test"}`), 201)
		n := max(b.N, 2000)
		ds := make([]time.Duration, 0, n)
		b.ResetTimer()
		for i := range n {
			body := fmt.Sprintf(`{"name":"u%d","password":"secret-%06d","callerid":"\"U\" <%d>"}`, i, i, i)
			t0 := time.Now()
			r.do(b, "POST", "/api/v1/tenants/lat/users", "application/json", []byte(body), 201)
			ds = append(ds, time.Since(t0))
		}
		b.StopTimer()
		p50, p99 := percentiles(ds)
		b.ReportMetric(p50, "p50-ms")
		b.ReportMetric(p99, "p99-ms")
		b.Logf("%d creates: p50 %.2f ms, p99 %.2f ms", n, p50, p99)
	})
}

// seedCDRs inserts n CDRs over 10 tenants, 30 days, 1,000 sources and
// destinations, in start order (as a node delivers them).
func seedCDRs(b *testing.B, st *store.Store, n int) time.Time {
	b.Helper()
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	step := 30 * 24 * time.Hour / time.Duration(n)
	disp := []string{cdr.DispositionAnswered, cdr.DispositionAnswered, cdr.DispositionAnswered, cdr.DispositionNoAnswer, cdr.DispositionBusy, cdr.DispositionFailed}
	batch := make([]cdr.Record, 0, 4000)
	t0 := time.Now()
	for i := range n {
		start := base.Add(time.Duration(i) * step)
		k := i / 10 // the i-th call of its tenant
		batch = append(batch, cdr.Record{
			Tenant: fmt.Sprintf("t%d", i%10), Src: fmt.Sprintf("1%03d", (k*7)%1000), Dst: fmt.Sprintf("2%03d", (k*13)%1000),
			DContext: "internal", CLID: `"Caller" <1000>`, Channel: fmt.Sprintf("PJSIP/1%03d-%08x", (k*7)%1000, i),
			LastApp: "Dial", LastData: "PJSIP/2000,20", Start: start, Answer: start.Add(3 * time.Second), End: start.Add(63 * time.Second),
			Duration: 63, BillSec: 60, Disposition: disp[k%len(disp)], UniqueID: fmt.Sprintf("bench-%d", i), LinkedID: fmt.Sprintf("bench-%d", i),
		})
		if len(batch) == cap(batch) || i == n-1 {
			if err := cdrstore.Insert(context.Background(), st, batch); err != nil {
				b.Fatal(err)
			}
			batch = batch[:0]
		}
	}
	if st.Dialect() == store.Postgres {
		if _, err := st.DB().Exec("ANALYZE cdr"); err != nil {
			b.Fatal(err)
		}
	} else if _, err := st.DB().Exec("ANALYZE"); err != nil {
		b.Fatal(err)
	}
	b.Logf("seeded %d CDRs in %.1fs", n, time.Since(t0).Seconds())
	return base
}

// BenchmarkCDRPage times GET /cdrs pages (100 rows, JSON) over 1,000,000
// CDRs with the filters a tenant uses: its first page, a page deep in its
// history (cursor), one destination, one day, one disposition, one source
// in one week; and an admin's unfiltered deep page. Set CDR_ROWS to change
// the table size.
func BenchmarkCDRPage(b *testing.B) {
	rows := 1_000_000
	if v := os.Getenv("CDR_ROWS"); v != "" {
		_, _ = fmt.Sscan(v, &rows)
	}
	engines(b, func(b *testing.B, opts store.Options) {
		r := newRig(b, opts)
		for i := range 10 {
			r.do(b, "POST", "/api/v1/tenants", "application/json", []byte(fmt.Sprintf(`{"id":"t%d"}`, i)), 201)
		}
		base := seedCDRs(b, r.st, rows)
		days := func(d, n int) string {
			return "&from=" + base.Add(time.Duration(d)*24*time.Hour).Format(time.RFC3339) + "&to=" + base.Add(time.Duration(d+n)*24*time.Hour).Format(time.RFC3339)
		}
		queries := map[string]string{
			"first":       "?tenant=t3",
			"deep":        fmt.Sprintf("?tenant=t3&cursor=%d", rows*9/10),
			"dst":         "?tenant=t3&dst=2500",
			"day":         "?tenant=t3" + days(20, 1),
			"disposition": "?tenant=t3&disposition=BUSY",
			"src_week":    "?tenant=t3&src=1021" + days(21, 7),
			"admin_deep":  fmt.Sprintf("?cursor=%d", rows/2),
		}
		names := make([]string, 0, len(queries))
		for k := range queries {
			names = append(names, k)
		}
		slices.Sort(names)
		b.ResetTimer()
		for _, name := range names {
			q := queries[name]
			b.Run(name, func(b *testing.B) {
				n := max(b.N, 300)
				ds := make([]time.Duration, 0, n)
				var got struct {
					Items []json.RawMessage `json:"items"`
				}
				for range n {
					t0 := time.Now()
					out := r.do(b, "GET", "/api/v1/cdrs"+q+"&limit=100", "", nil, 200)
					ds = append(ds, time.Since(t0))
					got.Items = got.Items[:0]
					_ = json.Unmarshal(out, &got)
				}
				if len(got.Items) == 0 {
					b.Fatalf("%s: empty page", q)
				}
				p50, p99 := percentiles(ds)
				b.ReportMetric(p50, "p50-ms")
				b.ReportMetric(p99, "p99-ms")
				b.Logf("%s (%d rows): p50 %.2f ms, p99 %.2f ms", q, len(got.Items), p50, p99)
			})
		}
	})
}
