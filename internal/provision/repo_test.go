package provision

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/entvoice/entvoice/internal/digest"
	"github.com/entvoice/entvoice/internal/store"
	"github.com/entvoice/entvoice/internal/store/storetest"
)

func knownApps(app string) bool {
	switch strings.ToLower(app) {
	case "answer", "playback", "dial", "hangup", "noop", "voicemail", "goto", "set", "wait":
		return true
	}
	return false
}

func newRepo(t *testing.T, opts store.Options) *Repo {
	t.Helper()
	st := storetest.Open(t, opts)
	r, err := New(context.Background(), st, Options{KnownApp: knownApps, Realm: "entvoice", Logger: storetest.Logger(t)})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func fieldsOf(t *testing.T, err error) map[string]string {
	t.Helper()
	var ve *ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("want a ValidationError, got %v", err)
	}
	m := map[string]string{}
	for _, f := range ve.Errors {
		m[f.Field] = f.Message
	}
	return m
}

func TestTenantUserLifecycleAndFeed(t *testing.T) {
	storetest.Run(t, func(t *testing.T, opts store.Options) {
		ctx := context.Background()
		r := newRepo(t, opts)
		notify := r.Notify()
		snap, err := r.Snapshot(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(snap.Tenants) != 1 || snap.Tenants[0].ID != DefaultTenant {
			t.Fatalf("fresh snapshot tenants = %+v, want the default tenant", snap.Tenants)
		}
		base := snap.Revision

		acme, err := r.CreateTenant(ctx, Tenant{ID: "acme", Name: "Acme", Domain: "Acme.Example.com", MaxUsers: 2})
		if err != nil {
			t.Fatal(err)
		}
		if acme.Domain != "acme.example.com" || acme.Status != StatusActive || acme.Revision != base+1 {
			t.Fatalf("created tenant = %+v", acme)
		}
		select {
		case <-notify:
		default:
			t.Fatal("Notify did not fire after a commit")
		}
		if _, err := r.CreateTenant(ctx, Tenant{ID: "other", Domain: "acme.example.com"}); fieldsOf(t, err)["domain"] == "" {
			t.Fatalf("duplicate domain: %v", err)
		}
		u, err := r.CreateUser(ctx, User{Tenant: "acme", Name: "1001", Enabled: true}, "s3cret-pass")
		if err != nil {
			t.Fatal(err)
		}
		if u.Realm != "acme.example.com" || u.HA1MD5 != digest.HA1("MD5", "1001", "acme.example.com", "s3cret-pass") ||
			u.HA1SHA256 != digest.HA1("SHA-256", "1001", "acme.example.com", "s3cret-pass") {
			t.Fatalf("user realm/HA1s = %q %q %q", u.Realm, u.HA1MD5, u.HA1SHA256)
		}
		// The default tenant has no domain: the configured realm.
		d, err := r.CreateUser(ctx, User{Name: "1001", Enabled: true}, "another-pass")
		if err != nil {
			t.Fatal(err)
		}
		if d.Realm != "entvoice" || d.Tenant != DefaultTenant {
			t.Fatalf("default-tenant user = %+v", d)
		}
		_, err = r.CreateUser(ctx, User{Tenant: "acme", Name: "1001"}, "s3cret-pass")
		if f := fieldsOf(t, err); !strings.Contains(f["name"], "already exists") {
			t.Fatalf("duplicate user: %v", err)
		}
		_, err = r.CreateUser(ctx, User{Tenant: "acme", Name: "bad name", Codecs: []string{"g729"}, Permit: []string{"10.0.0.0/33"}}, "short")
		f := fieldsOf(t, err)
		for _, k := range []string{"name", "codecs[0]", "permit[0]", "password"} {
			if f[k] == "" {
				t.Errorf("no error for %s in %v", k, err)
			}
		}
		if !strings.Contains(f["permit[0]"], "bad CIDR") || !strings.Contains(f["codecs[0]"], "unknown codec") {
			t.Errorf("messages: %v", f)
		}
		if _, err := r.CreateUser(ctx, User{Tenant: "nope", Name: "1"}, "s3cret-pass"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("user in a missing tenant: %v", err)
		}

		// A domain change keeps the realm the HA1s were made for.
		if _, err := r.UpdateTenant(ctx, "acme", func(t *Tenant) error { t.Domain = "new.example.com"; return nil }); err != nil {
			t.Fatal(err)
		}
		off := false
		u2, err := r.UpdateUser(ctx, "acme", "1001", nil, func(u *User) error { u.Enabled = false; u.Services.Recording = &off; return nil })
		if err != nil {
			t.Fatal(err)
		}
		if u2.Realm != "acme.example.com" || u2.HA1MD5 != u.HA1MD5 || u2.Enabled || u2.Services.Recording == nil || *u2.Services.Recording {
			t.Fatalf("updated user = %+v", u2)
		}
		pw := "changed-pass"
		u3, err := r.UpdateUser(ctx, "acme", "1001", &pw, nil)
		if err != nil {
			t.Fatal(err)
		}
		if u3.HA1MD5 != digest.HA1("MD5", "1001", "acme.example.com", pw) {
			t.Fatal("password change did not recompute the HA1 for the stored realm")
		}
		if _, err := r.CreateUser(ctx, User{Tenant: "acme", Name: "1002"}, "s3cret-pass"); err != nil {
			t.Fatal(err)
		}
		_, err = r.CreateUser(ctx, User{Tenant: "acme", Name: "1003"}, "s3cret-pass")
		if f := fieldsOf(t, err); !strings.Contains(f["name"], "max_users") {
			t.Fatalf("max_users: %v", err)
		}

		x, err := r.CreateExtension(ctx, Extension{Tenant: "acme", Context: "internal", Exten: "_1XXX", Priority: 1, App: "Dial", AppData: "PJSIP/${EXTEN}"})
		if err != nil {
			t.Fatal(err)
		}
		_, err = r.CreateExtension(ctx, Extension{Tenant: "acme", Context: "internal", Exten: "_1[23", Priority: 0, App: "Frobnicate"})
		f = fieldsOf(t, err)
		if !strings.Contains(f["exten"], "bad pattern") || f["priority"] == "" || !strings.Contains(f["app"], "unknown application") {
			t.Fatalf("bad extension: %v", err)
		}
		if _, err := r.CreateExtension(ctx, Extension{Tenant: "acme", Context: "internal", Exten: "_1XXX", Priority: 1, App: "Hangup"}); fieldsOf(t, err)["priority"] == "" {
			t.Fatalf("duplicate priority: %v", err)
		}
		if _, err := r.GetExtension(ctx, DefaultTenant, x.ID); !errors.Is(err, ErrNotFound) {
			t.Fatalf("extension visible from another tenant: %v", err)
		}
		_, err = r.PutAMIUser(ctx, AMIUser{Name: "mgr", Tenant: "acme", Secret: "ami-secret-1", Read: "call,cdr", Write: "originate"})
		if err != nil {
			t.Fatal(err)
		}
		got, err := r.GetAMIUser(ctx, "mgr")
		if err != nil || got.Secret != "ami-secret-1" {
			t.Fatalf("AMI user read back: %+v %v", got, err)
		}
		var ve *ValidationError
		if _, err := r.CreateAMIUser(ctx, AMIUser{Name: "mgr", Secret: "other-secret"}); !errors.As(err, &ve) || !ve.Conflict {
			t.Fatalf("creating an existing AMI user: %v, want a conflict", err)
		}
		var sealed string
		if err := r.st.DB().QueryRow("SELECT secret_sealed FROM ami_users").Scan(&sealed); err != nil || strings.Contains(sealed, "ami-secret-1") {
			t.Fatalf("secret stored in clear or unreadable: %q %v", sealed, err)
		}
		fi, err := os.Stat(filepath.Join(opts.DataDir, KeyFile))
		if err != nil || fi.Mode().Perm() != 0o600 {
			t.Fatalf("key file: %v %v", fi, err)
		}
		if err := r.DeleteExtension(ctx, "acme", x.ID); err != nil {
			t.Fatal(err)
		}

		cs, err := r.Changes(ctx, base, 1000)
		if err != nil {
			t.Fatal(err)
		}
		for i, c := range cs {
			if c.Revision != base+int64(i)+1 {
				t.Fatalf("change %d has revision %d, want %d", i, c.Revision, base+int64(i)+1)
			}
		}
		last := cs[len(cs)-1]
		if last.Entity != EntityExtension || !last.Deleted || last.Extension.ID != x.ID || last.Extension.Exten != "_1XXX" {
			t.Fatalf("last change = %+v", last)
		}
		var sawAMI, sawUserHA1 bool
		for _, c := range cs {
			if c.AMIUser != nil && c.AMIUser.Secret == "ami-secret-1" {
				sawAMI = true
			}
			if c.User != nil && c.User.HA1MD5 == u.HA1MD5 && !c.User.Enabled {
				sawUserHA1 = true
			}
		}
		if !sawAMI || !sawUserHA1 {
			t.Fatalf("feed lacks AMI secret (%v) or user HA1 (%v)", sawAMI, sawUserHA1)
		}
		page, err := r.Changes(ctx, base, 2)
		if err != nil || len(page) != 2 || page[1].Revision != base+2 {
			t.Fatalf("limited page = %+v %v", page, err)
		}
		snap, err = r.Snapshot(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if snap.Revision != last.Revision || len(snap.Users) != 3 || len(snap.AMIUsers) != 1 || snap.AMIUsers[0].Secret != "ami-secret-1" || snap.Users[0].HA1MD5 == "" {
			t.Fatalf("snapshot = rev %d users %d ami %+v", snap.Revision, len(snap.Users), snap.AMIUsers)
		}

		// Deleting the tenant deletes its objects, each in the feed.
		before := snap.Revision
		if err := r.DeleteTenant(ctx, "acme"); err != nil {
			t.Fatal(err)
		}
		cs, err = r.Changes(ctx, before, 100)
		if err != nil {
			t.Fatal(err)
		}
		kinds := map[Entity]int{}
		for _, c := range cs {
			if !c.Deleted {
				t.Fatalf("non-delete change after tenant delete: %+v", c)
			}
			kinds[c.Entity]++
		}
		if kinds[EntityUser] != 2 || kinds[EntityAMIUser] != 1 || kinds[EntityTenant] != 1 {
			t.Fatalf("tenant delete feed = %v", kinds)
		}
		if err := r.PruneChanges(ctx, before); err != nil {
			t.Fatal(err)
		}
		if _, err := r.Changes(ctx, before-1, 10); !errors.Is(err, ErrResync) {
			t.Fatalf("pruned feed: %v", err)
		}
		if cs, err := r.Changes(ctx, before, 10); err != nil || len(cs) == 0 {
			t.Fatalf("feed after the pruned point: %v %v", cs, err)
		}
		if err := r.DeleteTenant(ctx, DefaultTenant); err == nil {
			t.Fatal("default tenant deleted")
		}
	})
}

func TestImportAtomicAndReportsEveryLine(t *testing.T) {
	storetest.Run(t, func(t *testing.T, opts store.Options) {
		ctx := context.Background()
		r := newRepo(t, opts)
		if _, err := r.CreateTenant(ctx, Tenant{ID: "acme", Domain: "acme.test"}); err != nil {
			t.Fatal(err)
		}
		if _, err := r.CreateUser(ctx, User{Tenant: "acme", Name: "1005"}, "s3cret-pass"); err != nil {
			t.Fatal(err)
		}
		rev0, _ := r.Revision(ctx)
		csvText := "name,password,codecs,permit\n" +
			"1001,good-password,pcmu,10.0.0.0/8\n" +
			"1002,short,pcmu,\n" + // line 3: password
			"1003,good-password,g729,\n" + // line 4: codec
			"1001,good-password,,\n" + // line 5: duplicate in file
			"1004,good-password,,300.1.1.1/8\n" + // line 6: CIDR
			"1005,good-password,,\n" // line 7: exists already
		users, err := ParseUsersCSV(strings.NewReader(csvText))
		if err != nil {
			t.Fatal(err)
		}
		_, err = r.Import(ctx, Batch{Tenant: "acme", Users: users})
		var ve *ValidationError
		if !errors.As(err, &ve) {
			t.Fatalf("import: %v", err)
		}
		lines := map[int]string{}
		for _, f := range ve.Errors {
			lines[f.Line] = f.Field
		}
		for l, field := range map[int]string{3: "password", 4: "codecs[0]", 5: "name", 6: "permit[0]"} {
			if lines[l] != field {
				t.Errorf("line %d: want an error on %s, got %v", l, field, ve.Errors)
			}
		}
		// Line 7 clashes with the store, found once the lines are valid.
		users, _ = ParseUsersCSV(strings.NewReader("name,password\n1001,good-password\n1005,good-password\n"))
		_, err = r.Import(ctx, Batch{Tenant: "acme", Users: users})
		if !errors.As(err, &ve) || len(ve.Errors) != 1 || ve.Errors[0].Line != 3 || !ve.Conflict {
			t.Fatalf("clash with the store: %v", err)
		}
		conf := "[internal]\n" +
			"exten => 100,1,Answer()\n" +
			" same => n,Frobnicate(x)\n" + // line 3: unknown app
			"exten => _1[2,1,NoOp()\n" + // line 4: pattern
			"include => other\n" + // line 5
			"exten => 200,1,Playback(hello)\n" +
			" same => n(again),Hangup()\n"
		rows, perr := ParseExtensionsConf("import.conf", []byte(conf))
		b := Batch{Tenant: "acme", Extensions: rows}
		if errors.As(perr, &ve) {
			b.Errors = ve.Errors
		}
		_, err = r.Import(ctx, b)
		if !errors.As(err, &ve) {
			t.Fatalf("conf import: %v", err)
		}
		lines = map[int]string{}
		for _, f := range ve.Errors {
			lines[f.Line] = f.Field + ": " + f.Message
		}
		for _, l := range []int{3, 4, 5} {
			if lines[l] == "" {
				t.Errorf("line %d not reported: %v", l, ve.Errors)
			}
		}
		if !strings.Contains(lines[3], "unknown application") {
			t.Errorf("line 3: %q", lines[3])
		}
		if rev, _ := r.Revision(ctx); rev != rev0 {
			t.Fatalf("failed imports moved the revision %d -> %d", rev0, rev)
		}
		if us, _ := r.ListUsers(ctx, "acme", 0, 0); len(us) != 1 {
			t.Fatalf("failed imports stored users: %d", len(us))
		}
		// A good import stores all, with one revision per object.
		rows, err = ParseExtensionsConf("import.conf", []byte("[general]\nstatic=yes\nwriteprotect=no\n[internal]\nexten => 100,1,Answer()\n same => n(again),Playback(hello)\n same => n,Hangup()\nexten => _1XXX,hint,PJSIP/${EXTEN}\n"))
		if err != nil {
			t.Fatal(err)
		}
		users, _ = ParseUsersCSV(strings.NewReader("name,password,enabled\n1001,good-password,no\n1002,good-password,\n"))
		res, err := r.Import(ctx, Batch{Tenant: "acme", Users: users, Extensions: rows})
		if err != nil {
			t.Fatal(err)
		}
		if res.Users != 2 || res.Extensions != 4 || res.Revision != rev0+6 {
			t.Fatalf("import result %+v (rev0 %d)", res, rev0)
		}
		xs, _ := r.ListExtensions(ctx, "acme", ExtensionFilter{Context: "internal"})
		if len(xs) != 4 || xs[1].Label != "again" || xs[1].Priority != 2 {
			t.Fatalf("stored rows = %+v", xs)
		}
		u, err := r.GetUser(ctx, "acme", "1001")
		if err != nil || u.Enabled || u.Realm != "acme.test" || u.HA1MD5 != digest.HA1("MD5", "1001", "acme.test", "good-password") {
			t.Fatalf("imported user = %+v %v", u, err)
		}
		cs, _ := r.Changes(ctx, rev0, 100)
		if len(cs) != 6 || cs[0].User == nil || cs[0].User.ID != u.ID || cs[5].Extension == nil || cs[5].Extension.ID != xs[3].ID {
			t.Fatalf("import feed = %+v", cs)
		}
		// Replacing the context deletes its old rows in the same revision run.
		rows, _ = ParseExtensionsCSV(strings.NewReader("context,exten,priority,app,appdata\ninternal,300,1,Dial,PJSIP/300\n"))
		res, err = r.Import(ctx, Batch{Tenant: "acme", Extensions: rows, ReplaceContexts: true})
		if err != nil || res.Deleted != 4 || res.Extensions != 1 {
			t.Fatalf("replace = %+v %v", res, err)
		}
	})
}

// TestConcurrentWritersRevisionsInOrder: writers racing on both engines
// get distinct, gapless revisions, and the feed never shows a revision
// before every smaller one is committed (the revision row lock on
// PostgreSQL, the write lock on SQLite).
func TestConcurrentWritersRevisionsInOrder(t *testing.T) {
	storetest.Run(t, func(t *testing.T, opts store.Options) {
		ctx := context.Background()
		r := newRepo(t, opts)
		base, _ := r.Revision(ctx)
		const writers, each = 4, 15
		var wg sync.WaitGroup
		errs := make(chan error, writers*each)
		stop := make(chan struct{})
		// A reader follows the feed as a node does and checks it is gapless.
		readerErr := make(chan error, 1)
		go func() {
			since := base
			for {
				// A snapshot sees every table at its revision: one tenant
				// per revision since base, plus the default tenant.
				snap, err := r.Snapshot(ctx)
				if err != nil {
					readerErr <- err
					return
				}
				if int64(len(snap.Tenants)) != 1+snap.Revision-base {
					readerErr <- fmt.Errorf("snapshot at revision %d has %d tenants", snap.Revision, len(snap.Tenants))
					return
				}
				cs, err := r.Changes(ctx, since, 100)
				if err != nil {
					readerErr <- err
					return
				}
				for _, c := range cs {
					if c.Revision != since+1 {
						readerErr <- fmt.Errorf("feed jumped from %d to %d", since, c.Revision)
						return
					}
					since = c.Revision
				}
				select {
				case <-stop:
					if since == base+writers*each {
						readerErr <- nil
						return
					}
				default:
				}
			}
		}()
		for w := range writers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range each {
					if _, err := r.CreateTenant(ctx, Tenant{ID: fmt.Sprintf("w%d-%d", w, i)}); err != nil {
						errs <- err
					}
				}
			}()
		}
		wg.Wait()
		close(stop)
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		if err := <-readerErr; err != nil {
			t.Fatal(err)
		}
		if rev, _ := r.Revision(ctx); rev != base+writers*each {
			t.Fatalf("revision %d, want %d", rev, base+writers*each)
		}
	})
}

// TestListenPostgres: a write through one process's Repo wakes another
// process's subscribers through LISTEN/NOTIFY.
func TestListenPostgres(t *testing.T) {
	opts := storetest.PostgresOptions(t)
	writer := newRepo(t, opts)
	opts2 := opts
	opts2.DataDir = t.TempDir()
	reader := newRepo(t, opts2)
	ch := reader.Notify()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- reader.ListenPostgres(ctx, opts.DSN) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	select { // the wake-up after LISTEN is in place
	case <-ch:
	case <-time.After(10 * time.Second):
		t.Fatal("no wake-up after LISTEN")
	}
	if _, err := writer.CreateTenant(context.Background(), Tenant{ID: "remote"}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-ch:
	case <-time.After(10 * time.Second):
		t.Fatal("the other Repo's write did not wake this one")
	}
	cs, err := reader.Changes(context.Background(), 0, 100)
	if err != nil || cs[len(cs)-1].Tenant == nil || cs[len(cs)-1].Tenant.ID != "remote" {
		t.Fatalf("reader's feed: %v %v", cs, err)
	}
}
