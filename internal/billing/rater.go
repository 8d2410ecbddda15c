package billing

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/entvoice/entvoice/internal/store"
)

// CDR is what the Rater reads of a stored CDR.
type CDR struct {
	ID          int64
	UniqueID    string
	Tenant      string
	AccountCode string
	Channel     string
	DstChannel  string
	Dst         string
	Start       time.Time
	BillSec     int64
	Disposition string
}

// Endpoint returns the endpoint of an Asterisk channel name:
// "PJSIP/1001-0000002a" is "1001" (the technology and the sequence after
// the last '-' dropped); "" when the name has no '/'.
func Endpoint(channel string) string {
	_, rest, ok := strings.Cut(channel, "/")
	if !ok {
		return ""
	}
	if i := strings.LastIndexByte(rest, '-'); i > 0 {
		rest = rest[:i]
	}
	if i := strings.IndexAny(rest, "@;"); i >= 0 {
		rest = rest[:i]
	}
	return rest
}

// RateCDR prices one CDR with the catalog. The caller's user is the
// endpoint of its channel, the trunk the endpoint of its dstchannel. A
// call bridged to an endpoint named like the dialled number (Dial of
// PJSIP/${EXTEN}: an extension of the PBX) is internal and unbilled. A
// call with no billsec (not answered) costs nothing, whether a rate
// matched or not. Errors are the store's (retry later); everything else
// is in the Rating's Status and Reason.
func RateCDR(ctx context.Context, c *Catalog, cdr *CDR, now time.Time) (Rating, error) {
	rt := Rating{UniqueID: cdr.UniqueID, CDRID: cdr.ID, Tenant: cdr.Tenant, BillSec: cdr.BillSec, Start: cdr.Start, RatedAt: now}
	user, trunk := Endpoint(cdr.Channel), Endpoint(cdr.DstChannel)
	if trunk != "" && trunk == cdr.Dst {
		rt.Status, rt.Reason = StatusUnbilled, "internal call to endpoint "+trunk
		return rt, nil
	}
	q, err := c.Quote(ctx, Call{Tenant: cdr.Tenant, User: user, AccountCode: cdr.AccountCode, Trunk: trunk, Dialled: cdr.Dst, Start: cdr.Start})
	var up *Unpriced
	switch {
	case errors.As(err, &up):
		if up.Account != nil {
			rt.AccountID, rt.Account, rt.Currency = up.Account.ID, up.Account.Name, up.Account.Currency.Code()
		}
		rt.Number = up.Number
		rt.Status, rt.Reason = up.Status, up.Reason
		if up.Status == StatusUnrated && cdr.BillSec <= 0 {
			rt.Status, rt.Reason = StatusRated, "not answered ("+up.Reason+")"
		}
		return rt, nil
	case err != nil:
		return rt, err
	}
	rt.AccountID, rt.Account, rt.Currency = q.Account.ID, q.Account.Name, q.Currency.Code()
	rt.Number, rt.Prefix, rt.Description, rt.RateID = q.Number, q.Rate.Prefix, q.Rate.Description, q.Rate.ID
	rt.PlanID, rt.DeckID, rt.DeckVersion = q.PlanID, q.DeckID, q.Version
	cost, err := q.Rate.Cost(cdr.BillSec, q.Currency, q.Rounding)
	if err != nil {
		rt.Status, rt.Reason = StatusUnrated, err.Error()
		return rt, nil
	}
	rt.Status, rt.Billable, rt.Cost = StatusRated, cost.Billable, cost.Minor
	if cdr.BillSec <= 0 {
		rt.Reason = "not answered"
	}
	return rt, nil
}

// RaterOptions tune a Rater.
type RaterOptions struct {
	// Interval between polls of the cdr table when idle (default 1 s).
	Interval time.Duration
	// Batch is the most CDRs rated per transaction (default 500).
	Batch int
	// Sweep is how often CDRs committed late (PostgreSQL commits
	// transactions out of id order) are looked for below the head
	// (default 1 min); the persisted floor moves to the head of the
	// previous sweep, which every CDR writer has committed by then
	// (their transactions time out sooner).
	Sweep time.Duration
	// OnJournal, if set, is told every call debit committed (the
	// Authorizer follows balances this way). It must not block.
	OnJournal func(accountID, entryID int64, ref string, amount int64)
	Logger    *slog.Logger
}

// Rater rates the CDRs central stores, off the call path: it polls the
// cdr table for CDRs without a rating row, rates them with the catalog,
// and writes each rating row and its call debit in one transaction, so
// a CDR is rated (and debited) exactly once by uniqueid, however often it
// is redelivered, and across restarts (it resumes from the floor it
// persists, skipping CDRs already rated).
type Rater struct {
	repo *Repo
	cat  *Catalog
	o    RaterOptions
	log  *slog.Logger
	wake chan struct{}

	head      int64 // highest cdr id seen; the loop's goroutine only
	lastSweep time.Time
	sweepHead int64

	rated, debited, unrated atomic.Int64
}

// NewRater returns a Rater; run it with Run.
func NewRater(repo *Repo, cat *Catalog, o RaterOptions) *Rater {
	if o.Interval <= 0 {
		o.Interval = time.Second
	}
	if o.Batch <= 0 {
		o.Batch = 500
	}
	if o.Sweep <= 0 {
		o.Sweep = time.Minute
	}
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Rater{repo: repo, cat: cat, o: o, log: log, wake: make(chan struct{}, 1), head: -1}
}

// Wake makes a sleeping Run poll now (after a batch of CDRs was stored).
func (r *Rater) Wake() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// RaterStats counts a Rater's work.
type RaterStats struct{ Rated, Debited, Unrated int64 }

// Stats returns the counters since NewRater.
func (r *Rater) Stats() RaterStats {
	return RaterStats{Rated: r.rated.Load(), Debited: r.debited.Load(), Unrated: r.unrated.Load()}
}

// Run rates until ctx ends. Store failures are logged and retried with
// backoff; they never stop it.
func (r *Rater) Run(ctx context.Context) error {
	backoff := r.o.Interval
	for {
		n, err := r.RunOnce(ctx)
		wait := r.o.Interval
		switch {
		case ctx.Err() != nil:
			return nil
		case err != nil:
			r.log.Warn("billing: rating failed; will retry", "err", err, "retry_in", backoff)
			wait = backoff
			backoff = min(backoff*2, time.Minute)
		case n > 0:
			backoff = r.o.Interval
			continue // more may be waiting
		default:
			backoff = r.o.Interval
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-r.wake:
			t.Stop()
		case <-t.C:
		}
	}
}

// RunOnce rates one batch of unrated CDRs above the head (and, when due,
// sweeps below it) and returns how many it rated.
func (r *Rater) RunOnce(ctx context.Context) (int, error) {
	if r.head < 0 {
		floor, err := r.floor(ctx)
		if err != nil {
			return 0, err
		}
		r.head, r.sweepHead, r.lastSweep = floor, floor, time.Now()
	}
	// The highest id now: every CDR up to it that is visible is either
	// rated or returned below, so the head may move to it (a CDR
	// committed later with a lower id is the sweep's).
	var top int64
	if err := r.repo.db.QueryRowContext(ctx, `SELECT COALESCE(MAX(id), 0) FROM cdr`).Scan(&top); err != nil {
		return 0, fmt.Errorf("billing: unrated CDRs: %w", err)
	}
	if top <= r.head {
		if time.Since(r.lastSweep) >= r.o.Sweep {
			return r.sweep(ctx)
		}
		return 0, nil
	}
	cdrs, err := r.pending(ctx, r.head, top, r.o.Batch)
	if err != nil {
		return 0, err
	}
	if len(cdrs) > 0 {
		if err := r.rateBatch(ctx, cdrs); err != nil {
			return 0, err
		}
	}
	if len(cdrs) < r.o.Batch {
		r.head = top
	} else {
		r.head = cdrs[len(cdrs)-1].ID
	}
	if len(cdrs) > 0 {
		return len(cdrs), nil
	}
	if time.Since(r.lastSweep) >= r.o.Sweep {
		return r.sweep(ctx)
	}
	return 0, nil
}

// sweep rates CDRs between the persisted floor and the head that
// committed after the head passed them, then raises the floor to the
// previous sweep's head.
func (r *Rater) sweep(ctx context.Context) (int, error) {
	floor, err := r.floor(ctx)
	if err != nil {
		return 0, err
	}
	total := 0
	for after := floor; ; {
		cdrs, err := r.pending(ctx, after, r.head, r.o.Batch)
		if err != nil {
			return total, err
		}
		if len(cdrs) == 0 {
			break
		}
		r.log.Info("billing: rating CDRs committed late", "count", len(cdrs))
		if err := r.rateBatch(ctx, cdrs); err != nil {
			return total, err
		}
		total += len(cdrs)
		after = cdrs[len(cdrs)-1].ID
	}
	if r.sweepHead > floor {
		if _, err := r.repo.db.ExecContext(ctx, r.repo.q(`UPDATE billing_rater SET floor = ? WHERE id = 1 AND floor < ?`), r.sweepHead, r.sweepHead); err != nil {
			return total, fmt.Errorf("billing: rater floor: %w", err)
		}
	}
	r.sweepHead, r.lastSweep = r.head, time.Now()
	return total, nil
}

func (r *Rater) floor(ctx context.Context) (int64, error) {
	var f int64
	if err := r.repo.db.QueryRowContext(ctx, `SELECT floor FROM billing_rater WHERE id = 1`).Scan(&f); err != nil {
		return 0, fmt.Errorf("billing: rater floor: %w", err)
	}
	return f, nil
}

// pending returns up to limit CDRs with after < id (<= upto when upto >
// 0) that have no rating row, in id order.
func (r *Rater) pending(ctx context.Context, after, upto int64, limit int) ([]CDR, error) {
	q := `SELECT c.id, c.uniqueid, c.tenant, c.accountcode, c.channel, c.dstchannel, c.dst, c.start, c.billsec, c.disposition
		FROM cdr c WHERE c.id > ?`
	args := []any{after}
	if upto > 0 {
		q += ` AND c.id <= ?`
		args = append(args, upto)
	}
	q += ` AND NOT EXISTS (SELECT 1 FROM billing_ratings b WHERE b.uniqueid = c.uniqueid) ORDER BY c.id LIMIT ?`
	args = append(args, limit)
	rows, err := r.repo.db.QueryContext(ctx, r.repo.q(q), args...)
	if err != nil {
		return nil, fmt.Errorf("billing: unrated CDRs: %w", err)
	}
	defer rows.Close()
	var out []CDR
	for rows.Next() {
		var c CDR
		var start store.NullTime
		if err := rows.Scan(&c.ID, &c.UniqueID, &c.Tenant, &c.AccountCode, &c.Channel, &c.DstChannel, &c.Dst, &start, &c.BillSec, &c.Disposition); err != nil {
			return nil, fmt.Errorf("billing: unrated CDRs: %w", err)
		}
		c.Start = start.Time
		out = append(out, c)
	}
	return out, rows.Err()
}

func (r *Rater) rateBatch(ctx context.Context, cdrs []CDR) error {
	now := time.Now().UTC().Truncate(time.Microsecond)
	ratings := make([]Rating, 0, len(cdrs))
	for i := range cdrs {
		rt, err := RateCDR(ctx, r.cat, &cdrs[i], now)
		if err != nil {
			return err
		}
		ratings = append(ratings, rt)
	}
	debits, err := r.repo.StoreRatings(ctx, ratings)
	if err != nil {
		return err
	}
	for _, rt := range ratings {
		if rt.Status == StatusUnrated {
			r.unrated.Add(1)
			r.log.Warn("billing: CDR unrated", "uniqueid", rt.UniqueID, "tenant", rt.Tenant, "reason", rt.Reason)
		}
	}
	r.rated.Add(int64(len(ratings)))
	r.debited.Add(int64(len(debits)))
	if r.o.OnJournal != nil {
		for _, d := range debits {
			r.o.OnJournal(d.AccountID, d.ID, d.Ref, d.Amount)
		}
	}
	return nil
}

const ratingColumns = `uniqueid, cdr_id, tenant, account_id, status, reason, number, prefix, description, rate_id, plan_id, deck_id, deck_version,
	billsec, billable, cost, currency, start, rated_at`

const numRatingColumns = 19

// ratingRowsPerInsert and journalRowsPerInsert bound multi-row INSERTs.
const (
	ratingRowsPerInsert  = 200
	journalRowsPerInsert = 500
)

// StoreRatings writes rating rows and, for each new row with a cost, the
// call's debit, in one transaction: a uniqueid already rated is skipped
// (ON CONFLICT DO NOTHING), so a CDR is debited at most once. It returns
// the journal entries written. Accounts are locked in id order (their
// balance is updated before their entries are inserted), so their entry
// ids follow commit order.
func (r *Repo) StoreRatings(ctx context.Context, ratings []Rating) ([]Entry, error) {
	if len(ratings) == 0 {
		return nil, nil
	}
	tx, err := r.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("billing: begin: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	inserted := make(map[string]bool, len(ratings))
	row := "(" + strings.TrimSuffix(strings.Repeat("?, ", numRatingColumns), ", ") + ")"
	for rest := ratings; len(rest) > 0; {
		n := min(len(rest), ratingRowsPerInsert)
		args := make([]any, 0, n*numRatingColumns)
		for i := range rest[:n] {
			rt := &rest[i]
			var acct any
			if rt.AccountID != 0 {
				acct = rt.AccountID
			}
			args = append(args, rt.UniqueID, rt.CDRID, rt.Tenant, acct, rt.Status, rt.Reason, rt.Number, rt.Prefix, rt.Description, rt.RateID,
				rt.PlanID, rt.DeckID, rt.DeckVersion, rt.BillSec, rt.Billable, rt.Cost, rt.Currency, r.st.TimeArg(rt.Start), r.st.TimeArg(rt.RatedAt))
		}
		q := "INSERT INTO billing_ratings (" + ratingColumns + ") VALUES " + strings.TrimSuffix(strings.Repeat(row+", ", n), ", ") +
			" ON CONFLICT (uniqueid) DO NOTHING RETURNING uniqueid"
		rows, err := tx.QueryContext(ctx, r.q(q), args...)
		if err != nil {
			return nil, fmt.Errorf("billing: store ratings: %w", err)
		}
		for rows.Next() {
			var u string
			if err := rows.Scan(&u); err != nil {
				rows.Close()
				return nil, err
			}
			inserted[u] = true
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("billing: store ratings: %w", err)
		}
		rest = rest[n:]
	}
	byAcct := map[int64][]*Rating{}
	for i := range ratings {
		rt := &ratings[i]
		if inserted[rt.UniqueID] && rt.Status == StatusRated && rt.Cost != 0 && rt.AccountID != 0 {
			byAcct[rt.AccountID] = append(byAcct[rt.AccountID], rt)
			delete(inserted, rt.UniqueID) // a uniqueid twice in one batch is debited once
		}
	}
	ids := make([]int64, 0, len(byAcct))
	for id := range byAcct {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	now := r.st.TimeArg(time.Now())
	var entries []Entry
	for _, id := range ids {
		var sum int64
		for _, rt := range byAcct[id] {
			sum += rt.Cost
		}
		if _, err := tx.ExecContext(ctx, r.q(`UPDATE billing_accounts SET balance = balance - ? WHERE id = ?`), sum, id); err != nil {
			return nil, fmt.Errorf("billing: debit: %w", err)
		}
		rts := byAcct[id]
		for len(rts) > 0 {
			n := min(len(rts), journalRowsPerInsert)
			args := make([]any, 0, n*5)
			for _, rt := range rts[:n] {
				args = append(args, id, rt.UniqueID, -rt.Cost, r.st.TimeArg(rt.Start), now)
			}
			q := `INSERT INTO billing_journal (account_id, kind, ref, amount, note, effective_at, created_at) VALUES ` +
				strings.TrimSuffix(strings.Repeat(`(?, 'call', ?, ?, '', ?, ?), `, n), ", ") + ` RETURNING id, ref, amount, effective_at`
			rows, err := tx.QueryContext(ctx, r.q(q), args...)
			if err != nil {
				return nil, fmt.Errorf("billing: debit: %w", err)
			}
			for rows.Next() {
				e := Entry{AccountID: id, Kind: KindCall}
				var at store.NullTime
				if err := rows.Scan(&e.ID, &e.Ref, &e.Amount, &at); err != nil {
					rows.Close()
					return nil, fmt.Errorf("billing: debit: %w", err)
				}
				e.EffectiveAt = at.Time
				entries = append(entries, e)
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return nil, fmt.Errorf("billing: debit: %w", err)
			}
			rts = rts[n:]
		}
	}
	// Entries in id order: the Authorizer applies them in that order.
	slices.SortFunc(entries, func(a, b Entry) int { return int(a.ID - b.ID) })
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("billing: commit ratings: %w", err)
	}
	return entries, nil
}
