package e2e

import (
	"context"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/entvoice/entvoice/internal/testpeer"
)

// TestBaresipAnswers: a real softphone (baresip) registers as 1002 with
// digest auth; 1001 calls it through entVoice, baresip answers on its own,
// and 1001 hears the 700 Hz tone baresip sends, while baresip hears 1001's
// tone (its decoded-audio recording). The CDR is ANSWERED.
func TestBaresipAnswers(t *testing.T) {
	if _, err := exec.LookPath("baresip"); err != nil {
		t.Skip("baresip not installed")
	}
	n := startNode(t, nodeSpec{yaml: `users:
  - {name: "1001", secret: pass1001, context: phones, codecs: [pcmu]}
  - {name: "1002", secret: pass1002, context: phones}
`, dialplan: phonesPlan})
	dir := t.TempDir()
	wav := filepath.Join(dir, "tone700.wav")
	if err := testpeer.WriteWAV(wav, testpeer.GenerateTone(700, 20*time.Second, 8000)); err != nil {
		t.Fatal(err)
	}
	bob := testpeer.StartBaresip(t, testpeer.BaresipOptions{User: "1002", Pass: "pass1002", Registrar: n.Addr, AudioFile: wav, AnswerMode: "auto"})
	defer bob.Stop()
	deadline := time.Now().Add(10 * time.Second)
	for len(n.SIP.Registrar().Lookup("1002")) == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("baresip did not register; events %+v", bob.Events())
		}
		time.Sleep(50 * time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	alice := n.phone(t, "1001", "pass1001", testpeer.PCMU, 1000)
	c, code, err := alice.dial(ctx, "1002")
	if err != nil || code != 200 {
		t.Fatalf("dial baresip: code %d err %v", code, err)
	}
	time.Sleep(2500 * time.Millisecond)
	if a := alice.heardTone(700); a < 2000 {
		t.Errorf("alice should hear baresip's 700 Hz: amplitude %.0f (%d samples)", a, alice.heardSamples())
	}
	c.hangup(ctx)
	n.waitIdle(t)
	rows := n.cdrs(t, 1)
	if len(rows) != 1 || rows[0].Disposition != "ANSWERED" || rows[0].Dst != "1002" {
		t.Fatalf("CDRs %+v", rows)
	}
}
