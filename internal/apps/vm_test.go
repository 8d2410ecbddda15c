package apps

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/entvoice/entvoice/internal/channel"
	"github.com/entvoice/entvoice/internal/voicemail"
)

// scriptIO is the caller of the voicemail menus' unit tests: it records
// every sound played and presses each digit of its script once the sound
// the script waits for has been played. A press goes to the next wait for
// a digit, or interrupts the next prompt that digit may interrupt.
type scriptIO struct {
	t      *testing.T
	vm     Voicemail
	lang   string
	played []string
	script []press
	armed  *press
	steps  int
	// recordEnd is how the next recordings end (default recAccept).
	recordEnd []rune
}

// press is one digit, pressed after the sound after was played ("" at
// the next chance). 'H' hangs up.
type press struct {
	after string
	digit rune
}

// keys builds a script: "vm-opts:1" presses 1 after vm-opts; ":#" at once.
func keys(steps ...string) []press {
	var out []press
	for _, s := range steps {
		i := strings.LastIndexByte(s, ':')
		after := s[:i]
		for _, d := range s[i+1:] {
			out = append(out, press{after: after, digit: d})
			after = "" // later digits of the group follow at once
		}
	}
	return out
}

func (s *scriptIO) tick() {
	if s.steps++; s.steps > 5000 {
		s.t.Fatalf("the menu does not end; played %v", s.tail())
	}
}

func (s *scriptIO) tail() []string {
	if len(s.played) > 40 {
		return s.played[len(s.played)-40:]
	}
	return s.played
}

// heard arms the next press once its sound has been played.
func (s *scriptIO) heard(name string) {
	s.played = append(s.played, name)
	if s.armed == nil && len(s.script) > 0 && (s.script[0].after == name || s.script[0].after == "") {
		p := s.script[0]
		s.script = s.script[1:]
		s.armed = &p
	}
}

func (s *scriptIO) take(escape string) (rune, error) {
	if s.armed == nil {
		if len(s.script) > 0 && s.script[0].after == "" {
			p := s.script[0]
			s.script = s.script[1:]
			s.armed = &p
		} else {
			return 0, nil
		}
	}
	d := s.armed.digit
	if d == 'H' {
		return 0, channel.ErrHangup
	}
	if !strings.ContainsRune(escape, d) {
		return 0, nil
	}
	s.armed = nil
	return d, nil
}

func (s *scriptIO) play(escape string, names ...string) (rune, error) {
	for _, n := range names {
		s.tick()
		if d, err := s.take(escape); err != nil || d != 0 {
			return d, err
		}
		if filepath.IsAbs(n) {
			n = "file:" + filepath.Base(filepath.Dir(n)) + "/" + filepath.Base(n)
		}
		s.heard(n)
	}
	// A digit pressed once the last sound ended goes to what comes next.
	return 0, nil
}

func (s *scriptIO) playMessage(path string, _ time.Duration) (rune, error) {
	s.tick()
	s.heard("msg:" + filepath.Base(filepath.Dir(path)) + "/" + filepath.Base(path))
	return s.take("13456789")
}

func (s *scriptIO) waitDigit(time.Duration) (rune, error) {
	s.tick()
	d, err := s.take(allDigits)
	if err == nil && d == 0 {
		s.played = append(s.played, "(timeout)")
	}
	return d, err
}

func (s *scriptIO) readString(max int, first, next time.Duration, enders string, prompts ...string) (string, error) {
	return readStringIO(s, max, first, next, enders, prompts...)
}

func (s *scriptIO) record(m *voicemail.Mailbox, spec recordSpec) (recording, error) {
	s.tick()
	if spec.Prompt != "" {
		s.heard(spec.Prompt)
	}
	if spec.Prompt != "" || spec.Beep {
		s.heard("beep")
	}
	s.heard("(recording)")
	end := rune(recAccept)
	if len(s.recordEnd) > 0 {
		end, s.recordEnd = s.recordEnd[0], s.recordEnd[1:]
	}
	if end == recError {
		return recording{End: recError}, nil
	}
	f, err := s.vm.TempFile(m, "rec-*.wav")
	if err != nil {
		s.t.Fatal(err)
	}
	hdr := make([]byte, 44)
	copy(hdr, "RIFF")
	_, _ = f.Write(append(hdr, make([]byte, 16000)...))
	f.Close()
	rec := recording{Path: f.Name(), End: end, Duration: 3, SoundDuration: 3}
	if end == recHangup {
		return rec, channel.ErrHangup
	}
	// A digit that ends the recording is consumed.
	if s.armed != nil && s.armed.after == "(recording)" {
		s.armed = nil
	}
	return rec, nil
}

func (s *scriptIO) language() string        { return s.lang }
func (s *scriptIO) setLanguage(lang string) { s.lang = lang }
func (s *scriptIO) exists(string) bool      { return true }

// played checks that want appears in the sounds played, in order
// (other sounds may come between).
func (s *scriptIO) saw(t *testing.T, want ...string) {
	t.Helper()
	i := 0
	for _, p := range s.played {
		if i < len(want) && p == want[i] {
			i++
		}
	}
	if i < len(want) {
		t.Fatalf("missing %q (after %v) in what was played:\n%s", want[i], want[:i], strings.Join(s.played, " "))
	}
}

type vmEnv struct {
	t  *testing.T
	vm *voicemail.Service
}

func newVMEnv(t *testing.T, conf string) *vmEnv {
	t.Helper()
	c, err := voicemail.ParseConfig("voicemail.conf", strings.NewReader(conf))
	if err != nil {
		t.Fatal(err)
	}
	s, err := voicemail.New(voicemail.Options{Root: t.TempDir(), Config: c})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return &vmEnv{t: t, vm: s}
}

func (v *vmEnv) box(number string) *voicemail.Mailbox {
	m, ok := v.vm.Lookup("", "default", number)
	if !ok {
		v.t.Fatalf("no mailbox %s", number)
	}
	return m
}

// leave deposits a message as if a caller had left it.
func (v *vmEnv) leave(number, cid string, flag string, when time.Time) *voicemail.Message {
	return v.leaveFrom(number, cid, "demo", flag, when)
}

func (v *vmEnv) leaveFrom(number, cid, dpContext, flag string, when time.Time) *voicemail.Message {
	v.t.Helper()
	m := v.box(number)
	f, err := v.vm.TempFile(m, "rec-*.wav")
	if err != nil {
		v.t.Fatal(err)
	}
	f.Write(make([]byte, 800))
	f.Close()
	msg, err := v.vm.Deposit(context.Background(), m, f.Name(), voicemail.Message{CallerID: cid, Flag: flag, OrigTime: when, Duration: 150, Context: dpContext}, nil, nil)
	if err != nil {
		v.t.Fatal(err)
	}
	return msg
}

func (v *vmEnv) io(script ...press) *scriptIO {
	return &scriptIO{t: v.t, vm: v.vm, lang: "en", script: script}
}

func (v *vmEnv) session(io *scriptIO, number string) *vmMain {
	return &vmMain{io: io, vm: v.vm, ctx: context.Background(), m: v.box(number),
		lookup: func(c, n string) (*voicemail.Mailbox, bool) { return v.vm.Lookup("", c, n) }}
}

func (v *vmEnv) ids(number, folder string) []string {
	msgs, err := v.vm.Messages(v.box(number), folder)
	if err != nil {
		v.t.Fatal(err)
	}
	var out []string
	for _, m := range msgs {
		out = append(out, m.ID)
	}
	return out
}

const vmConf = "[general]\nsaycid=yes\ncidinternalcontexts=demo\n[default]\n1001 => 1234,Alice\n1002 => 4321,Bob\n1003 => 1003,Carol,,,forcename=yes\n"

// TestVMMainBrowseDeleteSave walks the main menu: the intro counts, the
// first message with its envelope, delete, next, save to Work, exit.
func TestVMMainBrowseDeleteSave(t *testing.T) {
	env := newVMEnv(t, vmConf)
	when := time.Now().Add(-time.Hour)
	a := env.leave("1001", `"Bob" <1002>`, "", when)
	b := env.leaveFrom("1001", `"Eve" <5551234>`, "from-trunk", "", when)
	old := env.leave("1001", "", "", when)
	if _, err := env.vm.Move(context.Background(), env.box("1001"), voicemail.Inbox, old.ID, voicemail.Old, nil); err != nil {
		t.Fatal(err)
	}
	io := env.io(keys("vm-opts:1", "msg:INBOX/msg0000:7", "vm-deleted:6", "msg:INBOX/msg0001:9", "vm-savefolder:2", "vm-messages:#")...)
	if err := env.session(io, "1001").run(-1); err != nil {
		t.Fatal(err)
	}
	io.saw(t, "vm-youhave", "digits/2", "vm-INBOX", "vm-and", "digits/1", "vm-Old", "vm-message",
		"vm-onefor", "vm-INBOX", "vm-opts",
		"vm-first", "vm-message", "vm-received", "vm-from-extension", "digits/1", "digits/0", "digits/0", "digits/2",
		"vm-duration", "digits/2", "vm-minutes", "msg:INBOX/msg0000",
		"vm-deleted",
		"vm-last", "vm-message", "vm-from-phonenumber", "digits/5", "msg:INBOX/msg0001",
		"vm-savefolder", "vm-message", "digits/2", "vm-savedto", "vm-Work", "vm-messages", "vm-goodbye")
	if got := env.ids("1001", voicemail.Inbox); len(got) != 0 {
		t.Errorf("INBOX %v", got)
	}
	if got := env.ids("1001", "Work"); !slices.Equal(got, []string{b.ID}) {
		t.Errorf("Work %v", got)
	}
	if got := env.ids("1001", voicemail.Old); !slices.Equal(got, []string{old.ID}) {
		t.Errorf("Old %v (the deleted %s must be gone)", got, a.ID)
	}
}

// TestVMMainHeardMovesToOld: a message listened to moves to Old when the
// session ends (moveheard); the unheard stays new; undelete keeps one.
func TestVMMainHeardMovesToOld(t *testing.T) {
	env := newVMEnv(t, vmConf)
	a := env.leave("1001", "", "", time.Now())
	b := env.leave("1001", "", "", time.Now())
	io := env.io(keys("vm-opts:1", "msg:INBOX/msg0000:7", "vm-deleted:7", "vm-undeleted:#")...)
	if err := env.session(io, "1001").run(-1); err != nil {
		t.Fatal(err)
	}
	io.saw(t, "vm-youhave", "digits/2", "vm-INBOX", "vm-messages", "vm-unknown-caller", "msg:INBOX/msg0000", "vm-deleted", "vm-undeleted", "vm-goodbye")
	if got := env.ids("1001", voicemail.Inbox); !slices.Equal(got, []string{b.ID}) {
		t.Errorf("INBOX %v", got)
	}
	if got := env.ids("1001", voicemail.Old); !slices.Equal(got, []string{a.ID}) {
		t.Errorf("Old %v", got)
	}
	if st := env.vm.State("", "1001"); st.New != 1 || st.Old != 1 {
		t.Errorf("state %+v", st)
	}
}

// TestVMMainEmptyAndTimeout: no messages, nobody presses anything: the
// instructions are repeated, then goodbye.
func TestVMMainEmptyAndTimeout(t *testing.T) {
	env := newVMEnv(t, vmConf)
	io := env.io()
	if err := env.session(io, "1002").run(-1); err != nil {
		t.Fatal(err)
	}
	io.saw(t, "vm-youhave", "vm-no", "vm-messages", "vm-opts", "vm-helpexit", "(timeout)", "vm-opts", "(timeout)", "vm-opts", "(timeout)", "vm-goodbye")
}

func TestVMMainUrgentFirst(t *testing.T) {
	env := newVMEnv(t, vmConf)
	env.leave("1001", "", "", time.Now())
	u := env.leave("1001", "", "Urgent", time.Now())
	io := env.io(keys("vm-opts:1", "msg:Urgent/msg0000:6", "msg:INBOX/msg0000:#")...)
	if err := env.session(io, "1001").run(-1); err != nil {
		t.Fatal(err)
	}
	io.saw(t, "vm-youhave", "digits/1", "vm-Urgent", "vm-and", "digits/1", "vm-INBOX", "vm-message",
		"vm-first", "vm-Urgent", "vm-message", "msg:Urgent/msg0000", "vm-first", "vm-message", "msg:INBOX/msg0000", "vm-goodbye")
	if got := env.ids("1001", voicemail.Old); len(got) != 2 || !slices.Contains(got, u.ID) {
		t.Errorf("both heard messages go to Old: %v", got)
	}
}

func TestVMMainChangeFolder(t *testing.T) {
	env := newVMEnv(t, vmConf)
	env.leave("1001", "", "", time.Now())
	io := env.io(keys("vm-opts:2", "vm-changeto:1", "vm-messages:1", "vm-messages:#")...)
	if err := env.session(io, "1001").run(-1); err != nil {
		t.Fatal(err)
	}
	io.saw(t, "vm-changeto", "vm-Old", "vm-messages", "vm-youhave", "vm-no", "vm-Old", "vm-messages", "vm-goodbye")
}

func TestVMMainChangePIN(t *testing.T) {
	env := newVMEnv(t, "[general]\nminpassword=4\n[default]\n1001 => 1234\n")
	io := env.io(keys("vm-opts:0", "vm-options:5", "vm-newpassword:12#", "vm-pls-try-again:5", "vm-newpassword:5678#",
		"vm-reenterpassword:5679#", "vm-pls-try-again:5", "vm-newpassword:5678#", "vm-reenterpassword:5678#", "vm-passchanged:*", "vm-opts:#")...)
	if err := env.session(io, "1001").run(-1); err != nil {
		t.Fatal(err)
	}
	io.saw(t, "vm-options", "vm-newpassword", "vm-invalid-password", "vm-pls-try-again", "vm-newpassword", "vm-reenterpassword",
		"vm-mismatch", "vm-pls-try-again", "vm-newpassword", "vm-reenterpassword", "vm-passchanged", "vm-goodbye")
	m := env.box("1001")
	if !env.vm.CheckPIN(m, "5678") || env.vm.CheckPIN(m, "1234") {
		t.Fatal("PIN not changed")
	}
}

// TestVMMainGreetings: 0 1 records the unavailable greeting and keeps it
// on 1; 0 4 records the temporary greeting, which then plays to callers.
func TestVMMainGreetings(t *testing.T) {
	env := newVMEnv(t, vmConf)
	io := env.io(keys("vm-opts:0", "vm-options:1", "vm-review:2", "vm-review:1", "vm-msgsaved:4", "vm-review:1", "vm-msgsaved:*", "vm-opts:#")...)
	if err := env.session(io, "1001").run(-1); err != nil {
		t.Fatal(err)
	}
	io.saw(t, "vm-options", "vm-rec-unv", "beep", "(recording)", "vm-review", "vm-review", "vm-msgsaved", "vm-rec-temp", "vm-msgsaved")
	m := env.box("1001")
	if _, ok := env.vm.Greeting(m, voicemail.GreetUnavail); !ok {
		t.Fatal("no unavailable greeting")
	}
	if _, ok := env.vm.Greeting(m, voicemail.GreetTemp); !ok {
		t.Fatal("no temporary greeting")
	}
	// A caller now hears the temporary greeting, whatever b or u says.
	cio := env.io()
	l := &leaver{io: cio, vm: env.vm, ctx: context.Background()}
	res, err := l.leave(m, nil, leaveOptions{busy: true, beep: "beep"})
	if err != nil || res.status != "SUCCESS" {
		t.Fatalf("%+v %v", res, err)
	}
	cio.saw(t, "file:1001/temp", "vm-intro", "beep", "(recording)")
}

// TestVMMainNewUser: forcename makes a user whose PIN is still the mailbox
// number record the name and choose a PIN first.
func TestVMMainNewUser(t *testing.T) {
	env := newVMEnv(t, vmConf)
	io := env.io(keys("vm-review:1", "vm-newpassword:2468#", "vm-reenterpassword:2468#", "vm-passchanged:#")...)
	if err := env.session(io, "1003").run(-1); err != nil {
		t.Fatal(err)
	}
	io.saw(t, "vm-newuser", "vm-rec-name", "beep", "(recording)", "vm-review", "vm-msgsaved", "vm-newpassword", "vm-passchanged")
	m := env.box("1003")
	if _, ok := env.vm.Greeting(m, voicemail.GreetName); !ok || !env.vm.CheckPIN(m, "2468") {
		t.Fatal("new user setup not saved")
	}
}

func TestVMMainForward(t *testing.T) {
	env := newVMEnv(t, vmConf)
	msg := env.leave("1001", `"Bob" <1002>`, "", time.Now())
	io := env.io(keys("vm-opts:1", "msg:INBOX/msg0000:8", "vm-extension:9999#", "pbx-invalid:", "vm-extension:1002#", "vm-forwardoptions:2", "vm-msgforwarded:#")...)
	if err := env.session(io, "1001").run(-1); err != nil {
		t.Fatal(err)
	}
	io.saw(t, "vm-extension", "pbx-invalid", "vm-extension", "digits/1", "digits/0", "digits/0", "digits/2", "vm-forwardoptions", "vm-msgforwarded")
	got, _ := env.vm.Messages(env.box("1002"), voicemail.Inbox)
	if len(got) != 1 || got[0].CallerID != msg.CallerID {
		t.Fatalf("1002's INBOX %+v", got)
	}
}

// TestVMMainHangupKeepsState: hanging up mid-session applies what was done.
func TestVMMainHangupKeepsState(t *testing.T) {
	env := newVMEnv(t, vmConf)
	a := env.leave("1001", "", "", time.Now())
	env.leave("1001", "", "", time.Now())
	io := env.io(keys("vm-opts:1", "msg:INBOX/msg0000:7", "vm-deleted:H")...)
	if err := env.session(io, "1001").run(-1); err != channel.ErrHangup {
		t.Fatalf("want a hangup, got %v", err)
	}
	if got := env.ids("1001", voicemail.Inbox); len(got) != 1 || got[0] == a.ID {
		t.Errorf("INBOX %v", got)
	}
}

func TestVMAuthenticate(t *testing.T) {
	env := newVMEnv(t, vmConf)
	lookup := func(c, n string) (*voicemail.Mailbox, bool) { return env.vm.Lookup("", c, n) }
	// Wrong mailbox PIN, then the right one.
	io := env.io(keys("vm-login:1001#", "vm-password:1111#", "vm-incorrect-mailbox:1001#", "vm-password:1234#")...)
	au := vmAuth{io: io, vm: env.vm, lookup: lookup, context: "default", maxLogins: 3}
	m, star, err := au.run()
	if err != nil || star || m == nil || m.Number != "1001" {
		t.Fatalf("%v %v %v", m, star, err)
	}
	io.saw(t, "vm-login", "vm-password", "vm-incorrect-mailbox", "vm-password")
	// An empty mailbox is the caller's number; three failures end it.
	io = env.io(keys("vm-login:#", "vm-password:0#", "vm-incorrect-mailbox:#", "vm-password:0#", "vm-incorrect-mailbox:9#", "vm-password:0#")...)
	au = vmAuth{io: io, vm: env.vm, lookup: lookup, context: "default", callerNum: "1002", maxLogins: 3}
	if m, _, err := au.run(); m != nil || err != nil {
		t.Fatalf("three failures: %v %v", m, err)
	}
	io.saw(t, "vm-login", "vm-password", "vm-incorrect-mailbox", "vm-password", "vm-incorrect-mailbox", "vm-password", "vm-incorrect", "vm-goodbye")
	// * at the mailbox prompt is the a extension.
	io = env.io(keys("vm-login:*")...)
	au = vmAuth{io: io, vm: env.vm, lookup: lookup, context: "default", maxLogins: 3}
	if _, star, _ := au.run(); !star {
		t.Fatal("* not reported")
	}
}

// TestLeaveMessage: the unavailable announcement, the intro, the beep, the
// recording deposited with the envelope.
func TestLeaveMessage(t *testing.T) {
	env := newVMEnv(t, vmConf)
	io := env.io()
	l := &leaver{io: io, vm: env.vm, ctx: context.Background()}
	res, err := l.leave(env.box("1002"), []*voicemail.Mailbox{env.box("1001")}, leaveOptions{unavail: true, beep: "beep",
		info: voicemail.Message{CallerID: `"Alice" <1001>`, Context: "demo", Exten: "1002", Priority: 3}})
	if err != nil || res.status != "SUCCESS" || res.file == "" {
		t.Fatalf("%+v %v", res, err)
	}
	io.saw(t, "vm-theperson", "digits/1", "digits/0", "digits/0", "digits/2", "vm-isunavail", "vm-intro", "beep", "(recording)")
	for _, n := range []string{"1002", "1001"} {
		got, _ := env.vm.Messages(env.box(n), voicemail.Inbox)
		if len(got) != 1 || got[0].CallerID != `"Alice" <1001>` || got[0].Duration != 3 || got[0].Exten != "1002" {
			t.Errorf("%s: %+v", n, got)
		}
	}
}

func TestLeaveMessageExits(t *testing.T) {
	env := newVMEnv(t, "[general]\noperator=yes\n[default]\n1001 => 1\n")
	for _, tc := range []struct {
		name   string
		script []press
		exits  string
		status string
		exit   rune
	}{
		{"star", keys("vm-isunavail:*"), "0*", "USEREXIT", '*'},
		{"operator", keys("vm-isunavail:0"), "0*", "USEREXIT", '0'},
		{"d option digit", keys("vm-isunavail:5"), "", "USEREXIT", '5'},
		{"# skips the intro", keys("vm-isunavail:#"), "0*", "SUCCESS", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			io := env.io(tc.script...)
			l := &leaver{io: io, vm: env.vm, ctx: context.Background()}
			o := leaveOptions{unavail: true, beep: "beep", exits: tc.exits}
			if tc.exit == '5' {
				o.digitExits = "5"
			}
			res, err := l.leave(env.box("1001"), nil, o)
			if err != nil || res.status != tc.status || res.exit != tc.exit {
				t.Fatalf("%+v %v; played %v", res, err, io.played)
			}
			if tc.name == "# skips the intro" && slices.Contains(io.played, "vm-intro") {
				t.Errorf("# did not skip the intro: %v", io.played)
			}
		})
	}
}

// TestLeaveMessageWriteError: a recording that cannot be written (a full
// disk) gives the caller an error and leaves nothing in the mailbox.
func TestLeaveMessageWriteError(t *testing.T) {
	env := newVMEnv(t, vmConf)
	io := env.io()
	io.recordEnd = []rune{recError}
	l := &leaver{io: io, vm: env.vm, ctx: context.Background()}
	res, err := l.leave(env.box("1001"), nil, leaveOptions{beep: "beep", silent: true})
	if err != nil || res.status != "FAILED" {
		t.Fatalf("%+v %v", res, err)
	}
	io.saw(t, "beep", "(recording)", "beeperr", "vm-mailboxfull")
	if got := env.ids("1001", voicemail.Inbox); len(got) != 0 {
		t.Errorf("INBOX %v", got)
	}
	tmp, _ := os.ReadDir(filepath.Join(env.vm.Root(), "default", "1001", "tmp"))
	if len(tmp) != 0 {
		t.Errorf("left in tmp: %v", tmp)
	}
}

// TestLeaveMessageReviewAndHangup: review=yes lets the caller mark the
// message urgent; a caller who hangs up after recording keeps the message.
func TestLeaveMessageReviewAndHangup(t *testing.T) {
	env := newVMEnv(t, "[general]\nreview=yes\n[default]\n1001 => 1\n")
	io := env.io(keys("vm-review-urgent:4", "vm-marked-urgent:1")...)
	l := &leaver{io: io, vm: env.vm, ctx: context.Background()}
	res, err := l.leave(env.box("1001"), nil, leaveOptions{beep: "beep", silent: true})
	if err != nil || res.status != "SUCCESS" {
		t.Fatalf("%+v %v", res, err)
	}
	io.saw(t, "(recording)", "vm-review", "vm-review-urgent", "vm-marked-urgent", "vm-msgsaved")
	if got := env.ids("1001", voicemail.Urgent); len(got) != 1 {
		t.Errorf("Urgent %v", got)
	}
	io = env.io()
	io.recordEnd = []rune{recHangup}
	l = &leaver{io: io, vm: env.vm, ctx: context.Background()}
	res, err = l.leave(env.box("1001"), nil, leaveOptions{beep: "beep", silent: true})
	if err != channel.ErrHangup || res.status != "SUCCESS" {
		t.Fatalf("hangup: %+v %v", res, err)
	}
	if got := env.ids("1001", voicemail.Inbox); len(got) != 1 {
		t.Errorf("INBOX %v", got)
	}
}

func TestLeaveMessageFullAndGreetingOnly(t *testing.T) {
	env := newVMEnv(t, "[default]\n1001 => 1,A,,,maxmsg=1\n1002 => 1,B,,,maxmsg=0\n")
	env.leave("1001", "", "", time.Now())
	io := env.io()
	l := &leaver{io: io, vm: env.vm, ctx: context.Background()}
	if res, _ := l.leave(env.box("1001"), nil, leaveOptions{beep: "beep"}); res.status != "FAILED" {
		t.Errorf("full: %+v", res)
	}
	io.saw(t, "vm-intro", "vm-mailboxfull")
	io = env.io()
	l = &leaver{io: io, vm: env.vm, ctx: context.Background()}
	if res, _ := l.leave(env.box("1002"), nil, leaveOptions{beep: "beep"}); res.status != "SUCCESS" || slices.Contains(io.played, "beep") {
		t.Errorf("greeting only: %+v %v", res, io.played)
	}
}

func TestIntroLanguages(t *testing.T) {
	env := newVMEnv(t, vmConf)
	for lang, want := range map[string]string{
		"es": "vm-youhave digits/1M vm-message vm-INBOXs vm-and digits/2 vm-messages vm-Old",
		"it": "vm-youhave digits/un vm-nuovo vm-message vm-and digits/2 vm-vecchi vm-messages",
		"fr": "vm-youhave digits/1 vm-INBOX vm-and digits/2 vm-Old vm-messages",
		"en": "vm-youhave digits/1 vm-INBOX vm-and digits/2 vm-Old vm-messages",
	} {
		v := &vmMain{io: &scriptIO{t: t, lang: lang}, vm: env.vm, m: env.box("1001"), newMsgs: 1, oldMsgs: 2}
		if got := strings.Join(v.introPrompts(), " "); got != want {
			t.Errorf("%s: %s\n want %s", lang, got, want)
		}
	}
	v := &vmMain{io: &scriptIO{t: t, lang: "es"}, vm: env.vm, m: env.box("1001")}
	if got := fmt.Sprint(v.introPrompts()); got != "[vm-youhaveno vm-messages]" {
		t.Errorf("es none: %s", got)
	}
}

func TestAppOptions(t *testing.T) {
	o := appOptions("bUd(ivr)t()g(5)s")
	if !has(o, 'b') || !has(o, 'U') || o['d'] != "ivr" || !has(o, 't') || o['t'] != "" || o['g'] != "5" || !has(o, 's') || has(o, 'u') {
		t.Fatalf("%v", o)
	}
	if parseFolderOption("Work") != 2 || parseFolderOption("1") != 1 || parseFolderOption("x") != 0 || parseFolderOption("12") != 0 {
		t.Fatal("folder option")
	}
}
