// Package speech is entVoice's speech recognition layer, modelled on
// Asterisk's res_speech: an engine (ast_speech_engine) creates recognizers
// (struct ast_speech) that load, unload, activate and deactivate grammars
// by name, are started, are fed 8 kHz linear audio frame by frame, move
// through the states not ready, ready, wait and done, and end with results
// (text, score, grammar). Unlike res_speech, endpointing is done here, once
// for every engine: a voice-activity detector (VAD) finds the start of
// speech (barge-in: Asterisk's AST_SPEECH_QUIET flag, which stops the
// prompt) and its end, after which the buffered utterance is decoded.
//
// Engines register in a Registry by name; the first registered is the
// default, as res_speech's ast_speech_register makes it. The pocketsphinx
// engine lives in the pocketsphinx subpackage, built with the
// "pocketsphinx" build tag; without it, that package's New reports the
// engine as unavailable (ErrUnavailable) and the binary still builds.
//
// DTMF is the caller's business (app_speech_utils handles it beside the
// engine, as a result with grammar "dtmf").
package speech

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
)

// Errors of the speech layer; each is wrapped with context.
var (
	// ErrNoEngine: no engine of that name is registered.
	ErrNoEngine = errors.New("speech: no such engine")
	// ErrUnavailable: the engine is known but cannot run here (built
	// without its build tag, or its library or model is missing).
	ErrUnavailable = errors.New("speech: engine unavailable")
	// ErrNoModel: no acoustic model for the language.
	ErrNoModel = errors.New("speech: no model for language")
	// ErrBusy: every decoder stayed busy for the queue timeout.
	ErrBusy = errors.New("speech: all decoders busy")
	// ErrUnknownWord: a grammar uses a word the model's dictionary lacks.
	ErrUnknownWord = errors.New("speech: word not in the dictionary")
	// ErrNoGrammar: a grammar name that was never loaded.
	ErrNoGrammar = errors.New("speech: no such grammar")
	// ErrNoActiveGrammar: recognition started with no grammar active.
	ErrNoActiveGrammar = errors.New("speech: no active grammar")
	// ErrState: the call is not allowed in the recognizer's state.
	ErrState = errors.New("speech: wrong state")
	// ErrClosed: the recognizer or engine was closed.
	ErrClosed = errors.New("speech: closed")
	// ErrUnknownSetting: Set or Get with a name the recognizer lacks.
	ErrUnknownSetting = errors.New("speech: unknown setting")
)

// Result is one recognition result (Asterisk's struct ast_speech_result).
type Result struct {
	Text    string // the words recognised, space-separated
	Score   int    // engine score; for pocketsphinx 0..1000 (see the engine)
	Grammar string // name of the grammar (as loaded) the text belongs to
	NBest   int    // rank, 0 for the best
}

// ActiveGrammar is a grammar as an engine receives it: the name the
// recognizer loaded it under and the grammar.
type ActiveGrammar struct {
	Name    string
	Grammar *Grammar
}

// Utterance is one segment of speech to decode.
type Utterance struct {
	Language string          // the recognizer's language ("en", "en_US", ...)
	Grammars []ActiveGrammar // the active grammars, in activation order
	Audio    []int16         // 8 kHz mono linear PCM, with its leading and trailing silence
}

// Engine decodes utterances. Implementations must be safe for concurrent
// use: many recognizers share one engine.
type Engine interface {
	// Name is the engine's registered name ("pocketsphinx").
	Name() string
	// CheckGrammar reports whether g can be decoded for language, so a
	// load fails at SpeechLoadGrammar time (ErrUnknownWord, ErrNoModel)
	// rather than mid-call.
	CheckGrammar(g *Grammar, language string) error
	// Decode recognises u against all its grammars at once and returns
	// the results, best first (none when nothing matched). It returns
	// ErrBusy when no decoder frees up within the engine's queue timeout
	// and ctx's error when ctx ends first.
	Decode(ctx context.Context, u Utterance) ([]Result, error)
	// Close releases the engine's decoders; Decode then fails with ErrClosed.
	Close() error
}

// Registry holds the engines of a node by name (res_speech's engine list).
// It is safe for concurrent use.
type Registry struct {
	mu      sync.RWMutex
	engines map[string]registered
	def     string
}

type registered struct {
	engine Engine
	err    error // non-nil: unavailable, with the reason
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry { return &Registry{engines: map[string]registered{}} }

// Register adds an engine; the first engine registered becomes the default
// (ast_speech_register). Names are case-insensitive; a name can be
// registered once.
func (r *Registry) Register(e Engine) error {
	return r.add(e.Name(), registered{engine: e})
}

// RegisterUnavailable records that the engine called name exists but
// cannot run (err says why, wrapping ErrUnavailable), so Get reports the
// reason instead of "no such engine". It never becomes the default.
func (r *Registry) RegisterUnavailable(name string, err error) error {
	if !errors.Is(err, ErrUnavailable) {
		err = fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	return r.add(name, registered{err: err})
}

func (r *Registry) add(name string, e registered) error {
	key := strings.ToLower(name)
	if key == "" {
		return errors.New("speech: engine without a name")
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, dup := r.engines[key]; dup {
		return fmt.Errorf("speech: engine %q already registered", name)
	}
	r.engines[key] = e
	if r.def == "" && e.err == nil {
		r.def = key
	}
	return nil
}

// SetDefault makes the registered engine name the default.
func (r *Registry) SetDefault(name string) error {
	key := strings.ToLower(name)
	r.mu.Lock()
	defer r.mu.Unlock()
	e, ok := r.engines[key]
	switch {
	case !ok:
		return fmt.Errorf("%w: %q", ErrNoEngine, name)
	case e.err != nil:
		return fmt.Errorf("speech engine %q: %w", name, e.err)
	}
	r.def = key
	return nil
}

// Get returns the engine called name, or the default engine for "" (as
// SpeechCreate() with no argument). It fails with ErrNoEngine or with the
// reason the engine is unavailable (wrapping ErrUnavailable).
func (r *Registry) Get(name string) (Engine, error) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	key := strings.ToLower(name)
	if key == "" {
		if r.def == "" {
			for _, e := range r.engines {
				if e.err != nil {
					return nil, fmt.Errorf("no default speech engine: %w", e.err)
				}
			}
			return nil, fmt.Errorf("%w: no speech engine registered", ErrNoEngine)
		}
		key = r.def
	}
	e, ok := r.engines[key]
	if !ok {
		return nil, fmt.Errorf("%w: %q (registered: %s)", ErrNoEngine, name, strings.Join(r.namesLocked(), ", "))
	}
	if e.err != nil {
		return nil, fmt.Errorf("speech engine %q: %w", name, e.err)
	}
	return e.engine, nil
}

// Names returns the registered engine names (available or not), sorted.
func (r *Registry) Names() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.namesLocked()
}

func (r *Registry) namesLocked() []string {
	out := make([]string, 0, len(r.engines))
	for k := range r.engines {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Close closes every available engine and empties the registry.
func (r *Registry) Close() error {
	r.mu.Lock()
	engines := r.engines
	r.engines, r.def = map[string]registered{}, ""
	r.mu.Unlock()
	var errs []error
	for _, e := range engines {
		if e.engine != nil {
			errs = append(errs, e.engine.Close())
		}
	}
	return errors.Join(errs...)
}
