// Package storetest runs store-backed tests on every engine: SQLite always,
// PostgreSQL when ENTVOICE_TEST_PG_DSN is set. Each PostgreSQL test gets a
// schema of its own (created fresh, put first on search_path through the
// DSN, dropped at cleanup) so parallel tests and CI runs never collide.
package storetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/entvoice/entvoice/internal/store"
)

// EnvPGDSN names the environment variable holding a PostgreSQL DSN for
// tests, e.g. postgres://postgres@127.0.0.1:5432/test?sslmode=disable.
const EnvPGDSN = "ENTVOICE_TEST_PG_DSN"

// Run calls fn in a subtest per engine ("sqlite", "postgres") with fresh
// Options: a new temporary DataDir and, on PostgreSQL, a new schema.
// Open the store with [Open] (several times if the test needs to).
func Run(t *testing.T, fn func(t *testing.T, opts store.Options)) {
	t.Helper()
	t.Run("sqlite", func(t *testing.T) {
		fn(t, store.Options{DataDir: t.TempDir(), Logger: Logger(t)})
	})
	t.Run("postgres", func(t *testing.T) {
		fn(t, PostgresOptions(t))
	})
}

// PostgresOptions returns Options for a fresh PostgreSQL schema, or skips
// the test when ENTVOICE_TEST_PG_DSN is unset.
func PostgresOptions(t testing.TB) store.Options {
	t.Helper()
	base := os.Getenv(EnvPGDSN)
	if base == "" {
		t.Skip(EnvPGDSN + " not set")
	}
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	schema := "t_" + hex.EncodeToString(b[:])
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatalf("storetest: connect %s: %v", EnvPGDSN, err)
	}
	defer func() { _ = conn.Close(context.Background()) }()
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatalf("storetest: create schema: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		c, err := pgx.Connect(ctx, base)
		if err != nil {
			t.Errorf("storetest: cleanup connect: %v", err)
			return
		}
		defer func() { _ = c.Close(context.Background()) }()
		if _, err := c.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Errorf("storetest: drop schema %s: %v", schema, err)
		}
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("storetest: %s is not a URL: %v", EnvPGDSN, err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return store.Options{DSN: u.String(), DataDir: t.TempDir(), Logger: Logger(t)}
}

// Open opens a store and closes it at cleanup.
func Open(t testing.TB, opts store.Options) *store.Store {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st, err := store.Open(ctx, opts)
	if err != nil {
		t.Fatalf("store.Open: %v", err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return st
}

// Logger returns a logger writing to the test log.
func Logger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(string(p))
	return len(p), nil
}

// PostgresOptionsOrSQLite returns PostgreSQL Options when
// ENTVOICE_TEST_PG_DSN is set, else SQLite Options, for tests that need
// one store of either kind.
func PostgresOptionsOrSQLite(t testing.TB) store.Options {
	t.Helper()
	if os.Getenv(EnvPGDSN) != "" {
		return PostgresOptions(t)
	}
	return store.Options{DataDir: t.TempDir(), Logger: Logger(t)}
}
