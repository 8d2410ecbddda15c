package queue

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/entvoice/entvoice/internal/apps"
	"github.com/entvoice/entvoice/internal/channel"
	"github.com/entvoice/entvoice/internal/channel/channeltest"
	"github.com/entvoice/entvoice/internal/dialplan"
	"github.com/entvoice/entvoice/internal/events"
	"github.com/entvoice/entvoice/internal/media"
	"github.com/entvoice/entvoice/internal/pbx"
	"github.com/entvoice/entvoice/internal/q850"
	"github.com/entvoice/entvoice/internal/queueconf"
	"github.com/entvoice/entvoice/internal/tenancy"
	"github.com/entvoice/entvoice/internal/testpeer"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// The unit tests run the real engine, applications and PBX, placing legs
// through a real channel.Technologies on a fake technology named PJSIP
// (channeltest), whose legs the test drives; callers and legs have real
// RTP sessions on loopback. Device state comes from the legs' own
// channel events, as on a node.

// plan puts callers in queue ${Q} with ${OPTS} and ${TIMEOUT}, then
// records QUEUESTATUS.
const plan = `[test]
exten => s,1,Queue(${Q},${OPTS},,,${TIMEOUT})
 same => n,Set(AFTER=${QUEUESTATUS})
exten => 5,1,Set(TRANSFERRED=yes)
[exit]
exten => 5,1,Set(EXITED=yes)
`

// logRecorder keeps queue_log rows.
type logRecorder struct {
	mu   sync.Mutex
	rows []Entry
}

func (l *logRecorder) Log(e Entry) {
	l.mu.Lock()
	l.rows = append(l.rows, e)
	l.mu.Unlock()
}

// lines renders the rows as "callid|queue|agent|EVENT|data" (no time).
func (l *logRecorder) lines() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, e := range l.rows {
		out = append(out, strings.Join([]string{e.CallID, e.Queue, e.Agent, e.Event, strings.Join(e.Data, "|")}, "|"))
	}
	return out
}

// events lists the events of the rows, for one call (callid) or all ("").
func (l *logRecorder) events(callid string) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, e := range l.rows {
		if callid == "" || e.CallID == callid {
			out = append(out, e.Event)
		}
	}
	return out
}

// idle answers every device NotInUse, or what the test sets.
type idle struct {
	mu    sync.Mutex
	state map[string]DeviceState
}

func (d *idle) Idle(tenant, dev string) DeviceState {
	d.mu.Lock()
	defer d.mu.Unlock()
	if s, ok := d.state[strings.ToLower(dev)]; ok {
		return s
	}
	return NotInUse
}

type env struct {
	t      *testing.T
	reg    *channel.Registry
	bus    *events.Bus
	pbx    *pbx.PBX
	fake   *channeltest.Tech
	en     *Engine
	log    *logRecorder
	dev    *idle
	pool   *media.PortPool
	pacer  *media.Pacer
	logger *slog.Logger
	sub    *events.Subscription

	mu       sync.Mutex
	sessions []*media.Session
	legs     []*channeltest.Leg
	seen     []events.Event
}

// newEnv builds an engine with the queues of a queues.conf text.
func newEnv(t *testing.T, conf string) *env {
	t.Helper()
	var w io.Writer = io.Discard
	if os.Getenv("ENTVOICE_TEST_DEBUG") != "" {
		w = os.Stderr
	}
	logger := slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
	e := &env{t: t, logger: logger, bus: events.New(), log: &logRecorder{}, dev: &idle{state: map[string]DeviceState{}}}
	e.reg = channel.NewRegistry("", e.bus, logger)
	e.sub = e.bus.Subscribe(1<<14, func(ev *events.Event) bool { return ev.Queue != nil })
	first := testpeer.FreePortBlock(t, 100)
	var err error
	if e.pool, err = media.NewPortPool(netip.MustParseAddr("127.0.0.1"), first, first+99, media.PoolOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.pool.Close)
	e.pacer = media.NewPacer(logger)
	e.fake = &channeltest.Tech{Name: "PJSIP", Channels: e.reg, Media: e.mediaPair}
	techs := channel.NewTechnologies(channel.TechnologiesOptions{Limits: tenancy.NewLimits()})
	techs.Register(e.fake, "PJSIP")
	e.pbx = pbx.New(pbx.Options{Channels: e.reg, Logger: logger})
	ap := apps.Register(e.pbx, apps.Services{Techs: techs})
	e.en = NewEngine(Options{PBX: e.pbx, Techs: techs, Apps: ap, Log: e.log, Devices: e.dev, Logger: logger})
	Register(e.pbx, e.en)
	d, err := dialplan.Parse("test.conf", strings.NewReader(plan))
	if err != nil {
		t.Fatal(err)
	}
	e.pbx.SetDialplan(d)
	e.setConf(conf)
	e.en.Start()
	t.Cleanup(func() {
		e.en.Close()
		e.sub.Close()
		e.mu.Lock()
		for _, s := range e.sessions {
			_ = s.Close()
		}
		e.mu.Unlock()
		e.pacer.Close()
	})
	return e
}

// setConf puts a queues.conf text in force.
func (e *env) setConf(conf string) {
	e.t.Helper()
	f, err := queueconf.Parse("queues.conf", conf)
	if err != nil {
		e.t.Fatal(err)
	}
	var defs []Def
	for _, q := range f.Queues {
		defs = append(defs, Def{Name: q.Name, Params: q.Params, Members: q.Members})
	}
	e.en.SetGeneral(f.General, nil)
	e.en.SetFileQueues(defs)
}

func (e *env) mediaPair() (*media.Session, *media.Session, error) {
	a, b, err := media.NewLoopbackPair(e.pool, e.pacer, e.logger)
	if err != nil {
		return nil, nil, err
	}
	e.mu.Lock()
	e.sessions = append(e.sessions, a, b)
	e.mu.Unlock()
	return a, b, nil
}

// callerDriver is a caller's inbound side.
type callerDriver struct {
	media *media.Session
	mu    sync.Mutex
	up    bool
}

func (d *callerDriver) Indicate(channel.Indication) error { return nil }
func (d *callerDriver) Answer(context.Context) error {
	d.mu.Lock()
	d.up = true
	d.mu.Unlock()
	return nil
}
func (d *callerDriver) Hangup(int)            {}
func (d *callerDriver) Media() *media.Session { return d.media }

// call is one caller running the plan.
type call struct {
	e    *env
	ch   *channel.Channel
	done chan struct{}
}

// call starts a caller into queue q with opts and timeout (seconds, "" none).
func (e *env) call(q, opts, timeout string, vars ...string) *call {
	e.t.Helper()
	m, _, err := e.mediaPair()
	if err != nil {
		e.t.Fatal(err)
	}
	ch := e.reg.New(channel.Options{Tech: "Test", Endpoint: "caller", Direction: channel.Inbound, CallerNum: "5550100",
		CallerName: "Caller", Tenant: tenancy.Default, Context: "test", Exten: "s", Driver: &callerDriver{media: m},
		State: channel.StateRing})
	ch.SetVar("Q", q)
	ch.SetVar("OPTS", opts)
	ch.SetVar("TIMEOUT", timeout)
	for i := 0; i+1 < len(vars); i += 2 {
		ch.SetVar(vars[i], vars[i+1])
	}
	c := &call{e: e, ch: ch, done: make(chan struct{})}
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

// wait waits for the caller's dialplan to end.
func (c *call) wait() {
	c.e.t.Helper()
	select {
	case <-c.done:
	case <-time.After(20 * time.Second):
		c.e.t.Fatal("the caller's dialplan never ended")
	}
}

func (c *call) variable(name string) string {
	v, _ := c.ch.GetVar(name)
	return v
}

// leg waits for the next leg placed and returns it.
func (e *env) leg() *channeltest.Leg {
	e.t.Helper()
	l := e.fake.Next(e.t)
	e.mu.Lock()
	e.legs = append(e.legs, l)
	e.mu.Unlock()
	return l
}

// noLeg checks no leg is placed within d.
func (e *env) noLeg(d time.Duration) {
	e.t.Helper()
	n := len(e.fake.Called())
	time.Sleep(d)
	if got := e.fake.Called(); len(got) != n {
		e.t.Fatalf("unexpected legs placed: %v", got[n:])
	}
}

// waitEvent waits for a queue event of kind matching f.
func (e *env) waitEvent(kind events.Kind, f func(*events.Event) bool) events.Event {
	e.t.Helper()
	deadline := time.After(10 * time.Second)
	e.mu.Lock()
	for _, ev := range e.seen {
		if ev.Kind == kind && (f == nil || f(&ev)) {
			e.mu.Unlock()
			return ev
		}
	}
	e.mu.Unlock()
	for {
		select {
		case p := <-e.sub.C:
			ev := *p
			e.mu.Lock()
			e.seen = append(e.seen, ev)
			e.mu.Unlock()
			if ev.Kind == kind && (f == nil || f(&ev)) {
				return ev
			}
		case <-deadline:
			e.t.Fatalf("no %s event", kind)
			return events.Event{}
		}
	}
}

// waitLog waits for a queue_log event of a call.
func (e *env) waitLog(callid, event string) {
	e.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !slices.Contains(e.log.events(callid), event) {
		if time.Now().After(deadline) {
			e.t.Fatalf("no %s in queue_log for %s: %v", event, callid, e.log.lines())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// checkEnds checks that every ENTERQUEUE ended in exactly one of
// CONNECT, ABANDON or EXIT*.
func (e *env) checkEnds() {
	e.t.Helper()
	open := map[string]int{}
	for _, r := range e.log.lines() {
		f := strings.Split(r, "|")
		id, ev := f[0], f[3]
		switch {
		case ev == "ENTERQUEUE":
			open[id]++
		case ev == "CONNECT" || ev == "ABANDON" || strings.HasPrefix(ev, "EXIT"):
			open[id]--
			if open[id] < 0 {
				e.t.Errorf("%s ended twice: %v", id, e.log.lines())
			}
		}
	}
	for id, n := range open {
		if n != 0 {
			e.t.Errorf("%s entered without an end: %v", id, e.log.lines())
		}
	}
}

func conf(params string, members ...string) string {
	var b strings.Builder
	b.WriteString("[sales]\n")
	b.WriteString(params)
	for _, m := range members {
		fmt.Fprintf(&b, "member => %s\n", m)
	}
	return b.String()
}

func mediaDigit(d rune) media.DTMF { return media.DTMF{Digit: d, Duration: 100 * time.Millisecond} }

var queueconfParseRules = func(text string) (queueconf.Rules, error) { return queueconf.ParseRules("queuerules.conf", text) }
