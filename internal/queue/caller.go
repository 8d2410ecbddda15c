package queue

import (
	"errors"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/entvoice/entvoice/internal/channel"
	"github.com/entvoice/entvoice/internal/events"
	"github.com/entvoice/entvoice/internal/media"
	"github.com/entvoice/entvoice/internal/pbx"
	"github.com/entvoice/entvoice/internal/prompts"
	"github.com/entvoice/entvoice/internal/queueconf"
)

// Results of a queue call: QUEUESTATUS.
const (
	StatusTimeout      = "TIMEOUT"
	StatusFull         = "FULL"
	StatusJoinEmpty    = "JOINEMPTY"
	StatusLeaveEmpty   = "LEAVEEMPTY"
	StatusJoinUnavail  = "JOINUNAVAIL"
	StatusLeaveUnavail = "LEAVEUNAVAIL"
	StatusContinue     = "CONTINUE"
	StatusWithdraw     = "WITHDRAW"
)

// ErrNoQueue is Join's error for a queue that does not exist (Queue()
// then goes on in the dialplan, as app_queue does, without QUEUESTATUS).
var ErrNoQueue = errors.New("no such queue")

// JoinOptions are Queue()'s options and arguments.
type JoinOptions struct {
	// Ringing makes the caller hear ringing instead of music (r);
	// RingWhenRinging only while a member rings (R).
	Ringing, RingWhenRinging bool
	// MusicClass overrides the queue's class (m()).
	MusicClass string
	// Continue: the caller goes on in the dialplan when the member
	// hangs up (c); NoRetry leaves after one round of members (n).
	Continue, NoRetry bool
	// Bridge features: t, T, h, H.
	CalleeTransfer, CallerTransfer, CalleeHangup, CallerHangup bool
	// MarkAnsweredElsewhere: cancelled member legs get cause 26 (C).
	MarkAnsweredElsewhere bool
	// IgnoreForward (i): call forwarding by members is ignored. entVoice
	// does not follow a member's 302 anyway; kept for the option's sake.
	IgnoreForward    bool
	URL              string
	AnnounceOverride string        // played to the member before the bridge
	Timeout          time.Duration // the caller leaves after this (0: never)
	AGI              string        // run on the caller once connected
	Gosub            string        // run on the member's leg once connected
	Rule             string        // penalty rules (default: the queue's defaultrule)
	Position         int           // wanted position (0: the end)
}

// Outcome is how a queue call ended.
type Outcome struct {
	// Status is QUEUESTATUS ("" when the call was answered and not
	// continued, or the caller hung up).
	Status string
	// Answered: a member took the call; Member is its interface.
	Answered bool
	Member   string
	// ExitKey: the caller left with these digits, which the channel now
	// points at in the queue's exit context.
	ExitKey string
	// Hangup: the caller must be hung up (Queue returns -1): it hung up,
	// or its member did without c.
	Hangup bool
	// CallerTo: a member transferred the caller to this extension of its
	// context (t).
	CallerTo string
}

// caller is one waiting caller (struct queue_ent).
type caller struct {
	q     *queue
	e     *pbx.Exec
	ch    *channel.Channel
	o     JoinOptions
	start time.Time
	// expire is when the caller leaves (zero: never).
	expire time.Time
	pos    int // current position, from 1
	opos   int // position on joining
	prio   int
	// pending: ringing members (such callers do not count in is_our_turn).
	pending bool
	wake    chan struct{}

	moh                                  string
	context                              string
	digits                               string
	validDigits                          bool
	maxPenalty, minPenalty, raisePenalty int
	raiseRespectMin                      bool
	rules                                []queueconf.Rule
	linpos                               int
	linwrapped                           bool
	lastPosSaid                          int
	lastPos, lastPeriodic                time.Time
	lastPeriodicSound                    int
	handled                              int
	tried                                map[*member]bool // the members the last round rang
	withdraw                             bool
	withdrawInfo                         string
	hearing                              bool // music on hold or ringing is on
}

// signal wakes the caller's loop.
func (c *caller) signal() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// wakeLocked wakes the callers of q whose turn may have come: as many
// from the head as there are available members, plus those ringing
// members (which do not count), plus one; and the callers of queues
// sharing members, for weights.
func (en *Engine) wakeLocked(q *queue) {
	if len(q.callers) == 0 {
		return
	}
	n := numAvailable(q, time.Now()) + 1
	for i, c := range q.callers {
		if c.pending {
			n++
			continue
		}
		if i >= n {
			break
		}
		c.signal()
	}
}

// Join puts e's channel in a queue and runs app_queue's queue_exec until
// the call is answered and over, the caller leaves, or hangs up. It sets
// QUEUESTATUS, ABANDONED, QUEUEPOSITION, QUEUEWAIT and the rest; an
// error is ErrNoQueue or channel.ErrHangup.
func (en *Engine) Join(e *pbx.Exec, name string, o JoinOptions) (Outcome, error) {
	if en.o.Apps == nil || en.o.Techs == nil {
		return Outcome{}, errors.New("queue: the engine has no applications or channel technologies")
	}
	ch := e.Ch
	for _, v := range []string{"ANSWEREDTIME", "ANSWEREDTIME_MS", "DIALEDTIME", "DIALEDTIME_MS", "QUEUEWAIT", "QUEUEWAIT_MS"} {
		ch.SetVar(v, "")
	}
	c := &caller{e: e, ch: ch, o: o, start: time.Now(), wake: make(chan struct{}, 1),
		maxPenalty: unset, minPenalty: unset, raisePenalty: unset}
	if o.Timeout > 0 {
		c.expire = c.start.Add(o.Timeout)
	}
	c.readVars()
	ch.UnsetVar("ABANDONED")

	status, err := en.join(c, name, o.Position)
	if err != nil {
		return Outcome{}, err
	}
	if status != "" {
		ch.Log().Warn("unable to join queue", "queue", name, "reason", status)
		ch.SetVar("QUEUESTATUS", status)
		return Outcome{Status: status}, nil
	}
	q := c.q
	num, cname := ch.CallerID()
	if !q.p.LogRestrictedCallerID {
		num, cname = "", ""
	}
	if en.general.LogCallerIDName {
		en.logRow(q.tenant, q.name, ch.UniqueID, "NONE", "ENTERQUEUE", o.URL, num, strconv.Itoa(c.opos), strings.ReplaceAll(cname, "|", "_"))
	} else {
		en.logRow(q.tenant, q.name, ch.UniqueID, "NONE", "ENTERQUEUE", o.URL, num, strconv.Itoa(c.opos))
	}
	if o.MusicClass != "" {
		c.moh = o.MusicClass
	}
	en.mu.Lock()
	c.rules = en.copyRulesLocked(q, o.Rule)
	en.mu.Unlock()
	out := en.serve(c)
	en.finish(c, &out)
	return out, nil
}

// readVars reads QUEUE_PRIO and the QUEUE_*_PENALTY limits.
func (c *caller) readVars() {
	num := func(name string) (int, bool) {
		v, ok := c.ch.GetVar(name)
		if !ok {
			return 0, false
		}
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil {
			c.ch.Log().Warn("invalid value, ignored", "variable", name, "value", v)
			return 0, false
		}
		return n, true
	}
	if n, ok := num("QUEUE_PRIO"); ok {
		c.prio = n
	}
	if n, ok := num("QUEUE_MAX_PENALTY"); ok {
		c.maxPenalty = n
	}
	if n, ok := num("QUEUE_MIN_PENALTY"); ok {
		c.minPenalty = n
	}
	if v, ok := c.ch.GetVar("QUEUE_RAISE_PENALTY"); ok {
		v = strings.TrimSpace(v)
		if strings.HasPrefix(v, "r") {
			c.raiseRespectMin = true
			v = v[1:]
		}
		if n, err := strconv.Atoi(v); err == nil {
			c.raisePenalty = n
		} else {
			c.ch.Log().Warn("invalid value, ignored", "variable", "QUEUE_RAISE_PENALTY", "value", v)
		}
	}
}

// join is join_queue: the joinempty and maxlen checks, then the caller
// enters after those of its priority or higher (or at the position asked,
// when priorities allow). status is the reason it could not.
func (en *Engine) join(c *caller, name string, position int) (status string, err error) {
	en.mu.Lock()
	defer en.mu.Unlock()
	q := en.lookupLocked(c.ch.Tenant(), name)
	if q == nil {
		return "", ErrNoQueue
	}
	now := time.Now()
	c.q = q
	if q.p.JoinEmpty != 0 && memberStatusEmpty(q, c, q.p.JoinEmpty, now) {
		return StatusJoinEmpty, nil
	}
	if q.p.Maxlen > 0 && len(q.callers) >= q.p.Maxlen {
		return StatusFull, nil
	}
	at := len(q.callers)
	for i, o := range q.callers {
		if c.prio > o.prio {
			at = i
			break
		}
		if position > 0 && c.prio >= o.prio && position <= i+1 {
			at = i
			break
		}
	}
	q.callers = slices.Insert(q.callers, at, c)
	renumber(q)
	c.opos = c.pos
	c.moh, c.context = q.p.MusicClass, q.p.Context
	c.lastPeriodic = now
	if q.p.PeriodicAnnounceStartDelay >= 0 {
		c.lastPeriodic = now.Add(time.Duration(q.p.PeriodicAnnounceStartDelay-q.p.PeriodicAnnounceFrequency) * time.Second)
	}
	c.ch.Publish(events.Event{Kind: events.QueueCallerJoin, Queue: &events.Queue{Queue: q.name, Position: c.pos, Count: len(q.callers)}})
	en.wakeLocked(q)
	return "", nil
}

func renumber(q *queue) {
	for i, o := range q.callers {
		o.pos = i + 1
	}
}

// leaveLocked is leave_queue: QueueCallerLeave, QUEUEPOSITION, and the
// callers behind move up (and may now ring).
func (en *Engine) leaveLocked(c *caller) {
	q := c.q
	i := slices.Index(q.callers, c)
	if i < 0 {
		return
	}
	q.callers = slices.Delete(q.callers, i, i+1)
	c.ch.Publish(events.Event{Kind: events.QueueCallerLeave, Queue: &events.Queue{Queue: q.name, Position: c.pos, Count: len(q.callers)}})
	c.ch.SetVar("QUEUEPOSITION", strconv.Itoa(c.pos))
	renumber(q)
	if q.dead && len(q.callers) == 0 {
		for k, x := range en.queues {
			if x == q {
				en.dropLocked(k, q)
			}
		}
	}
	en.wakeLocked(q)
}

// recordAbandonedLocked is record_abandoned: ABANDONED=TRUE and
// QueueCallerAbandon.
func (en *Engine) recordAbandonedLocked(c *caller) {
	q := c.q
	c.ch.SetVar("ABANDONED", "TRUE")
	held := time.Since(c.start)
	if int(held/time.Second) <= q.p.ServiceLevel {
		q.abandonedInSL++
	}
	q.abandoned++
	c.ch.Publish(events.Event{Kind: events.QueueCallerAbandon, Queue: &events.Queue{Queue: q.name, Position: c.pos,
		OriginalPosition: c.opos, HoldTime: int(held / time.Second)}})
}

// leaveRowLocked records how a caller left without a member: ABANDONED
// and QueueCallerAbandon (record_abandoned) and the queue_log row (EXIT*,
// or ABANDON naming the member it was about to talk to), whose data is
// position|original position|wait, after extra fields.
func (en *Engine) leaveRowLocked(c *caller, agent, event string, extra ...string) {
	en.recordAbandonedLocked(c)
	en.logRow(c.q.tenant, c.q.name, c.ch.UniqueID, agent, event, append(extra, itoa(c.pos), itoa(c.opos), secs(c.start))...)
}

// recalcHoldtime is recalc_holdtime's exponential average.
func recalcHoldtimeLocked(q *queue, hold int) {
	if q.completed+q.abandoned == 0 {
		q.holdtime = hold
	} else {
		q.holdtime = (q.holdtime*3 + hold) >> 2
	}
}

// copyRulesLocked is copy_rules: the rule list named (or the queue's
// defaultrule).
func (en *Engine) copyRulesLocked(q *queue, name string) []queueconf.Rule {
	if name == "" {
		name = q.p.DefaultRule
	}
	if name == "" {
		return nil
	}
	l, ok := en.rules.Get(name)
	if !ok {
		en.log.Warn("queue rule list not found", "queue", q.name, "rule", name)
		return nil
	}
	return slices.Clone(l)
}

// serve is queue_exec's main loop.
func (en *Engine) serve(c *caller) (out Outcome) {
	var tries int
	en.hold(c)
	for {
		// The holding pen (wait_our_turn).
		if r := en.waitTurn(c); r.done {
			return r.out
		}
		makeAnnouncement := c.q.p.AnnounceToFirstUser
		for {
			if r := en.headChecks(c, makeAnnouncement); r.done {
				return r.out
			}
			c.applyRules(time.Now(), true)
			res := en.tryCalling(c, &tries)
			if res.done {
				return res.out
			}
			en.mu.Lock()
			q := c.q
			if q.p.LeaveWhenEmpty != 0 && memberStatusEmpty(q, c, q.p.LeaveWhenEmpty, time.Now()) {
				en.leaveRowLocked(c, "NONE", "EXITEMPTY")
				en.mu.Unlock()
				return Outcome{Status: StatusLeaveEmpty}
			}
			if c.o.NoRetry && tries >= len(q.members) {
				en.leaveRowLocked(c, "NONE", "EXITWITHTIMEOUT")
				en.mu.Unlock()
				return Outcome{Status: StatusTimeout}
			}
			if c.expired(time.Now()) {
				en.leaveRowLocked(c, "NONE", "EXITWITHTIMEOUT")
				en.mu.Unlock()
				return Outcome{Status: StatusTimeout}
			}
			retry := time.Duration(q.p.Retry) * time.Second
			en.mu.Unlock()
			// Nobody answered: wait retry seconds, a digit may exit.
			if r := en.waitABit(c, retry); r.done {
				return r.out
			}
			en.mu.Lock()
			turn := isOurTurn(c.q, c, time.Now())
			en.mu.Unlock()
			if !turn {
				break // priorities: back in the queue
			}
			makeAnnouncement = true
		}
	}
}

// result ends serve when done.
type result struct {
	done bool
	out  Outcome
}

func secs(since time.Time) string { return strconv.FormatInt(int64(time.Since(since)/time.Second), 10) }

func (c *caller) expired(now time.Time) bool { return !c.expire.IsZero() && !now.Before(c.expire) }

// hold starts what the caller hears while waiting: ringing (r) or music.
func (en *Engine) hold(c *caller) {
	c.hearing = true
	if c.o.Ringing {
		_ = c.ch.Indicate(channel.IndicateRinging)
		return
	}
	if en.o.Apps == nil {
		return
	}
	if err := en.o.Apps.StartMOH(c.e, c.moh); err != nil && !errors.Is(err, channel.ErrHangup) {
		c.ch.Log().Debug("queue: no music on hold", "err", err)
	}
}

// unhold stops it (before a prompt or the bridge).
func (en *Engine) unhold(c *caller) {
	c.hearing = false
	if en.o.Apps != nil && !c.o.Ringing {
		en.o.Apps.StopMOH(c.ch)
	}
}

// waitTurn is wait_our_turn, woken by events rather than every second.
func (en *Engine) waitTurn(c *caller) result {
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	dtmf := c.dtmf()
	for {
		now := time.Now()
		en.mu.Lock()
		q := c.q
		switch {
		case c.withdraw:
			en.mu.Unlock()
			return result{true, Outcome{Status: StatusWithdraw}}
		case isOurTurn(q, c, now):
			en.mu.Unlock()
			return result{}
		case c.expired(now):
			// The head loop's check writes EXITWITHTIMEOUT.
			en.mu.Unlock()
			return result{}
		}
		if q.p.LeaveWhenEmpty != 0 && memberStatusEmpty(q, c, q.p.LeaveWhenEmpty, now) {
			en.leaveRowLocked(c, "NONE", "EXITEMPTY")
			c.handled = -1
			en.mu.Unlock()
			return result{true, Outcome{Status: StatusLeaveEmpty}}
		}
		en.mu.Unlock()
		if q.p.AnnounceFrequency > 0 {
			if r := en.sayPosition(c); r.done {
				return r
			}
		}
		if c.expired(time.Now()) {
			return result{}
		}
		if q.p.PeriodicAnnounceFrequency > 0 {
			if r := en.sayPeriodic(c); r.done {
				return r
			}
		}
		c.applyRules(time.Now(), false)
		if c.expired(time.Now()) {
			return result{}
		}
		// Sleep until an event, a digit, or the next thing due (at most a
		// second, app_queue's RECHECK, as a safety net).
		timer.Reset(c.nextDue(time.Now()))
		select {
		case <-c.wake:
		case <-timer.C:
		case d := <-dtmf:
			if en.validExit(c, d.Digit) {
				return result{true, Outcome{ExitKey: c.digits}}
			}
		case <-c.e.Ctx.Done():
			return result{true, Outcome{Hangup: true}}
		}
	}
}

// dtmf is the caller's digits (nil without media).
func (c *caller) dtmf() <-chan media.DTMF {
	if s := c.ch.Media(); s != nil {
		return s.DTMF()
	}
	return nil
}

// nextDue is how long the caller may sleep: until its next announcement,
// penalty rule or expiry, and a second at most.
func (c *caller) nextDue(now time.Time) time.Duration {
	d := time.Second
	at := func(t time.Time) {
		if t.IsZero() {
			return
		}
		if w := t.Sub(now); w < d {
			d = max(w, time.Millisecond)
		}
	}
	p := c.q.p
	if p.AnnounceFrequency > 0 {
		at(c.lastPos.Add(time.Duration(max(p.MinAnnounceFrequency, p.AnnounceFrequency)) * time.Second))
	}
	if p.PeriodicAnnounceFrequency > 0 {
		at(c.lastPeriodic.Add(time.Duration(p.PeriodicAnnounceFrequency) * time.Second))
	}
	if len(c.rules) > 0 {
		at(c.start.Add(time.Duration(c.rules[0].Time) * time.Second))
	}
	at(c.expire)
	return d
}

// headChecks are the checks at the top of the head caller's loop.
func (en *Engine) headChecks(c *caller, announce bool) result {
	en.mu.Lock()
	q := c.q
	if c.withdraw {
		en.mu.Unlock()
		return result{true, Outcome{Status: StatusWithdraw}}
	}
	if c.expired(time.Now()) {
		en.leaveRowLocked(c, "NONE", "EXITWITHTIMEOUT")
		en.mu.Unlock()
		return result{true, Outcome{Status: StatusTimeout}}
	}
	en.mu.Unlock()
	if announce {
		if q.p.AnnounceFrequency > 0 {
			if r := en.sayPosition(c); r.done {
				return r
			}
		}
		if q.p.PeriodicAnnounceFrequency > 0 {
			if r := en.sayPeriodic(c); r.done {
				return r
			}
		}
	}
	en.mu.Lock()
	defer en.mu.Unlock()
	if c.withdraw {
		return result{true, Outcome{Status: StatusWithdraw}}
	}
	if c.expired(time.Now()) {
		en.leaveRowLocked(c, "NONE", "EXITWITHTIMEOUT")
		return result{true, Outcome{Status: StatusTimeout}}
	}
	return result{}
}

// waitABit is wait_a_bit: retry seconds, during which a digit may exit.
// A member that becomes free meanwhile, other than those the last round
// rang, ends the wait at once (app_queue would leave it free until the
// retry is over; the members that did not answer still get their retry).
func (en *Engine) waitABit(c *caller, d time.Duration) result {
	t := time.NewTimer(d)
	defer t.Stop()
	dtmf := c.dtmf()
	for {
		select {
		case <-t.C:
			return result{}
		case <-c.wake:
			en.mu.Lock()
			fresh := en.freshMemberLocked(c)
			en.mu.Unlock()
			if fresh {
				return result{}
			}
		case dg := <-dtmf:
			if en.validExit(c, dg.Digit) {
				return result{true, Outcome{ExitKey: c.digits}}
			}
		case <-c.e.Ctx.Done():
			return result{true, Outcome{Hangup: true}}
		}
	}
}

// freshMemberLocked reports a member the caller could ring now that its
// last round did not ring.
func (en *Engine) freshMemberLocked(c *caller) bool {
	now := time.Now()
	for _, m := range c.q.members {
		if !c.tried[m] && m.available(now) && (m.ringinuse || en.pending[deviceKey(m.q.tenant, m.iface)] == 0) {
			return true
		}
	}
	return false
}

// applyRules is update_qe_rule for every rule whose time has come (after
// it, strictly, at the head: queue_exec's ">").
func (c *caller) applyRules(now time.Time, strict bool) {
	for len(c.rules) > 0 {
		due := c.start.Add(time.Duration(c.rules[0].Time) * time.Second)
		if now.Before(due) || (strict && !now.After(due)) {
			return
		}
		r := c.rules[0]
		c.rules = c.rules[1:]
		// adjust applies a relative or absolute change, never below 0
		// nor, but for the max itself, above the new max.
		maxP := unset
		adjust := func(cur, v int, rel bool) int {
			n := v
			if rel {
				n = cur + v
			}
			n = max(n, 0)
			if maxP != unset && n > maxP {
				n = maxP
			}
			return n
		}
		if c.maxPenalty != unset {
			maxP = adjust(c.maxPenalty, r.MaxValue, r.MaxRelative)
			c.maxPenalty = maxP
			c.ch.SetVar("QUEUE_MAX_PENALTY", strconv.Itoa(maxP))
		}
		if c.minPenalty != unset {
			c.minPenalty = adjust(c.minPenalty, r.MinValue, r.MinRelative)
			c.ch.SetVar("QUEUE_MIN_PENALTY", strconv.Itoa(c.minPenalty))
		}
		if c.raisePenalty != unset {
			c.raisePenalty = adjust(c.raisePenalty, r.RaiseValue, r.RaiseRelative)
			c.raiseRespectMin = r.RaiseRespectMin
			v := strconv.Itoa(c.raisePenalty)
			if c.raiseRespectMin {
				v = "r" + v
			}
			c.ch.SetVar("QUEUE_RAISE_PENALTY", v)
		}
	}
}

// validExit is valid_exit: digits gather while they could still match
// an extension of the queue's exit context; an exact match moves the
// caller there.
func (en *Engine) validExit(c *caller, d rune) bool {
	if len(c.digits) >= 78 {
		c.digits = ""
		return false
	}
	c.digits += string(d)
	if c.context == "" {
		return false
	}
	ctxName, ok := c.e.QualifyContext(c.context)
	plan := c.e.PBX.Dialplan()
	if !ok || plan == nil {
		c.digits = ""
		return false
	}
	if !plan.Exists(ctxName, c.digits, 1) && !plan.MatchMore(ctxName, c.digits) {
		c.digits = ""
		return false
	}
	if !plan.Exists(ctxName, c.digits, 1) {
		return false
	}
	if err := c.e.Goto(c.context, c.digits, "1"); err != nil {
		c.digits = ""
		return false
	}
	c.validDigits = true
	return true
}

// play plays prompts to the caller, music off; a digit that is a valid
// exit ends the wait. done reports the exit or a hangup.
func (en *Engine) play(c *caller, files []string) result {
	if en.o.Apps == nil {
		return result{}
	}
	escape := ""
	if c.context != "" {
		escape = "0123456789*#"
	}
	d, err := en.o.Apps.PlayFiles(c.e, files, escape)
	switch {
	case err != nil:
		return result{true, Outcome{Hangup: true}}
	case d != 0 && en.validExit(c, d):
		return result{true, Outcome{ExitKey: c.digits}}
	}
	return result{}
}

// sayPosition is say_position: the caller's position and the estimated
// hold time, every announce-frequency (and when the position changed,
// at most every min-announce-frequency), in the caller's language.
func (en *Engine) sayPosition(c *caller) result {
	now := time.Now()
	en.mu.Lock()
	q := c.q
	p := q.p
	pos := c.pos
	if now.Sub(c.lastPos) < time.Duration(p.MinAnnounceFrequency)*time.Second ||
		(c.lastPosSaid == pos && now.Sub(c.lastPos) < time.Duration(p.AnnounceFrequency)*time.Second) ||
		(p.AnnouncePositionOnlyUp && c.lastPosSaid > 0 && c.lastPosSaid <= pos) {
		en.mu.Unlock()
		return result{}
	}
	holdtime := q.holdtime
	en.mu.Unlock()
	lang := c.ch.Language()
	number := func(n int) []string {
		f, err := prompts.SayNumber(int64(n), lang, "n")
		if err != nil {
			return nil
		}
		return f
	}
	en.unhold(c)
	var files []string
	sayThanks := false
	posDone := false
	if p.AnnouncePosition == queueconf.PositionYes || p.AnnouncePosition == queueconf.PositionMoreThan ||
		(p.AnnouncePosition == queueconf.PositionLimit && pos <= p.AnnouncePositionLimit) {
		sayThanks = true
		switch {
		case pos == 1:
			files = append(files, p.SoundNext)
			posDone = true // "you are next": no hold time
		case p.AnnouncePosition == queueconf.PositionMoreThan && pos > p.AnnouncePositionLimit:
			files = append(append(append(files, p.Quantity1), number(p.AnnouncePositionLimit)...), p.Quantity2)
		default:
			files = append(append(append(files, p.SoundThereAre), number(pos)...), p.SoundCalls)
		}
	}
	if !posDone {
		// Round the hold time to the nearest minute, and the seconds to
		// announce-round-seconds.
		waited := int(now.Sub(c.start) / time.Second)
		left := holdtime + 30 - waited
		if left < 0 {
			left = -left
		}
		mins := left / 60
		secsLeft := 0
		if p.AnnounceRoundSeconds > 0 {
			secsLeft = (left - 60*mins) / p.AnnounceRoundSeconds * p.AnnounceRoundSeconds
		}
		if mins+secsLeft > 0 && p.AnnounceHoldtime != queueconf.HoldtimeNo &&
			(p.AnnounceHoldtime != queueconf.HoldtimeOnce || c.lastPos.IsZero()) {
			sayThanks = true
			files = append(files, p.SoundHoldtime)
			if mins >= 1 {
				files = append(files, number(mins)...)
				if mins == 1 {
					files = append(files, p.SoundMinute)
				} else {
					files = append(files, p.SoundMinutes)
				}
			}
			if secsLeft >= 1 {
				files = append(append(files, number(secsLeft)...), p.SoundSeconds)
			}
		}
	}
	if sayThanks {
		files = append(files, p.SoundThanks)
	}
	r := en.play(c, files)
	c.lastPos, c.lastPosSaid = now, pos
	if !r.done {
		en.hold(c)
	}
	return r
}

// sayPeriodic is say_periodic_announcement.
func (en *Engine) sayPeriodic(c *caller) result {
	now := time.Now()
	p := c.q.p
	if now.Sub(c.lastPeriodic) < time.Duration(p.PeriodicAnnounceFrequency)*time.Second || len(p.PeriodicAnnounce) == 0 {
		return result{}
	}
	en.unhold(c)
	if p.RandomPeriodicAnnounce {
		c.lastPeriodicSound = rand.IntN(len(p.PeriodicAnnounce))
	} else if c.lastPeriodicSound >= len(p.PeriodicAnnounce) {
		c.lastPeriodicSound = 0
	}
	r := en.play(c, []string{p.PeriodicAnnounce[c.lastPeriodicSound]})
	if !r.done {
		en.hold(c)
	}
	if p.RelativePeriodicAnnounce {
		c.lastPeriodic = time.Now()
	} else {
		c.lastPeriodic = now
	}
	if !p.RandomPeriodicAnnounce {
		c.lastPeriodicSound++
	}
	return r
}

// finish is queue_exec's stop: label: the queue_log row and variables of
// how the caller left, then leave_queue.
func (en *Engine) finish(c *caller, out *Outcome) {
	ch := c.ch
	q := c.q
	if v, _ := ch.GetVar("QUEUEWAIT"); v == "" {
		setDuration(ch, "QUEUEWAIT", time.Since(c.start))
	}
	if v, _ := ch.GetVar("DIALEDTIME"); v == "" {
		setDuration(ch, "DIALEDTIME", time.Since(ch.Created))
	}
	if v, _ := ch.GetVar("ANSWEREDTIME"); v == "" {
		setDuration(ch, "ANSWEREDTIME", 0)
	}
	en.mu.Lock()
	switch {
	case out.Status == StatusWithdraw:
		en.recordAbandonedLocked(c)
		info := c.withdrawInfo
		if len(info) > 40 {
			info = info[:40]
		}
		en.logRow(q.tenant, q.name, ch.UniqueID, "NONE", "WITHDRAW", itoa(c.pos), itoa(c.opos), secs(c.start), info)
		if c.withdrawInfo != "" {
			ch.SetVar("QUEUE_WITHDRAW_INFO", c.withdrawInfo)
		}
	case out.Hangup && c.handled == 0:
		en.leaveRowLocked(c, "NONE", "ABANDON")
	case out.Hangup && out.Answered && c.o.Continue && !ch.HangupRequested():
		out.Status, out.Hangup = StatusContinue, false
	case c.validDigits:
		en.logRow(q.tenant, q.name, ch.UniqueID, "NONE", "EXITWITHKEY", c.digits, itoa(c.pos), itoa(c.opos), secs(c.start))
	}
	qvars := queueVarsLocked(q)
	en.leaveLocked(c)
	en.mu.Unlock()
	for _, kv := range qvars {
		ch.SetVar(kv[0], kv[1])
	}
	if !out.Hangup && c.hearing {
		en.unhold(c)
	}
	if out.Status != "" {
		ch.SetVar("QUEUESTATUS", out.Status)
	}
}

// setDuration sets NAME (seconds) and NAME_MS, as set_duration_var.
func setDuration(ch *channel.Channel, name string, d time.Duration) {
	ch.SetVar(name, strconv.FormatInt(int64(d/time.Second), 10))
	ch.SetVar(name+"_MS", strconv.FormatInt(d.Milliseconds(), 10))
}
