// Package tts is entVoice's text to speech: it runs the espeak-ng program
// (Debian's espeak-ng package) and returns 8 kHz 16-bit mono audio, the
// media layer's format, for the TTS application and for the Say-family
// fallback in languages without recorded prompts (docs/speech.md).
//
// Every phrase is cached by text, voice and rate: in memory (least
// recently used beyond a byte budget) and, when a cache directory is
// given, on disk as 8 kHz WAV files that survive restarts. A repeated
// phrase costs no synthesis, and concurrent requests for the same phrase
// run espeak-ng once and share the result.
package tts

import (
	"bytes"
	"container/list"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/entvoice/entvoice/internal/media"
)

// Errors of the package.
var (
	// ErrUnavailable: espeak-ng is not installed (or not at Config.Binary).
	ErrUnavailable = errors.New("tts: espeak-ng unavailable")
	// ErrBadText: empty or oversized text, or a bad voice or rate.
	ErrBadText = errors.New("tts: bad request")
	// ErrClosed: the synthesizer was closed.
	ErrClosed = errors.New("tts: closed")
)

// Limits of a request.
const (
	MaxTextBytes = 4096
	MinRate      = 80  // words per minute (espeak-ng -s)
	MaxRate      = 450 //
	DefaultRate  = 150
)

// Config configures a Synthesizer.
type Config struct {
	// Binary is the espeak-ng program; "" looks "espeak-ng" up in PATH.
	Binary string
	// CacheDir keeps synthesised phrases as WAV files; "" caches in
	// memory only.
	CacheDir string
	// MemoryBytes bounds the in-memory cache (decoded samples at 2 bytes
	// each); 0 means 32 MiB.
	MemoryBytes int64
	// Concurrency bounds simultaneous espeak-ng processes; 0 means the
	// number of CPU cores.
	Concurrency int
	// Timeout bounds one synthesis; 0 means 30 s.
	Timeout time.Duration
	// Voices maps languages to espeak-ng voices, added to DefaultVoices.
	Voices map[string]string
	// Logger receives the package's logs (slog.Default() when nil).
	Logger *slog.Logger
}

// DefaultVoices maps channel languages to espeak-ng 1.51 voices. A
// language missing here is tried as a voice name as it is.
func DefaultVoices() map[string]string {
	return map[string]string{
		"en": "en-us", "en_us": "en-us", "en_gb": "en-gb",
		"es": "es", "es_es": "es", "es_mx": "es-419", "es_419": "es-419",
		"fr": "fr-fr", "fr_fr": "fr-fr", "fr_ca": "fr-fr", "fr_be": "fr-be", "fr_ch": "fr-ch",
		"de": "de", "de_de": "de", "it": "it", "it_it": "it",
		"pt": "pt", "pt_pt": "pt", "pt_br": "pt-br",
		"nl": "nl", "pl": "pl", "sv": "sv", "da": "da", "ru": "ru", "el": "el", "tr": "tr",
	}
}

// Request is one phrase to speak.
type Request struct {
	Text string
	// Voice is an espeak-ng voice ("en-us", "es", "de", "en-us+f3"); when
	// empty, Language picks it through the voice table.
	Voice    string
	Language string
	// Rate in words per minute; 0 means DefaultRate.
	Rate int
}

// Stats counts the work done, for tests and metrics.
type Stats struct {
	Syntheses  int64 // espeak-ng runs
	MemoryHits int64
	DiskHits   int64
	Shared     int64 // requests that waited for another's synthesis
	Failures   int64
}

// Synthesizer speaks text. It is safe for concurrent use.
type Synthesizer struct {
	bin     string
	dir     string
	voices  map[string]string
	timeout time.Duration
	log     *slog.Logger
	sem     chan struct{}
	ctx     context.Context
	cancel  context.CancelFunc

	mu       sync.Mutex
	lru      *list.List // of *entry, front = most recent
	byKey    map[string]*list.Element
	bytes    int64
	maxBytes int64
	inflight map[string]*call

	syntheses, memHits, diskHits, shared, failures atomic.Int64
}

type entry struct {
	key    string
	prompt *media.Prompt
}

type call struct {
	done   chan struct{}
	prompt *media.Prompt
	err    error
}

// New finds espeak-ng and prepares the cache. It fails with ErrUnavailable
// when the program is missing.
func New(cfg Config) (*Synthesizer, error) {
	bin := cfg.Binary
	if bin == "" {
		bin = "espeak-ng"
	}
	path, err := exec.LookPath(bin)
	if err != nil {
		return nil, fmt.Errorf("%w: %w (apt-get install espeak-ng)", ErrUnavailable, err)
	}
	if cfg.CacheDir != "" {
		if err := os.MkdirAll(cfg.CacheDir, 0o755); err != nil {
			return nil, fmt.Errorf("tts: cache dir: %w", err)
		}
	}
	voices := DefaultVoices()
	for k, v := range cfg.Voices {
		voices[normLang(k)] = v
	}
	n := cfg.Concurrency
	if n <= 0 {
		n = runtime.NumCPU()
	}
	maxBytes := cfg.MemoryBytes
	if maxBytes <= 0 {
		maxBytes = 32 << 20
	}
	timeout := cfg.Timeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Synthesizer{
		bin: path, dir: cfg.CacheDir, voices: voices, timeout: timeout, log: log,
		sem: make(chan struct{}, n), ctx: ctx, cancel: cancel,
		lru: list.New(), byKey: map[string]*list.Element{}, maxBytes: maxBytes,
		inflight: map[string]*call{},
	}, nil
}

// Close stops syntheses in progress; later calls fail with ErrClosed.
func (s *Synthesizer) Close() { s.cancel() }

// Stats returns the counters.
func (s *Synthesizer) Stats() Stats {
	return Stats{Syntheses: s.syntheses.Load(), MemoryHits: s.memHits.Load(), DiskHits: s.diskHits.Load(),
		Shared: s.shared.Load(), Failures: s.failures.Load()}
}

func normLang(l string) string {
	return strings.ReplaceAll(strings.ToLower(strings.TrimSpace(l)), "-", "_")
}

// Voice returns the espeak-ng voice for a channel language: the table's
// entry for the language, then for its base ("pt_BR" -> "pt"), then the
// language itself as a voice name; "" gives the English voice.
func (s *Synthesizer) Voice(language string) string {
	l := normLang(language)
	if l == "" {
		return s.voices["en"]
	}
	if v, ok := s.voices[l]; ok {
		return v
	}
	base, _, _ := strings.Cut(l, "_")
	if v, ok := s.voices[base]; ok {
		return v
	}
	return strings.ReplaceAll(l, "_", "-")
}

// validVoice accepts espeak-ng voice names and variants ("en-us+f3").
func validVoice(v string) bool {
	if v == "" || len(v) > 64 || strings.HasPrefix(v, "-") {
		return false
	}
	for _, r := range v {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_', r == '+', r == '.':
		default:
			return false
		}
	}
	return true
}

// Key is the cache key of a request (text, voice and rate).
func Key(text, voice string, rate int) string {
	h := sha256.New()
	fmt.Fprintf(h, "espeak-ng\x00%s\x00%d\x00%s", voice, rate, text)
	return hex.EncodeToString(h.Sum(nil)[:16])
}

func (s *Synthesizer) normalise(req Request) (text, voice string, rate int, err error) {
	text = strings.TrimSpace(req.Text)
	if text == "" || len(text) > MaxTextBytes {
		return "", "", 0, fmt.Errorf("%w: text of %d bytes (1-%d)", ErrBadText, len(text), MaxTextBytes)
	}
	voice = req.Voice
	if voice == "" {
		voice = s.Voice(req.Language)
	}
	if !validVoice(voice) {
		return "", "", 0, fmt.Errorf("%w: voice %q", ErrBadText, voice)
	}
	rate = req.Rate
	if rate == 0 {
		rate = DefaultRate
	}
	if rate < MinRate || rate > MaxRate {
		return "", "", 0, fmt.Errorf("%w: rate %d (%d-%d words per minute)", ErrBadText, rate, MinRate, MaxRate)
	}
	return text, voice, rate, nil
}

// Speak returns the phrase as an 8 kHz prompt, from the cache when it was
// spoken before. The prompt is shared: do not modify its samples.
func (s *Synthesizer) Speak(ctx context.Context, req Request) (*media.Prompt, error) {
	text, voice, rate, err := s.normalise(req)
	if err != nil {
		return nil, err
	}
	key := Key(text, voice, rate)
	s.mu.Lock()
	if el, ok := s.byKey[key]; ok {
		s.lru.MoveToFront(el)
		s.mu.Unlock()
		s.memHits.Add(1)
		return el.Value.(*entry).prompt, nil
	}
	if c, ok := s.inflight[key]; ok {
		s.mu.Unlock()
		s.shared.Add(1)
		select {
		case <-c.done:
			return c.prompt, c.err
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	c := &call{done: make(chan struct{})}
	s.inflight[key] = c
	s.mu.Unlock()

	c.prompt, c.err = s.produce(key, text, voice, rate)
	s.mu.Lock()
	delete(s.inflight, key)
	if c.err == nil {
		s.storeLocked(key, c.prompt)
	}
	s.mu.Unlock()
	close(c.done)
	if c.err != nil {
		return nil, c.err
	}
	// ctx applies to waiting; the synthesis itself runs to completion (on
	// the synthesizer's own context) so that sharers and the cache get it.
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return c.prompt, nil
}

// SpeakFile returns the path of the phrase's WAV file in the cache
// directory (8 kHz 16-bit mono), synthesising it when needed, for players
// that take file names. It needs a CacheDir.
func (s *Synthesizer) SpeakFile(ctx context.Context, req Request) (string, error) {
	if s.dir == "" {
		return "", fmt.Errorf("tts: SpeakFile needs a cache directory")
	}
	text, voice, rate, err := s.normalise(req)
	if err != nil {
		return "", err
	}
	if _, err := s.Speak(ctx, req); err != nil {
		return "", err
	}
	return s.path(Key(text, voice, rate)), nil
}

func (s *Synthesizer) path(key string) string {
	return filepath.Join(s.dir, key[:2], key+".wav")
}

func (s *Synthesizer) storeLocked(key string, p *media.Prompt) {
	cost := int64(len(p.PCM)) * 2
	if cost > s.maxBytes {
		return
	}
	s.byKey[key] = s.lru.PushFront(&entry{key: key, prompt: p})
	s.bytes += cost
	for s.bytes > s.maxBytes && s.lru.Len() > 1 {
		e := s.lru.Remove(s.lru.Back()).(*entry)
		delete(s.byKey, e.key)
		s.bytes -= int64(len(e.prompt.PCM)) * 2
	}
}

// produce loads the phrase from the disk cache or synthesises it.
func (s *Synthesizer) produce(key, text, voice string, rate int) (*media.Prompt, error) {
	if s.dir != "" {
		if pcm, err := media.LoadFile(s.path(key)); err == nil && len(pcm) > 0 {
			s.diskHits.Add(1)
			return media.NewPrompt(pcm), nil
		}
	}
	pcm, err := s.synthesise(text, voice, rate)
	if err != nil {
		s.failures.Add(1)
		return nil, err
	}
	if s.dir != "" {
		if err := writeWAV(s.path(key), pcm); err != nil {
			s.log.Warn("tts: cache write failed", "error", err)
		}
	}
	return media.NewPrompt(pcm), nil
}

// synthesise runs espeak-ng once: the text on standard input (so no text
// is taken for an option), WAV on standard output, which media.ReadWAV
// brings from espeak-ng's 22050 Hz to 8 kHz.
func (s *Synthesizer) synthesise(text, voice string, rate int) ([]int16, error) {
	select {
	case s.sem <- struct{}{}:
	case <-s.ctx.Done():
		return nil, ErrClosed
	}
	defer func() { <-s.sem }()
	ctx, cancel := context.WithTimeout(s.ctx, s.timeout)
	defer cancel()
	s.syntheses.Add(1)
	t0 := time.Now()
	cmd := exec.CommandContext(ctx, s.bin, "-v", voice, "-s", strconv.Itoa(rate), "--stdout")
	cmd.Stdin = strings.NewReader(text)
	cmd.WaitDelay = 2 * time.Second
	var out, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	if err := cmd.Run(); err != nil {
		if s.ctx.Err() != nil {
			return nil, ErrClosed
		}
		if strings.Contains(stderr.String(), "voice does not exist") {
			return nil, fmt.Errorf("%w: espeak-ng has no voice %q", ErrBadText, voice)
		}
		return nil, fmt.Errorf("tts: espeak-ng -v %s: %w: %s", voice, err, strings.TrimSpace(stderr.String()))
	}
	// espeak-ng exits 0 for an unknown voice, with a message and no audio.
	if msg := strings.TrimSpace(stderr.String()); out.Len() <= 44 {
		return nil, fmt.Errorf("%w: espeak-ng -v %s produced no audio: %s", ErrBadText, voice, msg)
	}
	pcm, err := media.ReadWAV(bytes.NewReader(out.Bytes()))
	if err != nil {
		return nil, fmt.Errorf("tts: espeak-ng output: %w", err)
	}
	s.log.Debug("tts synthesised", "voice", voice, "rate", rate, "bytes", len(text),
		"audio_ms", len(pcm)/8, "took", time.Since(t0).Round(time.Millisecond))
	return pcm, nil
}

// writeWAV writes pcm atomically (temporary file, then rename), so a
// concurrent reader or a crash never sees half a file.
func writeWAV(path string, pcm []int16) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(path), ".tmp-*.wav")
	if err != nil {
		return err
	}
	tmp := f.Name()
	fail := func(err error) error {
		f.Close()
		os.Remove(tmp)
		return err
	}
	w, err := media.NewWAVWriter(f)
	if err != nil {
		return fail(err)
	}
	if err := w.Write(pcm); err != nil {
		return fail(err)
	}
	if err := w.Close(); err != nil {
		return fail(err)
	}
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return err
	}
	return os.Rename(tmp, path)
}

// PromptSpeaker adapts a Synthesizer (which needs a CacheDir) to the
// prompts.Speaker hook, through which Say applications speak a value in a
// language that has no recorded prompts.
type PromptSpeaker struct {
	Synth *Synthesizer
	Rate  int // 0: DefaultRate
}

// SpeakFile speaks text in language and returns the cached WAV's path.
func (p PromptSpeaker) SpeakFile(ctx context.Context, text, language string) (string, error) {
	return p.Synth.SpeakFile(ctx, Request{Text: text, Language: language, Rate: p.Rate})
}
