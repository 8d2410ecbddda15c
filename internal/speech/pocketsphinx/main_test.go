//go:build pocketsphinx && cgo

package pocketsphinx

import (
	"context"
	"log/slog"
	"os"
	"os/exec"
	"sync"
	"testing"

	"github.com/entvoice/entvoice/internal/media"
	"github.com/entvoice/entvoice/internal/speech"
	"github.com/entvoice/entvoice/internal/tts"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func quietLog() *slog.Logger {
	if os.Getenv("SPEECH_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

// newEngine loads Debian's en-us model, skipping when it is not installed.
func newEngine(t testing.TB, cfg Config) *Engine {
	t.Helper()
	if _, err := os.Stat(DebianModelDir); err != nil {
		t.Skipf("%s missing (apt-get install pocketsphinx-en-us)", DebianModelDir)
	}
	cfg.Logger = quietLog()
	e, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Close() })
	return e.(*Engine)
}

func newSynth(t testing.TB) *tts.Synthesizer {
	t.Helper()
	if _, err := exec.LookPath("espeak-ng"); err != nil {
		t.Skip("espeak-ng not installed")
	}
	s, err := tts.New(tts.Config{Logger: quietLog()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

// phone turns 8 kHz audio into what a call delivers: a G.711 round trip
// (mu-law, or A-law when alaw), with lead and tail silence in ms.
func phone(pcm []int16, alaw bool, leadMS, tailMS int) []int16 {
	codec := media.PCMU
	if alaw {
		codec = media.PCMA
	}
	enc := make([]byte, len(pcm))
	media.Encode(codec, enc, pcm)
	dec := make([]int16, len(pcm))
	media.Decode(codec, dec, enc)
	out := make([]int16, 0, len(pcm)+(leadMS+tailMS)*8)
	out = append(out, make([]int16, leadMS*8)...)
	out = append(out, dec...)
	return append(out, make([]int16, tailMS*8)...)
}

// phraseCache keeps synthesised test phrases across tests of one run.
type phraseCache struct {
	mu sync.Mutex
	m  map[string][]int16
}

func (c *phraseCache) get(t testing.TB, s *tts.Synthesizer, text, voice string, rate int) []int16 {
	t.Helper()
	key := voice + "|" + text + "|" + string(rune(rate))
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[string][]int16{}
	}
	if p, ok := c.m[key]; ok {
		return p
	}
	p, err := s.Speak(context.Background(), tts.Request{Text: text, Voice: voice, Rate: rate})
	if err != nil {
		t.Fatal(err)
	}
	c.m[key] = p.PCM
	return p.PCM
}

// recognize runs one recognition of audio with the named grammars active.
func recognize(t testing.TB, e speech.Engine, audio []int16, grammars map[string]*speech.Grammar) ([]speech.Result, speech.Reason, error) {
	t.Helper()
	r := speech.NewRecognizer(context.Background(), e, speech.Options{Language: "en", Logger: quietLog()})
	defer r.Close()
	for name, g := range grammars {
		if err := r.LoadGrammar(name, g); err != nil {
			t.Fatal(err)
		}
		if err := r.ActivateGrammar(name); err != nil {
			t.Fatal(err)
		}
	}
	return r.Recognize(context.Background(), audio)
}
