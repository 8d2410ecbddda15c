//go:build pocketsphinx

package e2e

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/entvoice/entvoice/internal/cdr"
	"github.com/entvoice/entvoice/internal/media"
	"github.com/entvoice/entvoice/internal/prompts"
	"github.com/entvoice/entvoice/internal/provision"
	"github.com/entvoice/entvoice/internal/provision/memfeed"
	"github.com/entvoice/entvoice/internal/speech"
	"github.com/entvoice/entvoice/internal/speech/pocketsphinx"
	"github.com/entvoice/entvoice/internal/testpeer"
	"github.com/entvoice/entvoice/internal/tts"
)

// Speech recognition in real calls: a sipgo phone calls a real node and
// speaks espeak-ng phrases (8 kHz, G.711 on the wire) into
// SpeechBackground, AGI SPEECH RECOGNIZE and the demo IVR; the node runs
// the real pocketsphinx engine. Built with the pocketsphinx tag
// (scripts/test.sh).

const speechResult = `Set(CDR(userfield)=${SPEECH(results)}|${SPEECH_TEXT(0)}|${SPEECH_GRAMMAR(0)}|${SPEECH_SCORE(0)}|${SPEECH(spoke)})`

const speechPlan = `[globals]
G130=builtin:menu?words=sales,support,billing,operator,one,two,three
G131=builtin:yesno
G132=builtin:digits?length=1

[speech]
exten => _10X,1,Answer()
 same => n,SpeechCreate()
 same => n,GotoIf($["${ERROR}" = "1"]?noengine)
 same => n,SpeechLoadGrammar(menu,builtin:menu?words=sales,support,billing,operator,two)
 same => n,SpeechActivateGrammar(menu)
 same => n,GotoIf($["${EXTEN}" = "101"]?long)
 same => n,GotoIf($["${EXTEN}" = "102"]?short)
 same => n,SpeechBackground(beep,8)
 same => n,` + speechResult + `
 same => n,Hangup()
 same => n(long),SpeechBackground(hello-world&vm-press&digits/1&vm-press&digits/2&vm-press&digits/3,8)
 same => n,` + speechResult + `
 same => n,Hangup()
 same => n(short),SpeechBackground(beep,2)
 same => n,` + speechResult + `
 same => n,Hangup()
 same => n(noengine),Set(CDR(userfield)=ERROR=${ERROR})
 same => n,Hangup()
exten => _13X,1,Answer()
 same => n,SpeechCreate()
 same => n,SpeechLoadGrammar(g,${G${EXTEN}})
 same => n,SpeechActivateGrammar(g)
 same => n,SpeechBackground(beep,8)
 same => n,` + speechResult + `
 same => n,Hangup()
exten => _11X,1,Goto(speecherr,${EXTEN},1)
exten => 140,1,Goto(speechagi,140,1)
exten => 120,1,SayText(sales)
 same => n,Set(CDR(userfield)=${SAYTEXTSTATUS})
 same => n,Wait(0.5)
 same => n,Hangup()
exten => 121,1,Answer()
 same => n,Set(CHANNEL(language)=de)
 same => n,SayNumber(21)
 same => n,Hangup()
exten => 122,1,SayText(hello,,1000)
 same => n,Set(CDR(userfield)=${SAYTEXTSTATUS})
 same => n,Hangup()

[speecherr]
exten => 110,1,Answer()
 same => n,SpeechCreate(pocketsphinx)
 same => n,SpeechLoadGrammar(bad,bad.gram)
 same => n,Set(CDR(userfield)=loaded)
 same => n,Hangup()
exten => 111,1,Answer()
 same => n,SpeechCreate()
 same => n,SpeechLoadGrammar(words,builtin:menu?words=xyzzyplugh)
 same => n,Set(CDR(userfield)=loaded)
 same => n,Hangup()
exten => 112,1,Answer()
 same => n,Set(CDR(userfield)=start)
 same => n,SpeechCreate()
 same => n,SpeechLoadGrammar(menu,builtin:menu?words=sales,support)
 same => n,SpeechActivateGrammar(menu)
 same => n,SpeechBackground(beep,8)
 same => n,Set(CDR(userfield)=after)
exten => h,1,Set(CDR(userfield)=${CDR(userfield)}:h:${SPEECH(status)})
`

// speechNode starts a node for the speech tests; extra is YAML under
// speech:, plan more dialplan.
func speechNode(t *testing.T, extra string, plan ...string) *testNode {
	t.Helper()
	if _, err := os.Stat("/usr/share/asterisk/sounds"); err != nil {
		t.Skip("Asterisk sounds not installed")
	}
	if !pocketsphinx.Available {
		t.Skip("built without the engine")
	}
	yaml := `users:
  - {name: "1001", secret: pass1001, context: speech}
shutdown: {grace: 1s}
speech:
  decoders: 1
` + extra
	return startNode(t, nodeSpec{yaml: yaml, dialplan: speechPlan + strings.Join(plan, "\n")})
}

// synth speaks text with espeak-ng at 8 kHz.
func synth(t *testing.T, text, voice string, rate int) []int16 {
	t.Helper()
	s, err := tts.New(tts.Config{CacheDir: filepath.Join(os.TempDir(), "entvoice-e2e-tts"), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Skip(err)
	}
	defer s.Close()
	p, err := s.Speak(context.Background(), tts.Request{Text: text, Voice: voice, Rate: rate})
	if err != nil {
		t.Fatal(err)
	}
	return p.PCM
}

// speechCall dials exten, waits, speaks pcm (nil: stays silent) and
// returns the call's CDR once the node hung up.
func speechCall(t *testing.T, n *testNode, exten string, wait time.Duration, pcm []int16) cdr.Record {
	t.Helper()
	before := len(n.cdrs(t, 0))
	_, c := dialTone(t, n, exten, 0)
	time.Sleep(wait)
	if pcm != nil {
		c.say(pcm)
	}
	return lastCDR(t, n, before)
}

// lastCDR waits for the node to go idle and returns the newest CDR of
// more than before.
func lastCDR(t *testing.T, n *testNode, before int) cdr.Record {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for n.Channels.Count() > 0 || n.PBX.Active() > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("call still up after 30 s: a stuck channel")
		}
		time.Sleep(20 * time.Millisecond)
	}
	rows := n.cdrs(t, before+1)
	if len(rows) <= before {
		t.Fatalf("no new CDR (have %d)", len(rows))
	}
	newest := rows[0]
	for _, r := range rows {
		if r.Start.After(newest.Start) {
			newest = r
		}
	}
	return newest
}

type phrase struct {
	text, voice string
	rate        int
}

// TestSpeechBackgroundRecognizesCaller: menu words spoken by several
// voices at several speeds into SpeechBackground are recognised; the test
// asserts a floor, not perfection (docs/speech.md has the accuracy table).
func TestSpeechBackgroundRecognizesCaller(t *testing.T) {
	n := speechNode(t, "")
	phrases := []phrase{
		{"sales", "en-us", 150}, {"support", "en-us+f2", 170}, {"two", "en-gb", 140},
		{"billing", "en-us+m3", 160}, {"operator", "en-us", 190}, {"sales", "en-us+f4", 130},
	}
	right := 0
	for _, p := range phrases {
		pcm := append(synth(t, p.text, p.voice, p.rate), make([]int16, 8000)...)
		r := speechCall(t, n, "100", 800*time.Millisecond, pcm)
		want := fmt.Sprintf("1|%s|menu|", p.text)
		ok := strings.HasPrefix(r.UserField, want) && strings.HasSuffix(r.UserField, "|1")
		t.Logf("%-9s %-9s %d wpm: %q ok=%v", p.text, p.voice, p.rate, r.UserField, ok)
		if ok {
			right++
		}
		if !strings.HasSuffix(r.UserField, "|1") {
			t.Errorf("%s: SPEECH(spoke) is not 1: %q", p.text, r.UserField)
		}
	}
	if right < len(phrases)-1 {
		t.Errorf("recognised %d of %d phrases, floor %d", right, len(phrases), len(phrases)-1)
	}
}

// TestSpeechBargeIn: speaking during a long prompt stops it, and the
// answer is recognised.
func TestSpeechBargeIn(t *testing.T) {
	n := speechNode(t, "")
	lib := prompts.NewLibrary("/usr/share/asterisk/sounds")
	full := 0
	for _, name := range []string{"hello-world", "vm-press", "digits/1", "vm-press", "digits/2", "vm-press", "digits/3"} {
		path, ok := lib.Find(name, "en")
		if !ok {
			t.Skipf("sound %s missing", name)
		}
		pcm, err := media.LoadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		full += len(pcm)
	}
	before := len(n.cdrs(t, 0))
	p, c := dialTone(t, n, "101", 0)
	time.Sleep(time.Second)
	c.say(append(synth(t, "support", "en-us", 150), make([]int16, 8000)...))
	r := lastCDR(t, n, before)
	if !strings.HasPrefix(r.UserField, "1|support|menu|") {
		t.Errorf("userfield %q, want support recognised", r.UserField)
	}
	// The prompt stopped at the barge-in: the phone heard about 1.3 s of
	// it (speech start is declared within 300 ms), not all of it.
	heard := float64(p.heardSamples()) / 8000
	if limit := float64(full)/8000 - 1; heard > min(2.5, limit) {
		t.Errorf("heard %.1f s of a %.1f s prompt: barge-in did not stop it", heard, float64(full)/8000)
	}
}

// TestSpeechDTMF: a caller who presses keys instead of speaking gets a
// result of grammar "dtmf" with score 1000, '#' ending the input.
func TestSpeechDTMF(t *testing.T) {
	n := speechNode(t, "")
	before := len(n.cdrs(t, 0))
	_, c := dialTone(t, n, "101", 0)
	time.Sleep(700 * time.Millisecond)
	if err := c.sendDigits(context.Background(), "42#"); err != nil {
		t.Fatal(err)
	}
	r := lastCDR(t, n, before)
	if r.UserField != "1|42|dtmf|1000|0" {
		t.Errorf("userfield %q, want 1|42|dtmf|1000|0", r.UserField)
	}
}

// TestSpeechSilenceAndNoise: silence and white noise give no result once
// the timeout after the prompt has passed, and the call goes on.
func TestSpeechSilenceAndNoise(t *testing.T) {
	n := speechNode(t, "")
	r := speechCall(t, n, "102", 0, nil)
	if r.UserField != "0||||0" {
		t.Errorf("silence: userfield %q, want 0||||0", r.UserField)
	}
	noise := make([]int16, 4*8000)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range noise {
		noise[i] = int16(rng.NormFloat64() * 2000)
	}
	r = speechCall(t, n, "102", 300*time.Millisecond, noise)
	if r.UserField != "0||||0" {
		t.Errorf("noise: userfield %q, want 0||||0", r.UserField)
	}
}

// TestSpeechHangupMidRecognition: a caller who hangs up while speaking
// ends the call at once; the speech object is gone in h.
func TestSpeechHangupMidRecognition(t *testing.T) {
	n := speechNode(t, "")
	before := len(n.cdrs(t, 0))
	_, c := dialTone(t, n, "112", 0)
	time.Sleep(700 * time.Millisecond)
	c.say(synth(t, "sales and support and billing", "en-us", 120))
	time.Sleep(600 * time.Millisecond)
	start := time.Now()
	c.hangup(context.Background())
	r := lastCDR(t, n, before)
	if took := time.Since(start); took > 3*time.Second {
		t.Errorf("the node took %v to finish the call after the hangup", took)
	}
	if r.UserField != "start:h:0" {
		t.Errorf("userfield %q, want start:h:0 (SpeechBackground ended by the hangup, object destroyed)", r.UserField)
	}
}

// TestSpeechGrammarErrors: a grammar file with a syntax error and a word
// the model lacks fail at SpeechLoadGrammar, which ends the call as
// Asterisk's -1 does; nothing hangs.
func TestSpeechGrammarErrors(t *testing.T) {
	n := speechNode(t, "")
	bad := "#JSGF V1.0;\ngrammar bad;\npublic <x> = ( sales | support ;\n"
	if err := os.WriteFile(filepath.Join(n.cfg.Speech.GrammarDir, "bad.gram"), []byte(bad), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, exten := range []string{"110", "111"} {
		r := speechCall(t, n, exten, 0, nil)
		if r.UserField != ":h:1" || r.LastApp != "SpeechLoadGrammar" {
			t.Errorf("%s: userfield %q lastapp %q, want the call ended in SpeechLoadGrammar", exten, r.UserField, r.LastApp)
		}
	}
	// The error the log shows names the file and line.
	_, err := speech.LoadGrammarFile(filepath.Join(n.cfg.Speech.GrammarDir, "bad.gram"))
	if err == nil || !strings.Contains(err.Error(), "bad.gram:3:") {
		t.Errorf("grammar error %v does not name bad.gram:3", err)
	}
}

// TestSpeechMissingModel: a model directory that does not exist leaves
// the node running with the engine unavailable: SpeechCreate sets ERROR=1.
func TestSpeechMissingModel(t *testing.T) {
	n := speechNode(t, "  models: [{language: en, dir: /nonexistent/model}]\n")
	r := speechCall(t, n, "100", 0, nil)
	if r.UserField != "ERROR=1" {
		t.Errorf("userfield %q, want ERROR=1", r.UserField)
	}
}

// TestSpeechMoreRecognitionsThanDecoders: four callers finish speaking at
// the same moment on a node with one decoder and a 1 ms queue timeout;
// those that find no decoder end without a result, none is stuck.
func TestSpeechMoreRecognitionsThanDecoders(t *testing.T) {
	n := speechNode(t, "  queue_timeout: 1ms\n")
	pcm := append(synth(t, "sales", "en-us", 150), make([]int16, 8000)...)
	const callers = 4
	before := len(n.cdrs(t, 0))
	var wg sync.WaitGroup
	calls := make([]*call, callers)
	for i := range callers {
		_, calls[i] = dialTone(t, n, "100", 0)
	}
	time.Sleep(800 * time.Millisecond)
	for _, c := range calls {
		wg.Go(func() { c.say(pcm) })
	}
	wg.Wait()
	lastCDR(t, n, before)
	rows := n.cdrs(t, before+callers)
	if len(rows)-before != callers {
		t.Fatalf("%d CDRs, want %d", len(rows)-before, callers)
	}
	got := 0
	for _, r := range rows {
		switch {
		case strings.HasPrefix(r.UserField, "1|sales|menu|"):
			got++
		case r.UserField == "0||||1":
			// spoke, no decoder within the queue timeout
		default:
			t.Errorf("userfield %q", r.UserField)
		}
	}
	if got == 0 {
		t.Error("no caller was recognised")
	}
	t.Logf("%d of %d recognised with one decoder", got, callers)
}

// TestSayTextRecognisedBack: what SayText speaks is recognised back by the
// engine from the audio the caller heard, and has speech's level and
// length; a rate out of range fails with SAYTEXTSTATUS=FAILED.
func TestSayTextRecognisedBack(t *testing.T) {
	n := speechNode(t, "")
	before := len(n.cdrs(t, 0))
	p, _ := dialTone(t, n, "120", 0)
	r := lastCDR(t, n, before)
	if r.UserField != "SUCCESS" {
		t.Errorf("SAYTEXTSTATUS %q", r.UserField)
	}
	heard := p.heardPCM()
	if secs := float64(len(heard)) / 8000; secs < 0.3 || secs > 3 {
		t.Errorf("heard %.2f s, want about a word and the wait", secs)
	}
	if rms := testpeer.RMS(heard); rms < 300 {
		t.Errorf("heard RMS %.0f: no speech", rms)
	}
	eng, err := pocketsphinx.New(pocketsphinx.Config{Decoders: 1, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	rec := speech.NewRecognizer(context.Background(), eng, speech.Options{Logger: slog.New(slog.DiscardHandler)})
	defer rec.Close()
	if err := rec.LoadGrammarRef("m", "builtin:menu?words=sales,support,billing"); err != nil {
		t.Fatal(err)
	}
	_ = rec.ActivateGrammar("m")
	res, _, err := rec.Recognize(context.Background(), append(append(make([]int16, 2400), heard...), make([]int16, 8000)...))
	if err != nil || len(res) == 0 || res[0].Text != "sales" {
		t.Errorf("SayText(sales) recognised back as %+v (%v)", res, err)
	}

	r = speechCall(t, n, "122", 0, nil)
	if r.UserField != "FAILED" {
		t.Errorf("bad rate: SAYTEXTSTATUS %q, want FAILED", r.UserField)
	}
}

// TestSayNumberGermanThroughTTS: SayNumber on a German channel, with no
// German prompts installed, plays espeak-ng's "einundzwanzig" from the
// TTS cache instead of English recordings.
func TestSayNumberGermanThroughTTS(t *testing.T) {
	n := speechNode(t, "")
	before := len(n.cdrs(t, 0))
	p, _ := dialTone(t, n, "121", 0)
	lastCDR(t, n, before)
	heard := p.heardPCM()
	want := synth(t, "21", "de", 150)
	if d := float64(len(heard)-len(want)) / 8000; d < -0.3 || d > 0.6 {
		t.Errorf("heard %.2f s, TTS of 21 in German is %.2f s", float64(len(heard))/8000, float64(len(want))/8000)
	}
	if rms := testpeer.RMS(heard); rms < 300 {
		t.Errorf("heard RMS %.0f: no speech", rms)
	}
	files, _ := filepath.Glob(filepath.Join(n.cfg.Speech.TTS.CacheDir, "*", "*.wav"))
	if len(files) == 0 {
		t.Error("nothing in the TTS cache")
	}
}

// TestSpeechStoredGrammarPerTenant: a grammar a tenant keeps in the store
// reaches the node through the realtime feed and is loaded by name in the
// tenant's calls; another tenant cannot load it, nor a file outside
// speech.grammar_dir; deleting it takes it away.
func TestSpeechStoredGrammarPerTenant(t *testing.T) {
	if !pocketsphinx.Available {
		t.Skip("built without the engine")
	}
	src := memfeed.New()
	steps := []struct{ app, data string }{
		{"Answer", ""}, {"SpeechCreate", ""}, {"SpeechLoadGrammar", "m,${IF($[${EXTEN} = 2200]?menu:/etc/passwd)}"},
		{"SpeechActivateGrammar", "m"}, {"SpeechBackground", "beep,6"},
		{"Set", "CDR(userfield)=${SPEECH(results)}|${SPEECH_TEXT(0)}|${SPEECH_GRAMMAR(0)}"},
	}
	for _, tn := range []string{"acme", "beta"} {
		src.PutTenant(provision.Tenant{ID: tn, Name: tn, Domain: tn + ".example", Status: "active"})
		src.PutUser(tenantUser(tn, tn+".example", "1001", tn+"-1001"))
		for i, st := range steps {
			src.PutExtension(provision.Extension{Tenant: tn, Context: "internal", Exten: "_220X", Priority: i + 1, App: st.app, AppData: st.data})
		}
	}
	src.PutGrammar(provision.Grammar{Tenant: "acme", Name: "menu", Body: "#JSGF V1.0;\ngrammar menu;\npublic <m> = sales | support | billing;\n"})
	n := startNode(t, nodeSpec{yaml: "speech: {decoders: 1}\nshutdown: {grace: 1s}\n", dialplan: hostedStaticPlan, source: src})
	pcm := append(synth(t, "support", "en-us", 150), make([]int16, 8000)...)
	call := func(tenant, exten string) cdr.Record {
		t.Helper()
		before := len(n.cdrs(t, 0))
		p := n.phone(t, "1001", tenant+"-1001", testpeer.PCMU, 0)
		p.domain = tenant + ".example"
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		c, code, err := p.dial(ctx, exten)
		if err != nil || code != 200 {
			t.Fatalf("dial: %d %v", code, err)
		}
		time.Sleep(800 * time.Millisecond)
		c.say(pcm)
		return lastCDR(t, n, before)
	}
	if r := call("acme", "2200"); r.UserField != "1|support|m" {
		t.Errorf("acme with its stored grammar: userfield %q, want 1|support|m", r.UserField)
	}
	for _, c := range []struct{ tenant, exten, why string }{
		{"beta", "2200", "another tenant's grammar"},
		{"acme", "2201", "a file outside grammar_dir"},
	} {
		if r := call(c.tenant, c.exten); r.UserField != "" || r.LastApp != "SpeechLoadGrammar" {
			t.Errorf("%s: userfield %q lastapp %q, want the call ended at SpeechLoadGrammar", c.why, r.UserField, r.LastApp)
		}
	}
	rev := src.DeleteGrammar("acme", "menu")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := n.WaitRevision(ctx, rev); err != nil {
		t.Fatal(err)
	}
	if r := call("acme", "2200"); r.LastApp != "SpeechLoadGrammar" {
		t.Errorf("deleted grammar still loads: userfield %q lastapp %q", r.UserField, r.LastApp)
	}
}

// TestSpeechAccuracyOverCalls measures accuracy per grammar through real
// calls (G.711 on the wire, the node's endpointer and engine), several
// espeak-ng voices and speeds, callers in parallel; it asserts the floors
// of the engine's own accuracy test. It takes minutes: run it with
// ENTVOICE_SPEECH_ACCURACY=1 (docs/speech.md has its last table).
func TestSpeechAccuracyOverCalls(t *testing.T) {
	if os.Getenv("ENTVOICE_SPEECH_ACCURACY") == "" {
		t.Skip("set ENTVOICE_SPEECH_ACCURACY=1 to measure")
	}
	n := speechNode(t, "")
	grammars := []struct {
		name, exten string
		words       []string
		floor       float64
	}{
		{"menu", "130", []string{"sales", "support", "billing", "operator", "one", "two", "three"}, 0.85},
		{"yesno", "131", []string{"yes", "no"}, 0.9},
		{"digit", "132", []string{"zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"}, 0.65},
	}
	voices := []string{"en-us", "en-us+m3", "en-us+f2", "en-us+f4", "en-gb"}
	rates := []int{130, 160, 200}
	var table strings.Builder
	fmt.Fprintf(&table, "\n%-6s %-9s %8s %8s %8s %8s\n", "gram", "voice", "130", "160", "200", "all")
	for _, g := range grammars {
		total, right := 0, 0
		byRate := map[int][2]int{}
		for _, v := range voices {
			fmt.Fprintf(&table, "%-6s %-9s", g.name, v)
			vr, vt := 0, 0
			for _, rate := range rates {
				ids := make([]string, len(g.words)) // uniqueid of each word's call
				var wg sync.WaitGroup
				before := len(n.cdrs(t, 0))
				for i, w := range g.words {
					pcm := append(synth(t, w, v, rate), make([]int16, 8000)...)
					seen := map[string]bool{}
					for _, ch := range n.Channels.List() {
						seen[ch.UniqueID] = true
					}
					_, c := dialTone(t, n, g.exten, 0)
					for _, ch := range n.Channels.List() {
						if !seen[ch.UniqueID] {
							ids[i] = ch.UniqueID
						}
					}
					wg.Go(func() {
						time.Sleep(800 * time.Millisecond)
						c.say(pcm)
					})
				}
				wg.Wait()
				lastCDR(t, n, before)
				byID := map[string]string{}
				for _, r := range n.cdrs(t, before+len(g.words)) {
					byID[r.UniqueID] = r.UserField
				}
				ok := 0
				for i, w := range g.words {
					if strings.HasPrefix(byID[ids[i]], "1|"+w+"|g|") {
						ok++
					}
				}
				fmt.Fprintf(&table, " %5d/%-2d", ok, len(g.words))
				br := byRate[rate]
				byRate[rate] = [2]int{br[0] + ok, br[1] + len(g.words)}
				vr, vt = vr+ok, vt+len(g.words)
			}
			fmt.Fprintf(&table, " %5d/%d\n", vr, vt)
			right, total = right+vr, total+vt
		}
		fmt.Fprintf(&table, "%-6s %-9s", g.name, "ALL")
		for _, rate := range rates {
			fmt.Fprintf(&table, " %5d/%-2d", byRate[rate][0], byRate[rate][1])
		}
		pct := float64(right) / float64(total)
		fmt.Fprintf(&table, " %5d/%d (%.0f%%, floor %.0f%%)\n", right, total, 100*pct, 100*g.floor)
		if pct < g.floor {
			t.Errorf("%s: %.0f%% over calls, floor %.0f%%", g.name, 100*pct, 100*g.floor)
		}
	}
	t.Log(table.String())
}

// say queues pcm (8 kHz) for the call to send after what is queued, in
// 20 ms packets instead of its tone, as a caller's voice.
func (c *call) say(pcm []int16) {
	c.p.mu.Lock()
	c.p.speak = append(c.p.speak, pcm...)
	c.p.mu.Unlock()
}
