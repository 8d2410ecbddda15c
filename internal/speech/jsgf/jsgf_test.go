package jsgf

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

const menu = `#JSGF V1.0 UTF-8 en;
/* The demo menu. */
grammar demo.menu;

// two public rules: the first one is the root
public <cmd> = [please] <item> [thanks] {cmd};
<item> = /3/ sales | /1.5/ support | /1/ "billing" | /1/ operator | /1/ <digit>+;
<digit> = one | two | three;
public <other> = nothing;
`

func TestParseMenu(t *testing.T) {
	g, err := Parse("menu.gram", []byte(menu))
	if err != nil {
		t.Fatal(err)
	}
	if g.Name != "demo.menu" || g.Encoding != "UTF-8" || g.Locale != "en" {
		t.Errorf("header: %q %q %q", g.Name, g.Encoding, g.Locale)
	}
	if g.Root().Name != "cmd" {
		t.Errorf("root = %s", g.Root().Name)
	}
	want := []string{"billing", "one", "operator", "please", "sales", "support", "thanks", "three", "two"}
	if got := g.Words(); !reflect.DeepEqual(got, want) {
		t.Errorf("Words = %v", got)
	}
	for _, tc := range []struct {
		s  string
		ok bool
	}{
		{"sales", true}, {"please SALES thanks", true}, {"billing", true},
		{"one two three one", true}, {"please", false}, {"", false},
		{"sales sales", false}, {"nothing", false}, {"thanks sales", false},
	} {
		if got := g.Match(strings.Fields(tc.s)); got != tc.ok {
			t.Errorf("Match(%q) = %v", tc.s, got)
		}
	}
	item, _ := g.Rule("item")
	if w := item.Expand.Weights; !reflect.DeepEqual(w, []float64{3, 1.5, 1, 1, 1}) {
		t.Errorf("weights = %v", w)
	}
}

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct {
		name, src string
		line, col int
		msg       string
	}{
		{"no header", "grammar x;\npublic <a> = b;", 1, 1, "header"},
		{"bad version", "#JSGF V2.0;\ngrammar x;", 1, 7, "version"},
		{"no grammar decl", "#JSGF V1.0;\npublic <a> = b;", 2, 1, `"grammar NAME;"`},
		{"missing semicolon", "#JSGF V1.0;\ngrammar x;\npublic <a> = b c\n<d> = e;", 4, 5, "';' at the end of rule <a>"},
		{"unclosed group", "#JSGF V1.0;\ngrammar x;\npublic <a> = (b | c;", 3, 20, "')'"},
		{"unclosed optional", "#JSGF V1.0;\ngrammar x;\npublic <a> = [b c);", 3, 18, "']'"},
		{"empty alternative", "#JSGF V1.0;\ngrammar x;\npublic <a> = b | ;", 3, 18, "expected a word"},
		{"undefined rule", "#JSGF V1.0;\ngrammar x;\npublic <a> = b <c>;", 3, 16, "undefined rule <c>"},
		{"duplicate", "#JSGF V1.0;\ngrammar x;\npublic <a> = b;\n<a> = c;", 4, 1, "already defined on line 3"},
		{"no public", "#JSGF V1.0;\ngrammar x;\n<a> = b;", 3, 1, "no public rule"},
		{"import", "#JSGF V1.0;\ngrammar x;\nimport <com.acme.*>;\npublic <a> = b;", 3, 1, "import"},
		{"left recursion", "#JSGF V1.0;\ngrammar x;\npublic <a> = <b> x;\n<b> = [y] <a> | z;", 3, 1, "left-recursive"},
		{"mixed weights", "#JSGF V1.0;\ngrammar x;\npublic <a> = /2/ b | c;", 3, 22, "weight"},
		{"bad weight", "#JSGF V1.0;\ngrammar x;\npublic <a> = /x/ b | /1/ c;", 3, 14, "bad weight"},
		{"unterminated comment", "#JSGF V1.0;\ngrammar x;\n/* oops\npublic <a> = b;", 3, 1, "unterminated comment"},
		{"unterminated quote", "#JSGF V1.0;\ngrammar x;\npublic <a> = \"b;\n", 3, 14, "unterminated quoted"},
		{"unterminated tag", "#JSGF V1.0;\ngrammar x;\npublic <a> = b {c;", 3, 16, "unterminated tag"},
		{"keyword as word", "#JSGF V1.0;\ngrammar x;\npublic <a> = public;", 3, 14, "keyword"},
		{"stray >", "#JSGF V1.0;\ngrammar x;\npublic <a> = b > c;", 3, 16, "unexpected"},
		{"qualified ref", "#JSGF V1.0;\ngrammar x;\npublic <a> = <x.y>;", 3, 14, "imports are not supported"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("t.gram", []byte(tc.src))
			var pe *Error
			if !errors.As(err, &pe) || !errors.Is(err, ErrSyntax) {
				t.Fatalf("err = %v, want *Error", err)
			}
			if pe.Source != "t.gram" || pe.Line != tc.line || pe.Col != tc.col || !strings.Contains(pe.Msg, tc.msg) {
				t.Errorf("err = %v; want t.gram:%d:%d: ...%s...", err, tc.line, tc.col, tc.msg)
			}
			if !strings.HasPrefix(err.Error(), "t.gram:") {
				t.Errorf("message %q does not start with file:line", err)
			}
		})
	}
}

func TestRightRecursionAndSpecials(t *testing.T) {
	src := "#JSGF V1.0;\ngrammar x;\npublic <list> = <d> [and <list>];\n<d> = one | two <NULL> | <VOID> three;\n"
	g, err := Parse("r", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	for s, ok := range map[string]bool{"one": true, "one and two and one": true, "three": false, "one and": false} {
		if g.Match(strings.Fields(s)) != ok {
			t.Errorf("Match(%q) != %v", s, ok)
		}
	}
}

func TestCombine(t *testing.T) {
	if _, err := Parse("a", []byte("#JSGF V1.0;\ngrammar a;\npublic <x> = Yes | \"No Way\" {no} | /2/ <y>* | /1/ [maybe];\n<y> = \"it's\";")); err == nil {
		t.Fatal("mixed weights accepted")
	}
	a, err := Parse("a", []byte("#JSGF V1.0;\ngrammar a;\npublic <x> = (Yes | \"No Way\" {no}) <y>* [maybe];\n<y> = \"it's\" | \"a/b\";"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := Parse("b", []byte("#JSGF V1.0;\ngrammar b;\npublic <z> = /2/ one | /0.5/ two;"))
	if err != nil {
		t.Fatal(err)
	}
	got := Combine("both", []Part{{a, "g0_"}, {b, "g1_"}}, strings.ToLower)
	want := `#JSGF V1.0;
grammar both;
public <root> = <g0_r0> | <g1_r0>;
<g0_r0> = (((yes | no way)) <g0_r1>* [maybe]);
<g0_r1> = (it's | "a/b");
<g1_r0> = (/2/ one | /0.5/ two);
`
	if got != want {
		t.Errorf("Combine:\n%s\nwant:\n%s", got, want)
	}
	// The output parses back.
	if _, err := Parse("combined", []byte(got)); err != nil {
		t.Errorf("combined grammar does not parse: %v", err)
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(menu))
	f.Add([]byte("#JSGF V1.0;\ngrammar x;\npublic <a> = (b [c]* | <d>+) {t};\n<d> = \"e f\";"))
	f.Add([]byte("#JSGF V1.0;\ngrammar x;\npublic <a> = <a> b;"))
	f.Fuzz(func(t *testing.T, src []byte) {
		g, err := Parse("fuzz", src)
		if err != nil {
			var pe *Error
			if !errors.As(err, &pe) || pe.Line < 1 || pe.Col < 1 {
				t.Fatalf("bad error %v", err)
			}
			return
		}
		words := g.Words()
		g.Match(words)
		out := Combine("f", []Part{{g, "p_"}}, strings.ToLower)
		if _, err := Parse("combined", []byte(out)); err != nil {
			t.Fatalf("combined grammar does not parse: %v\n%s", err, out)
		}
	})
}
