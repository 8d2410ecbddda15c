package speech

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// State is a recognizer's state (res_speech's enum ast_speech_states).
type State int

// Recognizer states.
const (
	StateNotReady State = iota // AST_SPEECH_STATE_NOT_READY: not accepting audio
	StateReady                 // AST_SPEECH_STATE_READY: accepting audio
	StateWait                  // AST_SPEECH_STATE_WAIT: speech ended, results being computed
	StateDone                  // AST_SPEECH_STATE_DONE: finished; results (maybe none) available
)

func (s State) String() string {
	switch s {
	case StateReady:
		return "ready"
	case StateWait:
		return "wait"
	case StateDone:
		return "done"
	}
	return "not ready"
}

// Event reports what a Write changed; several may be set at once.
type Event int

// Events of Write.
const (
	// EventSpeechStart: the caller started speaking. Stop the prompt
	// (barge-in; res_speech's AST_SPEECH_QUIET flag, which Quiet reports).
	EventSpeechStart Event = 1 << iota
	// EventEndOfSpeech: the utterance ended; the state is now StateWait
	// (play SpeechProcessingSound) until Done is closed.
	EventEndOfSpeech
	// EventNoInput: no speech before the timeout; the state is StateDone
	// with no results.
	EventNoInput
)

// Reason says how a recognition ended.
type Reason int

// Reasons, for result codes (AGI SPEECH RECOGNIZE, SPEECH(status)).
const (
	ReasonNone      Reason = iota // not finished
	ReasonSpeech                  // speech recognised: Results has at least one result
	ReasonNoMatch                 // the caller spoke, nothing in the grammars matched
	ReasonNoInput                 // no speech before the timeout
	ReasonCancelled               // stopped, or the call's context ended (hangup)
	ReasonError                   // the engine failed (Err says why: ErrBusy, ...)
)

func (r Reason) String() string {
	return [...]string{"none", "speech", "nomatch", "noinput", "cancelled", "error"}[r]
}

// Options configure a recognizer.
type Options struct {
	// Language selects the engine's model ("en", "en_US"); "" is "en".
	Language string
	// Endpoint tunes the voice-activity endpointer.
	Endpoint EndpointConfig
	// GrammarDir resolves relative grammar paths of LoadGrammarRef.
	GrammarDir string
	// Logger receives the recognizer's logs (slog.Default() when nil).
	Logger *slog.Logger
}

// Recognizer is one caller's speech object (res_speech's struct ast_speech):
// created by SpeechCreate, destroyed by SpeechDestroy (Close). Write is
// meant to be called from the call's media goroutine; every method is safe
// for concurrent use.
type Recognizer struct {
	engine    Engine
	log       *slog.Logger
	ctx       context.Context
	cancel    context.CancelFunc
	stopAfter func() bool
	wg        sync.WaitGroup

	mu         sync.Mutex
	lang       string
	cfg        EndpointConfig // as set (zero fields = defaults)
	grammarDir string
	grammars   map[string]*Grammar
	active     []string // activation order
	state      State
	closed     bool
	gen        int // start cycle, so a stale decode cannot land in a new cycle
	quiet      bool
	spoke      bool
	results    []Result
	reason     Reason
	err        error
	done       chan struct{}
	decodeStop context.CancelFunc

	// audio of the current cycle
	vad       *vad
	ep        EndpointConfig // cfg with defaults, fixed at Start
	hist      []int16        // recent audio before speech (pre-roll)
	histStart int            // sample index of hist[0]
	utt       []int16        // the utterance, from pre-roll on
	timersOn  bool
	timerAt   int // sample index where the input timers started
	endedAt   time.Time
}

// NewRecognizer creates a recognizer on engine (SpeechCreate). ctx is the
// call's: when it ends, a recognition in progress ends with
// ReasonCancelled.
func NewRecognizer(ctx context.Context, engine Engine, opts Options) *Recognizer {
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	lang := opts.Language
	if lang == "" {
		lang = "en"
	}
	cctx, cancel := context.WithCancel(ctx)
	r := &Recognizer{
		engine: engine, log: log.With("engine", engine.Name()), ctx: cctx, cancel: cancel,
		lang: lang, cfg: opts.Endpoint, grammarDir: opts.GrammarDir,
		grammars: map[string]*Grammar{}, done: make(chan struct{}),
	}
	// A hangup ends a recognition in progress at once, even when no more
	// audio arrives, so nothing waits on a dead channel.
	r.stopAfter = context.AfterFunc(ctx, func() {
		r.mu.Lock()
		defer r.mu.Unlock()
		if r.state == StateReady || r.state == StateWait {
			r.finishLocked(nil, ReasonCancelled, ctx.Err())
		}
	})
	return r
}

// Engine returns the recognizer's engine (SPEECH_ENGINE name).
func (r *Recognizer) Engine() Engine { return r.engine }

// Language returns the recognizer's language.
func (r *Recognizer) Language() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.lang
}

// LoadGrammar loads g under name (SpeechLoadGrammar, ast_speech_grammar_load),
// replacing a grammar of the same name. The engine checks it first, so a
// word missing from the dictionary fails here.
func (r *Recognizer) LoadGrammar(name string, g *Grammar) error {
	if name == "" || g == nil {
		return fmt.Errorf("%w: empty name or grammar", ErrGrammar)
	}
	r.mu.Lock()
	lang, closed := r.lang, r.closed
	r.mu.Unlock()
	if closed {
		return ErrClosed
	}
	if err := r.engine.CheckGrammar(g, lang); err != nil {
		return fmt.Errorf("speech: grammar %q (%s): %w", name, g.Source(), err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.grammars[name] = g
	r.log.Debug("speech grammar loaded", "grammar", name, "source", g.Source(), "kind", g.Kind())
	return nil
}

// LoadGrammarRef loads the grammar ref ("builtin:digits", a JSGF file, a
// keyword file; see OpenGrammar) under name.
func (r *Recognizer) LoadGrammarRef(name, ref string) error {
	r.mu.Lock()
	dir := r.grammarDir
	r.mu.Unlock()
	g, err := OpenGrammar(ref, dir)
	if err != nil {
		return err
	}
	return r.LoadGrammar(name, g)
}

// UnloadGrammar removes a grammar (SpeechUnloadGrammar); it is deactivated
// first.
func (r *Recognizer) UnloadGrammar(name string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.grammars[name]; !ok {
		return fmt.Errorf("%w: %q", ErrNoGrammar, name)
	}
	delete(r.grammars, name)
	r.active = slices.DeleteFunc(r.active, func(s string) bool { return s == name })
	return nil
}

// ActivateGrammar makes a loaded grammar part of the next recognitions
// (SpeechActivateGrammar). Several may be active: a result names the one
// its text belongs to.
func (r *Recognizer) ActivateGrammar(name string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.grammars[name]; !ok {
		return fmt.Errorf("%w: %q", ErrNoGrammar, name)
	}
	if !slices.Contains(r.active, name) {
		r.active = append(r.active, name)
	}
	return nil
}

// DeactivateGrammar removes a grammar from the active set
// (SpeechDeactivateGrammar).
func (r *Recognizer) DeactivateGrammar(name string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !slices.Contains(r.active, name) {
		return fmt.Errorf("%w: %q is not active", ErrNoGrammar, name)
	}
	r.active = slices.DeleteFunc(r.active, func(s string) bool { return s == name })
	return nil
}

// Grammars returns the loaded grammar names, sorted, and the active ones
// in activation order.
func (r *Recognizer) Grammars() (loaded, active []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for n := range r.grammars {
		loaded = append(loaded, n)
	}
	slices.Sort(loaded)
	return loaded, slices.Clone(r.active)
}

// Start begins a recognition (SpeechStart, ast_speech_start): results and
// the quiet/spoke flags are cleared, a decode still running from a
// previous start is abandoned, and the state becomes ready.
func (r *Recognizer) Start() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return ErrClosed
	}
	if len(r.active) == 0 {
		return ErrNoActiveGrammar
	}
	r.resetLocked()
	r.state = StateReady
	return nil
}

func (r *Recognizer) resetLocked() {
	if r.decodeStop != nil {
		r.decodeStop()
		r.decodeStop = nil
	}
	r.gen++
	r.quiet, r.spoke = false, false
	r.results, r.reason, r.err = nil, ReasonNone, nil
	select {
	case <-r.done:
		r.done = make(chan struct{})
	default:
	}
	r.ep = r.cfg.withDefaults()
	r.vad = newVAD(r.ep)
	r.hist, r.histStart, r.utt = r.hist[:0], 0, nil
	r.timersOn, r.timerAt = false, 0
}

// StartInputTimers starts the no-input timeout (EndpointConfig.
// NoInputTimeout): call it when the prompt has finished playing, as
// SpeechBackground starts its timeout then.
func (r *Recognizer) StartInputTimers() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.state == StateReady && !r.timersOn && r.vad != nil {
		r.timersOn, r.timerAt = true, r.vad.total
	}
}

// Write feeds 8 kHz linear audio (any length; 20 ms frames of 160 samples
// in a call) and reports what changed. Audio written while not ready
// (waiting for results, done) is ignored, as ast_speech_write ignores it.
func (r *Recognizer) Write(pcm []int16) (Event, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	switch {
	case r.closed:
		return 0, ErrClosed
	case r.state == StateNotReady:
		return 0, fmt.Errorf("%w: write before start", ErrState)
	case r.state != StateReady:
		return 0, nil
	}
	if err := r.ctx.Err(); err != nil {
		r.finishLocked(nil, ReasonCancelled, err)
		return 0, nil
	}
	var ev Event
	for len(pcm) > 0 && r.state == StateReady {
		n := min(len(pcm), 160)
		ev |= r.frameLocked(pcm[:n])
		pcm = pcm[n:]
	}
	return ev, nil
}

func (r *Recognizer) frameLocked(frame []int16) Event {
	at := r.vad.total
	speaking := r.vad.speaking
	ve := r.vad.feed(frame)
	if !speaking && ve != vadStart {
		// Keep only what the pre-roll and a speech start can reach back to.
		r.hist = append(r.hist, frame...)
		keep := samplesOf(r.ep.PreRoll+r.ep.MinSpeech) + 2*len(frame)
		if drop := len(r.hist) - keep; drop > 0 {
			r.hist = append(r.hist[:0], r.hist[drop:]...)
			r.histStart += drop
		}
		if r.timersOn && r.ep.NoInputTimeout > 0 && r.vad.total-r.timerAt >= samplesOf(r.ep.NoInputTimeout) ||
			r.vad.total >= samplesOf(r.ep.MaxWait) {
			r.finishLocked(nil, ReasonNoInput, nil)
			return EventNoInput
		}
		return 0
	}
	switch ve {
	case vadStart:
		r.hist = append(r.hist, frame...)
		from := max(r.vad.start-samplesOf(r.ep.PreRoll), r.histStart)
		r.utt = append(make([]int16, 0, samplesOf(3*time.Second)), r.hist[from-r.histStart:]...)
		r.hist = r.hist[:0]
		r.quiet, r.spoke = true, true
		r.log.Debug("speech start", "at_ms", at/8)
		return EventSpeechStart
	case vadEnd:
		r.utt = append(r.utt, frame...)
		// Keep a pre-roll's worth of the trailing silence as padding.
		if extra := r.vad.silence - samplesOf(r.ep.PreRoll); extra > 0 && extra < len(r.utt) {
			r.utt = r.utt[:len(r.utt)-extra]
		}
		r.endLocked()
		return EventEndOfSpeech
	}
	r.utt = append(r.utt, frame...)
	return 0
}

// endLocked moves to StateWait and decodes the utterance in the
// background.
func (r *Recognizer) endLocked() {
	r.state = StateWait
	r.endedAt = time.Now()
	grammars := make([]ActiveGrammar, 0, len(r.active))
	for _, n := range r.active {
		grammars = append(grammars, ActiveGrammar{Name: n, Grammar: r.grammars[n]})
	}
	u := Utterance{Language: r.lang, Grammars: grammars, Audio: r.utt}
	r.utt = nil
	ctx, stop := context.WithCancel(r.ctx)
	r.decodeStop = stop
	gen := r.gen
	r.wg.Go(func() {
		defer stop()
		res, err := r.engine.Decode(ctx, u)
		r.mu.Lock()
		defer r.mu.Unlock()
		if gen != r.gen || r.state != StateWait {
			return // restarted or stopped meanwhile
		}
		switch {
		case err != nil && r.ctx.Err() != nil:
			r.finishLocked(nil, ReasonCancelled, err)
		case err != nil:
			r.log.Warn("speech decode failed", "error", err, "audio_ms", len(u.Audio)/8)
			r.finishLocked(nil, ReasonError, err)
		case len(res) == 0:
			r.finishLocked(nil, ReasonNoMatch, nil)
		default:
			r.finishLocked(res, ReasonSpeech, nil)
		}
		r.log.Debug("speech result", "reason", r.reason, "results", len(res),
			"audio_ms", len(u.Audio)/8, "latency", time.Since(r.endedAt))
	})
}

func (r *Recognizer) finishLocked(res []Result, reason Reason, err error) {
	r.state = StateDone
	r.results, r.reason, r.err = res, reason, err
	select {
	case <-r.done:
	default:
		close(r.done)
	}
}

// State returns the current state.
func (r *Recognizer) State() State {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.state
}

// Quiet reports whether speech started during this recognition (res_speech's
// AST_SPEECH_QUIET: the prompt should stop).
func (r *Recognizer) Quiet() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.quiet
}

// Spoke reports whether the caller spoke (SPEECH(spoke)).
func (r *Recognizer) Spoke() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.spoke
}

// Done is closed when the current recognition reaches StateDone.
func (r *Recognizer) Done() <-chan struct{} {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.done
}

// Results returns the results of the finished recognition, best first
// (SPEECH_TEXT(n), SPEECH_SCORE(n), SPEECH_GRAMMAR(n), SPEECH(results)).
func (r *Recognizer) Results() []Result {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.results)
}

// Outcome returns how the recognition ended and, for ReasonError and
// ReasonCancelled, the error.
func (r *Recognizer) Outcome() (Reason, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.reason, r.err
}

// Wait blocks until the recognition is done or ctx ends, then returns the
// results and the outcome.
func (r *Recognizer) Wait(ctx context.Context) ([]Result, Reason, error) {
	select {
	case <-r.Done():
	case <-ctx.Done():
		return nil, ReasonNone, ctx.Err()
	}
	reason, err := r.Outcome()
	return r.Results(), reason, err
}

// Stop ends the current recognition without results (ReasonCancelled),
// as a DTMF key or a hangup does in SpeechBackground.
func (r *Recognizer) Stop() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.state == StateReady || r.state == StateWait {
		if r.decodeStop != nil {
			r.decodeStop()
			r.decodeStop = nil
		}
		r.finishLocked(nil, ReasonCancelled, nil)
	}
}

// Close destroys the recognizer (SpeechDestroy): a decode in progress is
// cancelled and waited for.
func (r *Recognizer) Close() error {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil
	}
	r.closed = true
	r.gen++
	if r.state == StateReady || r.state == StateWait {
		r.finishLocked(nil, ReasonCancelled, ErrClosed)
	}
	r.state = StateNotReady
	r.mu.Unlock()
	r.stopAfter()
	r.cancel()
	r.wg.Wait()
	return nil
}

// Setting names of Set and Get (SPEECH_ENGINE(name)=value, AGI SPEECH SET).
// Durations are in milliseconds.
const (
	SettingNoInputTimeout = "noinput_timeout"
	SettingEndSilence     = "end_silence"
	SettingMaxSpeech      = "max_speech"
	SettingMinSpeech      = "min_speech"
	SettingPreRoll        = "preroll"
	SettingMarginDB       = "margin_db"
	SettingLanguage       = "language"
)

// Set changes a setting for the next Start (ast_speech_change).
func (r *Recognizer) Set(name, value string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	value = strings.TrimSpace(value)
	if name == SettingLanguage {
		if value == "" {
			return fmt.Errorf("speech: empty language")
		}
		r.lang = value
		return nil
	}
	if name == SettingMarginDB {
		f, err := strconv.ParseFloat(value, 64)
		if err != nil || f <= 0 || f > 60 {
			return fmt.Errorf("speech: %s=%q: want dB in (0, 60]", name, value)
		}
		r.cfg.MarginDB = f
		return nil
	}
	d, ok := r.durationLocked(name)
	if !ok {
		return fmt.Errorf("%w: %q", ErrUnknownSetting, name)
	}
	ms, err := strconv.Atoi(value)
	if err != nil || ms < 0 || ms > 600_000 {
		return fmt.Errorf("speech: %s=%q: want milliseconds 0-600000", name, value)
	}
	*d = time.Duration(ms) * time.Millisecond
	return nil
}

// Get returns a setting's current value (zero durations are shown as
// their defaults).
func (r *Recognizer) Get(name string) (string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	eff := r.cfg.withDefaults()
	switch name {
	case SettingLanguage:
		return r.lang, nil
	case SettingMarginDB:
		return strconv.FormatFloat(eff.MarginDB, 'g', -1, 64), nil
	case SettingNoInputTimeout:
		return strconv.FormatInt(r.cfg.NoInputTimeout.Milliseconds(), 10), nil
	case SettingEndSilence:
		return strconv.FormatInt(eff.EndSilence.Milliseconds(), 10), nil
	case SettingMaxSpeech:
		return strconv.FormatInt(eff.MaxSpeech.Milliseconds(), 10), nil
	case SettingMinSpeech:
		return strconv.FormatInt(eff.MinSpeech.Milliseconds(), 10), nil
	case SettingPreRoll:
		return strconv.FormatInt(eff.PreRoll.Milliseconds(), 10), nil
	}
	return "", fmt.Errorf("%w: %q", ErrUnknownSetting, name)
}

func (r *Recognizer) durationLocked(name string) (*time.Duration, bool) {
	switch name {
	case SettingNoInputTimeout:
		return &r.cfg.NoInputTimeout, true
	case SettingEndSilence:
		return &r.cfg.EndSilence, true
	case SettingMaxSpeech:
		return &r.cfg.MaxSpeech, true
	case SettingMinSpeech:
		return &r.cfg.MinSpeech, true
	case SettingPreRoll:
		return &r.cfg.PreRoll, true
	}
	return nil, false
}

// Recognize runs one whole recognition over recorded audio: Start, the
// input timers at once, Write in 20 ms frames, then, if the audio ends
// while the caller is still speaking, the end of speech, and Wait. It is
// what AGI SPEECH RECOGNIZE does over live audio, for files and tests.
func (r *Recognizer) Recognize(ctx context.Context, pcm []int16) ([]Result, Reason, error) {
	if err := r.Start(); err != nil {
		return nil, ReasonError, err
	}
	r.StartInputTimers()
	for i := 0; i < len(pcm) && r.State() == StateReady; i += 160 {
		if _, err := r.Write(pcm[i:min(i+160, len(pcm))]); err != nil {
			return nil, ReasonError, err
		}
	}
	r.mu.Lock()
	if r.state == StateReady {
		if r.vad.speaking {
			r.endLocked()
		} else {
			r.finishLocked(nil, ReasonNoInput, nil)
		}
	}
	r.mu.Unlock()
	res, reason, err := r.Wait(ctx)
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		r.Stop()
	}
	return res, reason, err
}
