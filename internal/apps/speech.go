package apps

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/entvoice/entvoice/internal/channel"
	"github.com/entvoice/entvoice/internal/pbx"
	"github.com/entvoice/entvoice/internal/speech"
)

// The speech applications and functions of Asterisk's app_speech_utils.c
// on entVoice's recognizer (docs/speech.md). The speech object lives in a
// channel datastore, as Asterisk's does: SPEECH_*() read it, SpeechDestroy
// and the end of the call destroy it.

// speechKey is the datastore key of the channel's speech object.
type speechKey struct{}

// speechObject is app_speech_utils' view of struct ast_speech: the
// recognizer plus what the applications keep beside it.
type speechObject struct {
	r *speech.Recognizer

	mu         sync.Mutex
	processing string          // SpeechProcessingSound
	results    []speech.Result // speech->results, as SPEECH_*() read them
}

func (o *speechObject) Close() error { return o.r.Close() }

// start is ast_speech_start: results and flags cleared, the engine ready.
func (o *speechObject) start() error {
	o.mu.Lock()
	o.results = nil
	o.mu.Unlock()
	return o.r.Start()
}

func (o *speechObject) setResults(res []speech.Result) {
	o.mu.Lock()
	o.results = res
	o.mu.Unlock()
}

func (o *speechObject) getResults() []speech.Result {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.results
}

func findSpeech(e *pbx.Exec) *speechObject {
	v, ok := e.Datastore(speechKey{})
	if !ok {
		return nil
	}
	o, _ := v.(*speechObject)
	return o
}

// errNoSpeech is an application run before SpeechCreate: it returns -1
// in Asterisk, which ends the call.
var errNoSpeech = errors.New("no speech object on the channel (SpeechCreate first)")

// SpeechCreate([engine]) creates the channel's speech object on engine, the
// default one (pocketsphinx) when empty. On failure it sets ERROR=1 and
// the call goes on; on success ERROR is unset (app_speech_utils.c
// speech_create).
func (ap *Apps) SpeechCreate(e *pbx.Exec, data string) error {
	engine := arg(args(data), 0)
	r, err := ap.svc.Speech.Create(e, engine)
	if err != nil {
		e.Ch.Log().Warn("SpeechCreate failed", "engine", engine, "err", err)
		e.Ch.SetVar("ERROR", "1")
		return nil
	}
	e.Ch.UnsetVar("ERROR")
	// Asterisk would add a second datastore that find_speech never
	// reaches; a new speech object replaces the old one here.
	e.SetDatastore(speechKey{}, &speechObject{r: r})
	return nil
}

// speechApp runs fn on the channel's speech object; a missing object or
// an engine error ends the call, as the application's -1 does in Asterisk.
func speechApp(name string, fn func(e *pbx.Exec, o *speechObject, a []string) error) pbx.App {
	return func(e *pbx.Exec, data string) error {
		o := findSpeech(e)
		if o == nil {
			return fmt.Errorf("%s: %w", name, errNoSpeech)
		}
		if err := fn(e, o, args(data)); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		return nil
	}
}

// SpeechLoadGrammar(name,path) loads a grammar: "builtin:...", one of the
// tenant's stored grammars, or a JSGF or keyword file.
func (ap *Apps) SpeechLoadGrammar(e *pbx.Exec, data string) error {
	return speechApp("SpeechLoadGrammar", func(e *pbx.Exec, o *speechObject, a []string) error {
		// A builtin's word list has commas of its own
		// (builtin:menu?words=sales,support): they belong to the path.
		if len(a) > 2 && strings.HasPrefix(arg(a, 1), speech.BuiltinPrefix) {
			a = []string{a[0], strings.Join(a[1:], ",")}
		}
		if len(a) != 2 {
			return errors.New("requires two arguments (grammar name,path)")
		}
		return ap.svc.Speech.LoadGrammar(e, o.r, arg(a, 0), arg(a, 1))
	})(e, data)
}

// SpeechUnloadGrammar(name).
var SpeechUnloadGrammar = speechApp("SpeechUnloadGrammar", func(_ *pbx.Exec, o *speechObject, a []string) error {
	return o.r.UnloadGrammar(arg(a, 0))
})

// SpeechActivateGrammar(name).
var SpeechActivateGrammar = speechApp("SpeechActivateGrammar", func(_ *pbx.Exec, o *speechObject, a []string) error {
	return o.r.ActivateGrammar(arg(a, 0))
})

// SpeechDeactivateGrammar(name).
var SpeechDeactivateGrammar = speechApp("SpeechDeactivateGrammar", func(_ *pbx.Exec, o *speechObject, a []string) error {
	return o.r.DeactivateGrammar(arg(a, 0))
})

// SpeechStart() makes the object ready to take audio. Asterisk's
// ast_speech_start cannot fail; with no active grammar entVoice logs it and
// SpeechBackground then only collects DTMF.
var SpeechStart = speechApp("SpeechStart", func(e *pbx.Exec, o *speechObject, _ []string) error {
	if err := o.start(); err != nil {
		e.Ch.Log().Warn("SpeechStart: recognition not started", "err", err)
	}
	return nil
})

// SpeechProcessingSound(sound) is played while the engine works out the
// result ("none" or empty: nothing).
var SpeechProcessingSound = speechApp("SpeechProcessingSound", func(_ *pbx.Exec, o *speechObject, a []string) error {
	o.mu.Lock()
	o.processing = arg(a, 0)
	o.mu.Unlock()
	return nil
})

// SpeechDestroy() destroys the speech object; SPEECH(status) is then 0.
func SpeechDestroy(e *pbx.Exec, _ string) error {
	if !e.RemoveDatastore(speechKey{}) {
		return fmt.Errorf("SpeechDestroy: %w", errNoSpeech)
	}
	return nil
}

// SpeechBackground(sound[&sound2...][,timeout[,options]]) plays the
// sounds while listening (app_speech_utils.c speech_background):
//
//   - speech stops the prompt (barge-in); the engine's result ends it;
//   - timeout (seconds, fractions allowed) counts from the end of the
//     prompts while nobody speaks; 0 returns as soon as they end; no
//     timeout (or no sound) waits for speech. entVoice's endpointer ends a
//     wait without speech after 60 s;
//   - DTMF stops the prompt and is collected instead of speech until
//     SPEECH_DTMF_TERMINATOR (default '#', empty: none),
//     SPEECH_DTMF_MAXLEN digits, or 5 s between digits; the result is
//     then the digits, score 1000, grammar "dtmf";
//   - options: n (do not answer), p (partial results; entVoice's engine
//     has none, so it changes nothing).
//
// Results are read with SPEECH(results) and SPEECH_TEXT(0) etc. A hangup
// destroys the speech object, as Asterisk does.
func (ap *Apps) SpeechBackground(e *pbx.Exec, data string) error {
	o := findSpeech(e)
	if o == nil {
		return fmt.Errorf("SpeechBackground: %w", errNoSpeech)
	}
	a := args(data)
	soundArg, timeoutArg, opts := arg(a, 0), arg(a, 1), arg(a, 2)
	if e.Ch.State() != channel.StateUp && !hasOption(opts, 'n') {
		if err := e.Ch.Answer(e.Ctx); err != nil {
			e.RemoveDatastore(speechKey{})
			return channel.ErrHangup
		}
	}
	s, err := earlyMedia(e)
	if err != nil {
		e.RemoveDatastore(speechKey{})
		return channel.ErrHangup
	}
	var files []string
	var timeout time.Duration // 0: none; -1: done when the prompts end
	if soundArg != "" {
		for _, f := range strings.Split(soundArg, "&") {
			if f = strings.TrimSpace(f); f != "" {
				files = append(files, f)
			}
		}
		if timeoutArg != "" {
			f, _ := strconv.ParseFloat(timeoutArg, 64)
			if timeout = time.Duration(f * float64(time.Second)); timeout <= 0 {
				timeout = -1
			}
		}
	}
	maxDTMF := 0
	if v, ok := e.GetVar("SPEECH_DTMF_MAXLEN"); ok && v != "" {
		maxDTMF, _ = strconv.Atoi(v)
	}
	terminator := '#'
	if v, ok := e.GetVar("SPEECH_DTMF_TERMINATOR"); ok {
		terminator = 0
		if v != "" {
			terminator = rune(v[0])
		}
	}
	r := o.r
	// Start again unless SpeechStart made it ready (ast_speech_start when
	// the state is not ready or done).
	listening := r.State() == speech.StateReady
	if st := r.State(); st == speech.StateNotReady || st == speech.StateDone {
		if err := o.start(); err != nil {
			e.Ch.Log().Warn("SpeechBackground: not listening, DTMF only", "err", err)
		} else {
			listening = true
		}
	}
	drainDTMF(e)
	l := NewListener(e, s, r, ap.svc.Sounds)
	defer l.Close()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()

	o.mu.Lock()
	processing := o.processing
	o.mu.Unlock()
	var (
		dtmf    strings.Builder
		quieted bool
		started bool
		start   time.Time
		hungUp  bool
		next    int
	)
	for done := false; !done; {
		if !quieted && !l.Playing() && next < len(files) {
			l.Play(files[next], 0)
			next++
			continue // a missing file: try the next one at once
		}
		select {
		case <-e.Ctx.Done():
			// A hangup, or an async goto (AMI Redirect) taking the
			// channel elsewhere.
			done = true
			continue
		case d, ok := <-s.DTMF():
			if !ok {
				hungUp = true
				done = true
				continue
			}
			if terminator != 0 && d.Digit == terminator {
				done = true
				continue
			}
			quieted = true
			l.SetFeed(false)
			l.Stop()
			if !started {
				timeout, started = digitTimeout, true // pbx dtimeoutms
			}
			start = time.Now()
			dtmf.WriteRune(d.Digit)
			if maxDTMF > 0 && dtmf.Len() >= maxDTMF {
				done = true
			}
			continue
		case <-l.Wake():
		case <-l.Played():
		case <-tick.C:
		}
		if (!quieted || dtmf.Len() > 0) && started && timeout > 0 && time.Since(start) >= timeout {
			done = true
			continue
		}
		if l.TakeQuiet() {
			l.Stop()
			quieted = true
		}
		state := r.State()
		if !listening {
			// Nothing to recognise (no active grammar): the prompts,
			// then DTMF until the timeout, or done at once without one.
			state = speech.StateReady
			if !quieted && !l.Playing() && next >= len(files) && timeout == 0 {
				done = true
				continue
			}
		}
		switch state {
		case speech.StateReady:
			if !quieted && !l.Playing() && timeout != 0 && !started && next >= len(files) {
				if timeout < 0 {
					done = true
					continue
				}
				start, started = time.Now(), true
				r.StartInputTimers()
			}
		case speech.StateWait:
			if dtmf.Len() == 0 && !l.Playing() && processing != "" && !strings.EqualFold(processing, "none") {
				l.Play(processing, 0)
			}
		case speech.StateDone:
			if dtmf.Len() == 0 {
				o.setResults(r.Results())
				l.Stop()
				done = true
			}
		}
	}
	l.Close()
	if dtmf.Len() > 0 {
		r.Stop()
		o.setResults([]speech.Result{{Text: dtmf.String(), Score: 1000, Grammar: "dtmf"}})
	}
	if hungUp || e.Ch.IsHungUp() {
		e.RemoveDatastore(speechKey{})
		return channel.ErrHangup
	}
	return nil
}

// speechFunctions are app_speech_utils.c's dialplan functions. A read on a
// channel without a speech object fails (empty), except SPEECH(status).
func speechFunctions() map[string]pbx.Function {
	result := func(field func(speech.Result) string) pbx.Function {
		return pbx.Function{Read: func(e *pbx.Exec, a string) (string, error) {
			o := findSpeech(e)
			if o == nil {
				return "", errNoSpeech
			}
			res, ok := findResult(o.getResults(), a)
			if !ok {
				return "", fmt.Errorf("no speech result %q", a)
			}
			return field(res), nil
		}}
	}
	return map[string]pbx.Function{
		// SPEECH(status|spoke|results).
		"SPEECH": {Read: func(e *pbx.Exec, a string) (string, error) {
			o := findSpeech(e)
			what := strings.ToLower(strings.TrimSpace(a))
			if what == "status" {
				if o == nil {
					return "0", nil
				}
				return "1", nil
			}
			if o == nil {
				return "", errNoSpeech
			}
			switch what {
			case "spoke":
				if o.r.Spoke() {
					return "1", nil
				}
				return "0", nil
			case "results":
				return strconv.Itoa(len(o.getResults())), nil
			}
			return "", nil
		}},
		"SPEECH_TEXT":    result(func(r speech.Result) string { return r.Text }),
		"SPEECH_SCORE":   result(func(r speech.Result) string { return strconv.Itoa(r.Score) }),
		"SPEECH_GRAMMAR": result(func(r speech.Result) string { return r.Grammar }),
		// SPEECH_ENGINE(setting)[=value]: the recognizer's settings
		// (docs/speech.md: noinput_timeout, end_silence, ...).
		"SPEECH_ENGINE": {
			Read: func(e *pbx.Exec, a string) (string, error) {
				o := findSpeech(e)
				if o == nil {
					return "", errNoSpeech
				}
				return o.r.Get(strings.TrimSpace(a))
			},
			Write: func(e *pbx.Exec, a, value string) error {
				o := findSpeech(e)
				if o == nil {
					return errNoSpeech
				}
				return o.r.Set(strings.TrimSpace(a), value)
			},
		},
		// SPEECH_RESULTS_TYPE()=normal|nbest: accepted; the engine returns
		// its best result either way.
		"SPEECH_RESULTS_TYPE": {Write: func(e *pbx.Exec, _, _ string) error {
			if findSpeech(e) == nil {
				return errNoSpeech
			}
			return nil
		}},
	}
}

// findResult is app_speech_utils.c find_result: "N" is the N-th result,
// "B/N" the N-th of the B-th n-best list.
func findResult(res []speech.Result, spec string) (speech.Result, bool) {
	spec = strings.TrimSpace(spec)
	nbest, wanted := -1, 0
	if b, n, ok := strings.Cut(spec, "/"); ok {
		nbest, _ = strconv.Atoi(strings.TrimSpace(b))
		wanted, _ = strconv.Atoi(strings.TrimSpace(n))
	} else {
		wanted, _ = strconv.Atoi(spec)
	}
	i := 0
	for _, r := range res {
		if nbest >= 0 && r.NBest != nbest {
			continue
		}
		if i == wanted {
			return r, true
		}
		i++
	}
	return speech.Result{}, false
}
