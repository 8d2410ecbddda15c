package link_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/entvoice/entvoice/internal/cluster/clustertest"
	"github.com/entvoice/entvoice/internal/cluster/hub"
	"github.com/entvoice/entvoice/internal/cluster/link"
	"github.com/entvoice/entvoice/internal/cluster/pki"
	"github.com/entvoice/entvoice/internal/control"
	"github.com/entvoice/entvoice/internal/provision"
	"github.com/entvoice/entvoice/internal/store"
	"github.com/entvoice/entvoice/internal/store/storetest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

var waitFor = clustertest.WaitFor

func TestEnrolLinkAndConfig(t *testing.T) {
	th := clustertest.StartHub(t, storetest.PostgresOptionsOrSQLite(t), hub.Options{})
	ctx := context.Background()
	if _, err := th.Repo.CreateUser(ctx, provision.User{Name: "alice"}, "alicepass1"); err != nil {
		t.Fatal(err)
	}
	tok := th.Token(t, "site-a", "127.0.0.0/8", time.Hour)
	dataDir := t.TempDir()
	name, err := link.Join(ctx, dataDir, th.URL, tok, "")
	if err != nil || name != "site-a" {
		t.Fatalf("Join = %q, %v", name, err)
	}
	for _, f := range []string{"node.key", "node.crt", "ca.crt"} {
		if _, err := os.Stat(filepath.Join(pki.Dir(dataDir), f)); err != nil {
			t.Fatal(err)
		}
	}
	l := clustertest.StartLink(t, dataDir, link.Options{})
	waitFor(t, "the first snapshot", func() bool { return l.Revision() > 0 })
	s, err := l.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Users) != 1 || s.Users[0].Name != "alice" || s.Users[0].HA1MD5 == "" || s.Users[0].HA1SHA256 == "" {
		t.Fatalf("snapshot users = %+v (the HA1s must travel)", s.Users)
	}
	notify := l.Notify()
	u, err := th.Repo.CreateUser(ctx, provision.User{Name: "bob"}, "bobpass123")
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
		n, err := th.Registry().Node(ctx, "site-a")
		return err == nil && !n.LastSeen.IsZero() && n.Revision >= u.Revision
	})
	l.Close()

	// Survivability: with central gone, a new Link (a restarted node)
	// serves the persisted configuration.
	th.Close()
	l2 := clustertest.StartLink(t, dataDir, link.Options{})
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
	th := clustertest.StartHub(t, store.Options{DataDir: t.TempDir()}, hub.Options{})
	ctx := context.Background()

	// A token whose CA hash is not the hub's: the node refuses before
	// sending it, so the genuine token stays usable.
	good := th.Token(t, "site-a", "127.0.0.1/32", time.Hour)
	parsed, _ := pki.ParseToken(good)
	forged := parsed
	forged.CA[0] ^= 0xff
	if _, err := link.Join(ctx, t.TempDir(), th.URL, forged.String(), ""); err == nil || !strings.Contains(err.Error(), pki.ErrWrongCA.Error()) {
		t.Fatalf("Join with a wrong CA hash = %v, want %v", err, pki.ErrWrongCA)
	}
	if _, err := link.Join(ctx, t.TempDir(), th.URL, good, ""); err != nil {
		t.Fatalf("the genuine token after a wrong-CA attempt: %v", err)
	}
	// Reused.
	if _, err := link.Join(ctx, t.TempDir(), th.URL, good, ""); err == nil || !strings.Contains(err.Error(), hub.ErrTokenUsed.Error()) {
		t.Fatalf("reused token = %v", err)
	}
	// Expired.
	exp := th.Token(t, "site-b", "127.0.0.0/8", time.Nanosecond)
	time.Sleep(time.Millisecond)
	if _, err := link.Join(ctx, t.TempDir(), th.URL, exp, ""); err == nil || !strings.Contains(err.Error(), hub.ErrTokenExpired.Error()) {
		t.Fatalf("expired token = %v", err)
	}
	// From outside the allowed networks (the node dials from 127.0.0.1).
	far := th.Token(t, "site-c", "127.0.0.2/32", time.Hour)
	if _, err := link.Join(ctx, t.TempDir(), th.URL, far, ""); err == nil || !strings.Contains(err.Error(), "outside the node's allowed networks") {
		t.Fatalf("token from a refused address = %v", err)
	}
	// ...and from inside them.
	if _, err := link.Join(ctx, t.TempDir(), th.URL, far, "127.0.0.2"); err != nil {
		t.Fatalf("token from its allowed address: %v", err)
	}
	// Unknown secret.
	p2, _ := pki.ParseToken(th.Token(t, "site-d", "127.0.0.0/8", time.Hour))
	p2.Secret = strings.Repeat("A", 22)
	if _, err := link.Join(ctx, t.TempDir(), th.URL, p2.String(), ""); err == nil || !strings.Contains(err.Error(), hub.ErrTokenUnknown.Error()) {
		t.Fatalf("wrong secret = %v", err)
	}
	if _, err := link.Join(ctx, t.TempDir(), th.URL, "nonsense", ""); !errors.Is(err, pki.ErrBadToken) {
		t.Fatalf("malformed token = %v", err)
	}
	for _, want := range []string{"node token already used", "node token expired", "127.0.0.1 not in 127.0.0.2/32", "node token unknown"} {
		if !th.Log.Has(want) {
			t.Errorf("the hub did not log %q", want)
		}
	}
}

// linkErr runs one link session and returns why it ended.
func linkErr(t *testing.T, dataDir, local string) error {
	t.Helper()
	l, err := link.New(link.Options{DataDir: dataDir, LocalAddr: local, Heartbeat: clustertest.Heartbeat, Logger: storetest.Logger(t)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return l.ConnectOnce(ctx)
}

// TestLinkRefusals: a link from outside the node's networks, of a revoked
// node, of another cluster's node, to another cluster's hub, and with a
// superseded certificate is refused; revoking a node cuts its live link at
// once (the hub's heartbeat is a minute: it is not what cuts it).
func TestLinkRefusals(t *testing.T) {
	th := clustertest.StartHub(t, store.Options{DataDir: t.TempDir()}, hub.Options{Heartbeat: time.Minute})
	ctx := context.Background()
	dir := t.TempDir()
	if _, err := link.Join(ctx, dir, th.URL, th.Token(t, "site-b", "127.0.0.2/32", time.Hour), "127.0.0.2"); err != nil {
		t.Fatal(err)
	}
	// From an address outside the node's networks.
	err := linkErr(t, dir, "")
	if status.Code(err) != codes.PermissionDenied || !strings.Contains(err.Error(), "allowed networks") {
		t.Fatalf("link from 127.0.0.1 = %v", err)
	}
	// Revoked: a live link is cut, and refused at connect.
	// Both sides' heartbeats are a minute long: they are not what cuts it.
	l := clustertest.StartLink(t, dir, link.Options{LocalAddr: "127.0.0.2", Heartbeat: time.Minute})
	waitFor(t, "the link", l.Connected)
	if err := th.Registry().Revoke(ctx, "site-b"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the revoked link to be cut", func() bool { return !l.Connected() })
	err = linkErr(t, dir, "127.0.0.2")
	if status.Code(err) != codes.PermissionDenied || !strings.Contains(err.Error(), "revoked") {
		t.Fatalf("revoked link = %v", err)
	}
	if err := th.Registry().Revoke(ctx, "nope"); !errors.Is(err, control.ErrNodeUnknown) {
		t.Fatalf("revoke unknown = %v", err)
	}

	// A node of another cluster (its CA is not ours) is refused in the TLS
	// handshake; and a node whose stored CA is not the hub's refuses it.
	other := clustertest.StartHub(t, store.Options{DataDir: t.TempDir()}, hub.Options{})
	odir := other.Enrol(t, "site-x")
	if err := os.WriteFile(filepath.Join(pki.Dir(odir), "central.url"), []byte(th.URL), 0o644); err != nil {
		t.Fatal(err)
	}
	err = linkErr(t, odir, "")
	if err == nil || !strings.Contains(err.Error(), pki.ErrWrongCA.Error()) {
		t.Fatalf("link to a hub of another CA = %v", err)
	}
	if th.Log.Has("client certificate not valid") {
		t.Fatal("the hub saw a client certificate the node should not have sent")
	}
	// With the hub's CA planted, the foreign node reaches the handshake's
	// client certificate, which the hub refuses and logs.
	caPEM, err := os.ReadFile(filepath.Join(pki.Dir(dir), "ca.crt"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(pki.Dir(odir), "ca.crt"), caPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := linkErr(t, odir, ""); err == nil {
		t.Fatal("a node certificate of another CA was accepted")
	}
	waitFor(t, "the hub's log of the foreign certificate", func() bool { return th.Log.Has("client certificate not valid for this cluster") })
	// Re-enrolment supersedes the old certificate, and cuts its live link
	// at once.
	dir2 := th.Enrol(t, "site-c")
	l2 := clustertest.StartLink(t, dir2, link.Options{Heartbeat: time.Minute})
	waitFor(t, "the link", l2.Connected)
	th.Enrol(t, "site-c")
	waitFor(t, "the superseded link to be cut", func() bool { return !l2.Connected() })
	l2.Close()
	err = linkErr(t, dir2, "")
	if status.Code(err) != codes.PermissionDenied || !strings.Contains(err.Error(), "superseded") {
		t.Fatalf("superseded certificate = %v", err)
	}
}

// TestReplicaCompaction: past its change limit the node asks for a fresh
// snapshot, which replaces the changes; the consumer is told to resync.
func TestReplicaCompaction(t *testing.T) {
	th := clustertest.StartHub(t, store.Options{DataDir: t.TempDir()}, hub.Options{})
	ctx := context.Background()
	dataDir := th.Enrol(t, "site-a")
	l, err := link.New(link.Options{DataDir: dataDir, Heartbeat: clustertest.Heartbeat, Logger: storetest.Logger(t)})
	if err != nil {
		t.Fatal(err)
	}
	l.SetMaxChanges(3)
	l.Start(ctx, link.Node{})
	defer l.Close()
	waitFor(t, "the first snapshot", func() bool { return l.Revision() > 0 })
	first, _ := l.Snapshot(ctx)
	var last provision.User
	for i := range 6 {
		if last, err = th.Repo.CreateUser(ctx, provision.User{Name: fmt.Sprintf("u%d", i)}, "password123"); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "a compacted replica holding every user", func() bool {
		base, rev, changes := l.ReplicaState()
		return base > first.Revision && rev == last.Revision && changes <= 3
	})
	if _, err := l.Changes(ctx, first.Revision, 100); !errors.Is(err, provision.ErrResync) {
		t.Fatalf("Changes after compaction = %v, want ErrResync", err)
	}
	s, _ := l.Snapshot(ctx)
	cs, err := l.Changes(ctx, s.Revision, 100)
	if err != nil || len(s.Users)+len(cs) != 6 {
		t.Fatalf("after compaction: %d users + %d changes, %v", len(s.Users), len(cs), err)
	}
	if !th.Log.Has("node linked") {
		t.Fatal("no link in the hub's log")
	}
}

// replicaUsers folds a replica (snapshot + changes) into its user names,
// as the node's realtime loop would.
func replicaUsers(t *testing.T, l *link.Link) []string {
	t.Helper()
	ctx := context.Background()
	s, err := l.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	users := map[int64]string{}
	for _, u := range s.Users {
		users[u.ID] = u.Name
	}
	cs, err := l.Changes(ctx, s.Revision, 100000)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cs {
		if c.Entity != provision.EntityUser || c.User == nil {
			continue
		}
		if c.Deleted {
			for id, n := range users {
				if n == c.User.Name {
					delete(users, id)
				}
			}
		} else {
			users[c.User.ID] = c.User.Name
		}
	}
	var out []string
	for _, n := range users {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}

// TestLinkFlapConverges: central goes away and comes back five times while
// users are created and deleted, some during the outages; the node ends
// with central's configuration.
func TestLinkFlapConverges(t *testing.T) {
	ctx := context.Background()
	c := clustertest.NewCentral(t, storetest.Open(t, store.Options{DataDir: t.TempDir()}))
	const hb = 100 * time.Millisecond
	h := c.Start(t, hub.Options{Heartbeat: hb})
	addr := h.Addr().String()
	l := clustertest.StartLink(t, h.Enrol(t, "site-a"), link.Options{Heartbeat: hb})
	k := 0
	create := func(n int) {
		for range n {
			if _, err := c.Repo.CreateUser(ctx, provision.User{Name: fmt.Sprintf("u%d", k)}, "password123"); err != nil {
				t.Fatal(err)
			}
			k++
		}
	}
	for round := range 5 {
		create(3)
		if err := c.Repo.DeleteUser(ctx, provision.DefaultTenant, fmt.Sprintf("u%d", k-2)); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Duration(20*round) * time.Millisecond)
		h.Close()
		create(2) // while central's hub is down
		h = c.Start(t, hub.Options{Heartbeat: hb, Listen: addr})
	}
	rev, err := c.Repo.Revision(ctx)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the node at central's revision", func() bool { return l.Revision() == rev })
	var want []string
	users, err := c.Repo.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range users.Users {
		want = append(want, u.Name)
	}
	slices.Sort(want)
	if got := replicaUsers(t, l); !slices.Equal(got, want) {
		t.Fatalf("node users %v, central %v", got, want)
	}
}

// TestNodeAheadOfCentral: central's store is replaced by one at an older
// revision (a restore); the node, holding a later revision, is sent
// central's snapshot and ends with central's configuration.
func TestNodeAheadOfCentral(t *testing.T) {
	ctx := context.Background()
	old := clustertest.NewCentral(t, storetest.Open(t, store.Options{DataDir: t.TempDir()}))
	cur := clustertest.NewCentral(t, storetest.Open(t, store.Options{DataDir: t.TempDir()}))
	cur.CA = old.CA
	const hb = 100 * time.Millisecond
	h := old.Start(t, hub.Options{Heartbeat: hb})
	addr := h.Addr().String()
	dir := h.Enrol(t, "site-a")
	// The restored store knows the node (its row as enrolled) but not the
	// later writes.
	n, err := h.Registry().Node(ctx, "site-a")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cur.Store.DB().ExecContext(ctx, `INSERT INTO nodes (name, serial, fingerprint, allow, revoked, enrolled_at) VALUES (?, ?, ?, ?, 0, ?)`,
		n.Name, n.Serial, n.Fingerprint, "127.0.0.1/32", cur.Store.TimeArg(time.Now())); err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		if _, err := old.Repo.CreateUser(ctx, provision.User{Name: fmt.Sprintf("old%d", i)}, "password123"); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := cur.Repo.CreateUser(ctx, provision.User{Name: "restored"}, "password123"); err != nil {
		t.Fatal(err)
	}
	l := clustertest.StartLink(t, dir, link.Options{Heartbeat: hb})
	waitFor(t, "the node at the old central's revision", func() bool { return l.Revision() >= 5 })
	h.Close()
	cur.Start(t, hub.Options{Heartbeat: hb, Listen: addr})
	waitFor(t, "the restored central's configuration", func() bool {
		s, err := l.Snapshot(ctx)
		return err == nil && len(s.Users) == 1 && s.Users[0].Name == "restored"
	})
	if got := replicaUsers(t, l); !slices.Equal(got, []string{"restored"}) {
		t.Fatalf("node users after the restore: %v", got)
	}
}
