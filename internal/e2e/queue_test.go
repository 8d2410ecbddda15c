package e2e

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/entvoice/entvoice/internal/events"
	"github.com/entvoice/entvoice/internal/node"
	"github.com/entvoice/entvoice/internal/queuelog"
	"github.com/entvoice/entvoice/internal/testpeer"
)

// Call queues against a real node: agents and callers are SIP phones
// (sipgo with their own RTP), SIPp and baresip, registered as users.

// queueUsers are agents 1001-1004 and callers 2001-2004.
func queueUsers() string {
	var b strings.Builder
	b.WriteString("users:\n")
	for _, u := range []string{"1001", "1002", "1003", "1004"} {
		fmt.Fprintf(&b, "  - {name: \"%s\", secret: \"pass%s\", context: agents}\n", u, u)
	}
	for _, u := range []string{"2001", "2002", "2003", "2004"} {
		fmt.Fprintf(&b, "  - {name: \"%s\", secret: \"pass%s\", context: callers}\n", u, u)
	}
	return b.String()
}

// queuePlan sends callers dialling 700 to queue sales (answered first,
// as call centres do), 701 to sales with r, 702 to sales with a 3 s
// timeout; agents reach callers directly.
const queuePlan = `[callers]
exten => 700,1,Answer()
 same => n,Queue(sales)
 same => n,Hangup()
exten => 701,1,Answer()
 same => n,Queue(sales,c,,,3)
 same => n,Playback(beep)
 same => n,Hangup()
[agents]
exten => _2XXX,1,Dial(PJSIP/${EXTEN},20)
[exit]
exten => 9,1,Playback(beep)
 same => n,Hangup()
`

// queueNode starts a node with queues.conf text (and more files).
func queueNode(t *testing.T, queues string, extra map[string]string, yaml string) *testNode {
	t.Helper()
	files := map[string]string{"queues.conf": queues}
	for k, v := range extra {
		files[k] = v
	}
	return startNode(t, nodeSpec{yaml: "queues: queues.conf\n" + yaml + queueUsers(), dialplan: queuePlan, files: files})
}

// agentPhones registers agents answering after delay, each sending its
// own tone; their calls end when the test hangs them up.
func agentPhones(t *testing.T, n *testNode, ctx context.Context, names ...string) map[string]*phone {
	t.Helper()
	out := map[string]*phone{}
	for i, u := range names {
		p := n.phone(t, u, "pass"+u, testpeer.PCMU, 500+float64(i)*100)
		p.answerAfter = 200 * time.Millisecond
		p.register(ctx)
		out[u] = p
	}
	return out
}

// answered waits until one of the agents answers a call and returns it.
func answered(t *testing.T, agents map[string]*phone, within time.Duration) (string, *call) {
	t.Helper()
	deadline := time.After(within)
	for {
		for name, p := range agents {
			select {
			case c := <-p.incoming:
				return name, c
			default:
			}
		}
		select {
		case <-deadline:
			t.Fatal("no agent answered")
			return "", nil
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// queueLog reads data_dir/queue_log once its rows are written.
func (n *testNode) queueLog(t *testing.T) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := n.FlushQueueLog(ctx); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(n.DataDir, node.QueueLogFile))
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSpace(string(b)), "\n")
}

// logEvents are the events of a queue_log's rows for a callid.
func logEvents(lines []string, callid string) []string {
	var out []string
	for _, l := range lines {
		f := strings.Split(l, "|")
		if len(f) >= 5 && f[1] == callid {
			out = append(out, f[4])
		}
	}
	return out
}

// checkQueueLogEnds: every ENTERQUEUE ends in exactly one of CONNECT,
// ABANDON or EXIT*, and a CONNECT is followed by one COMPLETE* or
// transfer.
func checkQueueLogEnds(t *testing.T, lines []string) (entered int) {
	t.Helper()
	open := map[string]int{}
	talking := map[string]int{}
	for _, l := range lines {
		f := strings.Split(l, "|")
		if len(f) < 5 {
			t.Errorf("malformed queue_log line %q", l)
			continue
		}
		id, ev := f[1], f[4]
		switch {
		case ev == "ENTERQUEUE":
			open[id]++
			entered++
		case ev == "CONNECT":
			open[id]--
			talking[id]++
		case ev == "ABANDON" || strings.HasPrefix(ev, "EXIT"):
			open[id]--
		case strings.HasPrefix(ev, "COMPLETE") || strings.HasSuffix(ev, "TRANSFER"):
			talking[id]--
		}
		if open[id] < 0 || talking[id] < 0 {
			t.Errorf("%s: %s without its start", id, ev)
			open[id], talking[id] = 0, 0
		}
	}
	for id, n := range open {
		if n != 0 {
			t.Errorf("%s entered the queue and never left it", id)
		}
	}
	for id, n := range talking {
		if n != 0 {
			t.Errorf("%s connected and never completed", id)
		}
	}
	return entered
}

// TestQueueRoundRobinAgents: rrmemory hands three calls to three
// registered agents in turn; each call has audio both ways; queue_log
// (file and store) and the AMI events tell the same story, and the
// statistics count them.
func TestQueueRoundRobinAgents(t *testing.T) {
	n := queueNode(t, "[general]\nautofill=yes\n[sales]\nstrategy=rrmemory\nringinuse=no\nservicelevel=30\nmember => PJSIP/1001\nmember => PJSIP/1002,0,Bob\nmember => PJSIP/1003\n", nil, "")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	sub := n.Bus.Subscribe(1024, func(e *events.Event) bool { return e.Queue != nil })
	defer sub.Close()
	agents := agentPhones(t, n, ctx, "1001", "1002", "1003")
	caller := n.phone(t, "2001", "pass2001", testpeer.PCMA, 1000)
	caller.register(ctx)
	var order []string
	var ids []string
	for i := 0; i < 3; i++ {
		c, code, err := caller.dial(ctx, "700")
		if err != nil || code != 200 {
			t.Fatalf("call %d: %d %v", i, code, err)
		}
		who, ac := answered(t, agents, 10*time.Second)
		order = append(order, who)
		// Audio both ways: the caller hears the agent's tone, the agent
		// the caller's.
		waitFor(t, 5*time.Second, func() bool { return caller.heardTone(agents[who].tone) > 2000 && agents[who].heardTone(1000) > 2000 },
			"audio between caller and agent %s", who)
		ch := n.Channels.List()
		for _, x := range ch {
			if strings.HasPrefix(x.Name, "PJSIP/2001-") {
				ids = append(ids, x.UniqueID)
			}
		}
		ac.hangup(ctx)
		select {
		case <-c.done:
		case <-time.After(5 * time.Second):
			t.Fatal("the caller was not hung up after the agent")
		}
		n.waitIdle(t)
	}
	if !slices.Equal(order, []string{"1001", "1002", "1003"}) {
		t.Errorf("rrmemory answered by %v", order)
	}
	lines := n.queueLog(t)
	if got := checkQueueLogEnds(t, lines); got != 3 {
		t.Errorf("%d ENTERQUEUE rows, want 3", got)
	}
	if len(ids) != 3 {
		t.Fatalf("caller uniqueids %v", ids)
	}
	for i, id := range ids {
		ev := logEvents(lines, id)
		if !slices.Equal(ev, []string{"ENTERQUEUE", "CONNECT", "COMPLETEAGENT"}) {
			t.Errorf("call %d: queue_log events %v", i, ev)
		}
	}
	if !slices.ContainsFunc(lines, func(l string) bool { return strings.Contains(l, "|sales|Bob|CONNECT|") }) {
		t.Errorf("no CONNECT by member name Bob:\n%s", strings.Join(lines, "\n"))
	}
	if !strings.HasSuffix(lines[0], "|NONE|NONE|NONE|QUEUESTART|") {
		t.Errorf("first line %q, want QUEUESTART", lines[0])
	}
	// The store has the same rows; the statistics count them.
	st, err := queuelog.Query(ctx, n.Store, "default", "sales", time.Now().Add(-time.Hour), time.Now().Add(time.Minute), 20)
	if err != nil {
		t.Fatal(err)
	}
	if st.Entered != 3 || st.Answered != 3 || st.Abandoned != 0 || st.ServiceLevelPct != 100 || st.AbandonRatePct != 0 {
		t.Errorf("stats %+v", st)
	}
	// The events, in order for the first call.
	var kinds []string
	deadline := time.After(2 * time.Second)
collect:
	for {
		select {
		case e := <-sub.C:
			kinds = append(kinds, string(e.Kind))
		case <-deadline:
			break collect
		}
	}
	for _, want := range []string{"QueueCallerJoin", "AgentCalled", "QueueCallerLeave", "AgentConnect", "AgentComplete"} {
		if !slices.Contains(kinds, want) {
			t.Errorf("no %s event in %v", want, kinds)
		}
	}
}

// waitFor polls cond until it holds.
func waitFor(t *testing.T, within time.Duration, cond func() bool, format string, args ...any) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for "+format, args...)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// heard reports whether some 100 ms of pcm carries freq.
func heard(pcm []int16, freq float64) bool {
	for off := 0; off+800 <= len(pcm); off += 400 {
		if testpeer.Goertzel(pcm[off:off+800], 8000, freq) > 1500 {
			return true
		}
	}
	return false
}

// TestQueueCallerExperience: callers wait with music on hold and hear
// their position in their language (prompts are tones here, checked on
// the RTP they receive); an agent who registers becomes free and is rung
// at once; a caller who presses the exit digit leaves to the exit
// context (EXITWITHKEY); one who hangs up abandons (ABANDON).
func TestQueueCallerExperience(t *testing.T) {
	sounds := t.TempDir()
	tone := func(name string, freq float64) {
		dir := filepath.Join(sounds, "en", filepath.Dir(name))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := testpeer.WriteWAV(filepath.Join(sounds, "en", name+".wav"), testpeer.GenerateTone(freq, 300*time.Millisecond, 8000)); err != nil {
			t.Fatal(err)
		}
	}
	tone("queue-youarenext", 700)
	tone("queue-thereare", 400)
	tone("digits/2", 900)
	tone("queue-callswaiting", 1300)
	tone("queue-thankyou", 1600)
	tone("beep", 1800)
	moh := t.TempDir()
	if err := testpeer.WriteWAV(filepath.Join(moh, "tune.wav"), testpeer.GenerateTone(300, 2*time.Second, 8000)); err != nil {
		t.Fatal(err)
	}
	conf := "[sales]\nstrategy=ringall\nannounce-frequency=3\nmin-announce-frequency=1\nannounce-holdtime=no\ncontext=exit\nmember => PJSIP/1001\n"
	n := startNode(t, nodeSpec{yaml: "queues: queues.conf\nmusiconhold: musiconhold.conf\n" + queueUsers(), dialplan: queuePlan, sounds: sounds,
		files: map[string]string{"queues.conf": conf, "musiconhold.conf": "[default]\nmode=files\ndirectory=" + moh + "\n"}})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c1p := n.phone(t, "2001", "pass2001", testpeer.PCMU, 0)
	c2p := n.phone(t, "2002", "pass2002", testpeer.PCMU, 0)
	c3p := n.phone(t, "2003", "pass2003", testpeer.PCMU, 0)
	for _, p := range []*phone{c1p, c2p, c3p} {
		p.register(ctx)
	}
	c1, code, err := c1p.dial(ctx, "700")
	if err != nil || code != 200 {
		t.Fatalf("caller 1: %d %v", code, err)
	}
	time.Sleep(300 * time.Millisecond)
	c2, code, err := c2p.dial(ctx, "700")
	if err != nil || code != 200 {
		t.Fatalf("caller 2: %d %v", code, err)
	}
	c3, code, err := c3p.dial(ctx, "700")
	if err != nil || code != 200 {
		t.Fatalf("caller 3: %d %v", code, err)
	}
	// Nobody is registered: the callers wait, hearing music and their
	// positions.
	waitFor(t, 8*time.Second, func() bool {
		return heard(c1p.heardPCM(), 700) && heard(c2p.heardPCM(), 400) && heard(c2p.heardPCM(), 900) && heard(c2p.heardPCM(), 1300)
	}, "position announcements")
	// Between announcements, music on hold.
	waitFor(t, 5*time.Second, func() bool { return heard(c1p.heardPCM(), 300) && heard(c2p.heardPCM(), 300) }, "music on hold")
	if !heard(c1p.heardPCM(), 1600) {
		t.Error("caller 1 heard no thank-you")
	}
	// Caller 3 leaves with 9, caller 2 hangs up.
	if err := c3.sendDigits(ctx, "9"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, func() bool { return heard(c3p.heardPCM(), 1800) }, "caller 3 in the exit context")
	c2.hangup(ctx)
	// The agent registers: it is free, and caller 1 (the head) rings it.
	agent := n.phone(t, "1001", "pass1001", testpeer.PCMU, 600)
	start := time.Now()
	agent.register(ctx)
	var ac *call
	select {
	case ac = <-agent.incoming:
	case <-time.After(5 * time.Second):
		t.Fatal("the agent who registered was not rung")
	}
	t.Logf("registration to answer: %v (answer delay 0)", time.Since(start))
	waitFor(t, 5*time.Second, func() bool { return c1p.heardTone(600) > 2000 }, "caller 1 hearing the agent")
	ac.hangup(ctx)
	<-c1.done
	<-c3.done
	n.waitIdle(t)
	lines := n.queueLog(t)
	checkQueueLogEnds(t, lines)
	joined := strings.Join(lines, "\n")
	for _, want := range []string{"|EXITWITHKEY|9|", "|ABANDON|"} {
		if !strings.Contains(joined, want) {
			t.Errorf("queue_log lacks %s:\n%s", want, joined)
		}
	}
}

// TestQueueBusyAgentSkipped: with ringinuse=no, an agent on a call of
// its own is skipped and the next one rings; a member who does not
// answer gets RINGNOANSWER and the call moves on.
func TestQueueBusyAgentSkipped(t *testing.T) {
	n := queueNode(t, "[sales]\nstrategy=linear\nringinuse=no\ntimeout=2\nretry=1\nmember => PJSIP/1001\nmember => PJSIP/1002\nmember => PJSIP/1003\n", nil, "")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	agents := agentPhones(t, n, ctx, "1001", "1002", "1003")
	agents["1002"].setOnInvite("ignore")
	other := n.phone(t, "2004", "pass2004", testpeer.PCMU, 800)
	other.register(ctx)
	// 1001 calls 2004: it is in use.
	busyCall, code, err := agents["1001"].dial(ctx, "2004")
	if err != nil || code != 200 {
		t.Fatalf("agent's own call: %d %v", code, err)
	}
	select {
	case <-other.incoming:
	case <-time.After(5 * time.Second):
		t.Fatal("2004 never answered")
	}
	caller := n.phone(t, "2001", "pass2001", testpeer.PCMU, 1000)
	caller.register(ctx)
	c, code, err := caller.dial(ctx, "700")
	if err != nil || code != 200 {
		t.Fatalf("caller: %d %v", code, err)
	}
	who, ac := answered(t, agents, 10*time.Second)
	if who != "1003" {
		t.Fatalf("answered by %s, want 1003 (1001 busy, 1002 not answering)", who)
	}
	agents["1001"].mu.Lock()
	invites1001 := agents["1001"].invites
	agents["1001"].mu.Unlock()
	if invites1001 != 0 {
		t.Errorf("the busy agent was rung %d times", invites1001)
	}
	ac.hangup(ctx)
	<-c.done
	busyCall.hangup(ctx)
	n.waitIdle(t)
	lines := n.queueLog(t)
	checkQueueLogEnds(t, lines)
	if !slices.ContainsFunc(lines, func(l string) bool { return strings.Contains(l, "|PJSIP/1002|RINGNOANSWER|2") }) {
		t.Errorf("no RINGNOANSWER for 1002:\n%s", strings.Join(lines, "\n"))
	}
}

// amiConn is a raw AMI client.
type amiConn struct {
	t *testing.T
	c net.Conn
	r *bufio.Reader
}

func dialAMI(t *testing.T, addr, user, secret string) *amiConn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	a := &amiConn{t: t, c: c, r: bufio.NewReader(c)}
	if _, err := a.r.ReadString('\n'); err != nil {
		t.Fatal(err)
	}
	a.send("Action: Login", "Username: "+user, "Secret: "+secret)
	if m := a.read(); m[0] != "Response: Success" {
		t.Fatalf("login: %v", m)
	}
	return a
}

func (a *amiConn) send(lines ...string) {
	a.t.Helper()
	if _, err := a.c.Write([]byte(strings.Join(lines, "\r\n") + "\r\n\r\n")); err != nil {
		a.t.Fatal(err)
	}
}

// read returns the next message's lines.
func (a *amiConn) read() []string {
	a.t.Helper()
	_ = a.c.SetReadDeadline(time.Now().Add(10 * time.Second))
	var out []string
	for {
		l, err := a.r.ReadString('\n')
		if err != nil {
			a.t.Fatalf("AMI read: %v (so far %v)", err, out)
		}
		l = strings.TrimRight(l, "\r\n")
		if l == "" {
			if len(out) == 0 {
				continue
			}
			return out
		}
		out = append(out, l)
	}
}

// until reads messages until one starts with first, returning them all.
func (a *amiConn) until(first string) [][]string {
	a.t.Helper()
	var all [][]string
	for {
		m := a.read()
		all = append(all, m)
		if m[0] == first {
			return all
		}
	}
}

// message returns the next message holding s, its lines joined with CRLFs.
func (a *amiConn) message(s string) string {
	a.t.Helper()
	for {
		if m := strings.Join(a.read(), "\r\n") + "\r\n"; strings.Contains(m, s) {
			return m
		}
	}
}

func keys(msg []string) []string {
	var out []string
	for _, l := range msg {
		k, _, _ := strings.Cut(l, ": ")
		out = append(out, k)
	}
	return out
}

// chanBlock is Asterisk 22's channel block, with a prefix.
func chanBlock(p string) []string {
	var out []string
	for _, k := range []string{"Channel", "ChannelState", "ChannelStateDesc", "CallerIDNum", "CallerIDName", "ConnectedLineNum",
		"ConnectedLineName", "Language", "AccountCode", "Context", "Exten", "Priority", "Uniqueid", "Linkedid"} {
		out = append(out, p+k)
	}
	return out
}

// TestQueueAMI: the queue events a call raises and the QueueStatus,
// QueueAdd, QueuePause and QueueRemove actions, as a raw AMI client reads
// them, have Asterisk 22's fields in its order (app_queue.c's blobs after
// the channel blocks; list items without Privilege, ActionID last).
func TestQueueAMI(t *testing.T) {
	amiPort := testpeer.FreeTCPPort(t)
	yaml := fmt.Sprintf("ami:\n  listen: 127.0.0.1:%d\n  users:\n    - {name: admin, secret: amipass, read: all, write: all}\n", amiPort)
	n := queueNode(t, "[sales]\nstrategy=ringall\nmember => PJSIP/1001\n", nil, yaml)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	a := dialAMI(t, fmt.Sprintf("127.0.0.1:%d", amiPort), "admin", "amipass")
	agents := agentPhones(t, n, ctx, "1001")
	caller := n.phone(t, "2001", "pass2001", testpeer.PCMU, 1000)
	caller.register(ctx)
	c, code, err := caller.dial(ctx, "700")
	if err != nil || code != 200 {
		t.Fatalf("caller: %d %v", code, err)
	}
	_, ac := answered(t, agents, 10*time.Second)
	time.Sleep(200 * time.Millisecond)
	ac.hangup(ctx)
	<-c.done
	blob := map[string][]string{
		"QueueCallerJoin":   {"Queue", "Position", "Count"},
		"QueueCallerLeave":  {"Queue", "Position", "Count"},
		"AgentCalled":       {"Queue", "Interface", "MemberName"},
		"AgentConnect":      {"Queue", "Interface", "MemberName", "HoldTime", "RingTime"},
		"AgentComplete":     {"Queue", "Interface", "MemberName", "HoldTime", "TalkTime", "Reason"},
		"QueueMemberStatus": {"Queue", "MemberName", "Interface", "StateInterface", "Membership", "Penalty", "CallsTaken", "LastCall", "LastPause", "LoginTime", "InCall", "Status", "Paused", "PausedReason", "Ringinuse", "Wrapuptime"},
	}
	seen := map[string]bool{}
	for _, m := range a.until("Event: AgentComplete") {
		name := strings.TrimPrefix(m[0], "Event: ")
		want, ok := blob[name]
		if !ok {
			continue
		}
		seen[name] = true
		head := []string{"Event", "Privilege"}
		switch name {
		case "QueueCallerJoin", "QueueCallerLeave":
			head = append(head, chanBlock("")...)
		case "AgentCalled", "AgentConnect", "AgentComplete":
			head = append(append(head, chanBlock("")...), chanBlock("Dest")...)
		}
		if got := keys(m); !slices.Equal(got, append(head, want...)) {
			t.Errorf("%s fields\n got %v\nwant %v", name, got, append(head, want...))
		}
		if m[1] != "Privilege: agent,all" {
			t.Errorf("%s: %s", name, m[1])
		}
	}
	for name := range blob {
		if !seen[name] && name != "QueueMemberStatus" {
			t.Errorf("no %s event", name)
		}
	}

	a.send("Action: QueueAdd", "ActionID: add1", "Queue: sales", "Interface: PJSIP/1004", "MemberName: Dee", "Penalty: 2", "Paused: true", "Reason: setup")
	if m := a.until("Response: Success"); !slices.Contains(m[len(m)-1], "Message: Added interface to queue") {
		t.Errorf("QueueAdd: %v", m[len(m)-1])
	}
	a.send("Action: QueueAdd", "Queue: nosuch", "Interface: PJSIP/1004")
	if m := a.until("Response: Error"); !slices.Contains(m[len(m)-1], "Message: Unable to add interface to queue: No such queue") {
		t.Errorf("QueueAdd to no queue: %v", m[len(m)-1])
	}
	a.send("Action: QueueStatus", "ActionID: st1", "Queue: sales")
	msgs := a.until("Event: QueueStatusComplete")
	var params, member []string
	for _, m := range msgs {
		switch m[0] {
		case "Event: QueueParams":
			params = m
		case "Event: QueueMember":
			if slices.Contains(m, "Location: PJSIP/1004") {
				member = m
			}
		}
	}
	wantParams := []string{"Event", "Queue", "Max", "Strategy", "Calls", "Holdtime", "TalkTime", "Completed", "Abandoned", "ServiceLevel", "ServicelevelPerf", "ServicelevelPerf2", "Weight", "ActionID"}
	if got := keys(params); !slices.Equal(got, wantParams) {
		t.Errorf("QueueParams fields %v", got)
	}
	wantMember := []string{"Event", "Queue", "Name", "Location", "StateInterface", "Membership", "Penalty", "CallsTaken", "LastCall", "LastPause", "LoginTime", "InCall", "Status", "Paused", "PausedReason", "Wrapuptime", "ActionID"}
	if got := keys(member); !slices.Equal(got, wantMember) {
		t.Errorf("QueueMember fields %v", got)
	}
	for _, want := range []string{"Name: Dee", "Membership: dynamic", "Penalty: 2", "Paused: 1", "PausedReason: setup"} {
		if !slices.Contains(member, want) {
			t.Errorf("QueueMember lacks %q: %v", want, member)
		}
	}
	if !slices.Contains(params, "Completed: 1") {
		t.Errorf("QueueParams %v", params)
	}
	a.send("Action: QueuePause", "Interface: PJSIP/1004", "Paused: false")
	if m := a.until("Response: Success"); !slices.Contains(m[len(m)-1], "Message: Interface unpaused successfully") {
		t.Errorf("QueuePause: %v", m[len(m)-1])
	}
	a.send("Action: QueueRemove", "Queue: sales", "Interface: PJSIP/1001")
	if m := a.until("Response: Error"); !slices.Contains(m[len(m)-1], "Message: Member not dynamic") {
		t.Errorf("QueueRemove of a static member: %v", m[len(m)-1])
	}
	a.send("Action: QueueRemove", "Queue: sales", "Interface: PJSIP/1004")
	if m := a.until("Response: Success"); !slices.Contains(m[len(m)-1], "Message: Removed interface from queue") {
		t.Errorf("QueueRemove: %v", m[len(m)-1])
	}
	lines := n.queueLog(t)
	joined := strings.Join(lines, "\n")
	for _, want := range []string{"|MANAGER|sales|PJSIP/1004|ADDMEMBER|PAUSED", "|NONE|sales|Dee|UNPAUSE|", "|MANAGER|sales|PJSIP/1004|REMOVEMEMBER|"} {
		if !strings.Contains(joined, want) {
			t.Errorf("queue_log lacks %q:\n%s", want, joined)
		}
	}
}

// TestQueueSoak churns callers and agents against one queue: callers who
// hang up while waiting or talking, agents who answer late, never answer
// or hang up at once, members paused and unpaused; at the end every
// ENTERQUEUE of data_dir/queue_log ended exactly once and every CONNECT
// completed. ENTVOICE_QUEUE_SOAK sets the duration (a Go duration;
// default 5s, the soak is 10m).
func TestQueueSoak(t *testing.T) {
	dur := 5 * time.Second
	if v := os.Getenv("ENTVOICE_QUEUE_SOAK"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			t.Fatalf("ENTVOICE_QUEUE_SOAK=%q: %v", v, err)
		}
		dur = d
	}
	n := queueNode(t, "[general]\nautofill=yes\n[sales]\nstrategy=rrmemory\nringinuse=no\ntimeout=2\nretry=1\nwrapuptime=0\nmember => PJSIP/1001\nmember => PJSIP/1002\nmember => PJSIP/1003\n", nil, "")
	ctx, cancel := context.WithTimeout(context.Background(), dur+2*time.Minute)
	defer cancel()
	seed := time.Now().UnixNano()
	t.Logf("seed %d, %v", seed, dur)
	rng := rand.New(rand.NewPCG(uint64(seed), 7))
	var rmu sync.Mutex
	rnd := func(lo, hi time.Duration) time.Duration {
		rmu.Lock()
		defer rmu.Unlock()
		return lo + time.Duration(rng.Int64N(int64(hi-lo)+1))
	}
	agents := agentPhones(t, n, ctx, "1001", "1002", "1003")
	end := time.Now().Add(dur)
	var wg sync.WaitGroup
	for name, p := range agents {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(end) {
				p.mu.Lock()
				// Sometimes an agent lets the call ring out.
				if rnd(0, 9) == 0 {
					p.onInvite = "ignore"
				} else {
					p.onInvite = "answer"
				}
				p.answerAfter = rnd(0, 400*time.Millisecond)
				p.mu.Unlock()
				select {
				case c := <-p.incoming:
					time.Sleep(rnd(0, time.Second))
					c.hangup(ctx)
				case <-time.After(200 * time.Millisecond):
				}
				if rnd(0, 20) == 0 {
					_ = n.Queues.PauseMember("", "sales", "PJSIP/"+name, "soak", true)
					time.Sleep(rnd(100*time.Millisecond, 500*time.Millisecond))
					_ = n.Queues.PauseMember("", "sales", "PJSIP/"+name, "", false)
				}
			}
		}()
	}
	calls := 0
	var cmu sync.Mutex
	for _, u := range []string{"2001", "2002", "2003", "2004"} {
		p := n.phone(t, u, "pass"+u, testpeer.PCMU, 1000)
		p.register(ctx)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(end) {
				c, code, err := p.dial(ctx, "700")
				if err != nil || code != 200 {
					t.Errorf("%s: %d %v", u, code, err)
					return
				}
				cmu.Lock()
				calls++
				cmu.Unlock()
				select {
				case <-c.done: // the agent's hang-up ended it
				case <-time.After(rnd(100*time.Millisecond, 3*time.Second)):
					c.hangup(ctx) // gave up waiting, or hung up on the agent
				}
			}
		}()
	}
	wg.Wait()
	// The last calls end: agents hang up what they still have.
	for _, p := range agents {
		p.mu.Lock()
		c := p.lastCall
		p.onInvite = "busy"
		p.mu.Unlock()
		if c != nil {
			c.hangup(ctx)
		}
	}
	n.waitIdle(t)
	lines := n.queueLog(t)
	entered := checkQueueLogEnds(t, lines)
	counts := map[string]int{}
	for _, l := range lines {
		if f := strings.Split(l, "|"); len(f) >= 5 {
			counts[f[4]]++
		}
	}
	t.Logf("%d calls, %d entered the queue; queue_log events %v", calls, entered, counts)
	if entered != calls {
		t.Errorf("%d calls but %d ENTERQUEUE", calls, entered)
	}
	if counts["CONNECT"] == 0 || counts["ABANDON"] == 0 {
		t.Errorf("the soak connected %d and abandoned %d calls: not the churn it should be", counts["CONNECT"], counts["ABANDON"])
	}
	st, err := queuelog.Query(ctx, n.Store, "default", "sales", time.Now().Add(-time.Hour), time.Now().Add(time.Minute), 20)
	if err != nil {
		t.Fatal(err)
	}
	if st.Entered != entered || st.Answered != counts["CONNECT"] || st.Abandoned != counts["ABANDON"] {
		t.Errorf("the store's rows disagree with the file: %+v vs %v", st, counts)
	}
}
