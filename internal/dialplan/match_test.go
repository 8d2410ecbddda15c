package dialplan

import (
	"slices"
	"testing"
	"time"
)

func TestPatternMatchModes(t *testing.T) {
	tests := []struct {
		ext, data                  string
		match, canMatch, matchMore bool
	}{
		{"_X", "5", true, true, false},
		{"_X", "a", false, false, false},
		{"_Z", "0", false, false, false},
		{"_Z", "1", true, true, false},
		{"_N", "1", false, false, false},
		{"_N", "2", true, true, false},
		{"_nxx", "200", true, true, false}, // letters are case-insensitive
		{"_NXX", "20", false, true, true},
		{"_NXX", "2000", false, false, false},
		{"_[1-5a]", "a", true, true, false},
		{"_[1-5a]", "3", true, true, false},
		{"_[1-5a]", "6", false, false, false},
		{"_[a-]", "a", true, true, false}, // '-' just before ']' is literal
		{"_[a-]", "-", false, true, true}, // but a '-' in the data is fluff
		{"_9011.", "9011", false, true, true},
		{"_9011.", "90114", true, true, true},
		{"_9011.", "901144123", true, true, true},
		{"_1!", "1", true, true, false},
		{"_1!", "", false, true, true},
		{"_1!", "12345", true, true, false},
		{"_X.", "", false, true, true},
		{"_1-XX", "1-23", true, true, false}, // '-' is fluff on both sides
		{"_1XX", "1-2-3", true, true, false},
		{"100", "100", true, true, false},
		{"100", "10", false, true, true},
		{"100", "1-00", true, true, false},
		{"100", "1000", false, false, false},
		{"100", "", false, true, true},
		{"s", "s", true, true, false},
		{"_[]1", "1", true, true, false}, // empty sets are ignored
		{"_abc", "abc", true, true, false},
		{"_ext", "e5t", true, true, false}, // x is a wildcard even in a word
	}
	for _, tt := range tests {
		m, err := newMatcher(tt.ext)
		if err != nil {
			t.Fatalf("%s: %v", tt.ext, err)
		}
		got := [3]bool{
			m.match(tt.data, modeMatch) != noMatch,
			m.match(tt.data, modeCanMatch) != noMatch,
			m.match(tt.data, modeMatchMore) != noMatch,
		}
		want := [3]bool{tt.match, tt.canMatch, tt.matchMore}
		// '!' is an early match: MATCHMORE sees it as a final answer.
		if m.pat != nil && m.match(tt.data, modeMatchMore) == earlyMatch {
			got[2] = false
		}
		if got != want {
			t.Errorf("%s vs %q: match/canmatch/matchmore = %v, want %v", tt.ext, tt.data, got, want)
		}
	}
}

func TestBadPattern(t *testing.T) {
	if _, err := newMatcher("_1[23"); err == nil {
		t.Fatal("unterminated set accepted")
	}
	if ExtensionMatch("_1[23", "12") {
		t.Fatal("bad pattern matched")
	}
}

func TestSortOrder(t *testing.T) {
	// The order main/pbx.c ext_cmp gives: literals first in byte order,
	// then patterns with the smallest character sets first.
	d := mustParse(t, `
[c]
exten => _X.,1,NoOp()
exten => _N!,1,NoOp()
exten => _[12]XX,1,NoOp()
exten => _1.,1,NoOp()
exten => _1XX,1,NoOp()
exten => _1[0-5]X,1,NoOp()
exten => _[14]X,1,NoOp()
exten => _[13]X,1,NoOp()
exten => 200,1,NoOp()
exten => 100,1,NoOp()
exten => s,1,NoOp()
`)
	// [12], [13] and [14] score the same (two characters from '1'); the
	// set with the lower characters wins the tie.
	want := []string{"100", "200", "s", "_1[0-5]X", "_1XX", "_1.", "_[12]XX", "_[13]X", "_[14]X", "_N!", "_X."}
	if got := d.Extensions("c"); !slices.Equal(got, want) {
		t.Fatalf("order\n got %v\nwant %v", got, want)
	}
	if CompareExtensions("_N", "_[2-9]") != 0 {
		t.Error("_N and _[2-9] should be the same extension")
	}
	if CompareExtensions("100", "_X") >= 0 || CompareExtensions("_X!", "_X") >= 0 {
		t.Error("literal before pattern, '!' before end")
	}
}

func TestFindPrecedence(t *testing.T) {
	d := mustParse(t, `
[c]
exten => _X.,1,NoOp(any)
exten => _1XX,1,NoOp(1xx)
 same => n,NoOp(1xx-2)
exten => 100,1,NoOp(exact)
exten => _12X,1,NoOp(12x)
exten => _5!,1,NoOp(bang)
exten => 911,1,NoOp(911)
exten => 911/_0X.,1,NoOp(911-restricted)
exten => 911/,1,NoOp(911-nocid)
`)
	tests := []struct {
		exten string
		prio  int
		cid   string
		want  string
	}{
		{"100", 1, "", "exact"},
		{"101", 1, "", "1xx"},
		{"125", 1, "", "12x"},
		{"1000", 1, "", "any"},
		{"9", 1, "", ""}, // '.' needs at least one more digit
		{"95", 1, "", "any"},
		{"5", 1, "", "bang"},
		{"5123", 1, "", "bang"},
		// 100 has no priority 2: Asterisk keeps looking and finds _1XX.
		{"100", 2, "", "1xx-2"},
		{"911", 1, "0123", "911-restricted"},
		{"911", 1, "5551234", "911"},
		{"911", 1, "", "911-nocid"},
		{"1-00", 1, "", "exact"},
	}
	for _, tt := range tests {
		st, ok := d.Find("c", tt.exten, tt.prio, tt.cid)
		got := ""
		if ok {
			got = st.Data
		}
		if got != tt.want {
			t.Errorf("Find(%s,%d,cid=%q) = %q, want %q", tt.exten, tt.prio, tt.cid, got, tt.want)
		}
	}
	if _, ok := d.Find("nope", "100", 1, ""); ok {
		t.Error("found in missing context")
	}
	// A pattern asked for by name finds that pattern.
	if st, ok := d.Find("c", "_1XX", 2, ""); !ok || st.Data != "1xx-2" {
		t.Errorf("Find(_1XX) = %v %v", st, ok)
	}
}

func TestIncludesDepthFirstAndLoops(t *testing.T) {
	d := mustParse(t, `
[a]
exten => 1,1,NoOp(a)
include => b
include => c
[b]
include => d
include => a
exten => 2,1,NoOp(b)
[c]
exten => 3,1,NoOp(c)
exten => 4,1,NoOp(c)
exten => _X,1,NoOp(c-any)
[d]
exten => 4,1,NoOp(d)
include => b
include => c
`)
	tests := []struct{ ctx, exten, want string }{
		{"a", "1", "a"},
		{"a", "2", "b"},
		{"a", "3", "c"},
		{"a", "4", "d"}, // b's include d is searched before a's include c
		{"a", "7", "c-any"},
		{"b", "1", "c-any"}, // b -> d -> c (_X) is searched before b -> a
		{"b", "2", "b"},
		{"d", "9", "c-any"},
		{"a", "55", ""},
	}
	for _, tt := range tests {
		st, ok := d.Find(tt.ctx, tt.exten, 1, "")
		got := ""
		if ok {
			got = st.Data
		}
		if got != tt.want {
			t.Errorf("Find(%s@%s) = %q, want %q", tt.exten, tt.ctx, got, tt.want)
		}
	}
}

func TestIncludeLoopsTerminate(t *testing.T) {
	d := New()
	// A long chain with a cycle back to the start.
	for i := range 600 {
		if err := d.AddInclude(ctxName(i), ctxName((i+1)%600)); err != nil {
			t.Fatal(err)
		}
	}
	if err := d.AddRow(ctxName(599), "1", 1, "", "NoOp", "end"); err != nil {
		t.Fatal(err)
	}
	// More than AST_PBX_MAX_STACK contexts away: not found, but no hang.
	if _, ok := d.Find(ctxName(0), "1", 1, ""); ok {
		t.Error("found beyond the include stack limit")
	}
	if _, ok := d.Find(ctxName(300), "1", 1, ""); !ok {
		t.Error("not found within the limit")
	}
	if _, ok := d.Find(ctxName(0), "2", 1, ""); ok {
		t.Error("found a missing extension")
	}
}

func ctxName(i int) string {
	return "ctx" + string(rune('A'+i/26/26%26)) + string(rune('A'+i/26%26)) + string(rune('A'+i%26))
}

func TestTimedIncludes(t *testing.T) {
	d := mustParse(t, `
[in]
include => day,9:00-17:00,mon-fri,*,*
include => night
[day]
exten => s,1,NoOp(day)
[night]
exten => s,1,NoOp(night)
`)
	tue10 := time.Date(2025, 3, 4, 10, 0, 0, 0, time.Local) // a Tuesday
	sat10 := time.Date(2025, 3, 8, 10, 0, 0, 0, time.Local)
	tue18 := time.Date(2025, 3, 4, 18, 0, 0, 0, time.Local)
	for _, tt := range []struct {
		at   time.Time
		want string
	}{{tue10, "day"}, {sat10, "night"}, {tue18, "night"}} {
		st, ok := d.FindAt(tt.at, "in", "s", 1, "")
		if !ok || st.Data != tt.want {
			t.Errorf("at %v: %v, want %s", tt.at, st, tt.want)
		}
	}
}

func TestTiming(t *testing.T) {
	tm, err := ParseTiming("22:00-02:00|sat-mon|1-10|dec-feb")
	if err != nil {
		t.Fatal(err)
	}
	sun := time.Date(2023, 1, 1, 23, 30, 0, 0, time.UTC) // Sunday Jan 1st
	if !tm.Match(sun) {
		t.Error("wrapping ranges should match Sunday 23:30 Jan 1")
	}
	if tm.Match(sun.Add(4 * time.Hour)) { // 03:30
		t.Error("03:30 is outside 22:00-02:00")
	}
	for _, bad := range []string{"25:00", "9:00-17:00,funday", "*,*,40", "*,*,*,smarch", "*,*,*,*,No/Such_Zone"} {
		if _, err := ParseTiming(bad); err == nil {
			t.Errorf("ParseTiming(%q) accepted", bad)
		}
	}
}

func TestMatchMoreAndCanMatch(t *testing.T) {
	d := mustParse(t, `
[menu]
exten => 1,1,NoOp()
exten => 12,1,NoOp()
exten => _3XX,1,NoOp()
exten => _4!,1,NoOp()
exten => _7.,1,NoOp()
exten => 8,2,NoOp(no priority 1)
include => more
[more]
exten => 555,1,NoOp()
`)
	tests := []struct {
		prefix              string
		matchMore, canMatch bool
	}{
		{"", true, true},
		{"1", true, true}, // 12 could still follow
		{"12", false, true},
		{"3", true, true},
		{"30", true, true},
		{"301", false, true},
		{"3011", false, false},
		{"4", false, true}, // '!' ends the wait: it already matches
		{"7", true, true},
		{"71", true, true}, // '.' always wants more
		{"8", false, false},
		{"55", true, true}, // through the include
		{"9", false, false},
	}
	for _, tt := range tests {
		if got := d.MatchMore("menu", tt.prefix); got != tt.matchMore {
			t.Errorf("MatchMore(%q) = %v, want %v", tt.prefix, got, tt.matchMore)
		}
		if got := d.CanMatch("menu", tt.prefix, ""); got != tt.canMatch {
			t.Errorf("CanMatch(%q) = %v, want %v", tt.prefix, got, tt.canMatch)
		}
	}
}

func TestLabelsHintsExists(t *testing.T) {
	d := mustParse(t, `
[c]
exten => 100,hint,PJSIP/100&PJSIP/200
exten => 100,1(start),Answer()
 same => n(loop),Playback(x)
 same => n,Goto(loop)
exten => _2XX,1,NoOp()
 same => n(pat),NoOp()
`)
	if p, ok := d.FindLabel("c", "100", "loop"); !ok || p != 2 {
		t.Errorf("FindLabel loop = %d %v", p, ok)
	}
	if p, ok := d.FindLabel("c", "250", "pat"); !ok || p != 2 {
		t.Errorf("FindLabel pat via pattern = %d %v", p, ok)
	}
	if _, ok := d.FindLabel("c", "100", "nope"); ok {
		t.Error("found a missing label")
	}
	if p, ok := d.ResolvePriority("c", "100", "start", ""); !ok || p != 1 {
		t.Errorf("ResolvePriority(start) = %d %v", p, ok)
	}
	if p, ok := d.ResolvePriority("c", "100", "3", ""); !ok || p != 3 {
		t.Errorf("ResolvePriority(3) = %d %v", p, ok)
	}
	if h, ok := d.Hint("c", "100"); !ok || h != "PJSIP/100&PJSIP/200" {
		t.Errorf("Hint = %q %v", h, ok)
	}
	if _, ok := d.Hint("c", "250"); ok {
		t.Error("hint for an extension without one")
	}
	if !d.Exists("c", "100", 3) || d.Exists("c", "100", 4) || !d.Exists("c", "299", 2) {
		t.Error("Exists wrong")
	}
	steps := d.Steps("c", "100")
	if len(steps) != 4 || steps[0].Priority != PriorityHint || steps[3].App != "Goto" {
		t.Errorf("Steps = %v", steps)
	}
}

func TestFindDoesNotAllocate(t *testing.T) {
	d := benchPlan(t)
	allocs := testing.AllocsPerRun(100, func() {
		d.Find("from-internal", "101", 1, "")
		d.Find("from-internal", "901144123456", 2, "")
		d.Find("from-internal", "5123", 1, "")
		d.MatchMore("from-internal", "90")
	})
	if allocs != 0 {
		t.Errorf("Find allocates %v times per run", allocs)
	}
}
