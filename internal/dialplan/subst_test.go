package dialplan

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"
)

// testEnv is a channel stand-in: variables, a few channel functions and a
// record of reported problems.
type testEnv struct {
	vars     map[string]string
	reported []error
}

func (e *testEnv) GetVar(n string) (string, bool) { v, ok := e.vars[n]; return v, ok }

func (e *testEnv) CallFunction(name, args string) (string, error) {
	switch name {
	case "CALLERID":
		switch args {
		case "num":
			return "5551234", nil
		case "name":
			return "Alice", nil
		}
		return "", fmt.Errorf("unknown CALLERID field %q", args)
	case "LEN":
		if args == "override" {
			return "overridden", nil
		}
	case "ECHO":
		return args, nil
	}
	return "", ErrNoFunction
}

func (e *testEnv) Report(err error) { e.reported = append(e.reported, err) }

func newTestEnv() *testEnv {
	return &testEnv{vars: map[string]string{
		"FOO":     "abcdef",
		"NAME":    "FOO",
		"N":       "7",
		"EMPTY":   "",
		"LIST":    "a,b,c,d,e",
		"PIPES":   "x|y|z",
		"EXTEN":   "901144123456",
		"STATUS":  "BUSY",
		"SELF":    "${EVAL(${SELF})}",
		"DOLLAR":  "${FOO}",
		"CSV":     `say "hi"`,
		"SPACED":  "  padded  ",
		"DIGITS":  "(555) 123-4567",
		"ONE":     "1",
		"OPTIONS": "tT",
	}}
}

func TestSubstitute(t *testing.T) {
	tests := []struct{ in, want string }{
		{"plain text", "plain text"},
		{"${FOO}", "abcdef"},
		{"x${FOO}y", "xabcdefy"},
		{"${NOPE}", ""},
		{"${FOO:2}", "cdef"},
		{"${FOO:2:3}", "cde"},
		{"${FOO:-2}", "ef"},
		{"${FOO:-4:2}", "cd"},
		{"${FOO:0:-1}", "abcde"},
		{"${FOO:1:-2}", "bcd"},
		{"${FOO:-10}", "abcdef"},
		{"${FOO:10}", ""},
		{"${FOO:2:0}", ""},
		{"${FOO:0:-9}", ""},
		{"${FOO::2}", "abcdef"}, // sscanf fails on the offset: whole value
		{"${EXTEN:1}", "01144123456"},
		{"${${NAME}}", "abcdef"},
		{"${${NAME}:1:2}", "bc"},
		{"$${FOO}", "$abcdef"},
		{"$x $ end$", "$x $ end$"},
		{"${FOO", "abcdef"},     // missing '}' takes the rest
		{"${DOLLAR}", "${FOO}"}, // values are not substituted again
		{"${CALLERID(num)}", "5551234"},
		{"${CALLERID(num):0:3}", "555"},
		{"${CALLERID(bogus)}", ""},
		{"${NOSUCH(x)}", ""},
		{"${LEN(${FOO})}", "6"},
		{"${LEN()}", "0"},
		{"${LEN(override)}", "overridden"}, // the Env wins over the builtins
		{"${LEN(a,b)}", "3"},
		{"${IF($[${N} > 5]?big:small)}", "big"},
		{"${IF($[${N} > 50]?big:small)}", "small"},
		{"${IF(${EMPTY}?yes:no)}", ""}, // an empty condition is an error in acf_if
		{"${IF(0?yes)}", ""},
		{"${IF(1?:no)}", ""},
		{"${IF(abc?yes:no)}", "yes"},
		{`${IF(1?"a:b":c)}`, "a:b"},
		{"${ISNULL(${EMPTY})}${ISNULL(x)}", "10"},
		{"${EXISTS(${FOO})}${EXISTS()}", "10"},
		{"${TOUPPER(abcÄ)}${TOLOWER(XyZ)}", "ABCÄxyz"},
		{"${CUT(LIST,\\,,2)}", "b"},
		{"${CUT(LIST,\\,,2-3)}", "b,c"},
		{"${CUT(LIST,\\,,-2)}", "a,b"},
		{"${CUT(LIST,\\,,4-)}", "d,e"},
		{"${CUT(LIST,\\,,1&3-4)}", "a,c,d"},
		{"${CUT(PIPES,|,3)}", "z"},
		{"${CUT(NOPE,|,1)}", ""},
		{"${FIELDQTY(LIST,\\,)}", "5"},
		{"${FIELDNUM(LIST,\\,,C)}", "3"},
		{"${FIELDNUM(LIST,\\,,q)}", "0"},
		{`${REGEX("^9011" ${EXTEN})}`, "1"},
		{`${REGEX("^1" ${EXTEN})}`, "0"},
		{"${FILTER(0-9,${DIGITS})}", "5551234567"},
		{"${FILTER(a-c,abcdef)}", "abc"},
		{"${REPLACE(DIGITS,() -)}", "5551234567"},
		{"${REPLACE(FOO,ace,_)}", "_b_d_f"},
		{"${STRFTIME(0,UTC,%Y-%m-%d %H:%M:%S)}", "1970-01-01 00:00:00"},
		{"${STRFTIME(1700000000,UTC,%a %b %e %j %p %s)}", "Tue Nov 14 318 PM 1700000000"},
		{"${EVAL(${DOLLAR})}", "abcdef"},
		{"${TRIM(${SPACED})}|${LTRIM(${SPACED})}|${RTRIM(${SPACED})}", "padded|padded  |  padded"},
		{"${QUOTE(${CSV})}", `"say \"hi\""`},
		{"${CSV_QUOTE(${CSV})}", `"say ""hi"""`},
		{"$[1 + 1]", "2"},
		{"$[${N} * 2]", "14"},
		{"n=$[$[1+2]*3]", "n=9"},
		{"$[${LEN(${FOO})} > 5]", "1"},
		{"$[LEN(abc) + 1]", "4"},      // function call inside an expression
		{"$[ECHO(a,b) ~~ x]", "a,bx"}, // arguments joined with ','
		{"$[\"${STATUS}\" = \"BUSY\"]", "1"},
		{"$[${EMPTY} = 1]", "0"}, // syntax error after substitution gives "0"
		{"$[]", ""},
		{"${IF($[\"${STATUS}\" = \"BUSY\"]?Busy(5):Hangup)}", "Busy(5)"},
		{"Dial(PJSIP/${EXTEN:-4},${ONE}0,${OPTIONS})", "Dial(PJSIP/3456,10,tT)"},
	}
	for _, tt := range tests {
		env := newTestEnv()
		if got := Substitute(tt.in, env); got != tt.want {
			t.Errorf("Substitute(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestSubstituteReportsAndTerminates(t *testing.T) {
	env := newTestEnv()
	done := make(chan string, 1)
	go func() { done <- Substitute("${EVAL(${SELF})}", env) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("self-referencing EVAL did not terminate")
	}
	found := false
	for _, err := range env.reported {
		if strings.Contains(err.Error(), "recursion depth") {
			found = true
		}
	}
	if !found {
		t.Errorf("recursion not reported: %v", env.reported)
	}

	env = newTestEnv()
	Substitute("${NOSUCH(1)}$[1 +]${CALLERID(bogus)}", env)
	if len(env.reported) != 3 || !errors.Is(env.reported[0], ErrNoFunction) || !errSyntax(env.reported[1]) {
		t.Errorf("reported = %v", env.reported)
	}
}

func TestSubstituteNilEnv(t *testing.T) {
	if got := Substitute("${X}${LEN(abc)}$[2*3]", nil); got != "36" {
		t.Errorf("got %q", got)
	}
}

func TestRand(t *testing.T) {
	seen := map[string]bool{}
	for range 200 {
		v := Substitute("${RAND(3,5)}", nil)
		n, err := strconv.Atoi(v)
		if err != nil || n < 3 || n > 5 {
			t.Fatalf("RAND(3,5) = %q", v)
		}
		seen[v] = true
	}
	if len(seen) != 3 {
		t.Errorf("RAND(3,5) produced only %v", seen)
	}
	if v := Substitute("${RAND(7,7)}", nil); v != "7" {
		t.Errorf("RAND(7,7) = %q", v)
	}
}

func TestCheckCondition(t *testing.T) {
	for s, want := range map[string]bool{"": false, "0": false, "1": true, "-1": true, " 2": true, "0abc": false, "abc": true, "00": false} {
		if got := CheckCondition(s); got != want {
			t.Errorf("CheckCondition(%q) = %v", s, got)
		}
	}
}

func TestSubstring(t *testing.T) {
	tests := []struct {
		v        string
		off, len int
		want     string
	}{
		{"12345", 0, 1 << 30, "12345"},
		{"12345", 1, 1 << 30, "2345"},
		{"12345", -1, 1 << 30, "5"},
		{"12345", -3, 2, "34"},
		{"12345", 0, -2, "123"},
		{"12345", -3, -1, "34"},
		{"12345", 3, -2, ""},
		{"12345", 5, 1, ""},
		{"", -1, -1, ""},
	}
	for _, tt := range tests {
		if got := Substring(tt.v, tt.off, tt.len); got != tt.want {
			t.Errorf("Substring(%q,%d,%d) = %q, want %q", tt.v, tt.off, tt.len, got, tt.want)
		}
	}
}

func TestSplitArgs(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"", nil},
		{"a", []string{"a"}},
		{"a,b,c", []string{"a", "b", "c"}},
		{"a,,c", []string{"a", "", "c"}},
		{"a,", []string{"a", ""}},
		{",", []string{"", ""}},
		{"a, b,  c", []string{"a", "b", "c"}},
		{`a\,b,c`, []string{"a,b", "c"}},
		{`"a,b",c`, []string{"a,b", "c"}},
		{`say "hi there",x`, []string{"say hi there", "x"}},
		{`x=${IF($[1=1]?a:b)},y`, []string{"x=${IF($[1=1]?a:b)}", "y"}},
		{"PJSIP/a&PJSIP/b,30,b(sub^s^1(x,y))", []string{"PJSIP/a&PJSIP/b", "30", "b(sub^s^1(x,y))"}},
		{"a[1,2],b", []string{"a[1,2]", "b"}},
		{"a),b", []string{"a)", "b"}},
		{`trailing\`, []string{"trailing"}},
		{`\\`, []string{`\`}},
	}
	for _, tt := range tests {
		got := SplitArgs(tt.in)
		if !equalStrings(got, tt.want) {
			t.Errorf("SplitArgs(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	if got := SplitArgsDelim("a?b?c", '?', 2); !equalStrings(got, []string{"a", "b?c"}) {
		t.Errorf("limit: %q", got)
	}
	if got := SplitArgsDelim(`1?"x":y`, '?', 2); !equalStrings(got, []string{"1", `"x":y`}) {
		t.Errorf("remainder is raw: %q", got)
	}
	if got := SplitArgsRaw(`a\,b,"c"`, ',', -1); !equalStrings(got, []string{`a\,b`, `"c"`}) {
		t.Errorf("raw: %q", got)
	}
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) || (a == nil) != (b == nil) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
