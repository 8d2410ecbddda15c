package cdrstore

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/entvoice/entvoice/internal/cdr"
	"github.com/entvoice/entvoice/internal/store"
)

// recordColumns are the cdr columns a cdr.Record maps to, in bind order.
const recordColumns = `tenant, node, accountcode, src, dst, dcontext, clid, channel, dstchannel, lastapp, lastdata, start, answer, "end", duration, billsec, disposition, amaflags, userfield, uniqueid, linkedid, peeraccount, sequence`

const numRecordColumns = 23

// upsertRowsPerStatement bounds a multi-row INSERT: 40 rows × 23 columns
// stays far below SQLite's and PostgreSQL's parameter limits.
const upsertRowsPerStatement = 40

// upsertTail makes the insert idempotent by uniqueid (the distributed tier
// redelivers): a second delivery updates the row in place, keeping its id.
var upsertTail = func() string {
	var b strings.Builder
	b.WriteString(" ON CONFLICT (uniqueid) DO UPDATE SET ")
	first := true
	for c := range strings.SplitSeq(recordColumns, ", ") {
		if c == "uniqueid" {
			continue
		}
		if !first {
			b.WriteString(", ")
		}
		first = false
		b.WriteString(c + " = excluded." + c)
	}
	return b.String()
}()

// returningIDs makes an upsert statement report each row's id.
const returningIDs = " RETURNING uniqueid, id"

// upsertSQL returns the INSERT for n rows with `?` placeholders.
func upsertSQL(n int) string {
	var b strings.Builder
	b.WriteString("INSERT INTO cdr (" + recordColumns + ") VALUES ")
	row := "(" + strings.TrimSuffix(strings.Repeat("?, ", numRecordColumns), ", ") + ")"
	for i := range n {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(row)
	}
	b.WriteString(upsertTail)
	return b.String()
}

func appendArgs(args []any, st *store.Store, r *cdr.Record) []any {
	return append(args, r.Tenant, r.Node, r.AccountCode, r.Src, r.Dst, r.DContext, r.CLID, r.Channel,
		r.DstChannel, r.LastApp, r.LastData, st.TimeArg(r.Start), st.TimeArg(r.Answer), st.TimeArg(r.End),
		r.Duration, r.BillSec, r.Disposition, r.AMAFlags, r.UserField, r.UniqueID, r.LinkedID,
		r.PeerAccount, r.Sequence)
}

// queryIDs runs an upsert ... RETURNING uniqueid, id into ids.
func queryIDs(ctx context.Context, stmt *sql.Stmt, args []any, ids map[string]int64) error {
	rows, err := stmt.QueryContext(ctx, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var uid string
		var id int64
		if err := rows.Scan(&uid, &id); err != nil {
			return err
		}
		ids[uid] = id
	}
	return rows.Err()
}

// upsertTx upserts recs (already normalized) in one transaction. Records
// repeating a uniqueid within recs collapse to the last one first, since
// PostgreSQL refuses to update one row twice in a statement.
func upsertTx(ctx context.Context, st *store.Store, recs []*cdr.Record) error {
	return upsertTxCached(ctx, st, recs, nil, nil)
}

// stmtCache keeps the upsert statement prepared for each row count, so a
// busy writer does not parse its SQL again for every transaction (that was
// a tenth of a node's CPU at 800 calls a second). It belongs to one
// goroutine.
type stmtCache map[int]*sql.Stmt

func (c stmtCache) get(ctx context.Context, st *store.Store, n int, returning bool) (*sql.Stmt, error) {
	key, q := n, upsertSQL(n)
	if returning {
		key, q = -n, q+returningIDs
	}
	if s, ok := c[key]; ok {
		return s, nil
	}
	s, err := st.DB().PrepareContext(ctx, st.Rebind(q))
	if err != nil {
		return nil, err
	}
	c[key] = s
	return s, nil
}

func (c stmtCache) close() {
	for n, s := range c {
		_ = s.Close()
		delete(c, n)
	}
}

// upsertTxCached is upsertTx with statements from cache (nil: prepare in
// the transaction). With ids (and a cache) it records each row's id by
// uniqueid (RETURNING, in SQLite and PostgreSQL alike; the order of the
// rows it returns is unspecified, hence the map).
func upsertTxCached(ctx context.Context, st *store.Store, recs []*cdr.Record, cache stmtCache, ids map[string]int64) error {
	recs = dedupe(recs)
	tx, err := st.DB().BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("cdr: begin: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	var full *sql.Stmt
	args := make([]any, 0, upsertRowsPerStatement*numRecordColumns)
	for len(recs) > 0 {
		n := min(len(recs), upsertRowsPerStatement)
		args = args[:0]
		for _, r := range recs[:n] {
			args = appendArgs(args, st, r)
		}
		if cache != nil {
			var stmt *sql.Stmt
			if stmt, err = cache.get(ctx, st, n, ids != nil); err != nil {
				return fmt.Errorf("cdr: prepare upsert: %w", err)
			}
			if ids != nil {
				err = queryIDs(ctx, tx.StmtContext(ctx, stmt), args, ids)
			} else {
				_, err = tx.StmtContext(ctx, stmt).ExecContext(ctx, args...)
			}
		} else if n == upsertRowsPerStatement {
			if full == nil {
				if full, err = tx.PrepareContext(ctx, st.Rebind(upsertSQL(n))); err != nil {
					return fmt.Errorf("cdr: prepare upsert: %w", err)
				}
			}
			_, err = full.ExecContext(ctx, args...)
		} else {
			_, err = tx.ExecContext(ctx, st.Rebind(upsertSQL(n)), args...)
		}
		if err != nil {
			return fmt.Errorf("cdr: upsert: %w", err)
		}
		recs = recs[n:]
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("cdr: commit: %w", err)
	}
	return nil
}

func dedupe(recs []*cdr.Record) []*cdr.Record {
	if len(recs) < 2 {
		return recs
	}
	last := make(map[string]int, len(recs))
	for i, r := range recs {
		last[r.UniqueID] = i
	}
	if len(last) == len(recs) {
		return recs
	}
	out := make([]*cdr.Record, 0, len(last))
	for i, r := range recs {
		if last[r.UniqueID] == i {
			out = append(out, r)
		}
	}
	return out
}

// Filter selects rows for List and Export. Empty strings and zero times
// do not filter. An empty Tenant matches every tenant: callers serving a
// tenant must set it.
type Filter struct {
	Tenant      string
	Src         string
	Dst         string
	Disposition string
	// LinkedID selects one call's CDRs: every leg, on every node.
	LinkedID string
	// From and To bound start: From <= start < To.
	From, To time.Time
	// After is the cursor: only rows with id > After (with ByStart: rows
	// after (AfterStart, After) in (start, id) order).
	After int64
	// ByStart orders rows by (start, id) instead of id. Time-range queries
	// should use it: rows are found by a range scan of the (tenant, start,
	// id) index however far back the range lies, where id order makes the
	// database skip every row before the range (ids follow call ends, but a
	// planner cannot know that).
	ByStart bool
	// AfterStart is the start of the last row of the previous page, with
	// ByStart.
	AfterStart time.Time
	// Limit is the page size; <= 0 means DefaultLimit, capped at MaxLimit.
	Limit int
}

// Page sizes for List.
const (
	DefaultLimit = 100
	MaxLimit     = 1000
)

// List returns rows matching f in id order (or (start, id) order with
// f.ByStart), at most f.Limit of them, and the cursor for the next page
// (the last id; with ByStart also take the last row's Start) or 0 when
// this page is the last.
func List(ctx context.Context, st *store.Store, f Filter) ([]cdr.Row, int64, error) {
	limit := f.Limit
	if limit <= 0 {
		limit = DefaultLimit
	}
	limit = min(limit, MaxLimit)
	var where []string
	var args []any
	add := func(cond string, v any) {
		where = append(where, cond)
		args = append(args, v)
	}
	if f.ByStart {
		if f.After > 0 {
			ts := st.TimeArg(f.AfterStart)
			where = append(where, "(start > ? OR (start = ? AND id > ?))")
			args = append(args, ts, ts, f.After)
		}
	} else if f.After > 0 {
		add("id > ?", f.After)
	}
	if f.Tenant != "" {
		add("tenant = ?", f.Tenant)
	}
	if f.Src != "" {
		add("src = ?", f.Src)
	}
	if f.Dst != "" {
		add("dst = ?", f.Dst)
	}
	if f.Disposition != "" {
		add("disposition = ?", f.Disposition)
	}
	if f.LinkedID != "" {
		add("linkedid = ?", f.LinkedID)
	}
	if !f.From.IsZero() {
		add("start >= ?", st.TimeArg(f.From))
	}
	if !f.To.IsZero() {
		add("start < ?", st.TimeArg(f.To))
	}
	q := "SELECT id, " + recordColumns + " FROM cdr"
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	// One extra row tells whether another page exists.
	if f.ByStart {
		q += " ORDER BY start, id LIMIT ?"
	} else {
		q += " ORDER BY id LIMIT ?"
	}
	args = append(args, limit+1)
	rows, err := st.DB().QueryContext(ctx, st.Rebind(q), args...)
	if err != nil {
		return nil, 0, fmt.Errorf("cdr: list: %w", err)
	}
	defer func() { _ = rows.Close() }()
	out := make([]cdr.Row, 0, min(limit, 64))
	for rows.Next() {
		var r cdr.Row
		var start, answer, end store.NullTime
		if err := rows.Scan(&r.ID, &r.Tenant, &r.Node, &r.AccountCode, &r.Src, &r.Dst, &r.DContext, &r.CLID,
			&r.Channel, &r.DstChannel, &r.LastApp, &r.LastData, &start, &answer, &end, &r.Duration,
			&r.BillSec, &r.Disposition, &r.AMAFlags, &r.UserField, &r.UniqueID, &r.LinkedID,
			&r.PeerAccount, &r.Sequence); err != nil {
			return nil, 0, fmt.Errorf("cdr: list scan: %w", err)
		}
		r.Start, r.Answer, r.End = start.Time, answer.Time, end.Time
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, 0, fmt.Errorf("cdr: list: %w", err)
	}
	var next int64
	if len(out) > limit {
		out = out[:limit]
		next = out[limit-1].ID
	}
	return out, next, nil
}

// exportPage is the page size Export reads with.
const exportPage = MaxLimit

// Export streams every row matching f (f.After and f.Limit are the start
// cursor and ignored, respectively) to w as Master.csv lines in id order,
// one page at a time.
func Export(ctx context.Context, st *store.Store, w io.Writer, f Filter, opts cdr.CSVOptions) error {
	f.Limit = exportPage
	var line []byte
	for {
		rows, next, err := List(ctx, st, f)
		if err != nil {
			return err
		}
		line = line[:0]
		for i := range rows {
			line = cdr.AppendMasterCSV(line, rows[i].Record, opts)
		}
		if _, err := w.Write(line); err != nil {
			return fmt.Errorf("cdr: export: %w", err)
		}
		if next == 0 {
			return nil
		}
		f.After, f.AfterStart = next, rows[len(rows)-1].Start
	}
}

// Insert upserts recs by uniqueid in one transaction, without the
// writer's queue or spool: for bulk loads (benchmarks, imports) and tests.
func Insert(ctx context.Context, st *store.Store, recs []cdr.Record) error {
	ps := make([]*cdr.Record, len(recs))
	for i := range recs {
		r := recs[i]
		r.Normalize()
		ps[i] = &r
	}
	if st.Dialect() == store.Postgres && len(ps) >= copyMinRows {
		return copyUpsert(ctx, st, ps)
	}
	return upsertTx(ctx, st, ps)
}

// reportIndexes are the cdr indexes behind central's queries: the API's
// filters and pages (tenant, src, dst, start) and one call's legs
// (linkedid). They are created by the migrations; a node drops them.
func reportIndexes() [][2]string {
	return [][2]string{
		{"cdr_linkedid", "linkedid"},
		{"cdr_tenant_id", "tenant, id"},
		{"cdr_tenant_dst_id", "tenant, dst, id"},
		{"cdr_tenant_src_id", "tenant, src, id"},
		{"cdr_tenant_start_id", "tenant, start, id"},
		{"cdr_start_id", "start, id"},
	}
}

// UseAsShippingQueue drops the reporting indexes from a node's own cdr
// table (entvoice node): there the table is the queue the link ships
// from, read by id only, and each of those indexes cost a B-tree update
// per CDR. Central holds them (EnsureReportIndexes). Idempotent.
func UseAsShippingQueue(ctx context.Context, st *store.Store) error {
	for _, ix := range reportIndexes() {
		if _, err := st.DB().ExecContext(ctx, "DROP INDEX IF EXISTS "+ix[0]); err != nil {
			return fmt.Errorf("cdr: drop index %s: %w", ix[0], err)
		}
	}
	return nil
}

// EnsureReportIndexes creates the reporting indexes a store lacks (a data
// directory that served a node now serves central). Idempotent.
func EnsureReportIndexes(ctx context.Context, st *store.Store) error {
	for _, ix := range reportIndexes() {
		if _, err := st.DB().ExecContext(ctx, "CREATE INDEX IF NOT EXISTS "+ix[0]+" ON cdr ("+ix[1]+")"); err != nil {
			return fmt.Errorf("cdr: create index %s: %w", ix[0], err)
		}
	}
	return nil
}
