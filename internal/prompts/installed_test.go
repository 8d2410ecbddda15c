package prompts

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// installedSounds is where Debian's asterisk-core-sounds-{en,es,fr}-wav
// packages put the sound sets.
const installedSounds = "/usr/share/asterisk/sounds"

func installedLibrary(t *testing.T) *Library {
	t.Helper()
	if _, err := os.Stat(installedSounds); err != nil {
		t.Skipf("%s absent", installedSounds)
	}
	return NewLibrary(installedSounds)
}

// checker asserts that names resolve in the language's own sound set (own
// = true) or through the language chain with its en fallback.
type checker struct {
	t       *testing.T
	lib     *Library
	lang    string
	own     string // directory of the language's own set
	missing map[string]string
	seen    map[string]bool // names already found (in the own set when true)
}

func newChecker(t *testing.T, lib *Library, lang string) *checker {
	dirs := lib.searchDirs(lang)
	own := dirs[0]
	if !strings.HasPrefix(filepath.Base(own), lang) {
		t.Fatalf("no installed sound set for %s (search dirs %v)", lang, dirs)
	}
	return &checker{t: t, lib: lib, lang: lang, own: own, missing: map[string]string{}, seen: map[string]bool{}}
}

func (c *checker) check(what string, names []string, own bool) {
	for _, n := range names {
		if ownSeen, ok := c.seen[n]; ok && (ownSeen || !own) {
			continue
		}
		p, ok := c.lib.Find(n, c.lang)
		if ok && own && !strings.HasPrefix(p, c.own+string(filepath.Separator)) {
			ok = false
		}
		if ok {
			c.seen[n] = own
		}
		if !ok && c.missing[n] == "" {
			c.missing[n] = what
			c.t.Errorf("%s: %s uses %q, missing from the installed %s set", c.lang, what, n, c.lang)
		}
	}
}

var sweepPrimes = []int64{2, 3, 5, 7, 11, 13}

func TestInstalledSoundsCoverSayOutput(t *testing.T) {
	lib := installedLibrary(t)
	for _, lang := range []string{"en", "es", "fr", "it"} {
		t.Run(lang, func(t *testing.T) {
			c := newChecker(t, lib, lang)
			count := 0
			for n, i := int64(0), 0; n <= 100000; n, i = n+sweepPrimes[i%len(sweepPrimes)], i+1 {
				for _, g := range []string{"", "f", "m"} {
					for _, v := range []int64{n, -n, n * 1000, n*10000 + 1} {
						names, err := SayNumber(v, lang, g)
						if err != nil {
							t.Fatalf("SayNumber(%d): %v", v, err)
						}
						c.check("SayNumber", names, true)
						count++
					}
				}
			}
			for n := int64(0); n <= 2000; n++ {
				names, err := SayEnumeration(n, lang)
				if err != nil {
					t.Fatal(err)
				}
				c.check("SayEnumeration", names, true)
			}
			if count < 10000 {
				t.Fatalf("sweep too small: %d", count)
			}
			// Every hour and minute, and every day of a leap year.
			for at := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC); at.Year() == 2024; at = at.Add(23*time.Hour + 7*time.Minute + 3*time.Second) {
				for _, f := range []func(time.Time, string) ([]string, error){SayDate, SayTime, SayDateTime} {
					names, err := f(at, lang)
					if err != nil {
						t.Fatal(err)
					}
					c.check("SayDate/Time "+at.String(), names, true)
				}
				names, err := SayDateWithFormat(at, lang, "ABdY 'digits/at' IMp HMS R T m kN")
				if err != nil {
					t.Fatal(err)
				}
				c.check("SayDateWithFormat "+at.String(), names, false)
			}
			for _, y := range []int{1901, 1909, 1999, 2000, 2001} {
				names, err := SayDateWithFormat(time.Date(y, 1, 1, 0, 0, 0, 0, time.UTC), lang, "Y")
				if err != nil {
					t.Fatal(err)
				}
				c.check("year", names, true)
			}
			var ascii strings.Builder
			for ch := byte(32); ch < 127; ch++ {
				ascii.WriteByte(ch)
			}
			c.check("SayDigits", SayDigits(ascii.String(), lang), true)
			c.check("SayAlpha", SayAlpha(ascii.String(), lang, false), true)
			// "uppercase"/"lowercase" exist only in en and fr; Asterisk's
			// file lookup falls back to en, as Find does.
			c.check("SayAlphaCase", SayAlpha(ascii.String(), lang, true), false)
			c.check("SayPhonetic", SayPhonetic(ascii.String()), false)
		})
	}
}
