package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"github.com/entvoice/entvoice/internal/cdr"
	"github.com/entvoice/entvoice/internal/media"
	"github.com/entvoice/entvoice/internal/provision"
	"github.com/entvoice/entvoice/internal/testpeer"
	"github.com/entvoice/entvoice/internal/voicemail"
)

// handleNotify keeps every NOTIFY the phone receives (MWI).
func (p *phone) handleNotify(req *sip.Request, tx sip.ServerTransaction) {
	_ = tx.Respond(sip.NewResponseFromRequest(req, 200, "OK", nil))
	p.mu.Lock()
	p.notifies = append(p.notifies, req)
	p.mu.Unlock()
	select {
	case p.notified <- struct{}{}:
	default:
	}
}

// waitNotify waits for a NOTIFY received after the first `after` ones whose
// Subscription-State starts with state and whose body holds every want;
// it returns it and how many NOTIFYs had arrived with it.
func (p *phone) waitNotify(t *testing.T, after int, state string, want ...string) (*sip.Request, int) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		p.mu.Lock()
		list := append([]*sip.Request(nil), p.notifies...)
		p.mu.Unlock()
		for i := after; i < len(list); i++ {
			n := list[i]
			ss := n.GetHeader("Subscription-State")
			ok := ss != nil && strings.HasPrefix(ss.Value(), state)
			for _, w := range want {
				ok = ok && strings.Contains(string(n.Body()), w)
			}
			if ok {
				return n, i + 1
			}
		}
		select {
		case <-p.notified:
		case <-deadline:
			var got []string
			for _, n := range list {
				ss := n.GetHeader("Subscription-State")
				got = append(got, fmt.Sprintf("[%v] %q", ss, n.Body()))
			}
			t.Fatalf("%s: no NOTIFY %s with %q; got %v", p.user, state, want, got)
		}
	}
}

func (p *phone) notifyCount() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.notifies)
}

// mwiDialog is a phone's message-summary subscription.
type mwiDialog struct {
	callID, fromTag, toTag string
	cseq                   uint32
}

// subscribe sends SUBSCRIBE for message-summary (digest-authenticated),
// or refreshes one (d set): it returns the subscription and the final
// response code.
func (p *phone) subscribe(ctx context.Context, d *mwiDialog, expires int) (*mwiDialog, int) {
	p.t.Helper()
	if d == nil {
		d = &mwiDialog{callID: sip.GenerateTagN(20), fromTag: sip.GenerateTagN(8)}
	}
	d.cseq++
	req := sip.NewRequest(sip.SUBSCRIBE, sip.Uri{Scheme: "sip", User: p.user, Host: "127.0.0.1", Port: portOf(p.registar)})
	from := &sip.FromHeader{Address: sip.Uri{Scheme: "sip", User: p.user, Host: p.host()}, Params: sip.NewParams()}
	from.Params.Add("tag", d.fromTag)
	to := &sip.ToHeader{Address: sip.Uri{Scheme: "sip", User: p.user, Host: p.host()}, Params: sip.NewParams()}
	if d.toTag != "" {
		to.Params.Add("tag", d.toTag)
	}
	req.AppendHeader(from)
	req.AppendHeader(to)
	cid := sip.CallIDHeader(d.callID)
	req.AppendHeader(&cid)
	req.AppendHeader(&sip.CSeqHeader{SeqNo: d.cseq, MethodName: sip.SUBSCRIBE})
	req.AppendHeader(&p.dua.ContactHDR)
	req.AppendHeader(sip.NewHeader("Event", "message-summary"))
	req.AppendHeader(sip.NewHeader("Accept", "application/simple-message-summary"))
	req.AppendHeader(sip.NewHeader("Expires", fmt.Sprint(expires)))
	res, err := p.client.Do(ctx, req)
	if err != nil {
		p.t.Fatalf("subscribe: %v", err)
	}
	if res.StatusCode == 401 {
		d.cseq++
		if res, err = p.client.DoDigestAuth(ctx, req, res, sipgo.DigestAuth{Username: p.user, Password: p.pass}); err != nil {
			p.t.Fatalf("subscribe auth: %v", err)
		}
	}
	if t := res.To(); t != nil && d.toTag == "" {
		d.toTag, _ = t.Params.Get("tag")
	}
	return d, res.StatusCode
}

// leaveVoicemail calls target, which goes to voicemail: # skips the
// greeting and the instructions, the phone's tone is recorded for about
// secs seconds, # ends the message; the dialplan then hangs up.
func leaveVoicemail(t *testing.T, ctx context.Context, p *phone, target string, secs time.Duration, greeting bool) {
	t.Helper()
	c, code, err := p.dial(ctx, target)
	if err != nil || code != 200 {
		t.Fatalf("dial %s: code %d err %v", target, code, err)
	}
	if greeting {
		time.Sleep(700 * time.Millisecond)
		if err := c.sendDigits(ctx, "#"); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(secs + 800*time.Millisecond) // the beep, then the message
	if err := c.sendDigits(ctx, "#"); err != nil {
		t.Fatal(err)
	}
	select {
	case <-c.done:
	case <-time.After(10 * time.Second):
		t.Fatal("the dialplan did not hang up after the message")
	}
}

// listenFirstMessage calls target (VoiceMailMain), presses 1 for the first
// message and reports the strongest amplitude of freq heard while its
// envelope and the message play; then # leaves the menu.
func listenFirstMessage(t *testing.T, ctx context.Context, p *phone, target string, freq float64) float64 {
	t.Helper()
	c, code, err := p.dial(ctx, target)
	if err != nil || code != 200 {
		t.Fatalf("dial %s: code %d err %v", target, code, err)
	}
	time.Sleep(1200 * time.Millisecond)
	if err := c.sendDigits(ctx, "1"); err != nil {
		t.Fatal(err)
	}
	best := 0.0
	for end := time.Now().Add(10 * time.Second); time.Now().Before(end); time.Sleep(250 * time.Millisecond) {
		best = max(best, p.heardTone(freq))
	}
	for i := 0; i < 4; i++ {
		if err := c.sendDigits(ctx, "#"); err != nil {
			break
		}
		select {
		case <-c.done:
			return best
		case <-time.After(3 * time.Second):
		}
	}
	c.hangup(ctx)
	return best
}

// TestVoicemailDemo is the demo's voicemail as a newcomer meets it: Alice
// calls Bob, who is busy; she leaves a message (her phone's 1000 Hz tone,
// digits as SIP INFO). Bob's phone, registered but not subscribed, gets
// an unsolicited MWI NOTIFY; he subscribes and gets the state in the
// subscription (and no more unsolicited ones); from *97 he hears Alice's
// tone, which moves the message to Old and turns his light off.
func TestVoicemailDemo(t *testing.T) {
	n := startDemo(t)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	alice := n.phone(t, "1001", "pass1001", testpeer.PCMU, 1000)
	bob := n.phone(t, "1002", "pass1002", testpeer.PCMA, 1400)
	bob.setOnInvite("busy")
	bob.register(ctx)

	leaveVoicemail(t, ctx, alice, "1002", 3*time.Second, true)
	n.waitIdle(t)
	unsolicited, seen := bob.waitNotify(t, 0, "terminated", "Messages-Waiting: yes", "Voice-Message: 1/0 (0/0)")
	if ev := unsolicited.GetHeader("Event"); ev == nil || ev.Value() != "message-summary" {
		t.Errorf("Event: %v", ev)
	}
	if ct := unsolicited.GetHeader("Content-Type"); ct == nil || ct.Value() != "application/simple-message-summary" {
		t.Errorf("Content-Type: %v", ct)
	}
	msgs, err := n.Voicemail.Messages(mustMailbox(t, n, "1002"), voicemail.Inbox)
	if err != nil || len(msgs) != 1 || msgs[0].CallerID != `"Alice" <1001>` || msgs[0].Duration < 2 {
		t.Fatalf("1002's INBOX: %+v %v", msgs, err)
	}
	if _, err := os.Stat(filepath.Join(n.DataDir, "voicemail", "default", "1002", "INBOX", "msg0000.wav")); err != nil {
		t.Fatal(err)
	}
	rec := waitCDR(t, n, "1001", "1002")
	if rec.Disposition != "ANSWERED" || rec.LastApp != "Hangup" || !strings.HasPrefix(rec.DstChannel, "PJSIP/1002-") {
		t.Errorf("Alice's CDR %+v", rec)
	}

	subscribedAt := bob.notifyCount()
	sub, code := bob.subscribe(ctx, nil, 600)
	if code != 200 {
		t.Fatalf("SUBSCRIBE: %d", code)
	}
	_, seen = bob.waitNotify(t, seen, "active", "Messages-Waiting: yes", "Voice-Message: 1/0 (0/0)")
	if n.SIP.Subscriptions() != 1 {
		t.Errorf("subscriptions %d", n.SIP.Subscriptions())
	}

	if amp := listenFirstMessage(t, ctx, bob, "*97", 1000); amp < 2000 {
		t.Errorf("Bob should hear Alice's 1000 Hz message: amplitude %.0f", amp)
	}
	n.waitIdle(t)
	_, seen = bob.waitNotify(t, seen, "active", "Messages-Waiting: no", "Voice-Message: 0/1 (0/0)")
	bob.mu.Lock()
	for _, nt := range bob.notifies[subscribedAt:] {
		if ss := nt.GetHeader("Subscription-State"); ss != nil && ss.Value() == "terminated" {
			t.Errorf("an unsolicited NOTIFY came while subscribed: %q", nt.Body())
		}
	}
	bob.mu.Unlock()
	if old, _ := n.Voicemail.Messages(mustMailbox(t, n, "1002"), voicemail.Old); len(old) != 1 {
		t.Errorf("the heard message is not in Old: %+v", old)
	}
	if r := waitCDR(t, n, "1002", "*97"); r.Disposition != "ANSWERED" || r.DContext != "demo" {
		t.Errorf("Bob's CDR %+v", r)
	}
	// Unsubscribing ends the subscription with a final NOTIFY.
	if _, code := bob.subscribe(ctx, sub, 0); code != 200 {
		t.Fatalf("unsubscribe: %d", code)
	}
	bob.waitNotify(t, seen, "terminated;reason=timeout")
	if n.SIP.Subscriptions() != 0 {
		t.Errorf("subscriptions after unsubscribe %d", n.SIP.Subscriptions())
	}
}

func mustMailbox(t *testing.T, n *testNode, number string) *voicemail.Mailbox {
	t.Helper()
	m, ok := n.Voicemail.Lookup("", "default", number)
	if !ok {
		t.Fatalf("no mailbox %s", number)
	}
	return m
}

// TestVoicemailSubscribeRefused: a SUBSCRIBE for another event package gets
// 489, for a user without a mailbox 404, with a wrong password 401; an
// unknown subscription's refresh 481.
func TestVoicemailSubscribeRefused(t *testing.T) {
	n := startNode(t, nodeSpec{yaml: `users:
  - {name: "1001", secret: pass1001}
  - {name: "1002", secret: pass1002}
voicemail: voicemail.conf
`, dialplan: "[default]\n", files: map[string]string{"voicemail.conf": "[default]\n1001 => 1\n"}})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	p := n.phone(t, "1002", "pass1002", testpeer.PCMU, 1000)
	if _, code := p.subscribe(ctx, nil, 600); code != 404 {
		t.Errorf("no mailbox: %d", code)
	}
	p.pass = "wrong"
	if _, code := p.subscribe(ctx, nil, 600); code != 401 {
		t.Errorf("wrong password: %d", code)
	}
	p = n.phone(t, "1001", "pass1001", testpeer.PCMU, 1000)
	if _, code := p.subscribe(ctx, nil, 10); code != 423 {
		t.Errorf("too brief: %d", code)
	}
	if _, code := p.subscribe(ctx, &mwiDialog{callID: "nope", fromTag: "a", toTag: "b"}, 600); code != 481 {
		t.Errorf("unknown dialog: %d", code)
	}
	req := sip.NewRequest(sip.SUBSCRIBE, sip.Uri{Scheme: "sip", User: "1001", Host: "127.0.0.1", Port: n.Port})
	req.AppendHeader(&sip.FromHeader{Address: sip.Uri{Scheme: "sip", User: "1001", Host: "127.0.0.1"}, Params: tagParams()})
	req.AppendHeader(&sip.ToHeader{Address: sip.Uri{Scheme: "sip", User: "1001", Host: "127.0.0.1"}})
	req.AppendHeader(&p.dua.ContactHDR)
	req.AppendHeader(sip.NewHeader("Event", "presence"))
	res, err := p.client.Do(ctx, req)
	if err != nil || res.StatusCode != 489 || res.GetHeader("Allow-Events") == nil {
		t.Errorf("presence: %v %v", res, err)
	}
}

// TestVoicemailAMIAndEmail: a message left raises MessageWaiting (with
// the caller's channel) on AMI, MailboxCount counts it, and its owner is
// e-mailed through the relay with the WAV attached.
func TestVoicemailAMIAndEmail(t *testing.T) {
	sink := testpeer.StartSMTPSink(t)
	amiPort := testpeer.FreePorts(t, 1)[0]
	n := startNode(t, nodeSpec{yaml: fmt.Sprintf(`users:
  - {name: "1001", secret: pass1001, callerid: '"Alice" <1001>'}
voicemail: voicemail.conf
smtp:
  relay: "%s"
ami:
  listen: "127.0.0.1:%d"
  users:
    - {name: admin, secret: amipass, read: all, write: all}
`, sink.Addr, amiPort), dialplan: `[default]
exten => 8000,1,VoiceMail(1002@default,s)
 same => n,Set(CDR(userfield)=${VMSTATUS})
 same => n,Hangup()
exten => 8001,1,VoiceMail(4444@default)
 same => n,Set(CDR(userfield)=${VMSTATUS})
 same => n,Hangup()
`, files: map[string]string{"voicemail.conf": "[general]\nserveremail=vm@pbx.test\n[default]\n1002 => 4242,Bob Example,bob@example.com,,attach=yes\n"}})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	ami := dialAMI(t, fmt.Sprintf("127.0.0.1:%d", amiPort), "admin", "amipass")
	alice := n.phone(t, "1001", "pass1001", testpeer.PCMU, 1000)
	leaveVoicemail(t, ctx, alice, "8000", 2*time.Second, false)
	ev := ami.message("Event: MessageWaiting")
	for _, w := range []string{"Channel: PJSIP/1001-", "CallerIDNum: 1001", "Mailbox: 1002@default\r\nWaiting: 1\r\nNew: 1\r\nOld: 0\r\n"} {
		if !strings.Contains(ev, w) {
			t.Errorf("MessageWaiting lacks %q:\n%s", w, ev)
		}
	}
	ami.send("Action: MailboxCount", "ActionID: c1", "Mailbox: 1002@default")
	if got := ami.message("ActionID: c1"); !strings.Contains(got, "Message: Mailbox Message Count\r\nMailbox: 1002@default\r\nUrgMessages: 0\r\nNewMessages: 1\r\nOldMessages: 0\r\n") {
		t.Errorf("MailboxCount:\n%s", got)
	}
	ami.send("Action: MailboxStatus", "ActionID: s1", "Mailbox: 1002")
	if got := ami.message("ActionID: s1"); !strings.Contains(got, "Waiting: 1") {
		t.Errorf("MailboxStatus:\n%s", got)
	}
	select {
	case got := <-sink.Messages:
		m := got.Data
		for _, w := range []string{"From: Asterisk PBX <vm@pbx.test>", "To: Bob Example <bob@example.com>", "Subject: [PBX]: New message 1 in mailbox 1002",
			"X-Asterisk-CallerID: 1001", `filename="msg0000.wav"`} {
			if !strings.Contains(m, w) {
				t.Errorf("e-mail lacks %q", w)
			}
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no e-mail")
	}
	if r := waitCDR(t, n, "1001", "8000"); r.UserField != "SUCCESS" || r.LastApp != "Hangup" {
		t.Errorf("CDR %+v", r)
	}
	// A mailbox that does not exist: VMSTATUS=FAILED, the dialplan goes on.
	c, code, err := alice.dial(ctx, "8001")
	if err == nil && code == 200 {
		select {
		case <-c.done:
		case <-time.After(10 * time.Second):
			c.hangup(ctx)
		}
	}
	if r := waitCDR(t, n, "1001", "8001"); r.UserField != "FAILED" {
		t.Errorf("unknown mailbox CDR %+v", r)
	}
}

// TestVoicemailBaresip: a real softphone with baresip's mwi module
// subscribes to its mailbox and is told, by NOTIFY, of the message a
// sipgo phone leaves; it then calls VoiceMailMain, walks the menu with RFC
// 4733 digits and hears the message (its recording of the call, checked
// by Goertzel).
func TestVoicemailBaresip(t *testing.T) {
	n := startNode(t, nodeSpec{yaml: `users:
  - {name: "1001", secret: pass1001, callerid: '"Alice" <1001>'}
  - {name: "1002", secret: pass1002}
voicemail: voicemail.conf
`, dialplan: `[default]
exten => 8000,1,VoiceMail(1001@default,u)
 same => n,Hangup()
exten => 8500,1,VoiceMailMain(1001@default)
 same => n,Hangup()
`, files: map[string]string{"voicemail.conf": "[general]\nenvelope=no\n[default]\n1001 => 4242,Alice\n"}})
	rec := t.TempDir()
	// baresip 1.0's mwi module loops for ever when its account registers
	// before the module's start-up timer has run (its timer walks the list
	// it appends to): the account that registers and subscribes is added
	// once baresip is up.
	alice := testpeer.StartBaresip(t, testpeer.BaresipOptions{User: "1001", Pass: "pass1001", MWI: true, RecordDir: rec})
	if _, err := alice.Command("uanew", fmt.Sprintf("<sip:1001@%s>;auth_pass=pass1001;regint=600;answermode=auto;audio_codecs=pcmu,pcma", n.Addr), 5*time.Second); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for n.SIP.Subscriptions() == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("baresip did not subscribe; events %+v", alice.Events())
		}
		time.Sleep(50 * time.Millisecond)
	}
	// The NOTIFY that answers the SUBSCRIBE may come before the test's
	// control connection to baresip: the one after the message is checked.
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	bob := n.phone(t, "1002", "pass1002", testpeer.PCMA, 1000)
	leaveVoicemail(t, ctx, bob, "8000", 3*time.Second, true)
	waitEvent := func(want string) {
		t.Helper()
		for end := time.Now().Add(10 * time.Second); time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
			for _, e := range alice.Events() {
				if e.Type == "MWI_NOTIFY" && strings.Contains(e.Param, want) {
					return
				}
			}
		}
		t.Fatalf("baresip was not told %q; events %+v", want, alice.Events())
	}
	waitEvent("Messages-Waiting: yes")

	if _, err := alice.Command("dial", fmt.Sprintf("sip:8500@%s", n.Addr), 5*time.Second); err != nil {
		t.Fatal(err)
	}
	if _, ok := alice.WaitEvent("CALL_ESTABLISHED", 10*time.Second); !ok {
		t.Fatalf("VoiceMailMain did not answer; events %+v", alice.Events())
	}
	// The PIN, then 1 for the first message (RFC 4733 from baresip).
	time.Sleep(1500 * time.Millisecond)
	if _, err := alice.Command("sndcode", "4242#", 5*time.Second); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2500 * time.Millisecond)
	if _, err := alice.Command("sndcode", "1", 5*time.Second); err != nil {
		t.Fatal(err)
	}
	time.Sleep(6 * time.Second) // "first message", then the message
	if _, err := alice.Command("hangup", "", 5*time.Second); err != nil {
		t.Fatal(err)
	}
	if _, ok := alice.WaitEvent("CALL_CLOSED", 10*time.Second); !ok {
		t.Fatal("call not closed")
	}
	n.waitIdle(t)
	heard := baresipHeard(t, rec)
	best := 0.0
	for off := 0; off+8000 <= len(heard); off += 4000 {
		best = max(best, testpeer.Goertzel(heard[off:off+8000], 8000, 1000))
	}
	if best < 2000 {
		t.Errorf("baresip should hear the 1000 Hz message: amplitude %.0f over %d samples", best, len(heard))
	}
	// Heard: moved to Old, and the light goes off.
	waitEvent("Messages-Waiting: no")
	if old, _ := n.Voicemail.Messages(mustMailbox(t, n, "1001"), voicemail.Old); len(old) != 1 {
		t.Errorf("Old %+v", old)
	}
}

// baresipHeard is what baresip decoded in its call (sndfile's *-dec.wav).
func baresipHeard(t *testing.T, dir string) []int16 {
	t.Helper()
	matches, _ := filepath.Glob(filepath.Join(dir, "*-dec.wav"))
	if len(matches) == 0 {
		t.Fatalf("no baresip recording in %s", dir)
	}
	f, err := os.Open(matches[len(matches)-1])
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	pcm, err := media.ReadWAV(f)
	if err != nil {
		t.Fatal(err)
	}
	return pcm
}

// TestVoicemailDiskFull: the mailbox's file system fills up while a
// message is recorded (a 24 KiB tmpfs, about a second and a half of
// audio): the caller is told, VMSTATUS is FAILED, and nothing
// half-written is listed, in the folder or in the store. It needs root
// (mount); elsewhere it is skipped.
func TestVoicemailDiskFull(t *testing.T) {
	n := startNode(t, nodeSpec{yaml: `users:
  - {name: "1001", secret: pass1001}
voicemail: voicemail.conf
`, dialplan: `[default]
exten => 8000,1,VoiceMail(1002@default,s)
 same => n,Set(CDR(userfield)=${VMSTATUS})
 same => n,Hangup()
`, files: map[string]string{"voicemail.conf": "[default]\n1002 => 1\n"}})
	box := filepath.Join(n.DataDir, "voicemail", "default", "1002")
	if err := os.MkdirAll(box, 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=24k", "tmpfs", box).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a small tmpfs (needs root): %v %s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("umount", box).Run() })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	p := n.phone(t, "1001", "pass1001", testpeer.PCMU, 1000)
	c, code, err := p.dial(ctx, "8000")
	if err != nil || code != 200 {
		t.Fatalf("dial: %d %v", code, err)
	}
	heard := 0
	select {
	case <-c.done:
		heard = p.heardSamples()
	case <-time.After(15 * time.Second):
		t.Fatal("the call did not end after the failed recording")
	}
	r := waitCDR(t, n, "1001", "8000")
	if r.UserField != "FAILED" {
		t.Errorf("VMSTATUS %q, want FAILED", r.UserField)
	}
	m := mustMailbox(t, n, "1002")
	if msgs, err := n.Voicemail.Messages(m, voicemail.Inbox); err != nil || len(msgs) != 0 {
		t.Errorf("INBOX %+v %v", msgs, err)
	}
	if idx, err := n.Voicemail.List(ctx, m, ""); err != nil || len(idx) != 0 {
		t.Errorf("store %+v %v", idx, err)
	}
	if tmp, _ := os.ReadDir(filepath.Join(box, "tmp")); len(tmp) != 0 {
		t.Errorf("left in tmp: %v", tmp)
	}
	// The beep, then the error and "mailbox full" (beeperr, vm-mailboxfull).
	if heard < 2*8000 {
		t.Errorf("the caller heard %d samples: no error prompt", heard)
	}
}

// TestVoicemailHosted: provisioned mailboxes are per tenant. acme's 1002
// leaves a message for acme's 1001, filed under acme~default and told to
// acme's 1001 phone (from acme's domain); beta has the voicemail service
// switched off, so VoiceMail refuses there.
func TestVoicemailHosted(t *testing.T) {
	h := startHosted(t)
	off := false
	h.src.PutTenant(provision.Tenant{ID: "beta", Name: "beta", Domain: "beta.example", Status: "active", Services: provision.Switches{Voicemail: &off}})
	var rev int64
	for _, tn := range []string{"acme", "beta"} {
		pin, _ := voicemail.HashPIN("4242")
		rev = h.src.PutMailbox(provision.Mailbox{Tenant: tn, Context: "default", Mailbox: "1001", PINHash: pin, FullName: tn + " one"})
		for i, x := range []provision.Extension{
			{Context: "internal", Exten: "8000", App: "VoiceMail", AppData: "1001@default,s"},
			{Context: "internal", Exten: "8000", App: "Set", AppData: "CDR(userfield)=${VMSTATUS}"},
			{Context: "internal", Exten: "8000", App: "Hangup"},
		} {
			x.Tenant, x.Priority = tn, i+1
			_, rev = h.src.PutExtension(x)
		}
	}
	h.waitInForce(t, rev)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	owner := h.tenantPhone(t, "acme", "1001", 1400)
	owner.register(ctx)
	caller := h.tenantPhone(t, "acme", "1002", 1000)
	seen := owner.notifyCount()
	leaveVoicemail(t, ctx, caller, "8000", 2*time.Second, false)
	nt, _ := owner.waitNotify(t, seen, "terminated", "Messages-Waiting: yes", "Voice-Message: 1/0")
	if f := nt.From(); f == nil || f.Address.Host != "acme.example" {
		t.Errorf("the NOTIFY comes from %v, want acme.example", f)
	}
	if _, err := os.Stat(filepath.Join(h.DataDir, "voicemail", "acme~default", "1001", "INBOX", "msg0000.wav")); err != nil {
		t.Error(err)
	}
	if r := waitCDR(t, h.testNode, "1002", "8000"); r.UserField != "SUCCESS" || r.Tenant != "acme" {
		t.Errorf("acme CDR %+v", r)
	}
	beta := h.tenantPhone(t, "beta", "1002", 1000)
	c, code, err := beta.dial(ctx, "8000")
	if err == nil && code == 200 {
		select {
		case <-c.done:
		case <-time.After(10 * time.Second):
			c.hangup(ctx)
		}
	}
	var betaCDR cdr.Record
	for end := time.Now().Add(5 * time.Second); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
		for _, r := range h.cdrs(t, 0) {
			if r.Tenant == "beta" && r.Dst == "8000" {
				betaCDR = r
			}
		}
		if betaCDR.Tenant != "" {
			break
		}
	}
	if betaCDR.UserField != "FAILED" {
		t.Errorf("beta's VoiceMail should refuse (service off): %+v", betaCDR)
	}
	if _, err := os.Stat(filepath.Join(h.DataDir, "voicemail", "beta~default", "1001", "INBOX")); !os.IsNotExist(err) {
		t.Errorf("beta's mailbox got a message: %v", err)
	}
}
