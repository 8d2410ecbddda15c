//go:build pocketsphinx && cgo

package pocketsphinx

import (
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/entvoice/entvoice/internal/speech"
)

// The accuracy test plays espeak-ng phrases through a G.711 round trip at
// 8 kHz (mu-law and A-law alternately) into a recognizer, across voices
// and speeds, and prints a table per grammar (go test -v). Synthetic
// speech is not a caller, so the test asserts a floor, not a perfect
// score; docs/speech.md records the measured table.

var (
	accVoices = []string{"en-us", "en-us+m3", "en-us+f2", "en-us+f4", "en-gb"}
	accRates  = []int{130, 160, 200}
)

type accGrammar struct {
	name    string
	grammar func() (*speech.Grammar, error)
	phrases []string
	floor   float64 // minimum fraction correct
	paused  bool    // synthesise digits with a pause between them ("one, two")
}

func accGrammars() []accGrammar {
	return []accGrammar{
		{"menu", func() (*speech.Grammar, error) {
			return speech.MenuGrammar([]string{"sales", "support", "billing", "operator", "one", "two", "three"})
		}, []string{"sales", "support", "billing", "operator", "one", "two", "three"}, 0.85, false},
		{"yesno", func() (*speech.Grammar, error) { return speech.YesNoGrammar(), nil },
			[]string{"yes", "no"}, 0.9, false},
		{"digit", func() (*speech.Grammar, error) { return speech.DigitsGrammar(1, 1) },
			[]string{"zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"}, 0.65, false},
		{"digits4", func() (*speech.Grammar, error) { return speech.DigitsGrammar(4, 4) },
			[]string{"one two three four", "five six seven eight", "nine zero two one", "zero four eight six"}, 0.3, false},
		{"digits", func() (*speech.Grammar, error) { return speech.DigitsGrammar(1, 0) },
			[]string{"seven", "three one", "eight two five", "four four nine one"}, 0.35, false},
	}
}

type tally struct{ ok, n int }

func (t tally) String() string {
	if t.n == 0 {
		return "-"
	}
	return fmt.Sprintf("%d/%d", t.ok, t.n)
}

func (t tally) frac() float64 { return float64(t.ok) / float64(max(t.n, 1)) }

func TestAccuracy(t *testing.T) {
	if testing.Short() {
		t.Skip("accuracy sweep skipped in -short mode")
	}
	e := newEngine(t, Config{})
	s := newSynth(t)
	var pc phraseCache
	var report strings.Builder
	fmt.Fprintf(&report, "\naccuracy at 8 kHz G.711 (espeak-ng voices x rates; correct/total)\n")
	fmt.Fprintf(&report, "%-8s %-10s", "grammar", "voice")
	for _, r := range accRates {
		fmt.Fprintf(&report, " %8s", fmt.Sprintf("%d wpm", r))
	}
	fmt.Fprintf(&report, " %8s\n", "all")
	for _, ag := range accGrammars() {
		g, err := ag.grammar()
		if err != nil {
			t.Fatal(err)
		}
		var total tally
		byRate := map[int]*tally{}
		var misses []string
		for vi, voice := range accVoices {
			var row tally
			fmt.Fprintf(&report, "%-8s %-10s", ag.name, voice)
			for _, rate := range accRates {
				var cell tally
				for _, phrase := range ag.phrases {
					text := phrase
					if ag.paused {
						text = strings.ReplaceAll(phrase, " ", ", ")
					}
					audio := phone(pc.get(t, s, text, voice, rate), (vi+rate)%2 == 1, 400, 900)
					res, reason, err := recognize(t, e, audio, map[string]*speech.Grammar{ag.name: g})
					if err != nil {
						t.Fatalf("%s %q: %v", voice, phrase, err)
					}
					got := ""
					if len(res) > 0 {
						got = res[0].Text
					} else {
						got = "(" + reason.String() + ")"
					}
					cell.n++
					if got == phrase {
						cell.ok++
					} else {
						misses = append(misses, fmt.Sprintf("%s@%d %q->%q", voice, rate, phrase, got))
					}
				}
				fmt.Fprintf(&report, " %8s", cell)
				row.ok, row.n = row.ok+cell.ok, row.n+cell.n
				if byRate[rate] == nil {
					byRate[rate] = &tally{}
				}
				byRate[rate].ok += cell.ok
				byRate[rate].n += cell.n
			}
			fmt.Fprintf(&report, " %8s\n", row)
			total.ok, total.n = total.ok+row.ok, total.n+row.n
		}
		fmt.Fprintf(&report, "%-8s %-10s", ag.name, "ALL")
		rates := make([]int, 0, len(byRate))
		for r := range byRate {
			rates = append(rates, r)
		}
		sort.Ints(rates)
		for _, r := range rates {
			fmt.Fprintf(&report, " %8s", byRate[r])
		}
		fmt.Fprintf(&report, " %8s  (%.0f%%, floor %.0f%%)\n", total, 100*total.frac(), 100*ag.floor)
		if len(misses) > 0 {
			fmt.Fprintf(&report, "         misses: %s\n", strings.Join(misses, "; "))
		}
		if total.frac() < ag.floor {
			t.Errorf("%s: %s correct (%.0f%%), below the floor of %.0f%%", ag.name, total, 100*total.frac(), 100*ag.floor)
		}
	}
	t.Log(report.String())
}
