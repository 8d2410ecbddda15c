package system_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/entvoice/entvoice/internal/config"
	"github.com/entvoice/entvoice/internal/provision"
	"github.com/entvoice/entvoice/internal/store/storetest"
	"github.com/entvoice/entvoice/internal/system"
	"github.com/entvoice/entvoice/internal/testpeer"
)

// BenchmarkChangeInForce measures what `entvoice serve` does on a
// provisioning write: commit in the store (SQLite, and PostgreSQL when
// ENTVOICE_TEST_PG_DSN is set), change feed, node rebuild and swap, until
// the node reports the revision in force. 1,000 users are provisioned
// first; each iteration disables or enables one of them.
//
//	go test -run '^$' -bench ChangeInForce -benchtime 300x ./internal/system/
func BenchmarkChangeInForce(b *testing.B) {
	b.Run("sqlite", func(b *testing.B) { benchChangeInForce(b, "") })
	b.Run("postgres", func(b *testing.B) {
		if os.Getenv(storetest.EnvPGDSN) == "" {
			b.Skip(storetest.EnvPGDSN + " not set")
		}
		benchChangeInForce(b, storetest.PostgresOptions(b).DSN)
	})
}

func benchChangeInForce(b *testing.B, dsn string) {
	dir := b.TempDir()
	port := testpeer.FreePorts(b, 1)[0]
	rtp := testpeer.FreePortBlock(b, 20)
	doc := fmt.Sprintf("sip:\n  listen: [\"udp:127.0.0.1:%d\"]\nrtp:\n  ports: \"%d-%d\"\ndata_dir: ./data\nhttp: {listen: \"off\"}\nami: {listen: \"off\"}\ndatabase: {dsn: %q}\n", port, rtp, rtp+19, dsn)
	path := filepath.Join(dir, "entvoice.yaml")
	if err := os.WriteFile(path, []byte(doc), 0o644); err != nil {
		b.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	log := slog.New(slog.DiscardHandler)
	p, err := system.Serve(ctx, cfg, system.Options{Logger: log})
	if err != nil {
		b.Fatal(err)
	}
	if err := p.Start(ctx); err != nil {
		b.Fatal(err)
	}
	defer p.Stop()
	n, c := p.Node, p.Central
	if _, err := c.Repo.CreateTenant(ctx, provision.Tenant{ID: "acme", Name: "ACME", Domain: "acme.example"}); err != nil {
		b.Fatal(err)
	}
	const users = 1000
	for i := range users {
		if _, err := c.Repo.CreateUser(ctx, provision.User{Tenant: "acme", Name: fmt.Sprint(1000 + i), Context: "internal", Enabled: true}, fmt.Sprintf("password-%d", i)); err != nil {
			b.Fatal(err)
		}
	}
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		start := time.Now()
		u, err := c.Repo.UpdateUser(ctx, "acme", fmt.Sprint(1000+i%users), nil, func(u *provision.User) error {
			u.Enabled = !u.Enabled
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
		wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		err = n.WaitRevision(wctx, u.Revision)
		cancel()
		if err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(start))
	}
	b.StopTimer()
	slices.Sort(lat)
	pct := func(p float64) float64 { return float64(lat[int(float64(len(lat)-1)*p)].Microseconds()) / 1000 }
	b.ReportMetric(pct(0.5), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
	b.ReportMetric(float64(lat[len(lat)-1].Microseconds())/1000, "max-ms")
}
