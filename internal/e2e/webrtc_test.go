package e2e

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/entvoice/entvoice/internal/media"
	"github.com/entvoice/entvoice/internal/testpeer"
)

// TestBrowserWebRTCEcho: a headless chromium with a fake microphone runs a
// SIP.js page that registers as 2001 (media_encryption: dtls) over WSS and
// calls 600, an Echo(): ICE (the node is ICE-lite), DTLS-SRTP and rtcp-mux
// come up, the page hears its own microphone back, and the node's leg of
// the call was encrypted.
func TestBrowserWebRTCEcho(t *testing.T) {
	testpeer.RequireBrowser(t)
	wss := testpeer.FreePorts(t, 1)[0]
	n := startNode(t, nodeSpec{yaml: `users:
  - {name: "2001", secret: pass2001, context: web, media_encryption: dtls}
`, dialplan: `[web]
exten => 600,1,Answer()
 same => n,Echo()
`, listen: []string{fmt.Sprintf("wss:127.0.0.1:%d", wss)}})
	encrypted := make(chan bool, 1)
	go func() {
		// While the call is up, the node's leg is SRTP keyed by DTLS.
		for i := 0; i < 400; i++ {
			for _, ch := range n.Channels.List() {
				if l, ok := ch.Driver().(interface{ Media() *media.Session }); ok && l.Media().Encrypted() {
					encrypted <- true
					return
				}
			}
			sleep50()
		}
		encrypted <- false
	}()
	res := testpeer.BrowserCall(t, testpeer.BrowserCallOptions{WSS: fmt.Sprintf("wss://127.0.0.1:%d", wss),
		User: "2001", Pass: "pass2001", Target: "600", Seconds: 5})
	t.Logf("browser: %+v", res)
	if res.Error != "" || !res.Registered || !res.Established {
		t.Fatalf("browser call failed: %+v", res)
	}
	if res.DTLSState != "connected" {
		t.Errorf("DTLS state %q", res.DTLSState)
	}
	if res.PacketsReceived < 100 || res.PacketsSent < 100 {
		t.Errorf("packets received %d, sent %d: no media round trip", res.PacketsReceived, res.PacketsSent)
	}
	if res.PeakRMS < 0.01 || res.TotalAudioEnergy <= 0 {
		t.Errorf("the browser did not hear its microphone back: peak RMS %.4f, energy %.4f", res.PeakRMS, res.TotalAudioEnergy)
	}
	if !<-encrypted {
		t.Error("the node's leg of the call was not SRTP")
	}
	n.waitIdle(t)
}

func sleep50() { time.Sleep(50 * time.Millisecond) }

// TestBrowserCallsDeskPhone: the browser (WebRTC, DTLS-SRTP, over WSS)
// calls 1001, a desk phone on plain RTP over UDP (a sipgo phone sending a
// 1 kHz tone): the node bridges the two legs, the browser hears the tone
// and the phone hears the browser's microphone.
func TestBrowserCallsDeskPhone(t *testing.T) {
	testpeer.RequireBrowser(t)
	wss := testpeer.FreePorts(t, 1)[0]
	n := startNode(t, nodeSpec{yaml: `users:
  - {name: "1001", secret: pass1001, context: phones, codecs: [pcmu]}
  - {name: "2001", secret: pass2001, context: phones, media_encryption: dtls}
`, dialplan: phonesPlan, listen: []string{fmt.Sprintf("wss:127.0.0.1:%d", wss)}})
	desk := n.phone(t, "1001", "pass1001", testpeer.PCMU, 1000)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	desk.register(ctx)
	res := testpeer.BrowserCall(t, testpeer.BrowserCallOptions{WSS: fmt.Sprintf("wss://127.0.0.1:%d", wss),
		User: "2001", Pass: "pass2001", Target: "1001", Seconds: 4})
	t.Logf("browser: %+v", res)
	if res.Error != "" || !res.Established {
		t.Fatalf("browser call failed: %+v", res)
	}
	if res.PeakRMS < 0.01 {
		t.Errorf("the browser did not hear the desk phone: peak RMS %.4f", res.PeakRMS)
	}
	desk.mu.Lock()
	heard := append([]int16(nil), desk.heard...)
	desk.mu.Unlock()
	if len(heard) < 8000 || testpeer.RMS(heard) < 100 {
		t.Errorf("the desk phone did not hear the browser: %d samples, RMS %.0f", len(heard), testpeer.RMS(heard))
	}
	n.waitIdle(t)
}
