package dialplan

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestParseSample(t *testing.T) {
	d, err := ParseFile("testdata/extensions.conf")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := d.Contexts(), []string{"internal", "outbound", "ivr-menu", "sales", "from-trunk"}; !slices.Equal(got, want) {
		t.Errorf("contexts = %v, want %v (block comment hides ignored-context, conf.d glob adds from-trunk)", got, want)
	}
	if v, _ := d.Global("OPERATOR_DIAL"); v != "PJSIP/100" {
		t.Errorf("globals are substituted with earlier globals: OPERATOR_DIAL = %q", v)
	}
	if g := d.General(); len(g) != 4 || g[2] != (Var{"autofallthrough", "yes"}) {
		t.Errorf("general = %v", g)
	}
	tests := []struct {
		ctx, exten string
		prio       int
		app, data  string
		line       int
	}{
		{"internal", "100", 2, "Dial", "PJSIP/100,${RINGTIME},tT", 26},
		{"internal", "123", 2, "VoiceMail", "${EXTEN}@default,u", 36},
		{"internal", "9011441234", 2, "Hangup", "34", 55},
		{"ivr-menu", "s", 5, "Background", "custom/welcome&custom/menu", 65},
		{"ivr-menu", "h", 1, "NoOp", "Caller hung up after ${TRIES} tries; status ${DIALSTATUS}", 89},
		{"ivr-menu", "3", 2, "GotoIf", "$[${LEN(${EXT})} = 3]?internal,${EXT},1", 71},
		{"sales", "s", 4, "Hangup", "", 95},
		{"from-trunk", "5551234567", 1, "Goto", "internal,100,1", 5},
	}
	for _, tt := range tests {
		st, ok := d.Find(tt.ctx, tt.exten, tt.prio, "")
		if !ok {
			t.Errorf("%s@%s:%d not found", tt.exten, tt.ctx, tt.prio)
			continue
		}
		if st.App != tt.app || st.Data != tt.data || st.Line != tt.line {
			t.Errorf("%s@%s:%d = %s(%s) line %d, want %s(%s) line %d", tt.exten, tt.ctx, tt.prio, st.App, st.Data, st.Line, tt.app, tt.data, tt.line)
		}
	}
	if p, ok := d.FindLabel("ivr-menu", "s", "menu"); !ok || p != 5 {
		t.Errorf("label menu = %d %v", p, ok)
	}
	if st, _ := d.Find("from-trunk", "5551234567", 1, ""); st.File != filepath.Join("testdata", "conf.d", "from-trunk.conf") {
		t.Errorf("included step file = %q", st.File)
	}
	for _, special := range []string{"s", "i", "t", "h"} {
		if !d.Exists("ivr-menu", special, 1) {
			t.Errorf("special extension %s missing", special)
		}
	}
}

func TestParseSyntax(t *testing.T) {
	d := mustParse(t, `
[general]
static = yes

[globals]
A=1
B=${A}2   ; "12"

[c]
exten = 1,1,Answer          ; '=' works like '=>' and the app needs no parens
exten => 1,n,Set(x=a\;b)    ; escaped semicolon
exten => 1,n(lbl),NoOp( spaced )
exten => 1,lbl+5,NoOp(label plus offset)
exten => 2,10,NoOp(ten)
exten => 3,n,NoOp(n continues from the previous extension: 11)
exten => ${B},1,NoOp(name from a global)
exten => _1-X-X,1,NoOp(fluff)
exten => 4,1,Dial(PJSIP/a,,b(sub^s^1(x,y)))
exten => 5,1,App(a(b)c)trailing
exten => 6,1,Set(ARRAY(a,b)=1,2)
same => n,NoOp(same without leading space)
exten => 7,1,NoOp(a) ;-- inline block --; 
exten => 8,1,NoOp(multi) ;-- starts
still a comment
--; 
exten => 9,1,NoOp(after)
include => other
ignorepat => 9
switch => Realtime/c@extensions
eswitch => Realtime/${X}@extensions

[other]
exten => 1,1,NoOp(other)
[other](+)
exten => 2,1,NoOp(appended)

[tmpl](!)
exten => 1,1,NoOp(from template)
[user](tmpl)
exten => 2,1,NoOp(own)
`)
	check := func(ctx, exten string, prio int, app, data string) {
		t.Helper()
		st, ok := d.Find(ctx, exten, prio, "")
		if !ok {
			t.Errorf("%s@%s:%d missing", exten, ctx, prio)
			return
		}
		if st.App != app || st.Data != data {
			t.Errorf("%s@%s:%d = %q(%q), want %q(%q)", exten, ctx, prio, st.App, st.Data, app, data)
		}
	}
	check("c", "1", 1, "Answer", "")
	check("c", "1", 2, "Set", "x=a;b")
	check("c", "1", 3, "NoOp", " spaced ")
	check("c", "1", 8, "NoOp", "label plus offset")
	check("c", "2", 10, "NoOp", "ten")
	check("c", "3", 11, "NoOp", "n continues from the previous extension: 11")
	check("c", "12", 1, "NoOp", "name from a global")
	check("c", "1-2-3", 1, "NoOp", "fluff")
	check("c", "4", 1, "Dial", "PJSIP/a,,b(sub^s^1(x,y))")
	check("c", "5", 1, "App", "a(b)c")
	check("c", "6", 1, "Set", "ARRAY(a,b)=1,2")
	check("c", "6", 2, "NoOp", "same without leading space")
	check("c", "7", 1, "NoOp", "a")
	check("c", "9", 1, "NoOp", "after")
	check("other", "2", 1, "NoOp", "appended")
	check("user", "1", 1, "NoOp", "from template")
	check("user", "2", 1, "NoOp", "own")
	if d.Exists("c", "8", 1) != true || d.HasContext("tmpl") {
		t.Error("block comment or template handling wrong")
	}
	if inc := d.Includes("c"); len(inc) != 1 || inc[0].Context != "other" {
		t.Errorf("includes = %v", inc)
	}
	if !d.Exists("c", "1", 1) || d.Exists("c", "still", 1) {
		t.Error("comment text parsed")
	}
	sw := d.Switches("c")
	if len(sw) != 2 || sw[0].Name != "Realtime" || sw[0].Data != "c@extensions" || !sw[1].Eval || sw[1].Data != "${X}@extensions" {
		t.Errorf("switches = %+v", sw)
	}
	if ip := d.IgnorePats("c"); !slices.Equal(ip, []string{"9"}) {
		t.Errorf("ignorepats = %v", ip)
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name, conf, want string
	}{
		{"duplicate priority", "[default]\nexten => 100,1,NoOp()\nexten => 100,2,NoOp()\nexten => 100,2,NoOp()\n",
			"test.conf:4: priority 2 of 100@default already defined (at test.conf:3)"},
		{"duplicate via n", "[c]\nexten => 1,1,NoOp()\nexten => 1,2,NoOp()\nexten => 1,1,NoOp()\nexten => 1,n,NoOp()\n",
			"test.conf:4: priority 1 of 1@c already defined"},
		{"same equivalent pattern", "[c]\nexten => _N,1,NoOp()\nexten => _[2-9],1,NoOp()\n",
			"test.conf:3: priority 1 of _[2-9]@c already defined (at test.conf:2)"},
		{"same without exten", "[c]\nsame => n,NoOp()\n", "test.conf:2: 'same' without a previous 'exten' in context 'c'"},
		{"bad pattern", "[c]\n\nexten => _12[3,1,NoOp()\n", "test.conf:3: bad pattern \"_12[3,1,NoOp()\""},
		{"bad cid pattern", "[c]\nexten => 1/_[0,1,NoOp()\n", "test.conf:2: caller ID match: bad pattern"},
		{"duplicate label", "[c]\nexten => 1,1(a),NoOp()\n same => n(a),NoOp()\n", "test.conf:3: label 'a' of 1@c already used by priority 1"},
		{"next first", "[c]\nexten => 1,n,NoOp()\n", "test.conf:2: can't use 'next' priority on the first entry"},
		{"n after hint", "[c]\nexten => 1,hint,PJSIP/1\n same => n,NoOp()\n", "test.conf:3: 'next' priority after a hint"},
		{"bad priority", "[c]\nexten => 1,0,NoOp()\n", "test.conf:2: invalid priority '0'"},
		{"unknown label", "[c]\nexten => 1,foo,NoOp()\n", "test.conf:2: invalid priority/label 'foo'"},
		{"missing priority", "[c]\nexten => 1\n", "test.conf:2: missing priority"},
		{"missing app", "[c]\nexten => 1,1,\n", "test.conf:2: missing application"},
		{"unclosed label", "[c]\nexten => 1,1(a,NoOp()\n", "test.conf:2: label missing trailing ')'"},
		{"unclosed paren", "[c]\nexten => 1,1,NoOp(a\n", "test.conf:2: no closing parenthesis"},
		{"no context", "exten => 1,1,NoOp()\n", "test.conf:1: no [context] before"},
		{"no closing bracket", "[c\n", "test.conf:1: no closing ']'"},
		{"unknown keyword", "[c]\nexen => 1,1,NoOp()\n", "test.conf:2: unknown keyword 'exen' in context 'c'"},
		{"garbage line", "[c]\njust words\n", "test.conf:2: expected 'name => value'"},
		{"append to nothing", "[c](+)\n", "test.conf:1: [c](+) appends to a context that does not exist"},
		{"unknown template", "[c](nope)\n", "test.conf:1: [c] inherits from unknown template"},
		{"missing include", "[c]\n#include \"does-not-exist.conf\"\n", "test.conf:2: #include \"does-not-exist.conf\""},
		{"unknown directive", "#frobnicate x\n", "test.conf:1: unknown directive #frobnicate"},
		{"duplicate include", "[c]\ninclude => a\ninclude => a\n", "test.conf:3: context 'a' already included in 'c'"},
		{"bad include timing", "[c]\ninclude => a,99:00\n", "test.conf:2: include a,99:00"},
		{"duplicate hint", "[c]\nexten => 1,hint,A\nexten => 1,hint,B\n", "test.conf:3: hint of 1@c already defined"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("test.conf", strings.NewReader(tt.conf))
			if err == nil {
				t.Fatalf("no error, want %q", tt.want)
			}
			if !strings.HasPrefix(err.Error(), tt.want) {
				t.Fatalf("error %q, want prefix %q", err, tt.want)
			}
			var pe *ParseError
			if !errors.As(err, &pe) || pe.Line == 0 {
				t.Fatalf("not a *ParseError with a line: %#v", err)
			}
		})
	}
}

func TestParseFileIncludes(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("extensions.conf", "[a]\nexten => 1,1,NoOp(top)\n#include \"sub/users.conf\"\n#tryinclude \"optional.conf\"\n")
	write("sub/users.conf", "exten => 2,1,NoOp(included into [a])\n#include <more.conf>\n")
	write("sub/more.conf", "[b]\nexten => 3,1,NoOp(more)\n exten => 3,1,NoOp(dup)\n")
	_, err := ParseFile(filepath.Join(dir, "extensions.conf"))
	want := filepath.Join(dir, "sub", "more.conf") + ":3: priority 1 of 3@b already defined"
	if err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Fatalf("error = %v, want prefix %q", err, want)
	}

	write("sub/more.conf", "[b]\nexten => 3,1,NoOp(more)\n")
	d, err := ParseFile(filepath.Join(dir, "extensions.conf"))
	if err != nil {
		t.Fatal(err)
	}
	if st, ok := d.Find("a", "2", 1, ""); !ok || st.Data != "included into [a]" || st.Line != 1 {
		t.Errorf("included step = %+v", st)
	}
	if !d.Exists("b", "3", 1) {
		t.Error("nested include missing")
	}

	write("loop.conf", "[x]\n#include \"loop.conf\"\n")
	if _, err := ParseFile(filepath.Join(dir, "loop.conf")); err == nil || !strings.Contains(err.Error(), "recursive #include") {
		t.Errorf("include loop: %v", err)
	}
	if _, err := ParseFile(filepath.Join(dir, "missing.conf")); err == nil {
		t.Error("missing file accepted")
	}
}

func TestAddRowCloneMerge(t *testing.T) {
	static := mustParse(t, "[default]\nexten => 100,1,Answer()\ninclude => rt\n")
	plan := static.Clone()
	rows := []struct {
		ctx, exten string
		prio       int
		label      string
		app, data  string
	}{
		{"default", "100", 2, "", "Playback", "hello"},
		{"rt", "_2XX", 1, "", "Dial", "PJSIP/${EXTEN}"},
		{"rt", "_2XX", 2, "fail", "VoiceMail", "${EXTEN}"},
		{"rt", "300/_555.", 1, "", "NoOp", "cid"},
	}
	for _, r := range rows {
		if err := plan.AddRow(r.ctx, r.exten, r.prio, r.label, r.app, r.data); err != nil {
			t.Fatal(err)
		}
	}
	if err := plan.AddRow("default", "100", 1, "", "NoOp", ""); err == nil || !strings.Contains(err.Error(), "priority 1 of 100@default already defined") {
		t.Errorf("duplicate row: %v", err)
	}
	if err := plan.AddRow("rt", "_2[", 1, "", "NoOp", ""); err == nil {
		t.Error("bad pattern row accepted")
	}
	if err := plan.AddRow("rt", "400", 0, "", "NoOp", ""); err == nil {
		t.Error("priority 0 accepted")
	}
	if st, ok := plan.Find("default", "250", 1, ""); !ok || st.App != "Dial" || st.Context != "rt" {
		t.Errorf("row via include: %+v", st)
	}
	if p, ok := plan.FindLabel("default", "250", "fail"); !ok || p != 2 {
		t.Error("row label")
	}
	if !plan.ExistsCID("rt", "300", 1, "5551212") || plan.ExistsCID("rt", "300", 1, "4441212") {
		t.Error("row Caller ID match")
	}
	// The static plan is untouched.
	if static.Exists("default", "100", 2) || static.HasContext("rt") {
		t.Error("Clone shares state with the original")
	}

	other := mustParse(t, "[globals]\nX=2\n[default]\nexten => 100,3,Hangup()\ninclude => rt\n[new]\nexten => s,1,NoOp()\n")
	merged := plan.Clone()
	if err := merged.Merge(other); err != nil {
		t.Fatal(err)
	}
	if !merged.Exists("default", "100", 3) || !merged.Exists("new", "s", 1) || len(merged.Includes("default")) != 1 {
		t.Error("merge lost data or duplicated the include")
	}
	if v, _ := merged.Global("X"); v != "2" {
		t.Error("merge globals")
	}
	if err := merged.Merge(other); err == nil {
		t.Error("merging the same priorities twice succeeded")
	}
}
