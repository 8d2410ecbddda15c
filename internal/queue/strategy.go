package queue

import (
	"math"
	"math/rand/v2"
	"time"

	"github.com/entvoice/entvoice/internal/queueconf"
)

// unset is a penalty limit that is not set (INT_MAX in app_queue).
const unset = math.MaxInt

// calcMetric is app_queue's calc_metric: the lower a member's metric,
// the sooner it rings; ok is false when the caller's penalty limits keep
// the member out. pos is the member's index in the queue, c the caller.
func calcMetric(q *queue, m *member, pos int, c *caller, now time.Time) (metric int, ok bool) {
	// Penalties are disregarded in a queue with penaltymemberslimit
	// members or fewer.
	usePenalty := len(q.members) > q.p.PenaltyMembersLimit
	penalty := m.penalty
	pw := 0
	if usePenalty {
		if c.raisePenalty != unset && penalty < c.raisePenalty && !(c.raiseRespectMin && c.minPenalty != unset && penalty < c.minPenalty) {
			penalty = c.raisePenalty // a low penalty is raised to the current minimum
		}
		if (c.maxPenalty != unset && penalty > c.maxPenalty) || (c.minPenalty != unset && penalty < c.minPenalty) {
			return 0, false
		}
		pw = penalty * 1000000
	}
	switch q.p.Strategy {
	case queueconf.RingAll:
		// Everyone equal, except for penalty.
		metric = pw
	case queueconf.Linear:
		if pos < c.linpos {
			metric = 1000 + pos
		} else {
			if pos > c.linpos {
				c.linwrapped = true // there is another one after
			}
			metric = pos
		}
		metric += pw
	case queueconf.RRMemory, queueconf.RROrdered:
		// The member's place in the queue against the round-robin
		// position the last call left.
		if pos < q.rrpos {
			metric = 1000 + pos
		} else {
			if pos > q.rrpos {
				q.wrapped = true
			}
			metric = pos
		}
		metric += pw
	case queueconf.Random:
		metric = rand.IntN(1000) + pw
	case queueconf.WRandom:
		// The penalty weighs the draw instead of ordering it.
		metric = rand.IntN((1 + penalty) * 1000)
	case queueconf.FewestCalls:
		metric = m.calls + pw
	case queueconf.LeastRecent:
		if !m.lastcall.IsZero() {
			metric = 1000000 - int(now.Sub(m.lastcall)/time.Second)
		}
		metric += pw
	}
	return metric, true
}

// storeNextRR is store_next_rr: the next call starts at the member after
// the best one still untried, or wraps.
func storeNextRR(q *queue, best *attempt) {
	switch {
	case best != nil:
		q.rrpos = best.metric % 1000
	case q.wrapped:
		q.rrpos = 0
	default:
		q.rrpos++
	}
	q.wrapped = false
}

// storeNextLinear is store_next_lin, per caller.
func storeNextLinear(c *caller, best *attempt) {
	switch {
	case best != nil:
		c.linpos = best.metric % 1000
	case c.linwrapped:
		c.linpos = 0
	default:
		c.linpos++
	}
	c.linwrapped = false
}

// numAvailable is num_available_members: how many members could take a
// call now; without autofill, or with ringall, at most one counts (only
// the head caller is served).
func numAvailable(q *queue, now time.Time) int {
	n := 0
	for _, m := range q.members {
		if m.available(now) {
			n++
			if !q.p.Autofill || q.p.Strategy == queueconf.RingAll {
				break
			}
		}
	}
	return n
}

// isOurTurn is is_our_turn: the caller may ring members when it is
// within the first available-members callers (not counting those already
// ringing a member), and, without autofill, only at the head.
func isOurTurn(q *queue, c *caller, now time.Time) bool {
	avl := numAvailable(q, now)
	idx := 0
	i := 0
	for ; i < len(q.callers) && idx < avl && q.callers[i] != c; i++ {
		if !q.callers[i].pending {
			idx++
		}
	}
	return i < len(q.callers) && q.callers[i] == c && idx < avl && (q.p.Autofill || c.pos == 1)
}

// memberStatusEmpty is get_member_status for joinempty/leavewhenempty:
// true when no member is outside the conditions (the queue is "empty").
// It uses the members' current device state, which here is always the
// device's (app_queue asks the device again only for ringing).
func memberStatusEmpty(q *queue, c *caller, cond queueconf.Empty, now time.Time) bool {
	for _, m := range q.members {
		penalty := m.penalty
		if c.raisePenalty != unset && penalty < c.raisePenalty && !(c.raiseRespectMin && penalty < c.minPenalty) {
			penalty = c.raisePenalty
		}
		if ((c.maxPenalty != unset && penalty > c.maxPenalty) || (c.minPenalty != unset && penalty < c.minPenalty)) && cond&queueconf.EmptyPenalty != 0 {
			continue
		}
		switch m.status {
		case Invalid:
			if cond&queueconf.EmptyInvalid != 0 {
				continue
			}
		case Unavailable:
			if cond&queueconf.EmptyUnavailable != 0 {
				continue
			}
		case InUse:
			if cond&queueconf.EmptyInUse != 0 {
				continue
			}
		case Ringing:
			if cond&queueconf.EmptyRinging != 0 {
				continue
			}
		case Unknown:
			if cond&queueconf.EmptyUnknown != 0 {
				continue
			}
		}
		if m.paused && cond&queueconf.EmptyPaused != 0 {
			continue
		}
		if w := m.wrapup(q); cond&queueconf.EmptyWrapup != 0 && !m.lastcall.IsZero() && w > 0 && now.Sub(m.lastcall) < w {
			continue
		}
		return false
	}
	return true
}
