package localchan

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/entvoice/entvoice/internal/apps"
	"github.com/entvoice/entvoice/internal/channel"
	"github.com/entvoice/entvoice/internal/control"
	"github.com/entvoice/entvoice/internal/dialplan"
	"github.com/entvoice/entvoice/internal/events"
	"github.com/entvoice/entvoice/internal/media"
	"github.com/entvoice/entvoice/internal/pbx"
	"github.com/entvoice/entvoice/internal/q850"
	"github.com/entvoice/entvoice/internal/testpeer"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// plan is the dialplan ;2 runs. The plain applications are the real ones
// (apps.Busy, apps.Hangup...); Answer, Block and Mark are the test's, so
// that nothing waits on a clock.
const plan = `[internal]
exten => ring-answer,1,Ringing()
 same => n,Answer()
 same => n,Block()
exten => answer,1,Answer()
 same => n,Block()
exten => ring,1,Ringing()
 same => n,Block()
exten => block,1,Block()
exten => busy,1,Busy()
exten => ring-busy,1,Ringing()
 same => n,Busy()
exten => congestion,1,Congestion()
exten => ring-end,1,Ringing()
 same => n,Hangup()
exten => end,1,NoOp()
exten => dial-busy,1,Set(DIALSTATUS=BUSY)
exten => dial-noanswer,1,Set(DIALSTATUS=NOANSWER)
exten => dial-congestion,1,Set(DIALSTATUS=CONGESTION)
exten => cause-busy,1,Set(HANGUPCAUSE=17)
exten => hangup-busy,1,Hangup(17)
exten => answer-hangup,1,Answer()
 same => n,Block()
 same => n,Hangup(21)

[acme~internal]
exten => 100,1,Mark(acme)
 same => n,Block()

[other~internal]
exten => 100,1,Mark(other)
 same => n,Block()
`

// env is a Local technology on a real PBX, with its own RTP ports.
type env struct {
	t    *testing.T
	reg  *channel.Registry
	pbx  *pbx.PBX
	tech *Tech
	runs *runs // the dialplans ;2 channels run
	// unblock, when closed, lets Block() return (answer-hangup goes on).
	unblock chan struct{}
}

func newEnv(t *testing.T) *env {
	t.Helper()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	reg := channel.NewRegistry("", events.New(), log)
	p := pbx.New(pbx.Options{Channels: reg, Logger: log})
	e := &env{t: t, reg: reg, pbx: p, runs: &runs{}, unblock: make(chan struct{})}
	for name, app := range map[string]pbx.App{
		"Ringing": apps.Ringing, "Busy": apps.Busy, "Congestion": apps.Congestion,
		"Hangup": apps.Hangup, "NoOp": apps.NoOp, "Set": apps.Set,
		// Answer without apps.Answer's wait for the first RTP packet.
		"Answer": func(x *pbx.Exec, _ string) error { return x.Ch.Answer(x.Ctx) },
		// Block waits until the channel hangs up (or the test unblocks).
		"Block": func(x *pbx.Exec, _ string) error {
			select {
			case <-x.Ctx.Done():
				return channel.ErrHangup
			case <-e.unblock:
				return nil
			}
		},
		"Mark": func(x *pbx.Exec, data string) error { x.Ch.SetVar("MARK", data); return nil },
	} {
		p.Register(name, app)
	}
	d, err := dialplan.Parse("test.conf", strings.NewReader(plan))
	if err != nil {
		t.Fatal(err)
	}
	p.SetDialplan(d)
	first := testpeer.FreePortBlock(t, 40)
	pool, err := media.NewPortPool(netip.MustParseAddr("127.0.0.1"), first, first+39, media.PoolOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	pacer := media.NewPacer(log)
	t.Cleanup(pacer.Close)
	e.tech = New(reg, trackedPlan{p, e.runs}, func() (*media.Session, *media.Session, error) {
		return media.NewLoopbackPair(pool, pacer, log)
	})
	return e
}

// trackedPlan hands each ;2 to the test when its dialplan starts, and
// says when it has ended, so a test waits for them rather than guesses.
type trackedPlan struct {
	*pbx.PBX
	runs *runs
}

func (p trackedPlan) HandleCall(ch *channel.Channel) {
	r := p.runs.of(ch.Name)
	r.ch = ch
	close(r.started)
	p.PBX.HandleCall(ch)
	close(r.ended)
}

// runs are the dialplan runs of ;2 channels, by name.
type runs struct{ m sync.Map }

type run struct {
	ch             *channel.Channel // set before started is closed
	started, ended chan struct{}
}

func (rs *runs) of(name string) *run {
	r, _ := rs.m.LoadOrStore(name, &run{started: make(chan struct{}), ended: make(chan struct{})})
	return r.(*run)
}

// call places Local/resource for a caller of tenant and returns ;1's leg
// and ;2. At cleanup ;1 is hung up and ;2's dialplan awaited.
func (e *env) call(tenant, resource string, r channel.Request) (*channel.Leg, *channel.Channel) {
	e.t.Helper()
	d, err := e.tech.Resolve(tenant, resource)
	if err != nil {
		e.t.Fatalf("Resolve(%q, %q): %v", tenant, resource, err)
	}
	leg, err := e.tech.Call(context.Background(), d, r)
	if err != nil {
		e.t.Fatal(err)
	}
	if !strings.HasSuffix(leg.Channel.Name, ";1") {
		e.t.Fatalf("the requester got %s, want ;1", leg.Channel.Name)
	}
	run2 := e.runs.of(strings.TrimSuffix(leg.Channel.Name, ";1") + ";2")
	select {
	case <-run2.started:
	case <-time.After(10 * time.Second):
		e.t.Fatalf("no dialplan runs beside %s", leg.Channel.Name)
	}
	two := run2.ch
	e.t.Cleanup(func() {
		leg.Channel.Hangup(q850.NormalClearing)
		e.waitEnded(two)
	})
	return leg, two
}

// waitEnded waits until ch's dialplan has ended.
func (e *env) waitEnded(ch *channel.Channel) {
	e.t.Helper()
	select {
	case <-e.runs.of(ch.Name).ended:
	case <-time.After(10 * time.Second):
		e.t.Fatalf("the dialplan of %s never ended", ch.Name)
	}
}

// next returns the next progress of a leg.
func next(t *testing.T, leg *channel.Leg) channel.Progress {
	t.Helper()
	select {
	case p := <-leg.Events:
		return p
	case <-time.After(10 * time.Second):
		t.Fatal("no progress from the Local channel")
		return channel.Progress{}
	}
}

func waitDone(t *testing.T, ch *channel.Channel) {
	t.Helper()
	select {
	case <-ch.Done():
	case <-time.After(10 * time.Second):
		t.Fatalf("%s was not hung up", ch.Name)
	}
}

// TestResolve: Local/exten@context[/n] names an extension of the caller's
// tenant's dialplan; a tenant reaches no other's, and an extension that
// does not exist is refused before anything is created.
func TestResolve(t *testing.T) {
	e := newEnv(t)
	for _, tc := range []struct {
		name, tenant, resource string
		wantTenant             string
		wantErr                error
	}{
		{"an extension of the default tenant", "", "ring@internal", "default", nil},
		{"/n is accepted and changes nothing", "", "ring@internal/n", "default", nil},
		{"a tenant's bare context is its own", "acme", "100@internal", "acme", nil},
		{"a tenant may name its own qualified context", "acme", "100@acme~internal", "acme", nil},
		{"a tenant cannot reach another tenant's context", "acme", "100@other~internal", "", control.ErrNoExtension},
		{"the default tenant cannot name a tenant's context", "", "100@acme~internal", "", control.ErrNoExtension},
		{"a tenant has no default-tenant contexts", "acme", "ring@internal", "", control.ErrNoExtension},
		{"an extension that does not exist", "", "999@internal", "", control.ErrNoExtension},
		{"a context that does not exist", "", "ring@nowhere", "", control.ErrNoExtension},
		{"no context", "", "ring", "", channel.ErrBadDialString},
		{"an empty extension", "", "@internal", "", channel.ErrBadDialString},
		{"an empty context", "", "ring@", "", channel.ErrBadDialString},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, err := e.tech.Resolve(tc.tenant, tc.resource)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) || channel.CauseOf(err) != q850.ChanUnavailable {
					t.Fatalf("Resolve = %+v, %v; want %v with cause 44", d, err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			want := channel.Destination{Tech: "Local", Resource: tc.resource, Tenant: tc.wantTenant, Virtual: true}
			if d != want {
				t.Fatalf("Resolve = %+v, want %+v", d, want)
			}
		})
	}
	if n := e.reg.Count(); n != 0 {
		t.Fatalf("Resolve created %d channels", n)
	}
}

// TestTenantContext: ;2 runs in the tenant's own context, named bare in
// the dial string.
func TestTenantContext(t *testing.T) {
	e := newEnv(t)
	for _, tenant := range []string{"acme", "other"} {
		leg, two := e.call(tenant, "100@internal", channel.Request{Tenant: tenant})
		if two.Tenant() != tenant || leg.Channel.Tenant() != tenant {
			t.Errorf("tenants ;1 %q ;2 %q, want %q", leg.Channel.Tenant(), two.Tenant(), tenant)
		}
		if ctx, exten, _ := two.Location(); ctx != tenant+"~internal" || exten != "100" {
			t.Errorf(";2 starts at %s@%s", exten, ctx)
		}
	}
}

// TestProgress: what ;2's dialplan does reaches the requester as ;1's
// progress: ringing and answering ;2 ring and answer ;1.
func TestProgress(t *testing.T) {
	for _, tc := range []struct {
		name  string
		exten string
		want  []channel.ProgressKind
	}{
		{"ringing, then answering", "ring-answer", []channel.ProgressKind{channel.Ringing, channel.Answered}},
		{"answering without ringing", "answer", []channel.ProgressKind{channel.Answered}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			leg, _ := e.call("", tc.exten+"@internal", channel.Request{})
			for _, want := range tc.want {
				if got := next(t, leg); got.Kind != want {
					t.Fatalf("progress %+v, want kind %d", got, want)
				}
			}
			if s := leg.Channel.State(); s != channel.StateUp {
				t.Errorf(";1 is %v once answered", s)
			}
		})
	}
}

// TestFailure: ;2's dialplan ending unanswered fails ;1 with the cause a
// requester needs for DIALSTATUS: busy, congestion, no answer (it rang),
// or normal clearing.
func TestFailure(t *testing.T) {
	for _, tc := range []struct {
		name  string
		exten string
		rings bool
		cause int
	}{
		{"Busy()", "busy", false, q850.UserBusy},
		{"ringing, then Busy()", "ring-busy", true, q850.UserBusy},
		{"Congestion()", "congestion", false, q850.Congestion},
		{"ringing, then hanging up: no answer", "ring-end", true, q850.NoAnswer},
		{"ending without ringing: normal clearing", "end", false, q850.NormalClearing},
		{"its own Dial said BUSY", "dial-busy", false, q850.UserBusy},
		{"its own Dial said NOANSWER", "dial-noanswer", false, q850.NoAnswer},
		{"its own Dial said CONGESTION", "dial-congestion", false, q850.Congestion},
		{"HANGUPCAUSE set to 17", "cause-busy", false, q850.UserBusy},
		{"Hangup(17)", "hangup-busy", false, q850.UserBusy},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			leg, two := e.call("", tc.exten+"@internal", channel.Request{})
			got := next(t, leg)
			if tc.rings {
				if got.Kind != channel.Ringing {
					t.Fatalf("first progress %+v, want ringing", got)
				}
				got = next(t, leg)
			}
			if got.Kind != channel.Failed || got.Cause != tc.cause {
				t.Fatalf("progress %+v, want failed with cause %d", got, tc.cause)
			}
			waitDone(t, leg.Channel)
			e.waitEnded(two)
		})
	}
}

// TestFollowOrder: ;1's progress does not depend on the order in which
// follow happens to see what already happened. The halves hang each
// other up on different goroutines, so both may be gone when it looks;
// which one hung up first decides. And a ;2 that rang before it
// answered or ended is reported ringing first. Each row sets the scene
// completely before follow starts, then runs it many times, so that
// select's random choice among ready cases gets every chance to matter.
func TestFollowOrder(t *testing.T) {
	for _, tc := range []struct {
		name     string
		first    int  // which half hung up first: 1, 2, or 0 (none: ;1 hung up by its far end)
		rang     bool // ;2 rang
		answered bool // ;2 answered
		gone     int  // 1: only ;1 gone, 2: only ;2 gone, 3: both
		cause    int  // the first hangup's cause
		want     []channel.Progress
	}{
		{
			name: ";2 was busy and took ;1 with it", first: 2, gone: 3, cause: q850.UserBusy,
			want: []channel.Progress{{Kind: channel.Failed, Cause: q850.UserBusy}},
		},
		{
			name: ";2 was busy; only ;1 is seen gone yet", first: 2, gone: 1, cause: q850.UserBusy,
			want: []channel.Progress{{Kind: channel.Failed, Cause: q850.UserBusy}},
		},
		{
			name: ";2 rang, then ended: no answer, ringing first", first: 2, rang: true, gone: 3, cause: q850.NormalClearing,
			want: []channel.Progress{{Kind: channel.Ringing}, {Kind: channel.Failed, Cause: q850.NoAnswer}},
		},
		{
			name: "the requester gave up on a ringing ;2, which is gone too", first: 1, rang: true, gone: 3, cause: q850.AnsweredElsewhere,
			want: []channel.Progress{{Kind: channel.Ringing}, {Kind: channel.Failed, Cause: q850.NormalClearing}},
		},
		{
			name: "the requester gave up; ;2 is seen gone first", first: 1, gone: 2, cause: q850.AnsweredElsewhere,
			want: []channel.Progress{{Kind: channel.Failed, Cause: q850.NormalClearing}},
		},
		{
			name: "the requester gave up; ;2 is not gone yet and goes with ;1's cause", first: 1, gone: 1, cause: q850.AnsweredElsewhere,
			want: []channel.Progress{{Kind: channel.Failed, Cause: q850.NormalClearing}},
		},
		{
			name: ";1 hung up by its far end", first: 0, gone: 1, cause: q850.NormalClearing,
			want: []channel.Progress{{Kind: channel.Failed, Cause: q850.NormalClearing}},
		},
		{
			name: ";2 rang and answered", rang: true, answered: true,
			want: []channel.Progress{{Kind: channel.Ringing}, {Kind: channel.Answered}},
		},
		{
			name: ";2 answered, then hung up: the answer came first", first: 2, rang: true, answered: true, gone: 3,
			cause: q850.NormalClearing,
			want:  []channel.Progress{{Kind: channel.Ringing}, {Kind: channel.Answered}},
		},
		{
			name: "the requester gave up as ;2 answered", first: 1, answered: true, gone: 3, cause: q850.NormalClearing,
			want: []channel.Progress{{Kind: channel.Failed, Cause: q850.NormalClearing}},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			reg := channel.NewRegistry("", events.New(), slog.New(slog.NewTextHandler(io.Discard, nil)))
			for range 50 {
				// The channels have no drivers: the scene is set by hand.
				ch1 := reg.New(channel.Options{Tech: "Local", Endpoint: "x@y", Name: "Local/x@y-1;1"})
				ch2 := reg.New(channel.Options{Tech: "Local", Endpoint: "x@y", Name: "Local/x@y-1;2"})
				pr := &pair{}
				pr.one = &half{pair: pr}
				pr.two = &half{pair: pr, ringing: make(chan struct{}), answered: make(chan struct{})}
				if tc.rang {
					close(pr.two.ringing)
				}
				if tc.answered {
					close(pr.two.answered)
				}
				switch tc.first {
				case 1:
					pr.first.Store(pr.one)
				case 2:
					pr.first.Store(pr.two)
				}
				// What the first hangup did: its channel went with its
				// cause, and the other one too (or not yet).
				if tc.gone&2 != 0 {
					ch2.RemoteHangup(tc.cause)
				} else if tc.first == 2 {
					// Hanging up, not done yet: the cause is set.
					ch2.SetHangupCause(tc.cause)
				}
				if tc.gone&1 != 0 {
					ch1.RemoteHangup(tc.cause)
				}
				out := make(chan channel.Progress, 4)
				follow(ch1, ch2, pr, out)
				var got []channel.Progress
				for len(out) > 0 {
					got = append(got, <-out)
				}
				if !slices.Equal(got, tc.want) {
					t.Fatalf("progress %+v, want %+v", got, tc.want)
				}
				if tc.first == 1 && ch2.HangupCause() != tc.cause {
					t.Fatalf(";2 hung up with cause %d, want ;1's %d", ch2.HangupCause(), tc.cause)
				}
				ch1.Hangup(0)
				ch2.Hangup(0)
				reg.Remove(ch1)
				reg.Remove(ch2)
			}
		})
	}
}

// TestRequesterGivesUp: hanging up ;1 (Dial's timeout, another leg
// answered) hangs up ;2 with the same cause, and ;1's progress ends.
func TestRequesterGivesUp(t *testing.T) {
	for _, tc := range []struct {
		name  string
		exten string
		cause int
	}{
		{"while ;2 rings", "ring", q850.AnsweredElsewhere},
		{"while ;2 runs dialplan", "block", q850.NormalClearing},
		{"after ;2 answered", "answer", q850.NormalClearing},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			leg, two := e.call("", tc.exten+"@internal", channel.Request{})
			if tc.exten == "ring" {
				next(t, leg)
			}
			if tc.exten == "answer" {
				if p := next(t, leg); p.Kind != channel.Answered {
					t.Fatalf("progress %+v", p)
				}
			}
			leg.Channel.Hangup(tc.cause)
			waitDone(t, two)
			if got := two.HangupCause(); got != tc.cause {
				t.Errorf(";2 hung up with cause %d, want ;1's %d", got, tc.cause)
			}
			if tc.exten != "answer" {
				if p := next(t, leg); p.Kind != channel.Failed {
					t.Errorf("last progress %+v, want failed", p)
				}
			}
			e.waitEnded(two)
		})
	}
}

// TestAnsweredTwoHangsUp: once answered, ;2 hanging up (its dialplan
// ends) hangs up ;1 with ;2's cause.
func TestAnsweredTwoHangsUp(t *testing.T) {
	e := newEnv(t)
	leg, two := e.call("", "answer-hangup@internal", channel.Request{})
	if p := next(t, leg); p.Kind != channel.Answered {
		t.Fatalf("progress %+v", p)
	}
	close(e.unblock) // Block() returns, Hangup(21) runs
	waitDone(t, leg.Channel)
	if got := leg.Channel.HangupCause(); got != q850.CallRejected {
		t.Errorf(";1 hung up with cause %d, want ;2's 21", got)
	}
	e.waitEnded(two)
}

// TestVariables: ;1 inherits from the requesting channel as any
// outbound channel does (_X arrives as X, __X stays), then ;2 gets a
// copy of every variable ;1 has, as Asterisk's local_call copies them:
// the dialplan behind a Local channel sees what its ;1 was given.
func TestVariables(t *testing.T) {
	e := newEnv(t)
	parent := e.reg.New(channel.Options{Tech: "PJSIP", Endpoint: "caller", Tenant: "default"})
	t.Cleanup(func() { parent.Hangup(0) })
	parent.SetVar("PLAIN", "p")
	parent.SetVar("_ONE", "1")
	parent.SetVar("__ALL", "a")
	leg, two := e.call("", "block@internal", channel.Request{Parent: parent, CallerNum: "1001", CallerName: "Alice",
		AccountCode: "acct", Variables: map[string]string{"ORIG": "o", "_ORIGI": "oi"}})
	for _, tc := range []struct {
		ch   *channel.Channel
		name string
		want string // "" : not set
	}{
		{leg.Channel, "PLAIN", ""},
		{leg.Channel, "ONE", "1"},
		{leg.Channel, "ALL", "a"},
		{leg.Channel, "ORIG", "o"},
		{leg.Channel, "ORIGI", "oi"},
		{two, "PLAIN", ""},
		{two, "ONE", "1"},
		{two, "ALL", "a"},
		{two, "ORIG", "o"},
		{two, "ORIGI", "oi"},
	} {
		if got, _ := tc.ch.GetVar(tc.name); got != tc.want {
			t.Errorf("%s: ${%s} = %q, want %q", tc.ch.Name, tc.name, got, tc.want)
		}
	}
	// Who calls whom: both halves are the caller's call.
	for _, ch := range []*channel.Channel{leg.Channel, two} {
		if ch.LinkedID() != parent.LinkedID() {
			t.Errorf("%s linkedid %q, want the caller's %q", ch.Name, ch.LinkedID(), parent.LinkedID())
		}
		if num, name := ch.CallerID(); num != "1001" || name != "Alice" || ch.AccountCode() != "acct" {
			t.Errorf("%s caller %q %q account %q", ch.Name, num, name, ch.AccountCode())
		}
	}
	// ONE was inherited once: a channel ;2 places does not get it, ALL
	// goes on.
	grand := e.reg.New(channel.Options{Tech: "PJSIP", Endpoint: "callee"})
	t.Cleanup(func() { grand.Hangup(0) })
	grand.InheritFrom(two)
	if _, ok := grand.GetVar("ONE"); ok {
		t.Error("_ONE reached a channel placed by ;2")
	}
	if v, _ := grand.GetVar("ALL"); v != "a" {
		t.Errorf("__ALL did not reach a channel placed by ;2: %q", v)
	}
}
