package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/entvoice/entvoice/internal/media"
	"github.com/entvoice/entvoice/internal/testpeer"
)

// TestBaresipTLSSRTP: baresip registers as 1002 over SIP on TLS (port
// checked against the node's self-signed certificate, made on first start)
// with SDES SRTP required (mediaenc=srtp-mand; 1002 has media_encryption:
// sdes), and calls 1001, a plain-RTP sipgo phone on UDP: the node bridges
// the SRTP leg to the RTP one, and each side hears the other's tone.
func TestBaresipTLSSRTP(t *testing.T) {
	if _, err := exec.LookPath("baresip"); err != nil {
		t.Skip("baresip not installed")
	}
	tlsPort := testpeer.FreePorts(t, 1)[0]
	n := startNode(t, nodeSpec{yaml: `users:
  - {name: "1001", secret: pass1001, context: phones, codecs: [pcmu]}
  - {name: "1002", secret: pass1002, context: phones, media_encryption: sdes}
`, dialplan: phonesPlan, listen: []string{fmt.Sprintf("tls:127.0.0.1:%d", tlsPort)}})
	cert := filepath.Join(n.DataDir, "tls", "sip.crt")
	if _, err := os.Stat(cert); err != nil {
		t.Fatalf("no self-signed certificate made on first start: %v", err)
	}
	dir := t.TempDir()
	wav := filepath.Join(dir, "tone700.wav")
	if err := testpeer.WriteWAV(wav, testpeer.GenerateTone(700, 20*time.Second, 8000)); err != nil {
		t.Fatal(err)
	}
	rec := t.TempDir()
	alice := n.phone(t, "1001", "pass1001", testpeer.PCMU, 1000)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	alice.register(ctx)
	bob := testpeer.StartBaresip(t, testpeer.BaresipOptions{User: "1002", Pass: "pass1002",
		Registrar: fmt.Sprintf("127.0.0.1:%d", tlsPort), Transport: "tls", CAFile: cert, MediaEnc: "srtp-mand",
		AudioFile: wav, RecordDir: rec})
	defer bob.Stop()
	deadline := time.Now().Add(10 * time.Second)
	for len(n.SIP.Registrar().Lookup("1002")) == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("baresip did not register over TLS; events %+v", bob.Events())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if b := n.SIP.Registrar().Lookup("1002")[0]; !strings.EqualFold(b.Transport, "tls") {
		t.Fatalf("1002 registered over %s, want TLS", b.Transport)
	}
	if _, err := bob.Command("dial", fmt.Sprintf("sip:1001@127.0.0.1:%d;transport=tls", tlsPort), 5*time.Second); err != nil {
		t.Fatalf("baresip dial: %v", err)
	}
	var c *call
	select {
	case c = <-alice.incoming:
	case <-ctx.Done():
		t.Fatalf("the call from baresip did not reach 1001; events %+v", bob.Events())
	}
	if _, ok := bob.WaitEvent("CALL_ESTABLISHED", 5*time.Second); !ok {
		t.Fatalf("baresip: no CALL_ESTABLISHED; events %+v", bob.Events())
	}
	time.Sleep(3 * time.Second)
	t.Logf("1001 hears 700 Hz at %.0f; ", alice.heardTone(700))
	if a := alice.heardTone(700); a < 2000 {
		t.Errorf("1001 should hear baresip's 700 Hz through SRTP: amplitude %.0f (%d samples)", a, alice.heardSamples())
	}
	ch := n.Channels.List()
	encrypted := false
	for _, x := range ch {
		if l, ok := x.Driver().(interface{ Media() *media.Session }); ok && x.Endpoint == "1002" {
			encrypted = l.Media().Encrypted()
		}
	}
	if !encrypted {
		t.Error("1002's leg is not SRTP")
	}
	c.hangup(ctx)
	if _, ok := bob.WaitEvent("CALL_CLOSED", 5*time.Second); !ok {
		t.Error("baresip: no CALL_CLOSED")
	}
	bob.Stop()
	heard := decodedByBaresip(t, rec)
	if len(heard) < 8000 {
		t.Fatalf("baresip decoded %d samples", len(heard))
	}
	mid := heard[len(heard)/4 : len(heard)/4+4000]
	t.Logf("baresip hears 1 kHz at %.0f", testpeer.Goertzel(mid, testpeer.SampleRate, 1000))
	if g := testpeer.Goertzel(mid, testpeer.SampleRate, 1000); g < 2000 {
		t.Errorf("baresip should hear 1001's 1 kHz through SRTP: level %.0f", g)
	}
	n.waitIdle(t)
}

// decodedByBaresip reads the audio baresip decoded (sndfile's dec WAV).
func decodedByBaresip(t *testing.T, dir string) []int16 {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(dir, "*dec*.wav"))
	if len(files) == 0 {
		t.Fatalf("no decoded recording in %s", dir)
	}
	f, err := os.Open(files[0])
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	pcm, err := media.ReadWAV(f)
	if err != nil {
		t.Fatal(err)
	}
	return pcm
}
