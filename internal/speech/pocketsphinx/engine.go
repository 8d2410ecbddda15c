//go:build pocketsphinx && cgo

package pocketsphinx

/*
#cgo pkg-config: pocketsphinx sphinxbase
#include <stdlib.h>
#include <string.h>
#include <pocketsphinx.h>
#include <sphinxbase/feat.h>
#include <sphinxbase/cmn.h>
#include <sphinxbase/fe.h>
#include <sphinxbase/ckd_alloc.h>

// cmd_ln_init is variadic, which cgo cannot call: this wrapper builds the
// decoder configuration.
static cmd_ln_t *ev_config(const char *hmm, const char *dict) {
	return cmd_ln_init(NULL, ps_args(), TRUE,
		"-hmm", hmm, "-dict", dict, "-samprate", "16000",
		"-logfn", "/dev/null", NULL);
}

// ev_init makes the decoder, which keeps its own reference to c.
static ps_decoder_t *ev_init(cmd_ln_t *c) {
	ps_decoder_t *ps = ps_init(c);
	cmd_ln_free_r(c);
	return ps;
}

// ev_cmn_snapshot copies the decoder's initial cepstral mean (the model's
// -cmninit), the fallback of ev_cmn_utterance.
static mfcc_t *ev_cmn_snapshot(ps_decoder_t *ps) {
	cmn_t *c = ps_get_feat(ps)->cmn_struct;
	if (c == NULL) return NULL;
	mfcc_t *v = malloc(sizeof(mfcc_t) * c->veclen);
	if (v != NULL) memcpy(v, c->cmn_mean, sizeof(mfcc_t) * c->veclen);
	return v;
}

// ev_cmn_utterance sets the decoder's live cepstral mean to the mean of
// this utterance's own frames, computed with the decoder's front end
// before the decode (frames with a negative c0, silence, are left out,
// as cmn_live leaves them out). Without it, live CMN starts from the
// mean left by the previous utterance, which on a shared pool is another
// caller's: results then depended on what the decoder heard before.
static void ev_cmn_utterance(ps_decoder_t *ps, const int16 *pcm, size_t n, mfcc_t const *fallback) {
	fe_t *fe = ps_get_fe(ps);
	cmn_t *c = ps_get_feat(ps)->cmn_struct;
	if (fe == NULL || c == NULL || fallback == NULL) return;
	int veclen = fe_get_output_size(fe);
	if (veclen != c->veclen) {
		cmn_live_set(c, fallback);
		return;
	}
	const int16 *p = pcm;
	size_t left = n;
	int32 nfr = 0;
	fe_process_frames(fe, NULL, &left, NULL, &nfr, NULL);
	mfcc_t **buf = (mfcc_t **)ckd_calloc_2d(nfr + 2, veclen, sizeof(mfcc_t));
	double *sum = calloc(veclen, sizeof(double));
	mfcc_t *mean = malloc(sizeof(mfcc_t) * veclen);
	int32 got = 0;
	if (buf != NULL && sum != NULL && mean != NULL && fe_start_utt(fe) >= 0) {
		int32 want = nfr + 1, last = 0;
		left = n;
		fe_process_frames(fe, &p, &left, buf, &want, NULL);
		fe_end_utt(fe, buf[want], &last);
		int32 total = want + last;
		for (int32 i = 0; i < total; i++) {
			if (buf[i][0] < 0) continue;
			for (int j = 0; j < veclen; j++) sum[j] += buf[i][j];
			got++;
		}
		for (int j = 0; j < veclen && got > 0; j++) mean[j] = (mfcc_t)(sum[j] / got);
	}
	cmn_live_set(c, got > 0 ? mean : fallback);
	if (buf != NULL) ckd_free_2d(buf);
	free(sum);
	free(mean);
}

// ev_prob is the posterior probability (0..1) of the best hypothesis among
// the grammar's paths (ps_get_prob needs -bestpath, the default).
static double ev_prob(ps_decoder_t *ps) {
	return logmath_exp(ps_get_logmath(ps), ps_get_prob(ps));
}
*/
import "C"

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"
	"unsafe"

	"github.com/entvoice/entvoice/internal/speech"
	"github.com/entvoice/entvoice/internal/speech/jsgf"
)

// Available reports whether this binary was built with the engine.
const Available = true

// Engine is the pocketsphinx speech.Engine.
type Engine struct {
	log          *slog.Logger
	queueTimeout time.Duration
	tmp          string // keyword files
	models       []*model

	closeOnce sync.Once
	closed    chan struct{}
}

type model struct {
	resolvedModel
	words map[string]bool // dictionary words, lower case
	pool  chan *decoder
	size  int // decoders made; freeModel counts it down
	n     int // pool size, for messages
}

// decoder is one ps_decoder_t; it is used by one goroutine at a time (the
// one that took it from the pool).
type decoder struct {
	ps       *C.ps_decoder_t
	cmn      *C.mfcc_t // the model's initial cepstral mean (C memory)
	searches []string  // loaded searches, most recently used last
	current  string
}

// maxSearches bounds the grammars a decoder keeps compiled.
const maxSearches = 64

// New loads every model of cfg into its decoder pool. It fails (wrapping
// speech.ErrNoModel) when a model directory is missing or unusable.
func New(cfg Config) (speech.Engine, error) {
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	models := cfg.Models
	if len(models) == 0 {
		models = []Model{{Language: "en", Dir: DebianModelDir}}
	}
	n := cfg.Decoders
	if n <= 0 {
		n = runtime.NumCPU()
	}
	qt := cfg.QueueTimeout
	if qt <= 0 {
		qt = DefaultQueueTimeout
	}
	tmp, err := os.MkdirTemp("", "entvoice-pocketsphinx-")
	if err != nil {
		return nil, fmt.Errorf("pocketsphinx: %w", err)
	}
	e := &Engine{log: log.With("engine", Name), queueTimeout: qt, tmp: tmp, closed: make(chan struct{})}
	for _, mc := range models {
		m, err := e.loadModel(mc, n)
		if err != nil {
			_ = e.Close()
			return nil, err
		}
		e.models = append(e.models, m)
	}
	return e, nil
}

func (e *Engine) loadModel(mc Model, n int) (*model, error) {
	r, err := mc.resolve()
	if err != nil {
		return nil, err
	}
	t0 := time.Now()
	m := &model{resolvedModel: r, words: map[string]bool{}, pool: make(chan *decoder, n), n: n}
	if err := readDict(r.dict, m.words, nil); err != nil {
		return nil, err
	}
	extra := map[string]string{}
	for _, p := range r.extra {
		if err := readDict(p, map[string]bool{}, extra); err != nil {
			return nil, err
		}
	}
	for w := range extra {
		m.words[w] = true
	}
	chmm, cdict := C.CString(r.hmm), C.CString(r.dict)
	defer C.free(unsafe.Pointer(chmm))
	defer C.free(unsafe.Pointer(cdict))
	for i := 0; i < n; i++ {
		c := C.ev_config(chmm, cdict)
		var ps *C.ps_decoder_t
		if c != nil {
			ps = C.ev_init(c)
		}
		if ps == nil {
			e.freeModel(m)
			return nil, fmt.Errorf("%w: %s: pocketsphinx could not load %s with %s", speech.ErrNoModel, r.lang, r.hmm, r.dict)
		}
		d := &decoder{ps: ps, cmn: C.ev_cmn_snapshot(ps)}
		for w, ph := range extra {
			cw, cp := C.CString(w), C.CString(ph)
			rc := C.ps_add_word(ps, cw, cp, 0)
			C.free(unsafe.Pointer(cw))
			C.free(unsafe.Pointer(cp))
			if rc < 0 {
				// Already in the dictionary: the main dictionary wins.
				e.log.Debug("pocketsphinx: extra word not added", "word", w)
			}
		}
		m.pool <- d
		m.size++
	}
	e.log.Info("pocketsphinx model loaded", "language", r.lang, "hmm", r.hmm, "dict", r.dict,
		"words", len(m.words), "decoders", n, "took", time.Since(t0).Round(time.Millisecond))
	return m, nil
}

// freeModel frees the decoders in the pool (all must be there).
func (e *Engine) freeModel(m *model) {
	for m.size > 0 {
		d := <-m.pool
		C.ps_free(d.ps)
		C.free(unsafe.Pointer(d.cmn))
		m.size--
	}
}

// Name implements speech.Engine.
func (e *Engine) Name() string { return Name }

// Languages returns the languages of the loaded models, the default first.
func (e *Engine) Languages() []string {
	out := make([]string, len(e.models))
	for i, m := range e.models {
		out[i] = m.lang
	}
	return out
}

// modelFor picks the model for a language: exact match, then the base
// language, then the default model (the first).
func (e *Engine) modelFor(lang string) (*model, error) {
	select {
	case <-e.closed:
		return nil, speech.ErrClosed
	default:
	}
	l := normLang(lang)
	base, _, _ := strings.Cut(l, "_")
	for _, cand := range []string{l, base} {
		for _, m := range e.models {
			if m.lang == cand {
				return m, nil
			}
		}
	}
	return e.models[0], nil
}

// CheckGrammar implements speech.Engine: every word of g must be in the
// dictionary of the language's model.
func (e *Engine) CheckGrammar(g *speech.Grammar, language string) error {
	m, err := e.modelFor(language)
	if err != nil {
		return err
	}
	return checkWords(g.Words(), m.words, m.lang)
}

// plan is the search an utterance needs.
type plan struct {
	key   string
	kind  speech.GrammarKind
	jsgf  string // JSGF text of every active grammar under one root
	kws   string // keyword file contents
	parts []speech.ActiveGrammar
}

func makePlan(gs []speech.ActiveGrammar) (*plan, error) {
	if len(gs) == 0 {
		return nil, speech.ErrNoActiveGrammar
	}
	p := &plan{kind: gs[0].Grammar.Kind(), parts: gs}
	var keys []string
	for _, g := range gs {
		if g.Grammar.Kind() != p.kind {
			return nil, fmt.Errorf("%w: keyword grammars and JSGF grammars cannot be active together", speech.ErrGrammar)
		}
		keys = append(keys, g.Grammar.Key())
	}
	if p.kind == speech.KindKeywords {
		var b strings.Builder
		for _, g := range gs {
			b.WriteString(g.Grammar.KeywordFile())
		}
		p.kws = b.String()
		p.key = "k" + strings.Join(keys, "_")
	} else {
		parts := make([]jsgf.Part, len(gs))
		for i, g := range gs {
			parts[i] = jsgf.Part{Grammar: g.Grammar.JSGF(), Prefix: fmt.Sprintf("g%d_", i)}
		}
		p.jsgf = jsgf.Combine("entvoice", parts, strings.ToLower)
		p.key = "j" + strings.Join(keys, "_")
	}
	if len(p.key) > 200 {
		p.key = p.key[:200]
	}
	return p, nil
}

// acquire takes a decoder from m's pool, waiting at most the queue timeout.
func (e *Engine) acquire(ctx context.Context, m *model) (*decoder, error) {
	select {
	case d := <-m.pool:
		return d, nil
	default:
	}
	t := time.NewTimer(e.queueTimeout)
	defer t.Stop()
	select {
	case d := <-m.pool:
		return d, nil
	case <-e.closed:
		return nil, speech.ErrClosed
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-t.C:
		return nil, fmt.Errorf("%w: %d %s decoders (%s) busy for %v; more concurrent recognitions than decoders",
			speech.ErrBusy, m.n, Name, m.lang, e.queueTimeout)
	}
}

// Decode implements speech.Engine.
func (e *Engine) Decode(ctx context.Context, u speech.Utterance) ([]speech.Result, error) {
	select {
	case <-e.closed:
		return nil, speech.ErrClosed
	default:
	}
	m, err := e.modelFor(u.Language)
	if err != nil {
		return nil, err
	}
	p, err := makePlan(u.Grammars)
	if err != nil {
		return nil, err
	}
	if len(u.Audio) == 0 {
		return nil, nil
	}
	d, err := e.acquire(ctx, m)
	if err != nil {
		return nil, err
	}
	defer func() { m.pool <- d }()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := e.useSearch(d, p); err != nil {
		return nil, err
	}
	pcm := upsample2(u.Audio)
	// The utterance's own cepstral mean first (ev_cmn_utterance), then the
	// whole utterance in one call, not marked as a full utterance: with
	// full_utt (pocketsphinx's batch CMN) words spelled in an extra
	// dictionary (the Spanish test words) gave no hypothesis at all.
	C.ev_cmn_utterance(d.ps, (*C.int16)(unsafe.Pointer(&pcm[0])), C.size_t(len(pcm)), d.cmn)
	if C.ps_start_utt(d.ps) < 0 {
		return nil, fmt.Errorf("pocketsphinx: ps_start_utt failed")
	}
	if C.ps_process_raw(d.ps, (*C.int16)(unsafe.Pointer(&pcm[0])), C.size_t(len(pcm)), 0, 0) < 0 {
		C.ps_end_utt(d.ps)
		return nil, fmt.Errorf("pocketsphinx: ps_process_raw failed")
	}
	if C.ps_end_utt(d.ps) < 0 {
		return nil, fmt.Errorf("pocketsphinx: ps_end_utt failed")
	}
	if p.kind == speech.KindKeywords {
		return keywordResults(d, p), nil
	}
	var score C.int32
	h := C.ps_get_hyp(d.ps, &score)
	if h == nil {
		return nil, nil
	}
	text := strings.Join(strings.Fields(C.GoString(h)), " ")
	if text == "" {
		return nil, nil
	}
	conf := int(float64(C.ev_prob(d.ps))*1000 + 0.5)
	return []speech.Result{{Text: text, Score: min(max(conf, 0), 1000), Grammar: grammarOf(p.parts, text)}}, nil
}

// grammarOf names the first active grammar whose language has text.
func grammarOf(parts []speech.ActiveGrammar, text string) string {
	for _, g := range parts {
		if g.Grammar.Match(text) {
			return g.Name
		}
	}
	return parts[0].Name
}

func keywordResults(d *decoder, p *plan) []speech.Result {
	var out []speech.Result
	seen := map[string]bool{}
	for seg := C.ps_seg_iter(d.ps); seg != nil; seg = C.ps_seg_next(seg) {
		w := strings.TrimSpace(C.GoString(C.ps_seg_word(seg)))
		if w == "" || strings.HasPrefix(w, "<") || strings.HasPrefix(w, "[") || seen[w] {
			continue
		}
		seen[w] = true
		out = append(out, speech.Result{Text: w, Score: 1000, Grammar: grammarOf(p.parts, w), NBest: len(out)})
	}
	return out
}

// useSearch makes p's search current on d, compiling it on first use.
func (e *Engine) useSearch(d *decoder, p *plan) error {
	if i := slices.Index(d.searches, p.key); i >= 0 {
		d.searches = append(append(d.searches[:i], d.searches[i+1:]...), p.key)
	} else {
		cname := C.CString(p.key)
		defer C.free(unsafe.Pointer(cname))
		var rc C.int
		if p.kind == speech.KindKeywords {
			path := filepath.Join(e.tmp, p.key+".kws")
			if err := os.WriteFile(path, []byte(p.kws), 0o600); err != nil {
				return fmt.Errorf("pocketsphinx: keyword file: %w", err)
			}
			cpath := C.CString(path)
			rc = C.ps_set_kws(d.ps, cname, cpath)
			C.free(unsafe.Pointer(cpath))
		} else {
			ctext := C.CString(p.jsgf)
			rc = C.ps_set_jsgf_string(d.ps, cname, ctext)
			C.free(unsafe.Pointer(ctext))
		}
		if rc < 0 {
			return fmt.Errorf("pocketsphinx: could not compile the %s search of %d grammar(s)", p.kind, len(p.parts))
		}
		d.searches = append(d.searches, p.key)
		for len(d.searches) > maxSearches {
			old := d.searches[0]
			d.searches = d.searches[1:]
			if old == d.current {
				continue
			}
			cold := C.CString(old)
			C.ps_unset_search(d.ps, cold)
			C.free(unsafe.Pointer(cold))
		}
	}
	if d.current != p.key {
		cname := C.CString(p.key)
		rc := C.ps_set_search(d.ps, cname)
		C.free(unsafe.Pointer(cname))
		if rc < 0 {
			return fmt.Errorf("pocketsphinx: ps_set_search failed")
		}
		d.current = p.key
	}
	return nil
}

// Close waits for decodes in progress, then frees every decoder.
func (e *Engine) Close() error {
	e.closeOnce.Do(func() {
		close(e.closed)
		for _, m := range e.models {
			e.freeModel(m)
		}
		_ = os.RemoveAll(e.tmp)
	})
	return nil
}

var _ speech.Engine = (*Engine)(nil)
