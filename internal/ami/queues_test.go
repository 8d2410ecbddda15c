package ami

import (
	"strings"
	"testing"

	"github.com/entvoice/entvoice/internal/events"
)

// TestRenderQueueEvents: the queue events in app_queue's field order,
// class agent; a member event of a hosted tenant is scoped to it.
func TestRenderQueueEvents(t *testing.T) {
	caller := &events.Snapshot{Channel: "PJSIP/2001-00000001", State: 6, StateDesc: "Up", CallerIDNum: "2001", Language: "en",
		Context: "acme~internal", Exten: "700", Priority: 2, UniqueID: "1.1", LinkedID: "1.1", Tenant: "acme"}
	agent := &events.Snapshot{Channel: "PJSIP/1001-00000002", State: 6, StateDesc: "Up", Language: "en", UniqueID: "1.2", LinkedID: "1.1", Tenant: "acme"}
	keys := func(b []byte) []string {
		var out []string
		for _, l := range strings.Split(strings.TrimRight(string(b), "\r\n"), "\r\n") {
			k, _, _ := strings.Cut(l, ": ")
			out = append(out, k)
		}
		return out
	}
	block := func(p string) []string {
		return []string{p + "Channel", p + "ChannelState", p + "ChannelStateDesc", p + "CallerIDNum", p + "CallerIDName", p + "ConnectedLineNum",
			p + "ConnectedLineName", p + "Language", p + "AccountCode", p + "Context", p + "Exten", p + "Priority", p + "Uniqueid", p + "Linkedid", p + "Tenantid"}
	}
	for _, tc := range []struct {
		e    events.Event
		want []string
	}{
		{events.Event{Kind: events.QueueCallerAbandon, Channel: caller, Queue: &events.Queue{Queue: "support", Position: 2, OriginalPosition: 3, HoldTime: 40}},
			append(block(""), "Queue", "Position", "OriginalPosition", "HoldTime")},
		{events.Event{Kind: events.AgentRingNoAnswer, Channel: caller, Dest: agent, Queue: &events.Queue{Queue: "support", Interface: "PJSIP/1001", MemberName: "Alice", RingTime: 15000}},
			append(append(block(""), block("Dest")...), "Queue", "Interface", "MemberName", "RingTime")},
		{events.Event{Kind: events.AgentDump, Channel: caller, Dest: agent, Queue: &events.Queue{Queue: "support", Interface: "PJSIP/1001", MemberName: "Alice"}},
			append(append(block(""), block("Dest")...), "Queue", "Interface", "MemberName")},
		{events.Event{Kind: events.QueueMemberPause, Tenant: "acme", Queue: &events.Queue{Queue: "support", MemberName: "Alice", Interface: "PJSIP/1001", Paused: 1, PausedReason: "lunch"}},
			[]string{"Queue", "MemberName", "Interface", "StateInterface", "Membership", "Penalty", "CallsTaken", "LastCall", "LastPause", "LoginTime", "InCall", "Status", "Paused", "PausedReason", "Ringinuse", "Wrapuptime"}},
	} {
		class, b, ok := render(&tc.e, renderOpts{})
		if !ok || class != ClassAgent {
			t.Fatalf("%s: class %v", tc.e.Kind, class)
		}
		got := keys(b)
		want := append([]string{"Event", "Privilege"}, tc.want...)
		if strings.Join(got, ",") != strings.Join(want, ",") {
			t.Errorf("%s\n got %v\nwant %v", tc.e.Kind, got, want)
		}
		if !strings.Contains(string(b), "Privilege: agent,all\r\n") {
			t.Errorf("%s: %s", tc.e.Kind, b)
		}
	}
}

// TestQueueActionsWithoutQueues: a server without queues (central's)
// answers app_queue's actions as an Asterisk with none, and checks their
// arguments as app_queue does.
func TestQueueActionsWithoutQueues(t *testing.T) {
	s := testServer(t, Options{})
	c := dialAMI(t, s)
	c.login("admin", "secret")
	for _, tc := range []struct {
		req  []string
		want string
	}{
		{[]string{"Action: QueueStatus", "ActionID: s1"}, "Event: QueueStatusComplete\r\nActionID: s1\r\nEventList: Complete\r\nListItems: 0"},
		{[]string{"Action: QueueSummary", "ActionID: s2"}, "Event: QueueSummaryComplete\r\nActionID: s2\r\nEventList: Complete\r\nListItems: 0"},
		{[]string{"Action: QueueAdd", "ActionID: a1", "Interface: PJSIP/1001"}, "Response: Error\r\nActionID: a1\r\nMessage: 'Queue' not specified."},
		{[]string{"Action: QueueAdd", "ActionID: a2", "Queue: q"}, "Response: Error\r\nActionID: a2\r\nMessage: 'Interface' not specified."},
		{[]string{"Action: QueueAdd", "ActionID: a3", "Queue: q", "Interface: PJSIP/1001"}, "Response: Error\r\nActionID: a3\r\nMessage: Unable to add interface to queue: No such queue"},
		{[]string{"Action: QueueRemove", "ActionID: r1", "Queue: q"}, "Response: Error\r\nActionID: r1\r\nMessage: Need 'Queue' and 'Interface' parameters."},
		{[]string{"Action: QueuePause", "ActionID: p1", "Interface: PJSIP/1001"}, "Response: Error\r\nActionID: p1\r\nMessage: Need 'Interface' and 'Paused' parameters."},
		{[]string{"Action: QueuePause", "ActionID: p2", "Interface: PJSIP/1001", "Paused: true"}, "Response: Error\r\nActionID: p2\r\nMessage: Interface not found"},
		{[]string{"Action: QueuePenalty", "ActionID: n1", "Interface: PJSIP/1001", "Penalty: x"}, "Response: Error\r\nActionID: n1\r\nMessage: Invalid interface, queuename or penalty"},
		{[]string{"Action: QueueMemberRingInUse", "ActionID: g1", "Interface: PJSIP/1001", "RingInUse: maybe"}, "Message: 'RingInUse' parameter must be a truth value (yes/no, on/off, 0/1, etc)"},
		{[]string{"Action: QueueLog", "ActionID: l1", "Queue: q"}, "Message: Need 'Queue' and 'Event' parameters."},
		{[]string{"Action: QueueLog", "ActionID: l2", "Queue: q", "Event: WENTONBREAK"}, "Response: Success\r\nActionID: l2\r\nMessage: Event added successfully"},
		{[]string{"Action: QueueChangePriorityCaller", "ActionID: c1", "Queue: q", "Caller: PJSIP/1-1", "Priority: high"}, "Message: 'Priority' need integer."},
		{[]string{"Action: QueueWithdrawCaller", "ActionID: w1", "Queue: q", "Caller: PJSIP/1-1"}, "Message: Unable to request withdraw from queue: No such queue"},
		{[]string{"Action: QueueRule", "ActionID: u1"}, "Response: Success\r\nActionID: u1\r\n\r\n"},
	} {
		c.send(tc.req...)
		first := "Response: "
		if strings.HasPrefix(tc.want, "Event: ") {
			first = "Event: Queue"
		}
		if got := c.until(first); !strings.Contains(got, tc.want) {
			t.Errorf("%v:\n got %q\nwant %q", tc.req, got, tc.want)
		}
	}
}
