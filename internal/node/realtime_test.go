package node

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/entvoice/entvoice/internal/channel"
	"github.com/entvoice/entvoice/internal/config"
	"github.com/entvoice/entvoice/internal/digest"
	"github.com/entvoice/entvoice/internal/provision"
	"github.com/entvoice/entvoice/internal/provision/memfeed"
	"github.com/entvoice/entvoice/internal/store"
	"github.com/entvoice/entvoice/internal/tenancy"
	"github.com/entvoice/entvoice/internal/testpeer"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

const testPlan = `[phones]
exten => 100,1,Answer()
exten => 100,2,Hangup()
`

// testNode builds a node on free loopback ports with a realtime Source
// and starts it; it stops at cleanup.
func testNode(tb testing.TB, src provision.Source) *Node {
	tb.Helper()
	return testNodeWith(tb, src, "", nil)
}

// testNodeWith is testNode with extra YAML and files in its directory.
func testNodeWith(tb testing.TB, src provision.Source, extraYAML string, files map[string]string) *Node {
	tb.Helper()
	dir := tb.TempDir()
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			tb.Fatal(err)
		}
	}
	port := testpeer.FreePorts(tb, 1)[0]
	rtp := testpeer.FreePortBlock(tb, 20)
	if err := os.WriteFile(filepath.Join(dir, "extensions.conf"), []byte(testPlan), 0o644); err != nil {
		tb.Fatal(err)
	}
	doc := fmt.Sprintf("sip:\n  listen: [\"udp:127.0.0.1:%d\"]\nrtp:\n  ports: \"%d-%d\"\ndata_dir: ./data\ndialplan: extensions.conf\nusers:\n  - {name: \"1001\", secret: s, context: phones}\n%s", port, rtp, rtp+19, extraYAML)
	path := filepath.Join(dir, "entvoice.yaml")
	if err := os.WriteFile(path, []byte(doc), 0o644); err != nil {
		tb.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		tb.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	ctx, cancel := context.WithCancel(context.Background())
	st := openStore(tb, cfg)
	n, err := New(ctx, cfg, Options{Store: st, Source: src, Logger: log})
	if err != nil {
		cancel()
		tb.Fatal(err)
	}
	if err := n.Start(ctx); err != nil {
		cancel()
		n.Shutdown(0)
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		n.Shutdown(time.Second)
		cancel()
	})
	return n
}

func waitRev(tb testing.TB, n *Node, rev int64) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := n.WaitRevision(ctx, rev); err != nil {
		tb.Fatal(err)
	}
}

func user(tenant, name string) provision.User {
	domain := tenant + ".example"
	return provision.User{Tenant: tenant, Name: name, Context: "internal", Enabled: true,
		HA1MD5: digest.HA1("MD5", name, domain, "pw"), HA1SHA256: digest.HA1("SHA-256", name, domain, "pw")}
}

// TestRealtimeMerge: static and realtime configuration merge; tenant
// contexts are namespaced; static wins over a colliding row.
func TestRealtimeMerge(t *testing.T) {
	src := memfeed.New()
	src.PutTenant(provision.Tenant{ID: "acme", Domain: "acme.example", Status: "active"})
	src.PutUser(user("acme", "1001"))
	src.PutUser(provision.User{Tenant: provision.DefaultTenant, Name: "1001", Context: "other", Enabled: true}) // shadowed by static 1001
	src.PutExtension(provision.Extension{Tenant: "acme", Context: "internal", Exten: "100", Priority: 1, App: "Playback", AppData: "x"})
	src.PutExtension(provision.Extension{Context: "phones", Exten: "100", Priority: 1, App: "Congestion"}) // shadowed
	src.PutExtension(provision.Extension{Context: "phones", Exten: "101", Priority: 1, App: "Answer"})
	n := testNode(t, src)
	if n.Revision() != src.Revision() {
		t.Fatalf("revision %d, want %d", n.Revision(), src.Revision())
	}
	plan := n.PBX.Dialplan()
	if st, ok := plan.Find("acme~internal", "100", 1, ""); !ok || st.App != "Playback" {
		t.Errorf("acme's row: %+v", st)
	}
	if st, _ := plan.Find("phones", "100", 1, ""); st.App != "Answer" {
		t.Errorf("static 100 was replaced by %s", st.App)
	}
	if !plan.Exists("phones", "101", 1) || plan.Exists("internal", "100", 1) {
		t.Error("default-tenant row missing, or acme's row outside its namespace")
	}
	dir := n.SIP.Directory()
	if ep, ok := dir.UserIn("acme", "1001"); !ok || ep.Context != "acme~internal" || !ep.Enabled {
		t.Errorf("acme 1001: %+v", ep)
	}
	if ep, _ := dir.User("1001"); ep.Context != "phones" {
		t.Errorf("static 1001 shadowed by realtime: %+v", ep)
	}
	if tn, ok := dir.TenantForHost("ACME.example"); !ok || tn != "acme" {
		t.Errorf("domain lookup: %s %v", tn, ok)
	}
	if tn, ok := dir.TenantForHost("127.0.0.1"); ok || tn != provision.DefaultTenant {
		t.Errorf("IP host: %s %v", tn, ok)
	}
}

// TestRealtimeResyncAndOutage: a Source that is down leaves the node on
// its last configuration and is retried; a node behind the retained feed
// takes a new snapshot.
func TestRealtimeResyncAndOutage(t *testing.T) {
	src := memfeed.New()
	src.SetRetain(2)
	src.PutTenant(provision.Tenant{ID: "acme", Domain: "acme.example", Status: "active"})
	n := testNode(t, src)

	src.SetDown(true)
	src.PutUser(user("acme", "2001"))
	time.Sleep(100 * time.Millisecond)
	if _, ok := n.SIP.Directory().UserIn("acme", "2001"); ok {
		t.Fatal("change applied while the source is down")
	}
	if n.Revision() != 1 {
		t.Fatalf("revision moved to %d while down", n.Revision())
	}
	// Many changes while down: the feed no longer reaches revision 1.
	for i := 0; i < 5; i++ {
		src.PutExtension(provision.Extension{Tenant: "acme", Context: "internal", Exten: fmt.Sprint(300 + i), Priority: 1, App: "Answer"})
	}
	src.SetDown(false)
	waitRev(t, n, src.Revision())
	if _, ok := n.SIP.Directory().UserIn("acme", "2001"); !ok {
		t.Error("user created during the outage missing after resync")
	}
	for i := 0; i < 5; i++ {
		if !n.PBX.Dialplan().Exists("acme~internal", fmt.Sprint(300+i), 1) {
			t.Errorf("row %d missing after resync", 300+i)
		}
	}
	// Deleting the rows removes the context.
	snap, _ := src.Snapshot(context.Background())
	var rev int64
	for _, x := range snap.Extensions {
		rev = src.DeleteExtension(x.ID)
	}
	waitRev(t, n, rev)
	if n.PBX.Dialplan().HasContext("acme~internal") {
		t.Error("context kept after its last row was deleted")
	}
}

// TestRealtimeServicesMidCall: a switch changed mid-call applies to the
// live channels of the user (and only to them).
func TestRealtimeServicesMidCall(t *testing.T) {
	src := memfeed.New()
	src.PutTenant(provision.Tenant{ID: "acme", Domain: "acme.example", Status: "active"})
	id, _ := src.PutUser(user("acme", "1001"))
	src.PutUser(user("acme", "1002"))
	n := testNode(t, src)
	mine := n.Channels.New(channel.Options{Tech: "PJSIP", Endpoint: "1001", Tenant: "acme"})
	other := n.Channels.New(channel.Options{Tech: "PJSIP", Endpoint: "1002", Tenant: "acme"})
	static := n.Channels.New(channel.Options{Tech: "PJSIP", Endpoint: "1001", Tenant: provision.DefaultTenant})
	defer func() {
		for _, c := range []*channel.Channel{mine, other, static} {
			n.Channels.Remove(c)
		}
	}()
	off := false
	u := user("acme", "1001")
	u.ID = id
	u.Services.International = &off
	_, rev := src.PutUser(u)
	waitRev(t, n, rev)
	if mine.Allowed(tenancy.ServiceInternational) || !mine.Allowed(tenancy.ServiceOutbound) {
		t.Errorf("acme 1001's live channel: services %b", mine.Services())
	}
	if !other.Allowed(tenancy.ServiceInternational) || !static.Allowed(tenancy.ServiceInternational) {
		t.Error("the switch reached another user's channel")
	}
	rev = src.PutTenant(provision.Tenant{ID: "acme", Domain: "acme.example", Status: "active", Services: provision.Switches{Outbound: &off}})
	waitRev(t, n, rev)
	if other.Allowed(tenancy.ServiceOutbound) || mine.Allowed(tenancy.ServiceOutbound) || !static.Allowed(tenancy.ServiceOutbound) {
		t.Error("tenant switch not applied to exactly its channels")
	}
}

// BenchmarkRealtimeRebuild measures a full rebuild (snapshot) of 10,000
// users in 100 tenants and 50,000 extension rows.
func BenchmarkRealtimeRebuild(b *testing.B) {
	src := bigSource(100, 100, 5)
	n := testNode(b, src)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		n.rt.snapshot(context.Background())
	}
	b.StopTimer()
	if len(n.SIP.Directory().Users()) != 10001 {
		b.Fatalf("users: %d", len(n.SIP.Directory().Users()))
	}
}

// BenchmarkChangeInForce measures change-to-in-force latency on a node
// holding 10,000 users and 50,000 rows: from the write to the Source to
// the revision being in force (Directory and dialplan swapped). Each
// iteration toggles a user or adds a row, alternately. It reports p50 and
// p99 in ms.
func BenchmarkChangeInForce(b *testing.B) {
	src := bigSource(100, 100, 5)
	n := testNode(b, src)
	snap, _ := src.Snapshot(context.Background())
	users := snap.Users
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		start := time.Now()
		var rev int64
		if i%2 == 0 {
			u := users[i%len(users)]
			u.Enabled = i%4 != 0
			_, rev = src.PutUser(u)
		} else {
			_, rev = src.PutExtension(provision.Extension{Tenant: fmt.Sprintf("t%d", i%100), Context: "internal", Exten: fmt.Sprint(900000 + i), Priority: 1, App: "Answer"})
		}
		waitRev(b, n, rev)
		lat = append(lat, time.Since(start))
	}
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[(len(lat)*99)/100].Microseconds())/1000, "p99-ms")
}

// bigSource has tenants of users each, every user with rows priorities
// in its tenant's context "internal".
func bigSource(tenants, users, rows int) *memfeed.Source {
	src := memfeed.New()
	for t := 0; t < tenants; t++ {
		tn := fmt.Sprintf("t%d", t)
		src.PutTenant(provision.Tenant{ID: tn, Domain: tn + ".example", Status: "active"})
		for u := 0; u < users; u++ {
			name := fmt.Sprint(1000 + u)
			src.PutUser(user(tn, name))
			for p := 1; p <= rows; p++ {
				src.PutExtension(provision.Extension{Tenant: tn, Context: "internal", Exten: name, Priority: p, App: "NoOp", AppData: "x"})
			}
		}
	}
	return src
}

// TestReloadKeepsRealtimeRows: a dialplan reload (AMI Reload, or
// central's reload command) puts the edited extensions.conf in force and
// keeps the realtime rows merged over it; a file with errors is refused and
// the running plan kept.
func TestReloadKeepsRealtimeRows(t *testing.T) {
	src := memfeed.New()
	src.PutExtension(provision.Extension{Context: "phones", Exten: "101", Priority: 1, App: "Answer"})
	n := testNode(t, src)
	conf := n.cfg.Dialplan // resolved to an absolute path by config.Load
	if err := os.WriteFile(conf, []byte(testPlan+"exten => 102,1,Answer()\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := n.ReloadDialplan(ctx); err != nil {
		t.Fatal(err)
	}
	plan := n.PBX.Dialplan()
	if !plan.Exists("phones", "102", 1) || !plan.Exists("phones", "101", 1) || !plan.Exists("phones", "100", 1) {
		t.Fatal("after reload: want the file's 100 and new 102 and the realtime row 101")
	}
	// A later change still applies over the reloaded file.
	src.PutExtension(provision.Extension{Context: "phones", Exten: "103", Priority: 1, App: "Answer"})
	waitRev(t, n, src.Revision())
	if plan := n.PBX.Dialplan(); !plan.Exists("phones", "103", 1) || !plan.Exists("phones", "102", 1) {
		t.Fatal("a realtime change after the reload lost the reloaded file or itself")
	}
	if err := os.WriteFile(conf, []byte("[phones\nexten => 1,1,Answer()\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := n.ReloadDialplan(ctx); err == nil {
		t.Fatal("a broken extensions.conf was reloaded")
	}
	if !n.PBX.Dialplan().Exists("phones", "102", 1) {
		t.Fatal("a refused reload changed the running plan")
	}
}

// openStore opens the node's SQLite store in its data_dir, closed at
// cleanup (after the node's own cleanup, which was registered later).
func openStore(tb testing.TB, cfg *config.Config) *store.Store {
	tb.Helper()
	st, err := store.Open(context.Background(), store.Options{DataDir: cfg.DataDir})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = st.Close() })
	return st
}
