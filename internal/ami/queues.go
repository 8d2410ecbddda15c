package ami

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/entvoice/entvoice/internal/control"
	"github.com/entvoice/entvoice/internal/events"
)

// app_queue's actions (apps/app_queue.c manager_*), on the node's queues
// (Options.Queues). Central's cluster-wide AMI has none: it answers as an
// Asterisk without queues (empty lists, "No such queue").

// queueActions are the queue actions with app_queue's authorities.
func queueActions() []action {
	return []action{
		{"QueueStatus", 0, "Show queue status.", (*session).queueStatus},
		{"QueueSummary", 0, "Show queue summary.", (*session).queueSummary},
		{"QueueAdd", ClassAgent, "Add interface to queue.", (*session).queueAdd},
		{"QueueRemove", ClassAgent, "Remove interface from queue.", (*session).queueRemove},
		{"QueuePause", ClassAgent, "Makes a queue member temporarily unavailable.", (*session).queuePause},
		{"QueueLog", ClassAgent, "Adds custom entry in queue_log.", (*session).queueLog},
		{"QueuePenalty", ClassAgent, "Set the penalty for a queue member.", (*session).queuePenalty},
		{"QueueMemberRingInUse", ClassAgent, "Set the ringinuse value for a queue member.", (*session).queueRingInUse},
		{"QueueRule", 0, "Queue Rules.", (*session).queueRule},
		{"QueueReload", 0, "Reload a queue, queues, or any sub-section of a queue or queues.", (*session).queueReload},
		{"QueueReset", 0, "Reset queue statistics.", (*session).queueReset},
		{"QueueChangePriorityCaller", 0, "Change priority of a caller on queue.", (*session).queueChangePriority},
		{"QueueWithdrawCaller", 0, "Request to withdraw a caller from the queue back to the dialplan.", (*session).queueWithdraw},
	}
}

// queueStatus is manager_queues_status: QueueParams, QueueMember and
// QueueEntry items (no Privilege, ActionID last), then
// QueueStatusComplete.
func (ss *session) queueStatus(m *Message) bool {
	var list []control.QueueStatus
	if q := ss.srv.o.Queues; q != nil {
		list = q.QueueStatus(ss.tenant, m.Get("Queue"))
	}
	if name := m.Get("Queue"); name != "" {
		list = filterQueues(list, name)
	}
	ss.reply(listAck(m, "Queue status will follow"))
	id := m.Get("ActionID")
	tail := func(w *builder) []byte {
		if id != "" {
			w.h("ActionID", id)
		}
		return w.end()
	}
	memberFilter := m.Get("Member")
	items := 0
	for _, q := range list {
		w := &builder{}
		w.h("Event", "QueueParams")
		w.h("Queue", q.Name)
		w.h("Max", strconv.Itoa(q.Max))
		w.h("Strategy", q.Strategy)
		w.h("Calls", strconv.Itoa(q.Calls))
		w.h("Holdtime", strconv.Itoa(q.Holdtime))
		w.h("TalkTime", strconv.Itoa(q.TalkTime))
		w.h("Completed", strconv.Itoa(q.Completed))
		w.h("Abandoned", strconv.Itoa(q.Abandoned))
		w.h("ServiceLevel", strconv.Itoa(q.ServiceLevel))
		w.h("ServicelevelPerf", perf(q.CompletedInSL, q.Completed))
		w.h("ServicelevelPerf2", perf(q.CompletedInSL+q.AbandonedInSL, q.Completed+q.Abandoned))
		w.h("Weight", strconv.Itoa(q.Weight))
		ss.reply(tail(w))
		items++
		for _, mb := range q.Members {
			if memberFilter != "" && mb.Interface != memberFilter && mb.Name != memberFilter {
				continue
			}
			w := &builder{}
			w.h("Event", "QueueMember")
			w.h("Queue", q.Name)
			w.h("Name", mb.Name)
			w.h("Location", mb.Interface)
			w.h("StateInterface", mb.StateInterface)
			// QueueStatus says dynamic or static (a realtime member is
			// "static" there, unlike the member events).
			membership := "static"
			if mb.Membership == "dynamic" {
				membership = "dynamic"
			}
			w.h("Membership", membership)
			w.h("Penalty", strconv.Itoa(mb.Penalty))
			w.h("CallsTaken", strconv.Itoa(mb.CallsTaken))
			w.h("LastCall", unixOrZero(mb.LastCall.Unix(), mb.LastCall.IsZero()))
			w.h("LastPause", unixOrZero(mb.LastPause.Unix(), mb.LastPause.IsZero()))
			w.h("LoginTime", unixOrZero(mb.LoginTime.Unix(), mb.LoginTime.IsZero()))
			w.h("InCall", boolInt(mb.InCall))
			w.h("Status", strconv.Itoa(mb.Status))
			w.h("Paused", boolInt(mb.Paused))
			w.h("PausedReason", clean(mb.PausedReason))
			w.h("Wrapuptime", strconv.Itoa(mb.Wrapuptime))
			ss.reply(tail(w))
			items++
		}
		for _, c := range q.Callers {
			w := &builder{}
			w.h("Event", "QueueEntry")
			w.h("Queue", q.Name)
			w.h("Position", strconv.Itoa(c.Position))
			w.h("Channel", c.Channel)
			w.h("Uniqueid", c.UniqueID)
			w.h("CallerIDNum", orUnknownLower(clean(c.CallerIDNum)))
			w.h("CallerIDName", orUnknownLower(clean(c.CallerIDName)))
			w.h("ConnectedLineNum", orUnknownLower(clean(c.ConnectedLineNum)))
			w.h("ConnectedLineName", orUnknownLower(clean(c.ConnectedLineName)))
			w.h("Wait", strconv.FormatInt(int64(c.Wait.Seconds()), 10))
			w.h("Priority", strconv.Itoa(c.Priority))
			ss.reply(tail(w))
			items++
		}
	}
	ss.reply(listComplete(m, "QueueStatusComplete", items))
	return true
}

// filterQueues keeps the queue named (case-insensitive, as app_queue).
func filterQueues(list []control.QueueStatus, name string) []control.QueueStatus {
	var out []control.QueueStatus
	for _, q := range list {
		if strings.EqualFold(q.Name, name) {
			out = append(out, q)
		}
	}
	return out
}

// perf is "%2.1f" of a percentage (0 when of is 0).
func perf(n, of int) string {
	if of == 0 {
		return "0.0"
	}
	return fmt.Sprintf("%2.1f", 100*float64(n)/float64(of))
}

func unixOrZero(v int64, zero bool) string {
	if zero {
		return "0"
	}
	return strconv.FormatInt(v, 10)
}

func boolInt(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

// orUnknownLower is app_queue's S_COR(..., "unknown").
func orUnknownLower(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}

// queueSummary is manager_queues_summary.
func (ss *session) queueSummary(m *Message) bool {
	var list []control.QueueStatus
	if q := ss.srv.o.Queues; q != nil {
		list = q.QueueStatus(ss.tenant, m.Get("Queue"))
	}
	if name := m.Get("Queue"); name != "" {
		list = filterQueues(list, name)
	}
	ss.reply(listAck(m, "Queue summary will follow"))
	id := m.Get("ActionID")
	for _, q := range list {
		logged, avail, longest := 0, 0, 0
		for _, mb := range q.Members {
			if mb.Status != 5 && mb.Status != 4 { // UNAVAILABLE, INVALID
				logged++
				if (mb.Status == 1 || mb.Status == 0) && !mb.Paused { // NOT_INUSE, UNKNOWN
					avail++
				}
			}
		}
		for _, c := range q.Callers {
			longest = max(longest, int(c.Wait.Seconds()))
		}
		w := &builder{}
		w.h("Event", "QueueSummary")
		w.h("Queue", q.Name)
		w.h("LoggedIn", strconv.Itoa(logged))
		w.h("Available", strconv.Itoa(avail))
		w.h("Callers", strconv.Itoa(len(q.Callers)))
		w.h("HoldTime", strconv.Itoa(q.Holdtime))
		w.h("TalkTime", strconv.Itoa(q.TalkTime))
		w.h("LongestHoldTime", strconv.Itoa(longest))
		if id != "" {
			w.h("ActionID", id)
		}
		ss.reply(w.end())
	}
	ss.reply(listComplete(m, "QueueSummaryComplete", len(list)))
	return true
}

// queues returns the node's queues, or answers as an Asterisk without the
// queue (no queues: "No such queue").
func (ss *session) queues() control.Queues {
	if q := ss.srv.o.Queues; q != nil {
		return q
	}
	return noQueues{}
}

// noQueues is central's: no queue exists.
type noQueues struct{}

var _ control.Queues = noQueues{}

func (noQueues) QueueStatus(string, string) []control.QueueStatus { return nil }
func (noQueues) AddMember(string, string, control.QueueMemberSpec) error {
	return control.ErrNoQueue
}
func (noQueues) RemoveMember(string, string, string) error { return control.ErrNoQueue }
func (noQueues) PauseMember(string, string, string, string, bool) error {
	return control.ErrNoMember
}
func (noQueues) SetPenalty(string, string, string, int) error             { return control.ErrNoMember }
func (noQueues) SetRingInUse(string, string, string, bool) error          { return control.ErrNoMember }
func (noQueues) Log(string, string, string, string, string, string) error { return nil }
func (noQueues) ResetStats(string, string) error                          { return control.ErrNoQueue }
func (noQueues) Rules(string) []control.QueueRuleList                     { return nil }
func (noQueues) WithdrawCaller(string, string, string, string) error {
	return control.ErrNoQueue
}
func (noQueues) ChangeCallerPriority(string, string, string, int, bool) error {
	return control.ErrNoQueue
}

// queueAdd is manager_add_queue_member.
func (ss *session) queueAdd(m *Message) bool {
	if !ss.needs(m, "Queue", "Interface") {
		return true
	}
	queue, iface := m.Get("Queue"), m.Get("Interface")
	atoi0 := func(s string) int {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 0 {
			return 0
		}
		return n
	}
	spec := control.QueueMemberSpec{Interface: iface, MemberName: m.Get("MemberName"), StateInterface: m.Get("StateInterface"),
		Penalty: atoi0(m.Get("Penalty")), Paused: isTrue(m.Get("Paused")), Reason: m.Get("Reason"),
		Wrapuptime: atoi0(m.Get("Wrapuptime")), Source: "MANAGER"}
	switch err := ss.queues().AddMember(ss.tenant, queue, spec); {
	case err == nil:
		ss.reply(ack(m, "Added interface to queue"))
	case errors.Is(err, control.ErrMemberExists):
		ss.reply(errorResponse(m, "Unable to add interface: Already there"))
	case errors.Is(err, control.ErrNoQueue):
		ss.reply(errorResponse(m, "Unable to add interface to queue: No such queue"))
	default:
		// An interface that is not Tech/resource: Asterisk adds it and
		// warns; entVoice refuses what it could never ring.
		ss.reply(errorResponse(m, "Unable to add interface to queue: "+err.Error()))
	}
	return true
}

// queueRemove is manager_remove_queue_member.
func (ss *session) queueRemove(m *Message) bool {
	queue, iface := m.Get("Queue"), m.Get("Interface")
	if queue == "" || iface == "" {
		ss.reply(errorResponse(m, "Need 'Queue' and 'Interface' parameters."))
		return true
	}
	switch err := ss.queues().RemoveMember(ss.tenant, queue, iface); {
	case err == nil:
		ss.reply(ack(m, "Removed interface from queue"))
	case errors.Is(err, control.ErrNoMember):
		ss.reply(errorResponse(m, "Unable to remove interface: Not there"))
	case errors.Is(err, control.ErrNoQueue):
		ss.reply(errorResponse(m, "Unable to remove interface from queue: No such queue"))
	case errors.Is(err, control.ErrNotDynamic):
		ss.reply(errorResponse(m, "Member not dynamic"))
	default:
		ss.reply(errorResponse(m, err.Error()))
	}
	return true
}

// queuePause is manager_pause_queue_member.
func (ss *session) queuePause(m *Message) bool {
	iface, pausedS := m.Get("Interface"), m.Get("Paused")
	if iface == "" || pausedS == "" {
		ss.reply(errorResponse(m, "Need 'Interface' and 'Paused' parameters."))
		return true
	}
	paused := isTrue(pausedS)
	if err := ss.queues().PauseMember(ss.tenant, m.Get("Queue"), iface, m.Get("Reason"), paused); err != nil {
		ss.reply(errorResponse(m, "Interface not found"))
		return true
	}
	if paused {
		ss.reply(ack(m, "Interface paused successfully"))
	} else {
		ss.reply(ack(m, "Interface unpaused successfully"))
	}
	return true
}

// queueLog is manager_queue_log_custom.
func (ss *session) queueLog(m *Message) bool {
	queue, event := m.Get("Queue"), m.Get("Event")
	if queue == "" || event == "" {
		ss.reply(errorResponse(m, "Need 'Queue' and 'Event' parameters."))
		return true
	}
	callid := m.Get("UniqueId")
	if callid == "" {
		callid = "NONE"
	}
	if err := ss.queues().Log(ss.tenant, queue, callid, m.Get("Interface"), event, m.Get("Message")); err != nil {
		ss.reply(errorResponse(m, err.Error()))
		return true
	}
	ss.reply(ack(m, "Event added successfully"))
	return true
}

// queuePenalty is manager_queue_member_penalty.
func (ss *session) queuePenalty(m *Message) bool {
	iface, penS := m.Get("Interface"), m.Get("Penalty")
	if iface == "" || penS == "" {
		ss.reply(errorResponse(m, "Need 'Interface' and 'Penalty' parameters."))
		return true
	}
	pen, err := strconv.Atoi(strings.TrimSpace(penS))
	if err != nil || ss.queues().SetPenalty(ss.tenant, m.Get("Queue"), iface, pen) != nil {
		ss.reply(errorResponse(m, "Invalid interface, queuename or penalty"))
		return true
	}
	ss.reply(ack(m, "Interface penalty set successfully"))
	return true
}

// queueRingInUse is manager_queue_member_ringinuse.
func (ss *session) queueRingInUse(m *Message) bool {
	iface, v := m.Get("Interface"), m.Get("RingInUse")
	if iface == "" || v == "" {
		ss.reply(errorResponse(m, "Need 'Interface' and 'RingInUse' parameters."))
		return true
	}
	var on bool
	switch {
	case isTrue(v):
		on = true
	case isFalse(v):
	default:
		ss.reply(errorResponse(m, "'RingInUse' parameter must be a truth value (yes/no, on/off, 0/1, etc)"))
		return true
	}
	if ss.queues().SetRingInUse(ss.tenant, m.Get("Queue"), iface, on) != nil {
		// Asterisk's text ends with a line feed inside the header.
		ss.reply(errorResponse(m, "Invalid interface, queuename, or ringinuse value"))
		return true
	}
	ss.reply(ack(m, "Interface ringinuse set successfully"))
	return true
}

// queueRule is manager_queue_rule_show: a plain response with RuleList
// and Rule lines, ended by two blank lines.
func (ss *session) queueRule(m *Message) bool {
	w := response(m, "Success")
	for _, l := range ss.queues().Rules(m.Get("Rule")) {
		w.h("RuleList", l.Name)
		for _, r := range l.Rules {
			sign := func(rel bool, v int) string {
				if rel && v >= 0 {
					return "+" + strconv.Itoa(v)
				}
				return strconv.Itoa(v)
			}
			w.h("Rule", strconv.Itoa(r.Time)+","+sign(r.MaxRelative, r.MaxValue)+","+sign(r.MinRelative, r.MinValue))
		}
	}
	b := w.end()
	ss.reply(append(b, '\r', '\n'))
	return true
}

// queueReload is manager_queue_reload: queues.conf and queuerules.conf
// are read again (entVoice reloads them whole, whatever Members, Rules
// and Parameters say).
func (ss *session) queueReload(m *Message) bool {
	if err := ss.runReload("app_queue"); err != nil {
		ss.reply(errorResponse(m, "Error encountered while reloading queue"))
		return true
	}
	ss.reply(ack(m, "Queue reloaded successfully"))
	return true
}

// queueReset is manager_queue_reset.
func (ss *session) queueReset(m *Message) bool {
	if err := ss.queues().ResetStats(ss.tenant, m.Get("Queue")); err != nil {
		ss.reply(errorResponse(m, "Error encountered while resetting queue stats"))
		return true
	}
	ss.reply(ack(m, "Queue stats reset successfully"))
	return true
}

// queueChangePriority is manager_change_priority_caller_on_queue.
func (ss *session) queueChangePriority(m *Message) bool {
	if !ss.needs(m, "Queue", "Caller", "Priority") {
		return true
	}
	queue, caller, prioS := m.Get("Queue"), m.Get("Caller"), m.Get("Priority")
	prio, err := strconv.Atoi(strings.TrimSpace(prioS))
	if err != nil {
		ss.reply(errorResponse(m, "'Priority' need integer."))
		return true
	}
	switch err := ss.queues().ChangeCallerPriority(ss.tenant, queue, caller, prio, isTrue(m.Get("Immediate"))); {
	case err == nil:
		ss.reply(ack(m, "Priority change for caller on queue"))
	case errors.Is(err, control.ErrNoCaller):
		ss.reply(errorResponse(m, "Unable to change priority caller on queue: No such caller"))
	default:
		ss.reply(errorResponse(m, "Unable to change priority caller on queue: No such queue"))
	}
	return true
}

// queueWithdraw is manager_request_withdraw_caller_from_queue.
func (ss *session) queueWithdraw(m *Message) bool {
	if !ss.needs(m, "Queue", "Caller") {
		return true
	}
	queue, caller := m.Get("Queue"), m.Get("Caller")
	switch err := ss.queues().WithdrawCaller(ss.tenant, queue, caller, m.Get("WithdrawInfo")); {
	case err == nil:
		ss.reply(ack(m, "Withdraw requested successfully"))
	case errors.Is(err, control.ErrNoCaller):
		ss.reply(errorResponse(m, "Unable to request withdraw from queue: No such caller"))
	case errors.Is(err, control.ErrWithdrawing):
		ss.reply(errorResponse(m, "Unable to request withdraw from queue: Already requested"))
	default:
		ss.reply(errorResponse(m, "Unable to request withdraw from queue: No such queue"))
	}
	return true
}

// needs answers app_queue's "'X' not specified." for the first header
// missing, and reports whether all are there.
func (ss *session) needs(m *Message, headers ...string) bool {
	for _, h := range headers {
		if m.Get(h) == "" {
			ss.reply(errorResponse(m, "'"+h+"' not specified."))
			return false
		}
	}
	return true
}

// isFalse is ast_false.
func isFalse(s string) bool {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "no", "false", "n", "f", "0", "off":
		return true
	}
	return false
}

// renderQueue writes the body of a queue event in app_queue's blob order
// (queue_*_to_ami: the caller's channel block, the member's as Dest, then
// the blob).
func renderQueue(w *builder, e *events.Event) {
	q := e.Queue
	if q == nil {
		return
	}
	if e.Channel != nil {
		w.channelBlock("", e.Channel)
	}
	if e.Dest != nil {
		w.channelBlock("Dest", e.Dest)
	}
	itoa := strconv.Itoa
	switch e.Kind {
	case events.QueueCallerJoin, events.QueueCallerLeave:
		w.h("Queue", q.Queue)
		w.h("Position", itoa(q.Position))
		w.h("Count", itoa(q.Count))
	case events.QueueCallerAbandon:
		w.h("Queue", q.Queue)
		w.h("Position", itoa(q.Position))
		w.h("OriginalPosition", itoa(q.OriginalPosition))
		w.h("HoldTime", itoa(q.HoldTime))
	case events.AgentCalled, events.AgentDump:
		w.h("Queue", q.Queue)
		w.h("Interface", q.Interface)
		w.h("MemberName", q.MemberName)
	case events.AgentRingNoAnswer:
		w.h("Queue", q.Queue)
		w.h("Interface", q.Interface)
		w.h("MemberName", q.MemberName)
		w.h("RingTime", itoa(q.RingTime))
	case events.AgentConnect:
		w.h("Queue", q.Queue)
		w.h("Interface", q.Interface)
		w.h("MemberName", q.MemberName)
		w.h("HoldTime", itoa(q.HoldTime))
		w.h("RingTime", itoa(q.RingTime))
	case events.AgentComplete:
		w.h("Queue", q.Queue)
		w.h("Interface", q.Interface)
		w.h("MemberName", q.MemberName)
		w.h("HoldTime", itoa(q.HoldTime))
		w.h("TalkTime", itoa(q.TalkTime))
		w.h("Reason", q.Reason)
	default: // QueueMember*: queue_member_blob_create
		w.h("Queue", q.Queue)
		w.h("MemberName", q.MemberName)
		w.h("Interface", q.Interface)
		w.h("StateInterface", q.StateInterface)
		w.h("Membership", q.Membership)
		w.h("Penalty", itoa(q.Penalty))
		w.h("CallsTaken", itoa(q.CallsTaken))
		w.h("LastCall", strconv.FormatInt(q.LastCall, 10))
		w.h("LastPause", strconv.FormatInt(q.LastPause, 10))
		w.h("LoginTime", strconv.FormatInt(q.LoginTime, 10))
		w.h("InCall", itoa(q.InCall))
		w.h("Status", itoa(q.Status))
		w.h("Paused", itoa(q.Paused))
		w.h("PausedReason", clean(q.PausedReason))
		w.h("Ringinuse", itoa(q.Ringinuse))
		w.h("Wrapuptime", itoa(q.Wrapuptime))
	}
}

// isQueueEvent reports app_queue's events.
func isQueueEvent(k events.Kind) bool {
	switch k {
	case events.QueueCallerJoin, events.QueueCallerLeave, events.QueueCallerAbandon, events.AgentCalled,
		events.AgentRingNoAnswer, events.AgentConnect, events.AgentComplete, events.AgentDump, events.QueueMemberStatus,
		events.QueueMemberAdded, events.QueueMemberRemoved, events.QueueMemberPause, events.QueueMemberPenalty,
		events.QueueMemberRinginuse:
		return true
	}
	return false
}
