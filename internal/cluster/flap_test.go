package cluster

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/entvoice/entvoice/internal/provision"
	"github.com/entvoice/entvoice/internal/store"
	"github.com/entvoice/entvoice/internal/store/storetest"
)

// replicaUsers folds a replica (snapshot + changes) into its user names,
// as the node's realtime loop would.
func replicaUsers(t *testing.T, l *Link) []string {
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
	st := storetest.Open(t, store.Options{DataDir: t.TempDir()})
	repo, err := provision.New(ctx, st, provision.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ca, err := LoadOrCreateCA("", "", filepath.Join(t.TempDir(), "ca"))
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(&logBuf{t: t}, nil))
	start := func(addr string) *Hub {
		h, err := StartHub(ctx, HubOptions{Store: st, Source: repo, CA: ca, Listen: addr, Heartbeat: 100 * time.Millisecond, Logger: log})
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	h := start("127.0.0.1:0")
	addr := h.Addr().String()
	defer func() { h.Close() }()
	tok, err := h.Registry().CreateToken(ctx, ca, "site-a", []netipPrefix{mustPrefix("127.0.0.1/32")}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if _, err := Join(ctx, dir, "https://"+addr, tok.String(), ""); err != nil {
		t.Fatal(err)
	}
	l, err := NewLink(LinkOptions{DataDir: dir, Heartbeat: 100 * time.Millisecond, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	l.Start(ctx)
	defer l.Close()
	k := 0
	create := func(n int) {
		for range n {
			if _, err := repo.CreateUser(ctx, provision.User{Name: fmt.Sprintf("u%d", k)}, "password123"); err != nil {
				t.Fatal(err)
			}
			k++
		}
	}
	for round := range 5 {
		create(3)
		if err := repo.DeleteUser(ctx, provision.DefaultTenant, fmt.Sprintf("u%d", k-2)); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Duration(20*round) * time.Millisecond)
		h.Close()
		create(2) // while central's hub is down
		h = start(addr)
	}
	rev, err := repo.Revision(ctx)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the node at central's revision", func() bool { return l.Revision() == rev })
	var want []string
	users, err := repo.Snapshot(ctx)
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
	ca, err := LoadOrCreateCA("", "", filepath.Join(t.TempDir(), "ca"))
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(&logBuf{t: t}, nil))
	type central struct {
		st   *store.Store
		repo *provision.Repo
	}
	open := func() central {
		st := storetest.Open(t, store.Options{DataDir: t.TempDir()})
		repo, err := provision.New(ctx, st, provision.Options{})
		if err != nil {
			t.Fatal(err)
		}
		return central{st, repo}
	}
	start := func(c central, addr string) *Hub {
		h, err := StartHub(ctx, HubOptions{Store: c.st, Source: c.repo, CA: ca, Listen: addr, Heartbeat: 100 * time.Millisecond, Logger: log})
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	old, cur := open(), open()
	h := start(old, "127.0.0.1:0")
	addr := h.Addr().String()
	tok, err := h.Registry().CreateToken(ctx, ca, "site-a", []netipPrefix{mustPrefix("127.0.0.1/32")}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if _, err := Join(ctx, dir, "https://"+addr, tok.String(), ""); err != nil {
		t.Fatal(err)
	}
	// The restored store knows the node (its row as enrolled) but not the
	// later writes.
	n, err := h.Registry().Node(ctx, "site-a")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cur.st.DB().ExecContext(ctx, `INSERT INTO nodes (name, serial, fingerprint, allow, revoked, enrolled_at) VALUES (?, ?, ?, ?, 0, ?)`,
		n.Name, n.Serial, n.Fingerprint, "127.0.0.1/32", cur.st.TimeArg(time.Now())); err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		if _, err := old.repo.CreateUser(ctx, provision.User{Name: fmt.Sprintf("old%d", i)}, "password123"); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := cur.repo.CreateUser(ctx, provision.User{Name: "restored"}, "password123"); err != nil {
		t.Fatal(err)
	}
	l, err := NewLink(LinkOptions{DataDir: dir, Heartbeat: 100 * time.Millisecond, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	l.Start(ctx)
	defer l.Close()
	waitFor(t, "the node at the old central's revision", func() bool { return l.Revision() >= 5 })
	h.Close()
	h = start(cur, addr)
	defer h.Close()
	waitFor(t, "the restored central's configuration", func() bool {
		s, err := l.Snapshot(ctx)
		return err == nil && len(s.Users) == 1 && s.Users[0].Name == "restored"
	})
	if got := replicaUsers(t, l); !slices.Equal(got, []string{"restored"}) {
		t.Fatalf("node users after the restore: %v", got)
	}
}
