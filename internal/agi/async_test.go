package agi

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/entvoice/entvoice/internal/channel"
	"github.com/entvoice/entvoice/internal/control"
	"github.com/entvoice/entvoice/internal/events"
	"github.com/entvoice/entvoice/internal/q850"
)

// asyncEvents subscribes to the AsyncAGI events.
func asyncEvents(p *testPBX) *events.Subscription {
	return p.bus.Subscribe(100, func(e *events.Event) bool {
		return e.Kind == events.AsyncAGIStart || e.Kind == events.AsyncAGIExec || e.Kind == events.AsyncAGIEnd
	})
}

func nextEvent(t *testing.T, sub *events.Subscription, kind events.Kind) events.Event {
	t.Helper()
	select {
	case e := <-sub.C:
		if e.Kind != kind {
			t.Fatalf("got %s %+v, want %s", e.Kind, e.AGI, kind)
		}
		return *e
	case <-time.After(10 * time.Second):
		t.Fatalf("no %s event", kind)
	}
	return events.Event{}
}

// agiField returns a field of an event's AGI block by its AMI header name.
func agiField(e events.Event, key string) string {
	a := e.AGI
	if a == nil {
		return ""
	}
	switch key {
	case "CommandId":
		return a.CommandID
	case "Command":
		return a.Command
	case "ResultCode":
		return a.ResultCode
	case "Result":
		return a.Result
	case "Env":
		return a.Env
	}
	return ""
}

// TestAsyncAGI: AGI(agi:async) publishes the environment, runs queued
// commands with the ordinary implementations, ends on ASYNCAGI BREAK with
// SUCCESS, and the dialplan goes on; a later AsyncAGI run ends with
// FAILURE on a command that fails (STREAM FILE of a missing file), as
// launch_asyncagi does.
func TestAsyncAGI(t *testing.T) {
	p := newTestPBX(t, `[t]
exten => 1,1,Set(GREETING=hello world)
 same => n,AGI(agi:async,first arg)
 same => n,Set(FIRST=${AGISTATUS})
 same => n,AGI(agi:async)
 same => n,Set(AFTER=yes)
`, Options{})
	sub := asyncEvents(p)
	defer sub.Close()
	ch, _, done := p.start("1", nil)

	start := nextEvent(t, sub, events.AsyncAGIStart)
	env := agiField(start, "Env")
	for _, want := range []string{"agi_request: async\n", "agi_channel: " + ch.Name + "\n", "agi_arg_1: first arg\n", "agi_extension: 1\n", "agi_priority: 2\n"} {
		if !strings.Contains(env, want) {
			t.Errorf("Env lacks %q:\n%s", want, env)
		}
	}
	if !strings.HasSuffix(env, "\n\n") {
		t.Errorf("Env %q", env)
	}

	queue := func(cmd, id string) {
		t.Helper()
		if _, err := p.agi.QueueCommand("", ch.Name, cmd, id, nil); err != nil {
			t.Fatal(err)
		}
	}
	// Two commands queued at once run in order.
	queue("GET VARIABLE GREETING", "c1")
	queue("NOOP", "")
	for _, want := range [][2]string{{"200 result=1 (hello world)\n", "c1"}, {"200 result=0\n", ""}} {
		e := nextEvent(t, sub, events.AsyncAGIExec)
		if agiField(e, "Result") != want[0] || agiField(e, "CommandId") != want[1] {
			t.Errorf("exec %q, want Result %q CommandId %q", e.AGI, want[0], want[1])
		}
	}
	queue("ASYNCAGI BREAK", "b")
	if e := nextEvent(t, sub, events.AsyncAGIExec); agiField(e, "Result") != "200 result=0\n" {
		t.Errorf("break: %q", e.AGI)
	}
	nextEvent(t, sub, events.AsyncAGIEnd)

	nextEvent(t, sub, events.AsyncAGIStart)
	queue("STREAM FILE no-such-file \"\"", "s")
	if e := nextEvent(t, sub, events.AsyncAGIExec); agiField(e, "Result") != "200 result=-1 endpos=0\n" {
		t.Errorf("stream: %q", e.AGI)
	}
	nextEvent(t, sub, events.AsyncAGIEnd)
	<-done
	if varOf(ch, "FIRST") != "SUCCESS" || agistatus(ch) != "FAILURE" || varOf(ch, "AFTER") != "yes" {
		t.Errorf("FIRST %q AGISTATUS %q AFTER %q", varOf(ch, "FIRST"), agistatus(ch), varOf(ch, "AFTER"))
	}
	// The channel is gone: nothing can be queued on it.
	if _, err := p.agi.QueueCommand("", ch.Name, "NOOP", "", nil); !errors.Is(err, control.ErrNoChannel) {
		t.Errorf("queue on a gone channel: %v", err)
	}
}

// TestAsyncAGIHangup: a hangup ends AsyncAGI with HANGUP and AsyncAGIEnd;
// a channel that never entered AsyncAGI, one of another tenant and one
// that does not exist are refused.
func TestAsyncAGIHangup(t *testing.T) {
	p := newTestPBX(t, planFor("agi:async")+"[w]\nexten => 1,1,Wait(30)\n", Options{})
	sub := asyncEvents(p)
	defer sub.Close()
	other, _, otherDone := p.start("1", func(o *channel.Options) { o.Context = "w" })
	ch, _, done := p.start("1", func(o *channel.Options) { o.Tenant = "acme" })
	nextEvent(t, sub, events.AsyncAGIStart)

	if _, err := p.agi.QueueCommand("", "PJSIP/nobody-00000000", "NOOP", "", nil); !errors.Is(err, control.ErrNoChannel) {
		t.Errorf("missing channel: %v", err)
	}
	if name, err := p.agi.QueueCommand("", other.Name, "NOOP", "", nil); !errors.Is(err, ErrNotAsync) || name != other.Name {
		t.Errorf("channel not in AsyncAGI: %q %v", name, err)
	}
	if _, err := p.agi.QueueCommand("other", ch.Name, "NOOP", "", nil); !errors.Is(err, control.ErrNoChannel) {
		t.Errorf("another tenant's channel: %v", err)
	}
	if _, err := p.agi.QueueCommand("acme", ch.Name, "NOOP", "n", nil); err != nil {
		t.Errorf("own tenant's channel: %v", err)
	}
	if e := nextEvent(t, sub, events.AsyncAGIExec); agiField(e, "CommandId") != "n" {
		t.Errorf("exec %q", e.AGI)
	}
	ch.RemoteHangup(q850.NormalClearing)
	nextEvent(t, sub, events.AsyncAGIEnd)
	<-done
	if varOf(ch, "HSTATUS") != "HANGUP" || varOf(ch, "AFTER") != "" {
		t.Errorf("HSTATUS %q AFTER %q", varOf(ch, "HSTATUS"), varOf(ch, "AFTER"))
	}
	other.Hangup(0)
	<-otherDone
}

// TestAsyncAGIRedirect: an async goto (AMI Redirect) ends AsyncAGI and
// the dialplan goes on at its target, not after AGI().
func TestAsyncAGIRedirect(t *testing.T) {
	p := newTestPBX(t, planFor("agi:async"), Options{})
	sub := asyncEvents(p)
	defer sub.Close()
	ch, _, done := p.start("1", nil)
	nextEvent(t, sub, events.AsyncAGIStart)
	if err := p.AsyncGoto(ch, "t2", "5", "2"); err != nil {
		t.Fatal(err)
	}
	nextEvent(t, sub, events.AsyncAGIEnd)
	<-done
	if varOf(ch, "LANDED") != "t2-5-2" || varOf(ch, "AFTER") != "" {
		t.Errorf("LANDED %q AFTER %q", varOf(ch, "LANDED"), varOf(ch, "AFTER"))
	}
}

// TestAsyncAGIClose: closing the service ends a waiting AsyncAGI session
// with FAILURE.
func TestAsyncAGIClose(t *testing.T) {
	p := newTestPBX(t, planFor("agi:async"), Options{})
	sub := asyncEvents(p)
	defer sub.Close()
	ch, _, done := p.start("1", nil)
	nextEvent(t, sub, events.AsyncAGIStart)
	p.agi.Close()
	nextEvent(t, sub, events.AsyncAGIEnd)
	<-done
	if agistatus(ch) != "FAILURE" || varOf(ch, "AFTER") != "yes" {
		t.Errorf("AGISTATUS %q AFTER %q", agistatus(ch), varOf(ch, "AFTER"))
	}
}
