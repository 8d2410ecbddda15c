package tts

import (
	"context"
	"errors"
	"log/slog"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/entvoice/entvoice/internal/media"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func newSynth(t *testing.T, cfg Config) *Synthesizer {
	t.Helper()
	if _, err := exec.LookPath("espeak-ng"); err != nil {
		t.Skip("espeak-ng not installed (scripts/setup.sh installs it)")
	}
	cfg.Logger = slog.New(slog.DiscardHandler)
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

// levels returns the duration and the RMS level in dBFS of the loud part.
func levels(pcm []int16) (time.Duration, float64) {
	return time.Duration(len(pcm)) * time.Second / media.SampleRate, media.Energy(pcm)
}

func TestSpeakLanguages(t *testing.T) {
	s := newSynth(t, Config{})
	ctx := context.Background()
	for _, tc := range []struct{ lang, text string }{
		{"en", "Press one for sales"}, {"es", "Pulse uno para ventas"}, {"fr", "Appuyez sur un pour les ventes"},
		{"de", "Drücken Sie eins für den Vertrieb"}, {"it", "Premi uno per le vendite"},
		{"pt_BR", "Pressione um para vendas"}, {"pt", "Prima um para vendas"},
	} {
		p, err := s.Speak(ctx, Request{Text: tc.text, Language: tc.lang})
		if err != nil {
			t.Fatalf("%s: %v", tc.lang, err)
		}
		d, rms := levels(p.PCM)
		t.Logf("%-5s voice %-6s %5.2fs rms %.0f  %q", tc.lang, s.Voice(tc.lang), d.Seconds(), rms, tc.text)
		// About 2-3 words per second at 150 wpm, 4-6 words: 1-4 s.
		if d < 800*time.Millisecond || d > 5*time.Second {
			t.Errorf("%s: duration %v", tc.lang, d)
		}
		if rms < 500 || rms > 15000 {
			t.Errorf("%s: rms %.0f out of a sane speech level", tc.lang, rms)
		}
	}
	// A faster rate makes a shorter phrase.
	slow, _ := s.Speak(ctx, Request{Text: "one two three four five", Language: "en", Rate: 100})
	fast, err := s.Speak(ctx, Request{Text: "one two three four five", Language: "en", Rate: 300})
	if err != nil {
		t.Fatal(err)
	}
	if len(fast.PCM)*3/2 > len(slow.PCM) {
		t.Errorf("rate 300 (%d samples) not much shorter than rate 100 (%d)", len(fast.PCM), len(slow.PCM))
	}
}

func TestCacheHitsCostNoSynthesis(t *testing.T) {
	dir := t.TempDir()
	s := newSynth(t, Config{CacheDir: dir})
	ctx := context.Background()
	req := Request{Text: "Thank you for calling", Language: "en"}
	p1, err := s.Speak(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	p2, err := s.Speak(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if st := s.Stats(); st.Syntheses != 1 || st.MemoryHits != 1 || p1 != p2 {
		t.Fatalf("stats after two requests: %+v (same prompt %v)", st, p1 == p2)
	}
	// Another rate or voice is another phrase.
	if _, err := s.Speak(ctx, Request{Text: req.Text, Language: "en", Rate: 200}); err != nil {
		t.Fatal(err)
	}
	if st := s.Stats(); st.Syntheses != 2 {
		t.Fatalf("rate change not synthesised: %+v", st)
	}
	// A new synthesizer on the same directory reads the disk cache.
	s2 := newSynth(t, Config{CacheDir: dir})
	p3, err := s2.Speak(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if st := s2.Stats(); st.Syntheses != 0 || st.DiskHits != 1 || len(p3.PCM) != len(p1.PCM) {
		t.Fatalf("disk cache: %+v, %d vs %d samples", st, len(p3.PCM), len(p1.PCM))
	}
	path, err := s2.SpeakFile(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if pcm, err := media.LoadFile(path); err != nil || len(pcm) != len(p1.PCM) {
		t.Fatalf("SpeakFile %s: %d samples, %v", path, len(pcm), err)
	}
	if m, _ := filepath.Glob(filepath.Join(dir, "*", ".tmp-*")); len(m) != 0 {
		t.Errorf("temporary files left: %v", m)
	}
}

func TestConcurrentRequestsSynthesiseOnce(t *testing.T) {
	s := newSynth(t, Config{})
	var wg sync.WaitGroup
	prompts := make([]*media.Prompt, 8)
	errs := make([]error, 8)
	for i := range prompts {
		wg.Go(func() {
			prompts[i], errs[i] = s.Speak(context.Background(), Request{Text: "Please hold", Language: "en"})
		})
	}
	wg.Wait()
	for i := range prompts {
		if errs[i] != nil || prompts[i] != prompts[0] {
			t.Fatalf("request %d: %v (shared %v)", i, errs[i], prompts[i] == prompts[0])
		}
	}
	if st := s.Stats(); st.Syntheses != 1 || st.Shared+st.MemoryHits != 7 {
		t.Fatalf("stats %+v", st)
	}
}

func TestMemoryBudgetEvicts(t *testing.T) {
	s := newSynth(t, Config{MemoryBytes: 40000}) // about 2.5 s of audio
	ctx := context.Background()
	for _, w := range []string{"alpha", "bravo", "charlie", "delta"} {
		if _, err := s.Speak(ctx, Request{Text: w, Language: "en"}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Speak(ctx, Request{Text: "alpha", Language: "en"}); err != nil {
		t.Fatal(err)
	}
	s.mu.Lock()
	bytes, n := s.bytes, s.lru.Len()
	s.mu.Unlock()
	if bytes > 40000 || s.Stats().Syntheses != 5 {
		t.Fatalf("cache holds %d bytes in %d entries, %d syntheses", bytes, n, s.Stats().Syntheses)
	}
}

func TestErrors(t *testing.T) {
	if _, err := New(Config{Binary: "/nonexistent/espeak-ng"}); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("missing binary: %v", err)
	}
	s := newSynth(t, Config{})
	ctx := context.Background()
	for _, req := range []Request{
		{Text: ""}, {Text: "   "}, {Text: string(make([]byte, MaxTextBytes+1))},
		{Text: "x", Voice: "--help"}, {Text: "x", Voice: "en us"}, {Text: "x", Rate: 10}, {Text: "x", Rate: 1000},
		{Text: "hello", Voice: "xx-nonexistent"},
	} {
		if _, err := s.Speak(ctx, req); !errors.Is(err, ErrBadText) {
			t.Errorf("Speak(%+v): %v, want ErrBadText", req, err)
		}
	}
	// Text that looks like an option is spoken, not parsed.
	if p, err := s.Speak(ctx, Request{Text: "--version", Language: "en"}); err != nil || len(p.PCM) < 1000 {
		t.Errorf("option-like text: %v", err)
	}
	s.Close()
	if _, err := s.Speak(ctx, Request{Text: "after close", Language: "en"}); !errors.Is(err, ErrClosed) {
		t.Errorf("after Close: %v", err)
	}
}

func TestVoice(t *testing.T) {
	s := newSynth(t, Config{Voices: map[string]string{"es-MX": "es-419"}})
	for lang, want := range map[string]string{
		"": "en-us", "en": "en-us", "en_GB": "en-gb", "es_MX": "es-419", "es": "es", "fr_CA": "fr-fr",
		"de_AT": "de", "it": "it", "pt_BR": "pt-br", "pt_PT": "pt", "cy": "cy",
	} {
		if got := s.Voice(lang); got != want {
			t.Errorf("Voice(%q) = %q, want %q", lang, got, want)
		}
	}
}

func TestPromptSpeaker(t *testing.T) {
	s := newSynth(t, Config{CacheDir: t.TempDir()})
	sp := PromptSpeaker{Synth: s}
	p1, err := sp.SpeakFile(context.Background(), "einundzwanzig", "de")
	if err != nil {
		t.Fatal(err)
	}
	p2, err := sp.SpeakFile(context.Background(), "einundzwanzig", "de_AT")
	if err != nil || p1 != p2 || s.Stats().Syntheses != 1 {
		t.Fatalf("%s %s %v %+v", p1, p2, err, s.Stats())
	}
	if pcm, err := media.LoadFile(p1); err != nil || len(pcm) < 4000 {
		t.Fatalf("%d samples, %v", len(pcm), err)
	}
	noCache := newSynth(t, Config{})
	if _, err := (PromptSpeaker{Synth: noCache}).SpeakFile(context.Background(), "x", "en"); err == nil {
		t.Fatal("SpeakFile without a cache directory")
	}
}
