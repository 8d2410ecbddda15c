package billing

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/entvoice/entvoice/internal/billing/money"
	"github.com/entvoice/entvoice/internal/store"
)

const accountColumns = "id, tenant, name, kind, currency, credit_limit, offline_cap, balance, created_at, updated_at"

func scanAccount(sc interface{ Scan(...any) error }) (Account, error) {
	var a Account
	var cur string
	var created, updated store.NullTime
	if err := sc.Scan(&a.ID, &a.Tenant, &a.Name, &a.Kind, &cur, &a.CreditLimit, &a.OfflineCap, &a.Balance, &created, &updated); err != nil {
		return a, err
	}
	a.CreatedAt, a.UpdatedAt = created.Time, updated.Time
	var err error
	a.Currency, err = money.ParseCurrency(cur)
	return a, err
}

// PutAccount creates the tenant's account of that name or changes its
// kind and limits. Its currency (the tenant's when zero) cannot change
// once the account has journal entries.
func (r *Repo) PutAccount(ctx context.Context, a Account) (Account, bool, error) {
	var ie InputError
	if e := validName("name", a.Name); e != nil {
		ie.Errors = append(ie.Errors, e.Errors...)
	}
	switch a.Kind {
	case Prepaid:
		if a.CreditLimit != 0 {
			ie.Errors = append(ie.Errors, FieldError{Field: "credit_limit", Message: "a prepaid account has no credit limit"})
		}
	case Postpaid:
	default:
		ie.Errors = append(ie.Errors, FieldError{Field: "kind", Message: fmt.Sprintf("%q: want prepaid or postpaid", a.Kind)})
	}
	if a.CreditLimit < 0 {
		ie.Errors = append(ie.Errors, FieldError{Field: "credit_limit", Message: "must not be negative"})
	}
	if a.OfflineCap < 0 {
		ie.Errors = append(ie.Errors, FieldError{Field: "offline_cap", Message: "must not be negative"})
	}
	if len(ie.Errors) > 0 {
		return a, false, &ie
	}
	old, err := r.GetAccount(ctx, a.Tenant, a.Name)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return a, false, err
	}
	exists := err == nil
	if a.Currency.IsZero() {
		if exists {
			a.Currency = old.Currency
		} else {
			s, err := r.GetSettings(ctx, a.Tenant)
			if err != nil {
				return a, false, err
			}
			a.Currency = s.Currency
		}
	}
	now := time.Now().UTC().Truncate(time.Microsecond)
	if exists {
		if a.Currency != old.Currency {
			var n int
			if err := r.db.QueryRowContext(ctx, r.q(`SELECT COUNT(*) FROM billing_journal WHERE account_id = ?`), old.ID).Scan(&n); err != nil {
				return a, false, fmt.Errorf("billing: account: %w", err)
			}
			if n > 0 {
				return a, false, invalid("currency", "the account has journal entries in %s; its currency cannot change", old.Currency)
			}
		}
		if _, err := r.db.ExecContext(ctx, r.q(`UPDATE billing_accounts SET kind = ?, currency = ?, credit_limit = ?, offline_cap = ?, updated_at = ? WHERE id = ?`),
			a.Kind, a.Currency.Code(), a.CreditLimit, a.OfflineCap, r.st.TimeArg(now), old.ID); err != nil {
			return a, false, fmt.Errorf("billing: update account: %w", err)
		}
	} else {
		_, err := r.db.ExecContext(ctx, r.q(`INSERT INTO billing_accounts (tenant, name, kind, currency, credit_limit, offline_cap, balance, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, 0, ?, ?)`), a.Tenant, a.Name, a.Kind, a.Currency.Code(), a.CreditLimit, a.OfflineCap, r.st.TimeArg(now), r.st.TimeArg(now))
		if isUnique(err) {
			return r.PutAccount(ctx, a)
		}
		if err != nil {
			return a, false, fmt.Errorf("billing: create account: %w", err)
		}
	}
	got, err := r.GetAccount(ctx, a.Tenant, a.Name)
	return got, !exists, err
}

// GetAccount returns an account with its balance.
func (r *Repo) GetAccount(ctx context.Context, tenant, name string) (Account, error) {
	a, err := scanAccount(r.db.QueryRowContext(ctx, r.q(`SELECT `+accountColumns+` FROM billing_accounts WHERE tenant = ? AND name = ?`), tenant, name))
	if errors.Is(err, sql.ErrNoRows) {
		return a, fmt.Errorf("account %q: %w", name, ErrNotFound)
	}
	if err != nil {
		return a, fmt.Errorf("billing: get account: %w", err)
	}
	return a, nil
}

// AccountByID returns an account by its id.
func (r *Repo) AccountByID(ctx context.Context, id int64) (Account, error) {
	a, err := scanAccount(r.db.QueryRowContext(ctx, r.q(`SELECT `+accountColumns+` FROM billing_accounts WHERE id = ?`), id))
	if errors.Is(err, sql.ErrNoRows) {
		return a, fmt.Errorf("account %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return a, fmt.Errorf("billing: get account: %w", err)
	}
	return a, nil
}

// ListAccounts returns a tenant's accounts by name, after the cursor name.
func (r *Repo) ListAccounts(ctx context.Context, tenant, after string, limit int) ([]Account, error) {
	rows, err := r.db.QueryContext(ctx, r.q(`SELECT `+accountColumns+` FROM billing_accounts WHERE tenant = ? AND name > ? ORDER BY name LIMIT ?`), tenant, after, limit)
	if err != nil {
		return nil, fmt.Errorf("billing: list accounts: %w", err)
	}
	defer rows.Close()
	var out []Account
	for rows.Next() {
		a, err := scanAccount(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

// AccountNames lists every account of every tenant, (tenant, name) only.
func (r *Repo) AccountNames(ctx context.Context) ([][2]string, error) {
	rows, err := r.db.QueryContext(ctx, `SELECT tenant, name FROM billing_accounts ORDER BY tenant, name`)
	if err != nil {
		return nil, fmt.Errorf("billing: list account names: %w", err)
	}
	defer rows.Close()
	var out [][2]string
	for rows.Next() {
		var tn [2]string
		if err := rows.Scan(&tn[0], &tn[1]); err != nil {
			return nil, fmt.Errorf("billing: list account names: %w", err)
		}
		out = append(out, tn)
	}
	return out, rows.Err()
}

// Credit is a top-up or an adjustment: Amount minor units (a top-up is
// positive, an adjustment either sign), idempotent by Key.
type Credit struct {
	Kind   string
	Key    string
	Amount int64
	Note   string
}

// Post appends a top-up or adjustment to an account's journal. The same
// Key posted again returns the first entry (replayed true) when the
// amount and kind agree, and a conflict when they do not; a key is never
// applied twice, however long after.
func (r *Repo) Post(ctx context.Context, acct Account, c Credit) (Entry, bool, error) {
	switch {
	case c.Kind != KindTopUp && c.Kind != KindAdjustment:
		return Entry{}, false, invalid("kind", "%q: want topup or adjustment", c.Kind)
	case c.Key == "" || len(c.Key) > 255:
		return Entry{}, false, invalid("Idempotency-Key", "a top-up or adjustment needs an Idempotency-Key of 1 to 255 characters")
	case c.Kind == KindTopUp && c.Amount <= 0:
		return Entry{}, false, invalid("amount", "a top-up must be positive")
	case c.Amount == 0:
		return Entry{}, false, invalid("amount", "must not be zero")
	}
	now := time.Now().UTC().Truncate(time.Microsecond)
	e := Entry{AccountID: acct.ID, Kind: c.Kind, Ref: c.Key, Amount: c.Amount, Note: c.Note, EffectiveAt: now, CreatedAt: now}
	tx, err := r.db.BeginTx(ctx, nil)
	if err != nil {
		return e, false, fmt.Errorf("billing: begin: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	// Lock the account row first, so journal and balance move together.
	res, err := tx.ExecContext(ctx, r.q(`UPDATE billing_accounts SET balance = balance + ?, updated_at = ? WHERE id = ?`), c.Amount, r.st.TimeArg(now), acct.ID)
	if err != nil {
		return e, false, fmt.Errorf("billing: post: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return e, false, fmt.Errorf("account %q: %w", acct.Name, ErrNotFound)
	}
	var prev Entry
	var eff, created store.NullTime
	err = tx.QueryRowContext(ctx, r.q(`SELECT id, kind, ref, amount, note, effective_at, created_at FROM billing_journal
		WHERE account_id = ? AND kind IN ('topup', 'adjustment') AND ref = ?`), acct.ID, c.Key).
		Scan(&prev.ID, &prev.Kind, &prev.Ref, &prev.Amount, &prev.Note, &eff, &created)
	switch {
	case err == nil:
		_ = tx.Rollback()
		prev.EffectiveAt, prev.CreatedAt, prev.AccountID = eff.Time, created.Time, acct.ID
		if prev.Amount != c.Amount || prev.Kind != c.Kind {
			return prev, true, fmt.Errorf("Idempotency-Key %q was used for a %s of %s: %w", c.Key, prev.Kind, money.FormatAmount(prev.Amount, acct.Currency), ErrConflict)
		}
		return prev, true, nil
	case !errors.Is(err, sql.ErrNoRows):
		return e, false, fmt.Errorf("billing: post: %w", err)
	}
	if err := tx.QueryRowContext(ctx, r.q(`INSERT INTO billing_journal (account_id, kind, ref, amount, note, effective_at, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id`), acct.ID, c.Kind, c.Key, c.Amount, c.Note, r.st.TimeArg(now), r.st.TimeArg(now)).Scan(&e.ID); err != nil {
		if isUnique(err) {
			_ = tx.Rollback()
			return r.Post(ctx, acct, c)
		}
		return e, false, fmt.Errorf("billing: post: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return e, false, fmt.Errorf("billing: commit: %w", err)
	}
	return e, false, nil
}

// Journal returns an account's entries with id > after, oldest first.
func (r *Repo) Journal(ctx context.Context, accountID, after int64, limit int) ([]Entry, error) {
	rows, err := r.db.QueryContext(ctx, r.q(`SELECT id, kind, ref, amount, note, effective_at, created_at FROM billing_journal
		WHERE account_id = ? AND id > ? ORDER BY id LIMIT ?`), accountID, after, limit)
	if err != nil {
		return nil, fmt.Errorf("billing: journal: %w", err)
	}
	defer rows.Close()
	var out []Entry
	for rows.Next() {
		e := Entry{AccountID: accountID}
		var eff, created store.NullTime
		if err := rows.Scan(&e.ID, &e.Kind, &e.Ref, &e.Amount, &e.Note, &eff, &created); err != nil {
			return nil, err
		}
		e.EffectiveAt, e.CreatedAt = eff.Time, created.Time
		out = append(out, e)
	}
	return out, rows.Err()
}

// VerifyBalances returns the accounts whose balance column differs from
// the sum of their journal (none, unless someone edited the tables).
func (r *Repo) VerifyBalances(ctx context.Context) ([]string, error) {
	rows, err := r.db.QueryContext(ctx, `SELECT a.tenant, a.name, a.balance, COALESCE(SUM(j.amount), 0) FROM billing_accounts a
		LEFT JOIN billing_journal j ON j.account_id = a.id GROUP BY a.id, a.tenant, a.name, a.balance`)
	if err != nil {
		return nil, fmt.Errorf("billing: verify: %w", err)
	}
	defer rows.Close()
	var bad []string
	for rows.Next() {
		var t, n string
		var bal, sum int64
		if err := rows.Scan(&t, &n, &bal, &sum); err != nil {
			return nil, err
		}
		if bal != sum {
			bad = append(bad, fmt.Sprintf("%s/%s: balance %d, journal %d", t, n, bal, sum))
		}
	}
	return bad, rows.Err()
}
