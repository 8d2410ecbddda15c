package apps

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/netip"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/entvoice/entvoice/internal/channel"
	"github.com/entvoice/entvoice/internal/channel/channeltest"
	"github.com/entvoice/entvoice/internal/dialplan"
	"github.com/entvoice/entvoice/internal/events"
	"github.com/entvoice/entvoice/internal/media"
	"github.com/entvoice/entvoice/internal/pbx"
	"github.com/entvoice/entvoice/internal/q850"
	"github.com/entvoice/entvoice/internal/tenancy"
	"github.com/entvoice/entvoice/internal/testpeer"
)

// dialPlan runs Dial with the caller's TARGETS, TIMEOUT and OPTS, then
// records in AFTER that the dialplan went on.
const dialPlan = `[test]
exten => s,1,Dial(${TARGETS},${TIMEOUT},${OPTS})
 same => n,Set(AFTER=${DIALSTATUS})
`

// Values of want that are not literal.
const (
	set   = "<set>"   // any value but empty
	unset = "<unset>" // no such variable
	// "leg:R" is the channel name of the leg placed to resource R.
)

// dialEnv is the real applications on a real PBX, placing legs through a
// real channel.Technologies on a fake technology (channeltest) whose legs
// the test drives; caller and legs have real RTP sessions on loopback,
// each with a far end standing for the phone.
type dialEnv struct {
	t      *testing.T
	reg    *channel.Registry
	pbx    *pbx.PBX
	fake   *channeltest.Tech
	limits *tenancy.Limits
	pool   *media.PortPool
	pacer  *media.Pacer
	log    *slog.Logger
	events *events.Subscription

	mu       sync.Mutex
	sessions []*media.Session
	dials    []string // Dial events, as "Kind resource [STATUS]"
	bridged  map[string]bool
	legs     map[string]*channeltest.Leg // by resource
}

func newDialEnv(t *testing.T) *dialEnv {
	t.Helper()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	bus := events.New()
	e := &dialEnv{t: t, log: log, reg: channel.NewRegistry("", bus, log), limits: tenancy.NewLimits(),
		bridged: map[string]bool{}, legs: map[string]*channeltest.Leg{}}
	e.events = bus.Subscribe(1024, func(ev *events.Event) bool {
		switch ev.Kind {
		case events.DialBegin, events.DialState, events.DialEnd, events.BridgeEnter:
			return true
		}
		return false
	})
	t.Cleanup(e.events.Close)
	first := testpeer.FreePortBlock(t, 40)
	var err error
	if e.pool, err = media.NewPortPool(netip.MustParseAddr("127.0.0.1"), first, first+39, media.PoolOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.pool.Close)
	e.pacer = media.NewPacer(log)
	t.Cleanup(func() {
		e.mu.Lock()
		for _, s := range e.sessions {
			_ = s.Close()
		}
		e.mu.Unlock()
		e.pacer.Close()
	})
	e.fake = &channeltest.Tech{Name: "Fake", Channels: e.reg, Media: e.mediaPair}
	techs := channel.NewTechnologies(channel.TechnologiesOptions{Limits: e.limits})
	techs.Register(e.fake, "Fake")
	e.pbx = pbx.New(pbx.Options{Channels: e.reg, Logger: log})
	Register(e.pbx, Services{Techs: techs})
	plan, err := dialplan.Parse("dial.conf", strings.NewReader(dialPlan))
	if err != nil {
		t.Fatal(err)
	}
	e.pbx.SetDialplan(plan)
	return e
}

// mediaPair is a leg's RTP session and its far end, closed at cleanup.
func (e *dialEnv) mediaPair() (*media.Session, *media.Session, error) {
	a, b, err := media.NewLoopbackPair(e.pool, e.pacer, e.log)
	if err != nil {
		return nil, nil, err
	}
	e.mu.Lock()
	e.sessions = append(e.sessions, a, b)
	e.mu.Unlock()
	return a, b, nil
}

// callerDriver is the caller's side: it records what Dial indicates to
// the caller and how the caller is answered and hung up.
type callerDriver struct {
	media, far *media.Session
	ind        chan channel.Indication

	mu          sync.Mutex
	indications []channel.Indication
	answered    bool
	hangup      int
}

func (d *callerDriver) Indicate(i channel.Indication) error {
	d.mu.Lock()
	d.indications = append(d.indications, i)
	d.mu.Unlock()
	d.ind <- i
	return nil
}

func (d *callerDriver) Answer(context.Context) error {
	d.mu.Lock()
	d.answered = true
	d.mu.Unlock()
	return nil
}

func (d *callerDriver) Hangup(cause int) {
	d.mu.Lock()
	d.hangup = cause
	d.mu.Unlock()
}

func (d *callerDriver) Media() *media.Session { return d.media }

// dialCall is one caller running the dialplan.
type dialCall struct {
	*dialEnv
	caller *channel.Channel
	drv    *callerDriver
	done   chan struct{}
}

// dial starts a caller of tenant (with services denied) running
// Dial(targets,timeout,opts).
func (e *dialEnv) dial(tenant string, denied tenancy.Service, targets, timeout, opts string) *dialCall {
	e.t.Helper()
	m, far, err := e.mediaPair()
	if err != nil {
		e.t.Fatal(err)
	}
	drv := &callerDriver{media: m, far: far, ind: make(chan channel.Indication, 64)}
	ch := e.reg.New(channel.Options{Tech: "Test", Endpoint: "caller", Direction: channel.Inbound, CallerNum: "1000",
		CallerName: "Caller", Tenant: tenancy.Of(tenant), Denied: denied, Context: "test", Exten: "s", Driver: drv,
		State: channel.StateRing})
	ch.SetVar("TARGETS", targets)
	ch.SetVar("TIMEOUT", timeout)
	ch.SetVar("OPTS", opts)
	c := &dialCall{dialEnv: e, caller: ch, drv: drv, done: make(chan struct{})}
	go func() {
		defer close(c.done)
		e.pbx.HandleCall(ch)
	}()
	e.t.Cleanup(func() {
		ch.Hangup(q850.NormalClearing)
		<-c.done
	})
	return c
}

// wait waits until the caller's dialplan has ended.
func (c *dialCall) wait() {
	c.t.Helper()
	select {
	case <-c.done:
	case <-time.After(10 * time.Second):
		c.t.Fatal("the caller's dialplan never ended")
	}
}

// leg waits for the leg placed to resource.
func (c *dialCall) leg(resource string) *channeltest.Leg {
	c.t.Helper()
	for {
		c.mu.Lock()
		l, ok := c.legs[resource]
		c.mu.Unlock()
		if ok {
			return l
		}
		l = c.fake.Next(c.t)
		c.mu.Lock()
		c.legs[l.Resource] = l
		c.mu.Unlock()
	}
}

// waitIndication waits until Dial indicates ind to the caller.
func (c *dialCall) waitIndication(ind channel.Indication) {
	c.t.Helper()
	for {
		select {
		case got := <-c.drv.ind:
			if got == ind {
				return
			}
		case <-time.After(10 * time.Second):
			c.t.Fatalf("indication %d never reached the caller", ind)
		}
	}
}

// saw waits until Dial has published an event ("Kind resource
// [STATUS]"): the legs report on goroutines of their own, so a script
// lets Dial take one leg's progress before it moves another leg on.
func (c *dialCall) saw(want string) {
	c.t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		c.mu.Lock()
		ok := slices.Contains(c.dials, want)
		c.mu.Unlock()
		if ok {
			return
		}
		select {
		case ev := <-c.events.C:
			c.note(*ev)
		case <-deadline:
			c.t.Fatalf("Dial never published %q", want)
		}
	}
}

// waitBridged waits until the caller is bridged (BridgeEnter).
func (c *dialCall) waitBridged() {
	c.t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		c.mu.Lock()
		ok := c.bridged[c.caller.Name]
		c.mu.Unlock()
		if ok {
			return
		}
		select {
		case ev := <-c.events.C:
			c.note(*ev)
		case <-deadline:
			c.t.Fatal("the caller was never bridged")
		}
	}
}

var legName = regexp.MustCompile(`^Fake/(.*)-[0-9a-f]{8}$`)

func (e *dialEnv) note(ev events.Event) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if ev.Kind == events.BridgeEnter {
		e.bridged[ev.Channel.Channel] = true
		return
	}
	dest := ev.Dest.Channel
	if m := legName.FindStringSubmatch(dest); m != nil {
		dest = m[1]
	}
	e.dials = append(e.dials, strings.TrimSpace(string(ev.Kind)+" "+dest+" "+ev.DialStatus))
}

// dialEvents returns the Dial events published so far.
func (e *dialEnv) dialEvents() []string {
	for {
		select {
		case ev := <-e.events.C:
			e.note(*ev)
		default:
			e.mu.Lock()
			defer e.mu.Unlock()
			return slices.Clone(e.dials)
		}
	}
}

// audioFlows checks that audio sent on from reaches to: it sends a frame
// of a level of its own every 20 ms until one arrives (RTP over loopback
// needs no more than the first, the resending only covers a lost one).
func (c *dialCall) audioFlows(from, to *media.Session, level int16) {
	c.t.Helper()
	got := make(chan struct{}, 1)
	to.SetSink(func(pcm []int16) {
		// G.711 keeps a constant level within a few percent; frames of
		// another check still in flight are not this one's.
		if len(pcm) > 0 && int(pcm[0]) > int(level)*9/10 && int(pcm[0]) < int(level)*11/10 {
			select {
			case got <- struct{}{}:
			default:
			}
		}
	})
	defer to.SetSink(nil)
	frame := make([]int16, 160)
	for i := range frame {
		frame[i] = level
	}
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(10 * time.Second)
	for {
		if err := from.WriteFrame(frame); err != nil {
			c.t.Fatal(err)
		}
		select {
		case <-got:
			return
		case <-tick.C:
		case <-deadline:
			c.t.Fatalf("no audio got through: from %+v (remote %v) to %+v (local %v)", from.Stats(), from.Remote(), to.Stats(), to.LocalAddr())
		}
	}
}

// TestDial: Dial's outcome, as DIALSTATUS and the variables beside it,
// the cause recorded on the caller (its phone's SIP response), whether
// the dialplan goes on, the Dial events and what the caller was told.
func TestDial(t *testing.T) {
	type row struct {
		name                   string
		targets, timeout, opts string
		// The caller: its tenant and the services it is denied; max
		// calls per tenant, and a leg of held already up.
		tenant string
		denied tenancy.Service
		max    map[string]int
		held   string
		// reach replaces the technology's Resolve.
		reach  func(tenant, resource string) (channel.Destination, error)
		script func(c *dialCall)
		want   map[string]string // the caller's variables afterwards
		cause  int               // the caller's hangup cause
		called []string          // the resources the technology was asked to call
		events []string
		// indications is what the caller was told, in order.
		indications []channel.Indication
	}
	bridgedThen := func(c *dialCall, l *channeltest.Leg) {
		c.waitBridged()
		c.audioFlows(l.Far, c.drv.far, 4000)
		c.audioFlows(c.drv.far, l.Far, 8000)
	}
	absent := func(string, string) (channel.Destination, error) {
		return channel.Destination{}, &channel.RequestError{Cause: q850.SubscriberAbsent, Err: errors.New("no such endpoint")}
	}
	ringing := channel.IndicateRinging
	for _, tc := range []row{
		{
			name:    "answered: bridged until the callee hangs up; without g the caller is hung up too",
			targets: "Fake/1001",
			script: func(c *dialCall) {
				l := c.leg("1001")
				l.Ring()
				l.Answer()
				bridgedThen(c, l)
				l.HangUp(q850.NormalClearing)
			},
			want: map[string]string{"DIALSTATUS": "ANSWER", "DIALEDPEERNAME": "leg:1001", "ANSWEREDTIME": set,
				"DIALEDTIME": set, "HANGUPCAUSE": "16", "AFTER": unset},
			cause: q850.NormalClearing, called: []string{"1001"}, indications: []channel.Indication{ringing},
			events: []string{"DialBegin 1001", "DialState 1001 RINGING", "DialEnd 1001 ANSWER"},
		},
		{
			name:    "answered with g: the caller goes on in the dialplan when the callee hangs up",
			targets: "Fake/1001", opts: "g",
			script: func(c *dialCall) {
				l := c.leg("1001")
				l.Answer()
				bridgedThen(c, l)
				l.HangUp(q850.NormalClearing)
			},
			want:  map[string]string{"DIALSTATUS": "ANSWER", "DIALEDPEERNAME": "leg:1001", "ANSWEREDTIME": set, "AFTER": "ANSWER"},
			cause: q850.NormalClearing, called: []string{"1001"},
			events: []string{"DialBegin 1001", "DialEnd 1001 ANSWER"},
		},
		{
			name:    "answered, then the caller hangs up: the callee is hung up (BYE)",
			targets: "Fake/1001",
			script: func(c *dialCall) {
				l := c.leg("1001")
				l.Answer()
				c.waitBridged()
				c.caller.RemoteHangup(q850.NormalClearing)
				if got := l.WaitHungUp(c.t); got != q850.NormalClearing {
					c.t.Errorf("callee hung up with cause %d", got)
				}
			},
			want:  map[string]string{"DIALSTATUS": "ANSWER", "DIALEDPEERNAME": "leg:1001", "AFTER": unset},
			cause: q850.NormalClearing, called: []string{"1001"},
			events: []string{"DialBegin 1001", "DialEnd 1001 ANSWER"},
		},
		{
			name:    "busy: BUSY, cause 17 recorded on the caller (its phone gets 486)",
			targets: "Fake/1001",
			script:  func(c *dialCall) { c.leg("1001").Fail(q850.UserBusy, 486) },
			want: map[string]string{"DIALSTATUS": "BUSY", "HANGUPCAUSE": "17", "DIALEDPEERNAME": "", "ANSWEREDTIME": "",
				"AFTER": "BUSY"},
			cause: q850.UserBusy, called: []string{"1001"},
			events: []string{"DialBegin 1001", "DialEnd 1001 BUSY"},
		},
		{
			name:    "Dial's timeout: NOANSWER, the leg cancelled, cause 19 on the caller (480)",
			targets: "Fake/1001", timeout: "0.05",
			script: func(c *dialCall) {
				if got := c.leg("1001").WaitHungUp(c.t); got != q850.NormalClearing {
					c.t.Errorf("leg cancelled with cause %d", got)
				}
			},
			want:  map[string]string{"DIALSTATUS": "NOANSWER", "HANGUPCAUSE": "19", "ANSWEREDTIME": "", "AFTER": "NOANSWER"},
			cause: q850.NoAnswer, called: []string{"1001"},
			events: []string{"DialBegin 1001", "DialEnd 1001 NOANSWER"},
		},
		{
			name:    "the callee's own no answer (480 after ringing): NOANSWER",
			targets: "Fake/1001",
			script:  func(c *dialCall) { l := c.leg("1001"); l.Ring(); l.Fail(q850.NoAnswer, 480) },
			want:    map[string]string{"DIALSTATUS": "NOANSWER", "HANGUPCAUSE": "19", "AFTER": "NOANSWER"},
			cause:   q850.NoAnswer, called: []string{"1001"}, indications: []channel.Indication{ringing},
			events: []string{"DialBegin 1001", "DialState 1001 RINGING", "DialEnd 1001 NOANSWER"},
		},
		{
			name:    "congestion: CONGESTION, cause 34",
			targets: "Fake/1001",
			script:  func(c *dialCall) { c.leg("1001").Fail(q850.Congestion, 503) },
			want:    map[string]string{"DIALSTATUS": "CONGESTION", "HANGUPCAUSE": "34", "AFTER": "CONGESTION"},
			cause:   q850.Congestion, called: []string{"1001"},
			events: []string{"DialBegin 1001", "DialEnd 1001 CONGESTION"},
		},
		{
			name:    "every leg fails: busy is the most telling status (app_dial's)",
			targets: "Fake/a&Fake/b&Fake/c",
			script: func(c *dialCall) {
				c.leg("a").Fail(q850.Congestion, 503)
				c.saw("DialEnd a CONGESTION")
				c.leg("b").Fail(q850.UserBusy, 486)
				c.saw("DialEnd b BUSY")
				c.leg("c").Fail(q850.SubscriberAbsent, 480)
			},
			want:  map[string]string{"DIALSTATUS": "BUSY", "HANGUPCAUSE": "17", "AFTER": "BUSY"},
			cause: q850.UserBusy, called: []string{"a", "b", "c"},
			events: []string{"DialBegin a", "DialBegin b", "DialBegin c", "DialEnd a CONGESTION", "DialEnd b BUSY", "DialEnd c CHANUNAVAIL"},
		},
		{
			name:    "every leg fails: no answer wins over congestion",
			targets: "Fake/a&Fake/b",
			script: func(c *dialCall) {
				c.leg("a").Fail(q850.Congestion, 503)
				c.saw("DialEnd a CONGESTION")
				c.leg("b").Fail(q850.NoAnswer, 480)
			},
			want:  map[string]string{"DIALSTATUS": "NOANSWER", "HANGUPCAUSE": "19"},
			cause: q850.NoAnswer, called: []string{"a", "b"},
			events: []string{"DialBegin a", "DialBegin b", "DialEnd a CONGESTION", "DialEnd b NOANSWER"},
		},
		{
			name:    "every leg fails: congestion wins over unavailable",
			targets: "Fake/a&Fake/b",
			script: func(c *dialCall) {
				c.leg("a").Fail(q850.SubscriberAbsent, 480)
				c.saw("DialEnd a CHANUNAVAIL")
				c.leg("b").Fail(q850.Congestion, 503)
			},
			want:  map[string]string{"DIALSTATUS": "CONGESTION", "HANGUPCAUSE": "34"},
			cause: q850.Congestion, called: []string{"a", "b"},
			events: []string{"DialBegin a", "DialBegin b", "DialEnd a CHANUNAVAIL", "DialEnd b CONGESTION"},
		},
		{
			name:    "every leg unavailable: CHANUNAVAIL with the first leg's cause",
			targets: "Fake/a&Fake/b",
			script: func(c *dialCall) {
				c.leg("a").Fail(q850.SubscriberAbsent, 480)
				c.saw("DialEnd a CHANUNAVAIL")
				c.leg("b").Fail(q850.DestOutOfOrder, 502)
			},
			want:  map[string]string{"DIALSTATUS": "CHANUNAVAIL", "HANGUPCAUSE": "20"},
			cause: q850.SubscriberAbsent, called: []string{"a", "b"},
			events: []string{"DialBegin a", "DialBegin b", "DialEnd a CHANUNAVAIL", "DialEnd b CHANUNAVAIL"},
		},
		{
			name:    "an endpoint the technology cannot reach: CHANUNAVAIL, cause 20, nothing placed",
			targets: "Fake/nobody", reach: absent,
			want:  map[string]string{"DIALSTATUS": "CHANUNAVAIL", "HANGUPCAUSE": "20", "AFTER": "CHANUNAVAIL"},
			cause: q850.SubscriberAbsent,
		},
		{
			name:    "an unknown technology: CHANUNAVAIL, cause 20",
			targets: "IAX2/1001",
			want:    map[string]string{"DIALSTATUS": "CHANUNAVAIL", "HANGUPCAUSE": "20"},
			cause:   q850.SubscriberAbsent,
		},
		{
			name:    "a dial string without a resource: CHANUNAVAIL",
			targets: "Fake",
			want:    map[string]string{"DIALSTATUS": "CHANUNAVAIL", "HANGUPCAUSE": "20"},
			cause:   q850.SubscriberAbsent,
		},
		{
			name:    "the tenant at its max_calls: CONGESTION, cause 34, before the technology is asked",
			targets: "Fake/1001", tenant: "acme", max: map[string]int{"acme": 1}, held: "acme",
			want:  map[string]string{"DIALSTATUS": "CONGESTION", "HANGUPCAUSE": "34", "AFTER": "CONGESTION"},
			cause: q850.Congestion,
		},
		{
			name:    "an international number with the service off: CHANUNAVAIL, before the technology is asked",
			targets: "Fake/0044123@carrier", tenant: "acme", denied: tenancy.ServiceInternational,
			want:  map[string]string{"DIALSTATUS": "CHANUNAVAIL", "HANGUPCAUSE": "20"},
			cause: q850.SubscriberAbsent,
		},
		{
			name:    "a national number with international off is placed",
			targets: "Fake/0123@carrier", tenant: "acme", denied: tenancy.ServiceInternational,
			script: func(c *dialCall) { c.leg("0123@carrier").Fail(q850.UserBusy, 486) },
			want:   map[string]string{"DIALSTATUS": "BUSY"},
			cause:  q850.UserBusy, called: []string{"0123@carrier"},
			events: []string{"DialBegin 0123@carrier", "DialEnd 0123@carrier BUSY"},
		},
		{
			name:    "refused targets beside a placed one: the placed leg decides",
			targets: "IAX2/1&Fake/1001",
			script:  func(c *dialCall) { c.leg("1001").Fail(q850.UserBusy, 486) },
			want:    map[string]string{"DIALSTATUS": "BUSY", "HANGUPCAUSE": "17"},
			cause:   q850.UserBusy, called: []string{"1001"},
			events: []string{"DialBegin 1001", "DialEnd 1001 BUSY"},
		},
		{
			name:    "every target refused: congestion wins over the others",
			targets: "IAX2/1&Fake/1001", tenant: "acme", max: map[string]int{"acme": 1}, held: "acme",
			want:  map[string]string{"DIALSTATUS": "CONGESTION", "HANGUPCAUSE": "34"},
			cause: q850.Congestion,
		},
		{
			name:    "no argument: INVALIDARGS",
			targets: "",
			want:    map[string]string{"DIALSTATUS": "INVALIDARGS", "AFTER": "INVALIDARGS"},
			cause:   q850.NormalClearing,
		},
		{
			name:    "parallel legs: the first to answer wins, the others are cancelled as answered elsewhere (26)",
			targets: "Fake/a&Fake/b",
			script: func(c *dialCall) {
				a, b := c.leg("a"), c.leg("b")
				a.Ring()
				c.saw("DialState a RINGING")
				b.Answer()
				if got := a.WaitHungUp(c.t); got != q850.AnsweredElsewhere {
					c.t.Errorf("the other leg was cancelled with cause %d, want 26", got)
				}
				bridgedThen(c, b)
				b.HangUp(q850.NormalClearing)
			},
			want:  map[string]string{"DIALSTATUS": "ANSWER", "DIALEDPEERNAME": "leg:b", "AFTER": unset},
			cause: q850.NormalClearing, called: []string{"a", "b"}, indications: []channel.Indication{ringing},
			events: []string{"DialBegin a", "DialBegin b", "DialState a RINGING", "DialEnd a CANCEL", "DialEnd b ANSWER"},
		},
		{
			name:    "the caller hangs up while the legs ring: CANCEL, every leg cancelled",
			targets: "Fake/a&Fake/b",
			script: func(c *dialCall) {
				a, b := c.leg("a"), c.leg("b")
				a.Ring()
				c.saw("DialState a RINGING")
				b.Ring()
				c.saw("DialState b RINGING")
				c.caller.RemoteHangup(q850.NormalClearing)
				for _, l := range []*channeltest.Leg{a, b} {
					if got := l.WaitHungUp(c.t); got != q850.NormalClearing {
						c.t.Errorf("%s cancelled with cause %d", l.Resource, got)
					}
				}
			},
			want:  map[string]string{"DIALSTATUS": "CANCEL", "AFTER": unset},
			cause: q850.NormalClearing, called: []string{"a", "b"}, indications: []channel.Indication{ringing, ringing},
			events: []string{"DialBegin a", "DialBegin b", "DialState a RINGING", "DialState b RINGING", "DialEnd a CANCEL", "DialEnd b CANCEL"},
		},
		{
			name:    "early media: the callee's audio reaches the caller before the answer",
			targets: "Fake/1001",
			script: func(c *dialCall) {
				l := c.leg("1001")
				l.EarlyMedia()
				c.waitIndication(channel.IndicateProgress)
				c.audioFlows(l.Far, c.drv.far, 2000)
				l.Answer()
				bridgedThen(c, l)
				l.HangUp(q850.NormalClearing)
			},
			want:  map[string]string{"DIALSTATUS": "ANSWER"},
			cause: q850.NormalClearing, called: []string{"1001"}, indications: []channel.Indication{channel.IndicateProgress},
			events: []string{"DialBegin 1001", "DialState 1001 PROGRESS", "DialEnd 1001 ANSWER"},
		},
		{
			name:    "early media from a leg that then fails gives way to another leg's",
			targets: "Fake/a&Fake/b",
			script: func(c *dialCall) {
				a, b := c.leg("a"), c.leg("b")
				a.EarlyMedia()
				c.waitIndication(channel.IndicateProgress)
				c.audioFlows(a.Far, c.drv.far, 2000)
				a.Fail(q850.UserBusy, 486)
				c.saw("DialEnd a BUSY")
				b.EarlyMedia()
				c.waitIndication(channel.IndicateProgress)
				c.audioFlows(b.Far, c.drv.far, 6000)
				b.Fail(q850.NoAnswer, 480)
			},
			want:  map[string]string{"DIALSTATUS": "BUSY"},
			cause: q850.UserBusy, called: []string{"a", "b"},
			indications: []channel.Indication{channel.IndicateProgress, channel.IndicateProgress},
			events:      []string{"DialBegin a", "DialBegin b", "DialState a PROGRESS", "DialEnd a BUSY", "DialState b PROGRESS", "DialEnd b NOANSWER"},
		},
		{
			name:    "early media of two legs: the caller hears the first, then the second when the first fails",
			targets: "Fake/a&Fake/b",
			script: func(c *dialCall) {
				a, b := c.leg("a"), c.leg("b")
				a.EarlyMedia()
				c.saw("DialState a PROGRESS")
				b.EarlyMedia()
				c.saw("DialState b PROGRESS")
				c.audioFlows(a.Far, c.drv.far, 2000)
				a.Fail(q850.Congestion, 503)
				c.saw("DialEnd a CONGESTION")
				c.audioFlows(b.Far, c.drv.far, 6000)
				b.Answer()
				bridgedThen(c, b)
				b.HangUp(q850.NormalClearing)
			},
			want:  map[string]string{"DIALSTATUS": "ANSWER", "DIALEDPEERNAME": "leg:b"},
			cause: q850.NormalClearing, called: []string{"a", "b"},
			indications: []channel.Indication{channel.IndicateProgress, channel.IndicateProgress},
			events:      []string{"DialBegin a", "DialBegin b", "DialState a PROGRESS", "DialState b PROGRESS", "DialEnd a CONGESTION", "DialEnd b ANSWER"},
		},
		{
			name:    "option r: ringing is indicated at once, before any leg rings",
			targets: "Fake/1001", opts: "r",
			script: func(c *dialCall) {
				l := c.leg("1001")
				c.waitIndication(ringing)
				l.Fail(q850.UserBusy, 486)
			},
			want:  map[string]string{"DIALSTATUS": "BUSY"},
			cause: q850.UserBusy, called: []string{"1001"}, indications: []channel.Indication{ringing},
			events: []string{"DialBegin 1001", "DialEnd 1001 BUSY"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newDialEnv(t)
			e.fake.Reach = tc.reach
			e.limits.SetMax(tc.max)
			if tc.held != "" {
				if _, err := e.limits.Acquire(tc.held); err != nil {
					t.Fatal(err)
				}
			}
			c := e.dial(tc.tenant, tc.denied, tc.targets, tc.timeout, tc.opts)
			if tc.script != nil {
				tc.script(c)
			}
			c.wait()
			for name, want := range tc.want {
				got, ok := c.caller.GetVar(name)
				switch {
				case want == unset:
					if ok {
						t.Errorf("${%s} = %q, want it unset", name, got)
					}
				case want == set:
					if got == "" {
						t.Errorf("${%s} is empty", name)
					}
				case strings.HasPrefix(want, "leg:"):
					if l := c.leg(want[4:]); got != l.Channel.Name {
						t.Errorf("${%s} = %q, want %q", name, got, l.Channel.Name)
					}
				case !ok || got != want:
					t.Errorf("${%s} = %q (set %v), want %q", name, got, ok, want)
				}
			}
			if got := c.caller.HangupCause(); got != tc.cause {
				t.Errorf("caller hung up with cause %d, want %d", got, tc.cause)
			}
			if got := e.fake.Called(); !slices.Equal(got, tc.called) {
				t.Errorf("technology called for %q, want %q", got, tc.called)
			}
			if got := e.dialEvents(); !slices.Equal(got, tc.events) {
				t.Errorf("events\n  %q\nwant\n  %q", got, tc.events)
			}
			c.drv.mu.Lock()
			inds := slices.Clone(c.drv.indications)
			c.drv.mu.Unlock()
			if !slices.Equal(inds, tc.indications) {
				t.Errorf("caller told %v, want %v", inds, tc.indications)
			}
			if n := e.limits.Count(tenancy.Of(tc.tenant)); tc.held == "" && n != 0 {
				t.Errorf("%d legs still counted against the tenant", n)
			}
		})
	}
}
