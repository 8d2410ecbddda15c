package prompts

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func FuzzSayNumber(f *testing.F) {
	for _, seed := range []struct {
		n            int64
		lang, gender string
	}{
		{0, "en", ""}, {-1 << 63, "es", "f"}, {1<<63 - 1, "fr", "m"},
		{2147483639, "es", "M"}, {999999999, "fr_CA", "f"}, {123456, "en_GB", ""},
		{71, "xx", "n"}, {2147483647, "de", "f"}, {-2147483648, "de_AT", ""},
		{999999999, "it", ""}, {1001000, "pt_BR", "f"},
	} {
		f.Add(seed.n, seed.lang, seed.gender)
	}
	f.Fuzz(func(t *testing.T, n int64, lang, gender string) {
		names, err := SayNumber(n, lang, gender)
		if err != nil {
			if !errors.Is(err, ErrNumberTooBig) || names != nil {
				t.Fatalf("SayNumber(%d) = %v, %v", n, names, err)
			}
			return
		}
		if len(names) == 0 {
			t.Fatalf("SayNumber(%d, %q) said nothing", n, lang)
		}
		if (n < 0) != (names[0] == "digits/minus") {
			t.Fatalf("SayNumber(%d) sign: %v", n, names)
		}
		for _, name := range names {
			if !strings.HasPrefix(name, "digits/") && name != "vm-and" {
				t.Fatalf("SayNumber(%d) produced %q", n, name)
			}
		}
		if _, err := SayEnumeration(n, lang); err != nil && !errors.Is(err, ErrNumberTooBig) {
			t.Fatal(err)
		}
		if _, err := SayEnumerationGender(n, lang, gender); err != nil && !errors.Is(err, ErrNumberTooBig) {
			t.Fatal(err)
		}
	})
}

func FuzzSayAlpha(f *testing.F) {
	for _, s := range []string{"", "Hello, World!", "a@b.c", "\x00\xff\xfe*#", "日本語", "9-9"} {
		f.Add(s, "en", true)
	}
	f.Fuzz(func(t *testing.T, s, lang string, cs bool) {
		alpha := SayAlpha(s, lang, cs)
		if len(alpha) > 2*len(s) {
			t.Fatalf("SayAlpha(%q): %d names", s, len(alpha))
		}
		for _, name := range append(append(alpha, SayPhonetic(s)...), SayDigits(s, lang)...) {
			if name == "" || strings.Contains(name, "..") {
				t.Fatalf("bad name %q for %q", name, s)
			}
		}
		// The format interpreter takes arbitrary text too.
		at := time.Unix(int64(len(s))*86400*37, 0).UTC()
		if _, err := SayDateWithFormatAt(at, at.Add(time.Duration(len(s))*time.Hour), lang, s); err != nil {
			t.Fatal(err)
		}
		if _, err := SayMoney(s, lang); err != nil && !errors.Is(err, ErrNumberTooBig) {
			t.Fatal(err)
		}
	})
}
