package amd

import (
	"bytes"
	"fmt"
	"os/exec"
	"strings"
	"sync"
	"testing"

	"github.com/entvoice/entvoice/internal/media"
	"github.com/entvoice/entvoice/internal/media/mediatest"
)

// Greetings spoken by espeak-ng: a person answers with a word or two and
// waits; a machine plays a message of several seconds.
var (
	humanGreetings = []string{"Hello?", "Hello.", "Yes?", "Hi there.", "Speaking."}
	// A person who says more than maximum_number_of_words words is a
	// machine to app_amd.c's algorithm: reported apart, with no floor.
	longHumanGreetings = []string{"Hello, who is calling?"}

	machineGreetings = []string{
		"Hi, you have reached the voicemail of John Smith. I can't take your call right now. Please leave a message after the tone.",
		"Thank you for calling Acme Insurance. Our office is currently closed. Our business hours are Monday to Friday, nine to five.",
		"The person you are trying to reach is not available. Please leave your name and number and we will call you back.",
		"Hello, this is Maria. Sorry I missed your call. Leave a message and I will get back to you as soon as I can.",
	}

	voices = []string{"en-us", "en", "en+f3", "en-us+m3"}
	speeds = []int{140, 175, 210}
)

// speak renders text with espeak-ng at 8 kHz (ReadWAV resamples from
// espeak's 22.05 kHz).
func speak(t *testing.T, voice string, speed int, text string) []int16 {
	t.Helper()
	out, err := exec.Command("espeak-ng", "-v", voice, "-s", fmt.Sprint(speed), "--stdout", text).Output()
	if err != nil {
		t.Fatalf("espeak-ng -v %s: %v", voice, err)
	}
	pcm, err := media.ReadWAV(bytes.NewReader(out))
	if err != nil {
		t.Fatal(err)
	}
	return pcm
}

// call is what AMD hears after answer: a pause, the greeting at telephone
// level, then silence, over a line with faint noise and through G.711.
func call(pause int, speech []int16, after int) []int16 {
	var pcm []int16
	pcm = append(pcm, make([]int16, pause*8)...)
	for _, x := range speech {
		pcm = append(pcm, x/2) // espeak peaks near full scale; -6 dB
	}
	pcm = append(pcm, make([]int16, after*8)...)
	noise := mediatest.Tone(2900, 30, len(pcm))
	enc := make([]byte, len(pcm))
	for i := range pcm {
		pcm[i] = max(-32768, min(32767, pcm[i]+noise[i]))
	}
	media.Encode(media.PCMU, enc, pcm)
	media.Decode(media.PCMU, pcm, enc)
	return pcm
}

// Rows of the confusion table and the verdict each should get.
const (
	rowHuman     = "HUMAN (1-2 words)"
	rowLongHuman = "HUMAN (4 words)"
	rowMachine   = "MACHINE (5-10 s)"
)

var expect = map[string]Status{rowHuman: Human, rowLongHuman: Human, rowMachine: Machine}

// TestAccuracyEspeak runs AMD with Asterisk's defaults on generated human
// and machine answers (several voices and speeds) and reports the
// confusion table.
func TestAccuracyEspeak(t *testing.T) {
	if _, err := exec.LookPath("espeak-ng"); err != nil {
		t.Skip("espeak-ng not installed (apt-get install espeak-ng): AMD accuracy not measured")
	}
	type sample struct {
		truth  string
		voice  string
		speed  int
		pause  int
		text   string
		result Result
	}
	var samples []*sample
	pauses := []int{250, 500, 800}
	i := 0
	for _, voice := range voices {
		for _, speed := range speeds {
			for _, row := range []struct {
				truth string
				texts []string
			}{{rowHuman, humanGreetings}, {rowLongHuman, longHumanGreetings}, {rowMachine, machineGreetings}} {
				for _, g := range row.texts {
					samples = append(samples, &sample{truth: row.truth, voice: voice, speed: speed, pause: pauses[i%3], text: g})
					i++
				}
			}
		}
	}
	var wg sync.WaitGroup
	sem := make(chan struct{}, 2)
	for _, smp := range samples {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			pcm := call(smp.pause, speak(t, smp.voice, smp.speed, smp.text), 3000)
			r, _, ok := analyse(DefaultParams(), pcm)
			if !ok {
				r = Result{Status: NotSure, Cause: "(audio ended)"}
			}
			smp.result = r
		})
	}
	wg.Wait()

	table := map[string]map[Status]int{rowHuman: {}, rowLongHuman: {}, rowMachine: {}}
	causes := map[string]int{}
	for _, smp := range samples {
		table[smp.truth][smp.result.Status]++
		cause, _, _ := strings.Cut(smp.result.Cause, "-")
		causes[smp.truth+" -> "+cause]++
		if smp.result.Status != expect[smp.truth] {
			t.Logf("miss: %s %q voice=%s speed=%d pause=%d -> %s %s", smp.truth, smp.text, smp.voice, smp.speed, smp.pause, smp.result.Status, smp.result.Cause)
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "AMD confusion table (%d calls, espeak-ng, Asterisk 22 defaults)\n", len(samples))
	fmt.Fprintf(&b, "%-22s %8s %8s %8s\n", "truth \\ AMD", "HUMAN", "MACHINE", "NOTSURE")
	for _, truth := range []string{rowHuman, rowLongHuman, rowMachine} {
		fmt.Fprintf(&b, "%-22s %8d %8d %8d\n", truth, table[truth][Human], table[truth][Machine], table[truth][NotSure])
	}
	fmt.Fprintf(&b, "causes: %v", causes)
	t.Log("\n" + b.String())

	for _, truth := range []string{rowHuman, rowMachine} {
		n := 0
		for _, c := range table[truth] {
			n += c
		}
		if acc := float64(table[truth][expect[truth]]) / float64(n); acc < 0.9 {
			t.Errorf("%s accuracy %.0f%%, want at least 90%%", truth, 100*acc)
		}
	}
}
