package amd

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/entvoice/entvoice/internal/media"
	"github.com/entvoice/entvoice/internal/media/mediatest"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// seg is a stretch of synthetic audio: voice (a 440 Hz tone well above the
// threshold) or silence (low noise below it), in ms.
type seg struct {
	voice bool
	ms    int
}

func v(ms int) seg { return seg{true, ms} }
func s(ms int) seg { return seg{false, ms} }

func render(segs ...seg) []int16 {
	var out []int16
	for _, g := range segs {
		n := g.ms * media.SampleRate / 1000
		if g.voice {
			out = append(out, mediatest.Tone(440, 3000, n)...)
		} else {
			noise := mediatest.Tone(3100, 60, n) // mean |x| about 38: silence
			out = append(out, noise...)
		}
	}
	return out
}

// analyse feeds pcm in 20 ms frames and returns the verdict and how many
// ms of audio it took (or ok=false if none came).
func analyse(p Params, pcm []int16) (Result, int, bool) {
	a := New(p)
	for i := 0; i+media.FrameSamples <= len(pcm); i += media.FrameSamples {
		if r, ok := a.Frame(pcm[i : i+media.FrameSamples]); ok {
			return r, (i + media.FrameSamples) / 8, true
		}
	}
	return Result{}, 0, false
}

func TestAnalyzerBranches(t *testing.T) {
	def := DefaultParams()
	with := func(f func(*Params)) Params { p := def; f(&p); return p }
	cases := []struct {
		name   string
		p      Params
		audio  []seg
		status Status
		cause  string
		atMs   int
	}{
		{"initial silence", def, []seg{s(3000)}, Machine, "INITIALSILENCE-2500-2500", 2500},
		{"human: short greeting then silence", def, []seg{s(400), v(600), s(1500)}, Human, "HUMAN-800-800", 1800},
		{"human: two words", def, []seg{s(300), v(300), s(120), v(400), s(1000)}, Human, "HUMAN-800-800", 1920},
		{"maxwords: third word", def, []seg{s(300), v(300), s(100), v(300), s(100), v(300), s(1000)}, Machine, "MAXWORDS-3-2", 1200},
		{"maxwords with Asterisk 13's 3", with(func(p *Params) { p.MaximumNumberOfWords = 3 }),
			[]seg{s(300), v(200), s(100), v(200), s(100), v(200), s(100), v(200), s(100), v(200)}, Machine, "MAXWORDS-4-3", 1300},
		{"long greeting", def, []seg{s(300), v(2000)}, Machine, "LONGGREETING-1500-1500", 1800},
		{"long greeting over words", def, []seg{s(200), v(700), s(60), v(900)}, Machine, "LONGGREETING-1500-1500", 1760},
		{"maximum word length", with(func(p *Params) { p.MaximumWordLength = 1000; p.Greeting = 3000 }),
			[]seg{s(200), v(1500)}, Machine, "MAXWORDLENGTH-1000", 1200},
		{"too long", with(func(p *Params) { p.InitialSilence = 6000 }), []seg{s(6000)}, NotSure, "TOOLONG-5000", 5000},
		// Voice at once: app_amd.c starts in the word state, so the first
		// word is not counted and two more do not exceed 2.
		{"first word uncounted without leading silence", def,
			[]seg{v(300), s(100), v(300), s(100), v(300), s(1000)}, Human, "HUMAN-800-800", 1900},
		// Short clicks (under minimum_word_length) are voice time but no word.
		{"short bursts are no words", def,
			[]seg{s(300), v(60), s(60), v(60), s(60), v(60), s(60), v(200), s(900)}, Human, "HUMAN-800-800", 1660},
		{"silence threshold respected", with(func(p *Params) { p.SilenceThreshold = 4000 }),
			[]seg{v(3000)}, Machine, "INITIALSILENCE-2500-2500", 2500},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r, at, ok := analyse(tc.p, render(tc.audio...))
			if !ok {
				t.Fatal("no verdict")
			}
			if r.Status != tc.status || r.Cause != tc.cause || at != tc.atMs {
				t.Fatalf("got %s %s at %d ms, want %s %s at %d ms", r.Status, r.Cause, at, tc.status, tc.cause, tc.atMs)
			}
		})
	}
}

func TestAnalyzerNoFrameAndExpire(t *testing.T) {
	a := New(DefaultParams())
	if got := a.Expire(); got != (Result{NotSure, "NOAUDIODATA-0"}) {
		t.Fatalf("Expire without audio = %+v", got)
	}
	a = New(DefaultParams())
	for range 49 {
		if _, ok := a.NoFrame(100 * time.Millisecond); ok {
			t.Fatal("verdict too early")
		}
	}
	if r, ok := a.NoFrame(100 * time.Millisecond); !ok || r != (Result{NotSure, "TOOLONG-5000"}) {
		t.Fatalf("NoFrame = %+v %v", r, ok)
	}
	// After a verdict the analyser keeps it.
	if r, _ := a.Frame(make([]int16, 160)); r.Cause != "TOOLONG-5000" {
		t.Fatalf("verdict changed to %+v", r)
	}
	a = New(DefaultParams())
	a.Frame(make([]int16, 160))
	if got := a.Expire(); got != (Result{NotSure, "TOOLONG-20"}) {
		t.Fatalf("Expire after audio = %+v", got)
	}
	if got := DefaultParams().MaxWait(); got != 100*time.Millisecond {
		t.Fatalf("MaxWait = %v", got)
	}
	p := DefaultParams()
	p.BetweenWordsSilence = 30
	if got := p.MaxWait(); got != 60*time.Millisecond {
		t.Fatalf("MaxWait = %v", got)
	}
}

func TestConfigAndArgs(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "amd.conf")
	conf := `; amd.conf
[general]
total_analysis_time = 4000 ; ms
silence_threshold = 300
initial_silence = 2000
greeting = 1200
after_greeting_silence = 700
min_word_length = 120
maximum_word_length = 4000
between_words_silence = 60
maximum_number_of_words = 3
playback_file = silence/1
[other]
ignored = 1
`
	if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := LoadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	want := Params{InitialSilence: 2000, Greeting: 1200, AfterGreetingSilence: 700, TotalAnalysisTime: 4000,
		MinimumWordLength: 120, BetweenWordsSilence: 60, MaximumNumberOfWords: 3, SilenceThreshold: 300, MaximumWordLength: 4000}
	if cfg.Params != want || cfg.PlaybackFile != "silence/1" {
		t.Fatalf("config = %+v", cfg)
	}
	p, file := cfg.WithArgs(strings.Split("2500,,,5000,,,2x,,,beep", ","))
	want.InitialSilence, want.TotalAnalysisTime, want.MaximumNumberOfWords = 2500, 5000, 2
	if p != want || file != "beep" {
		t.Fatalf("WithArgs = %+v %q", p, file)
	}
	if p, _ := DefaultConfig().WithArgs([]string{"abc"}); p.InitialSilence != 0 {
		t.Fatalf("atoi(abc) = %d, want 0 as C's atoi", p.InitialSilence)
	}

	for _, bad := range []struct{ text, want string }{
		{"[general]\ngreting = 100\n", "amd.conf:2: unknown keyword \"greting\""},
		{"[general]\n\ngreeting = long\n", "amd.conf:3: greeting: \"long\" is not an integer"},
		{"[general]\ngreeting = -5\n", "amd.conf:2: greeting must not be negative"},
		{"greeting = 5\n", "amd.conf:1:"},
	} {
		if err := os.WriteFile(path, []byte(bad.text), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := LoadConfig(path); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("LoadConfig(%q) = %v, want %q", bad.text, err, bad.want)
		}
	}
	if _, err := LoadConfig(filepath.Join(dir, "missing.conf")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
}

// TestRunOverRTP runs the analysis on a real loopback session: a phone
// answers with "hello" (a tone burst) and then stays silent.
func TestRunOverRTP(t *testing.T) {
	env := mediatest.NewEnv(t)
	for _, c := range []media.Codec{media.PCMU, media.PCMA} {
		t.Run(c.Name, func(t *testing.T) {
			phone, pbx := env.Pair(t, c)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			played := make(chan error, 1)
			go func() {
				played <- phone.Play(ctx, media.NewPCMReader(render(s(300), v(500), s(2000))))
			}()
			r, err := Run(ctx, pbx, DefaultParams())
			if err != nil {
				t.Fatal(err)
			}
			if r.Status != Human || r.Cause != "HUMAN-800-800" {
				t.Fatalf("Run = %+v", r)
			}
			cancel()
			<-played
		})
	}
}

func TestRunStallsAndHangup(t *testing.T) {
	env := mediatest.NewEnv(t)
	_, pbx := env.Pair(t, media.PCMU)
	p := DefaultParams()
	p.TotalAnalysisTime = 400
	start := time.Now()
	r, err := Run(context.Background(), pbx, p)
	if err != nil {
		t.Fatal(err)
	}
	// Nothing ever arrives: waits of 100 ms count towards the total, and
	// the real-time check (made first) usually sees 400 ms passed.
	if r.Status != NotSure || r.Cause != "NOAUDIODATA-300" && r.Cause != "TOOLONG-400" {
		t.Fatalf("no audio: %+v", r)
	}
	if el := time.Since(start); el < 350*time.Millisecond || el > 2*time.Second {
		t.Fatalf("took %v", el)
	}

	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	r, err = Run(ctx, pbx, DefaultParams())
	if r != (Result{Status: Hangup}) || !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled: %+v %v", r, err)
	}
	time.AfterFunc(50*time.Millisecond, func() { _ = pbx.Close() })
	r, err = Run(context.Background(), pbx, DefaultParams())
	if r.Status != Hangup || !errors.Is(err, media.ErrSessionClosed) {
		t.Fatalf("closed: %+v %v", r, err)
	}
}
