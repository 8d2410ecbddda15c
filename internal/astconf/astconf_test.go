package astconf

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func write(t *testing.T, dir, name, text string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestRead(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "extra.conf", "[extra]\nk => v ; object syntax\n")
	main := write(t, dir, "main.conf", `; comment
[general]
a = 1   ; trailing
b = semi\;colon
;-- block
[hidden]
x = 1 ;-- nested --; still hidden
--;
[tmpl](!)
mode = files
[cls](tmpl)
directory = moh
[cls](+)
sort = alpha
#include "extra.conf"
#tryinclude missing-*.conf
#tryinclude missing.conf
`)
	secs, err := ReadFile(main)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, s := range secs {
		var vars []string
		for _, v := range s.Vars {
			vars = append(vars, v.Name+"="+v.Value)
		}
		got = append(got, s.Name+map[bool]string{true: "(!)"}[s.Template]+":"+strings.Join(vars, ","))
	}
	want := "general:a=1,b=semi;colon | tmpl(!):mode=files | cls:mode=files,directory=moh,sort=alpha | extra:k=v"
	if g := strings.Join(got, " | "); g != want {
		t.Fatalf("got  %s\nwant %s", g, want)
	}
	cls := secs[2]
	if cls.Line != 11 || cls.Vars[1].Pos() != main+":12" || cls.Vars[2].Line != 14 {
		t.Fatalf("positions: section line %d, vars %s %d", cls.Line, cls.Vars[1].Pos(), cls.Vars[2].Line)
	}
}

func TestValues(t *testing.T) {
	v := Var{Name: "n", Value: "12", File: "f", Line: 3}
	if n, err := v.Int(); n != 12 || err != nil {
		t.Fatal(n, err)
	}
	v.Value = "x"
	var e *Error
	if _, err := v.Int(); !errors.As(err, &e) || e.Line != 3 || !strings.HasPrefix(err.Error(), "f:3: n:") {
		t.Fatal(err)
	}
	for val, want := range map[string]bool{"yes": true, "On": true, "1": true, "no": false, "off": false, "F": false} {
		v.Value = val
		if b, err := v.Bool(); b != want || err != nil {
			t.Errorf("Bool(%q) = %v %v", val, b, err)
		}
	}
	v.Value = "maybe"
	if _, err := v.Bool(); err == nil {
		t.Error("Bool(maybe) accepted")
	}
}

func TestErrors(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct{ text, want string }{
		{"a = 1\n", "bad.conf:1: \"a = 1\" before any [section]"},
		{"[s]\njunk\n", "bad.conf:2: expected 'name = value'"},
		{"[s\n", "bad.conf:1: no closing ']'"},
		{"[s](nope)\n", "bad.conf:1: [s] inherits from unknown template \"nope\""},
		{"[s](+)\n", "bad.conf:1: [s](+) appends to a section that does not exist"},
		{"[s]\n#exec /bin/true\n", "bad.conf:2: #exec is not supported"},
		{"[s]\n#include nothere.conf\n", "bad.conf:2: #include \"nothere.conf\""},
		{"[s]\n#include bad.conf\n", "recursive #include"},
		{"[s]\n#frobnicate\n", "bad.conf:2: unknown directive #frobnicate"},
		{"[s]\n = 1\n", "bad.conf:2: missing name"},
	} {
		p := write(t, dir, "bad.conf", tc.text)
		if _, err := ReadFile(p); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: got %v, want %q", tc.text, err, tc.want)
		}
	}
}
