package billing

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/entvoice/entvoice/internal/billing/money"
	"github.com/entvoice/entvoice/internal/billing/tariff"
	"github.com/entvoice/entvoice/internal/store"
)

// Repo is billing's store: settings, decks, plans, assignments, accounts
// and the journal. It is safe for concurrent use.
type Repo struct {
	st *store.Store
	db *sql.DB
}

// NewRepo returns the repository of st (migrated by store.Open).
func NewRepo(st *store.Store) *Repo { return &Repo{st: st, db: st.DB()} }

// Store returns the underlying store.
func (r *Repo) Store() *store.Store { return r.st }

func (r *Repo) q(s string) string { return r.st.Rebind(s) }

func isUnique(err error) bool {
	if err == nil {
		return false
	}
	m := err.Error()
	return strings.Contains(m, "UNIQUE constraint failed") || strings.Contains(m, "SQLSTATE 23505") || strings.Contains(m, "duplicate key")
}

// ---- settings

// GetSettings returns a tenant's settings, or the defaults.
func (r *Repo) GetSettings(ctx context.Context, tenant string) (Settings, error) {
	s := Settings{Tenant: tenant, Currency: money.MustCurrency(DefaultCurrency), TimeZone: DefaultTimeZone}
	var cur string
	var upd store.NullTime
	err := r.db.QueryRowContext(ctx, r.q(`SELECT currency, timezone, country_code, national_prefix, international_prefix, access_code, updated_at
		FROM billing_settings WHERE tenant = ?`), tenant).Scan(&cur, &s.TimeZone, &s.CountryCode, &s.NationalPrefix, &s.InternationalPrefix, &s.AccessCode, &upd)
	if errors.Is(err, sql.ErrNoRows) {
		return s, nil
	}
	if err != nil {
		return s, fmt.Errorf("billing: settings: %w", err)
	}
	if s.Currency, err = money.ParseCurrency(cur); err != nil {
		return s, fmt.Errorf("billing: settings of %s: %w", tenant, err)
	}
	s.UpdatedAt = upd.Time
	return s, nil
}

// PutSettings validates and stores a tenant's settings.
func (r *Repo) PutSettings(ctx context.Context, s Settings) (Settings, error) {
	var ie InputError
	if s.Currency.IsZero() {
		s.Currency = money.MustCurrency(DefaultCurrency)
	}
	if s.TimeZone == "" {
		s.TimeZone = DefaultTimeZone
	}
	if _, err := time.LoadLocation(s.TimeZone); err != nil {
		ie.Errors = append(ie.Errors, FieldError{Field: "timezone", Message: fmt.Sprintf("%q is not an IANA time zone", s.TimeZone)})
	}
	if err := s.NumberPlan.Validate(); err != nil {
		for _, m := range strings.Split(err.Error(), "\n") {
			f, _, _ := strings.Cut(m, " ")
			ie.Errors = append(ie.Errors, FieldError{Field: f, Message: m})
		}
	}
	if len(ie.Errors) > 0 {
		return s, &ie
	}
	s.UpdatedAt = time.Now().UTC()
	_, err := r.db.ExecContext(ctx, r.q(`INSERT INTO billing_settings (tenant, currency, timezone, country_code, national_prefix, international_prefix, access_code, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (tenant) DO UPDATE SET currency = excluded.currency, timezone = excluded.timezone,
		country_code = excluded.country_code, national_prefix = excluded.national_prefix, international_prefix = excluded.international_prefix,
		access_code = excluded.access_code, updated_at = excluded.updated_at`),
		s.Tenant, s.Currency.Code(), s.TimeZone, s.CountryCode, s.NationalPrefix, s.InternationalPrefix, s.AccessCode, r.st.TimeArg(s.UpdatedAt))
	if err != nil {
		return s, fmt.Errorf("billing: store settings: %w", err)
	}
	return s, nil
}

// ---- decks

// EnsureDeck returns the tenant's deck of that name, creating it in cur
// (the tenant's currency when zero) if it does not exist. An existing
// deck in another currency than a non-zero cur is a conflict.
func (r *Repo) EnsureDeck(ctx context.Context, tenant, name string, cur money.Currency) (Deck, bool, error) {
	if ie := validName("deck", name); ie != nil {
		return Deck{}, false, ie
	}
	d, err := r.GetDeck(ctx, tenant, name)
	if err == nil {
		if !cur.IsZero() && cur != d.Currency {
			return d, false, fmt.Errorf("deck %s is in %s, not %s: %w", name, d.Currency, cur, ErrConflict)
		}
		return d, false, nil
	}
	if !errors.Is(err, ErrNotFound) {
		return d, false, err
	}
	if cur.IsZero() {
		s, err := r.GetSettings(ctx, tenant)
		if err != nil {
			return d, false, err
		}
		cur = s.Currency
	}
	now := time.Now().UTC()
	_, err = r.db.ExecContext(ctx, r.q(`INSERT INTO billing_decks (tenant, name, currency, created_at) VALUES (?, ?, ?, ?)`),
		tenant, name, cur.Code(), r.st.TimeArg(now))
	if isUnique(err) {
		d, err := r.GetDeck(ctx, tenant, name)
		return d, false, err
	}
	if err != nil {
		return d, false, fmt.Errorf("billing: create deck: %w", err)
	}
	d, err = r.GetDeck(ctx, tenant, name)
	return d, true, err
}

// GetDeck returns a deck with its versions (oldest first).
func (r *Repo) GetDeck(ctx context.Context, tenant, name string) (Deck, error) {
	d := Deck{Tenant: tenant, Name: name}
	var cur string
	var created store.NullTime
	err := r.db.QueryRowContext(ctx, r.q(`SELECT id, currency, created_at FROM billing_decks WHERE tenant = ? AND name = ?`), tenant, name).
		Scan(&d.ID, &cur, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return d, fmt.Errorf("deck %q: %w", name, ErrNotFound)
	}
	if err != nil {
		return d, fmt.Errorf("billing: get deck: %w", err)
	}
	d.CreatedAt = created.Time
	if d.Currency, err = money.ParseCurrency(cur); err != nil {
		return d, err
	}
	d.Versions, err = r.versions(ctx, d.ID)
	return d, err
}

func (r *Repo) versions(ctx context.Context, deckID int64) ([]Version, error) {
	rows, err := r.db.QueryContext(ctx, r.q(`SELECT id, version, effective_from, rates, prefixes, note, created_at
		FROM billing_deck_versions WHERE deck_id = ? ORDER BY version`), deckID)
	if err != nil {
		return nil, fmt.Errorf("billing: versions: %w", err)
	}
	defer rows.Close()
	var out []Version
	for rows.Next() {
		v := Version{DeckID: deckID}
		var from, created store.NullTime
		if err := rows.Scan(&v.ID, &v.Version, &from, &v.Rates, &v.Prefixes, &v.Note, &created); err != nil {
			return nil, fmt.Errorf("billing: versions: %w", err)
		}
		v.EffectiveFrom, v.CreatedAt = from.Time, created.Time
		out = append(out, v)
	}
	return out, rows.Err()
}

// ListDecks returns a tenant's decks with their versions.
func (r *Repo) ListDecks(ctx context.Context, tenant string) ([]Deck, error) {
	rows, err := r.db.QueryContext(ctx, r.q(`SELECT name FROM billing_decks WHERE tenant = ? ORDER BY name`), tenant)
	if err != nil {
		return nil, fmt.Errorf("billing: list decks: %w", err)
	}
	var names []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			rows.Close()
			return nil, err
		}
		names = append(names, n)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	out := make([]Deck, 0, len(names))
	for _, n := range names {
		d, err := r.GetDeck(ctx, tenant, n)
		if err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, nil
}

// rateColumns are billing_rates' columns in bind order.
const rateColumns = "version_id, prefix, description, per_minute, connect_fee, min_charge, initial_s, increment_s, effective_from, effective_to, band"

const numRateColumns = 11

// rateRowsPerInsert bounds a multi-row INSERT on SQLite (5,500 parameters).
const rateRowsPerInsert = 500

// AddVersion stores rates (validated, as tariff.ParseCSV returns them) as
// the deck's next version, in force from effectiveFrom (zero: the
// earliest effective_from of the rows, or now if none has one). One
// transaction: on PostgreSQL the rows go by COPY, on SQLite by multi-row
// INSERTs of 500.
func (r *Repo) AddVersion(ctx context.Context, deck Deck, effectiveFrom time.Time, rates []tariff.Rate, note string) (Version, error) {
	if len(rates) == 0 {
		return Version{}, invalid("rates", "a version needs at least one rate")
	}
	if effectiveFrom.IsZero() {
		for i := range rates {
			if f := rates[i].From; !f.IsZero() && (effectiveFrom.IsZero() || f.Before(effectiveFrom)) {
				effectiveFrom = f
			}
		}
		if effectiveFrom.IsZero() {
			effectiveFrom = time.Now()
		}
	}
	prefixes := int64(0)
	for i := range rates {
		if i == 0 || rates[i].Prefix != rates[i-1].Prefix {
			prefixes++
		}
	}
	v := Version{DeckID: deck.ID, EffectiveFrom: effectiveFrom.UTC().Truncate(time.Microsecond), Rates: int64(len(rates)), Prefixes: prefixes,
		Note: note, CreatedAt: time.Now().UTC().Truncate(time.Microsecond)}
	var err error
	if r.st.Dialect() == store.Postgres {
		err = r.addVersionCopy(ctx, &v, rates)
	} else {
		err = r.addVersionInsert(ctx, &v, rates)
	}
	if isUnique(err) {
		return v, fmt.Errorf("another import of deck %s ran at the same time; retry: %w", deck.Name, ErrConflict)
	}
	return v, err
}

const insertVersionSQL = `INSERT INTO billing_deck_versions (deck_id, version, effective_from, rates, prefixes, note, created_at)
	VALUES (?, (SELECT COALESCE(MAX(version), 0) + 1 FROM billing_deck_versions WHERE deck_id = ?), ?, ?, ?, ?, ?) RETURNING id, version`

func (r *Repo) rateArgs(args []any, vid int64, rt *tariff.Rate) []any {
	return append(args, vid, rt.Prefix, rt.Description, rt.PerMinute, rt.Connect, rt.MinCharge, rt.Initial, rt.Increment,
		r.st.TimeArg(rt.From), r.st.TimeArg(rt.To), rt.Band.String())
}

func (r *Repo) addVersionInsert(ctx context.Context, v *Version, rates []tariff.Rate) error {
	tx, err := r.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("billing: begin: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	if err := tx.QueryRowContext(ctx, r.q(insertVersionSQL), v.DeckID, v.DeckID, r.st.TimeArg(v.EffectiveFrom), v.Rates, v.Prefixes, v.Note,
		r.st.TimeArg(v.CreatedAt)).Scan(&v.ID, &v.Version); err != nil {
		return fmt.Errorf("billing: add version: %w", err)
	}
	row := "(" + strings.TrimSuffix(strings.Repeat("?, ", numRateColumns), ", ") + ")"
	sqlFor := func(n int) string {
		return "INSERT INTO billing_rates (" + rateColumns + ") VALUES " + strings.TrimSuffix(strings.Repeat(row+", ", n), ", ")
	}
	full, err := tx.PrepareContext(ctx, r.q(sqlFor(rateRowsPerInsert)))
	if err != nil {
		return fmt.Errorf("billing: prepare rates: %w", err)
	}
	defer full.Close()
	args := make([]any, 0, rateRowsPerInsert*numRateColumns)
	for len(rates) > 0 {
		n := min(len(rates), rateRowsPerInsert)
		args = args[:0]
		for i := range rates[:n] {
			args = r.rateArgs(args, v.ID, &rates[i])
		}
		if n == rateRowsPerInsert {
			_, err = full.ExecContext(ctx, args...)
		} else {
			_, err = tx.ExecContext(ctx, r.q(sqlFor(n)), args...)
		}
		if err != nil {
			return fmt.Errorf("billing: insert rates: %w", err)
		}
		rates = rates[n:]
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("billing: commit version: %w", err)
	}
	return nil
}

// LoadRates reads a version's rows.
func (r *Repo) LoadRates(ctx context.Context, versionID int64) ([]tariff.Rate, error) {
	var n int64
	if err := r.db.QueryRowContext(ctx, r.q(`SELECT rates FROM billing_deck_versions WHERE id = ?`), versionID).Scan(&n); err != nil {
		return nil, fmt.Errorf("billing: load rates: %w", err)
	}
	rows, err := r.db.QueryContext(ctx, r.q(`SELECT id, prefix, description, per_minute, connect_fee, min_charge, initial_s, increment_s,
		effective_from, effective_to, band FROM billing_rates WHERE version_id = ?`), versionID)
	if err != nil {
		return nil, fmt.Errorf("billing: load rates: %w", err)
	}
	defer rows.Close()
	out := make([]tariff.Rate, 0, n)
	bands := map[string]tariff.Band{}
	var from, to store.NullTime
	var band string
	for rows.Next() {
		var rt tariff.Rate
		if err := rows.Scan(&rt.ID, &rt.Prefix, &rt.Description, &rt.PerMinute, &rt.Connect, &rt.MinCharge, &rt.Initial, &rt.Increment,
			&from, &to, &band); err != nil {
			return nil, fmt.Errorf("billing: load rates: %w", err)
		}
		rt.From, rt.To = from.Time, to.Time
		if band != "" {
			b, ok := bands[band]
			if !ok {
				if b, err = tariff.ParseBand(band); err != nil {
					return nil, fmt.Errorf("billing: stored band %q: %w", band, err)
				}
				bands[band] = b
			}
			rt.Band = b
		}
		out = append(out, rt)
	}
	return out, rows.Err()
}

// ListRates returns up to limit rows of a version with id > after,
// optionally only those whose prefix starts with prefix.
func (r *Repo) ListRates(ctx context.Context, versionID int64, prefix string, after int64, limit int) ([]tariff.Rate, error) {
	q := `SELECT id, prefix, description, per_minute, connect_fee, min_charge, initial_s, increment_s, effective_from, effective_to, band
		FROM billing_rates WHERE version_id = ? AND id > ?`
	args := []any{versionID, after}
	if prefix != "" {
		q += ` AND prefix LIKE ?`
		args = append(args, prefix+"%")
	}
	q += ` ORDER BY id LIMIT ?`
	args = append(args, limit)
	rows, err := r.db.QueryContext(ctx, r.q(q), args...)
	if err != nil {
		return nil, fmt.Errorf("billing: list rates: %w", err)
	}
	defer rows.Close()
	var out []tariff.Rate
	for rows.Next() {
		var rt tariff.Rate
		var from, to store.NullTime
		var band string
		if err := rows.Scan(&rt.ID, &rt.Prefix, &rt.Description, &rt.PerMinute, &rt.Connect, &rt.MinCharge, &rt.Initial, &rt.Increment,
			&from, &to, &band); err != nil {
			return nil, err
		}
		rt.From, rt.To = from.Time, to.Time
		rt.Band, _ = tariff.ParseBand(band)
		out = append(out, rt)
	}
	return out, rows.Err()
}

// ---- plans

// PutPlan creates or replaces the tenant's plan of that name. Every deck
// must exist and be in the plan's currency (the tenant's when zero).
func (r *Repo) PutPlan(ctx context.Context, p Plan) (Plan, error) {
	var ie InputError
	if e := validName("name", p.Name); e != nil {
		ie.Errors = append(ie.Errors, e.Errors...)
	}
	if len(p.Decks) == 0 {
		ie.Errors = append(ie.Errors, FieldError{Field: "decks", Message: "a plan needs at least one deck"})
	}
	if p.Currency.IsZero() {
		s, err := r.GetSettings(ctx, p.Tenant)
		if err != nil {
			return p, err
		}
		p.Currency = s.Currency
	}
	seen := map[string]bool{}
	for i := range p.Decks {
		pd := &p.Decks[i]
		f := fmt.Sprintf("decks[%d]", i)
		if seen[pd.Deck] {
			ie.Errors = append(ie.Errors, FieldError{Field: f, Message: fmt.Sprintf("deck %q listed twice", pd.Deck)})
			continue
		}
		seen[pd.Deck] = true
		d, err := r.GetDeck(ctx, p.Tenant, pd.Deck)
		if errors.Is(err, ErrNotFound) {
			ie.Errors = append(ie.Errors, FieldError{Field: f, Message: fmt.Sprintf("no deck %q", pd.Deck)})
			continue
		}
		if err != nil {
			return p, err
		}
		if d.Currency != p.Currency {
			ie.Errors = append(ie.Errors, FieldError{Field: f, Message: fmt.Sprintf("deck %q is in %s, the plan in %s", pd.Deck, d.Currency, p.Currency)})
		}
		pd.deckID = d.ID
	}
	if len(ie.Errors) > 0 {
		return p, &ie
	}
	slices.SortStableFunc(p.Decks, func(a, b PlanDeck) int { return a.Priority - b.Priority })
	now := time.Now().UTC().Truncate(time.Microsecond)
	tx, err := r.db.BeginTx(ctx, nil)
	if err != nil {
		return p, fmt.Errorf("billing: begin: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	err = tx.QueryRowContext(ctx, r.q(`INSERT INTO billing_plans (tenant, name, currency, rounding, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)
		ON CONFLICT (tenant, name) DO UPDATE SET currency = excluded.currency, rounding = excluded.rounding, updated_at = excluded.updated_at
		RETURNING id`), p.Tenant, p.Name, p.Currency.Code(), p.Rounding.String(), r.st.TimeArg(now), r.st.TimeArg(now)).Scan(&p.ID)
	if err != nil {
		return p, fmt.Errorf("billing: store plan: %w", err)
	}
	if _, err := tx.ExecContext(ctx, r.q(`DELETE FROM billing_plan_decks WHERE plan_id = ?`), p.ID); err != nil {
		return p, fmt.Errorf("billing: store plan: %w", err)
	}
	for _, pd := range p.Decks {
		if _, err := tx.ExecContext(ctx, r.q(`INSERT INTO billing_plan_decks (plan_id, deck_id, priority) VALUES (?, ?, ?)`), p.ID, pd.deckID, pd.Priority); err != nil {
			return p, fmt.Errorf("billing: store plan deck: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return p, fmt.Errorf("billing: commit plan: %w", err)
	}
	return r.GetPlan(ctx, p.Tenant, p.Name)
}

// GetPlan returns a plan with its decks in priority order.
func (r *Repo) GetPlan(ctx context.Context, tenant, name string) (Plan, error) {
	p := Plan{Tenant: tenant, Name: name}
	var cur, rounding string
	var created, updated store.NullTime
	err := r.db.QueryRowContext(ctx, r.q(`SELECT id, currency, rounding, created_at, updated_at FROM billing_plans WHERE tenant = ? AND name = ?`), tenant, name).
		Scan(&p.ID, &cur, &rounding, &created, &updated)
	if errors.Is(err, sql.ErrNoRows) {
		return p, fmt.Errorf("plan %q: %w", name, ErrNotFound)
	}
	if err != nil {
		return p, fmt.Errorf("billing: get plan: %w", err)
	}
	p.CreatedAt, p.UpdatedAt = created.Time, updated.Time
	if p.Currency, err = money.ParseCurrency(cur); err != nil {
		return p, err
	}
	if p.Rounding, err = money.ParseRounding(rounding); err != nil {
		return p, err
	}
	rows, err := r.db.QueryContext(ctx, r.q(`SELECT d.name, d.id, pd.priority FROM billing_plan_decks pd JOIN billing_decks d ON d.id = pd.deck_id
		WHERE pd.plan_id = ? ORDER BY pd.priority, d.name`), p.ID)
	if err != nil {
		return p, fmt.Errorf("billing: plan decks: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var pd PlanDeck
		if err := rows.Scan(&pd.Deck, &pd.deckID, &pd.Priority); err != nil {
			return p, err
		}
		p.Decks = append(p.Decks, pd)
	}
	return p, rows.Err()
}

// ListPlans returns a tenant's plans.
func (r *Repo) ListPlans(ctx context.Context, tenant string) ([]Plan, error) {
	names, err := r.names(ctx, `SELECT name FROM billing_plans WHERE tenant = ? ORDER BY name`, tenant)
	if err != nil {
		return nil, err
	}
	out := make([]Plan, 0, len(names))
	for _, n := range names {
		p, err := r.GetPlan(ctx, tenant, n)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

func (r *Repo) names(ctx context.Context, q string, args ...any) ([]string, error) {
	rows, err := r.db.QueryContext(ctx, r.q(q), args...)
	if err != nil {
		return nil, fmt.Errorf("billing: list: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return nil, err
		}
		out = append(out, n)
	}
	return out, rows.Err()
}

// DeletePlan deletes a plan that no assignment uses.
func (r *Repo) DeletePlan(ctx context.Context, tenant, name string) error {
	p, err := r.GetPlan(ctx, tenant, name)
	if err != nil {
		return err
	}
	var n int
	if err := r.db.QueryRowContext(ctx, r.q(`SELECT COUNT(*) FROM billing_assignments WHERE plan_id = ?`), p.ID).Scan(&n); err != nil {
		return fmt.Errorf("billing: delete plan: %w", err)
	}
	if n > 0 {
		return fmt.Errorf("plan %q is assigned %d times; remove the assignments first: %w", name, n, ErrConflict)
	}
	if _, err := r.db.ExecContext(ctx, r.q(`DELETE FROM billing_plans WHERE id = ?`), p.ID); err != nil {
		return fmt.Errorf("billing: delete plan: %w", err)
	}
	return nil
}

// ---- assignments

// PutAssignment assigns a plan to the tenant (scope tenant, subject ""),
// a user or a trunk.
func (r *Repo) PutAssignment(ctx context.Context, a Assignment) (Assignment, error) {
	switch a.Scope {
	case ScopeTenant:
		if a.Subject != "" {
			return a, invalid("subject", "a tenant assignment has no subject")
		}
	case ScopeUser, ScopeTrunk:
		if ie := validName("subject", a.Subject); ie != nil {
			return a, ie
		}
	default:
		return a, invalid("scope", "%q: want tenant, user or trunk", a.Scope)
	}
	p, err := r.GetPlan(ctx, a.Tenant, a.Plan)
	if errors.Is(err, ErrNotFound) {
		return a, invalid("plan", "no plan %q", a.Plan)
	}
	if err != nil {
		return a, err
	}
	a.UpdatedAt = time.Now().UTC().Truncate(time.Microsecond)
	_, err = r.db.ExecContext(ctx, r.q(`INSERT INTO billing_assignments (tenant, scope, subject, plan_id, updated_at) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (tenant, scope, subject) DO UPDATE SET plan_id = excluded.plan_id, updated_at = excluded.updated_at`),
		a.Tenant, a.Scope, a.Subject, p.ID, r.st.TimeArg(a.UpdatedAt))
	if err != nil {
		return a, fmt.Errorf("billing: assign: %w", err)
	}
	return a, nil
}

// DeleteAssignment removes one assignment.
func (r *Repo) DeleteAssignment(ctx context.Context, tenant, scope, subject string) error {
	res, err := r.db.ExecContext(ctx, r.q(`DELETE FROM billing_assignments WHERE tenant = ? AND scope = ? AND subject = ?`), tenant, scope, subject)
	if err != nil {
		return fmt.Errorf("billing: unassign: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("assignment %s %q: %w", scope, subject, ErrNotFound)
	}
	return nil
}

// ListAssignments returns a tenant's assignments.
func (r *Repo) ListAssignments(ctx context.Context, tenant string) ([]Assignment, error) {
	rows, err := r.db.QueryContext(ctx, r.q(`SELECT a.scope, a.subject, p.name, a.updated_at FROM billing_assignments a
		JOIN billing_plans p ON p.id = a.plan_id WHERE a.tenant = ? ORDER BY a.scope, a.subject`), tenant)
	if err != nil {
		return nil, fmt.Errorf("billing: assignments: %w", err)
	}
	defer rows.Close()
	var out []Assignment
	for rows.Next() {
		a := Assignment{Tenant: tenant}
		var upd store.NullTime
		if err := rows.Scan(&a.Scope, &a.Subject, &a.Plan, &upd); err != nil {
			return nil, err
		}
		a.UpdatedAt = upd.Time
		out = append(out, a)
	}
	return out, rows.Err()
}
