//go:build pocketsphinx

package e2e

import (
	"context"
	"testing"
	"time"

	"github.com/entvoice/entvoice/internal/speech/pocketsphinx"
	"github.com/entvoice/entvoice/internal/testpeer"
)

// waitApp waits until the caller's channel runs app with the given
// language (the IVR has moved on to that step).
func waitApp(t *testing.T, n *testNode, app, lang string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		for _, ch := range n.Channels.List() {
			if a, _ := ch.LastApp(); a == app && ch.Language() == lang && ch.Endpoint == "1001" {
				return
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("the caller never reached %s in %s", app, lang)
}

// TestDemoSpeechIVR is the newcomer's walk through the demo's 810: a
// caller picks Spanish (by voice, then by key), hears the menu in Spanish,
// says "sales" (or presses 2) and is put through to 1002, the sales
// phone, which answers.
func TestDemoSpeechIVR(t *testing.T) {
	if !pocketsphinx.Available {
		t.Skip("built without the engine")
	}
	for _, tc := range []struct {
		name   string
		choose func(c *call)
	}{
		{"voice", func(c *call) { c.say(append(synth(t, "spanish", "en-us", 150), make([]int16, 8000)...)) }},
		{"keys", func(c *call) { _ = c.sendDigits(context.Background(), "2") }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := startDemo(t)
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			sales := n.phone(t, "1002", "pass1002", testpeer.PCMU, 0)
			sales.register(ctx)
			p := n.phone(t, "1001", "pass1001", testpeer.PCMU, 0)
			c, code, err := p.dial(ctx, "810")
			if err != nil || code != 200 {
				t.Fatalf("dial 810: %d %v", code, err)
			}
			waitApp(t, n, "SpeechBackground", "en")
			time.Sleep(time.Second) // into the language prompt
			tc.choose(c)
			waitApp(t, n, "SpeechBackground", "es")
			time.Sleep(time.Second) // into the Spanish menu
			if tc.name == "voice" {
				c.say(append(synth(t, "sales", "en-us", 150), make([]int16, 8000)...))
			} else {
				_ = c.sendDigits(ctx, "2")
			}
			var in *call
			select {
			case in = <-sales.incoming:
			case <-ctx.Done():
				t.Fatal("sales (1002) never rang")
			}
			time.Sleep(300 * time.Millisecond)
			in.hangup(ctx)
			n.waitIdleFor(t, 20*time.Second)
			found := false
			for _, r := range n.cdrs(t, 1) {
				if r.UserField == "speech-ivr:sales:es" && r.DstChannel != "" {
					found = true
				}
			}
			if !found {
				t.Errorf("no CDR of the IVR routing to sales in Spanish: %+v", n.cdrs(t, 1))
			}
		})
	}
}
