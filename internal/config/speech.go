package config

import (
	"fmt"
	"path/filepath"
	"strings"
	"time"
)

// Speech configures speech recognition and text to speech on a node
// (docs/speech.md).
type Speech struct {
	// Engine is "pocketsphinx" (the default) or "off". A binary built
	// without the engine, or a missing model, leaves the node running
	// with the engine reported unavailable (SpeechCreate sets ERROR=1).
	Engine string `yaml:"engine"`
	// Models are pocketsphinx model directories by language, the first
	// the default; empty: Debian's en-us model for en.
	Models []SpeechModel `yaml:"models"`
	// Decoders per model (0: one per CPU core).
	Decoders int `yaml:"decoders"`
	// QueueTimeout is how long a recognition waits for a free decoder
	// before it ends without a result (Go duration, default 3s).
	QueueTimeout Duration `yaml:"queue_timeout"`
	// GrammarDir is where relative grammar paths of SpeechLoadGrammar are
	// looked up, and where hosted tenants' grammar files must be
	// (default data_dir/grammars).
	GrammarDir string `yaml:"grammar_dir"`
	// TTS configures text to speech.
	TTS TTS `yaml:"tts"`
}

// SpeechModel is one language's pocketsphinx model.
type SpeechModel struct {
	Language string `yaml:"language"`
	// Dir is a pocketsphinx model directory; HMM and Dict override what
	// is found in it.
	Dir  string `yaml:"dir"`
	HMM  string `yaml:"hmm"`
	Dict string `yaml:"dict"`
	// ExtraDicts add words the dictionary lacks ("word PH PH ...").
	ExtraDicts []string `yaml:"extra_dicts"`
}

// TTS configures espeak-ng text to speech.
type TTS struct {
	// Engine is "espeak-ng" (the default) or "off".
	Engine string `yaml:"engine"`
	// Binary is the espeak-ng program (default: from PATH).
	Binary string `yaml:"binary"`
	// CacheDir keeps synthesised phrases (default data_dir/tts).
	CacheDir string `yaml:"cache_dir"`
	// Voices maps channel languages to espeak-ng voices, over the
	// built-in table (en -> en-us, es -> es, ...).
	Voices map[string]string `yaml:"voices"`
	// Rate is the default speed in words per minute (80-450, default 150).
	Rate int `yaml:"rate"`
}

func (c *Config) speechDefaults() {
	s := &c.Speech
	if s.Engine == "" {
		s.Engine = "pocketsphinx"
	}
	s.QueueTimeout.orDefault(3 * time.Second)
	if s.GrammarDir == "" {
		s.GrammarDir = filepath.Join(c.DataDir, "grammars")
	}
	s.GrammarDir = c.Resolve(s.GrammarDir)
	for i := range s.Models {
		m := &s.Models[i]
		m.Dir, m.HMM, m.Dict = c.Resolve(m.Dir), c.Resolve(m.HMM), c.Resolve(m.Dict)
		for j := range m.ExtraDicts {
			m.ExtraDicts[j] = c.Resolve(m.ExtraDicts[j])
		}
	}
	if s.TTS.Engine == "" {
		s.TTS.Engine = "espeak-ng"
	}
	if s.TTS.CacheDir == "" {
		s.TTS.CacheDir = filepath.Join(c.DataDir, "tts")
	}
	s.TTS.CacheDir = c.Resolve(s.TTS.CacheDir)
}

func (c *Config) validateSpeech(lineOf func(path ...string) int) error {
	s := c.Speech
	fail := func(line int, format string, a ...any) error {
		return &Error{File: c.path, Line: line, Msg: fmt.Sprintf(format, a...)}
	}
	switch s.Engine {
	case "pocketsphinx", "off":
	default:
		return fail(lineOf("speech", "engine"), "speech.engine %q: want pocketsphinx or off", s.Engine)
	}
	if s.Decoders < 0 || s.Decoders > 256 {
		return fail(lineOf("speech", "decoders"), "speech.decoders %d: want 0 (one per core) to 256", s.Decoders)
	}
	if s.QueueTimeout.Duration < 0 {
		return fail(lineOf("speech", "queue_timeout"), "speech.queue_timeout must not be negative")
	}
	for i, m := range s.Models {
		if strings.TrimSpace(m.Language) == "" {
			return fail(lineOf("speech", "models"), "speech.models[%d]: language is required", i)
		}
		if m.Dir == "" && (m.HMM == "" || m.Dict == "") {
			return fail(lineOf("speech", "models"), "speech.models[%d] (%s): dir, or hmm and dict, are required", i, m.Language)
		}
	}
	switch s.TTS.Engine {
	case "espeak-ng", "off":
	default:
		return fail(lineOf("speech", "tts", "engine"), "speech.tts.engine %q: want espeak-ng or off", s.TTS.Engine)
	}
	if s.TTS.Rate != 0 && (s.TTS.Rate < 80 || s.TTS.Rate > 450) {
		return fail(lineOf("speech", "tts", "rate"), "speech.tts.rate %d: want 80-450 words per minute", s.TTS.Rate)
	}
	return nil
}
