package queueconf

import (
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	f, err := Parse("queues.conf", `[general]
autofill = yes
monitor-type = MixMonitor
log_membername_as_agent = yes

[tmpl](!)
strategy = linear
timeout = 20

[Sales](tmpl)
wrapuptime = 5
joinempty = paused,unavailable
leavewhenempty = strict
announce-holdtime = once
announce-position = limit
periodic-announce = a,b|c
member => PJSIP/1001
member => PJSIP/1002, 2, Bob , PJSIP/1002, no, 10, yes
member => PJSIP/1001,3
[support]
retry = 0
`)
	if err != nil {
		t.Fatal(err)
	}
	if !f.General.Autofill || !f.General.LogMembernameAsAgent || len(f.Queues) != 2 {
		t.Fatalf("%+v", f)
	}
	q := f.Queues[0]
	p := q.Params
	if q.Name != "Sales" || p.Strategy != Linear || p.Timeout != 20 || p.Wrapuptime != 5 || !p.Autofill || p.Retry != DefaultRetry {
		t.Errorf("params %+v", p)
	}
	if p.JoinEmpty != EmptyPaused|EmptyUnavailable || p.LeaveWhenEmpty != EmptyPenalty|EmptyInvalid|EmptyPaused|EmptyUnavailable {
		t.Errorf("empty conditions %b %b", p.JoinEmpty, p.LeaveWhenEmpty)
	}
	if p.AnnounceHoldtime != HoldtimeOnce || p.AnnouncePosition != PositionLimit || strings.Join(p.PeriodicAnnounce, " ") != "a b c" {
		t.Errorf("announcements %+v", p)
	}
	// The second line for PJSIP/1001 replaces the first, in its place.
	if len(q.Members) != 2 || q.Members[0].Interface != "PJSIP/1001" || q.Members[0].Penalty != 3 {
		t.Fatalf("members %+v", q.Members)
	}
	m := q.Members[1]
	if m.MemberName != "Bob" || m.Penalty != 2 || m.RingInUse == nil || *m.RingInUse || m.Wrapuptime != 10 || !m.Paused || m.Line != 18 {
		t.Errorf("member %+v", m)
	}
	if f.Queues[1].Params.Retry != DefaultRetry || f.Queues[1].Params.Strategy != RingAll {
		t.Errorf("support %+v", f.Queues[1].Params)
	}
	if len(f.Warnings) != 0 {
		t.Errorf("warnings %v", f.Warnings)
	}
}

// TestParseErrors: every bad line is an error naming file:line.
func TestParseErrors(t *testing.T) {
	for _, tc := range []struct{ text, want string }{
		{"[q]\nstrategy = roundabout\n", "queues.conf:2: queue [q]: strategy: unknown strategy"},
		{"[q]\ntimeout = soon\n", `queues.conf:2: queue [q]: timeout: "soon" is not an integer`},
		{"[q]\ncolour = red\n", `queues.conf:2: queue [q]: unknown queue parameter "colour"`},
		{"[q]\nmember => 1001\n", `queues.conf:2: queue [q]: member: interface "1001" is not Tech/resource`},
		{"[q]\nmember => PJSIP/1,x\n", `queues.conf:2: queue [q]: member: penalty "x" is not an integer`},
		{"[q]\njoinempty = sometimes\n", `queues.conf:2: queue [q]: joinempty: unknown condition "sometimes"`},
		{"[q]\n[Q]\n", "queues.conf:2: queue [Q] already defined at queues.conf:1"},
		{"[general]\nautofil = yes\n", `queues.conf:2: unknown [general] key "autofil"`},
		{"[a|b]\n", "queues.conf:1: queue name"},
		{"[q]\nannounce-round-seconds = 7\n", "queues.conf:2: queue [q]: announce-round-seconds: 7 is not"},
	} {
		_, err := Parse("queues.conf", tc.text)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: %v, want %q", tc.text, err, tc.want)
		}
	}
}

func TestRules(t *testing.T) {
	r, err := ParseRules("queuerules.conf", "[general]\nrealtime_rules = no\n[widen]\npenaltychange => 60,10,5\npenaltychange => 30,+3\npenaltychange => 90,,,r20\n")
	if err != nil {
		t.Fatal(err)
	}
	l, ok := r.Get("WIDEN")
	if !ok || len(l) != 3 || l[0].Time != 30 || !l[0].MaxRelative || l[0].MaxValue != 3 || !l[0].MinRelative {
		t.Fatalf("rules %+v", l)
	}
	if l[1].MaxValue != 10 || l[1].MaxRelative || l[1].MinValue != 5 || l[1].MinRelative {
		t.Errorf("absolute rule %+v", l[1])
	}
	if !l[2].RaiseRespectMin || l[2].RaiseValue != 20 || l[2].RaiseRelative || !l[2].MaxRelative || l[2].MaxValue != 0 {
		t.Errorf("raise rule %+v", l[2])
	}
	for _, bad := range []string{"[x]\npenaltychange => soon,1\n", "[x]\npenaltychange => 10\n", "[x]\nrule => 1,2\n", "[general]\nrealtime_rules = yes\n"} {
		if _, err := ParseRules("queuerules.conf", bad); err == nil || !strings.Contains(err.Error(), "queuerules.conf:") {
			t.Errorf("%q: %v", bad, err)
		}
	}
}
