package cluster

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/entvoice/entvoice/internal/provision"
	"github.com/entvoice/entvoice/internal/store"
	"github.com/entvoice/entvoice/internal/store/storetest"
)

// logBuf is a test log that can be searched.
type logBuf struct {
	t  testing.TB
	mu sync.Mutex
	b  bytes.Buffer
}

func (w *logBuf) Write(p []byte) (int, error) {
	w.mu.Lock()
	w.b.Write(p)
	w.mu.Unlock()
	w.t.Log(strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}

func (w *logBuf) has(s string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return strings.Contains(w.b.String(), s)
}

type testHub struct {
	log  *logBuf
	hub  *Hub
	ca   *CA
	st   *store.Store
	repo *provision.Repo
	url  string
}

func startTestHub(t *testing.T, opts store.Options) *testHub {
	t.Helper()
	return startTestHubOn(t, storetest.Open(t, opts), nil)
}

func startTestHubOn(t *testing.T, st *store.Store, remote *Remote) *testHub {
	t.Helper()
	ctx := context.Background()
	repo, err := provision.New(ctx, st, provision.Options{Realm: "entvoice"})
	if err != nil {
		t.Fatal(err)
	}
	ca, err := LoadOrCreateCA("", "", filepath.Join(t.TempDir(), "cluster"))
	if err != nil {
		t.Fatal(err)
	}
	lb := &logBuf{t: t}
	h, err := StartHub(ctx, HubOptions{Store: st, Source: repo, CA: ca, Listen: "127.0.0.1:0", Heartbeat: 200 * time.Millisecond, Remote: remote,
		Logger: slog.New(slog.NewTextHandler(lb, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Close)
	return &testHub{log: lb, hub: h, ca: ca, st: st, repo: repo, url: "https://" + h.Addr().String()}
}

func (th *testHub) token(t *testing.T, name, allow string, ttl time.Duration) string {
	t.Helper()
	ps, err := ParseAllow([]string{allow})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := th.hub.Registry().CreateToken(context.Background(), th.ca, name, ps, ttl)
	if err != nil {
		t.Fatal(err)
	}
	return tok.String()
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestTokenFormat(t *testing.T) {
	tok, err := newToken([32]byte{1, 2, 3})
	if err != nil {
		t.Fatal(err)
	}
	back, err := ParseToken(tok.String())
	if err != nil || back != tok {
		t.Fatalf("round trip: %v %+v != %+v", err, back, tok)
	}
	for _, bad := range []string{"", "evn1", "evn2." + strings.TrimPrefix(tok.String(), "evn1."), tok.String() + "x", "evn1.zz.aa.bb"} {
		if _, err := ParseToken(bad); !errors.Is(err, ErrBadToken) {
			t.Errorf("ParseToken(%q) = %v, want ErrBadToken", bad, err)
		}
	}
}

func TestCAPersistsAndOperatorCA(t *testing.T) {
	dir := t.TempDir()
	a, err := LoadOrCreateCA("", "", dir)
	if err != nil {
		t.Fatal(err)
	}
	b, err := LoadOrCreateCA("", "", dir)
	if err != nil {
		t.Fatal(err)
	}
	if a.Fingerprint() != b.Fingerprint() {
		t.Fatal("the CA changed between starts")
	}
	if fi, err := os.Stat(filepath.Join(dir, "ca.key")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("ca.key mode: %v %v", fi, err)
	}
	// The operator's CA, given as files.
	c, err := LoadOrCreateCA(filepath.Join(dir, "ca.crt"), filepath.Join(dir, "ca.key"), t.TempDir())
	if err != nil || c.Fingerprint() != a.Fingerprint() {
		t.Fatalf("operator CA: %v", err)
	}
	other := t.TempDir()
	if _, err := LoadOrCreateCA("", "", other); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadOrCreateCA(filepath.Join(dir, "ca.crt"), filepath.Join(other, "ca.key"), t.TempDir()); err == nil {
		t.Fatal("a CA certificate with another CA's key was accepted")
	}
}

func TestEnrolLinkAndConfig(t *testing.T) {
	th := startTestHub(t, storetest.PostgresOptionsOrSQLite(t))
	ctx := context.Background()
	if _, err := th.repo.CreateUser(ctx, provision.User{Name: "alice"}, "alicepass1"); err != nil {
		t.Fatal(err)
	}
	tok := th.token(t, "site-a", "127.0.0.0/8", time.Hour)
	dataDir := t.TempDir()
	name, err := Join(ctx, dataDir, th.url, tok, "")
	if err != nil || name != "site-a" {
		t.Fatalf("Join = %q, %v", name, err)
	}
	for _, f := range []string{nodeKeyFile, nodeCertFile, nodeCAFile} {
		if _, err := os.Stat(filepath.Join(ClusterDir(dataDir), f)); err != nil {
			t.Fatal(err)
		}
	}
	l, err := NewLink(LinkOptions{DataDir: dataDir, Heartbeat: 200 * time.Millisecond, Logger: storetest.Logger(t)})
	if err != nil {
		t.Fatal(err)
	}
	l.Start(ctx)
	waitFor(t, "the first snapshot", func() bool { return l.Revision() > 0 })
	s, err := l.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Users) != 1 || s.Users[0].Name != "alice" || s.Users[0].HA1MD5 == "" || s.Users[0].HA1SHA256 == "" {
		t.Fatalf("snapshot users = %+v (the HA1s must travel)", s.Users)
	}
	notify := l.Notify()
	u, err := th.repo.CreateUser(ctx, provision.User{Name: "bob"}, "bobpass123")
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "bob's revision", func() bool { return l.Revision() >= u.Revision })
	select {
	case <-notify:
	case <-time.After(5 * time.Second):
		t.Fatal("no notification")
	}
	cs, err := l.Changes(ctx, s.Revision, 100)
	if err != nil || len(cs) != 1 || cs[0].User == nil || cs[0].User.Name != "bob" || cs[0].User.HA1MD5 == "" {
		t.Fatalf("Changes = %+v, %v", cs, err)
	}
	if _, err := l.Changes(ctx, s.Revision-1, 100); !errors.Is(err, provision.ErrResync) {
		t.Fatalf("Changes before the snapshot = %v, want ErrResync", err)
	}
	waitFor(t, "the node's last_seen", func() bool {
		n, err := th.hub.Registry().Node(ctx, "site-a")
		return err == nil && !n.LastSeen.IsZero() && n.Revision >= u.Revision
	})
	l.Close()

	// Survivability: with central gone, a new Link (a restarted node)
	// serves the persisted configuration.
	th.hub.Close()
	l2, err := NewLink(LinkOptions{DataDir: dataDir, Heartbeat: 200 * time.Millisecond, Logger: storetest.Logger(t)})
	if err != nil {
		t.Fatal(err)
	}
	l2.Start(ctx)
	defer l2.Close()
	s2, err := l2.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// The consumer is woken at once to take the changes after the
	// persisted snapshot (nothing else would wake it with central away).
	select {
	case <-l2.Notify():
	default:
		t.Fatal("a fresh Notify channel does not wake its consumer")
	}
	cs2, err := l2.Changes(ctx, s2.Revision, 100)
	if err != nil || l2.Revision() != u.Revision || len(s2.Users)+len(cs2) != 2 {
		t.Fatalf("persisted replica: rev %d users %d changes %d err %v", l2.Revision(), len(s2.Users), len(cs2), err)
	}
	if l2.Connected() {
		t.Fatal("linked to a closed hub")
	}
}

func TestEnrolRefusals(t *testing.T) {
	th := startTestHub(t, store.Options{DataDir: t.TempDir()})
	ctx := context.Background()

	// A token whose CA hash is not the hub's: the node refuses before
	// sending it, so the genuine token stays usable.
	good := th.token(t, "site-a", "127.0.0.1/32", time.Hour)
	parsed, _ := ParseToken(good)
	forged := parsed
	forged.CA[0] ^= 0xff
	if _, err := Join(ctx, t.TempDir(), th.url, forged.String(), ""); err == nil || !strings.Contains(err.Error(), ErrWrongCA.Error()) {
		t.Fatalf("Join with a wrong CA hash = %v, want %v", err, ErrWrongCA)
	}
	if _, err := Join(ctx, t.TempDir(), th.url, good, ""); err != nil {
		t.Fatalf("the genuine token after a wrong-CA attempt: %v", err)
	}
	// Reused.
	if _, err := Join(ctx, t.TempDir(), th.url, good, ""); err == nil || !strings.Contains(err.Error(), ErrTokenUsed.Error()) {
		t.Fatalf("reused token = %v", err)
	}
	// Expired.
	exp := th.token(t, "site-b", "127.0.0.0/8", time.Nanosecond)
	time.Sleep(time.Millisecond)
	if _, err := Join(ctx, t.TempDir(), th.url, exp, ""); err == nil || !strings.Contains(err.Error(), ErrTokenExpired.Error()) {
		t.Fatalf("expired token = %v", err)
	}
	// From outside the allowed networks (the node dials from 127.0.0.1).
	far := th.token(t, "site-c", "127.0.0.2/32", time.Hour)
	if _, err := Join(ctx, t.TempDir(), th.url, far, ""); err == nil || !strings.Contains(err.Error(), "outside the node's allowed networks") {
		t.Fatalf("token from a refused address = %v", err)
	}
	// ...and from inside them.
	if _, err := Join(ctx, t.TempDir(), th.url, far, "127.0.0.2"); err != nil {
		t.Fatalf("token from its allowed address: %v", err)
	}
	// Unknown secret.
	p2, _ := ParseToken(th.token(t, "site-d", "127.0.0.0/8", time.Hour))
	p2.Secret = strings.Repeat("A", 22)
	if _, err := Join(ctx, t.TempDir(), th.url, p2.String(), ""); err == nil || !strings.Contains(err.Error(), ErrTokenUnknown.Error()) {
		t.Fatalf("wrong secret = %v", err)
	}
	if _, err := Join(ctx, t.TempDir(), th.url, "nonsense", ""); !errors.Is(err, ErrBadToken) {
		t.Fatalf("malformed token = %v", err)
	}
	for _, want := range []string{"node token already used", "node token expired", "127.0.0.1 not in 127.0.0.2/32", "node token unknown"} {
		if !th.log.has(want) {
			t.Errorf("the hub did not log %q", want)
		}
	}
}

// linkErr runs one link session and returns why it ended.
func linkErr(t *testing.T, dataDir, local string) error {
	t.Helper()
	l, err := NewLink(LinkOptions{DataDir: dataDir, LocalAddr: local, Heartbeat: 200 * time.Millisecond, Logger: storetest.Logger(t)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return l.session(ctx)
}

func TestLinkRefusals(t *testing.T) {
	th := startTestHub(t, store.Options{DataDir: t.TempDir()})
	ctx := context.Background()
	dir := t.TempDir()
	if _, err := Join(ctx, dir, th.url, th.token(t, "site-b", "127.0.0.2/32", time.Hour), "127.0.0.2"); err != nil {
		t.Fatal(err)
	}
	// From an address outside the node's networks.
	err := linkErr(t, dir, "")
	if status.Code(err) != codes.PermissionDenied || !strings.Contains(err.Error(), "allowed networks") {
		t.Fatalf("link from 127.0.0.1 = %v", err)
	}
	// Revoked: refused at connect, and a live link is cut.
	l, err := NewLink(LinkOptions{DataDir: dir, LocalAddr: "127.0.0.2", Heartbeat: 200 * time.Millisecond, Logger: storetest.Logger(t)})
	if err != nil {
		t.Fatal(err)
	}
	l.Start(ctx)
	defer l.Close()
	waitFor(t, "the link", l.Connected)
	if err := th.hub.Registry().Revoke(ctx, "site-b"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the revoked link to be cut", func() bool { return !l.Connected() })
	err = linkErr(t, dir, "127.0.0.2")
	if status.Code(err) != codes.PermissionDenied || !strings.Contains(err.Error(), "revoked") {
		t.Fatalf("revoked link = %v", err)
	}
	if err := th.hub.Registry().Revoke(ctx, "nope"); !errors.Is(err, ErrNodeUnknown) {
		t.Fatalf("revoke unknown = %v", err)
	}

	// A node of another cluster (its CA is not ours) is refused in the TLS
	// handshake; and a node whose stored CA is not the hub's refuses it.
	other := startTestHub(t, store.Options{DataDir: t.TempDir()})
	odir := t.TempDir()
	if _, err := Join(ctx, odir, other.url, other.token(t, "site-x", "127.0.0.0/8", time.Hour), ""); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(ClusterDir(odir), centralURLFile), []byte(th.url), 0o644); err != nil {
		t.Fatal(err)
	}
	err = linkErr(t, odir, "")
	if err == nil || !strings.Contains(err.Error(), ErrWrongCA.Error()) {
		t.Fatalf("link to a hub of another CA = %v", err)
	}
	if th.log.has("client certificate not valid") {
		t.Fatal("the hub saw a client certificate the node should not have sent")
	}
	// With the hub's CA planted, the foreign node reaches the handshake's
	// client certificate, which the hub refuses and logs.
	caPEM, err := os.ReadFile(filepath.Join(ClusterDir(dir), nodeCAFile))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(ClusterDir(odir), nodeCAFile), caPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := linkErr(t, odir, ""); err == nil {
		t.Fatal("a node certificate of another CA was accepted")
	}
	waitFor(t, "the hub's log of the foreign certificate", func() bool { return th.log.has("client certificate not valid for this cluster") })
	// Re-enrolment supersedes the old certificate.
	dir2 := t.TempDir()
	if _, err := Join(ctx, dir2, th.url, th.token(t, "site-c", "127.0.0.0/8", time.Hour), ""); err != nil {
		t.Fatal(err)
	}
	if err := linkSessionOK(t, dir2); err != nil {
		t.Fatal(err)
	}
	if _, err := Join(ctx, t.TempDir(), th.url, th.token(t, "site-c", "127.0.0.0/8", time.Hour), ""); err != nil {
		t.Fatal(err)
	}
	err = linkErr(t, dir2, "")
	if status.Code(err) != codes.PermissionDenied || !strings.Contains(err.Error(), "superseded") {
		t.Fatalf("superseded certificate = %v", err)
	}
}

// linkSessionOK checks that a link comes up.
func linkSessionOK(t *testing.T, dir string) error {
	t.Helper()
	l, err := NewLink(LinkOptions{DataDir: dir, Heartbeat: 200 * time.Millisecond, Logger: storetest.Logger(t)})
	if err != nil {
		return err
	}
	l.Start(context.Background())
	defer l.Close()
	waitFor(t, "the link", l.Connected)
	return nil
}

type netipPrefix = netip.Prefix

func mustPrefix(s string) netip.Prefix { return netip.MustParsePrefix(s) }

// TestReplicaCompaction: past its change limit the node asks for a fresh
// snapshot, which replaces the changes; the consumer is told to resync.
func TestReplicaCompaction(t *testing.T) {
	th := startTestHub(t, store.Options{DataDir: t.TempDir()})
	ctx := context.Background()
	dataDir := t.TempDir()
	if _, err := Join(ctx, dataDir, th.url, th.token(t, "site-a", "127.0.0.0/8", time.Hour), ""); err != nil {
		t.Fatal(err)
	}
	l, err := NewLink(LinkOptions{DataDir: dataDir, Heartbeat: 200 * time.Millisecond, Logger: storetest.Logger(t)})
	if err != nil {
		t.Fatal(err)
	}
	l.maxChanges = 3
	l.Start(ctx)
	defer l.Close()
	waitFor(t, "the first snapshot", func() bool { return l.Revision() > 0 })
	first, _ := l.Snapshot(ctx)
	var last provision.User
	for i := range 6 {
		if last, err = th.repo.CreateUser(ctx, provision.User{Name: fmt.Sprintf("u%d", i)}, "password123"); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "a compacted replica holding every user", func() bool {
		l.mu.Lock()
		defer l.mu.Unlock()
		return l.base.Revision > first.Revision && l.revisionLocked() == last.Revision && len(l.changes) <= 3
	})
	if _, err := l.Changes(ctx, first.Revision, 100); !errors.Is(err, provision.ErrResync) {
		t.Fatalf("Changes after compaction = %v, want ErrResync", err)
	}
	s, _ := l.Snapshot(ctx)
	cs, err := l.Changes(ctx, s.Revision, 100)
	if err != nil || len(s.Users)+len(cs) != 6 {
		t.Fatalf("after compaction: %d users + %d changes, %v", len(s.Users), len(cs), err)
	}
	if !th.log.has("node linked") {
		t.Fatal("no link in the hub's log")
	}
}
