package node

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"maps"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/entvoice/entvoice/internal/channel"
	"github.com/entvoice/entvoice/internal/channel/channeltest"
	"github.com/entvoice/entvoice/internal/control"
	"github.com/entvoice/entvoice/internal/dialplan"
	"github.com/entvoice/entvoice/internal/events"
	"github.com/entvoice/entvoice/internal/pbx"
	"github.com/entvoice/entvoice/internal/q850"
	"github.com/entvoice/entvoice/internal/tenancy"
)

// ctlPlan is the dialplan behind the controller: Mark reports where it
// runs, Block holds a channel until it hangs up or is redirected.
const ctlPlan = `[globals]
G=global-value

[internal]
exten => 100,1,Mark(100)
 same => n(lbl),Mark(lbl)
exten => park,1,Block()
exten => 200,1,Mark(200)
 same => n,Block()

[acme~internal]
exten => 100,1,Mark(acme)
exten => park,1,Block()
exten => 200,1,Mark(acme-200)
 same => n,Block()

[other~internal]
exten => park,1,Block()
`

// mark is one run of Mark: on which channel, where, with what data.
type mark struct {
	channel, context, exten, data string
}

// ctlEnv is a Controller over a real PBX and a fake channel technology.
type ctlEnv struct {
	t       *testing.T
	reg     *channel.Registry
	pbx     *pbx.PBX
	fake    *channeltest.Tech
	limits  *tenancy.Limits
	regs    *fakeRegistrations
	ctl     *Controller
	marks   chan mark
	blocked chan string // channels that entered Block
	events  *events.Subscription

	mu     sync.Mutex
	hungUp map[string]bool // channels whose Hangup event was seen
	dials  []string        // Dial events seen, as "Kind STATUS"
}

func newCtlEnv(t *testing.T) *ctlEnv {
	t.Helper()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	bus := events.New()
	e := &ctlEnv{t: t, reg: channel.NewRegistry("node1", bus, log), marks: make(chan mark, 16),
		blocked: make(chan string, 16), hungUp: map[string]bool{}, limits: tenancy.NewLimits(),
		regs: &fakeRegistrations{users: map[string]bool{}}}
	e.events = bus.Subscribe(1024, func(ev *events.Event) bool {
		switch ev.Kind {
		case events.Hangup, events.DialBegin, events.DialState, events.DialEnd:
			return true
		}
		return false
	})
	t.Cleanup(e.events.Close)
	e.pbx = pbx.New(pbx.Options{Channels: e.reg, Logger: log})
	e.pbx.Register("Mark", func(x *pbx.Exec, data string) error {
		c, ex, _ := x.Ch.Location()
		x.Ch.SetVar("MARK", data)
		e.marks <- mark{x.Ch.Name, c, ex, data}
		return nil
	})
	e.pbx.Register("Block", func(x *pbx.Exec, _ string) error {
		e.blocked <- x.Ch.Name
		<-x.Ctx.Done()
		return channel.ErrHangup
	})
	plan, err := dialplan.Parse("control.conf", strings.NewReader(ctlPlan))
	if err != nil {
		t.Fatal(err)
	}
	e.pbx.SetDialplan(plan)
	e.fake = &channeltest.Tech{Name: "Fake", Channels: e.reg}
	techs := channel.NewTechnologies(channel.TechnologiesOptions{Limits: e.limits})
	techs.Register(e.fake, "Fake")
	e.ctl = NewController(e.pbx, e.reg, techs, e.regs, log)
	return e
}

// fakeRegistrations are the node's registered users.
type fakeRegistrations struct {
	users map[string]bool // "tenant/user"
	peer  netip.AddrPort
}

func (f *fakeRegistrations) Registered(tenant, user string) bool { return f.users[tenant+"/"+user] }
func (f *fakeRegistrations) PeerAddr() netip.AddrPort            { return f.peer }

// nextMark waits for the next run of Mark.
func (e *ctlEnv) nextMark() mark {
	e.t.Helper()
	select {
	case m := <-e.marks:
		return m
	case <-time.After(10 * time.Second):
		e.t.Fatal("Mark never ran")
		return mark{}
	}
}

// waitBlocked waits until a channel enters Block.
func (e *ctlEnv) waitBlocked(name string) {
	e.t.Helper()
	select {
	case got := <-e.blocked:
		if got != name {
			e.t.Fatalf("%s entered Block, want %s", got, name)
		}
	case <-time.After(10 * time.Second):
		e.t.Fatalf("%s never entered Block", name)
	}
}

// waitGone waits for the Hangup event of a channel (the end of its
// dialplan, or its destruction by the controller).
func (e *ctlEnv) waitGone(name string) {
	e.t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		e.mu.Lock()
		seen := e.hungUp[name]
		e.mu.Unlock()
		if seen {
			return
		}
		select {
		case ev := <-e.events.C:
			e.note(*ev)
		case <-deadline:
			e.t.Fatalf("no Hangup event for %s", name)
		}
	}
}

// dialEvents returns the Dial events published so far, as "Kind
// STATUS".
func (e *ctlEnv) dialEvents() []string {
	for {
		select {
		case ev := <-e.events.C:
			e.note(*ev)
		default:
			e.mu.Lock()
			defer e.mu.Unlock()
			return append([]string(nil), e.dials...)
		}
	}
}

// saw waits until a Dial event ("Kind STATUS") has been published.
func (e *ctlEnv) saw(want string) {
	e.t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		e.mu.Lock()
		ok := slices.Contains(e.dials, want)
		e.mu.Unlock()
		if ok {
			return
		}
		select {
		case ev := <-e.events.C:
			e.note(*ev)
		case <-deadline:
			e.t.Fatalf("no %q event", want)
		}
	}
}

func (e *ctlEnv) note(ev events.Event) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if ev.Kind == events.Hangup {
		e.hungUp[ev.Channel.Channel] = true
		return
	}
	e.dials = append(e.dials, strings.TrimSpace(string(ev.Kind)+" "+ev.DialStatus))
}

// park starts a channel of tenant in the dialplan at park@internal (its
// tenant's) and returns once it blocks there; it is hung up at cleanup.
func (e *ctlEnv) park(tenant, endpoint string) *channel.Channel {
	e.t.Helper()
	ctx, _ := tenancy.Context(tenant, "internal")
	ch := e.reg.New(channel.Options{Tech: "PJSIP", Endpoint: endpoint, Tenant: tenancy.Of(tenant), Context: ctx, Exten: "park"})
	go e.pbx.HandleCall(ch)
	e.waitBlocked(ch.Name)
	e.t.Cleanup(func() {
		ch.Hangup(q850.NormalClearing)
		e.waitGone(ch.Name)
	})
	return ch
}

// TestOriginateOutcome: how the first leg ends maps to AMI's
// OriginateResponse Reason (what __ast_request_and_dial ends with), and
// the leg publishes the Dial events of Asterisk's dialing API.
func TestOriginateOutcome(t *testing.T) {
	for _, tc := range []struct {
		name    string
		timeout time.Duration
		script  func(e *ctlEnv, l *channeltest.Leg, cancel func())
		reason  int
		// hungUp is the cause the leg is hung up with on this side: by
		// the controller when it gives up, at the end of its dialplan
		// when answered (0: it ended on its own).
		hungUp int
		events []string
	}{
		{
			name:   "answered: 4, and the dialplan runs on the leg",
			script: func(_ *ctlEnv, l *channeltest.Leg, _ func()) { l.Ring(); l.Answer() },
			reason: control.ReasonAnswered, hungUp: q850.NormalClearing,
			events: []string{"DialBegin", "DialState RINGING", "DialEnd ANSWER"},
		},
		{
			name:   "early media, then answered",
			script: func(_ *ctlEnv, l *channeltest.Leg, _ func()) { l.EarlyMedia(); l.Answer() },
			reason: control.ReasonAnswered, hungUp: q850.NormalClearing,
			events: []string{"DialBegin", "DialState PROGRESS", "DialEnd ANSWER"},
		},
		{
			name:   "busy: 5",
			script: func(_ *ctlEnv, l *channeltest.Leg, _ func()) { l.Fail(q850.UserBusy, 486) },
			reason: control.ReasonBusy,
			events: []string{"DialBegin", "DialEnd BUSY"},
		},
		{
			name:   "congestion: 8",
			script: func(_ *ctlEnv, l *channeltest.Leg, _ func()) { l.Fail(q850.Congestion, 503) },
			reason: control.ReasonCongestion,
			events: []string{"DialBegin", "DialEnd CONGESTION"},
		},
		{
			name:   "switching equipment congestion is congestion too: 8",
			script: func(_ *ctlEnv, l *channeltest.Leg, _ func()) { l.Fail(q850.SwitchCongestion, 0) },
			reason: control.ReasonCongestion,
			events: []string{"DialBegin", "DialEnd CONGESTION"},
		},
		{
			name:   "the callee's own no answer: 3 (it rang)",
			script: func(_ *ctlEnv, l *channeltest.Leg, _ func()) { l.Ring(); l.Fail(q850.NoAnswer, 480) },
			reason: control.ReasonRinging,
			events: []string{"DialBegin", "DialState RINGING", "DialEnd NOANSWER"},
		},
		{
			name:   "no user responding: 3",
			script: func(_ *ctlEnv, l *channeltest.Leg, _ func()) { l.Fail(q850.NoUserResponse, 408) },
			reason: control.ReasonRinging,
			events: []string{"DialBegin", "DialEnd NOANSWER"},
		},
		{
			name:   "any other failure: 1 (hangup)",
			script: func(_ *ctlEnv, l *channeltest.Leg, _ func()) { l.Fail(q850.SubscriberAbsent, 480) },
			reason: control.ReasonHangup,
			events: []string{"DialBegin", "DialEnd CHANUNAVAIL"},
		},
		{
			name:   "declined: 1",
			script: func(_ *ctlEnv, l *channeltest.Leg, _ func()) { l.Ring(); l.Fail(q850.NormalClearing, 603) },
			reason: control.ReasonHangup,
			events: []string{"DialBegin", "DialState RINGING", "DialEnd CHANUNAVAIL"},
		},
		{
			name: "the timeout while it rings: 3, the leg cancelled with no answer (19)", timeout: 50 * time.Millisecond,
			script: func(_ *ctlEnv, l *channeltest.Leg, _ func()) { l.Ring() },
			reason: control.ReasonRinging, hungUp: q850.NoAnswer,
			events: []string{"DialBegin", "DialState RINGING", "DialEnd NOANSWER"},
		},
		{
			name: "the timeout before it rang: 0, the leg cancelled with 19", timeout: 50 * time.Millisecond,
			script: func(*ctlEnv, *channeltest.Leg, func()) {},
			reason: control.ReasonFailed, hungUp: q850.NoAnswer,
			events: []string{"DialBegin", "DialEnd NOANSWER"},
		},
		{
			name: "the requester gives up: 0, the leg cancelled",
			script: func(e *ctlEnv, l *channeltest.Leg, cancel func()) {
				l.Ring()
				e.saw("DialState RINGING")
				cancel()
			},
			reason: control.ReasonFailed, hungUp: q850.NormalClearing,
			events: []string{"DialBegin", "DialState RINGING", "DialEnd CANCEL"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newCtlEnv(t)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			type outcome struct {
				res control.OriginateResult
				err error
			}
			done := make(chan outcome, 1)
			go func() {
				res, err := e.ctl.Originate(ctx, control.OriginateRequest{Channel: "Fake/1001", Context: "internal",
					Exten: "100", Timeout: tc.timeout})
				done <- outcome{res, err}
			}()
			leg := e.fake.Next(t)
			tc.script(e, leg, cancel)
			var got outcome
			select {
			case got = <-done:
			case <-time.After(10 * time.Second):
				t.Fatal("Originate never returned")
			}
			if _, live := e.reg.Get(leg.Channel.Name); live && tc.reason != control.ReasonAnswered {
				t.Errorf("%s is still live once Originate failed", leg.Channel.Name)
			}
			if got.res.Reason != tc.reason {
				t.Errorf("reason %d, want %d (err %v)", got.res.Reason, tc.reason, got.err)
			}
			if (got.err == nil) != (tc.reason == control.ReasonAnswered) {
				t.Errorf("err %v with reason %d", got.err, got.res.Reason)
			}
			if got.res.Channel != leg.Channel.Name || got.res.UniqueID != leg.Channel.UniqueID {
				t.Errorf("result names %s %s, want the leg %s %s", got.res.Channel, got.res.UniqueID, leg.Channel.Name, leg.Channel.UniqueID)
			}
			if tc.reason == control.ReasonAnswered {
				if m := e.nextMark(); m != (mark{leg.Channel.Name, "internal", "100", "100"}) {
					t.Errorf("the answered leg ran %+v", m)
				}
				e.nextMark() // lbl: then the dialplan ends
			}
			e.waitGone(leg.Channel.Name)
			if c := leg.HungUpWith(); c != tc.hungUp {
				t.Errorf("leg hung up with cause %d, want %d", c, tc.hungUp)
			}
			if got := e.dialEvents(); !slices.Equal(got, tc.events) {
				t.Errorf("events %q, want %q", got, tc.events)
			}
		})
	}
}

// TestOriginateRefused: what Originate refuses before (or instead of)
// calling: nothing is placed for a request it cannot carry out.
func TestOriginateRefused(t *testing.T) {
	for _, tc := range []struct {
		name  string
		req   control.OriginateRequest
		setup func(e *ctlEnv)
		err   error // errors.Is
		// placed: the technology was asked (the leg was refused later).
		placed bool
	}{
		{
			name: "a channel without a technology",
			req:  control.OriginateRequest{Channel: "1001", Context: "internal", Exten: "100"},
			err:  control.ErrBadChannel,
		},
		{
			name: "a technology the node does not have",
			req:  control.OriginateRequest{Channel: "IAX2/1001", Context: "internal", Exten: "100"},
			err:  control.ErrBadChannel,
		},
		{
			name: "an extension that does not exist",
			req:  control.OriginateRequest{Channel: "Fake/1001", Context: "internal", Exten: "999"},
			err:  control.ErrNoExtension,
		},
		{
			name: "a priority that does not exist",
			req:  control.OriginateRequest{Channel: "Fake/1001", Context: "internal", Exten: "100", Priority: "9"},
			err:  control.ErrNoExtension,
		},
		{
			name: "a label that does not exist",
			req:  control.OriginateRequest{Channel: "Fake/1001", Context: "internal", Exten: "100", Priority: "nolabel"},
			err:  control.ErrNoExtension,
		},
		{
			name: "a tenant cannot originate into another tenant's context",
			req:  control.OriginateRequest{Tenant: "acme", Channel: "Fake/1001", Context: "other~internal", Exten: "park"},
			err:  control.ErrNoExtension,
		},
		{
			name: "the default tenant cannot name a tenant's context",
			req:  control.OriginateRequest{Channel: "Fake/1001", Context: "acme~internal", Exten: "100"},
			err:  control.ErrNoExtension,
		},
		{
			name: "a tenant has no default-tenant contexts",
			req:  control.OriginateRequest{Tenant: "other", Channel: "Fake/1001", Context: "internal", Exten: "100"},
			err:  control.ErrNoExtension,
		},
		{
			name: "an application the node does not have",
			req:  control.OriginateRequest{Channel: "Fake/1001", Application: "Nope"},
			err:  control.ErrBadChannel,
		},
		{
			name:  "the tenant policy refuses the leg: a tenant at its max_calls",
			req:   control.OriginateRequest{Tenant: "acme", Channel: "Fake/1001", Context: "internal", Exten: "100"},
			setup: func(e *ctlEnv) { e.limits.SetMax(map[string]int{"acme": 1}); _, _ = e.limits.Acquire("acme") },
			err:   tenancy.ErrCallLimit,
		},
		{
			name: "the technology cannot reach the resource",
			req:  control.OriginateRequest{Channel: "Fake/nobody", Context: "internal", Exten: "100"},
			setup: func(e *ctlEnv) {
				e.fake.Reach = func(string, string) (channel.Destination, error) {
					return channel.Destination{}, &channel.RequestError{Cause: q850.SubscriberAbsent, Err: errors.New("no such endpoint")}
				}
			},
		},
		{
			name: "the technology fails to call it",
			req:  control.OriginateRequest{Channel: "Fake/1001", Context: "internal", Exten: "100"},
			setup: func(e *ctlEnv) {
				e.fake.CallError = func(channel.Destination) error {
					return &channel.RequestError{Cause: q850.DestOutOfOrder, Err: errors.New("INVITE not sent")}
				}
			},
			placed: true,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newCtlEnv(t)
			if tc.setup != nil {
				tc.setup(e)
			}
			res, err := e.ctl.Originate(context.Background(), tc.req)
			if err == nil {
				t.Fatalf("originated: %+v", res)
			}
			if tc.err != nil && !errors.Is(err, tc.err) {
				t.Errorf("err %v, want %v", err, tc.err)
			}
			if res.Reason != control.ReasonFailed || res.Channel != "" {
				t.Errorf("result %+v, want reason 0 and no channel", res)
			}
			if placed := len(e.fake.Called()) > 0; placed != tc.placed {
				t.Errorf("technology called: %v, want %v", placed, tc.placed)
			}
			if n := e.reg.Count(); n != 0 {
				t.Errorf("%d channels left", n)
			}
		})
	}
}

// TestOriginateTargets: what runs on the answered leg, and what the leg
// is called with.
func TestOriginateTargets(t *testing.T) {
	for _, tc := range []struct {
		name  string
		req   control.OriginateRequest
		marks []mark // the channel is filled in
		// tenant is the tenant the leg is requested for.
		tenant string
	}{
		{
			name:   "a dialplan position with a label for priority",
			req:    control.OriginateRequest{Context: "internal", Exten: "100", Priority: "lbl"},
			marks:  []mark{{context: "internal", exten: "100", data: "lbl"}},
			tenant: tenancy.Default,
		},
		{
			name:   "an application with its data, instead of the dialplan",
			req:    control.OriginateRequest{Application: "Mark", Data: "app"},
			marks:  []mark{{data: "app"}},
			tenant: tenancy.Default,
		},
		{
			name:   "a tenant's bare context is its own",
			req:    control.OriginateRequest{Tenant: "acme", Context: "internal", Exten: "100"},
			marks:  []mark{{context: "acme~internal", exten: "100", data: "acme"}},
			tenant: "acme",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newCtlEnv(t)
			req := tc.req
			req.Channel = "Fake/1001"
			req.CallerID = `"Alice" <1001>`
			req.Account = "acct"
			req.Variables = map[string]string{"V": "x"}
			done := make(chan error, 1)
			go func() {
				_, err := e.ctl.Originate(context.Background(), req)
				done <- err
			}()
			leg := e.fake.Next(t)
			r := leg.Request
			if r.Tenant != tc.tenant || r.CallerNum != "1001" || r.CallerName != "Alice" || r.AccountCode != "acct" || r.Variables["V"] != "x" || r.Parent != nil {
				t.Errorf("leg requested with %+v", r)
			}
			leg.Answer()
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			for _, want := range tc.marks {
				want.channel = leg.Channel.Name
				if got := e.nextMark(); got != want {
					t.Errorf("ran %+v, want %+v", got, want)
				}
			}
			e.waitGone(leg.Channel.Name)
		})
	}
}

// TestChannelsScope: a tenant sees only its own channels, an admin ("")
// sees all; the list says what each runs and what it is bridged to.
func TestChannelsScope(t *testing.T) {
	e := newCtlEnv(t)
	d := e.reg.New(channel.Options{Tech: "PJSIP", Endpoint: "d", Tenant: tenancy.Default})
	a := e.reg.New(channel.Options{Tech: "PJSIP", Endpoint: "a", Tenant: "acme"})
	o := e.reg.New(channel.Options{Tech: "PJSIP", Endpoint: "o", Tenant: "other"})
	a.SetApp("Dial", "PJSIP/o")
	a.SetPeer(o)
	for _, tc := range []struct {
		scope string
		want  []string
	}{
		{"", []string{d.Name, a.Name, o.Name}},
		{"acme", []string{a.Name}},
		{"other", []string{o.Name}},
		{"nobody", nil},
	} {
		list, err := e.ctl.Channels(context.Background(), tc.scope)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, ci := range list {
			names = append(names, ci.Channel)
			if ci.Channel == a.Name && (ci.Application != "Dial" || ci.ApplicationData != "PJSIP/o" || ci.BridgedChannel != o.Name || ci.Tenant != "acme") {
				t.Errorf("scope %q: %s listed as %+v", tc.scope, a.Name, ci)
			}
		}
		if !slices.Equal(names, tc.want) {
			t.Errorf("scope %q sees %v, want %v", tc.scope, names, tc.want)
		}
	}
}

// TestChannelActionsScope: Hangup, GetVar and SetVar reach a channel of
// the caller's tenant only (another's is "no such channel", as if it did
// not exist); an admin reaches all, and only an admin reaches globals.
func TestChannelActionsScope(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name  string
		scope string
		of    string // the tenant of the channel acted on ("-": no channel named, a global)
		do    string // hangup, getvar, setvar
		want  error
	}{
		{"a tenant hangs up its own channel", "acme", "acme", "hangup", nil},
		{"a tenant cannot hang up another's", "other", "acme", "hangup", control.ErrNoChannel},
		{"a tenant cannot hang up the default tenant's", "acme", "default", "hangup", control.ErrNoChannel},
		{"an admin hangs up any channel", "", "acme", "hangup", nil},
		{"a tenant reads its own channel's variable", "acme", "acme", "getvar", nil},
		{"a tenant cannot read another's", "other", "acme", "getvar", control.ErrNoChannel},
		{"an admin reads any channel's", "", "acme", "getvar", nil},
		{"a tenant sets its own channel's variable", "acme", "acme", "setvar", nil},
		{"a tenant cannot set another's", "other", "acme", "setvar", control.ErrNoChannel},
		{"an admin reads a global", "", "-", "getvar", nil},
		{"a tenant cannot read globals (they are node-wide)", "acme", "-", "getvar", control.ErrNoChannel},
		{"an admin sets a global", "", "-", "setvar", nil},
		{"a tenant cannot set globals", "acme", "-", "setvar", control.ErrNoChannel},
		{"a channel that does not exist", "", "none", "getvar", control.ErrNoChannel},
		{"a channel already hung up", "", "gone", "hangup", control.ErrNoChannel},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newCtlEnv(t)
			name := ""
			var ch *channel.Channel
			switch tc.of {
			case "-":
			case "none":
				name = "PJSIP/none-00000099"
			default:
				tenant := tc.of
				if tc.of == "gone" {
					tenant = tenancy.Default
				}
				ch = e.reg.New(channel.Options{Tech: "PJSIP", Endpoint: "x", Tenant: tenant})
				ch.SetVar("V", "before")
				name = ch.Name
				if tc.of == "gone" {
					ch.RemoteHangup(q850.NormalClearing)
				}
			}
			var err error
			var got string
			switch tc.do {
			case "hangup":
				err = e.ctl.Hangup(ctx, tc.scope, name, q850.UserBusy)
			case "getvar":
				got, err = e.ctl.GetVar(ctx, tc.scope, name, map[bool]string{true: "G", false: "V"}[name == ""])
			case "setvar":
				err = e.ctl.SetVar(ctx, tc.scope, name, map[bool]string{true: "G", false: "V"}[name == ""], "after")
			}
			if tc.want != nil {
				if !errors.Is(err, tc.want) {
					t.Fatalf("err %v, want %v", err, tc.want)
				}
			} else if err != nil {
				t.Fatal(err)
			}
			// What the action did, or did not do.
			refused := tc.want != nil
			global, _ := e.pbx.Dialplan().Global("G")
			switch {
			case tc.do == "hangup" && ch != nil && tc.of != "gone":
				if ch.IsHungUp() == refused {
					t.Errorf("hung up: %v", ch.IsHungUp())
				}
				if !refused && ch.HangupCause() != q850.UserBusy {
					t.Errorf("hung up with cause %d, want the one asked for", ch.HangupCause())
				}
			case tc.do == "getvar" && !refused:
				want := map[bool]string{true: "global-value", false: "before"}[name == ""]
				if got != want {
					t.Errorf("read %q, want %q", got, want)
				}
			case tc.do == "setvar" && name != "":
				v, _ := ch.GetVar("V")
				if (v == "after") == refused {
					t.Errorf("variable is %q", v)
				}
			case tc.do == "setvar":
				if (global == "after") == refused {
					t.Errorf("global is %q", global)
				}
			}
			if ch != nil {
				ch.Hangup(0)
			}
		})
	}
}

// TestHangupDefaultCause: a hangup without a cause is Normal Clearing.
func TestHangupDefaultCause(t *testing.T) {
	e := newCtlEnv(t)
	ch := e.reg.New(channel.Options{Tech: "PJSIP", Endpoint: "x"})
	if err := e.ctl.Hangup(context.Background(), "", ch.Name, 0); err != nil {
		t.Fatal(err)
	}
	if ch.HangupCause() != q850.NormalClearing {
		t.Fatalf("cause %d", ch.HangupCause())
	}
}

// TestRedirectScope: Redirect moves channels the caller may see, to a
// context of each channel's tenant; nothing moves when it refuses.
func TestRedirectScope(t *testing.T) {
	for _, tc := range []struct {
		name         string
		scope        string
		ch, extra    string // tenants of the channel and the extra one ("": none)
		ctx, exten   string
		want         error
		wantMarks    []mark // channel names filled in: the first's, then extra's
		wantAnyError bool
	}{
		{
			name: "a tenant moves its own channel; its bare context is its own", scope: "acme", ch: "acme",
			ctx: "internal", exten: "200",
			wantMarks: []mark{{context: "acme~internal", exten: "200", data: "acme-200"}},
		},
		{
			name: "an admin moves a tenant's channel within that tenant's contexts", scope: "", ch: "acme",
			ctx: "internal", exten: "200",
			wantMarks: []mark{{context: "acme~internal", exten: "200", data: "acme-200"}},
		},
		{
			name: "an empty context keeps the channel's own", scope: "", ch: "default",
			exten:     "200",
			wantMarks: []mark{{context: "internal", exten: "200", data: "200"}},
		},
		{
			name: "the extra channel moves too", scope: "", ch: "default", extra: "acme",
			ctx: "internal", exten: "200",
			wantMarks: []mark{{context: "internal", exten: "200", data: "200"}, {context: "acme~internal", exten: "200", data: "acme-200"}},
		},
		{
			name: "another tenant's channel is not found", scope: "other", ch: "acme",
			ctx: "internal", exten: "200", want: control.ErrNoChannel,
		},
		{
			name: "an extra channel of another tenant refuses the whole redirect", scope: "acme", ch: "acme", extra: "other",
			ctx: "internal", exten: "200", want: control.ErrNoChannel,
		},
		{
			name: "a default-tenant channel cannot be sent to a tenant's context", scope: "", ch: "default",
			ctx: "acme~internal", exten: "200", want: control.ErrNoExtension,
		},
		{
			name: "an extension that does not exist", scope: "", ch: "default",
			ctx: "internal", exten: "999", wantAnyError: true,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newCtlEnv(t)
			ch := e.park(tc.ch, "first")
			extra := ""
			var ech *channel.Channel
			if tc.extra != "" {
				ech = e.park(tc.extra, "extra")
				extra = ech.Name
			}
			err := e.ctl.Redirect(context.Background(), tc.scope, ch.Name, extra, tc.ctx, tc.exten, "1")
			switch {
			case tc.want != nil:
				if !errors.Is(err, tc.want) {
					t.Fatalf("err %v, want %v", err, tc.want)
				}
			case tc.wantAnyError:
				if err == nil {
					t.Fatal("redirected")
				}
			case err != nil:
				t.Fatal(err)
			}
			// The two channels run on their own goroutines: their marks
			// come in either order.
			want := map[string]mark{}
			for i, m := range tc.wantMarks {
				m.channel = ch.Name
				if i == 1 {
					m.channel = extra
				}
				want[m.channel] = m
			}
			got := map[string]mark{}
			for range tc.wantMarks {
				m := e.nextMark()
				got[m.channel] = m
			}
			if !maps.Equal(got, want) {
				t.Errorf("ran %+v, want %+v", got, want)
			}
			// Once both channels' dialplans are over, no other Mark ran:
			// a refused redirect moved nothing.
			ch.Hangup(q850.NormalClearing)
			e.waitGone(ch.Name)
			if ech != nil {
				ech.Hangup(q850.NormalClearing)
				e.waitGone(ech.Name)
			}
			select {
			case m := <-e.marks:
				t.Errorf("unexpected run %+v", m)
			default:
			}
		})
	}
}

// TestLocate: a node answers for the users registered on it, with the
// address other nodes call it on.
func TestLocate(t *testing.T) {
	for _, tc := range []struct {
		name    string
		users   []string
		peer    string
		tenant  string
		user    string
		want    control.Location
		wantErr error
	}{
		{"registered here, calls between nodes on", []string{"acme/1001"}, "192.0.2.1:5061", "acme", "1001",
			control.Location{Node: "node1", SIP: "192.0.2.1:5061"}, nil},
		{"registered here, calls between nodes off", []string{"acme/1001"}, "", "acme", "1001",
			control.Location{Node: "node1"}, nil},
		{"another tenant's user of the same name is not this one", []string{"acme/1001"}, "", "other", "1001",
			control.Location{}, control.ErrNotRegistered},
		{"not registered", nil, "192.0.2.1:5061", "acme", "1001", control.Location{}, control.ErrNotRegistered},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newCtlEnv(t)
			for _, u := range tc.users {
				e.regs.users[u] = true
			}
			if tc.peer != "" {
				e.regs.peer = netip.MustParseAddrPort(tc.peer)
			}
			got, err := e.ctl.Locate(context.Background(), tc.tenant, tc.user)
			if tc.wantErr != nil && !errors.Is(err, tc.wantErr) || tc.wantErr == nil && err != nil {
				t.Fatalf("err %v, want %v", err, tc.wantErr)
			}
			if got != tc.want {
				t.Fatalf("location %+v, want %+v", got, tc.want)
			}
		})
	}
}
