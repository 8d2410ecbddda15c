package dialplan

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
)

func FuzzParse(f *testing.F) {
	f.Add("[c]\nexten => 1,1,NoOp()\n same => n(l),Goto(l)\ninclude => c\n")
	f.Add("[globals]\nA=${A}\n[c]\nexten => ${A}/_X.,hint,PJSIP/1\n")
	f.Add("[c](!)\n;-- x --;\n[d](c)\nexten => _[1-,1,X(\n")
	f.Fuzz(func(t *testing.T, conf string) {
		d, err := Parse("fuzz.conf", strings.NewReader(conf))
		if err != nil {
			if d != nil {
				t.Fatal("plan returned with an error")
			}
			if !strings.HasPrefix(err.Error(), "fuzz.conf") {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		for _, c := range d.Contexts() {
			for _, e := range d.Extensions(c) {
				name, _, _ := strings.Cut(e, "/")
				d.Find(c, name, 1, "")
				d.Steps(c, e)
			}
			d.Find(c, "123", 1, "555")
			d.MatchMore(c, "1")
			d.FindLabel(c, "s", "l")
		}
		if err := d.Clone().Merge(d); err != nil && len(d.Contexts()) == 0 {
			t.Fatalf("merge of an empty plan failed: %v", err)
		}
	})
}

func FuzzSubstitute(f *testing.F) {
	for _, s := range []string{"${FOO:1:-1}", "${${NAME}}", "$[${N}+1]", "${IF($[1=1]?a:b)}", "${CUT(LIST,\\,,2-)}", "${EVAL(${SELF})}", "${", "$[", "${FILTER(\\x,a)}"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := Substitute(s, newTestEnv())
		if !strings.Contains(s, "$") && got != s {
			t.Fatalf("text without '$' changed: %q -> %q", s, got)
		}
	})
}

func FuzzExpr(f *testing.F) {
	for _, s := range []string{"1 + 2 * 3", `"a" =~ "(b)"`, "0 ? a :: b", "!-1", "SQRT(2) / 0", "LEN(x,,y)", "${X}abc", "1e999 * 1e999", "(((1)))"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := Evaluate(s, newTestEnv())
		if err != nil && got != "" {
			t.Fatalf("error with a result: %q %v", got, err)
		}
	})
}

// setsClosed reports whether every '[' in s has a ']' after it.
func setsClosed(s string) bool {
	for {
		i := strings.IndexByte(s, '[')
		if i < 0 {
			return true
		}
		j := strings.IndexByte(s[i+1:], ']')
		if j < 0 {
			return false
		}
		s = s[i+1+j+1:]
	}
}

// refRegexp translates an Asterisk pattern to a Go regexp independently of
// the bitmap matcher, for differential fuzzing. ok is false for patterns
// Asterisk rejects.
func refRegexp(ext string) (re *regexp.Regexp, ok bool) {
	key := normalizeExten(ext)
	if !strings.HasPrefix(key, "_") {
		return regexp.MustCompile("^" + regexp.QuoteMeta(key) + "$"), true
	}
	var b strings.Builder
	b.WriteString("(?s)^")
	class := func(chars []byte) {
		b.WriteString("[")
		for _, c := range chars {
			fmt.Fprintf(&b, `\x{%x}`, c)
		}
		b.WriteString("]")
	}
	body := key[1:]
loop:
	for i := 0; i < len(body); i++ {
		switch c := body[i]; c {
		case 'X', 'x':
			b.WriteString("[0-9]")
		case 'Z', 'z':
			b.WriteString("[1-9]")
		case 'N', 'n':
			b.WriteString("[2-9]")
		case '.', '!':
			// Matching stops here, but the pattern loader still rejects a
			// malformed set after it, as it does anywhere in a pattern.
			if !setsClosed(body[i+1:]) {
				return nil, false
			}
			if c == '.' {
				b.WriteString(".+")
			} else {
				b.WriteString(".*")
			}
			break loop
		case '[':
			end := strings.IndexByte(body[i+1:], ']')
			if end < 0 {
				return nil, false
			}
			set := body[i+1 : i+1+end]
			i += 1 + end
			var chars []byte
			for j := 0; j < len(set); j++ {
				lo, hi := set[j], set[j]
				if j+2 < len(set) && set[j+1] == '-' {
					hi = set[j+2]
					j += 2
				}
				for ch := int(lo); ch <= int(hi); ch++ {
					chars = append(chars, byte(ch))
				}
			}
			if len(chars) > 0 {
				class(chars)
			}
		default:
			class([]byte{c})
		}
	}
	b.WriteString("$")
	return regexp.MustCompile(b.String()), true
}

func FuzzMatch(f *testing.F) {
	for _, s := range [][2]string{{"_9011.", "9011"}, {"_NXX-XXXX", "555-1234"}, {"_[1-5a]!", "a"}, {"100", "1-00"}, {"_[]X", "1"}, {"_X.", ""}, {"_[a-]", "a"}} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, ext, data string) {
		for i := 0; i < len(ext); i++ {
			if ext[i] >= 0x80 {
				return // the reference regexp works on UTF-8 text
			}
		}
		for i := 0; i < len(data); i++ {
			if data[i] >= 0x80 {
				return
			}
		}
		m, err := newMatcher(ext)
		ref, ok := refRegexp(ext)
		if (err == nil) != ok {
			t.Fatalf("%q: matcher error %v, reference ok %v", ext, err, ok)
		}
		if err != nil {
			return
		}
		got := m.match(data, modeMatch) != noMatch
		want := ref.MatchString(strings.ReplaceAll(data, "-", ""))
		if got != want {
			t.Fatalf("%q vs %q: match %v, reference %v (%s)", ext, data, got, want, ref)
		}
		can := m.match(data, modeCanMatch) != noMatch
		more := m.match(data, modeMatchMore) != noMatch
		if got && !can || more && !can {
			t.Fatalf("%q vs %q: match %v matchmore %v but canmatch %v", ext, data, got, more, can)
		}
		if m.pat != nil {
			// Sorting must be a consistent order: a pattern equals itself.
			if comparePatterns(m.pat, m.pat) != 0 {
				t.Fatalf("%q does not compare equal to itself", ext)
			}
		}
	})
}
