package queue

import (
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/entvoice/entvoice/internal/control"
	"github.com/entvoice/entvoice/internal/events"
	"github.com/entvoice/entvoice/internal/queueconf"
	"github.com/entvoice/entvoice/internal/tenancy"
)

// memberKind is how a member came to be in its queue (QueueMember's
// Membership).
type memberKind int

const (
	kindStatic   memberKind = iota // queues.conf
	kindDynamic                    // AddQueueMember, QueueAdd
	kindRealtime                   // the provisioning store
)

func (k memberKind) String() string {
	switch k {
	case kindDynamic:
		return "dynamic"
	case kindRealtime:
		return "realtime"
	}
	return "static"
}

// member is one member of one queue (struct member).
type member struct {
	q          *queue
	iface      string // the dial string: PJSIP/1001
	name       string // membername
	stateIface string
	penalty    int
	paused     bool
	reason     string
	ringinuse  bool
	wrapuptime int
	kind       memberKind

	dev    *device
	status DeviceState

	calls     int
	lastcall  time.Time
	lastpause time.Time
	logintime time.Time
	// starttime is when the member answered the call it is in (zero
	// when in none); callCompletedInSL is that call's service level.
	starttime         time.Time
	callCompletedInSL bool
	lastqueue         *queue
}

// spec is the member's definition (to keep it across a queue update).
func (m *member) spec() queueconf.Member {
	ri := m.ringinuse
	return queueconf.Member{Interface: m.iface, Penalty: m.penalty, MemberName: m.name, StateInterface: m.stateIface,
		RingInUse: &ri, Wrapuptime: m.wrapuptime, Paused: m.paused, Reason: m.reason}
}

// findMemberLocked finds a queue's member by interface (case-insensitive,
// as interface_exists).
func findMemberLocked(q *queue, iface string) *member {
	for _, m := range q.members {
		if strings.EqualFold(m.iface, iface) {
			return m
		}
	}
	return nil
}

// setMemberLocked adds a member, or updates the one with the same
// interface keeping its statistics (reload_single_member). source names
// who added it in queue_log; "" writes no row (configuration loads).
func (en *Engine) setMemberLocked(q *queue, s queueconf.Member, kind memberKind, source string) *member {
	if s.MemberName == "" {
		s.MemberName = s.Interface
	}
	if s.StateInterface == "" {
		s.StateInterface = s.Interface
	}
	ringinuse := q.p.RingInUse
	if s.RingInUse != nil {
		ringinuse = *s.RingInUse
	}
	if m := findMemberLocked(q, s.Interface); m != nil {
		if m.kind != kind {
			return m
		}
		// A realtime row keeps its current pause unless the row says
		// otherwise; a reloaded static member keeps its pause.
		if kind == kindRealtime && (m.paused != s.Paused || (s.Paused && m.reason != s.Reason)) {
			en.setPausedLocked(m, s.Paused, s.Reason)
		}
		m.name, m.penalty, m.ringinuse, m.wrapuptime = s.MemberName, s.Penalty, ringinuse, s.Wrapuptime
		if !strings.EqualFold(m.stateIface, s.StateInterface) {
			en.untrackLocked(m)
			m.stateIface = s.StateInterface
			en.trackLocked(m)
		}
		return m
	}
	now := time.Now()
	m := &member{q: q, iface: s.Interface, name: s.MemberName, stateIface: s.StateInterface, penalty: s.Penalty,
		paused: s.Paused, ringinuse: ringinuse, wrapuptime: s.Wrapuptime, kind: kind, logintime: now}
	if s.Paused {
		m.lastpause, m.reason = now, s.Reason
	}
	en.trackLocked(m)
	q.members = append(q.members, m)
	if source != "" || kind == kindRealtime {
		en.memberEventLocked(events.QueueMemberAdded, m)
		if kind == kindRealtime && source == "" {
			source = "REALTIME"
		}
		paused := ""
		if s.Paused {
			paused = "PAUSED"
		}
		en.logRow(q.tenant, q.name, source, en.addRemoveAgent(m), "ADDMEMBER", paused)
	}
	en.wakeLocked(q)
	return m
}

// addRemoveAgent is the agent column of ADDMEMBER and REMOVEMEMBER: the
// interface, or the member name with log_membername_as_agent.
func (en *Engine) addRemoveAgent(m *member) string {
	if en.general.LogMembernameAsAgent && m.name != "" {
		return m.name
	}
	return m.iface
}

// removeMemberLocked takes a member out of its queue (member_remove_from_queue):
// the round-robin position of those after it moves up.
func (en *Engine) removeMemberLocked(q *queue, m *member, source string) {
	i := slices.Index(q.members, m)
	if i < 0 {
		return
	}
	if i < q.rrpos {
		q.rrpos--
	}
	if source != "" || m.kind == kindRealtime {
		en.memberEventLocked(events.QueueMemberRemoved, m)
		if source == "" {
			source = "REALTIME"
		}
		en.logRow(q.tenant, q.name, source, en.addRemoveAgent(m), "REMOVEMEMBER", "")
	}
	q.members = slices.Delete(q.members, i, i+1)
	en.untrackLocked(m)
}

// memberEventLocked publishes a QueueMember* event for m.
func (en *Engine) memberEventLocked(kind events.Kind, m *member) {
	if en.bus == nil || !en.bus.HasSubscribers() {
		return
	}
	en.bus.Publish(events.Event{Kind: kind, Tenant: eventTenant(m.q.tenant), Queue: memberBlob(m)})
}

// eventTenant tags an event without a channel: "" for the default
// tenant, whose events every admin and no hosted tenant sees.
func eventTenant(t string) string {
	if tenancy.IsDefault(t) {
		return ""
	}
	return t
}

// memberBlob is queue_member_blob_create.
func memberBlob(m *member) *events.Queue {
	b := &events.Queue{Queue: m.q.name, MemberName: m.name, Interface: m.iface, StateInterface: m.stateIface,
		Membership: m.kind.String(), Penalty: m.penalty, CallsTaken: m.calls, LastCall: unix(m.lastcall),
		LastPause: unix(m.lastpause), LoginTime: unix(m.logintime), Status: int(m.status), PausedReason: m.reason,
		Wrapuptime: m.wrapuptime}
	if !m.starttime.IsZero() {
		b.InCall = 1
	}
	if m.paused {
		b.Paused = 1
	}
	if m.ringinuse {
		b.Ringinuse = 1
	}
	return b
}

func unix(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.Unix()
}

// setPausedLocked is set_queue_member_pause: PAUSE/UNPAUSE in queue_log
// and QueueMemberPause (with the reason, even an unpause's).
func (en *Engine) setPausedLocked(m *member, paused bool, reason string) {
	if m.paused == paused && en.general.LogUnpauseOnReasonChange && paused && m.reason != reason {
		en.logRow(m.q.tenant, m.q.name, "NONE", m.name, "UNPAUSE", "Auto-Unpause")
	}
	m.paused = paused
	if paused {
		m.lastpause = time.Now()
		m.reason = reason
	} else {
		m.reason = reason // shown in the event and the row, then cleared
	}
	en.logRow(m.q.tenant, m.q.name, "NONE", m.name, map[bool]string{true: "PAUSE", false: "UNPAUSE"}[paused], m.reason)
	en.memberEventLocked(events.QueueMemberPause, m)
	if !paused {
		m.reason = ""
		en.wakeLocked(m.q)
	}
}

// AddMember adds a dynamic member (add_to_queue): ADDMEMBER, with the
// source in queue_log's callid column.
func (en *Engine) AddMember(scope, queueName string, s control.QueueMemberSpec) error {
	if err := queueconf.ValidInterface(s.Interface); err != nil {
		return err
	}
	en.mu.Lock()
	defer en.mu.Unlock()
	q, err := en.scopedLocked(scope, queueName)
	if err != nil {
		return err
	}
	if findMemberLocked(q, s.Interface) != nil {
		return control.ErrMemberExists
	}
	source := s.Source
	if source == "" {
		source = "MANAGER"
	}
	en.setMemberLocked(q, queueconf.Member{Interface: s.Interface, MemberName: s.MemberName, StateInterface: s.StateInterface,
		Penalty: max(s.Penalty, 0), Wrapuptime: max(s.Wrapuptime, 0), Paused: s.Paused, Reason: s.Reason}, kindDynamic, source)
	return nil
}

// RemoveMember removes a dynamic member (remove_from_queue): a static or
// realtime one is ErrNotDynamic.
func (en *Engine) RemoveMember(scope, queueName, iface string) error {
	return en.removeMember(scope, queueName, iface, "MANAGER")
}

func (en *Engine) removeMember(scope, queueName, iface, source string) error {
	en.mu.Lock()
	defer en.mu.Unlock()
	q, err := en.scopedLocked(scope, queueName)
	if err != nil {
		return err
	}
	m := findMemberLocked(q, iface)
	switch {
	case m == nil:
		return control.ErrNoMember
	case m.kind != kindDynamic:
		return control.ErrNotDynamic
	}
	en.removeMemberLocked(q, m, source)
	return nil
}

// PauseMember pauses or unpauses a member in one queue or, queue "", in
// every queue of the scope's tenant it is in (set_member_paused, with
// PAUSEALL/UNPAUSEALL first).
func (en *Engine) PauseMember(scope, queueName, iface, reason string, paused bool) error {
	en.mu.Lock()
	defer en.mu.Unlock()
	found := 0
	for _, q := range en.scopeQueuesLocked(scope, queueName) {
		m := findMemberLocked(q, iface)
		if m == nil {
			continue
		}
		found++
		if found == 1 && queueName == "" {
			en.logRow(q.tenant, "NONE", "NONE", m.name, map[bool]string{true: "PAUSEALL", false: "UNPAUSEALL"}[paused], reason)
		}
		en.setPausedLocked(m, paused, reason)
	}
	if found == 0 {
		return control.ErrNoMember
	}
	return nil
}

// scopeQueuesLocked is the queue named (or, "", every queue) a scope
// sees, in a stable order.
func (en *Engine) scopeQueuesLocked(scope, queueName string) []*queue {
	if queueName != "" {
		tenant, name := scoped(scope, queueName)
		if q := en.lookupLocked(tenant, name); q != nil {
			return []*queue{q}
		}
		return nil
	}
	var out []*queue
	for _, q := range en.queues {
		if !q.dead && visible(scope, q) {
			out = append(out, q)
		}
	}
	slices.SortFunc(out, func(a, b *queue) int {
		if c := strings.Compare(a.tenant, b.tenant); c != 0 {
			return c
		}
		return strings.Compare(strings.ToLower(a.name), strings.ToLower(b.name))
	})
	return out
}

// SetPenalty changes a member's penalty in one queue or all of the
// scope's (set_member_value): PENALTY and QueueMemberPenalty.
func (en *Engine) SetPenalty(scope, queueName, iface string, penalty int) error {
	if penalty < 0 {
		return control.ErrNoMember // "Invalid interface, queuename or penalty"
	}
	return en.eachMember(scope, queueName, iface, func(m *member) {
		m.penalty = penalty
		en.logRow(m.q.tenant, m.q.name, "NONE", m.iface, "PENALTY", itoa(penalty))
		en.memberEventLocked(events.QueueMemberPenalty, m)
		en.wakeLocked(m.q)
	})
}

// SetRingInUse changes a member's ringinuse (set_queue_member_ringinuse).
func (en *Engine) SetRingInUse(scope, queueName, iface string, on bool) error {
	return en.eachMember(scope, queueName, iface, func(m *member) {
		m.ringinuse = on
		v := "0"
		if on {
			v = "1"
		}
		en.logRow(m.q.tenant, m.q.name, "NONE", m.iface, "RINGINUSE", v)
		en.memberEventLocked(events.QueueMemberRinginuse, m)
		en.wakeLocked(m.q)
	})
}

func (en *Engine) eachMember(scope, queueName, iface string, f func(m *member)) error {
	en.mu.Lock()
	defer en.mu.Unlock()
	found := false
	for _, q := range en.scopeQueuesLocked(scope, queueName) {
		if m := findMemberLocked(q, iface); m != nil {
			found = true
			f(m)
		}
	}
	if !found {
		return control.ErrNoMember
	}
	return nil
}

// PutMember adds or updates a realtime member of a realtime queue.
func (en *Engine) PutMember(tenant, queueName string, s queueconf.Member) {
	en.mu.Lock()
	defer en.mu.Unlock()
	q := en.lookupLocked(tenant, queueName)
	if q == nil || q.origin != fromRealtime {
		return
	}
	en.setMemberLocked(q, s, kindRealtime, "")
}

// DeleteMember removes a realtime member.
func (en *Engine) DeleteMember(tenant, queueName, iface string) {
	en.mu.Lock()
	defer en.mu.Unlock()
	q := en.lookupLocked(tenant, queueName)
	if q == nil {
		return
	}
	if m := findMemberLocked(q, iface); m != nil && m.kind == kindRealtime {
		en.removeMemberLocked(q, m, "")
	}
}

// Log writes a custom queue_log row (the QueueLog application and action).
func (en *Engine) Log(scope, queueName, callid, agent, event, data string) error {
	tenant, name := scoped(scope, queueName)
	if callid == "" {
		callid = "NONE"
	}
	en.logRow(tenancy.Of(tenant), name, callid, agent, event, data)
	return nil
}

// ResetStats clears a queue's (or every queue's) statistics (clear_queue).
func (en *Engine) ResetStats(scope, queueName string) error {
	en.mu.Lock()
	defer en.mu.Unlock()
	qs := en.scopeQueuesLocked(scope, queueName)
	if queueName != "" && len(qs) == 0 {
		return control.ErrNoQueue
	}
	for _, q := range qs {
		q.holdtime, q.talktime, q.completed, q.abandoned, q.completedInSL, q.abandonedInSL = 0, 0, 0, 0, 0, 0
		for _, m := range q.members {
			m.calls, m.lastcall, m.starttime, m.callCompletedInSL = 0, time.Time{}, time.Time{}, false
		}
	}
	return nil
}

// Rules implements control.Queues.
func (en *Engine) Rules(name string) []control.QueueRuleList {
	en.mu.Lock()
	defer en.mu.Unlock()
	var out []control.QueueRuleList
	for _, n := range en.rules.Names() {
		if name != "" && !strings.EqualFold(n, name) {
			continue
		}
		l := control.QueueRuleList{Name: n}
		for _, r := range en.rules[n] {
			l.Rules = append(l.Rules, control.QueueRule{Time: r.Time, MaxValue: r.MaxValue, MinValue: r.MinValue,
				MaxRelative: r.MaxRelative, MinRelative: r.MinRelative})
		}
		out = append(out, l)
	}
	return out
}

// available is is_member_available: the member could take a call now.
func (m *member) available(now time.Time) bool {
	ok := false
	switch m.status {
	case Invalid, Unavailable:
	case InUse, Busy, Ringing, RingInUse, OnHold:
		ok = m.ringinuse && !m.paused
	default: // NotInUse, Unknown
		ok = !m.paused
	}
	if w := m.wrapup(m.q); w > 0 && !m.lastcall.IsZero() && now.Sub(m.lastcall) < w {
		return false
	}
	return ok
}

// wrapup is get_wrapuptime: the member's own, else the queue's.
func (m *member) wrapup(q *queue) time.Duration {
	if m.wrapuptime > 0 {
		return time.Duration(m.wrapuptime) * time.Second
	}
	return time.Duration(q.p.Wrapuptime) * time.Second
}

func itoa(n int) string { return strconv.Itoa(n) }
