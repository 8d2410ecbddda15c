package billing

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/entvoice/entvoice/internal/billing/tariff"
)

// addVersionCopy stores a version on PostgreSQL: the version row, then
// every rate by one binary COPY, in one transaction (as cdr.copyUpsert
// does for CDR batches). A million rows are not parsed and bound eleven
// parameters at a time.
func (r *Repo) addVersionCopy(ctx context.Context, v *Version, rates []tariff.Rate) error {
	conn, err := r.db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("billing: connection: %w", err)
	}
	defer conn.Close()
	return conn.Raw(func(dc any) error {
		sc, ok := dc.(*stdlib.Conn)
		if !ok {
			return fmt.Errorf("billing: copy needs a pgx connection, have %T", dc)
		}
		tx, err := sc.Conn().Begin(ctx)
		if err != nil {
			return fmt.Errorf("billing: begin: %w", err)
		}
		defer func() { _ = tx.Rollback(ctx) }()
		if err := tx.QueryRow(ctx, r.q(insertVersionSQL), v.DeckID, v.DeckID, v.EffectiveFrom, v.Rates, v.Prefixes, v.Note, v.CreatedAt).
			Scan(&v.ID, &v.Version); err != nil {
			return fmt.Errorf("billing: add version: %w", err)
		}
		i := 0
		src := pgx.CopyFromFunc(func() ([]any, error) {
			if i == len(rates) {
				return nil, nil
			}
			row := r.rateArgs(make([]any, 0, numRateColumns), v.ID, &rates[i])
			i++
			return row, nil
		})
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{"billing_rates"}, strings.Split(rateColumns, ", "), src); err != nil {
			return fmt.Errorf("billing: copy rates: %w", err)
		}
		if err := tx.Commit(ctx); err != nil {
			return fmt.Errorf("billing: commit version: %w", err)
		}
		return nil
	})
}
