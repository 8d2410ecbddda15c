package provision

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/entvoice/entvoice/internal/store"
	"github.com/entvoice/entvoice/internal/store/storetest"
	"github.com/entvoice/entvoice/internal/voicemail"
)

func TestMailboxLifecycleAndFeed(t *testing.T) {
	storetest.Run(t, func(t *testing.T, opts store.Options) {
		ctx := context.Background()
		r := newRepo(t, opts)
		if _, err := r.CreateTenant(ctx, Tenant{ID: "acme", Domain: "acme.example"}); err != nil {
			t.Fatal(err)
		}
		rev0, _ := r.Revision(ctx)
		m, err := r.CreateMailbox(ctx, Mailbox{Tenant: "acme", Mailbox: "1001", FullName: "Alice", Email: "alice@example.com",
			Options: map[string]string{"attach": "yes", "maxmsg": "20"}}, "4242")
		if err != nil {
			t.Fatal(err)
		}
		if m.Context != "default" || !m.HasPIN || m.PINHash == "" || strings.Contains(m.PINHash, "4242") {
			t.Fatalf("created %+v", m)
		}
		if _, err := r.CreateMailbox(ctx, Mailbox{Tenant: "acme", Mailbox: "1001"}, "1"); err == nil {
			t.Fatal("a duplicate mailbox was accepted")
		} else if ve := (*ValidationError)(nil); !errors.As(err, &ve) || !ve.Conflict {
			t.Fatalf("duplicate: %v", err)
		}
		bad := fieldsOf(t, func() error {
			_, err := r.CreateMailbox(ctx, Mailbox{Tenant: "acme", Mailbox: "*1", Context: "a/b", Email: "nope", User: "bad user",
				Options: map[string]string{"maxmsg": "x", "colour": "red"}}, "12a")
			return err
		}())
		for _, f := range []string{"mailbox", "context", "email", "user", "options", "pin"} {
			if bad[f] == "" {
				t.Errorf("no error for %s: %v", f, bad)
			}
		}
		if _, err := r.CreateMailbox(ctx, Mailbox{Tenant: "nosuch", Mailbox: "1"}, "1"); !errors.Is(err, ErrNotFound) {
			t.Errorf("unknown tenant: %v", err)
		}
		newPIN := "9999"
		u, err := r.UpdateMailbox(ctx, "acme", "default", "1001", &newPIN, func(m *Mailbox) error { m.FullName = "Alice B."; return nil })
		if err != nil || u.FullName != "Alice B." || u.PINHash == m.PINHash {
			t.Fatalf("update %+v %v", u, err)
		}
		vb, err := u.VoicemailBox(voicemail.DefaultSettings())
		if err != nil || vb.Options.MaxMsg != 20 || !vb.Options.Attach || vb.Tenant != "acme" {
			t.Fatalf("VoicemailBox %+v %v", vb, err)
		}
		changes, err := r.Changes(ctx, rev0, 100)
		if err != nil {
			t.Fatal(err)
		}
		if len(changes) != 2 || changes[1].Entity != EntityMailbox || changes[1].Mailbox.PINHash != u.PINHash || changes[1].Mailbox.FullName != "Alice B." {
			t.Fatalf("changes %+v", changes)
		}
		snap, err := r.Snapshot(ctx)
		if err != nil || len(snap.Mailboxes) != 1 || snap.Mailboxes[0].PINHash != u.PINHash {
			t.Fatalf("snapshot %+v %v", snap, err)
		}
		list, err := r.ListMailboxes(ctx, "acme", 0, 10)
		if err != nil || len(list) != 1 {
			t.Fatalf("list %v %v", list, err)
		}
		if l, _ := r.ListMailboxes(ctx, "default", 0, 10); len(l) != 0 {
			t.Errorf("another tenant's list %v", l)
		}
		// Deleting the tenant deletes its mailboxes, in the feed too.
		rev1, _ := r.Revision(ctx)
		if err := r.DeleteTenant(ctx, "acme"); err != nil {
			t.Fatal(err)
		}
		changes, _ = r.Changes(ctx, rev1, 100)
		found := false
		for _, c := range changes {
			if c.Entity == EntityMailbox && c.Deleted && c.Mailbox.Mailbox == "1001" && c.Mailbox.Tenant == "acme" {
				found = true
			}
		}
		if !found {
			t.Errorf("no mailbox deletion in %+v", changes)
		}
		if _, err := r.GetMailbox(ctx, "acme", "default", "1001"); !errors.Is(err, ErrNotFound) {
			t.Errorf("get after delete: %v", err)
		}
	})
}
