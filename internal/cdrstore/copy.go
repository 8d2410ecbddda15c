package cdrstore

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/entvoice/entvoice/internal/cdr"
	"github.com/entvoice/entvoice/internal/store"
)

// copyMinRows is the batch size from which Insert on PostgreSQL uses COPY:
// central taking a node's batch of hundreds of CDRs.
const copyMinRows = 50

// copyUpsert stores recs on PostgreSQL with a binary COPY into a
// temporary table and one INSERT ... SELECT with the same ON CONFLICT
// (uniqueid) update as upsertTx: the rows are not parsed and bound 23
// parameters at a time, which made a PostgreSQL central drain a node's
// backlog at half a SQLite central's rate. One transaction, as upsertTx.
func copyUpsert(ctx context.Context, st *store.Store, recs []*cdr.Record) error {
	recs = dedupe(recs)
	conn, err := st.DB().Conn(ctx)
	if err != nil {
		return fmt.Errorf("cdr: connection: %w", err)
	}
	defer conn.Close()
	cols := strings.Split(strings.ReplaceAll(recordColumns, `"`, ""), ", ")
	rows := make([][]any, len(recs))
	for i, r := range recs {
		rows[i] = appendArgs(make([]any, 0, numRecordColumns), st, r)
	}
	return conn.Raw(func(dc any) error {
		sc, ok := dc.(*stdlib.Conn)
		if !ok {
			return fmt.Errorf("cdr: copy needs a pgx connection, have %T", dc)
		}
		tx, err := sc.Conn().Begin(ctx)
		if err != nil {
			return fmt.Errorf("cdr: begin: %w", err)
		}
		defer func() { _ = tx.Rollback(ctx) }()
		// The staging table lives as long as the connection and is
		// emptied at every commit.
		if _, err := tx.Exec(ctx, "CREATE TEMP TABLE IF NOT EXISTS cdr_in ON COMMIT DELETE ROWS AS SELECT "+recordColumns+" FROM cdr WITH NO DATA"); err != nil {
			return fmt.Errorf("cdr: staging table: %w", err)
		}
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{"cdr_in"}, cols, pgx.CopyFromRows(rows)); err != nil {
			return fmt.Errorf("cdr: copy: %w", err)
		}
		if _, err := tx.Exec(ctx, "INSERT INTO cdr ("+recordColumns+") SELECT "+recordColumns+" FROM cdr_in WHERE true"+upsertTail); err != nil {
			return fmt.Errorf("cdr: upsert from staging: %w", err)
		}
		if err := tx.Commit(ctx); err != nil {
			return fmt.Errorf("cdr: commit: %w", err)
		}
		return nil
	})
}
