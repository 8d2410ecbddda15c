// Package store owns entVoice's relational database: opening it, migrating
// its schema and the small helpers repositories share.
//
// Two engines are supported from one set of migrations:
//
//   - SQLite (modernc.org/sqlite, pure Go), the embedded default, in
//     DataDir/entvoice.db. Every connection runs journal_mode=WAL,
//     busy_timeout, synchronous=NORMAL and foreign_keys=ON. In WAL mode
//     synchronous=NORMAL fsyncs the WAL only at checkpoints, so a committed
//     transaction survives a crash of the entVoice process (the WAL is in the
//     OS page cache and is replayed on the next open) but the last
//     transactions before an operating-system crash or power loss may be
//     rolled back. The database stays consistent in both cases.
//   - PostgreSQL (github.com/jackc/pgx/v5) when the DSN starts with
//     postgres:// or postgresql://.
//
// Queries are written once with `?` placeholders and passed through
// [Store.Rebind], which turns them into `$1, $2, ...` for PostgreSQL.
// Timestamps are stored in UTC with microsecond precision: TIMESTAMP(6) on
// PostgreSQL and a fixed-width TEXT "2006-01-02 15:04:05.000000" on SQLite,
// which sorts and compares correctly as text. Use [Store.TimeArg] to bind a
// time and [NullTime] to scan one.
package store
