//go:build pocketsphinx

package e2e

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/entvoice/entvoice/internal/events"
)

// TestAGISpeechRecognize: a FastAGI script drives the SPEECH commands on a
// real call with the real engine; the caller says "sales" into SPEECH
// RECOGNIZE, barging in on the prompt, then stays silent (timeout), then
// presses a key; replies are res_agi.c's, byte for byte.
func TestAGISpeechRecognize(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	n := speechNode(t, "", fmt.Sprintf("\n[speechagi]\nexten => 140,1,AGI(agi://%s/speech)\n", ln.Addr()))
	const speak = "SPEECH RECOGNIZE hello-world 10"
	steps := []agiStep{
		{cmd: "ANSWER", want: `200 result=0`},
		{cmd: "SPEECH RECOGNIZE beep 1", want: `200 result=0`},
		{cmd: "SPEECH CREATE pocketsphinx", want: `200 result=1`},
		{cmd: "SPEECH CREATE pocketsphinx", want: `200 result=0`},
		{cmd: "SPEECH LOAD GRAMMAR bad /nonexistent/bad.gram", want: `200 result=0`},
		{cmd: "SPEECH LOAD GRAMMAR menu builtin:menu?words=sales,support,two", want: `200 result=1`},
		{cmd: "SPEECH ACTIVATE GRAMMAR nope", want: `200 result=0`},
		{cmd: "SPEECH ACTIVATE GRAMMAR menu", want: `200 result=1`},
		{cmd: "SPEECH SET end_silence 500", want: `200 result=1`},
		{cmd: speak, want: `200 result=1 \(speech\) endpos=(\d+) results=1 score0=(\d+) text0="sales" grammar0=menu`},
		{cmd: "SPEECH RECOGNIZE beep 1", want: `200 result=1 \(timeout\) endpos=0`},
		{cmd: "SPEECH RECOGNIZE beep 9", want: `200 result=1 \(digit\) digit=5 endpos=0`, digits: "5", delay: 500 * time.Millisecond},
		{cmd: "SPEECH DEACTIVATE GRAMMAR menu", want: `200 result=1`},
		{cmd: "SPEECH RECOGNIZE beep 0", want: `200 result=1 \(speech\) endpos=0 results=0 `},
		{cmd: "SPEECH UNLOAD GRAMMAR menu", want: `200 result=1`},
		{cmd: "SPEECH UNLOAD GRAMMAR menu", want: `200 result=0`},
		{cmd: "SPEECH DESTROY", want: `200 result=1`},
		{cmd: "SPEECH DESTROY", want: `200 result=0`},
	}
	sub := n.Bus.Subscribe(256, func(e *events.Event) bool { return e.Kind == events.AGIExecStart })
	defer sub.Close()
	res := make(chan []string, 1)
	subs := make(chan [][]string, 1)
	go func() {
		errs, s := runScript(ln, steps)
		res <- errs
		subs <- s
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	_, c := dialTone(t, n, "140", 0)
	pcm := append(synth(t, "sales", "en-us", 150), make([]int16, 8000)...)
	go func() {
		for {
			select {
			case e, ok := <-sub.C:
				if !ok {
					return
				}
				switch e.AGI.Command {
				case speak:
					time.Sleep(300 * time.Millisecond)
					c.say(pcm)
				case "SPEECH RECOGNIZE beep 9":
					time.Sleep(500 * time.Millisecond)
					_ = c.sendDigits(ctx, "5")
				}
			case <-ctx.Done():
				return
			}
		}
	}()
	for _, e := range <-res {
		t.Error(e)
	}
	s := <-subs
	c.hangup(ctx)
	n.waitIdleFor(t, 30*time.Second)
	sub.Close()
	if len(s) > 9 && s[9] != nil {
		// "sales" barged in on hello-world: endpos is within the prompt.
		if pos, _ := strconv.Atoi(s[9][1]); pos <= 0 || pos > 2*8000 {
			t.Errorf("endpos %d samples, want where the caller interrupted hello-world", pos)
		}
	}
}
