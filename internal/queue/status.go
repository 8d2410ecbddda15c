package queue

import (
	"slices"
	"time"

	"github.com/entvoice/entvoice/internal/control"
)

var _ control.Queues = (*Engine)(nil)

// QueueStatus implements control.Queues: the queues a scope sees (one
// when queue is set), with members in queue order and callers in
// position order.
func (en *Engine) QueueStatus(scope, queueName string) []control.QueueStatus {
	en.mu.Lock()
	defer en.mu.Unlock()
	now := time.Now()
	var out []control.QueueStatus
	for _, q := range en.scopeQueuesLocked(scope, queueName) {
		s := control.QueueStatus{Name: scopeName(scope, q), Tenant: q.tenant, Max: q.p.Maxlen, Strategy: q.p.Strategy.String(),
			Calls: len(q.callers), Holdtime: q.holdtime, TalkTime: q.talktime, Completed: q.completed, Abandoned: q.abandoned,
			CompletedInSL: q.completedInSL, AbandonedInSL: q.abandonedInSL, ServiceLevel: q.p.ServiceLevel, Weight: q.p.Weight}
		for _, m := range q.members {
			s.Members = append(s.Members, control.QueueMemberStatus{Name: m.name, Interface: m.iface, StateInterface: m.stateIface,
				Membership: m.kind.String(), Penalty: m.penalty, CallsTaken: m.calls, LastCall: m.lastcall, LastPause: m.lastpause,
				LoginTime: m.logintime, InCall: !m.starttime.IsZero(), Status: int(m.status), Paused: m.paused,
				PausedReason: m.reason, RingInUse: m.ringinuse, Wrapuptime: m.wrapuptime})
		}
		for i, c := range q.callers {
			num, name := c.ch.CallerID()
			cnum, cname := c.ch.ConnectedLine()
			s.Callers = append(s.Callers, control.QueueCallerStatus{Position: i + 1, Channel: c.ch.Name, UniqueID: c.ch.UniqueID,
				CallerIDNum: num, CallerIDName: name, ConnectedLineNum: cnum, ConnectedLineName: cname,
				Wait: now.Sub(c.start), Priority: c.prio})
		}
		out = append(out, s)
	}
	return out
}

// findCallerLocked finds a waiting caller by channel name.
func findCallerLocked(q *queue, channel string) *caller {
	for _, c := range q.callers {
		if c.ch.Name == channel {
			return c
		}
	}
	return nil
}

// WithdrawCaller implements control.Queues (request_withdraw_caller_from_queue):
// the caller leaves at its next check with QUEUESTATUS WITHDRAW.
func (en *Engine) WithdrawCaller(scope, queueName, channel, info string) error {
	en.mu.Lock()
	defer en.mu.Unlock()
	q, err := en.scopedLocked(scope, queueName)
	if err != nil {
		return err
	}
	c := findCallerLocked(q, channel)
	switch {
	case c == nil:
		return control.ErrNoCaller
	case c.withdraw:
		return control.ErrWithdrawing
	}
	c.withdraw, c.withdrawInfo = true, info
	c.signal()
	return nil
}

// ChangeCallerPriority implements control.Queues
// (change_priority_caller_on_queue): immediate moves the caller now,
// after the callers of its new priority or higher.
func (en *Engine) ChangeCallerPriority(scope, queueName, channel string, priority int, immediate bool) error {
	en.mu.Lock()
	defer en.mu.Unlock()
	q, err := en.scopedLocked(scope, queueName)
	if err != nil {
		return err
	}
	c := findCallerLocked(q, channel)
	if c == nil {
		return control.ErrNoCaller
	}
	c.prio = priority
	if immediate {
		i := slices.Index(q.callers, c)
		q.callers = slices.Delete(q.callers, i, i+1)
		at := len(q.callers)
		for j, o := range q.callers {
			if c.prio > o.prio {
				at = j
				break
			}
		}
		q.callers = slices.Insert(q.callers, at, c)
		renumber(q)
		en.wakeLocked(q)
	}
	return nil
}

// MemberState is a member as the engine's Go API reports it (the dialer
// reads agents' states with it).
type MemberState struct {
	Queue      string
	Interface  string
	Name       string
	Status     DeviceState
	Paused     bool
	InCall     bool
	Available  bool // could take a call now (is_member_available)
	CallsTaken int
	LastCall   time.Time
}

// Members lists the members of a tenant's queue with their state.
func (en *Engine) Members(tenant, queueName string) ([]MemberState, error) {
	en.mu.Lock()
	defer en.mu.Unlock()
	q := en.lookupLocked(tenant, queueName)
	if q == nil {
		return nil, ErrNoQueue
	}
	now := time.Now()
	out := make([]MemberState, 0, len(q.members))
	for _, m := range q.members {
		out = append(out, MemberState{Queue: q.name, Interface: m.iface, Name: m.name, Status: m.status, Paused: m.paused,
			InCall: !m.starttime.IsZero(), Available: m.available(now), CallsTaken: m.calls, LastCall: m.lastcall})
	}
	return out, nil
}

// Waiting is the number of callers in a tenant's queue
// (QUEUE_WAITING_COUNT).
func (en *Engine) Waiting(tenant, queueName string) (int, error) {
	en.mu.Lock()
	defer en.mu.Unlock()
	q := en.lookupLocked(tenant, queueName)
	if q == nil {
		return 0, ErrNoQueue
	}
	return len(q.callers), nil
}

// Available is the number of members of a tenant's queue that could take
// a call now, whatever the strategy.
func (en *Engine) Available(tenant, queueName string) (int, error) {
	en.mu.Lock()
	defer en.mu.Unlock()
	q := en.lookupLocked(tenant, queueName)
	if q == nil {
		return 0, ErrNoQueue
	}
	n := 0
	now := time.Now()
	for _, m := range q.members {
		if m.available(now) {
			n++
		}
	}
	return n, nil
}
