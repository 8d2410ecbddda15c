package billing

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/entvoice/entvoice/internal/store"
)

// ratingSelect reads a rating row with its account's name.
const ratingSelect = `SELECT b.uniqueid, b.cdr_id, b.tenant, COALESCE(b.account_id, 0), COALESCE(a.name, ''), b.status, b.reason, b.number, b.prefix,
	b.description, b.rate_id, b.plan_id, b.deck_id, b.deck_version, b.billsec, b.billable, b.cost, b.currency, b.start, b.rated_at, b.rerates
	FROM billing_ratings b LEFT JOIN billing_accounts a ON a.id = b.account_id`

func scanRating(sc interface{ Scan(...any) error }) (Rating, error) {
	var r Rating
	var start, rated store.NullTime
	err := sc.Scan(&r.UniqueID, &r.CDRID, &r.Tenant, &r.AccountID, &r.Account, &r.Status, &r.Reason, &r.Number, &r.Prefix, &r.Description,
		&r.RateID, &r.PlanID, &r.DeckID, &r.DeckVersion, &r.BillSec, &r.Billable, &r.Cost, &r.Currency, &start, &rated, &r.Rerates)
	r.Start, r.RatedAt = start.Time, rated.Time
	return r, err
}

// Ratings returns the rating rows of the given uniqueids (those rated).
func (r *Repo) Ratings(ctx context.Context, uniqueids []string) (map[string]Rating, error) {
	out := make(map[string]Rating, len(uniqueids))
	for len(uniqueids) > 0 {
		n := min(len(uniqueids), 500)
		args := make([]any, n)
		for i, u := range uniqueids[:n] {
			args[i] = u
		}
		rows, err := r.db.QueryContext(ctx, r.q(ratingSelect+` WHERE b.uniqueid IN (`+strings.TrimSuffix(strings.Repeat("?, ", n), ", ")+`)`), args...)
		if err != nil {
			return nil, fmt.Errorf("billing: ratings: %w", err)
		}
		for rows.Next() {
			rt, err := scanRating(rows)
			if err != nil {
				rows.Close()
				return nil, fmt.Errorf("billing: ratings: %w", err)
			}
			out[rt.UniqueID] = rt
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("billing: ratings: %w", err)
		}
		uniqueids = uniqueids[n:]
	}
	return out, nil
}

// ListRatings returns a tenant's rating rows with the given status (all
// when empty) and start in [from, to), by (start, uniqueid), after the
// cursor.
func (r *Repo) ListRatings(ctx context.Context, tenant, status string, from, to time.Time, afterStart time.Time, afterUID string, limit int) ([]Rating, error) {
	q := ratingSelect + ` WHERE b.tenant = ?`
	args := []any{tenant}
	if status != "" {
		q += ` AND b.status = ?`
		args = append(args, status)
	}
	if !from.IsZero() {
		q += ` AND b.start >= ?`
		args = append(args, r.st.TimeArg(from))
	}
	if !to.IsZero() {
		q += ` AND b.start < ?`
		args = append(args, r.st.TimeArg(to))
	}
	if afterUID != "" {
		ts := r.st.TimeArg(afterStart)
		q += ` AND (b.start > ? OR (b.start = ? AND b.uniqueid > ?))`
		args = append(args, ts, ts, afterUID)
	}
	q += ` ORDER BY b.start, b.uniqueid LIMIT ?`
	args = append(args, limit)
	rows, err := r.db.QueryContext(ctx, r.q(q), args...)
	if err != nil {
		return nil, fmt.Errorf("billing: list ratings: %w", err)
	}
	defer rows.Close()
	var out []Rating
	for rows.Next() {
		rt, err := scanRating(rows)
		if err != nil {
			return nil, fmt.Errorf("billing: list ratings: %w", err)
		}
		out = append(out, rt)
	}
	return out, rows.Err()
}

// RerateRequest selects the CDRs to rate again after a deck correction.
type RerateRequest struct {
	Tenant string
	// Account limits the re-rate to one account's calls (and the tenant's
	// unrated CDRs, which may now find it); empty: the whole tenant.
	Account string
	// From and To bound the calls' start: From <= start < To.
	From, To time.Time
	Reason   string
}

// RerateResult summarises a re-rate.
type RerateResult struct {
	ID      int64 `json:"id"`
	Calls   int64 `json:"calls"`
	Changed int64 `json:"changed"`
	// Delta is the sum of the adjusting entries per currency (minor
	// units; negative: customers were charged more).
	Delta map[string]int64 `json:"delta"`
}

// Rerate rates the selected CDRs again with the catalog as it is now
// (after importing a corrected version) and, for each whose account or
// cost changed, writes adjusting journal entries (kind rerate, ref
// "<rerate id>:<uniqueid>") and updates its rating row; the original call
// debit stays in the journal. It is logged in billing_rerates and the
// service log.
func (s *Service) Rerate(ctx context.Context, req RerateRequest) (RerateResult, error) {
	res := RerateResult{Delta: map[string]int64{}}
	if req.From.IsZero() || req.To.IsZero() || !req.To.After(req.From) {
		return res, invalid("to", "a re-rate needs from and to, to after from")
	}
	s.Catalog.Invalidate(req.Tenant)
	r := s.Repo
	var acctID int64
	if req.Account != "" {
		a, err := r.GetAccount(ctx, req.Tenant, req.Account)
		if err != nil {
			return res, err
		}
		acctID = a.ID
	}
	now := time.Now().UTC().Truncate(time.Microsecond)
	if err := r.db.QueryRowContext(ctx, r.q(`INSERT INTO billing_rerates (tenant, account, period_from, period_to, reason, created_at)
		VALUES (?, ?, ?, ?, ?, ?) RETURNING id`), req.Tenant, req.Account, r.st.TimeArg(req.From), r.st.TimeArg(req.To), req.Reason, r.st.TimeArg(now)).Scan(&res.ID); err != nil {
		return res, fmt.Errorf("billing: rerate: %w", err)
	}
	var afterStart time.Time
	afterUID := ""
	for {
		olds, err := r.ListRatings(ctx, req.Tenant, "", req.From, req.To, afterStart, afterUID, 500)
		if err != nil {
			return res, err
		}
		if len(olds) == 0 {
			break
		}
		last := olds[len(olds)-1]
		afterStart, afterUID = last.Start, last.UniqueID
		var todo []Rating
		var news []Rating
		for _, old := range olds {
			if old.Status == StatusUnbilled || (acctID != 0 && old.AccountID != acctID && old.Status != StatusUnrated) {
				continue
			}
			cdr, err := r.cdrByID(ctx, old.CDRID)
			if err != nil {
				return res, err
			}
			nr, err := RateCDR(ctx, s.Catalog, &cdr, now)
			if err != nil {
				return res, err
			}
			if acctID != 0 && nr.AccountID != acctID && old.AccountID != acctID {
				continue
			}
			res.Calls++
			todo = append(todo, old)
			news = append(news, nr)
		}
		changed, err := r.applyRerate(ctx, res.ID, todo, news, res.Delta)
		if err != nil {
			return res, err
		}
		for _, e := range changed {
			s.Authorizer.Journaled(e.AccountID, e.ID, e.Ref, e.Amount)
		}
		res.Changed += int64(countChanged(todo, news))
	}
	var total int64
	for _, d := range res.Delta {
		total += d
	}
	if _, err := r.db.ExecContext(ctx, r.q(`UPDATE billing_rerates SET calls = ?, changed = ?, delta = ? WHERE id = ?`), res.Calls, res.Changed, total, res.ID); err != nil {
		return res, fmt.Errorf("billing: rerate log: %w", err)
	}
	s.log.Info("billing: re-rate", "id", res.ID, "tenant", req.Tenant, "account", req.Account, "from", req.From, "to", req.To,
		"reason", req.Reason, "calls", res.Calls, "changed", res.Changed, "delta", res.Delta)
	return res, nil
}

func countChanged(olds, news []Rating) int {
	n := 0
	for i := range olds {
		if ratingChanged(&olds[i], &news[i]) {
			n++
		}
	}
	return n
}

func ratingChanged(o, n *Rating) bool {
	return o.Status != n.Status || o.Cost != n.Cost || o.AccountID != n.AccountID || o.RateID != n.RateID || o.DeckVersion != n.DeckVersion
}

// charged is what a rating row has debited its account.
func charged(r *Rating) int64 {
	if r.Status == StatusRated {
		return r.Cost
	}
	return 0
}

func (r *Repo) cdrByID(ctx context.Context, id int64) (CDR, error) {
	var c CDR
	var start store.NullTime
	err := r.db.QueryRowContext(ctx, r.q(`SELECT id, uniqueid, tenant, accountcode, channel, dstchannel, dst, start, billsec, disposition FROM cdr WHERE id = ?`), id).
		Scan(&c.ID, &c.UniqueID, &c.Tenant, &c.AccountCode, &c.Channel, &c.DstChannel, &c.Dst, &start, &c.BillSec, &c.Disposition)
	c.Start = start.Time
	if err != nil {
		return c, fmt.Errorf("billing: CDR %d: %w", id, err)
	}
	return c, nil
}

// applyRerate writes the adjusting entries and new rating rows of one
// page in one transaction.
func (r *Repo) applyRerate(ctx context.Context, rerateID int64, olds, news []Rating, delta map[string]int64) ([]Entry, error) {
	tx, err := r.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("billing: begin: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	now := time.Now().UTC().Truncate(time.Microsecond)
	var entries []Entry
	post := func(acct int64, uid string, amount int64, cur string) error {
		if acct == 0 || amount == 0 {
			return nil
		}
		if _, err := tx.ExecContext(ctx, r.q(`UPDATE billing_accounts SET balance = balance + ? WHERE id = ?`), amount, acct); err != nil {
			return err
		}
		e := Entry{AccountID: acct, Kind: KindRerate, Ref: fmt.Sprintf("%d:%s", rerateID, uid), Amount: amount, EffectiveAt: now, CreatedAt: now}
		if err := tx.QueryRowContext(ctx, r.q(`INSERT INTO billing_journal (account_id, kind, ref, amount, note, effective_at, created_at)
			VALUES (?, 'rerate', ?, ?, ?, ?, ?) RETURNING id`), acct, e.Ref, amount, fmt.Sprintf("re-rate %d", rerateID), r.st.TimeArg(now), r.st.TimeArg(now)).Scan(&e.ID); err != nil {
			return err
		}
		entries = append(entries, e)
		delta[cur] += amount
		return nil
	}
	for i := range olds {
		o, n := &olds[i], &news[i]
		if !ratingChanged(o, n) {
			continue
		}
		if o.AccountID == n.AccountID {
			if err := post(n.AccountID, n.UniqueID, charged(o)-charged(n), n.Currency); err != nil {
				return nil, fmt.Errorf("billing: rerate entry: %w", err)
			}
		} else {
			if err := post(o.AccountID, o.UniqueID, charged(o), o.Currency); err != nil {
				return nil, fmt.Errorf("billing: rerate entry: %w", err)
			}
			if err := post(n.AccountID, n.UniqueID, -charged(n), n.Currency); err != nil {
				return nil, fmt.Errorf("billing: rerate entry: %w", err)
			}
		}
		var acct any
		if n.AccountID != 0 {
			acct = n.AccountID
		}
		if _, err := tx.ExecContext(ctx, r.q(`UPDATE billing_ratings SET account_id = ?, status = ?, reason = ?, number = ?, prefix = ?, description = ?,
			rate_id = ?, plan_id = ?, deck_id = ?, deck_version = ?, billable = ?, cost = ?, currency = ?, rated_at = ?, rerates = rerates + 1 WHERE uniqueid = ?`),
			acct, n.Status, n.Reason, n.Number, n.Prefix, n.Description, n.RateID, n.PlanID, n.DeckID, n.DeckVersion, n.Billable, n.Cost, n.Currency,
			r.st.TimeArg(now), n.UniqueID); err != nil {
			return nil, fmt.Errorf("billing: rerate row: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("billing: commit rerate: %w", err)
	}
	return entries, nil
}
