package dialplan

import (
	"strings"
	"testing"
)

func TestEvaluate(t *testing.T) {
	tests := []struct{ expr, want string }{
		{"", ""},
		{"   ", ""},
		{"42", "42"},
		{"007", "007"}, // a lone numeric string keeps its text
		{"abc", "abc"},
		{`"quoted string"`, `"quoted string"`},
		// arithmetic
		{"1 + 2", "3"},
		{"1+2", "3"},
		{"7 - 10", "-3"},
		{"6 * 7", "42"},
		{"10 / 4", "2.5"},
		{"10 / 3", "3.33333333333333333"}, // long double, %.18Lg
		{"1.1 + 2.2", "3.3"},
		{"10 % 3", "1"},
		{"-7 % 3", "-1"},
		{"7.5 % 2", "1.5"},
		{"2 + 3 * 4", "14"},
		{"(2 + 3) * 4", "20"},
		{"- 5", "-5"},
		{"- - 5", "5"},
		{"3 - -2", "5"},
		{"99999999999 * 99999999999", "9.9999999998e+21"}, // 18 significant digits
		{"4294967296 * 4294967296", "1.84467440737095516e+19"},
		{"123456789012345678", "123456789012345678"}, // a literal keeps its text
		{"1 / 0", "2147483647"},
		{"abc / 2", "0"},
		{"2 / abc", "2147483647"},
		{"abc + 2", "2"},
		{"2 + abc", "2"},
		{"abc - 2", "-2"},
		{"abc * 2", "0"},
		{"5 % 0", "0"},
		{"0 * -1", "-0"},
		// comparisons: numeric when both sides are numbers
		{"10 > 9", "1"},
		{"10 < 9", "0"},
		{"010 = 10", "1"},
		{"1.0 == 1", "1"},
		{"2 >= 2", "1"},
		{"2 <= 1", "0"},
		{"3 != 3", "0"},
		// string otherwise (byte order)
		{"abc = abc", "1"},
		{"abc < abd", "1"},
		{"10 < 9a", "1"},
		{`"abc" = abc`, "0"}, // quotes are part of the string
		{`"abc" = "abc"`, "1"},
		{"B > A", "1"},
		// logic
		{"1 & 2", "1"},
		{"1 & 0", "0"},
		{"abc & def", "abc"},
		{"0 | 5", "5"},
		{"3 | 5", "3"},
		{"05 | 1", "5"}, // to_number converted the left operand
		{"1 && 1", "1"},
		{"0 || 0", "0"},
		{"!0", "1"},
		{"!1", "0"},
		{"!abc", "1"}, // atoi("abc") == 0
		{"!2abc", "0"},
		{"2 > 1 & 3 > 2", "1"},
		{"1 = 1 | 1 = 2", "1"},
		// ternary
		{"1 ? yes :: no", "yes"},
		{"0 ? yes :: no", "no"},
		{`"" ? yes :: no`, "no"},
		{"abc ? yes :: no", "yes"},
		{"1 = 2 ? yes :: no", "no"},
		{"0 ? a :: 1 ? b :: c", "b"},
		{"1 ? 0 ? x :: y :: z", "y"},
		// regex
		{"abcde : ab", "2"},
		{"abcde : cd", "0"},
		{`abcde : "a(b.)"`, "bc"},
		{`abcde : "x(y)"`, ""},
		{"abcde =~ cd", "2"},
		{`"xyzabc" =~ "b(c)"`, "c"},
		{`5551234 : "555(.*)"`, "1234"},
		{"9011 : 9011", "4"},
		{`abc : "[["`, ""},
		// concatenation
		{"foo ~~ bar", "foobar"},
		{`"a b" ~~ "c"`, "a bc"},
		{"1 ~~ 2 + 1", "13"},
		// precedence of unary vs ':'
		{"- 12 : 1", "-1"},
		{"! abc : x", "1"},
		// functions
		{"SQRT(16)", "4"},
		{"POW(2,10)", "1024"},
		{"ABS(-3)", "3"},
		{"FLOOR(2.7) + CEIL(2.2)", "5"},
		{"SQRT(-1)", "nan"},
		{"LEN(abcd)", "4"},
		{"TOUPPER(abc) = ABC", "1"},
		{"NOSUCH(1)", "0"},
		{"lower(1)", "0"}, // not a possible function name
	}
	for _, tt := range tests {
		got, err := Evaluate(tt.expr, nil)
		if err != nil {
			t.Errorf("Evaluate(%q): %v", tt.expr, err)
			continue
		}
		if got != tt.want {
			t.Errorf("Evaluate(%q) = %q, want %q", tt.expr, got, tt.want)
		}
	}
}

func TestEvaluateSyntaxErrors(t *testing.T) {
	for _, expr := range []string{"= 1", "1 +", "(1", "1)", "1 2", "1 ? 2", "1 ? 2 :: 3 :: 4", "LEN()", " | 5", "!", "a,b", "f(,1)", strings.Repeat("(", 5000)} {
		got, err := Evaluate(expr, nil)
		if err == nil || got != "" || !errSyntax(err) {
			t.Errorf("Evaluate(%q) = %q, %v; want a syntax error", expr, got, err)
		}
	}
}

func TestEvaluateEnvFunctionsAndWarnings(t *testing.T) {
	env := newTestEnv()
	got, err := Evaluate("CALLERID(num) : 555", env)
	if err != nil || got != "3" {
		t.Errorf("env function in expression = %q, %v", got, err)
	}
	if got, _ := Evaluate(`CALLERID(name) ~~ "!"`, env); got != "Alice!" {
		t.Errorf("concatenation with env function = %q", got)
	}
	env.reported = nil
	if got, _ := Evaluate("1 / 0", env); got != "2147483647" || len(env.reported) != 1 || !strings.Contains(env.reported[0].Error(), "division by zero") {
		t.Errorf("division by zero: %q %v", got, env.reported)
	}
}
