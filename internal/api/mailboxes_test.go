package api

import (
	"context"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/entvoice/entvoice/internal/provision"
	"github.com/entvoice/entvoice/internal/store"
	"github.com/entvoice/entvoice/internal/store/storetest"
	"github.com/entvoice/entvoice/internal/voicemail"
	"github.com/entvoice/entvoice/internal/voicemail/vmindex"
)

// TestMailboxes: mailboxes are created, read, changed and deleted per
// tenant; the PIN is never shown; bad input gets problem+json naming the
// fields.
func TestMailboxes(t *testing.T) {
	storetest.Run(t, func(t *testing.T, opts store.Options) {
		e := newEnv(t, opts)
		tok := e.tenantToken("acme", "acme.test")
		var m provision.Mailbox
		r := e.must(201, "POST", "/api/v1/tenants/acme/mailboxes", tok, map[string]any{"mailbox": "1001@sales", "pin": "4242",
			"fullname": "Alice", "email": "alice@acme.test", "options": map[string]string{"attach": "yes"}})
		r.json(t, &m)
		if m.Context != "sales" || m.Mailbox != "1001" || !m.HasPIN || strings.Contains(string(r.body), "4242") || strings.Contains(string(r.body), "sha256") {
			t.Fatalf("created %s", r.body)
		}
		if loc := r.header.Get("Location"); loc != "/api/v1/tenants/acme/mailboxes/1001@sales" {
			t.Errorf("Location %q", loc)
		}
		e.must(409, "POST", "/api/v1/tenants/acme/mailboxes", tok, map[string]any{"mailbox": "1001", "context": "sales", "pin": "1"}).problem(t)
		p := e.must(422, "POST", "/api/v1/tenants/acme/mailboxes", tok, map[string]any{"mailbox": "*9", "pin": "x1", "email": "nope",
			"options": map[string]string{"maxmsg": "lots"}}).problem(t)
		fields := map[string]bool{}
		for _, fe := range p.Errors {
			fields[fe.Field] = true
		}
		for _, f := range []string{"mailbox", "pin", "email", "options"} {
			if !fields[f] {
				t.Errorf("no error for %s: %+v", f, p)
			}
		}
		e.must(400, "POST", "/api/v1/tenants/acme/mailboxes", tok, map[string]any{"mailbox": "2", "pin": "1", "colour": "red"}).problem(t)
		e.must(201, "POST", "/api/v1/tenants/acme/mailboxes", tok, map[string]any{"mailbox": "1002", "pin": "1"})
		r = e.must(200, "PATCH", "/api/v1/tenants/acme/mailboxes/1001@sales", tok, map[string]any{"fullname": "Alice B.", "options": map[string]string{"attach": "", "saycid": "yes"}})
		m = provision.Mailbox{}
		r.json(t, &m)
		if m.FullName != "Alice B." || m.Options["attach"] != "" || m.Options["saycid"] != "yes" {
			t.Errorf("patched %s", r.body)
		}
		var page struct{ Items []provision.Mailbox }
		e.must(200, "GET", "/api/v1/tenants/acme/mailboxes", tok, nil).json(t, &page)
		if len(page.Items) != 2 {
			t.Errorf("list %+v", page)
		}
		e.must(200, "GET", "/api/v1/tenants/acme/mailboxes/1002", tok, nil)
		e.must(204, "DELETE", "/api/v1/tenants/acme/mailboxes/1002@default", tok, nil)
		e.must(404, "GET", "/api/v1/tenants/acme/mailboxes/1002", tok, nil).problem(t)
		// Without a node's voicemail store, messages are unavailable.
		e.must(503, "GET", "/api/v1/tenants/acme/mailboxes/1001@sales/messages", tok, nil).problem(t)
	})
}

// TestMessages: a node's messages are listed from the store's index,
// streamed as WAV and deleted; the folder filter is checked.
func TestMessages(t *testing.T) {
	e := newEnv(t, store.Options{DataDir: t.TempDir(), Logger: storetest.Logger(t)})
	conf, err := voicemail.ParseConfig("voicemail.conf", strings.NewReader("[default]\n1001 => 1\n"))
	if err != nil {
		t.Fatal(err)
	}
	vm, err := voicemail.New(voicemail.Options{Root: t.TempDir(), Config: conf, Index: vmindex.New(e.st)})
	if err != nil {
		t.Fatal(err)
	}
	defer vm.Close()
	a, err := New(Options{Store: e.st, Provision: e.repo, Voicemail: vm, Logger: storetest.Logger(t)})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(a)
	defer srv.Close()
	e.srv = srv
	box, _ := vm.Lookup("default", "default", "1001")
	f, _ := vm.TempFile(box, "rec-*.wav")
	audio := append([]byte("RIFF...."), make([]byte, 1600)...)
	f.Write(audio)
	f.Close()
	msg, err := vm.Deposit(context.Background(), box, f.Name(), voicemail.Message{CallerID: `"Bob" <1002>`, Duration: 7}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	var list struct{ Items []messageJSON }
	e.must(200, "GET", "/api/v1/tenants/default/mailboxes/1001/messages", e.admin, nil).json(t, &list)
	if len(list.Items) != 1 || list.Items[0].ID != msg.ID || list.Items[0].CallerID != `"Bob" <1002>` || list.Items[0].Duration != 7 || list.Items[0].Folder != "INBOX" {
		t.Fatalf("list %+v", list)
	}
	e.must(200, "GET", "/api/v1/tenants/default/mailboxes/1001/messages?folder=old", e.admin, nil).json(t, &list)
	if len(list.Items) != 0 {
		t.Errorf("Old %+v", list)
	}
	e.must(400, "GET", "/api/v1/tenants/default/mailboxes/1001/messages?folder=Attic", e.admin, nil).problem(t)
	e.must(404, "GET", "/api/v1/tenants/default/mailboxes/9999/messages", e.admin, nil).problem(t)
	r := e.must(200, "GET", "/api/v1/tenants/default/mailboxes/1001/messages/"+msg.ID+"/audio", e.admin, nil)
	if string(r.body) != string(audio) || r.header.Get("Content-Type") != "audio/wav" {
		t.Errorf("audio %d bytes %q", len(r.body), r.header.Get("Content-Type"))
	}
	r = e.must(206, "GET", "/api/v1/tenants/default/mailboxes/1001/messages/"+msg.ID+"/audio", e.admin, nil, "Range", "bytes=0-3")
	if string(r.body) != "RIFF" {
		t.Errorf("range %q", r.body)
	}
	e.must(204, "DELETE", "/api/v1/tenants/default/mailboxes/1001/messages/"+msg.ID, e.admin, nil)
	e.must(404, "GET", "/api/v1/tenants/default/mailboxes/1001/messages/"+msg.ID, e.admin, nil).problem(t)
	if _, err := os.Stat(msg.Path + ".wav"); !os.IsNotExist(err) {
		t.Errorf("file left: %v", err)
	}
}
