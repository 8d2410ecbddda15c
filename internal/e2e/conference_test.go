package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/entvoice/entvoice/internal/events"
	"github.com/entvoice/entvoice/internal/media"
	"github.com/entvoice/entvoice/internal/testpeer"
)

// confUsers are 1001-1010 in context conf; odd users speak PCMU, even
// ones PCMA, so every conference mixes both laws.
func confUsers(extra string) string {
	var b strings.Builder
	b.WriteString("users:\n")
	for i := 1; i <= 10; i++ {
		codec := "pcmu"
		if i%2 == 0 {
			codec = "pcma"
		}
		fmt.Fprintf(&b, "  - {name: \"%d\", secret: pass%d, context: conf, codecs: [%s]}\n", 1000+i, 1000+i, codec)
	}
	b.WriteString("shutdown: {grace: 1s}\n")
	b.WriteString(extra)
	return b.String()
}

const confPlan = `[conf]
exten => 800,1,ConfBridge(800)
 same => n,Set(CDR(userfield)=${CONFBRIDGE_RESULT})
 same => n,Hangup()
exten => 801,1,ConfBridge(801,,leader)
 same => n,Set(CDR(userfield)=${CONFBRIDGE_RESULT})
 same => n,Hangup()
exten => 802,1,ConfBridge(801,,waiter)
 same => n,Set(CDR(userfield)=${CONFBRIDGE_RESULT})
 same => n,Hangup()
exten => 803,1,ConfBridge(803,,secure,keys)
 same => n,Set(CDR(userfield)=${CONFBRIDGE_RESULT})
 same => n,Hangup()
exten => h,1,Set(CDR(userfield)=${CONFBRIDGE_RESULT})
`

const confbridgeConf = `[secure]
type=user
pin=1234

[keys]
type=menu
1=toggle_mute
8=leave_conference

[leader]
type=user
marked=yes

[waiter]
type=user
wait_marked=yes
end_marked=yes
music_on_hold_when_empty=yes
`

// confNode starts a node with confPlan, confbridgeConf and, when ami,
// an AMI listener with user admin/secret.
func confNode(t *testing.T, ami bool) (*testNode, string) {
	t.Helper()
	dir := t.TempDir()
	conf := filepath.Join(dir, "confbridge.conf")
	if err := os.WriteFile(conf, []byte(confbridgeConf), 0o644); err != nil {
		t.Fatal(err)
	}
	extra := "confbridge: " + conf + "\n"
	addr := ""
	if ami {
		addr = fmt.Sprintf("127.0.0.1:%d", testpeer.FreePorts(t, 1)[0])
		extra += fmt.Sprintf("ami: {listen: %q, users: [{name: admin, secret: secret, read: all, write: all}]}\n", addr)
	}
	return startNode(t, nodeSpec{yaml: confUsers(extra), dialplan: confPlan}), addr
}

// settle is how long after the last join the parties' prompts (the
// first one's "only person", 3.2 s) and join sounds take to pass.
const settle = 4500 * time.Millisecond

// party is a phone in a conference.
type party struct {
	p    *phone
	c    *call
	tone float64
}

// joinParties has users 1001.. dial exten one after the other, each
// sending its own tone at amplitude amp.
func joinParties(t *testing.T, n *testNode, exten string, tones []float64, amp int16, first int) []*party {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var out []*party
	for i, f := range tones {
		user := fmt.Sprint(1000 + first + i)
		codec := testpeer.PCMU
		if (first+i)%2 == 0 {
			codec = testpeer.PCMA
		}
		p := n.phone(t, user, "pass"+user, codec, f)
		p.amp = amp
		c, code, err := p.dial(ctx, exten)
		if err != nil || code != 200 {
			t.Fatalf("%s dials %s: code %d err %v", user, exten, code, err)
		}
		out = append(out, &party{p: p, c: c, tone: f})
	}
	return out
}

// waitParticipants waits until the conference has want participants.
func waitParticipants(t *testing.T, n *testNode, conf string, want int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		parts, _ := n.Control.ConferenceParticipants(context.Background(), "", conf)
		if len(parts) == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("conference %s has %d participants, want %d", conf, len(parts), want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// checkHearing: every party hears every other's tone and not its own
// (the mix is the sum minus self), over the last second.
func checkHearing(t *testing.T, parties []*party, heard, silent float64) {
	t.Helper()
	for _, me := range parties {
		for _, other := range parties {
			a := me.p.heardTone(other.tone)
			switch {
			case other == me && a > silent:
				t.Errorf("%s hears its own %.0f Hz at %.0f", me.p.user, me.tone, a)
			case other != me && a < heard:
				t.Errorf("%s hears %s's %.0f Hz at only %.0f", me.p.user, other.p.user, other.tone, a)
			}
		}
	}
}

func hangupAll(parties []*party) {
	for _, p := range parties {
		p.c.hangup(context.Background())
	}
}

// TestConferenceThree: three phones (PCMU, PCMA, PCMU) in conference
// 800 each hear the two others' tones and not their own, on the wire;
// the node reports ConfbridgeStart, three joins and leaves and
// ConfbridgeEnd, and each caller's CDR is an answered ConfBridge.
func TestConferenceThree(t *testing.T) {
	n, _ := confNode(t, false)
	sub := n.Bus.Subscribe(4096, func(e *events.Event) bool { return strings.HasPrefix(string(e.Kind), "Confbridge") })
	defer sub.Close()
	parties := joinParties(t, n, "800", []float64{500, 900, 1300}, 8000, 1)
	waitParticipants(t, n, "800", 3)
	// The first one hears "you are the only person" alone (3.2 s); the
	// join sounds pass.
	time.Sleep(settle)
	checkHearing(t, parties, 3000, 300)
	hangupAll(parties)
	n.waitIdle(t)

	var kinds []string
	joins := map[string]string{}
	for len(kinds) < 8 {
		select {
		case e := <-sub.C:
			kinds = append(kinds, string(e.Kind))
			if e.Kind == events.ConfbridgeJoin {
				joins[e.Channel.Channel] = fmt.Sprintf("admin=%v muted=%v conf=%s", e.Conference.Admin, e.Conference.Muted, e.Conference.Name)
			}
		case <-time.After(3 * time.Second):
			t.Fatalf("conference events: %q", kinds)
		}
	}
	if kinds[0] != "ConfbridgeStart" || kinds[len(kinds)-1] != "ConfbridgeEnd" || len(joins) != 3 {
		t.Errorf("conference events %q, joins %v", kinds, joins)
	}
	for ch, j := range joins {
		if j != "admin=false muted=false conf=800" {
			t.Errorf("%s joined with %s", ch, j)
		}
	}
	rows := n.cdrs(t, 3)
	for _, r := range rows {
		if r.LastApp != "ConfBridge" || r.Disposition != "ANSWERED" || r.Dst != "800" {
			t.Errorf("CDR %s: lastapp %q disposition %q dst %q", r.Channel, r.LastApp, r.Disposition, r.Dst)
		}
	}
}

// TestConferenceTen: ten phones in one conference, five PCMU and five
// PCMA, each hear the nine others' distinct tones and not their own.
func TestConferenceTen(t *testing.T) {
	n, _ := confNode(t, false)
	tones := []float64{350, 480, 620, 770, 940, 1090, 1230, 1390, 1560, 1710}
	// 2000 peak each: the nine others sum below the limiter's knee, so
	// the mix adds no distortion products.
	parties := joinParties(t, n, "800", tones, 2000, 1)
	waitParticipants(t, n, "800", 10)
	time.Sleep(settle)
	// Each tone arrives at up to its 2000 sent; on a loaded machine (the
	// ten phones' senders are goroutines of this test) frames go missing,
	// so a fifth is enough to say it is heard, against nothing of one's own.
	checkHearing(t, parties, 400, 150)
	hangupAll(parties)
	n.waitIdle(t)
}

// TestConferenceAMI: ConfbridgeListRooms and ConfbridgeList describe the
// conference; ConfbridgeMute silences a participant for the others
// (ConfbridgeMute event) and ConfbridgeUnmute brings it back;
// ConfbridgeKick removes one, whose dialplan goes on with
// CONFBRIDGE_RESULT=KICKED; bad requests get app_confbridge's errors.
func TestConferenceAMI(t *testing.T) {
	n, addr := confNode(t, true)
	ami := dialAMIAt(t, addr, "admin", "secret")
	parties := joinParties(t, n, "800", []float64{500, 900, 1300}, 8000, 1)
	waitParticipants(t, n, "800", 3)
	time.Sleep(settle)

	resp, rooms := ami.list("ConfbridgeListRooms", "Action: ConfbridgeListRooms", "ActionID: r1")
	if resp["Message"] != "Confbridge conferences will follow" || len(rooms) != 1 || rooms[0]["Conference"] != "800" ||
		rooms[0]["Parties"] != "3" || rooms[0]["Locked"] != "No" || rooms[0]["ActionID"] != "r1" {
		t.Errorf("ConfbridgeListRooms: %v %v", resp, rooms)
	}
	_, list := ami.list("ConfbridgeList", "Action: ConfbridgeList", "Conference: 800")
	if len(list) != 3 {
		t.Fatalf("ConfbridgeList: %v", list)
	}
	bob := ""
	for _, p := range list {
		if strings.HasPrefix(p["Channel"], "PJSIP/1002-") {
			bob = p["Channel"]
		}
		if p["Admin"] != "No" || p["Muted"] != "No" || p["Waiting"] != "No" || p["Conference"] != "800" {
			t.Errorf("ConfbridgeList item %v", p)
		}
	}
	if bob == "" {
		t.Fatalf("1002 is not listed: %v", list)
	}

	for _, c := range []struct {
		lines []string
		msg   string
	}{
		{[]string{"Action: ConfbridgeMute", "Conference: 800"}, "No channel name provided."},
		{[]string{"Action: ConfbridgeMute", "Channel: " + bob}, "No Conference name provided."},
		{[]string{"Action: ConfbridgeKick", "Conference: 999", "Channel: all"}, "No Conference by that name found."},
		{[]string{"Action: ConfbridgeKick", "Conference: 800", "Channel: PJSIP/9999-00000001"}, "No Channel by that name found in Conference."},
		{[]string{"Action: ConfbridgeStopRecord", "Conference: 800"}, "Internal error while stopping recording."},
	} {
		if r := ami.action(c.lines...); r["Response"] != "Error" || r["Message"] != c.msg {
			t.Errorf("%v: %v, want Error %q", c.lines, r, c.msg)
		}
	}

	if r := ami.action("Action: ConfbridgeMute", "Conference: 800", "Channel: PJSIP/1002"); r["Message"] != "User muted" {
		t.Fatalf("ConfbridgeMute: %v", r)
	}
	ami.waitEvent("ConfbridgeMute", func(m map[string]string) bool { return m["Channel"] == bob })
	time.Sleep(1500 * time.Millisecond)
	alice, carol := parties[0].p, parties[2].p
	if a := alice.heardTone(900); a > 300 {
		t.Errorf("alice still hears muted bob: %.0f", a)
	}
	if a := alice.heardTone(1300); a < 3000 {
		t.Errorf("alice no longer hears carol: %.0f", a)
	}
	if r := ami.action("Action: ConfbridgeUnmute", "Conference: 800", "Channel: "+bob); r["Message"] != "User unmuted" {
		t.Fatalf("ConfbridgeUnmute: %v", r)
	}
	time.Sleep(1500 * time.Millisecond)
	if a := carol.heardTone(900); a < 3000 {
		t.Errorf("carol does not hear bob after unmute: %.0f", a)
	}

	// Recording the mix: a CBRec channel stands for it while it runs.
	if r := ami.action("Action: ConfbridgeStartRecord", "Conference: 800", "RecordFile: conf800.wav"); r["Message"] != "Conference Recording Started." {
		t.Fatalf("ConfbridgeStartRecord: %v", r)
	}
	ami.waitEvent("ConfbridgeRecord", nil)
	if r := ami.action("Action: ConfbridgeStartRecord", "Conference: 800"); r["Message"] != "Conference is already being recorded." {
		t.Errorf("second ConfbridgeStartRecord: %v", r)
	}
	recorder := ""
	for _, ch := range n.Channels.List() {
		if strings.HasPrefix(ch.Name, "CBRec/800-") {
			recorder = ch.Name
		}
	}
	if recorder == "" {
		t.Error("no CBRec channel while recording")
	}
	time.Sleep(1500 * time.Millisecond)
	if r := ami.action("Action: ConfbridgeStopRecord", "Conference: 800"); r["Message"] != "Conference Recording Stopped." {
		t.Fatalf("ConfbridgeStopRecord: %v", r)
	}
	ami.waitEvent("ConfbridgeStopRecord", nil)
	ami.waitEvent("Hangup", func(m map[string]string) bool { return m["Channel"] == recorder })
	files, _ := filepath.Glob(filepath.Join(n.DataDir, "recordings", "conf800-*.wav"))
	if len(files) != 1 {
		t.Fatalf("recordings: %v", files)
	}
	f, err := os.Open(files[0])
	if err != nil {
		t.Fatal(err)
	}
	pcm, err := media.ReadWAV(f)
	f.Close()
	if err != nil || len(pcm) < 8000 {
		t.Fatalf("recording: %d samples, %v", len(pcm), err)
	}
	for _, tone := range []float64{500, 900, 1300} {
		if a := testpeer.Goertzel(pcm[len(pcm)-8000:], 8000, tone); a < 3000 {
			t.Errorf("the recording lacks the %.0f Hz participant: %.0f", tone, a)
		}
	}

	carolCh := ""
	for _, p := range list {
		if strings.HasPrefix(p["Channel"], "PJSIP/1003-") {
			carolCh = p["Channel"]
		}
	}
	if r := ami.action("Action: ConfbridgeKick", "Conference: 800", "Channel: "+carolCh); r["Message"] != "User kicked" {
		t.Fatalf("ConfbridgeKick: %v", r)
	}
	ami.waitEvent("ConfbridgeLeave", func(m map[string]string) bool { return m["Channel"] == carolCh })
	waitParticipants(t, n, "800", 2)
	select {
	case <-parties[2].c.done: // the kicked caller's dialplan hung up
	case <-time.After(10 * time.Second):
		t.Error("the kicked caller was not hung up by its dialplan")
	}
	hangupAll(parties[:2])
	n.waitIdle(t)
	for _, r := range n.cdrs(t, 3) {
		want := "HANGUP"
		if r.Channel == carolCh {
			want = "KICKED"
		}
		if r.UserField != want {
			t.Errorf("%s: CONFBRIDGE_RESULT %q, want %q", r.Channel, r.UserField, want)
		}
	}
}

// TestConferenceWaitForLeader: wait_marked users hear music on hold
// (music_on_hold_when_empty) and not each other until a marked user
// joins; then everyone hears everyone. When the marked user leaves, the
// end_marked waiters are removed with CONFBRIDGE_RESULT=ENDMARKED.
func TestConferenceWaitForLeader(t *testing.T) {
	n, _ := confNode(t, false)
	waiters := joinParties(t, n, "802", []float64{500, 900}, 8000, 1)
	waitParticipants(t, n, "801", 2)
	// "Waiting for the leader" (about 3 s), then music.
	time.Sleep(5 * time.Second)
	for i, w := range waiters {
		other := waiters[1-i]
		if a := w.p.heardTone(other.tone); a > 300 {
			t.Errorf("waiter %s hears waiter %s before the leader came: %.0f", w.p.user, other.p.user, a)
		}
		if l := meanAbs(lastSecond(w.p.heardPCM())); l < 300 {
			t.Errorf("waiter %s hears no music on hold: level %.0f", w.p.user, l)
		}
	}
	leader := joinParties(t, n, "801", []float64{1300}, 8000, 3)[0]
	waitParticipants(t, n, "801", 3)
	time.Sleep(3 * time.Second)
	checkHearing(t, append(waiters, leader), 3000, 300)

	leader.c.hangup(context.Background())
	for _, w := range waiters {
		select {
		case <-w.c.done:
		case <-time.After(10 * time.Second):
			t.Errorf("waiter %s was not removed when the leader left", w.p.user)
		}
	}
	n.waitIdle(t)
	results := map[string]string{}
	for _, r := range n.cdrs(t, 3) {
		results[r.Src] = r.UserField
	}
	if results["1001"] != "ENDMARKED" || results["1002"] != "ENDMARKED" || results["1003"] != "HANGUP" {
		t.Errorf("CONFBRIDGE_RESULT by caller: %v", results)
	}
}

// TestConferenceMenuAndPIN: a PIN-protected profile lets in the caller who
// types it; in the conference, its menu's 1 mutes (ConfbridgeMute) and 8
// leaves (CONFBRIDGE_RESULT=DTMF); a caller who gets the PIN wrong three
// times is not let in (FAILED).
func TestConferenceMenuAndPIN(t *testing.T) {
	n, _ := confNode(t, false)
	sub := n.Bus.Subscribe(256, func(e *events.Event) bool { return e.Kind == events.ConfbridgeMute })
	defer sub.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	parties := joinParties(t, n, "800", []float64{500}, 8000, 1)
	alice := parties[0]
	bob := n.phone(t, "1002", "pass1002", testpeer.PCMA, 900)
	cb, code, err := bob.dial(ctx, "803")
	if err != nil || code != 200 {
		t.Fatalf("bob dials 803: %d %v", code, err)
	}
	time.Sleep(1500 * time.Millisecond) // "please enter the PIN"
	if err := cb.sendDigits(ctx, "1234#"); err != nil {
		t.Fatal(err)
	}
	waitParticipants(t, n, "803", 1)
	// 803 is its own conference: alice is in 800. Bob mutes himself and
	// leaves with the menu.
	time.Sleep(settle)
	if err := cb.sendDigits(ctx, "1"); err != nil {
		t.Fatal(err)
	}
	select {
	case e := <-sub.C:
		if !strings.HasPrefix(e.Channel.Channel, "PJSIP/1002-") || e.Conference.Name != "803" {
			t.Errorf("ConfbridgeMute of %s in %s", e.Channel.Channel, e.Conference.Name)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no ConfbridgeMute after the menu's 1")
	}
	time.Sleep(2 * time.Second) // "conf-muted": digits meanwhile are dropped
	if err := cb.sendDigits(ctx, "8"); err != nil {
		t.Fatal(err)
	}
	select {
	case <-cb.done:
	case <-time.After(10 * time.Second):
		t.Fatal("8 did not make bob leave")
	}

	carol := n.phone(t, "1003", "pass1003", testpeer.PCMU, 1300)
	cc, code, err := carol.dial(ctx, "803")
	if err != nil || code != 200 {
		t.Fatalf("carol dials 803: %d %v", code, err)
	}
	for range 3 {
		time.Sleep(1500 * time.Millisecond)
		_ = cc.sendDigits(ctx, "9#")
	}
	select {
	case <-cc.done:
	case <-time.After(20 * time.Second):
		t.Fatal("three wrong PINs did not end carol's call")
	}
	alice.c.hangup(ctx)
	n.waitIdle(t)
	results := map[string]string{}
	for _, r := range n.cdrs(t, 3) {
		results[r.Src] = r.UserField
	}
	if results["1002"] != "DTMF" || results["1003"] != "FAILED" {
		t.Errorf("CONFBRIDGE_RESULT by caller: %v", results)
	}
}
