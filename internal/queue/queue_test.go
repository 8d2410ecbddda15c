package queue

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/entvoice/entvoice/internal/channel"
	"github.com/entvoice/entvoice/internal/channel/channeltest"
	"github.com/entvoice/entvoice/internal/events"
	"github.com/entvoice/entvoice/internal/q850"
	"github.com/entvoice/entvoice/internal/tenancy"
)

// TestRingAllConnect: ringall rings every member at once; the first to
// answer is bridged, the others are cancelled as answered elsewhere; the
// caller is hung up when the member hangs up; queue_log and events say
// so in Asterisk's words.
func TestRingAllConnect(t *testing.T) {
	e := newEnv(t, conf("strategy=ringall\n", "PJSIP/1001", "PJSIP/1002", "PJSIP/1003"))
	c := e.call("sales", "", "")
	legs := []*channeltest.Leg{e.leg(), e.leg(), e.leg()}
	got := []string{legs[0].Resource, legs[1].Resource, legs[2].Resource}
	slices.Sort(got)
	if !slices.Equal(got, []string{"1001", "1002", "1003"}) {
		t.Fatalf("rang %v", got)
	}
	win := legs[1]
	win.Ring()
	win.Answer()
	for _, l := range []*channeltest.Leg{legs[0], legs[2]} {
		if cause := l.WaitHungUp(t); cause != q850.AnsweredElsewhere {
			t.Errorf("%s hung up with %d, want 26", l.Resource, cause)
		}
	}
	e.waitEvent(events.AgentConnect, nil)
	e.waitLog(c.ch.UniqueID, "CONNECT")
	time.Sleep(50 * time.Millisecond)
	win.HangUp(q850.NormalClearing)
	c.wait()
	ev := e.waitEvent(events.AgentComplete, nil)
	if ev.Queue.Reason != "agent" || ev.Dest == nil || ev.Channel == nil {
		t.Errorf("AgentComplete %+v", ev.Queue)
	}
	want := []string{"ENTERQUEUE", "CONNECT", "COMPLETEAGENT"}
	if got := e.log.events(c.ch.UniqueID); !slices.Equal(got, want) {
		t.Errorf("queue_log %v, want %v", got, want)
	}
	if v := c.variable("AFTER"); v != "" {
		t.Errorf("the dialplan went on after the member hung up (AFTER=%q) without c", v)
	}
	if v := c.variable("QUEUEPOSITION"); v != "1" {
		t.Errorf("QUEUEPOSITION=%q", v)
	}
	e.checkEnds()
}

// answerNext answers the next leg placed and returns its resource once
// the caller is connected; the member hangs up after.
func (e *env) answerNext(c *call) string {
	e.t.Helper()
	l := e.leg()
	l.Answer()
	e.waitLog(c.ch.UniqueID, "CONNECT")
	l.HangUp(q850.NormalClearing)
	c.wait()
	return l.Resource
}

// TestStrategyOrder: who rings first, call after call, for each strategy
// that orders members (each call answered by the member rung).
func TestStrategyOrder(t *testing.T) {
	for _, tc := range []struct {
		strategy string
		want     []string
	}{
		{"rrmemory", []string{"1001", "1002", "1003", "1001"}},
		{"rrordered", []string{"1001", "1002", "1003", "1001"}},
		{"linear", []string{"1001", "1001", "1001", "1001"}},
		{"leastrecent", []string{"1001", "1002", "1003", "1001"}},
		{"fewestcalls", []string{"1001", "1002", "1003", "1001"}},
	} {
		t.Run(tc.strategy, func(t *testing.T) {
			e := newEnv(t, conf("strategy="+tc.strategy+"\n", "PJSIP/1001", "PJSIP/1002", "PJSIP/1003"))
			var got []string
			for range tc.want {
				got = append(got, e.answerNext(e.call("sales", "", "")))
				time.Sleep(1100 * time.Millisecond * time.Duration(boolInt(tc.strategy == "leastrecent")))
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("answered by %v, want %v", got, tc.want)
			}
			e.checkEnds()
		})
	}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// TestNextMemberOnBusy: one member at a time; a busy member is skipped at
// once for the next (linear), and the busy one gets RINGNOANSWER.
func TestNextMemberOnBusy(t *testing.T) {
	e := newEnv(t, conf("strategy=linear\ntimeout=5\n", "PJSIP/1001", "PJSIP/1002"))
	c := e.call("sales", "", "")
	first := e.leg()
	if first.Resource != "1001" {
		t.Fatalf("rang %s first", first.Resource)
	}
	first.Fail(q850.UserBusy, 486)
	second := e.leg()
	if second.Resource != "1002" {
		t.Fatalf("rang %s second", second.Resource)
	}
	second.Answer()
	e.waitLog(c.ch.UniqueID, "CONNECT")
	second.HangUp(q850.NormalClearing)
	c.wait()
	want := []string{"ENTERQUEUE", "RINGNOANSWER", "CONNECT", "COMPLETEAGENT"}
	if got := e.log.events(c.ch.UniqueID); !slices.Equal(got, want) {
		t.Errorf("queue_log %v, want %v", got, want)
	}
	e.waitEvent(events.AgentRingNoAnswer, func(ev *events.Event) bool { return ev.Queue.Interface == "PJSIP/1001" })
}

// TestWrapupAndPause: a member in wrap-up or paused is not rung; it is
// rung again when its wrap-up ends or it is unpaused.
func TestWrapupAndPause(t *testing.T) {
	e := newEnv(t, conf("strategy=linear\nwrapuptime=2\nretry=1\ntimeout=1\n", "PJSIP/1001", "PJSIP/1002"))
	if got := e.answerNext(e.call("sales", "", "")); got != "1001" {
		t.Fatalf("first call answered by %s", got)
	}
	// 1001 wraps up: the next call goes to 1002.
	if got := e.answerNext(e.call("sales", "", "")); got != "1002" {
		t.Fatalf("during 1001's wrap-up the call went to %s", got)
	}
	// Both wrap up: nobody rings until 1001's wrap-up ends.
	c := e.call("sales", "", "")
	start := time.Now()
	l := e.leg()
	if l.Resource != "1001" || time.Since(start) < 500*time.Millisecond {
		t.Errorf("rang %s after %v, want 1001 after its wrap-up", l.Resource, time.Since(start))
	}
	l.Answer()
	e.waitLog(c.ch.UniqueID, "CONNECT")
	l.HangUp(q850.NormalClearing)
	c.wait()

	time.Sleep(2100 * time.Millisecond)
	if err := e.en.PauseMember("", "sales", "PJSIP/1001", "lunch", true); err != nil {
		t.Fatal(err)
	}
	ev := e.waitEvent(events.QueueMemberPause, nil)
	if ev.Queue.Paused != 1 || ev.Queue.PausedReason != "lunch" {
		t.Errorf("QueueMemberPause %+v", ev.Queue)
	}
	if got := e.answerNext(e.call("sales", "", "")); got != "1002" {
		t.Fatalf("with 1001 paused the call went to %s", got)
	}
	if err := e.en.PauseMember("", "", "PJSIP/1002", "", true); err != nil {
		t.Fatal(err)
	}
	c = e.call("sales", "", "")
	e.noLeg(300 * time.Millisecond)
	if err := e.en.PauseMember("", "sales", "PJSIP/1001", "", false); err != nil {
		t.Fatal(err)
	}
	start = time.Now()
	l = e.leg()
	if l.Resource != "1001" {
		t.Fatalf("rang %s", l.Resource)
	}
	if d := time.Since(start); d > 100*time.Millisecond {
		t.Errorf("the unpaused member rang after %v", d)
	}
	l.Answer()
	e.waitLog(c.ch.UniqueID, "CONNECT")
	l.HangUp(q850.NormalClearing)
	c.wait()
	rows := strings.Join(e.log.lines(), "\n")
	for _, want := range []string{"NONE|sales|PJSIP/1001|PAUSE|lunch", "NONE|NONE|PJSIP/1002|PAUSEALL|", "NONE|sales|PJSIP/1001|UNPAUSE|"} {
		if !strings.Contains(rows, want) {
			t.Errorf("queue_log lacks %q:\n%s", want, rows)
		}
	}
	e.checkEnds()
}

// TestBusyMemberSkipped: with ringinuse=no, a member whose device is in
// use (a call of its own) is not rung, and rings once the call ends.
func TestBusyMemberSkipped(t *testing.T) {
	e := newEnv(t, conf("strategy=ringall\nringinuse=no\n", "PJSIP/1001", "PJSIP/1002"))
	busy := e.reg.New(channel.Options{Tech: "PJSIP", Endpoint: "1001", Direction: channel.Inbound, Tenant: tenancy.Default, State: channel.StateUp})
	e.waitEvent(events.QueueMemberStatus, func(ev *events.Event) bool {
		return ev.Queue.Interface == "PJSIP/1001" && ev.Queue.Status == int(InUse)
	})
	c := e.call("sales", "", "")
	l := e.leg()
	if l.Resource != "1002" {
		t.Fatalf("rang %s, want 1002 only", l.Resource)
	}
	e.noLeg(200 * time.Millisecond)
	l.Fail(q850.UserBusy, 486)
	busy.Hangup(q850.NormalClearing)
	e.pbx.Destroy(busy)
	start := time.Now()
	l = e.leg()
	if l.Resource != "1001" {
		t.Fatalf("rang %s after 1001 became free", l.Resource)
	}
	t.Logf("member free to ring: %v", time.Since(start))
	l.Answer()
	e.waitLog(c.ch.UniqueID, "CONNECT")
	l.HangUp(q850.NormalClearing)
	c.wait()
}

// TestTimeoutAndEmpty: Queue()'s timeout, joinempty, maxlen, and an
// abandon, each with its QUEUESTATUS and queue_log row.
func TestTimeoutAndEmpty(t *testing.T) {
	e := newEnv(t, conf("timeout=5\nmaxlen=1\n", "PJSIP/1001"))
	c := e.call("sales", "", "1")
	l := e.leg()
	l.Ring()
	// Queue full while the first caller waits.
	full := e.call("sales", "", "")
	full.wait()
	if v := full.variable("AFTER"); v != "FULL" {
		t.Errorf("second caller: QUEUESTATUS %q, want FULL", v)
	}
	c.wait()
	if v := c.variable("AFTER"); v != "TIMEOUT" {
		t.Errorf("QUEUESTATUS %q, want TIMEOUT", v)
	}
	if v := c.variable("ABANDONED"); v != "TRUE" {
		t.Errorf("ABANDONED %q", v)
	}
	if cause := l.WaitHungUp(t); cause != q850.NormalClearing {
		t.Errorf("member leg hung up with %d", cause)
	}
	want := []string{"ENTERQUEUE", "RINGNOANSWER", "EXITWITHTIMEOUT"}
	if got := e.log.events(c.ch.UniqueID); !slices.Equal(got, want) {
		t.Errorf("queue_log %v, want %v", got, want)
	}
	if got := e.log.events(full.ch.UniqueID); len(got) != 0 {
		t.Errorf("a caller refused for FULL logged %v", got)
	}

	e.setConf(conf("joinempty=paused,unavailable\n", "PJSIP/1001"))
	e.en.PauseMember("", "sales", "PJSIP/1001", "", true)
	je := e.call("sales", "", "")
	je.wait()
	if v := je.variable("AFTER"); v != "JOINEMPTY" {
		t.Errorf("QUEUESTATUS %q, want JOINEMPTY", v)
	}

	e.setConf(conf("leavewhenempty=yes\n", "PJSIP/1001"))
	ab := e.call("sales", "", "")
	e.waitLog(ab.ch.UniqueID, "ENTERQUEUE")
	ab.ch.Hangup(q850.NormalClearing)
	ab.wait()
	if got := e.log.events(ab.ch.UniqueID); !slices.Equal(got, []string{"ENTERQUEUE", "EXITEMPTY"}) && !slices.Equal(got, []string{"ENTERQUEUE", "ABANDON"}) {
		t.Errorf("queue_log %v", got)
	}
	e.checkEnds()
}

// TestAbandonAndExitKey: a caller who hangs up while waiting abandons; a
// digit of the queue's exit context takes the caller there.
func TestAbandonAndExitKey(t *testing.T) {
	e := newEnv(t, conf("context=exit\n", "PJSIP/1001"))
	e.en.PauseMember("", "sales", "PJSIP/1001", "", true)
	ab := e.call("sales", "", "")
	e.waitLog(ab.ch.UniqueID, "ENTERQUEUE")
	time.Sleep(100 * time.Millisecond)
	ab.ch.Hangup(q850.NormalClearing)
	ab.wait()
	if got := e.log.events(ab.ch.UniqueID); !slices.Equal(got, []string{"ENTERQUEUE", "ABANDON"}) {
		t.Errorf("queue_log %v", got)
	}
	e.waitEvent(events.QueueCallerAbandon, nil)

	x := e.call("sales", "", "")
	e.waitLog(x.ch.UniqueID, "ENTERQUEUE")
	x.ch.Media().InjectDTMF(mediaDigit('5'))
	x.wait()
	if v := x.variable("EXITED"); v != "yes" {
		t.Errorf("the caller did not go to 5@exit")
	}
	rows := e.log.lines()
	if !slices.ContainsFunc(rows, func(r string) bool { return strings.Contains(r, "|EXITWITHKEY|5|1|1|") }) {
		t.Errorf("no EXITWITHKEY row: %v", rows)
	}
	e.checkEnds()
}

// TestAutofill: with autofill, two callers ring two free members at once.
func TestAutofill(t *testing.T) {
	e := newEnv(t, conf("strategy=rrmemory\nautofill=yes\n", "PJSIP/1001", "PJSIP/1002"))
	e.en.PauseMember("", "", "PJSIP/1001", "", true)
	e.en.PauseMember("", "", "PJSIP/1002", "", true)
	c1 := e.call("sales", "", "")
	c2 := e.call("sales", "", "")
	e.waitLog(c2.ch.UniqueID, "ENTERQUEUE")
	e.en.PauseMember("", "", "PJSIP/1001", "", false)
	e.en.PauseMember("", "", "PJSIP/1002", "", false)
	a, b := e.leg(), e.leg()
	if a.Request.Parent == b.Request.Parent {
		t.Fatal("both legs for one caller")
	}
	a.Answer()
	b.Answer()
	e.waitLog(c1.ch.UniqueID, "CONNECT")
	e.waitLog(c2.ch.UniqueID, "CONNECT")
	a.HangUp(q850.NormalClearing)
	b.HangUp(q850.NormalClearing)
	c1.wait()
	c2.wait()
	e.checkEnds()
}

// TestPenaltyRules: QUEUE_MAX_PENALTY keeps the penalty-1 member out
// until the rule raises the limit.
func TestPenaltyRules(t *testing.T) {
	e := newEnv(t, conf("strategy=ringall\ndefaultrule=widen\n", "PJSIP/1001,0", "PJSIP/1002,1"))
	rules, err := queueconfParseRules("[widen]\npenaltychange => 1,+1\n")
	if err != nil {
		t.Fatal(err)
	}
	e.en.SetGeneral(e.en.general, rules)
	e.en.PauseMember("", "sales", "PJSIP/1001", "", true)
	c := e.call("sales", "", "", "QUEUE_MAX_PENALTY", "0")
	start := time.Now()
	l := e.leg()
	if l.Resource != "1002" || time.Since(start) < 900*time.Millisecond {
		t.Fatalf("rang %s after %v, want 1002 after the rule at 1 s", l.Resource, time.Since(start))
	}
	if v := c.variable("QUEUE_MAX_PENALTY"); v != "1" {
		t.Errorf("QUEUE_MAX_PENALTY %q", v)
	}
	l.Answer()
	e.waitLog(c.ch.UniqueID, "CONNECT")
	l.HangUp(q850.NormalClearing)
	c.wait()
}

// TestContinueAndTransfer: with c the caller goes on in the dialplan when
// the member hangs up (QUEUESTATUS CONTINUE); with t the member sends the
// caller to an extension with # (BLINDTRANSFER).
func TestContinueAndTransfer(t *testing.T) {
	e := newEnv(t, conf("", "PJSIP/1001"))
	c := e.call("sales", "c", "")
	l := e.leg()
	l.Answer()
	e.waitLog(c.ch.UniqueID, "CONNECT")
	l.HangUp(q850.NormalClearing)
	c.wait()
	if v := c.variable("AFTER"); v != "CONTINUE" {
		t.Errorf("with c: AFTER=%q, want CONTINUE", v)
	}
	e.waitLog(c.ch.UniqueID, "COMPLETEAGENT")

	c = e.call("sales", "t", "")
	l = e.leg()
	l.Answer()
	e.waitLog(c.ch.UniqueID, "CONNECT")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, d := range "#5" {
		if err := l.Far.SendDTMF(ctx, d, 100*time.Millisecond); err != nil {
			t.Fatal(err)
		}
	}
	c.wait()
	if v := c.variable("TRANSFERRED"); v != "yes" {
		t.Errorf("the member's # 5 did not send the caller to 5")
	}
	if cause := l.WaitHungUp(t); cause != q850.NormalClearing {
		t.Errorf("the member's leg after the transfer: cause %d", cause)
	}
	rows := e.log.lines()
	if !slices.ContainsFunc(rows, func(r string) bool { return strings.Contains(r, "|BLINDTRANSFER|5|test|") }) {
		t.Errorf("no BLINDTRANSFER row: %v", rows)
	}
	ev := e.waitEvent(events.AgentComplete, func(ev *events.Event) bool { return ev.Queue.Reason == "transfer" })
	if ev.Queue.Interface != "PJSIP/1001" {
		t.Errorf("AgentComplete %+v", ev.Queue)
	}
	e.checkEnds()
}

// TestWeight: a member of two queues serves the one of higher weight
// first (compare_weight).
func TestWeight(t *testing.T) {
	e := newEnv(t, "[low]\nmember => PJSIP/1001\n[high]\nweight=10\nmember => PJSIP/1001\n")
	e.en.PauseMember("", "", "PJSIP/1001", "", true)
	lo := e.call("low", "", "")
	e.waitLog(lo.ch.UniqueID, "ENTERQUEUE")
	hi := e.call("high", "", "")
	e.waitLog(hi.ch.UniqueID, "ENTERQUEUE")
	e.en.PauseMember("", "", "PJSIP/1001", "", false)
	l := e.leg()
	if l.Request.Parent != hi.ch {
		t.Fatalf("the member rang for %s, want the high-weight queue's caller", l.Request.Parent.Name)
	}
	l.Answer()
	e.waitLog(hi.ch.UniqueID, "CONNECT")
	l.HangUp(q850.NormalClearing)
	hi.wait()
	l = e.leg()
	if l.Request.Parent != lo.ch {
		t.Fatalf("then rang for %s", l.Request.Parent.Name)
	}
	l.Answer()
	e.waitLog(lo.ch.UniqueID, "CONNECT")
	l.HangUp(q850.NormalClearing)
	lo.wait()
	e.checkEnds()
}

// TestRedirectedCaller: an AMI Redirect takes a waiting caller out of the
// queue (ABANDON, as app_queue logs it) to where it was sent, without
// hanging it up.
func TestRedirectedCaller(t *testing.T) {
	e := newEnv(t, conf("", "PJSIP/1001"))
	e.en.PauseMember("", "sales", "PJSIP/1001", "", true)
	c := e.call("sales", "", "")
	e.waitLog(c.ch.UniqueID, "ENTERQUEUE")
	if err := e.pbx.AsyncGoto(c.ch, "exit", "5", "1"); err != nil {
		t.Fatal(err)
	}
	c.wait()
	if v := c.variable("EXITED"); v != "yes" {
		t.Errorf("the redirected caller did not reach 5@exit")
	}
	if got := e.log.events(c.ch.UniqueID); !slices.Equal(got, []string{"ENTERQUEUE", "ABANDON"}) {
		t.Errorf("queue_log %v", got)
	}
	e.checkEnds()
}
