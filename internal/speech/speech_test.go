package speech

import (
	"context"
	"errors"
	"log/slog"
	"math"
	"math/rand"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/entvoice/entvoice/internal/speech/jsgf"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// fakeEngine answers every utterance with text (or blocks until ctx ends
// when block is set) and records what it was given.
type fakeEngine struct {
	name  string
	text  string
	block bool
	err   error

	mu    sync.Mutex
	utts  []Utterance
	words map[string]bool // nil: every word is known
}

func (f *fakeEngine) Name() string { return f.name }
func (f *fakeEngine) CheckGrammar(g *Grammar, lang string) error {
	for _, w := range g.Words() {
		if f.words != nil && !f.words[w] {
			return ErrUnknownWord
		}
	}
	return nil
}
func (f *fakeEngine) Decode(ctx context.Context, u Utterance) ([]Result, error) {
	f.mu.Lock()
	f.utts = append(f.utts, u)
	f.mu.Unlock()
	if f.block {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	if f.err != nil {
		return nil, f.err
	}
	if f.text == "" {
		return nil, nil
	}
	name := u.Grammars[0].Name
	for _, g := range u.Grammars {
		if g.Grammar.Match(f.text) {
			name = g.Name
			break
		}
	}
	return []Result{{Text: f.text, Score: 900, Grammar: name}}, nil
}
func (f *fakeEngine) Close() error { return nil }

func discard() *slog.Logger { return slog.New(slog.DiscardHandler) }

// voiced makes ms of a 140 Hz vowel-like sound (harmonics) at amp.
func voiced(ms int, amp float64) []int16 {
	n := ms * 8
	out := make([]int16, n)
	for i := range out {
		var v float64
		for h := 1; h <= 8; h++ {
			v += math.Sin(2*math.Pi*140*float64(h)*float64(i)/8000) / float64(h)
		}
		out[i] = int16(amp * v / 2)
	}
	return out
}

func silence(ms int) []int16 { return make([]int16, ms*8) }

func noise(ms int, amp float64, seed int64) []int16 {
	r := rand.New(rand.NewSource(seed))
	out := make([]int16, ms*8)
	for i := range out {
		out[i] = int16(r.NormFloat64() * amp)
	}
	return out
}

func concat(parts ...[]int16) []int16 {
	var out []int16
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

func newRec(t *testing.T, e Engine, ep EndpointConfig) *Recognizer {
	t.Helper()
	r := NewRecognizer(context.Background(), e, Options{Logger: discard(), Endpoint: ep})
	t.Cleanup(func() { _ = r.Close() })
	if err := r.LoadGrammar("menu", mustMenu(t, "sales", "support")); err != nil {
		t.Fatal(err)
	}
	if err := r.ActivateGrammar("menu"); err != nil {
		t.Fatal(err)
	}
	return r
}

func mustMenu(t *testing.T, words ...string) *Grammar {
	t.Helper()
	g, err := MenuGrammar(words)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// feed writes audio in 20 ms frames and returns the sample offsets (ms)
// of each event.
func feed(t *testing.T, r *Recognizer, audio []int16) map[Event]int {
	t.Helper()
	at := map[Event]int{}
	for i := 0; i < len(audio); i += 160 {
		ev, err := r.Write(audio[i:min(i+160, len(audio))])
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range []Event{EventSpeechStart, EventEndOfSpeech, EventNoInput} {
			if ev&e != 0 {
				if _, dup := at[e]; !dup {
					at[e] = i / 8
				}
			}
		}
	}
	return at
}

func TestRecognizerLifecycle(t *testing.T) {
	eng := &fakeEngine{name: "fake", text: "sales"}
	r := newRec(t, eng, EndpointConfig{EndSilence: 400 * time.Millisecond})
	if r.State() != StateNotReady {
		t.Fatalf("initial state %v", r.State())
	}
	if _, err := r.Write(silence(20)); !errors.Is(err, ErrState) {
		t.Fatalf("write before start: %v", err)
	}
	if err := r.Start(); err != nil {
		t.Fatal(err)
	}
	at := feed(t, r, concat(silence(600), voiced(500, 8000), silence(800)))
	if s, ok := at[EventSpeechStart]; !ok || s < 600 || s > 800 {
		t.Errorf("speech start at %v ms (events %v)", s, at)
	}
	if e, ok := at[EventEndOfSpeech]; !ok || e < 1100+380 || e > 1100+500 {
		t.Errorf("end of speech at %v ms, want about 400 ms after the speech (events %v)", e, at)
	}
	res, reason, err := r.Wait(context.Background())
	if err != nil || reason != ReasonSpeech || len(res) != 1 || res[0].Text != "sales" || res[0].Grammar != "menu" {
		t.Fatalf("results %+v %v %v", res, reason, err)
	}
	if !r.Spoke() || !r.Quiet() || r.State() != StateDone {
		t.Errorf("flags spoke=%v quiet=%v state=%v", r.Spoke(), r.Quiet(), r.State())
	}
	// The utterance has the pre-roll before the speech and a pre-roll's
	// worth of trailing silence: 300 + 500 + 300 ms, give or take a frame.
	u := eng.utts[0]
	if ms := len(u.Audio) / 8; ms < 1000 || ms > 1200 {
		t.Errorf("utterance of %d ms", ms)
	}
	if u.Language != "en" || len(u.Grammars) != 1 || u.Grammars[0].Name != "menu" {
		t.Errorf("utterance %+v", u.Grammars)
	}
	// Writes after the end are ignored; Start clears results and flags.
	if ev, err := r.Write(voiced(100, 8000)); ev != 0 || err != nil {
		t.Errorf("write when done: %v %v", ev, err)
	}
	if err := r.Start(); err != nil {
		t.Fatal(err)
	}
	if r.Spoke() || len(r.Results()) != 0 || r.State() != StateReady {
		t.Errorf("after restart: spoke=%v results=%v state=%v", r.Spoke(), r.Results(), r.State())
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if err := r.Start(); !errors.Is(err, ErrClosed) {
		t.Errorf("start after close: %v", err)
	}
}

func TestNoInputTimeoutStartsWithTimers(t *testing.T) {
	r := newRec(t, &fakeEngine{name: "fake"}, EndpointConfig{NoInputTimeout: time.Second})
	_ = r.Start()
	// 3 s of prompt time: no timeout before the input timers start.
	if at := feed(t, r, silence(3000)); len(at) != 0 {
		t.Fatalf("events during the prompt: %v", at)
	}
	r.StartInputTimers()
	at := feed(t, r, silence(2000))
	if ms, ok := at[EventNoInput]; !ok || ms < 980 || ms > 1020 {
		t.Fatalf("no-input at %v (events %v)", ms, at)
	}
	if reason, _ := r.Outcome(); reason != ReasonNoInput || r.State() != StateDone {
		t.Fatalf("outcome %v state %v", reason, r.State())
	}
}

func TestMaxSpeechAndNoMatch(t *testing.T) {
	eng := &fakeEngine{name: "fake"} // recognises nothing
	r := newRec(t, eng, EndpointConfig{MaxSpeech: time.Second})
	_ = r.Start()
	at := feed(t, r, concat(silence(400), voiced(3000, 6000)))
	if ms, ok := at[EventEndOfSpeech]; !ok || ms > 1600 {
		t.Fatalf("max speech: end at %v (events %v)", ms, at)
	}
	_, reason, _ := r.Wait(context.Background())
	if reason != ReasonNoMatch {
		t.Fatalf("reason %v", reason)
	}
}

func TestNoiseAndClicksDoNotBargeIn(t *testing.T) {
	r := newRec(t, &fakeEngine{name: "fake", text: "sales"}, EndpointConfig{})
	_ = r.Start()
	click := concat(silence(500), []int16{20000, -20000, 15000, -15000}, silence(500))
	hum := make([]int16, 8000)
	for i := range hum {
		hum[i] = int16(3000 * math.Sin(2*math.Pi*60*float64(i)/8000))
	}
	for name, a := range map[string][]int16{"white noise": noise(3000, 2000, 1), "click": click, "60 Hz hum": hum,
		"noise burst": concat(silence(500), noise(400, 6000, 2), silence(500))} {
		if at := feed(t, r, a); len(at) != 0 {
			t.Errorf("%s: events %v", name, at)
		}
	}
	// A voice over steady noise still starts.
	at := feed(t, r, concat(noise(500, 300, 3), voiced(400, 6000)))
	if _, ok := at[EventSpeechStart]; !ok {
		t.Errorf("voice over noise not detected: %v", at)
	}
}

func TestStopAndHangup(t *testing.T) {
	eng := &fakeEngine{name: "fake", block: true}
	ctx, hangup := context.WithCancel(context.Background())
	r := NewRecognizer(ctx, eng, Options{Logger: discard()})
	defer r.Close()
	_ = r.LoadGrammar("g", YesNoGrammar())
	_ = r.ActivateGrammar("g")
	_ = r.Start()
	feed(t, r, concat(silence(400), voiced(400, 8000), silence(800)))
	if r.State() != StateWait {
		t.Fatalf("state %v", r.State())
	}
	hangup()
	_, reason, err := r.Wait(context.Background())
	if reason != ReasonCancelled || !errors.Is(err, context.Canceled) {
		t.Fatalf("after hangup: %v %v", reason, err)
	}
	// Stop during a decode.
	r2 := newRec(t, &fakeEngine{name: "fake", block: true}, EndpointConfig{})
	_ = r2.Start()
	feed(t, r2, concat(silence(400), voiced(400, 8000), silence(800)))
	r2.Stop()
	if reason, _ := r2.Outcome(); reason != ReasonCancelled || r2.State() != StateDone {
		t.Fatalf("after stop: %v %v", reason, r2.State())
	}
}

// A hangup while the recognizer waits for speech (no more frames come)
// ends the recognition at once.
func TestHangupWhileListening(t *testing.T) {
	ctx, hangup := context.WithCancel(context.Background())
	r := NewRecognizer(ctx, &fakeEngine{name: "fake"}, Options{Logger: discard()})
	defer r.Close()
	_ = r.LoadGrammar("g", YesNoGrammar())
	_ = r.ActivateGrammar("g")
	_ = r.Start()
	feed(t, r, silence(300))
	hangup()
	select {
	case <-r.Done():
	case <-time.After(2 * time.Second):
		t.Fatal("recognition still running after hangup")
	}
	if reason, err := r.Outcome(); reason != ReasonCancelled || !errors.Is(err, context.Canceled) {
		t.Fatalf("%v %v", reason, err)
	}
	if _, err := r.Write(silence(20)); err != nil {
		t.Fatalf("write after hangup: %v", err)
	}
}

func TestEngineErrorIsReported(t *testing.T) {
	r := newRec(t, &fakeEngine{name: "fake", err: ErrBusy}, EndpointConfig{})
	res, reason, err := r.Recognize(context.Background(), concat(silence(400), voiced(400, 8000), silence(800)))
	if len(res) != 0 || reason != ReasonError || !errors.Is(err, ErrBusy) {
		t.Fatalf("%v %v %v", res, reason, err)
	}
}

func TestGrammarManagement(t *testing.T) {
	eng := &fakeEngine{name: "fake", words: map[string]bool{"yes": true, "no": true, "sales": true}}
	r := NewRecognizer(context.Background(), eng, Options{Logger: discard()})
	defer r.Close()
	if err := r.LoadGrammar("yn", YesNoGrammar()); err != nil {
		t.Fatal(err)
	}
	if err := r.LoadGrammar("bad", mustMenu(t, "sales", "unknownword")); !errors.Is(err, ErrUnknownWord) {
		t.Fatalf("unknown word: %v", err)
	}
	if err := r.ActivateGrammar("nope"); !errors.Is(err, ErrNoGrammar) {
		t.Fatal(err)
	}
	_ = r.LoadGrammar("m", mustMenu(t, "sales"))
	_ = r.ActivateGrammar("m")
	_ = r.ActivateGrammar("yn")
	_ = r.ActivateGrammar("m")
	loaded, active := r.Grammars()
	if !reflect.DeepEqual(loaded, []string{"m", "yn"}) || !reflect.DeepEqual(active, []string{"m", "yn"}) {
		t.Fatalf("grammars %v %v", loaded, active)
	}
	if err := r.DeactivateGrammar("m"); err != nil {
		t.Fatal(err)
	}
	if err := r.DeactivateGrammar("m"); !errors.Is(err, ErrNoGrammar) {
		t.Fatal(err)
	}
	_ = r.ActivateGrammar("m")
	if err := r.UnloadGrammar("m"); err != nil {
		t.Fatal(err)
	}
	if _, active := r.Grammars(); !reflect.DeepEqual(active, []string{"yn"}) {
		t.Fatalf("unload did not deactivate: %v", active)
	}
	if err := r.UnloadGrammar("m"); !errors.Is(err, ErrNoGrammar) {
		t.Fatal(err)
	}
}

func TestSettings(t *testing.T) {
	r := NewRecognizer(context.Background(), &fakeEngine{name: "fake"}, Options{Logger: discard()})
	defer r.Close()
	for k, v := range map[string]string{SettingEndSilence: "800", SettingNoInputTimeout: "5000", SettingLanguage: "es",
		SettingMarginDB: "15", SettingMaxSpeech: "20000", SettingMinSpeech: "60", SettingPreRoll: "200"} {
		if err := r.Set(k, v); err != nil {
			t.Fatalf("Set(%s): %v", k, err)
		}
		if got, err := r.Get(k); err != nil || got != v {
			t.Errorf("Get(%s) = %q, %v", k, got, err)
		}
	}
	if r.Language() != "es" {
		t.Error("language not set")
	}
	for k, v := range map[string]string{"bogus": "1", SettingEndSilence: "-1", SettingMaxSpeech: "x", SettingMarginDB: "0", SettingLanguage: ""} {
		if err := r.Set(k, v); err == nil {
			t.Errorf("Set(%s, %q) accepted", k, v)
		}
	}
	if _, err := r.Get("bogus"); !errors.Is(err, ErrUnknownSetting) {
		t.Error(err)
	}
}

func TestRegistry(t *testing.T) {
	reg := NewRegistry()
	if _, err := reg.Get(""); !errors.Is(err, ErrNoEngine) {
		t.Fatal(err)
	}
	if err := reg.RegisterUnavailable("pocketsphinx", errors.New("built without it")); err != nil {
		t.Fatal(err)
	}
	if _, err := reg.Get(""); !errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), "built without it") {
		t.Fatalf("default with only an unavailable engine: %v", err)
	}
	a, b := &fakeEngine{name: "A"}, &fakeEngine{name: "b"}
	_ = reg.Register(a)
	_ = reg.Register(b)
	if err := reg.Register(&fakeEngine{name: "a"}); err == nil {
		t.Fatal("duplicate accepted")
	}
	if e, err := reg.Get(""); err != nil || e != a {
		t.Fatalf("default = %v, %v (the first registered)", e, err)
	}
	if e, err := reg.Get("B"); err != nil || e != b {
		t.Fatalf("Get(B) = %v, %v", e, err)
	}
	if _, err := reg.Get("PocketSphinx"); !errors.Is(err, ErrUnavailable) {
		t.Fatal(err)
	}
	if _, err := reg.Get("lumenvox"); !errors.Is(err, ErrNoEngine) || !strings.Contains(err.Error(), "a, b, pocketsphinx") {
		t.Fatal(err)
	}
	if err := reg.SetDefault("b"); err != nil {
		t.Fatal(err)
	}
	if e, _ := reg.Get(""); e != b {
		t.Fatal("SetDefault ignored")
	}
	if err := reg.SetDefault("pocketsphinx"); !errors.Is(err, ErrUnavailable) {
		t.Fatal(err)
	}
	if err := reg.Close(); err != nil || len(reg.Names()) != 0 {
		t.Fatal(err)
	}
}

func TestBuiltins(t *testing.T) {
	for _, tc := range []struct {
		ref     string
		match   []string
		nomatch []string
		kind    GrammarKind
	}{
		{"builtin:digits", []string{"one", "one two zero nine", "zero"}, []string{"", "ten", "one ten", "oh"}, KindJSGF},
		{"builtin:digits?oh=1", []string{"one two oh nine"}, []string{"ten"}, KindJSGF},
		{"builtin:digits?length=3", []string{"one two three"}, []string{"one two", "one two three four"}, KindJSGF},
		{"builtin:grammar/digits?minlength=2;maxlength=3", []string{"one two", "one two three"}, []string{"one", "one two three four"}, KindJSGF},
		{"builtin:yesno", []string{"yes", "no"}, []string{"yes no", "maybe"}, KindJSGF},
		{"builtin:menu?words=sales,technical support,Two", []string{"sales", "technical support", "two"}, []string{"technical", "sales two"}, KindJSGF},
		{"builtin:keywords?words=sales,support&threshold=1e-30", []string{"sales", "support"}, []string{"two"}, KindKeywords},
	} {
		g, err := Builtin(tc.ref)
		if err != nil {
			t.Fatalf("%s: %v", tc.ref, err)
		}
		if g.Kind() != tc.kind {
			t.Errorf("%s: kind %v", tc.ref, g.Kind())
		}
		for _, s := range tc.match {
			if !g.Match(s) {
				t.Errorf("%s: %q not matched", tc.ref, s)
			}
		}
		for _, s := range tc.nomatch {
			if g.Match(s) {
				t.Errorf("%s: %q matched", tc.ref, s)
			}
		}
	}
	for _, bad := range []string{"builtin:nothing", "builtin:digits?length=0", "builtin:digits?minlength=3;maxlength=2",
		"builtin:menu", "builtin:menu?words=a(b", "builtin:keywords?words=x&threshold=2", "builtin:digits?length=%zz"} {
		if _, err := Builtin(bad); !errors.Is(err, ErrGrammar) {
			t.Errorf("%s: %v", bad, err)
		}
	}
	g, _ := Builtin("builtin:digits?length=4")
	if !reflect.DeepEqual(g.Words(), []string{"eight", "five", "four", "nine", "one", "seven", "six", "three", "two", "zero"}) {
		t.Errorf("digit words %v", g.Words())
	}
	a, _ := MenuGrammar([]string{"x", "y"})
	b, _ := MenuGrammar([]string{"x", "y"})
	c, _ := MenuGrammar([]string{"y", "x"})
	if a.Key() != b.Key() || a.Key() == c.Key() {
		t.Error("grammar keys do not follow the content")
	}
}

func TestGrammarFiles(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	write("menu.gram", "#JSGF V1.0;\ngrammar m;\npublic <m> = Sales | support;\n")
	g, err := OpenGrammar("menu.gram", dir)
	if err != nil || !g.Match("sales") || g.Source() != filepath.Join(dir, "menu.gram") {
		t.Fatalf("menu.gram: %v", err)
	}
	bad := write("bad.gram", "#JSGF V1.0;\ngrammar m;\n\npublic <m> = sales | | support;\n")
	_, err = LoadGrammarFile(bad)
	var pe *jsgf.Error
	if !errors.As(err, &pe) || pe.Line != 4 || !strings.Contains(err.Error(), bad+":4:") || !errors.Is(err, ErrGrammar) {
		t.Fatalf("syntax error: %v", err)
	}
	write("k.kws", "# keywords\nsales /1e-30/\n\ntechnical support\n")
	k, err := OpenGrammar(filepath.Join(dir, "k.kws"), "")
	if err != nil || k.Kind() != KindKeywords || k.KeywordFile() != "sales /1e-30/\ntechnical support /1e-20/\n" {
		t.Fatalf("kws: %v %q", err, k.KeywordFile())
	}
	write("bad.kws", "sales /x/\n")
	if _, err := OpenGrammar("bad.kws", dir); !errors.Is(err, ErrGrammar) || !strings.Contains(err.Error(), "bad.kws:1") {
		t.Fatalf("bad kws: %v", err)
	}
	write("big.gram", strings.Repeat("x", jsgf.MaxSize+1))
	if _, err := OpenGrammar("big.gram", dir); !errors.Is(err, ErrGrammar) {
		t.Fatalf("big: %v", err)
	}
	if _, err := OpenGrammar("", dir); !errors.Is(err, ErrGrammar) {
		t.Fatal(err)
	}
	if g, err := ParseJSGF("tenant:acme/menu", []byte("#JSGF V1.0;\ngrammar x;\npublic <a> = hola;")); err != nil || g.Source() != "tenant:acme/menu" {
		t.Fatal(err)
	}
}

func TestDigitText(t *testing.T) {
	for in, want := range map[string]string{"one two oh nine": "1209", "Zero": "0", "": "", "one ten": ""} {
		got, ok := DigitText(in)
		if got != want || ok != (want != "") {
			t.Errorf("DigitText(%q) = %q, %v", in, got, ok)
		}
	}
}

// BenchmarkRecognizerWrite is the per-frame cost of a recognizer outside
// decoding (endpointer, buffering): one 20 ms frame of speech-like audio.
func BenchmarkRecognizerWrite(b *testing.B) {
	r := NewRecognizer(context.Background(), &fakeEngine{name: "fake", text: "sales"}, Options{Logger: discard()})
	defer r.Close()
	g, _ := MenuGrammar([]string{"sales"})
	_ = r.LoadGrammar("m", g)
	_ = r.ActivateGrammar("m")
	_ = r.Start()
	// A caller: silence, half a second of voice, silence; restarted after
	// each end of speech.
	audio := concat(silence(1000), voiced(500, 6000), noise(1500, 100, 1))
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		off := (i * 160) % len(audio)
		ev, err := r.Write(audio[off : off+160])
		if err != nil {
			b.Fatal(err)
		}
		if ev&(EventEndOfSpeech|EventNoInput) != 0 {
			<-r.Done()
			_ = r.Start()
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/20e6, "cpu/realtime")
}
