package voicemail

import (
	"bufio"
	"context"
	"encoding/base64"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/entvoice/entvoice/internal/events"
	"github.com/entvoice/entvoice/internal/testpeer"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func newService(t *testing.T, conf string, o Options) *Service {
	t.Helper()
	c, err := ParseConfig("voicemail.conf", strings.NewReader(conf))
	if err != nil {
		t.Fatal(err)
	}
	o.Config, o.Root = c, t.TempDir()
	if o.Hostname == "" {
		o.Hostname = "pbx.test"
	}
	s, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

// recording writes a WAV file of n samples in the mailbox's tmp dir, as
// VoiceMail does before Deposit.
func recording(t *testing.T, s *Service, m *Mailbox, n int) string {
	t.Helper()
	f, err := s.TempFile(m, "rec-*.wav")
	if err != nil {
		t.Fatal(err)
	}
	hdr := make([]byte, 44)
	copy(hdr, "RIFF")
	copy(hdr[8:], "WAVEfmt ")
	if _, err := f.Write(append(hdr, make([]byte, 2*n)...)); err != nil {
		t.Fatal(err)
	}
	f.Close()
	return f.Name()
}

func mustBox(t *testing.T, s *Service, id string) *Mailbox {
	t.Helper()
	n, c := ParseID(id)
	m, ok := s.Lookup("", c, n)
	if !ok {
		t.Fatalf("no mailbox %s", id)
	}
	return m
}

func TestDepositListsAndPublishes(t *testing.T) {
	bus := events.New()
	sub := bus.Subscribe(16, nil)
	defer sub.Close()
	s := newService(t, "[default]\n1001 => 1234,Alice\n1002 => 1,Bob\n", Options{Bus: bus})
	a, b := mustBox(t, s, "1001"), mustBox(t, s, "1002@default")
	ch := &events.Snapshot{Channel: "PJSIP/1003-00000001"}
	msg, err := s.Deposit(context.Background(), a, recording(t, s, a, 8000), Message{CallerID: `"Carol" <1003>`, Duration: 1, Context: "demo", Exten: "1001", Priority: 2, CallerChan: ch.Channel}, []*Mailbox{b}, ch)
	if err != nil {
		t.Fatal(err)
	}
	if msg.Folder != Inbox || msg.Num != 0 || filepath.Base(msg.Path) != "msg0000" {
		t.Fatalf("deposit %+v", msg)
	}
	// Asterisk's layout and txt keys.
	txt, err := os.ReadFile(filepath.Join(s.Root(), "default", "1001", "INBOX", "msg0000.txt"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"[message]\n", "origmailbox=1001\n", "context=demo\n", "callerid=\"Carol\" <1003>\n", "msg_id=" + msg.ID + "\n", "duration=1\n", "priority=2\n"} {
		if !strings.Contains(string(txt), want) {
			t.Errorf("txt lacks %q:\n%s", want, txt)
		}
	}
	if _, err := os.Stat(filepath.Join(s.Root(), "default", "1002", "INBOX", "msg0000.wav")); err != nil {
		t.Errorf("the copy for 1002: %v", err)
	}
	if st := s.State("", "1001"); st.New != 1 || st.Old != 0 || st.Mailbox != "1001@default" {
		t.Errorf("state %+v", st)
	}
	got := map[string]events.Event{}
	for len(got) < 2 {
		select {
		case e := <-sub.C:
			if e.Kind == events.MessageWaiting {
				got[e.Mailbox.Mailbox] = *e
			}
		case <-time.After(2 * time.Second):
			t.Fatalf("MessageWaiting events: %v", got)
		}
	}
	if e := got["1001@default"]; e.Mailbox.New != 1 || e.Channel != ch || e.Tenant != "default" {
		t.Errorf("event %+v", e)
	}
	// An urgent message goes to Urgent and counts as new.
	if _, err := s.Deposit(context.Background(), a, recording(t, s, a, 800), Message{Flag: "Urgent"}, nil, nil); err != nil {
		t.Fatal(err)
	}
	if st := s.State("", "1001@default"); st.New != 2 || st.Urgent != 1 {
		t.Errorf("urgent state %+v", st)
	}
}

func TestFullMailboxRefusesAndKeepsNothing(t *testing.T) {
	s := newService(t, "[default]\n1001 => 1,A,,,maxmsg=1\n", Options{})
	a := mustBox(t, s, "1001")
	if _, err := s.Deposit(context.Background(), a, recording(t, s, a, 100), Message{}, nil, nil); err != nil {
		t.Fatal(err)
	}
	rec := recording(t, s, a, 100)
	if _, err := s.Deposit(context.Background(), a, rec, Message{}, nil, nil); err != ErrFull {
		t.Fatalf("want ErrFull, got %v", err)
	}
	if _, err := os.Stat(rec); !os.IsNotExist(err) {
		t.Errorf("the refused recording is left in tmp: %v", err)
	}
	if msgs, _ := s.Messages(a, Inbox); len(msgs) != 1 {
		t.Errorf("messages %d", len(msgs))
	}
}

// TestHalfWrittenNotListed: a message whose txt never made it (a crash or
// full disk between the audio and the txt) is not listed, and is removed
// when the folder is renumbered.
func TestHalfWrittenNotListed(t *testing.T) {
	s := newService(t, "[default]\n1001 => 1\n", Options{})
	a := mustBox(t, s, "1001")
	if _, err := s.Deposit(context.Background(), a, recording(t, s, a, 100), Message{}, nil, nil); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(s.Root(), "default", "1001", "INBOX")
	if err := os.WriteFile(filepath.Join(dir, "msg0001.wav"), []byte("RIFF"), 0o644); err != nil {
		t.Fatal(err)
	}
	if msgs, _ := s.Messages(a, Inbox); len(msgs) != 1 {
		t.Fatalf("a message without its txt is listed: %d", len(msgs))
	}
	if st := s.State("", "1001"); st.New != 1 {
		t.Fatalf("state %+v", st)
	}
	if err := s.CloseFolder(context.Background(), a, Inbox, nil, nil, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "msg0001.wav")); !os.IsNotExist(err) {
		t.Errorf("remains not cleaned: %v", err)
	}
}

func TestSessionCloseMovesHeardDeletesAndRenumbers(t *testing.T) {
	s := newService(t, "[default]\n1001 => 1\n", Options{})
	a := mustBox(t, s, "1001")
	var ids []string
	for i := 0; i < 4; i++ {
		m, err := s.Deposit(context.Background(), a, recording(t, s, a, 100), Message{CallerID: fmt.Sprint(i)}, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, m.ID)
	}
	// Save message 2 to Work at once (menu 9), as Asterisk does.
	moved, err := s.Move(context.Background(), a, Inbox, ids[2], "Work", nil)
	if err != nil || moved.Folder != "Work" || moved.Num != 0 {
		t.Fatalf("move %+v %v", moved, err)
	}
	// Heard 0 and 1, deleted 1 (deleted wins), 3 untouched.
	if err := s.CloseFolder(context.Background(), a, Inbox, map[string]bool{ids[1]: true}, map[string]bool{ids[0]: true, ids[1]: true}, nil); err != nil {
		t.Fatal(err)
	}
	inbox, _ := s.Messages(a, Inbox)
	old, _ := s.Messages(a, Old)
	work, _ := s.Messages(a, "Work")
	if len(inbox) != 1 || inbox[0].ID != ids[3] || inbox[0].Num != 0 {
		t.Errorf("INBOX %+v", inbox)
	}
	if len(old) != 1 || old[0].ID != ids[0] || len(work) != 1 {
		t.Errorf("Old %+v Work %+v", old, work)
	}
	if err := s.Delete(context.Background(), a, ids[2]); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(context.Background(), a, ids[2]); err == nil {
		t.Error("deleting twice succeeded")
	}
}

func TestPINChangedByPhoneUntilConfigChanges(t *testing.T) {
	s := newService(t, "[default]\n1001 => 1234\n1002 => -\n", Options{})
	a := mustBox(t, s, "1001")
	if !s.NeedsPIN(a) || !s.CheckPIN(a, "1234") || s.CheckPIN(a, "4321") {
		t.Fatal("configured PIN")
	}
	if s.NeedsPIN(mustBox(t, s, "1002")) {
		t.Error("a '-' PIN asks for none")
	}
	if err := s.SetPIN(a, "98"); err != nil {
		t.Fatal(err)
	}
	if !s.CheckPIN(a, "98") || s.CheckPIN(a, "1234") {
		t.Fatal("the phone's PIN wins over the configured one")
	}
	// The operator sets another PIN in the configuration: it wins.
	b := *a
	b.PIN = "5555"
	if !s.CheckPIN(&b, "5555") || s.CheckPIN(&b, "98") {
		t.Fatal("a configuration change wins over the phone's PIN")
	}
	h, _ := HashPIN("777")
	c := *a
	c.PIN, c.PINHash = "", h
	if !s.CheckPIN(&c, "777") {
		t.Fatal("hashed PIN")
	}
}

func TestProvisionedMailboxes(t *testing.T) {
	s := newService(t, "[default]\n1001 => 1\n", Options{})
	s.SetProvisioned([]*Mailbox{
		{Tenant: "default", Context: "default", Number: "1001", Options: DefaultSettings()}, // shadowed
		{Tenant: "acme", Context: "default", Number: "1001", User: "2001", Options: DefaultSettings()},
		{Tenant: "acme", Context: "sales", Number: "500", Options: DefaultSettings()},
	})
	a, ok := s.Lookup("acme", "", "1001")
	if !ok || a.Notifies() != "2001" {
		t.Fatalf("acme 1001: %+v", a)
	}
	if boxes := s.ForUser("acme", "2001"); len(boxes) != 1 || boxes[0] != a {
		t.Errorf("ForUser %v", boxes)
	}
	if _, ok := s.Lookup("other", "default", "1001"); ok {
		t.Error("another tenant sees acme's mailbox")
	}
	if len(s.Mailboxes("acme")) != 2 || len(s.Mailboxes("default")) != 1 {
		t.Errorf("Mailboxes %v %v", s.Mailboxes("acme"), s.Mailboxes("default"))
	}
	if _, err := s.Deposit(context.Background(), a, recording(t, s, a, 10), Message{}, nil, nil); err != nil {
		t.Fatal(err)
	}
	// A hosted tenant's context is qualified on disk.
	if _, err := os.Stat(filepath.Join(s.Root(), "acme~default", "1001", "INBOX", "msg0000.txt")); err != nil {
		t.Error(err)
	}
}

// TestEmailNotification: a new message is e-mailed through the relay as
// Asterisk writes it, the WAV attached.
func TestEmailNotification(t *testing.T) {
	sink := testpeer.StartSMTPSink(t)
	s := newService(t, "[general]\nserveremail=vm@pbx.test\n[default]\n1001 => 1,Alice Example,alice@example.com,,attach=yes\n",
		Options{Mailer: &SMTP{Addr: sink.Addr, Timeout: 5 * time.Second}})
	a := mustBox(t, s, "1001")
	rec := recording(t, s, a, 1600)
	want, _ := os.ReadFile(rec)
	if _, err := s.Deposit(context.Background(), a, rec, Message{CallerID: `"Bob" <1002>`, Duration: 65}, nil, nil); err != nil {
		t.Fatal(err)
	}
	var got testpeer.SMTPMessage
	select {
	case got = <-sink.Messages:
	case <-time.After(5 * time.Second):
		t.Fatal("no e-mail arrived")
	}
	msg := got.Data
	if len(got.To) != 1 || got.To[0] != "alice@example.com" || got.From != "vm@pbx.test" {
		t.Errorf("envelope %v -> %v", got.From, got.To)
	}
	for _, w := range []string{
		"From: Asterisk PBX <vm@pbx.test>", "To: Alice Example <alice@example.com>",
		"Subject: [PBX]: New message 1 in mailbox 1001", "X-Asterisk-CallerID: 1002", "X-Asterisk-CallerIDName: Bob",
		"Dear Alice Example:", "left a 1:05 long message (number 1)", "in mailbox 1001 from Bob",
		`Content-Type: audio/x-wav; name="msg0000.wav"`, `Content-Disposition: attachment; filename="msg0000.wav"`,
	} {
		if !strings.Contains(msg, w) {
			t.Errorf("mail lacks %q:\n%s", w, msg)
		}
	}
	// The attachment decodes to the recording.
	i := strings.Index(msg, `filename="msg0000.wav"`)
	body := msg[i:]
	body = body[strings.Index(body, "\n\n")+2:]
	body = body[:strings.Index(body, "\n\n")]
	var b strings.Builder
	sc := bufio.NewScanner(strings.NewReader(body))
	for sc.Scan() {
		b.WriteString(strings.TrimSpace(sc.Text()))
	}
	wav, err := base64.StdEncoding.DecodeString(b.String())
	if err != nil || string(wav) != string(want) {
		t.Errorf("attachment: %d bytes (want %d), %v", len(wav), len(want), err)
	}
}

// TestEmailRelayDown: a relay that cannot be reached loses no message.
func TestEmailRelayDown(t *testing.T) {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := ln.Addr().String()
	ln.Close()
	s := newService(t, "[default]\n1001 => 1,A,a@example.com\n", Options{Mailer: &SMTP{Addr: addr, Timeout: time.Second}})
	a := mustBox(t, s, "1001")
	if _, err := s.Deposit(context.Background(), a, recording(t, s, a, 10), Message{}, nil, nil); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if msgs, _ := s.Messages(a, Inbox); len(msgs) != 1 {
		t.Fatalf("messages %d", len(msgs))
	}
}

func TestSplitCallerID(t *testing.T) {
	for in, want := range map[string][2]string{
		`"Bob" <1002>`: {"1002", "Bob"}, `<1002>`: {"1002", ""}, "1002": {"1002", ""}, "Unknown": {"", ""}, "Bob": {"", "Bob"}, "": {"", ""},
	} {
		n, m := SplitCallerID(in)
		if n != want[0] || m != want[1] {
			t.Errorf("%q: %q %q", in, n, m)
		}
	}
	if d := OrigDate(time.Date(2025, 12, 8, 9, 5, 3, 0, time.UTC)); d != "Mon Dec  8 09:05:03 AM UTC 2025" {
		t.Errorf("origdate %q", d)
	}
}
