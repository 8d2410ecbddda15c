package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver
)

// DBFile is the SQLite database file name inside Options.DataDir.
const DBFile = "entvoice.db"

// sqliteBusyTimeout is how long a SQLite connection waits for the write
// lock before failing with SQLITE_BUSY.
const sqliteBusyTimeout = 10 * time.Second

// Options configures Open.
type Options struct {
	// DSN selects PostgreSQL when it starts with postgres:// or
	// postgresql://. Empty means SQLite in DataDir.
	DSN string
	// DataDir holds the SQLite file and other node-local state (for example
	// the CDR spool). Required for SQLite.
	DataDir string
	// Logger receives migration and lifecycle messages; nil discards them.
	Logger *slog.Logger
}

// Store is an open, migrated database.
type Store struct {
	db      *sql.DB
	dialect Dialect
	dataDir string
	log     *slog.Logger
}

// Open opens the database described by opts and applies every pending
// migration.
func Open(ctx context.Context, opts Options) (*Store, error) {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Store{dataDir: opts.DataDir, log: log}
	var err error
	switch {
	case opts.DSN == "":
		s.dialect = SQLite
		s.db, err = openSQLite(opts.DataDir)
	case strings.HasPrefix(opts.DSN, "postgres://"), strings.HasPrefix(opts.DSN, "postgresql://"):
		s.dialect = Postgres
		s.db, err = openPostgres(opts.DSN)
	default:
		return nil, errors.New("store: DSN must be empty (SQLite) or start with postgres:// or postgresql://")
	}
	if err != nil {
		return nil, err
	}
	if err := s.db.PingContext(ctx); err != nil {
		_ = s.db.Close()
		return nil, fmt.Errorf("store: connect %s: %w", s.dialect, err)
	}
	if err := s.migrate(ctx); err != nil {
		_ = s.db.Close()
		return nil, err
	}
	return s, nil
}

func openSQLite(dataDir string) (*sql.DB, error) {
	if dataDir == "" {
		return nil, errors.New("store: DataDir is required for SQLite")
	}
	if err := os.MkdirAll(dataDir, 0o750); err != nil {
		return nil, fmt.Errorf("store: create data dir: %w", err)
	}
	path, err := filepath.Abs(filepath.Join(dataDir, DBFile))
	if err != nil {
		return nil, fmt.Errorf("store: data dir: %w", err)
	}
	q := url.Values{}
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", sqliteBusyTimeout.Milliseconds()))
	q.Add("_pragma", "journal_mode(WAL)")
	// NORMAL is durable across a process crash in WAL mode; see package doc.
	q.Add("_pragma", "synchronous(NORMAL)")
	q.Add("_pragma", "foreign_keys(1)")
	// Take the write lock at BEGIN: a deferred transaction that reads and
	// then writes can fail with SQLITE_BUSY without waiting busy_timeout.
	q.Set("_txlock", "immediate")
	dsn := (&url.URL{Scheme: "file", Path: path, RawQuery: q.Encode()}).String()
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("store: open sqlite: %w", err)
	}
	// SQLite serialises writers anyway; a few connections let WAL readers
	// proceed beside the writer without piling up waiting writers.
	db.SetMaxOpenConns(4)
	db.SetMaxIdleConns(4)
	db.SetConnMaxIdleTime(5 * time.Minute)
	return db, nil
}

// Close closes the database.
func (s *Store) Close() error {
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("store: close: %w", err)
	}
	return nil
}

// DB returns the underlying pool. Queries must go through Rebind.
func (s *Store) DB() *sql.DB { return s.db }

// Dialect returns the engine in use.
func (s *Store) Dialect() Dialect { return s.dialect }

// DataDir returns the node data directory given to Open (may be empty for
// PostgreSQL).
func (s *Store) DataDir() string { return s.dataDir }

// Logger returns the store's logger.
func (s *Store) Logger() *slog.Logger { return s.log }

// Rebind rewrites `?` placeholders for the store's engine.
func (s *Store) Rebind(q string) string { return s.dialect.Rebind(q) }
