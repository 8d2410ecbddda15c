//go:build pocketsphinx && cgo

package pocketsphinx

import (
	"context"
	"errors"
	"math"
	"math/rand"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/entvoice/entvoice/internal/speech"
	"github.com/entvoice/entvoice/internal/speech/jsgf"
	"github.com/entvoice/entvoice/internal/tts"
)

func menuGrammar(t testing.TB) *speech.Grammar {
	t.Helper()
	g, err := speech.MenuGrammar([]string{"sales", "support", "billing", "operator", "two"})
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// TestTTSRoundTrip synthesises phrases with the tts package and recognises
// them back through a G.711 call path.
func TestTTSRoundTrip(t *testing.T) {
	e := newEngine(t, Config{})
	s := newSynth(t)
	for _, w := range []string{"sales", "support", "two"} {
		p, err := s.Speak(context.Background(), tts.Request{Text: w, Language: "en"})
		if err != nil {
			t.Fatal(err)
		}
		res, reason, err := recognize(t, e, phone(p.PCM, false, 300, 800), map[string]*speech.Grammar{"menu": menuGrammar(t)})
		if err != nil || reason != speech.ReasonSpeech || res[0].Text != w || res[0].Grammar != "menu" {
			t.Errorf("%q: %+v %v %v", w, res, reason, err)
		}
		if res[0].Score < 0 || res[0].Score > 1000 {
			t.Errorf("score %d out of 0..1000", res[0].Score)
		}
	}
}

// TestSeveralGrammarsNameTheMatch activates two grammars at once: the
// result names the one the words belong to (SPEECH_GRAMMAR).
func TestSeveralGrammarsNameTheMatch(t *testing.T) {
	e := newEngine(t, Config{Decoders: 1})
	s := newSynth(t)
	var pc phraseCache
	gs := map[string]*speech.Grammar{"menu": menuGrammar(t), "answer": speech.YesNoGrammar()}
	for _, tc := range []struct{ say, grammar string }{{"yes", "answer"}, {"billing", "menu"}, {"no", "answer"}} {
		res, _, err := recognize(t, e, phone(pc.get(t, s, tc.say, "en-us", 150), true, 300, 800), gs)
		if err != nil || len(res) == 0 || res[0].Text != tc.say || res[0].Grammar != tc.grammar {
			t.Errorf("%q: %+v %v; want grammar %s", tc.say, res, err, tc.grammar)
		}
	}
}

func TestSilenceAndNoiseGiveNoInput(t *testing.T) {
	e := newEngine(t, Config{Decoders: 1})
	r := speech.NewRecognizer(context.Background(), e, speech.Options{Logger: quietLog(),
		Endpoint: speech.EndpointConfig{NoInputTimeout: 2 * time.Second}})
	defer r.Close()
	if err := r.LoadGrammar("menu", menuGrammar(t)); err != nil {
		t.Fatal(err)
	}
	if err := r.ActivateGrammar("menu"); err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewSource(7))
	white := make([]int16, 5*8000)
	for i := range white {
		white[i] = int16(rng.NormFloat64() * 3000) // about -20 dBFS
	}
	hum := make([]int16, 5*8000)
	for i := range hum {
		hum[i] = int16(2000 * math.Sin(2*math.Pi*50*float64(i)/8000))
	}
	for name, audio := range map[string][]int16{"silence": make([]int16, 5*8000), "white noise": white, "50 Hz hum": hum} {
		res, reason, err := r.Recognize(context.Background(), audio)
		if err != nil || reason != speech.ReasonNoInput || len(res) != 0 || r.Spoke() {
			t.Errorf("%s: %+v %v %v spoke=%v", name, res, reason, err, r.Spoke())
		}
	}
}

func TestSpeechInNoise(t *testing.T) {
	e := newEngine(t, Config{Decoders: 1})
	s := newSynth(t)
	var pc phraseCache
	rng := rand.New(rand.NewSource(3))
	ok := 0
	words := []string{"sales", "support", "billing", "operator", "two"}
	for _, w := range words {
		a := phone(pc.get(t, s, w, "en-us", 150), false, 800, 1000)
		for i := range a {
			a[i] = int16(max(-32768, min(32767, float64(a[i])+rng.NormFloat64()*150))) // ~25 dB SNR
		}
		res, _, err := recognize(t, e, a, map[string]*speech.Grammar{"menu": menuGrammar(t)})
		if err != nil {
			t.Fatal(err)
		}
		if len(res) > 0 && res[0].Text == w {
			ok++
		} else {
			t.Logf("%q in noise -> %+v", w, res)
		}
	}
	if ok < len(words)-1 {
		t.Errorf("%d/%d recognised in noise", ok, len(words))
	}
}

// TestBargeIn checks that speech start is reported quickly (to stop the
// prompt) and sets Quiet, before the end of speech.
func TestBargeIn(t *testing.T) {
	e := newEngine(t, Config{Decoders: 1})
	s := newSynth(t)
	var pc phraseCache
	r := speech.NewRecognizer(context.Background(), e, speech.Options{Logger: quietLog()})
	defer r.Close()
	if err := r.LoadGrammar("menu", menuGrammar(t)); err != nil {
		t.Fatal(err)
	}
	if err := r.ActivateGrammar("menu"); err != nil {
		t.Fatal(err)
	}
	if err := r.Start(); err != nil {
		t.Fatal(err)
	}
	const lead = 1000 // ms of silence before the word
	audio := phone(pc.get(t, s, "support", "en-us", 150), false, lead, 1500)
	startAt, endAt := -1, -1
	for i, f := range chunk(audio) {
		i *= 160
		ev, err := r.Write(f)
		if err != nil {
			t.Fatal(err)
		}
		if ev&speech.EventSpeechStart != 0 {
			startAt = i / 8
			if !r.Quiet() || !r.Spoke() {
				t.Error("speech start without Quiet/Spoke")
			}
		}
		if ev&speech.EventEndOfSpeech != 0 {
			endAt = i / 8
			if st := r.State(); st != speech.StateWait && st != speech.StateDone {
				t.Errorf("state after end of speech: %v", st)
			}
		}
	}
	// espeak-ng starts the word some tens of ms into its output.
	if startAt < lead || startAt > lead+300 {
		t.Errorf("speech start reported at %d ms, want within 300 ms of %d ms", startAt, lead)
	}
	if endAt < 0 || endAt <= startAt {
		t.Fatalf("end of speech at %d ms (start %d)", endAt, startAt)
	}
	res, reason, err := r.Wait(context.Background())
	if err != nil || reason != speech.ReasonSpeech || res[0].Text != "support" {
		t.Fatalf("%+v %v %v", res, reason, err)
	}
}

// TestBusyDecoders: with every decoder taken, a decode waits for the
// queue timeout and fails with ErrBusy; the recognizer reports
// ReasonError, and the next recognition works once a decoder is free.
func TestBusyDecoders(t *testing.T) {
	e := newEngine(t, Config{Decoders: 1, QueueTimeout: 150 * time.Millisecond})
	s := newSynth(t)
	var pc phraseCache
	m, _ := e.modelFor("en")
	held, err := e.acquire(context.Background(), m)
	if err != nil {
		t.Fatal(err)
	}
	audio := phone(pc.get(t, s, "sales", "en-us", 150), false, 300, 800)
	t0 := time.Now()
	_, reason, err := recognize(t, e, audio, map[string]*speech.Grammar{"menu": menuGrammar(t)})
	if reason != speech.ReasonError || !errors.Is(err, speech.ErrBusy) {
		t.Fatalf("with no free decoder: %v %v", reason, err)
	}
	if d := time.Since(t0); d < 150*time.Millisecond || d > 2*time.Second {
		t.Errorf("busy after %v, want the 150 ms queue timeout", d)
	}
	if !strings.Contains(err.Error(), "1 pocketsphinx decoders") {
		t.Errorf("error does not explain: %v", err)
	}
	m.pool <- held
	res, reason, err := recognize(t, e, audio, map[string]*speech.Grammar{"menu": menuGrammar(t)})
	if err != nil || reason != speech.ReasonSpeech || res[0].Text != "sales" {
		t.Fatalf("after release: %+v %v %v", res, reason, err)
	}
}

// TestHangupCancels: the call's context ending (hangup) while the decode
// waits for a decoder ends the recognition as cancelled, at once.
func TestHangupCancels(t *testing.T) {
	e := newEngine(t, Config{Decoders: 1, QueueTimeout: 10 * time.Second})
	s := newSynth(t)
	var pc phraseCache
	m, _ := e.modelFor("en")
	held, _ := e.acquire(context.Background(), m)
	defer func() { m.pool <- held }()
	ctx, hangup := context.WithCancel(context.Background())
	r := speech.NewRecognizer(ctx, e, speech.Options{Logger: quietLog()})
	defer r.Close()
	_ = r.LoadGrammar("menu", menuGrammar(t))
	_ = r.ActivateGrammar("menu")
	_ = r.Start()
	for _, f := range chunk(phone(pc.get(t, s, "sales", "en-us", 150), false, 300, 900)) {
		_, _ = r.Write(f)
	}
	if r.State() != speech.StateWait {
		t.Fatalf("state %v, want wait", r.State())
	}
	time.AfterFunc(50*time.Millisecond, hangup)
	wctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_, reason, err := r.Wait(wctx)
	if reason != speech.ReasonCancelled || !errors.Is(err, context.Canceled) {
		t.Fatalf("after hangup: %v %v", reason, err)
	}
}

func chunk(a []int16) [][]int16 {
	var out [][]int16
	for i := 0; i < len(a); i += 160 {
		out = append(out, a[i:min(i+160, len(a))])
	}
	return out
}

func TestGrammarErrors(t *testing.T) {
	e := newEngine(t, Config{Decoders: 1})
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.gram")
	os.WriteFile(bad, []byte("#JSGF V1.0;\ngrammar bad;\npublic <a> = sales | (support;\n"), 0o644)
	unknown := filepath.Join(dir, "unknown.gram")
	os.WriteFile(unknown, []byte("#JSGF V1.0;\ngrammar u;\npublic <a> = sales | xyzzyplugh;\n"), 0o644)
	r := speech.NewRecognizer(context.Background(), e, speech.Options{GrammarDir: dir, Logger: quietLog()})
	defer r.Close()
	err := r.LoadGrammarRef("bad", "bad.gram")
	if !errors.Is(err, jsgf.ErrSyntax) || !strings.Contains(err.Error(), "bad.gram:3:") {
		t.Errorf("syntax error: %v", err)
	}
	if err := r.LoadGrammarRef("u", "unknown.gram"); !errors.Is(err, speech.ErrUnknownWord) || !strings.Contains(err.Error(), "xyzzyplugh") {
		t.Errorf("unknown word: %v", err)
	}
	if err := r.LoadGrammarRef("missing", "nope.gram"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
	if err := r.Start(); !errors.Is(err, speech.ErrNoActiveGrammar) {
		t.Errorf("start without grammar: %v", err)
	}
	if err := r.ActivateGrammar("bad"); !errors.Is(err, speech.ErrNoGrammar) {
		t.Errorf("activate unloaded: %v", err)
	}
	// Keyword and JSGF grammars cannot be active together.
	kw, _ := speech.Builtin("builtin:keywords?words=sales,support")
	_ = r.LoadGrammar("kw", kw)
	_ = r.LoadGrammar("yn", speech.YesNoGrammar())
	_ = r.ActivateGrammar("kw")
	_ = r.ActivateGrammar("yn")
	_, reason, err := r.Recognize(context.Background(), phone(make([]int16, 100), false, 0, 0))
	_ = reason
	if err != nil {
		t.Errorf("silence with mixed grammars: %v", err)
	}
}

// TestExtraDictAndOtherLanguages: Spanish menu words spelled with the en-us
// phones in an extra dictionary, recognised from the Spanish espeak voice
// (the recipe an operator follows until a Spanish model is installed).
func TestExtraDictAndOtherLanguages(t *testing.T) {
	dir := t.TempDir()
	dict := filepath.Join(dir, "es-extra.dict")
	os.WriteFile(dict, []byte("ventas B EH N T AA S\nventas(2) V EH N T AA S\nsoporte S OW P AO R T EY\nfacturacion F AA K T UW R AA S Y OW N\n"), 0o644)
	e := newEngine(t, Config{Decoders: 1, Models: []Model{{Language: "en", Dir: DebianModelDir, ExtraDict: []string{dict}}}})
	s := newSynth(t)
	var pc phraseCache
	g, err := speech.MenuGrammar([]string{"ventas", "soporte", "facturacion"})
	if err != nil {
		t.Fatal(err)
	}
	r := speech.NewRecognizer(context.Background(), e, speech.Options{Language: "es", Logger: quietLog()})
	defer r.Close()
	if err := r.LoadGrammar("menu", g); err != nil {
		t.Fatal(err) // es falls back to the default (en) model, which has the extra words
	}
	_ = r.ActivateGrammar("menu")
	ok := 0
	for _, w := range []struct{ say, want string }{{"ventas", "ventas"}, {"soporte", "soporte"}, {"facturación", "facturacion"}} {
		res, _, err := r.Recognize(context.Background(), phone(pc.get(t, s, w.say, "es", 150), false, 300, 800))
		if err != nil {
			t.Fatal(err)
		}
		if len(res) > 0 && res[0].Text == w.want {
			ok++
		} else {
			t.Logf("%s -> %+v", w.say, res)
		}
	}
	if ok < 2 {
		t.Errorf("%d/3 Spanish words recognised", ok)
	}
}

func TestModelErrors(t *testing.T) {
	for _, m := range []Model{
		{Language: "en", Dir: "/nonexistent"},
		{Language: "", Dir: DebianModelDir},
		{Language: "xx", Dir: t.TempDir()},
	} {
		if _, err := New(Config{Models: []Model{m}, Logger: quietLog()}); !errors.Is(err, speech.ErrNoModel) {
			t.Errorf("model %+v: %v", m, err)
		}
	}
}

func TestKeywordSpotting(t *testing.T) {
	e := newEngine(t, Config{Decoders: 1})
	s := newSynth(t)
	var pc phraseCache
	kw, err := speech.KeywordGrammar("test", []speech.Keyword{{Phrase: "support", Threshold: 1e-40}, {Phrase: "operator", Threshold: 1e-10}})
	if err != nil {
		t.Fatal(err)
	}
	// Keyword spotting is for a keyword inside a longer sentence.
	res, reason, err := recognize(t, e, phone(pc.get(t, s, "I would like to talk to support please", "en-us", 150), false, 300, 900),
		map[string]*speech.Grammar{"kw": kw})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("keyword spotting: %+v %v", res, reason)
	found := false
	for _, r := range res {
		found = found || (r.Text == "support" && r.Grammar == "kw")
	}
	if !found {
		t.Errorf("support not spotted: %+v", res)
	}
}

func TestClose(t *testing.T) {
	e := newEngine(t, Config{Decoders: 2})
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	_, err := e.Decode(context.Background(), speech.Utterance{Language: "en", Grammars: []speech.ActiveGrammar{{Name: "y", Grammar: speech.YesNoGrammar()}}, Audio: make([]int16, 800)})
	if !errors.Is(err, speech.ErrClosed) {
		t.Errorf("decode after close: %v", err)
	}
	if err := e.CheckGrammar(speech.YesNoGrammar(), "en"); !errors.Is(err, speech.ErrClosed) {
		t.Errorf("check after close: %v", err)
	}
}

// TestIndependentOfPreviousUtterances: a pooled decoder serves many
// callers; a result must not depend on what it decoded before.
func TestIndependentOfPreviousUtterances(t *testing.T) {
	s := newSynth(t)
	var pc phraseCache
	g := map[string]*speech.Grammar{"menu": menuGrammar(t)}
	target := phone(pc.get(t, s, "sales", "en-us+f2", 170), false, 300, 800)
	fresh := newEngine(t, Config{Decoders: 1})
	want, _, err := recognize(t, fresh, target, g)
	if err != nil || len(want) == 0 {
		t.Fatalf("fresh decoder: %+v %v", want, err)
	}
	used := newEngine(t, Config{Decoders: 1})
	loud := phone(pc.get(t, s, "two", "en-us+m3", 130), false, 300, 800)
	for i := range loud {
		loud[i] = int16(max(-32768, min(32767, int(loud[i])*3)))
	}
	for range 3 {
		_, _, _ = recognize(t, used, loud, g)
	}
	got, _, err := recognize(t, used, target, g)
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("after other audio: %+v, fresh decoder: %+v (%v)", got, want, err)
	}
}

// BenchmarkDecodeMenu decodes one menu word (with 0.3 s of silence each
// side) per iteration and reports the real-time factor.
func BenchmarkDecodeMenu(b *testing.B) {
	e := newEngine(b, Config{Decoders: 1})
	s := newSynth(b)
	var pc phraseCache
	g := []speech.ActiveGrammar{{Name: "menu", Grammar: menuGrammar(b)}}
	audio := phone(pc.get(b, s, "support", "en-us", 160), false, 300, 300)
	b.ResetTimer()
	for range b.N {
		if _, err := e.Decode(context.Background(), speech.Utterance{Language: "en", Grammars: g, Audio: audio}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(b.Elapsed().Seconds()/float64(b.N)/(float64(len(audio))/8000), "rtf")
}
