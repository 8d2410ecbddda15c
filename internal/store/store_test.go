package store_test

import (
	"context"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/entvoice/entvoice/internal/store"
	"github.com/entvoice/entvoice/internal/store/storetest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// migrationCount is the number of migration files (each is one version,
// numbered from 1 without gaps).
func migrationCount(t *testing.T) int {
	t.Helper()
	es, err := os.ReadDir("migrations")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range es {
		if strings.HasSuffix(e.Name(), ".sql") {
			n++
		}
	}
	return n
}

func TestMigrationsIdempotent(t *testing.T) {
	storetest.Run(t, func(t *testing.T, opts store.Options) {
		ctx := context.Background()
		for i := range 3 {
			st := storetest.Open(t, opts)
			v, err := st.SchemaVersion(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if want := int64(migrationCount(t)); v != want {
				t.Fatalf("open %d: schema version %d, want %d", i, v, want)
			}
			var n int
			if err := st.DB().QueryRowContext(ctx, "SELECT COUNT(*) FROM schema_migrations").Scan(&n); err != nil {
				t.Fatal(err)
			}
			if want := migrationCount(t); n != want {
				t.Fatalf("open %d: %d schema_migrations rows, want %d", i, n, want)
			}
			if err := st.Close(); err != nil {
				t.Fatal(err)
			}
		}
	})
}

func TestConcurrentOpen(t *testing.T) {
	storetest.Run(t, func(t *testing.T, opts store.Options) {
		var wg sync.WaitGroup
		errs := make(chan error, 4)
		for range 4 {
			wg.Go(func() {
				st, err := store.Open(context.Background(), opts)
				if err != nil {
					errs <- err
					return
				}
				errs <- st.Close()
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		st := storetest.Open(t, opts)
		var n int
		if err := st.DB().QueryRow("SELECT COUNT(*) FROM schema_migrations").Scan(&n); err != nil || n != migrationCount(t) {
			t.Fatalf("schema_migrations rows %d err %v, want %d", n, err, migrationCount(t))
		}
	})
}

func TestSchemaTablesAndTimes(t *testing.T) {
	storetest.Run(t, func(t *testing.T, opts store.Options) {
		ctx := context.Background()
		st := storetest.Open(t, opts)
		db := st.DB()
		ins := st.Rebind("INSERT INTO astdb (family, key, value) VALUES (?, ?, ?)")
		if _, err := db.ExecContext(ctx, ins, "cidname", "5551234", "Alice"); err != nil {
			t.Fatal(err)
		}
		if _, err := db.ExecContext(ctx, ins, "cidname", "5551234", "Bob"); err == nil {
			t.Fatal("duplicate astdb family/key accepted")
		}
		start := time.Date(2024, 3, 1, 12, 0, 0, 123456789, time.FixedZone("X", 3600))
		if _, err := db.ExecContext(ctx, st.Rebind(`INSERT INTO cdr (uniqueid, start, answer, "end") VALUES (?, ?, ?, ?)`),
			"u1", st.TimeArg(start), st.TimeArg(time.Time{}), st.TimeArg(start.Add(1500*time.Millisecond))); err != nil {
			t.Fatal(err)
		}
		var s, a, e store.NullTime
		var id int64
		var tenant, node string
		if err := db.QueryRowContext(ctx, st.Rebind(`SELECT id, tenant, node, start, answer, "end" FROM cdr WHERE uniqueid = ?`), "u1").
			Scan(&id, &tenant, &node, &s, &a, &e); err != nil {
			t.Fatal(err)
		}
		want := time.Date(2024, 3, 1, 11, 0, 0, 123456000, time.UTC)
		if !s.Time.Equal(want) || s.Time.Location() != time.UTC {
			t.Fatalf("start %v, want %v UTC", s.Time, want)
		}
		if !a.Time.IsZero() {
			t.Fatalf("answer %v, want unset", a.Time)
		}
		if !e.Time.Equal(want.Add(1500 * time.Millisecond)) {
			t.Fatalf("end %v", e.Time)
		}
		if id <= 0 || tenant != "" || node != "" {
			t.Fatalf("id %d tenant %q node %q", id, tenant, node)
		}
		// Range comparison on the column must follow time order.
		var n int
		if err := db.QueryRowContext(ctx, st.Rebind("SELECT COUNT(*) FROM cdr WHERE start >= ? AND start < ?"),
			st.TimeArg(want), st.TimeArg(want.Add(time.Microsecond))).Scan(&n); err != nil || n != 1 {
			t.Fatalf("range count %d err %v", n, err)
		}
		if _, err := db.ExecContext(ctx, st.Rebind(`INSERT INTO cdr (uniqueid, start) VALUES (?, ?)`), "u1", st.TimeArg(start)); err == nil {
			t.Fatal("duplicate uniqueid accepted")
		}
	})
}

func TestSQLitePragmas(t *testing.T) {
	st := storetest.Open(t, store.Options{DataDir: t.TempDir()})
	if st.Dialect() != store.SQLite {
		t.Fatalf("dialect %v", st.Dialect())
	}
	conn, err := st.DB().Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	for pragma, want := range map[string]string{
		"journal_mode": "wal", "synchronous": "1", "foreign_keys": "1", "busy_timeout": "10000",
	} {
		var got string
		if err := conn.QueryRowContext(context.Background(), "PRAGMA "+pragma).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if strings.ToLower(got) != want {
			t.Errorf("PRAGMA %s = %q, want %q", pragma, got, want)
		}
	}
}

func TestOpenRejectsBadConfig(t *testing.T) {
	ctx := context.Background()
	if _, err := store.Open(ctx, store.Options{DSN: "mysql://x"}); err == nil {
		t.Error("mysql DSN accepted")
	}
	if _, err := store.Open(ctx, store.Options{}); err == nil {
		t.Error("SQLite without DataDir accepted")
	}
}

func TestRebind(t *testing.T) {
	cases := []struct{ in, want string }{
		{"SELECT 1", "SELECT 1"},
		{"a = ? AND b = ?", "a = $1 AND b = $2"},
		{"x = '?' AND y = ?", "x = '?' AND y = $1"},
		{`"we?rd" = ? -- why?` + "\n AND z = ?", `"we?rd" = $1 -- why?` + "\n AND z = $2"},
		{"/* ? */ ? 'it''s?' ?", "/* ? */ $1 'it''s?' $2"},
		{"unterminated '?", "unterminated '?"},
	}
	for _, c := range cases {
		if got := store.Postgres.Rebind(c.in); got != c.want {
			t.Errorf("Rebind(%q) = %q, want %q", c.in, got, c.want)
		}
		if got := store.SQLite.Rebind(c.in); got != c.in {
			t.Errorf("SQLite Rebind changed %q", c.in)
		}
	}
}
