// Package queue is the call centre: Asterisk 22's app_queue on entVoice's
// channels. An Engine holds the queues of every tenant (queues.conf and
// the provisioning store), their members with a state derived from
// device state (registered, ringing, in use) and their waiting callers;
// Join puts a caller in a queue and runs app_queue's loop (music on hold,
// position and hold-time announcements, exit by a digit, the ring
// strategies, wrap-up, the bridge to the member that answers), raising
// app_queue's AMI events and queue_log rows.
//
// Callers wait for events, not for a clock: a member that becomes free
// (its call ends, it is unpaused, its wrap-up ends) wakes the callers
// whose turn it makes, so a free member rings within milliseconds where
// app_queue polls every second. Members are reached through the channel
// technologies registry, so a member registered on another node is rung
// like any other; the engine never sees SIP or the store (queue_log rows
// go to a Log given at construction).
package queue

import (
	"context"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/entvoice/entvoice/internal/apps"
	"github.com/entvoice/entvoice/internal/channel"
	"github.com/entvoice/entvoice/internal/control"
	"github.com/entvoice/entvoice/internal/events"
	"github.com/entvoice/entvoice/internal/pbx"
	"github.com/entvoice/entvoice/internal/queueconf"
	"github.com/entvoice/entvoice/internal/tenancy"
)

// Log receives queue_log rows (internal/queuelog writes them to
// data_dir/queue_log and the store). Log must not block.
type Log interface {
	Log(Entry)
}

// Entry is one queue_log row: "time|callid|queue|agent|event|data".
type Entry struct {
	Time   time.Time
	Tenant string // "" or "default": the default tenant
	Queue  string
	CallID string
	Agent  string
	Event  string
	Data   []string
}

// Devices says what an endpoint is when it has no call: NotInUse (a user
// with a contact on this node), Unavailable (none, and no cluster to
// look in), Unknown (maybe registered on another node) or Invalid (no
// such endpoint). The node answers it from its registrar.
type Devices interface {
	Idle(tenant, device string) DeviceState
}

// Options are what an Engine uses.
type Options struct {
	PBX   *pbx.PBX
	Techs *channel.Technologies
	// Apps hold waiting callers (music on hold, prompts) and bridge
	// them to their member.
	Apps    *apps.Apps
	Log     Log     // nil: no queue_log
	Devices Devices // nil: every device is idle (NotInUse) when it has no call
	Logger  *slog.Logger
}

// Engine is a node's call queues.
type Engine struct {
	o   Options
	log *slog.Logger
	bus *events.Bus

	mu      sync.Mutex
	general queueconf.General
	rules   queueconf.Rules
	queues  map[qkey]*queue
	devs    map[devKey]*device
	chans   map[string]chanState // live channels of tracked devices
	pending map[devKey]int       // members being rung (app_queue's pending_members)
	timers  map[*time.Timer]struct{}
	closed  bool

	sub  *events.Subscription
	stop context.CancelFunc
	done chan struct{}
}

// qkey names a queue: its tenant and its name, case-folded (queue names
// are case-insensitive, queue_cmp_cb).
type qkey struct{ tenant, name string }

func keyOf(tenant, name string) qkey {
	return qkey{tenancy.Of(tenant), strings.ToLower(name)}
}

// origin says where a queue's definition comes from.
type origin int

const (
	fromFile     origin = iota // queues.conf
	fromRealtime               // the provisioning store
)

// queue is one call queue (struct call_queue).
type queue struct {
	tenant, name string
	p            queueconf.Params
	origin       origin
	dead         bool // removed while callers wait in it

	members []*member // in queuepos order
	callers []*caller // in position order

	holdtime, talktime           int
	completed, abandoned         int
	completedInSL, abandonedInSL int
	rrpos                        int
	wrapped                      bool
}

// NewEngine returns an engine with no queue; Start makes it follow device
// state.
func NewEngine(o Options) *Engine {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	en := &Engine{o: o, log: o.Logger.With("component", "queue"), queues: map[qkey]*queue{}, devs: map[devKey]*device{},
		chans: map[string]chanState{}, pending: map[devKey]int{}, timers: map[*time.Timer]struct{}{}, rules: queueconf.Rules{}}
	if o.PBX != nil {
		en.bus = o.PBX.Channels().Bus()
	}
	return en
}

// Start follows the channel and registration events that make device
// state, until Close.
func (en *Engine) Start() {
	if en.bus == nil || en.sub != nil {
		return
	}
	en.sub = en.bus.SubscribePassive(1<<14, deviceEvent)
	ctx, cancel := context.WithCancel(context.Background())
	en.stop, en.done = cancel, make(chan struct{})
	go en.follow(ctx)
}

// Close stops following device state and the engine's timers. Callers
// still in a queue leave it as their calls end.
func (en *Engine) Close() {
	en.mu.Lock()
	en.closed = true
	for t := range en.timers {
		t.Stop()
	}
	en.timers = map[*time.Timer]struct{}{}
	en.mu.Unlock()
	if en.sub != nil {
		en.stop()
		en.sub.Close()
		<-en.done
	}
}

// afterLocked runs f after d on a timer the engine stops at Close.
func (en *Engine) afterLocked(d time.Duration, f func()) {
	if en.closed {
		return
	}
	var t *time.Timer
	t = time.AfterFunc(d, func() {
		en.mu.Lock()
		_, live := en.timers[t]
		delete(en.timers, t)
		en.mu.Unlock()
		if live {
			f()
		}
	})
	en.timers[t] = struct{}{}
}

// SetGeneral applies queues.conf's [general] and queuerules.conf's rules.
func (en *Engine) SetGeneral(g queueconf.General, rules queueconf.Rules) {
	en.mu.Lock()
	defer en.mu.Unlock()
	en.general = g
	if rules == nil {
		rules = queueconf.Rules{}
	}
	en.rules = rules
}

// Def is a queue's definition: queues.conf's section or a realtime row.
type Def struct {
	Tenant  string
	Name    string
	Params  queueconf.Params
	Members []queueconf.Member
}

// SetFileQueues puts queues.conf's queues (the default tenant's) in
// force, as a reload does (reload_single_queue): a queue keeps its
// statistics and its waiting callers, its static members are replaced
// (a member that stays keeps its calls and last call), dynamic members
// stay; a queue no longer in the file goes once its callers leave.
func (en *Engine) SetFileQueues(defs []Def) {
	en.setQueues(fromFile, "", defs)
}

// SetRealtimeQueues puts a tenant's realtime queues in force (all of them:
// a queue missing is deleted). A queues.conf queue of the default tenant
// shadows a realtime one of the same name, as static configuration
// shadows realtime in Asterisk.
func (en *Engine) SetRealtimeQueues(tenant string, defs []Def) {
	en.setQueues(fromRealtime, tenancy.Of(tenant), defs)
}

func (en *Engine) setQueues(from origin, tenant string, defs []Def) {
	en.mu.Lock()
	defer en.mu.Unlock()
	seen := map[qkey]bool{}
	for _, d := range defs {
		t := tenancy.Of(d.Tenant)
		if from == fromRealtime {
			t = tenant
		}
		k := keyOf(t, d.Name)
		if q := en.queues[k]; q != nil && q.origin == fromFile && from == fromRealtime && !q.dead {
			en.log.Warn("realtime queue shadowed by queues.conf", "queue", d.Name)
			continue
		}
		seen[k] = true
		en.putLocked(k, from, d)
	}
	for k, q := range en.queues {
		if q.origin != from || seen[k] || (from == fromRealtime && k.tenant != tenant) {
			continue
		}
		en.dropLocked(k, q)
	}
}

// PutQueue adds or replaces one realtime queue (its members given apart,
// PutMember).
func (en *Engine) PutQueue(d Def) {
	en.mu.Lock()
	defer en.mu.Unlock()
	k := keyOf(d.Tenant, d.Name)
	if q := en.queues[k]; q != nil && q.origin == fromFile && !q.dead {
		en.log.Warn("realtime queue shadowed by queues.conf", "queue", d.Name)
		return
	}
	var keep []queueconf.Member
	if q := en.queues[k]; q != nil {
		for _, m := range q.members {
			if m.kind == kindRealtime {
				keep = append(keep, m.spec())
			}
		}
	}
	d.Members = keep
	en.putLocked(k, fromRealtime, d)
}

// DeleteQueue removes a realtime queue (it goes once its callers leave).
func (en *Engine) DeleteQueue(tenant, name string) {
	en.mu.Lock()
	defer en.mu.Unlock()
	k := keyOf(tenant, name)
	if q := en.queues[k]; q != nil && q.origin == fromRealtime {
		en.dropLocked(k, q)
	}
}

// putLocked creates or updates a queue from its definition; members given
// are its static (file) or realtime ones.
func (en *Engine) putLocked(k qkey, from origin, d Def) {
	q := en.queues[k]
	if q == nil || q.dead {
		q = &queue{tenant: k.tenant, name: d.Name}
		en.queues[k] = q
	}
	q.origin, q.p, q.dead = from, d.Params, false
	kind := kindStatic
	if from == fromRealtime {
		kind = kindRealtime
	}
	want := map[string]bool{}
	for _, ms := range d.Members {
		want[strings.ToLower(ms.Interface)] = true
		en.setMemberLocked(q, ms, kind, "")
	}
	for _, m := range slices.Clone(q.members) {
		if m.kind == kind && !want[strings.ToLower(m.iface)] {
			en.removeMemberLocked(q, m, "")
		}
	}
	// A dynamic member follows the queue's ringinuse (reload_single_queue).
	for _, m := range q.members {
		if m.kind == kindDynamic {
			m.ringinuse = q.p.RingInUse
		}
	}
	en.wakeLocked(q)
}

func (en *Engine) dropLocked(k qkey, q *queue) {
	if len(q.callers) > 0 {
		q.dead = true // removed from lookups once its callers leave
		return
	}
	for _, m := range slices.Clone(q.members) {
		en.removeMemberLocked(q, m, "")
	}
	delete(en.queues, k)
}

// lookupLocked finds a live queue of a tenant.
func (en *Engine) lookupLocked(tenant, name string) *queue {
	q := en.queues[keyOf(tenant, name)]
	if q == nil || q.dead {
		return nil
	}
	return q
}

// scopedLocked finds the queue a scope names, or control.ErrNoQueue.
func (en *Engine) scopedLocked(scope, name string) (*queue, error) {
	tenant, n := scoped(scope, name)
	if q := en.lookupLocked(tenant, n); q != nil {
		return q, nil
	}
	return nil, control.ErrNoQueue
}

// scoped resolves a queue named in a scope (control.Queues): an admin
// ("") names a hosted tenant's queue tenant~name.
func scoped(scope, name string) (tenant, queue string) {
	if scope != "" {
		return scope, name
	}
	if t, n, ok := strings.Cut(name, tenancy.Sep); ok {
		return t, n
	}
	return tenancy.Default, name
}

// scopeName is how a scope names a queue.
func scopeName(scope string, q *queue) string {
	if scope == "" && !tenancy.IsDefault(q.tenant) {
		return q.tenant + tenancy.Sep + q.name
	}
	return q.name
}

// visible reports whether a scope sees a queue.
func visible(scope string, q *queue) bool {
	return scope == "" || tenancy.Of(scope) == q.tenant
}

// logRow writes a queue_log row.
func (en *Engine) logRow(tenant, queueName, callid, agent, event string, data ...string) {
	if en.o.Log == nil {
		return
	}
	if len(data) == 0 {
		data = []string{""}
	}
	en.o.Log.Log(Entry{Time: time.Now(), Tenant: tenant, Queue: queueName, CallID: callid, Agent: agent, Event: event, Data: data})
}

// Exists reports whether a tenant has a queue (QUEUE_EXISTS).
func (en *Engine) Exists(tenant, name string) bool {
	en.mu.Lock()
	defer en.mu.Unlock()
	return en.lookupLocked(tenant, name) != nil
}

// Names lists a tenant's queues, sorted.
func (en *Engine) Names(tenant string) []string {
	en.mu.Lock()
	defer en.mu.Unlock()
	var out []string
	for k, q := range en.queues {
		if k.tenant == tenancy.Of(tenant) && !q.dead {
			out = append(out, q.name)
		}
	}
	slices.Sort(out)
	return out
}
