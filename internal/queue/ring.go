package queue

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/entvoice/entvoice/internal/apps"
	"github.com/entvoice/entvoice/internal/channel"
	"github.com/entvoice/entvoice/internal/events"
	"github.com/entvoice/entvoice/internal/pbx"
	"github.com/entvoice/entvoice/internal/prompts"
	"github.com/entvoice/entvoice/internal/q850"
	"github.com/entvoice/entvoice/internal/queueconf"
	"github.com/entvoice/entvoice/internal/tenancy"
)

// attempt is one member of a ring round (struct callattempt).
type attempt struct {
	m       *member
	metric  int
	still   bool // stillgoing: not failed or given up
	leg     *channel.Leg
	started time.Time
	pending bool // counted in the engine's pending members
	done    bool // the leg ended (failed, hung up or destroyed)
}

// legEvent is a leg's progress, for the round's loop.
type legEvent struct {
	a  *attempt
	ev channel.Progress
}

// round is one try_calling: the members rung for a caller, and how it
// ended.
type round struct {
	en       *Engine
	c        *caller
	list     []*attempt
	evs      chan legEvent
	stop     chan struct{}
	ctx      context.Context
	cancel   context.CancelFunc
	hungUp   bool // the caller hung up
	exitKey  bool // the caller left with a digit
	ringTime time.Duration
}

// tryCalling rings the caller's members for the queue's timeout
// (try_calling) and, when one answers, connects them.
func (en *Engine) tryCalling(c *caller, tries *int) result {
	now := time.Now()
	if c.expired(now) {
		return result{}
	}
	en.mu.Lock()
	q := c.q
	if c.o.NoRetry {
		switch q.p.Strategy {
		case queueconf.RRMemory, queueconf.Linear, queueconf.RROrdered:
			(*tries)++
		default:
			*tries = len(q.members)
		}
	}
	r := &round{en: en, c: c}
	for i, m := range q.members {
		if metric, ok := calcMetric(q, m, i, c, now); ok {
			r.list = append(r.list, &attempt{m: m, metric: metric, still: true})
		}
	}
	// The application's timeout wins over the queue's unless
	// timeoutpriority=conf.
	to := time.Duration(-1)
	switch {
	case !q.p.TimeoutPriorityConf && !c.expire.IsZero() && (q.p.Timeout == 0 || c.expire.Sub(now) <= time.Duration(q.p.Timeout)*time.Second):
		to = c.expire.Sub(now)
	case q.p.Timeout > 0:
		to = time.Duration(q.p.Timeout) * time.Second
	}
	c.pending = true
	en.mu.Unlock()

	r.evs = make(chan legEvent, 8*len(r.list)+1)
	r.stop = make(chan struct{})
	r.ctx, r.cancel = context.WithCancel(c.e.Ctx)
	busies := 0
	r.ringOne(&busies)
	peer := r.waitForAnswer(to, &busies)

	en.mu.Lock()
	switch q.p.Strategy {
	case queueconf.RRMemory, queueconf.RROrdered:
		storeNextRR(q, r.best())
	case queueconf.Linear:
		storeNextLinear(c, r.best())
	}
	c.tried = map[*member]bool{}
	for _, a := range r.list {
		if a.leg != nil {
			c.tried[a.m] = true
		}
	}
	en.mu.Unlock()
	if peer == nil {
		r.end(nil)
		en.mu.Lock()
		c.pending = false
		en.wakeLocked(q)
		en.mu.Unlock()
		switch {
		case r.hungUp:
			return result{true, Outcome{Hangup: true}}
		case r.exitKey:
			return result{true, Outcome{ExitKey: c.digits}}
		}
		return result{}
	}
	return en.connect(c, r, peer)
}

// best is find_best: the untried member with the lowest metric.
func (r *round) best() *attempt {
	var best *attempt
	for _, a := range r.list {
		if a.still && a.leg == nil && (best == nil || a.metric < best.metric) {
			best = a
		}
	}
	return best
}

// ringOne is ring_one: ring the best member (every member of the best
// metric with ringall) until one could be rung.
func (r *round) ringOne(busies *int) bool {
	ok := false
	for !ok {
		best := r.best()
		if best == nil {
			break
		}
		if r.c.q.p.Strategy == queueconf.RingAll {
			for _, a := range r.list {
				if a.still && a.leg == nil && a.metric <= best.metric {
					ok = r.ringEntry(a, busies) || ok
				}
			}
		} else {
			ok = r.ringEntry(best, busies)
		}
		if r.c.expired(time.Now()) {
			return false
		}
	}
	return ok
}

// ringEntry is ring_entry: check the member may be rung, then place a leg
// to it through the channel technologies.
func (r *round) ringEntry(a *attempt, busies *int) bool {
	en, c := r.en, r.c
	en.mu.Lock()
	if !en.canRingLocked(c, a) {
		a.still = false
		*busies++
		en.mu.Unlock()
		return false
	}
	en.mu.Unlock()
	num, name := c.ch.CallerID()
	leg, err := en.o.Techs.Request(r.ctx, a.m.iface, channel.Request{Parent: c.ch, CallerNum: num, CallerName: name})
	if err != nil {
		c.ch.Log().Info("queue: could not call member", "queue", c.q.name, "member", a.m.iface, "err", err)
		en.mu.Lock()
		c.q.rrpos++
		c.linpos++
		en.releaseLocked(a)
		en.mu.Unlock()
		a.still = false
		*busies++
		return false
	}
	a.leg, a.started = leg, time.Now()
	_, res, _ := channel.SplitDialString(a.m.iface)
	leg.Channel.SetVar("DIALEDPEERNUMBER", res)
	c.ch.PublishWith(events.Event{Kind: events.AgentCalled, Queue: &events.Queue{Queue: c.q.name, Interface: a.m.iface, MemberName: a.m.name}}, leg.Channel)
	c.ch.PublishWith(events.Event{Kind: events.DialBegin, DialString: a.m.iface}, leg.Channel)
	go r.forward(a)
	return true
}

// forward passes a leg's progress to the round until its last event or
// the end of the round.
func (r *round) forward(a *attempt) {
	for {
		select {
		case ev, ok := <-a.leg.Events:
			if !ok {
				return
			}
			select {
			case r.evs <- legEvent{a, ev}:
			case <-r.stop:
				return
			}
			if ev.Kind == channel.Answered || ev.Kind == channel.Failed {
				return
			}
		case <-r.stop:
			return
		}
	}
}

// canRingLocked is can_ring_entry.
func (en *Engine) canRingLocked(c *caller, a *attempt) bool {
	m := a.m
	now := time.Now()
	if m.paused {
		return false
	}
	if !m.ringinuse && m.status != NotInUse && m.status != Unknown {
		return false
	}
	wq := c.q
	if m.lastqueue != nil {
		wq = m.lastqueue
	}
	if w := m.wrapup(wq); w > 0 && !m.lastcall.IsZero() && now.Sub(m.lastcall) < w {
		return false
	}
	if en.compareWeightLocked(c.q, m, now) {
		return false
	}
	if en.general.ForceLongestWaitingCaller != 0 && !en.longestWaitingLocked(c, m) {
		return false
	}
	if !m.ringinuse {
		k := deviceKey(m.q.tenant, m.iface)
		if en.pending[k] > 0 {
			return false // another caller is ringing it
		}
		en.pending[k]++
		a.pending = true
	}
	return true
}

// releaseLocked gives back an attempt's pending mark.
func (en *Engine) releaseLocked(a *attempt) {
	if !a.pending {
		return
	}
	a.pending = false
	k := deviceKey(a.m.q.tenant, a.m.iface)
	if en.pending[k]--; en.pending[k] <= 0 {
		delete(en.pending, k)
	}
	en.wakeLocked(a.m.q)
}

// compareWeightLocked is compare_weight: another queue of higher weight
// sharing the member has as many callers as available members, so this
// queue waits.
func (en *Engine) compareWeightLocked(rq *queue, m *member, now time.Time) bool {
	if rq.p.Weight == 0 && !en.anyWeightLocked() {
		return false
	}
	for _, q := range en.queues {
		if q == rq || q.dead || q.tenant != rq.tenant || len(q.callers) == 0 || q.p.Weight <= rq.p.Weight {
			continue
		}
		if findMemberLocked(q, m.iface) != nil && len(q.callers) >= numAvailable(q, now) {
			return true
		}
	}
	return false
}

func (en *Engine) anyWeightLocked() bool {
	for _, q := range en.queues {
		if q.p.Weight > 0 {
			return true
		}
	}
	return false
}

// longestWaitingLocked is is_longest_waiting_caller
// (force_longest_waiting_caller).
func (en *Engine) longestWaitingLocked(c *caller, m *member) bool {
	for _, q := range en.queues {
		if q == c.q || q.dead || q.tenant != c.q.tenant || q.p.Weight != c.q.p.Weight || len(q.callers) == 0 || findMemberLocked(q, m.iface) == nil {
			continue
		}
		for _, o := range q.callers {
			if o.pending {
				continue
			}
			if o.prio != c.prio && en.general.ForceLongestWaitingCaller == 2 {
				if o.prio > c.prio {
					return false
				}
			} else if o.start.Before(c.start) {
				return false
			}
			break
		}
	}
	return true
}

// waitForAnswer is wait_for_answer: follow the legs until one answers,
// all fail, the round times out (to < 0: never), or the caller hangs up
// or leaves with a digit.
func (r *round) waitForAnswer(to time.Duration, busies *int) *attempt {
	c := r.c
	p := c.q.p
	var deadline <-chan time.Time
	var timer *time.Timer
	start := time.Now()
	if to >= 0 {
		timer = time.NewTimer(to)
		defer timer.Stop()
		deadline = timer.C
	}
	remaining := func() time.Duration {
		if to < 0 {
			return time.Hour
		}
		return to - time.Since(start)
	}
	next := func() {
		// One member at a time: the next one, if there is time for it.
		if p.Strategy == queueconf.RingAll {
			return
		}
		if p.TimeoutRestart && timer != nil {
			start = time.Now()
			timer.Reset(to)
		}
		if remaining() > 500*time.Millisecond {
			r.ringOne(busies)
		}
	}
	dtmf := c.dtmf()
	for {
		live := 0
		for _, a := range r.list {
			if a.still && a.leg != nil && !a.done {
				live++
			}
		}
		if live == 0 && p.Strategy == queueconf.RingAll && r.ringOne(busies) {
			continue // the next penalty level
		}
		if live == 0 {
			return nil // everyone is busy, or nobody is left to ring
		}
		select {
		case le := <-r.evs:
			a := le.a
			if a.done {
				continue
			}
			switch le.ev.Kind {
			case channel.Answered:
				r.ringTime = time.Since(a.started)
				c.ch.PublishWith(events.Event{Kind: events.DialEnd, DialStatus: "ANSWER"}, a.leg.Channel)
				return a
			case channel.Ringing:
				c.ch.PublishWith(events.Event{Kind: events.DialState, DialStatus: "RINGING"}, a.leg.Channel)
				if c.o.RingWhenRinging {
					r.en.unhold(c)
					_ = c.ch.Indicate(channel.IndicateRinging)
				}
			case channel.Failed:
				status, autopause := "NOANSWER", true
				switch le.ev.Cause {
				case q850.UserBusy:
					status, autopause = "BUSY", p.AutoPauseBusy
					*busies++
				case q850.Congestion, q850.SwitchCongestion:
					status, autopause = "CONGESTION", p.AutoPauseUnavail
					*busies++
				}
				c.ch.PublishWith(events.Event{Kind: events.DialEnd, DialStatus: status}, a.leg.Channel)
				r.rna(a, time.Since(a.started), autopause)
				r.hangup(a, 0)
				a.still = false
				next()
			}
		case <-deadline:
			for _, a := range r.list {
				if a.leg != nil && !a.done {
					r.rna(a, to, true)
				}
			}
			r.dialEnd("NOANSWER")
			return nil
		case <-c.e.Ctx.Done():
			r.hungUp = true
			r.cancelled()
			return nil
		case d := <-dtmf:
			switch {
			case c.o.CallerHangup && d.Digit == '*':
				// The caller gave up this round (app_queue goes on
				// waiting: the round returns as if timed out).
				c.ch.Log().Info("queue: caller pressed * to cancel the ring round")
				r.cancelled()
				return nil
			case r.en.validExit(c, d.Digit):
				r.exitKey = true
				r.cancelled()
				return nil
			}
		}
	}
}

// cancelled ends a round the caller left: DialEnd CANCEL and RINGCANCELED
// for each ringing member.
func (r *round) cancelled() {
	c := r.c
	for _, a := range r.list {
		if a.leg != nil && !a.done {
			c.ch.PublishWith(events.Event{Kind: events.DialEnd, DialStatus: "CANCEL"}, a.leg.Channel)
			r.en.logRow(c.q.tenant, c.q.name, c.ch.UniqueID, a.m.name, "RINGCANCELED", strconv.FormatInt(time.Since(a.started).Milliseconds(), 10))
		}
	}
}

// dialEnd publishes DialEnd for every leg still ringing.
func (r *round) dialEnd(status string) {
	for _, a := range r.list {
		if a.leg != nil && !a.done {
			r.c.ch.PublishWith(events.Event{Kind: events.DialEnd, DialStatus: status}, a.leg.Channel)
		}
	}
}

// rna is rna(): AgentRingNoAnswer, RINGNOANSWER and the auto-pause.
func (r *round) rna(a *attempt, rang time.Duration, autopause bool) {
	c := r.c
	en := r.en
	q := c.q
	if c.o.RingWhenRinging {
		en.hold(c)
	}
	ms := int(rang.Milliseconds())
	c.ch.PublishWith(events.Event{Kind: events.AgentRingNoAnswer, Queue: &events.Queue{Queue: q.name, Interface: a.m.iface, MemberName: a.m.name, RingTime: ms}}, a.leg.Channel)
	en.logRow(q.tenant, q.name, c.ch.UniqueID, a.m.name, "RINGNOANSWER", strconv.Itoa(ms))
	if q.p.AutoPause == queueconf.AutoPauseOff || !autopause {
		return
	}
	en.mu.Lock()
	defer en.mu.Unlock()
	if q.p.AutoPauseDelay > 0 && !a.m.lastcall.IsZero() && time.Since(a.m.lastcall) < time.Duration(q.p.AutoPauseDelay)*time.Second {
		return
	}
	if q.p.AutoPause == queueconf.AutoPauseOn {
		if !a.m.paused {
			en.setPausedLocked(a.m, true, "Auto-Pause")
		}
		return
	}
	for _, oq := range en.scopeQueuesLocked(q.tenant, "") {
		if m := findMemberLocked(oq, a.m.iface); m != nil && !m.paused {
			en.setPausedLocked(m, true, "Auto-Pause")
		}
	}
}

// hangup ends an attempt's leg (do_hang) with cause (0: normal clearing,
// or answered elsewhere with the C option).
func (r *round) hangup(a *attempt, cause int) {
	if a.leg == nil || a.done {
		return
	}
	a.done = true
	if cause == 0 {
		cause = q850.NormalClearing
		if r.c.o.MarkAnsweredElsewhere {
			cause = q850.AnsweredElsewhere
		}
	}
	a.leg.Channel.Hangup(cause)
	r.c.e.PBX.Destroy(a.leg.Channel)
	r.en.mu.Lock()
	r.en.releaseLocked(a)
	r.en.mu.Unlock()
}

// end hangs up every leg but keep (hangupcalls) and stops the round's
// goroutines.
func (r *round) end(keep *attempt) {
	for _, a := range r.list {
		if a != keep {
			cause := 0
			if keep != nil {
				cause = q850.AnsweredElsewhere
			}
			r.hangup(a, cause)
		}
	}
	select {
	case <-r.stop:
	default:
		close(r.stop)
	}
	if keep == nil {
		r.cancel()
	}
}

// connect is try_calling once a member answered: hold-time bookkeeping,
// the member's announcements, the caller leaves the queue, CONNECT and
// AgentConnect, the bridge, then COMPLETE* and AgentComplete.
func (en *Engine) connect(c *caller, r *round, a *attempt) result {
	q := c.q
	m := a.m
	peer := a.leg.Channel
	now := time.Now()
	hold := int(now.Sub(c.start) / time.Second)
	en.mu.Lock()
	recalcHoldtimeLocked(q, hold)
	inSL := hold <= q.p.ServiceLevel
	m.callCompletedInSL = inSL
	en.mu.Unlock()
	r.end(a)
	defer r.cancel()

	announce := q.p.Announce
	if c.o.AnnounceOverride != "" {
		announce = c.o.AnnounceOverride
	}
	if announce != "" || q.p.ReportHoldtime || q.p.MemberDelay > 0 {
		pe := c.e.PBX.Exec(peer)
		if q.p.MemberDelay > 0 {
			select {
			case <-time.After(time.Duration(q.p.MemberDelay) * time.Second):
			case <-peer.Done():
			case <-c.e.Ctx.Done():
			}
		}
		if announce != "" && en.o.Apps != nil && !peer.IsHungUp() {
			for _, f := range strings.Split(announce, "&") {
				if _, err := en.o.Apps.PlayFile(pe, f, ""); err != nil {
					break
				}
			}
		}
		if q.p.ReportHoldtime && en.o.Apps != nil && !peer.IsHungUp() {
			en.reportHoldtime(pe, q, c)
		}
	}
	switch {
	case peer.IsHungUp():
		// The member hung up on the caller before the bridge.
		peer.Log().Warn("queue: member hung up on the caller", "queue", q.name, "member", m.iface)
		en.logRow(q.tenant, q.name, c.ch.UniqueID, m.name, "AGENTDUMP", "")
		c.ch.PublishWith(events.Event{Kind: events.AgentDump, Queue: &events.Queue{Queue: q.name, Interface: m.iface, MemberName: m.name}}, peer)
		en.release(c, a, peer)
		return result{}
	case c.ch.IsHungUp():
		c.ch.Log().Info("queue: caller hung up just before being connected", "queue", q.name, "member", m.iface)
		return en.abandonConnect(c, a, peer)
	}
	en.unhold(c)
	if err := c.ch.Answer(c.e.Ctx); err != nil {
		return en.abandonConnect(c, a, peer)
	}
	if q.p.SoundCallerAnnounce != "" && en.o.Apps != nil {
		_, _ = en.o.Apps.PlayFile(c.e, q.p.SoundCallerAnnounce, "")
	}
	en.mu.Lock()
	vars := map[string]string{}
	if q.p.SetInterfaceVar {
		dyn, rt := "0", "0"
		if m.kind == kindDynamic {
			dyn = "1"
		}
		if m.kind == kindRealtime {
			rt = "1"
		}
		vars["MEMBERINTERFACE"], vars["MEMBERNAME"], vars["MEMBERCALLS"] = m.iface, m.name, itoa(m.calls)
		vars["MEMBERLASTCALL"], vars["MEMBERPENALTY"] = strconv.FormatInt(unix(m.lastcall), 10), itoa(m.penalty)
		vars["MEMBERDYNAMIC"], vars["MEMBERREALTIME"] = dyn, rt
	}
	if q.p.SetQueueEntryVar {
		vars["QEHOLDTIME"], vars["QEORIGINALPOS"] = secs(c.start), itoa(c.opos)
	}
	qvars := queueVarsLocked(q)
	en.leaveLocked(c)
	c.handled++
	m.starttime = time.Now()
	starttime := m.starttime
	en.mu.Unlock()
	for _, ch := range []*channel.Channel{c.ch, peer} {
		for _, k := range sortedKeys(vars) {
			ch.SetVar(k, vars[k])
		}
		for _, kv := range qvars {
			ch.SetVar(kv[0], kv[1])
		}
	}
	gosub := c.o.Gosub
	if gosub == "" {
		gosub = q.p.MemberGosub
	}
	if gosub != "" {
		en.memberGosub(c, peer, gosub)
	}
	if c.o.AGI != "" {
		if err := c.e.Run("AGI", c.o.AGI); err != nil {
			c.ch.Log().Warn("queue: AGI on the caller failed", "err", err)
		}
	}
	ringSecs := int(r.ringTime / time.Second)
	holdSecs := int(time.Since(c.start) / time.Second)
	en.logRow(q.tenant, q.name, c.ch.UniqueID, m.name, "CONNECT", itoa(holdSecs), peer.UniqueID, itoa(ringSecs))
	setDuration(c.ch, "QUEUEWAIT", time.Since(c.start))
	c.ch.PublishWith(events.Event{Kind: events.AgentConnect, Queue: &events.Queue{Queue: q.name, Interface: m.iface, MemberName: m.name,
		HoldTime: holdSecs, RingTime: ringSecs}}, peer)
	c.e.SetDialResult(peer.Name, starttime, "ANSWER")
	c.ch.SetVar("DIALEDPEERNAME", peer.Name)
	res, err := en.o.Apps.Bridge(c.e, peer, apps.BridgeOptions{CalleeTransfer: c.o.CalleeTransfer, CallerTransfer: c.o.CallerTransfer,
		CalleeHangup: c.o.CalleeHangup, CallerHangup: c.o.CallerHangup})
	talk := time.Since(starttime)
	setDuration(c.ch, "ANSWEREDTIME", talk)
	setDuration(c.ch, "DIALEDTIME", time.Since(c.ch.Created))
	reason, event := "agent", "COMPLETEAGENT"
	switch {
	case res.CallerTo != "" || res.CalleeTo != "":
		reason, event = "transfer", "BLINDTRANSFER"
	case err != nil || res.CallerDisconnect:
		reason, event = "caller", "COMPLETECALLER"
	}
	if event == "BLINDTRANSFER" {
		ctxName, _, _ := c.ch.Location()
		exten := res.CallerTo + res.CalleeTo
		en.logRow(q.tenant, q.name, c.ch.UniqueID, m.name, event, exten, tenancy.BareContext(c.ch.Tenant(), ctxName), itoa(holdSecs), itoa(int(talk/time.Second)), itoa(c.opos))
	} else {
		en.logRow(q.tenant, q.name, c.ch.UniqueID, m.name, event, itoa(holdSecs), itoa(int(talk/time.Second)), itoa(c.opos))
	}
	c.ch.PublishWith(events.Event{Kind: events.AgentComplete, Queue: &events.Queue{Queue: q.name, Interface: m.iface, MemberName: m.name,
		HoldTime: holdSecs, TalkTime: int(talk / time.Second), Reason: reason}}, peer)
	en.completed(q, m, a, inSL, starttime)

	out := Outcome{Answered: true, Member: m.iface}
	switch {
	case res.CallerTo != "":
		// The member sent the caller to an extension: it goes on there.
		peer.Hangup(q850.NormalClearing)
		c.e.PBX.Destroy(peer)
		ctxName, _, _ := c.ch.Location()
		if err := c.e.Goto(ctxName, res.CallerTo, "1"); err == nil {
			out.CallerTo = res.CallerTo
			return result{true, out}
		}
		out.Hangup = true
	case res.CalleeTo != "":
		// The caller sent the member away: the member's leg runs the
		// dialplan there; the caller is done.
		ctxName, _, _ := c.ch.Location()
		peer.SetLocation(ctxName, res.CalleeTo, 1)
		go c.e.PBX.HandleCall(peer)
		c.ch.Hangup(q850.NormalClearing)
		out.Hangup = true
	default:
		c.e.PBX.Destroy(peer)
		if res.CallerDisconnect {
			c.ch.Hangup(q850.NormalClearing)
		}
		out.Hangup = true
	}
	return result{true, out}
}

// abandonConnect ends a connection whose caller left just before it:
// ABANDON naming the member, and the member's leg is released.
func (en *Engine) abandonConnect(c *caller, a *attempt, peer *channel.Channel) result {
	en.mu.Lock()
	en.leaveRowLocked(c, a.m.name, "ABANDON")
	c.handled = -1
	en.mu.Unlock()
	en.release(c, a, peer)
	return result{true, Outcome{Hangup: true}}
}

// release ends a connection that did not happen: the member's leg is
// hung up and the member may be rung again.
func (en *Engine) release(c *caller, a *attempt, peer *channel.Channel) {
	c.ch.PublishWith(events.Event{Kind: events.DialEnd, DialStatus: dialStatus(peer.HangupCause())}, peer)
	peer.Hangup(q850.NormalClearing)
	c.e.PBX.Destroy(peer)
	en.mu.Lock()
	en.releaseLocked(a)
	c.pending = false
	en.wakeLocked(c.q)
	en.mu.Unlock()
}

// dialStatus is ast_hangup_cause_to_dial_status.
func dialStatus(cause int) string {
	switch cause {
	case q850.UserBusy:
		return "BUSY"
	case q850.NoAnswer, q850.NoUserResponse:
		return "NOANSWER"
	case q850.Congestion:
		return "CONGESTION"
	}
	return "CHANUNAVAIL"
}

// completed is update_queue: the member's call count and last call (in
// every queue with shared_lastcall), the queue's completed calls and
// talk time; the wrap-up starts, and callers are woken when it ends.
func (en *Engine) completed(q *queue, m *member, a *attempt, inSL bool, starttime time.Time) {
	en.mu.Lock()
	defer en.mu.Unlock()
	if !m.starttime.Equal(starttime) {
		return
	}
	m.starttime = time.Time{}
	now := time.Now()
	talk := int(now.Sub(starttime) / time.Second)
	targets := []*member{m}
	if en.general.SharedLastCall {
		targets = nil
		for _, oq := range en.scopeQueuesLocked(q.tenant, "") {
			if om := findMemberLocked(oq, m.iface); om != nil {
				targets = append(targets, om)
			}
		}
	}
	for _, t := range targets {
		t.lastcall = now
		t.calls++
		t.callCompletedInSL = false
		t.lastqueue = q
	}
	q.completed++
	if inSL {
		q.completedInSL++
	}
	if q.completed == 1 {
		q.talktime = talk
	} else {
		q.talktime = (q.talktime*3 + talk) >> 2
	}
	en.releaseLocked(a)
	for _, t := range targets {
		if w := t.wrapup(q); w > 0 {
			tq := t.q
			en.afterLocked(w+10*time.Millisecond, func() {
				en.mu.Lock()
				en.wakeLocked(tq)
				en.mu.Unlock()
			})
		}
		en.wakeLocked(t.q)
	}
}

// reportHoldtime tells the member how long the caller waited
// (reportholdtime): queue-reporthold, then the minutes and the seconds.
func (en *Engine) reportHoldtime(pe *pbx.Exec, q *queue, c *caller) {
	lang := pe.Ch.Language()
	if _, err := en.o.Apps.PlayFile(pe, q.p.SoundReportHold, ""); err != nil {
		return
	}
	waited := int(time.Since(c.start) / time.Second)
	var files []string
	if mins := waited / 60; mins > 0 {
		if f, err := prompts.SayNumber(int64(mins), lang, "n"); err == nil {
			files = append(append(files, f...), q.p.SoundMinutes)
		}
	}
	if s := waited % 60; s > 1 {
		if f, err := prompts.SayNumber(int64(s), lang, "n"); err == nil {
			files = append(append(files, f...), q.p.SoundSeconds)
		}
	}
	_, _ = en.o.Apps.PlayFiles(pe, files, "")
}

// memberGosub runs the queue's (or Queue()'s) gosub on the member's leg:
// "context[,args]" from its s extension.
func (en *Engine) memberGosub(c *caller, peer *channel.Channel, spec string) {
	ctxName, argstr, _ := strings.Cut(spec, ",")
	q, ok := c.e.QualifyContext(strings.TrimSpace(ctxName))
	if !ok {
		return
	}
	var args []string
	if argstr != "" {
		args = strings.Split(argstr, ",")
	}
	pe := c.e.PBX.Exec(peer)
	pe.RunSubroutine(q, "s", 1, args)
}

// queueVarsLocked is set_queue_variables (setqueuevar).
func queueVarsLocked(q *queue) [][2]string {
	if !q.p.SetQueueVar {
		return nil
	}
	sl := 0.0
	if q.completed > 0 {
		sl = 100 * float64(q.completedInSL) / float64(q.completed)
	}
	return [][2]string{{"QUEUENAME", q.name}, {"QUEUEMAX", itoa(q.p.Maxlen)}, {"QUEUESTRATEGY", q.p.Strategy.String()},
		{"QUEUECALLS", itoa(len(q.callers))}, {"QUEUEHOLDTIME", itoa(q.holdtime)}, {"QUEUETALKTIME", itoa(q.talktime)},
		{"QUEUECOMPLETED", itoa(q.completed)}, {"QUEUEABANDONED", itoa(q.abandoned)}, {"QUEUESRVLEVEL", itoa(q.p.ServiceLevel)},
		{"QUEUESRVLEVELPERF", strconv.FormatFloat(sl, 'f', 1, 64)}}
}

func sortedKeys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
