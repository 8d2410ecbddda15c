package apps

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/entvoice/entvoice/internal/dialplan"
	"github.com/entvoice/entvoice/internal/media"
	"github.com/entvoice/entvoice/internal/pbx"
	"github.com/entvoice/entvoice/internal/prompts"
	"github.com/entvoice/entvoice/internal/speech"
	"github.com/entvoice/entvoice/internal/tenancy"
)

// GrammarSource gives a tenant's grammars kept in the store (the node
// keeps them from its realtime snapshot), parsed.
type GrammarSource interface {
	Grammar(tenant, name string) (*speech.Grammar, bool)
}

// Speech is what the speech applications (SpeechCreate ... SpeechDestroy)
// and AGI's SPEECH commands use: the node's engines, where grammar files
// are, and the tenants' grammars from the store. A nil *Speech has no
// engine: SpeechCreate fails as Asterisk's does without res_speech engines.
type Speech struct {
	Engines *speech.Registry
	// GrammarDir is where a relative grammar path is looked up, and the
	// only place a hosted tenant's grammar files may come from.
	GrammarDir string
	// Grammars are the tenants' stored grammars (nil: none).
	Grammars GrammarSource
}

// ErrSpeechOff is a SpeechCreate on a channel whose tenant or user has the
// speech service switched off.
var ErrSpeechOff = errors.New("the speech service is switched off for this tenant or user")

// Create makes a recognizer for the channel (res_speech's ast_speech_new):
// engine "" is the default engine (pocketsphinx). It fails when the
// engine is unknown or unavailable (the reason names what is missing) or
// the channel may not use speech.
func (sp *Speech) Create(e *pbx.Exec, engine string) (*speech.Recognizer, error) {
	if !e.Ch.Allowed(tenancy.ServiceSpeech) {
		return nil, ErrSpeechOff
	}
	if sp == nil || sp.Engines == nil {
		return nil, fmt.Errorf("%w: no speech engine is configured on this node", speech.ErrNoEngine)
	}
	eng, err := sp.Engines.Get(strings.TrimSpace(engine))
	if err != nil {
		return nil, err
	}
	return speech.NewRecognizer(e.CallContext(), eng, speech.Options{Language: e.Ch.Language(), Logger: e.Ch.Log()}), nil
}

// storeName is what a grammar kept in the store may be called.
var storeName = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// LoadGrammar loads ref under name (ast_speech_grammar_load). ref is, in
// this order: "builtin:..." (speech.Builtin); the name of one of the
// channel tenant's grammars in the store; a JSGF or keyword file, relative
// paths under GrammarDir. A hosted tenant may only name files inside
// GrammarDir (as AGI scripts must be inside agi_dir). Errors name the file
// and line of a syntax error.
func (sp *Speech) LoadGrammar(e *pbx.Exec, r *speech.Recognizer, name, ref string) error {
	ref = strings.TrimSpace(ref)
	name = strings.TrimSpace(name)
	if name == "" || ref == "" {
		return fmt.Errorf("%w: a grammar needs a name and a path", speech.ErrGrammar)
	}
	if strings.HasPrefix(ref, speech.BuiltinPrefix) {
		return r.LoadGrammarRef(name, ref)
	}
	tenant := e.Ch.Tenant()
	if sp.Grammars != nil && storeName.MatchString(ref) {
		if g, ok := sp.Grammars.Grammar(tenancy.Of(tenant), ref); ok {
			return r.LoadGrammar(name, g)
		}
	}
	path := ref
	if !filepath.IsAbs(path) && sp.GrammarDir != "" {
		path = filepath.Join(sp.GrammarDir, path)
	}
	path = filepath.Clean(path)
	if !dialplan.IsDefaultTenant(tenant) &&
		(sp.GrammarDir == "" || !strings.HasPrefix(path, filepath.Clean(sp.GrammarDir)+string(filepath.Separator))) {
		return fmt.Errorf("%w: tenant %q may only load grammars from the store or from speech.grammar_dir, not %q", speech.ErrGrammar, tenant, ref)
	}
	g, err := speech.LoadGrammarFile(path)
	if err != nil {
		return err
	}
	return r.LoadGrammar(name, g)
}

// Listener feeds a channel's received audio to a recognizer while prompts
// play: the loop shared by SpeechBackground and AGI SPEECH RECOGNIZE
// (both drive res_speech the same way: write voice frames while the state
// is ready, stop the prompt when the engine sets AST_SPEECH_QUIET, play the
// processing sound while it is in wait).
type Listener struct {
	e      *pbx.Exec
	m      *media.Session
	r      *speech.Recognizer
	sounds prompts.Sounds

	feed   atomic.Bool
	quiet  atomic.Bool   // speech started since the last TakeQuiet
	wake   chan struct{} // cap 1: the recognizer reported an event
	played chan struct{} // cap 1: a prompt ended

	mu     sync.Mutex
	player *player
}

type player struct {
	src    media.PCMSource
	cancel context.CancelFunc
	done   chan struct{}
}

// NewListener installs the channel's audio tap. Close removes it.
func NewListener(e *pbx.Exec, m *media.Session, r *speech.Recognizer, sounds prompts.Sounds) *Listener {
	l := &Listener{e: e, m: m, r: r, sounds: sounds, wake: make(chan struct{}, 1), played: make(chan struct{}, 1)}
	l.feed.Store(true)
	m.SetSink(func(pcm []int16) {
		if !l.feed.Load() {
			return
		}
		ev, err := r.Write(pcm)
		if err != nil || ev == 0 {
			return
		}
		if ev&speech.EventSpeechStart != 0 {
			l.quiet.Store(true)
		}
		select {
		case l.wake <- struct{}{}:
		default:
		}
	})
	return l
}

// SetFeed turns feeding the recognizer on or off (off once DTMF came in).
func (l *Listener) SetFeed(on bool) { l.feed.Store(on) }

// Wake is signalled when the recognizer reports an event.
func (l *Listener) Wake() <-chan struct{} { return l.wake }

// Played is signalled when a prompt ends (played out or stopped).
func (l *Listener) Played() <-chan struct{} { return l.played }

// TakeQuiet reports and clears the barge-in flag (AST_SPEECH_QUIET).
func (l *Listener) TakeQuiet() bool { return l.quiet.Swap(false) }

// Play starts a sound in the channel's language from sample offset,
// stopping one that plays. It reports false when the sound does not exist
// (Asterisk's speech_streamfile fails quietly; the loop goes on).
func (l *Listener) Play(name string, offset int64) bool {
	l.Stop()
	src, err := l.sounds.Open(name, l.e.Ch.Language())
	if err != nil {
		l.e.Ch.Log().Warn("speech: cannot play prompt", "sound", name, "language", l.e.Ch.Language(), "err", err)
		return false
	}
	if offset > 0 {
		if _, err := src.Seek(offset, io.SeekStart); err != nil {
			return false
		}
	}
	ctx, cancel := context.WithCancel(l.e.Ctx)
	p := &player{src: src, cancel: cancel, done: make(chan struct{})}
	l.mu.Lock()
	l.player = p
	l.mu.Unlock()
	go func() {
		defer close(p.done)
		_ = l.m.Play(ctx, src)
		select {
		case l.played <- struct{}{}:
		default:
		}
	}()
	return true
}

// Playing reports whether a prompt is playing.
func (l *Listener) Playing() bool {
	l.mu.Lock()
	p := l.player
	l.mu.Unlock()
	if p == nil {
		return false
	}
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// Stop stops the prompt and returns where it stopped, in samples (AGI's
// endpos); 0 when none played.
func (l *Listener) Stop() int64 {
	l.mu.Lock()
	p := l.player
	l.player = nil
	l.mu.Unlock()
	if p == nil {
		return 0
	}
	p.cancel()
	<-p.done
	return p.src.Pos()
}

// Close stops the prompt and the audio tap.
func (l *Listener) Close() {
	l.feed.Store(false)
	l.Stop()
	l.m.SetSink(nil)
}
