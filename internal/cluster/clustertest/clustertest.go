// Package clustertest starts hubs and links for the tests of the
// distributed tier: a central (store, provisioning repository, CA), its
// hub with a searchable log, enrolled nodes and their links.
package clustertest

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/entvoice/entvoice/internal/cdr"
	"github.com/entvoice/entvoice/internal/cluster/hub"
	"github.com/entvoice/entvoice/internal/cluster/link"
	"github.com/entvoice/entvoice/internal/cluster/pki"
	"github.com/entvoice/entvoice/internal/control"
	"github.com/entvoice/entvoice/internal/provision"
	"github.com/entvoice/entvoice/internal/store"
	"github.com/entvoice/entvoice/internal/store/storetest"
)

// Heartbeat is the tests' heartbeat unless they set another.
const Heartbeat = 200 * time.Millisecond

// LogBuf is a test log that can be searched.
type LogBuf struct {
	t  testing.TB
	mu sync.Mutex
	b  bytes.Buffer
}

// NewLog logs to t and keeps the text.
func NewLog(t testing.TB) *LogBuf { return &LogBuf{t: t} }

func (w *LogBuf) Write(p []byte) (int, error) {
	w.mu.Lock()
	w.b.Write(p)
	w.mu.Unlock()
	w.t.Log(strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}

// Logger is a debug-level logger to w.
func (w *LogBuf) Logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// Has reports whether the log holds s.
func (w *LogBuf) Has(s string) bool { return w.Count(s) > 0 }

// Count is how many times the log holds s.
func (w *LogBuf) Count(s string) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return strings.Count(w.b.String(), s)
}

// Central is a central's store, provisioning repository and CA.
type Central struct {
	Store *store.Store
	Repo  *provision.Repo
	CA    *pki.CA
}

// NewCentral makes a central on st with a CA of its own.
func NewCentral(t testing.TB, st *store.Store) *Central {
	t.Helper()
	repo, err := provision.New(context.Background(), st, provision.Options{Realm: "entvoice"})
	if err != nil {
		t.Fatal(err)
	}
	ca, err := pki.LoadOrCreateCA("", "", filepath.Join(t.TempDir(), "cluster"))
	if err != nil {
		t.Fatal(err)
	}
	return &Central{Store: st, Repo: repo, CA: ca}
}

// Hub is a running hub of a Central.
type Hub struct {
	*hub.Hub
	*Central
	Log *LogBuf
	URL string
}

// Start starts a hub; o's Store, Source, CA, Listen (127.0.0.1:0),
// Heartbeat and Logger default to the central's and the tests'. It is
// closed when the test ends (or before, by Close).
func (c *Central) Start(t testing.TB, o hub.Options) *Hub {
	t.Helper()
	lb := NewLog(t)
	o.Store, o.Source, o.CA = c.Store, c.Repo, c.CA
	if o.Listen == "" {
		o.Listen = "127.0.0.1:0"
	}
	if o.Heartbeat == 0 {
		o.Heartbeat = Heartbeat
	}
	if o.Logger == nil {
		o.Logger = lb.Logger()
	}
	h, err := hub.Start(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Close)
	return &Hub{Hub: h, Central: c, Log: lb, URL: "https://" + h.Addr().String()}
}

// StartHub starts a hub on a central of its own, on a store made with
// opts.
func StartHub(t testing.TB, opts store.Options, o hub.Options) *Hub {
	t.Helper()
	return NewCentral(t, storetest.Open(t, opts)).Start(t, o)
}

// Token makes a node token for name, usable from allow (CIDRs).
func (h *Hub) Token(t testing.TB, name, allow string, ttl time.Duration) string {
	t.Helper()
	ps, err := control.ParseAllow([]string{allow})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := h.Registry().CreateToken(context.Background(), h.CA, name, ps, ttl)
	if err != nil {
		t.Fatal(err)
	}
	return tok.String()
}

// Enrol enrols node name from 127.0.0.1 and returns its data dir.
func (h *Hub) Enrol(t testing.TB, name string) string {
	t.Helper()
	dir := t.TempDir()
	if _, err := link.Join(context.Background(), dir, h.URL, h.Token(t, name, "127.0.0.0/8", time.Hour), ""); err != nil {
		t.Fatal(err)
	}
	return dir
}

// StartLink starts the link of the node enrolled in dataDir (o's
// DataDir, Heartbeat and Logger default to it and the tests'); it is
// closed when the test ends (or before, by Close).
func StartLink(t testing.TB, dataDir string, o link.Options, node ...link.Node) *link.Link {
	t.Helper()
	o.DataDir = dataDir
	if o.Heartbeat == 0 {
		o.Heartbeat = Heartbeat
	}
	if o.Logger == nil {
		o.Logger = storetest.Logger(t)
	}
	l, err := link.New(o)
	if err != nil {
		t.Fatal(err)
	}
	var n link.Node
	if len(node) > 0 {
		n = node[0]
	}
	l.Start(context.Background(), n)
	t.Cleanup(l.Close)
	return l
}

// WaitFor waits up to 10 s for cond.
func WaitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// CDRs are n answered calls of node site-a, numbered from from.
func CDRs(n int, from int) []cdr.Record {
	start := time.Date(2026, 11, 29, 9, 0, 0, 0, time.UTC)
	out := make([]cdr.Record, n)
	for i := range out {
		k := from + i
		out[i] = cdr.Record{Src: "1001", Dst: "600", DContext: "internal", Channel: fmt.Sprintf("PJSIP/1001-%08x", k),
			Start: start.Add(time.Duration(k) * time.Second), End: start.Add(time.Duration(k)*time.Second + 3*time.Second),
			Duration: 3, Disposition: cdr.DispositionAnswered, UniqueID: fmt.Sprintf("site-a-%d.%d", 1700000000, k),
			LinkedID: fmt.Sprintf("site-a-%d.%d", 1700000000, k), Node: "site-a"}
	}
	return out
}

// CentralCDRs counts the CDRs in st and their distinct uniqueids.
func CentralCDRs(t testing.TB, st *store.Store) (rows, distinct int) {
	t.Helper()
	if err := st.DB().QueryRow("SELECT COUNT(*), COUNT(DISTINCT uniqueid) FROM cdr").Scan(&rows, &distinct); err != nil {
		t.Fatal(err)
	}
	return rows, distinct
}
