package cdrstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/entvoice/entvoice/internal/cdr"
	"github.com/entvoice/entvoice/internal/cdr/cdrtest"
	"github.com/entvoice/entvoice/internal/store"
	"github.com/entvoice/entvoice/internal/store/storetest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var t0 = time.Date(2024, 3, 1, 12, 0, 0, 123456000, time.UTC)

func testRecord(i int) cdr.Record {
	start := t0.Add(time.Duration(i) * time.Minute)
	r := cdr.Record{
		AccountCode: "acct", Src: fmt.Sprintf("1%03d", i%10), Dst: fmt.Sprintf("2%03d", i%7),
		DContext: "from-internal", CLID: fmt.Sprintf(`"Caller %d" <1%03d>`, i, i%10),
		Channel: fmt.Sprintf("PJSIP/1%03d-%08x", i%10, i), LastApp: "Dial", LastData: "PJSIP/2000,30",
		Start: start, End: start.Add(90*time.Second + 250*time.Millisecond),
		Disposition: "NO ANSWER", AMAFlags: "DOCUMENTATION",
		UniqueID: fmt.Sprintf("1709300000.%d", i), LinkedID: fmt.Sprintf("1709300000.%d", i-i%2),
		Sequence: int64(i), Tenant: []string{"t1", "t2", ""}[i%3], Node: "node-a",
	}
	if i%4 != 0 {
		r.Answer = start.Add(5 * time.Second)
		r.Disposition = "ANSWERED"
		r.DstChannel = fmt.Sprintf("PJSIP/2%03d-%08x", i%7, i+1)
	}
	r.Duration, r.BillSec = cdr.Durations(r.Start, r.Answer, r.End, false)
	return r
}

func newWriter(t *testing.T, st *store.Store, opts WriterOptions) *Writer {
	t.Helper()
	w := NewWriter(st, storetest.Logger(t), opts)
	t.Cleanup(func() { _ = w.Close(context.Background()) })
	return w
}

func countRows(t *testing.T, st *store.Store) int {
	t.Helper()
	var n int
	if err := st.DB().QueryRow("SELECT COUNT(*) FROM cdr").Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func listAll(t *testing.T, st *store.Store, f Filter) []cdr.Row {
	t.Helper()
	var out []cdr.Row
	f.Limit = MaxLimit
	for {
		rows, next, err := List(context.Background(), st, f)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, rows...)
		if next == 0 {
			return out
		}
		f.After = next
	}
}

func TestWriterConcurrent(t *testing.T) {
	storetest.Run(t, func(t *testing.T, opts store.Options) {
		st := storetest.Open(t, opts)
		w := newWriter(t, st, WriterOptions{QueueSize: 64})
		const n = 200
		var wg sync.WaitGroup
		errs := make(chan error, n)
		for i := range n {
			wg.Go(func() { errs <- w.Write(context.Background(), testRecord(i)) })
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		// Write returned, so every record is committed before Close.
		if got := countRows(t, st); got != n {
			t.Fatalf("%d rows, want %d", got, n)
		}
		s := w.Stats()
		if s.Records != n || s.Batches < 1 || s.Batches > n || s.Failed != 0 {
			t.Fatalf("stats %+v", s)
		}
		t.Logf("%d records in %d transactions", s.Records, s.Batches)
		rows := listAll(t, st, Filter{})
		seen := map[string]bool{}
		for _, r := range rows {
			seen[r.UniqueID] = true
		}
		for i := range n {
			if !seen[testRecord(i).UniqueID] {
				t.Fatalf("record %d missing", i)
			}
		}
		if err := w.Close(context.Background()); err != nil {
			t.Fatal(err)
		}
	})
}

func TestWriterRoundTrip(t *testing.T) {
	storetest.Run(t, func(t *testing.T, opts store.Options) {
		st := storetest.Open(t, opts)
		w := newWriter(t, st, WriterOptions{})
		recs := append(cdrtest.Golden(), testRecord(1), testRecord(4))
		for _, r := range recs {
			if err := w.Write(context.Background(), r); err != nil {
				t.Fatal(err)
			}
		}
		rows := listAll(t, st, Filter{})
		if len(rows) != len(recs) {
			t.Fatalf("%d rows, want %d", len(rows), len(recs))
		}
		for i, row := range rows {
			want := recs[i]
			want.Normalize()
			if row.Record != want {
				t.Errorf("row %d:\n got %+v\nwant %+v", i, row.Record, want)
			}
			if i > 0 && row.ID <= rows[i-1].ID {
				t.Errorf("ids not increasing: %d after %d", row.ID, rows[i-1].ID)
			}
		}
	})
}

func TestWriterUpsertIdempotent(t *testing.T) {
	storetest.Run(t, func(t *testing.T, opts store.Options) {
		ctx := context.Background()
		st := storetest.Open(t, opts)
		w := newWriter(t, st, WriterOptions{})
		r := testRecord(1)
		for range 3 {
			if err := w.Write(ctx, r); err != nil {
				t.Fatal(err)
			}
		}
		first := listAll(t, st, Filter{})
		r.UserField = "redelivered"
		if err := w.Write(ctx, r); err != nil {
			t.Fatal(err)
		}
		rows := listAll(t, st, Filter{})
		if len(rows) != 1 || len(first) != 1 {
			t.Fatalf("%d rows after redelivery, want 1", len(rows))
		}
		if rows[0].ID != first[0].ID || rows[0].UserField != "redelivered" {
			t.Fatalf("row %+v, first id %d", rows[0], first[0].ID)
		}
		// Duplicates inside one transaction collapse to the last.
		a, b := testRecord(2), testRecord(2)
		b.UserField = "last"
		a.Normalize()
		b.Normalize()
		if err := upsertTx(ctx, st, []*cdr.Record{&a, &b}); err != nil {
			t.Fatal(err)
		}
		rows = listAll(t, st, Filter{Src: a.Src, Dst: a.Dst})
		if len(rows) != 1 || rows[0].UserField != "last" {
			t.Fatalf("in-batch duplicate: %+v", rows)
		}
	})
}

func TestWriterCloseFlushesAndRejects(t *testing.T) {
	storetest.Run(t, func(t *testing.T, opts store.Options) {
		st := storetest.Open(t, opts)
		w := NewWriter(st, storetest.Logger(t), WriterOptions{MaxBatch: 8})
		const n = 300
		var wg sync.WaitGroup
		results := make(chan error, n)
		for i := range n {
			wg.Go(func() { results <- w.Write(context.Background(), testRecord(i)) })
		}
		if err := w.Close(context.Background()); err != nil {
			t.Fatal(err)
		}
		wg.Wait()
		close(results)
		ok := 0
		for err := range results {
			switch {
			case err == nil:
				ok++
			case errors.Is(err, ErrClosed):
			default:
				t.Fatalf("unexpected error %v", err)
			}
		}
		// Every Write that succeeded is stored, and nothing else: no record
		// was silently dropped or half-accepted.
		if got := countRows(t, st); got != ok {
			t.Fatalf("%d rows, %d successful writes", got, ok)
		}
		if err := w.Write(context.Background(), testRecord(9999)); !errors.Is(err, ErrClosed) {
			t.Fatalf("Write after Close: %v", err)
		}
		if err := w.Close(context.Background()); err != nil {
			t.Fatalf("second Close: %v", err)
		}
	})
}

func TestWriterRejectsInvalid(t *testing.T) {
	st := storetest.Open(t, store.Options{DataDir: t.TempDir()})
	w := newWriter(t, st, WriterOptions{})
	if err := w.Write(context.Background(), cdr.Record{Start: t0}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("no uniqueid: %v", err)
	}
	if err := w.Write(context.Background(), cdr.Record{UniqueID: "x"}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("no start: %v", err)
	}
}

func TestSpoolReplayAfterDBFailure(t *testing.T) {
	storetest.Run(t, func(t *testing.T, opts store.Options) {
		ctx := context.Background()
		st := storetest.Open(t, opts)
		w := newWriter(t, st, WriterOptions{})
		if err := w.Write(ctx, testRecord(1)); err != nil {
			t.Fatal(err)
		}
		// The database goes away under the writer.
		if err := st.DB().Close(); err != nil {
			t.Fatal(err)
		}
		lost := []cdr.Record{testRecord(2), cdrtest.Golden()[0]}
		for _, r := range lost {
			err := w.Write(ctx, r)
			if !errors.Is(err, ErrSpooled) {
				t.Fatalf("Write with DB closed: %v, want ErrSpooled", err)
			}
		}
		if err := w.Close(ctx); err != nil {
			t.Fatal(err)
		}
		data, err := os.ReadFile(w.SpoolPath())
		if err != nil {
			t.Fatal(err)
		}
		if n := bytes.Count(data, []byte("\n")); n != 2 {
			t.Fatalf("spool has %d lines, want 2:\n%s", n, data)
		}
		// Simulate a torn append after the good lines.
		f, err := os.OpenFile(w.SpoolPath(), os.O_WRONLY|os.O_APPEND, 0)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.WriteString(`{"uniqueid":"torn","sta`); err != nil {
			t.Fatal(err)
		}
		_ = f.Close()

		// Restart: a new store and writer replay the spool.
		st2 := storetest.Open(t, opts)
		w2 := newWriter(t, st2, WriterOptions{})
		n, err := w2.ReplaySpool(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if n != 2 {
			t.Fatalf("replayed %d, want 2", n)
		}
		rows := listAll(t, st2, Filter{})
		if len(rows) != 3 {
			t.Fatalf("%d rows after replay, want 3", len(rows))
		}
		for i, want := range lost {
			want.Normalize()
			if rows[i+1].Record != want {
				t.Errorf("replayed row %d:\n got %+v\nwant %+v", i, rows[i+1].Record, want)
			}
		}
		if fi, err := os.Stat(w2.SpoolPath()); err != nil || fi.Size() != 0 {
			t.Fatalf("spool not truncated: %v %v", fi, err)
		}
		bad, err := os.ReadFile(w2.SpoolPath() + ".bad")
		if err != nil || !strings.Contains(string(bad), `"torn"`) {
			t.Fatalf("torn line not set aside: %q %v", bad, err)
		}
		// Replaying again is a no-op.
		if n, err := w2.ReplaySpool(ctx); err != nil || n != 0 {
			t.Fatalf("second replay: %d %v", n, err)
		}
		// A spool append after a torn line starts on a fresh line.
		if err := os.WriteFile(w2.SpoolPath(), []byte(`{"torn`), 0o640); err != nil {
			t.Fatal(err)
		}
		r5 := testRecord(5)
		r5.Normalize()
		if err := w2.spool([]*cdr.Record{&r5}); err != nil {
			t.Fatal(err)
		}
		if n, err := w2.ReplaySpool(ctx); err != nil || n != 1 {
			t.Fatalf("replay after torn line: %d %v", n, err)
		}
	})
}

func TestListFiltersAndCursor(t *testing.T) {
	storetest.Run(t, func(t *testing.T, opts store.Options) {
		ctx := context.Background()
		st := storetest.Open(t, opts)
		w := newWriter(t, st, WriterOptions{})
		const n = 25
		var all []cdr.Record
		for j := range n {
			// Written out of start order, so (start, id) order differs from id order.
			r := testRecord((j * 7) % n)
			r.Normalize()
			all = append(all, r)
			if err := w.Write(ctx, r); err != nil {
				t.Fatal(err)
			}
		}
		match := func(f Filter) []cdr.Record {
			var out []cdr.Record
			for _, r := range all {
				if (f.Tenant == "" || r.Tenant == f.Tenant) && (f.Src == "" || r.Src == f.Src) &&
					(f.Dst == "" || r.Dst == f.Dst) && (f.Disposition == "" || r.Disposition == f.Disposition) &&
					(f.From.IsZero() || !r.Start.Before(f.From)) && (f.To.IsZero() || r.Start.Before(f.To)) {
					out = append(out, r)
				}
			}
			return out
		}
		filters := []Filter{
			{},
			{Tenant: "t1"},
			{Tenant: "t2", Disposition: "ANSWERED"},
			{Src: "1003"},
			{Dst: "2001", Src: "1008"},
			{Disposition: "NO ANSWER"},
			{From: t0.Add(5 * time.Minute), To: t0.Add(12 * time.Minute)},
			{From: t0.Add(5*time.Minute + time.Microsecond)},
			{Tenant: "nobody"},
		}
		for _, f := range filters {
			want := match(f)
			if len(want) == 0 && f.Tenant != "nobody" {
				t.Fatalf("filter %+v matches nothing; fix the test data", f)
			}
			for _, limit := range []int{1, 4, 100} {
				for _, byStart := range []bool{false, true} {
					f.Limit = limit
					f.ByStart = byStart
					want := match(f)
					if byStart {
						// (start, id) order: the records' starts are not in id order.
						slices.SortStableFunc(want, func(a, b cdr.Record) int { return a.Start.Compare(b.Start) })
					}
					var got []cdr.Record
					after := int64(0)
					var afterStart time.Time
					pages := 0
					for {
						f.After, f.AfterStart = after, afterStart
						rows, next, err := List(ctx, st, f)
						if err != nil {
							t.Fatal(err)
						}
						if len(rows) > limit {
							t.Fatalf("page of %d rows, limit %d", len(rows), limit)
						}
						for _, r := range rows {
							got = append(got, r.Record)
						}
						pages++
						if next == 0 {
							break
						}
						if next != rows[len(rows)-1].ID {
							t.Fatalf("next %d is not the last id %d", next, rows[len(rows)-1].ID)
						}
						after, afterStart = next, rows[len(rows)-1].Start
					}
					if len(got) != len(want) {
						t.Fatalf("filter %+v: %d rows, want %d", f, len(got), len(want))
					}
					for i := range got {
						if got[i] != want[i] {
							t.Fatalf("filter %+v row %d:\n got %+v\nwant %+v", f, i, got[i], want[i])
						}
					}
					if wantPages := max(1, (len(want)+limit-1)/limit); pages != wantPages {
						t.Fatalf("filter %+v limit %d: %d pages, want %d", f, limit, pages, wantPages)
					}
				}
			}
		}
	})
}

func TestExportCSV(t *testing.T) {
	storetest.Run(t, func(t *testing.T, opts store.Options) {
		ctx := context.Background()
		st := storetest.Open(t, opts)
		w := newWriter(t, st, WriterOptions{})
		recs := cdrtest.Golden()
		for i := range exportPage + 50 { // more than one Export page
			recs = append(recs, testRecord(i+10))
		}
		var wg sync.WaitGroup
		for i := range recs {
			// Written one by one so ids follow slice order.
			if i < 3 {
				if err := w.Write(ctx, recs[i]); err != nil {
					t.Fatal(err)
				}
				continue
			}
			wg.Go(func() {
				if err := w.Write(ctx, recs[i]); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		var got bytes.Buffer
		if err := Export(ctx, st, &got, Filter{}, cdr.CSVOptions{UseGMT: true}); err != nil {
			t.Fatal(err)
		}
		rows := listAll(t, st, Filter{})
		var want bytes.Buffer
		byID := make([]cdr.Record, len(rows))
		for i, r := range rows {
			byID[i] = r.Record
		}
		if err := cdr.WriteMasterCSV(&want, byID, cdr.CSVOptions{UseGMT: true}); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got.Bytes(), want.Bytes()) {
			t.Fatalf("export differs from rows in id order")
		}
		if n := bytes.Count(got.Bytes(), []byte("\n")); n != len(recs) {
			t.Fatalf("export has %d lines, want %d", n, len(recs))
		}
		// The first three were written in order: their golden bytes lead.
		var golden bytes.Buffer
		_ = cdr.WriteMasterCSV(&golden, cdrtest.Golden(), cdr.CSVOptions{UseGMT: true})
		if !bytes.HasPrefix(got.Bytes(), golden.Bytes()) {
			t.Fatalf("export does not start with the golden lines:\n%s", got.Bytes()[:golden.Len()])
		}
		var tenant bytes.Buffer
		if err := Export(ctx, st, &tenant, Filter{Tenant: "t2"}, cdr.CSVOptions{UseGMT: true}); err != nil {
			t.Fatal(err)
		}
		if n := bytes.Count(tenant.Bytes(), []byte("\n")); n != len(listAll(t, st, Filter{Tenant: "t2"})) || n == 0 {
			t.Fatalf("tenant export has %d lines", n)
		}
	})
}

// TestCloseFlushesQueued stalls the writer goroutine so records pile up in
// the queue, then closes the writer: every queued record must be committed
// and every Write must report success.
func TestCloseFlushesQueued(t *testing.T) {
	storetest.Run(t, func(t *testing.T, opts store.Options) {
		ctx := context.Background()
		st := storetest.Open(t, opts)
		took := make(chan int, 1)
		release := make(chan struct{})
		var once sync.Once
		w := newWriterHook(st, storetest.Logger(t), WriterOptions{}, func(n int) {
			once.Do(func() {
				took <- n
				<-release
			})
		})
		var wg sync.WaitGroup
		errs := make(chan error, 11)
		wg.Go(func() { errs <- w.Write(ctx, testRecord(0)) })
		if n := <-took; n != 1 {
			t.Fatalf("first batch %d", n)
		}
		for i := 1; i <= 10; i++ {
			wg.Go(func() { errs <- w.Write(ctx, testRecord(i)) })
		}
		waitFor(t, func() bool { return len(w.queue) == 10 })
		closed := make(chan error, 1)
		go func() { closed <- w.Close(ctx) }()
		waitFor(t, func() bool {
			w.mu.RLock()
			defer w.mu.RUnlock()
			return w.closed
		})
		if err := w.Write(ctx, testRecord(99)); !errors.Is(err, ErrClosed) {
			t.Fatalf("Write during Close: %v", err)
		}
		close(release)
		if err := <-closed; err != nil {
			t.Fatal(err)
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		if got := countRows(t, st); got != 11 {
			t.Fatalf("%d rows, want 11", got)
		}
	})
}

// waitFor polls cond (a synchronisation wait, not a timing assertion).
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached")
		}
		time.Sleep(time.Millisecond)
	}
}

// TestWriterOnCommit: the hook gets every committed row once, with the id
// the store gave it, ascending within a transaction; a record rewritten
// (same uniqueid) keeps its id.
func TestWriterOnCommit(t *testing.T) {
	storetest.Run(t, func(t *testing.T, opts store.Options) {
		st := storetest.Open(t, opts)
		var mu sync.Mutex
		got := map[string]int64{}
		calls := 0
		w := newWriter(t, st, WriterOptions{QueueSize: 64, OnCommit: func(rows []cdr.Row) {
			mu.Lock()
			defer mu.Unlock()
			calls++
			for i, r := range rows {
				if i > 0 && r.ID <= rows[i-1].ID {
					t.Errorf("rows not ascending: %d after %d", r.ID, rows[i-1].ID)
				}
				got[r.UniqueID] = r.ID
			}
		}})
		const n = 150
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				if err := w.Write(context.Background(), testRecord(i)); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		stored := listAll(t, st, Filter{})
		mu.Lock()
		if len(got) != n || len(stored) != n {
			t.Fatalf("hook saw %d rows, store has %d, want %d", len(got), len(stored), n)
		}
		for _, r := range stored {
			if got[r.UniqueID] != r.ID {
				t.Fatalf("%s: hook id %d, stored id %d", r.UniqueID, got[r.UniqueID], r.ID)
			}
		}
		again := testRecord(7)
		orig := got[again.UniqueID]
		mu.Unlock()
		again.UserField = "rewritten"
		if err := w.Write(context.Background(), again); err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		defer mu.Unlock()
		if id := got[again.UniqueID]; id != orig {
			t.Fatalf("rewritten record reported with id %d, it keeps %d", id, orig)
		}
		t.Logf("%d rows in %d commits", n, calls)
	})
}

// TestShippingQueueIndexes: a node drops the reporting indexes, central
// puts them back; both idempotent, and queries work either way.
func TestShippingQueueIndexes(t *testing.T) {
	storetest.Run(t, func(t *testing.T, opts store.Options) {
		ctx := context.Background()
		st := storetest.Open(t, opts)
		count := func() int {
			q := "SELECT COUNT(*) FROM sqlite_master WHERE type = 'index' AND name = 'cdr_tenant_dst_id'"
			if st.Dialect() == store.Postgres {
				q = "SELECT COUNT(*) FROM pg_indexes WHERE indexname = 'cdr_tenant_dst_id'"
			}
			var n int
			if err := st.DB().QueryRowContext(ctx, q).Scan(&n); err != nil {
				t.Fatal(err)
			}
			return n
		}
		if count() != 1 {
			t.Fatal("the migrations did not create the reporting indexes")
		}
		for range 2 {
			if err := UseAsShippingQueue(ctx, st); err != nil {
				t.Fatal(err)
			}
		}
		if count() != 0 {
			t.Fatal("a shipping queue kept the reporting indexes")
		}
		if err := Insert(ctx, st, []cdr.Record{testRecord(1)}); err != nil {
			t.Fatal(err)
		}
		if rows := listAll(t, st, Filter{Dst: testRecord(1).Dst}); len(rows) != 1 {
			t.Fatalf("filtered list without indexes: %d rows", len(rows))
		}
		for range 2 {
			if err := EnsureReportIndexes(ctx, st); err != nil {
				t.Fatal(err)
			}
		}
		if count() != 1 {
			t.Fatal("EnsureReportIndexes did not restore them")
		}
	})
}

// TestInsertBatchUpsert: a large batch (COPY on PostgreSQL) stores every
// record once; the same batch again, changed, updates the rows in place
// (ids kept) and adds the new ones.
func TestInsertBatchUpsert(t *testing.T) {
	storetest.Run(t, func(t *testing.T, opts store.Options) {
		ctx := context.Background()
		st := storetest.Open(t, opts)
		batch := make([]cdr.Record, 120)
		for i := range batch {
			batch[i] = testRecord(i)
		}
		if err := Insert(ctx, st, batch); err != nil {
			t.Fatal(err)
		}
		first := listAll(t, st, Filter{})
		ids := map[string]int64{}
		for _, r := range first {
			ids[r.UniqueID] = r.ID
		}
		for i := range batch {
			batch[i].UserField = "again"
		}
		for i := range 10 {
			batch = append(batch, testRecord(1000+i))
		}
		if err := Insert(ctx, st, batch); err != nil {
			t.Fatal(err)
		}
		starts := map[string]time.Time{}
		for _, r := range batch {
			starts[r.UniqueID] = r.Start
		}
		rows := listAll(t, st, Filter{})
		if len(first) != 120 || len(rows) != 130 {
			t.Fatalf("%d rows after the first batch, %d after the second; want 120 and 130", len(first), len(rows))
		}
		for _, r := range rows {
			if id, ok := ids[r.UniqueID]; ok && (id != r.ID || r.UserField != "again") {
				t.Fatalf("%s: id %d (was %d), userfield %q after the second batch", r.UniqueID, r.ID, id, r.UserField)
			}
			if !r.Start.Equal(starts[r.UniqueID]) {
				t.Fatalf("%s: start %v, stored %v", r.UniqueID, starts[r.UniqueID], r.Start)
			}
		}
	})
}
