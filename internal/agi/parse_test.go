package agi

import (
	"slices"
	"strings"
	"testing"
)

func TestParseArgs(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{"ANSWER", []string{"ANSWER"}},
		{"", nil},
		{"   ", nil},
		{`STREAM FILE beep ""`, []string{"STREAM", "FILE", "beep", ""}},
		{"STREAM FILE hello-world # ", []string{"STREAM", "FILE", "hello-world", "#"}},
		{`SET VARIABLE ANCHORVAR "hello world"`, []string{"SET", "VARIABLE", "ANCHORVAR", "hello world"}},
		{"a\t\tb", []string{"a", "b"}},
		{`a"b c"d`, []string{"ab cd"}},
		{`a\ b`, []string{"a b"}},
		{`"a\"b"`, []string{`a"b`}},
		{`a\\b`, []string{`a\b`}},
		{`"" ""`, []string{"", ""}},
		{`x "unterminated`, []string{"x", "unterminated"}},
		{`EXEC Dial "PJSIP/100,20"`, []string{"EXEC", "Dial", "PJSIP/100,20"}},
		{`GET FULL VARIABLE ${CHANNEL(name)}`, []string{"GET", "FULL", "VARIABLE", "${CHANNEL(name)}"}},
	} {
		if got := ParseArgs(tc.in); !slices.Equal(got, tc.want) {
			t.Errorf("ParseArgs(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// TestParseArgsTruncates: at most MAX_ARGS-1 words, the rest dropped.
func TestParseArgsTruncates(t *testing.T) {
	line := strings.Repeat("w ", 200)
	if got := ParseArgs(line); len(got) != maxArgs-1 {
		t.Fatalf("%d words, want %d", len(got), maxArgs-1)
	}
}

func TestFindCommand(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want string // first word of the matched command, "" for none
	}{
		{"answer", "answer"},
		{"GET DATA x", "get data"},
		{"get full variable x", "get full variable"},
		{"GET", ""},
		{"GET NOTHING", ""},
		{"DATABASE DELTREE f", "database deltree"},
		{"Speech Load Grammar a b", "speech load grammar"},
		{"", ""},
	} {
		c := findCommand(ParseArgs(tc.in))
		got := ""
		if c != nil {
			got = strings.Join(c.words, " ")
		}
		if got != tc.want {
			t.Errorf("findCommand(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// FuzzParseArgs: the parser never panics, keeps to MAX_ARGS, and words
// quoted as clients quote them parse back to themselves.
func FuzzParseArgs(f *testing.F) {
	for _, s := range []string{`STREAM FILE beep ""`, `SET VARIABLE X "a b"`, `a\ b "c\"d" e`, "\t\"", `\`, `"""`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		words := ParseArgs(line)
		if len(words) > maxArgs-1 {
			t.Fatalf("%d words", len(words))
		}
		_ = findCommand(words)
		quoted := make([]string, len(words))
		for i, w := range words {
			quoted[i] = quoteArg(w)
		}
		again := ParseArgs(strings.Join(quoted, " "))
		if len(words) > 0 && !slices.Equal(again, words) {
			t.Fatalf("%q -> %q -> %q", line, words, again)
		}
	})
}
