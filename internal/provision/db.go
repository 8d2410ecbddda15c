package provision

import (
	"context"
	"database/sql"
	"errors"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/entvoice/entvoice/internal/store"
)

// rowScanner is *sql.Row or *sql.Rows.
type rowScanner interface{ Scan(dest ...any) error }

// isUnique reports a unique-constraint violation (PostgreSQL SQLSTATE
// 23505, SQLite SQLITE_CONSTRAINT_UNIQUE), naming the constraint's
// columns when it can.
func isUnique(err error) (string, bool) {
	var pg *pgconn.PgError
	if errors.As(err, &pg) {
		if pg.Code == "23505" {
			return pg.ConstraintName, true
		}
		return "", false
	}
	if err != nil {
		msg := err.Error()
		if i := strings.Index(msg, "UNIQUE constraint failed: "); i >= 0 {
			return msg[i+len("UNIQUE constraint failed: "):], true
		}
	}
	return "", false
}

// isForeignKey reports a foreign-key violation (23503; SQLite's
// SQLITE_CONSTRAINT_FOREIGNKEY).
func isForeignKey(err error) bool {
	var pg *pgconn.PgError
	if errors.As(err, &pg) {
		return pg.Code == "23503"
	}
	return err != nil && strings.Contains(err.Error(), "FOREIGN KEY constraint failed")
}

func boolArg(b *bool) any {
	if b == nil {
		return nil
	}
	if *b {
		return 1
	}
	return 0
}

func intBool(i int64) bool { return i != 0 }

func nullBool(n sql.NullInt64) *bool {
	if !n.Valid {
		return nil
	}
	b := n.Int64 != 0
	return &b
}

func switchArgs(s Switches) []any {
	return []any{boolArg(s.Recording), boolArg(s.Voicemail), boolArg(s.AGI), boolArg(s.Speech), boolArg(s.Outbound), boolArg(s.International)}
}

type switchScan [6]sql.NullInt64

func (s *switchScan) dest() []any {
	return []any{&s[0], &s[1], &s[2], &s[3], &s[4], &s[5]}
}

func (s *switchScan) get() Switches {
	return Switches{nullBool(s[0]), nullBool(s[1]), nullBool(s[2]), nullBool(s[3]), nullBool(s[4]), nullBool(s[5])}
}

const switchCols = "sw_recording, sw_voicemail, sw_agi, sw_speech, sw_outbound, sw_international"

func joinList(l []string) string { return strings.Join(l, ",") }

func splitList(s string) []string {
	if s == "" {
		return []string{}
	}
	return strings.Split(s, ",")
}

// forUpdate locks a row read in a transaction on PostgreSQL; SQLite's
// write transaction (BEGIN IMMEDIATE) already holds the database lock.
func forUpdate(st *store.Store) string {
	if st.Dialect() == store.Postgres {
		return " FOR UPDATE"
	}
	return ""
}

// maxParams bounds one statement's parameters (SQLite's default
// SQLITE_MAX_VARIABLE_NUMBER is 32766, PostgreSQL's limit 65535).
const maxParams = 30000

// bulkInsert inserts rows into table with multi-row INSERTs, preparing the
// full-size statement once. When returning is set, scan is called for each
// returned row.
func bulkInsert(ctx context.Context, st *store.Store, tx *sql.Tx, table string, cols []string, rows [][]any, returning string, scan func(rowScanner) error) error {
	per := max(1, min(500, maxParams/len(cols)))
	one := "(" + strings.TrimSuffix(strings.Repeat("?, ", len(cols)), ", ") + ")"
	build := func(n int) string {
		var b strings.Builder
		b.WriteString("INSERT INTO " + table + " (" + strings.Join(cols, ", ") + ") VALUES ")
		for i := range n {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(one)
		}
		if returning != "" {
			b.WriteString(" RETURNING " + returning)
		}
		return st.Rebind(b.String())
	}
	var full *sql.Stmt
	defer func() {
		if full != nil {
			_ = full.Close()
		}
	}()
	args := make([]any, 0, per*len(cols))
	for len(rows) > 0 {
		n := min(per, len(rows))
		args = args[:0]
		for _, r := range rows[:n] {
			args = append(args, r...)
		}
		var stmt *sql.Stmt
		var err error
		if n == per {
			if full == nil {
				if full, err = tx.PrepareContext(ctx, build(n)); err != nil {
					return err
				}
			}
			stmt = full
		} else {
			if stmt, err = tx.PrepareContext(ctx, build(n)); err != nil {
				return err
			}
		}
		if returning == "" {
			_, err = stmt.ExecContext(ctx, args...)
		} else {
			var rs *sql.Rows
			rs, err = stmt.QueryContext(ctx, args...)
			if err == nil {
				for rs.Next() {
					if err = scan(rs); err != nil {
						break
					}
				}
				if err == nil {
					err = rs.Err()
				}
				_ = rs.Close()
			}
		}
		if stmt != full {
			_ = stmt.Close()
		}
		if err != nil {
			return err
		}
		rows = rows[n:]
	}
	return nil
}

type storeTime = store.NullTime

// IsUniqueViolation reports whether err is a unique-constraint violation
// on either engine.
func IsUniqueViolation(err error) bool {
	_, ok := isUnique(err)
	return ok
}
