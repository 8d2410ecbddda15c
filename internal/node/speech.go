package node

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"sync/atomic"

	"github.com/entvoice/entvoice/internal/apps"
	"github.com/entvoice/entvoice/internal/config"
	"github.com/entvoice/entvoice/internal/media"
	"github.com/entvoice/entvoice/internal/prompts"
	"github.com/entvoice/entvoice/internal/speech"
	"github.com/entvoice/entvoice/internal/speech/pocketsphinx"
	"github.com/entvoice/entvoice/internal/tenancy"
	"github.com/entvoice/entvoice/internal/tts"
)

// speechStack is a node's speech recognition and text to speech: the
// engine registry (pocketsphinx, its models loaded once at node start),
// the espeak-ng synthesizer with its cache under data_dir, and the
// tenants' grammars from the realtime snapshot.
type speechStack struct {
	engines  *speech.Registry
	synth    *tts.Synthesizer // nil: no TTS on this node
	grammars *grammarTable
	apps     *apps.Speech
}

// newSpeech builds the stack from speech: in the configuration. Nothing
// here stops the node: an engine that cannot run (a binary built without
// it, a missing model) is registered as unavailable, with the reason
// SpeechCreate's log line and `entvoice speech engines` repeat, and a
// missing espeak-ng leaves SayText failing (SAYTEXTSTATUS=FAILED) and the
// Say applications on recorded prompts.
func newSpeech(cfg *config.Config, log *slog.Logger) *speechStack {
	sc := cfg.Speech
	st := &speechStack{engines: speech.NewRegistry(), grammars: &grammarTable{}}
	if sc.Engine != "off" {
		pc := pocketsphinx.Config{Decoders: sc.Decoders, QueueTimeout: sc.QueueTimeout.Duration, Logger: log}
		for _, m := range sc.Models {
			pc.Models = append(pc.Models, pocketsphinx.Model{Language: m.Language, Dir: m.Dir, HMM: m.HMM, Dict: m.Dict, ExtraDict: m.ExtraDicts})
		}
		eng, err := pocketsphinx.New(pc)
		if err != nil {
			log.Warn("speech: the pocketsphinx engine is unavailable; SpeechCreate will set ERROR=1 and AGI SPEECH CREATE answer result=0", "err", err)
			_ = st.engines.RegisterUnavailable(pocketsphinx.Name, err)
		} else {
			_ = st.engines.Register(eng)
			log.Info("speech: pocketsphinx ready", "decoders", sc.Decoders, "models", len(pc.Models))
		}
	}
	if err := os.MkdirAll(sc.GrammarDir, 0o755); err != nil {
		log.Warn("speech: cannot create the grammar directory", "dir", sc.GrammarDir, "err", err)
	}
	if sc.TTS.Engine != "off" {
		s, err := tts.New(tts.Config{Binary: sc.TTS.Binary, CacheDir: sc.TTS.CacheDir, Voices: sc.TTS.Voices, Logger: log})
		if err != nil {
			log.Warn("speech: text to speech is unavailable; SayText fails and Say* keep the recorded prompts", "err", err)
		} else {
			st.synth = s
		}
	}
	st.apps = &apps.Speech{Engines: st.engines, GrammarDir: sc.GrammarDir, Grammars: st.grammars}
	return st
}

// tts is the TTS SayText uses, at speech.tts.rate unless it gives one
// (nil interface when there is none).
func (st *speechStack) tts(rate int) apps.TTS {
	if st.synth == nil {
		return nil
	}
	return rateTTS{st.synth, rate}
}

type rateTTS struct {
	s    *tts.Synthesizer
	rate int
}

func (r rateTTS) Speak(ctx context.Context, req tts.Request) (*media.Prompt, error) {
	if req.Rate == 0 {
		req.Rate = r.rate
	}
	return r.s.Speak(ctx, req)
}

func (r rateTTS) SpeakFile(ctx context.Context, req tts.Request) (string, error) {
	if req.Rate == 0 {
		req.Rate = r.rate
	}
	return r.s.SpeakFile(ctx, req)
}

// speaker is the Say fallback's Speaker (nil interface when no TTS).
func (st *speechStack) speaker(rate int) prompts.Speaker {
	if st.synth == nil {
		return nil
	}
	return tts.PromptSpeaker{Synth: st.synth, Rate: rate}
}

func (st *speechStack) close() {
	if err := st.engines.Close(); err != nil {
		slog.Default().Debug("speech engines close", "err", err)
	}
	if st.synth != nil {
		st.synth.Close()
	}
}

// grammarTable holds the tenants' stored grammars, parsed, swapped whole
// by the realtime loop: tenant -> name -> grammar.
type grammarTable struct {
	m atomic.Pointer[map[string]map[string]*speech.Grammar]
}

// Grammar implements apps.GrammarSource.
func (g *grammarTable) Grammar(tenant, name string) (*speech.Grammar, bool) {
	p := g.m.Load()
	if p == nil {
		return nil, false
	}
	gr, ok := (*p)[tenancy.Of(tenant)][name]
	return gr, ok
}

func (g *grammarTable) set(m map[string]map[string]*speech.Grammar) { g.m.Store(&m) }

// parseStoredGrammar parses a stored grammar; its errors name it as
// "store:TENANT/NAME:LINE:COL".
func parseStoredGrammar(tenant, name, body string) (*speech.Grammar, error) {
	g, err := speech.ParseJSGF(fmt.Sprintf("store:%s/%s", tenancy.Of(tenant), name), []byte(body))
	if err != nil {
		return nil, err
	}
	return g, nil
}
