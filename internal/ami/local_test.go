package ami_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/entvoice/entvoice/internal/media"
	"github.com/entvoice/entvoice/internal/testpeer"
)

// TestOriginateLocal: Originate Channel: Local/555@dialout rings the
// trunk through the dialplan (;2 runs Dial); once answered, ;1 runs
// 100@originate. Hanging ;1 up ends all three legs. A Local target whose
// dialplan is busy fails with Reason 5.
func TestOriginateLocal(t *testing.T) {
	testpeer.SIPpPath(t)
	uas := testpeer.StartSIPp(t, testpeer.SIPpOptions{Scenario: "uas", Timeout: 90 * time.Second})
	n := startAMINode(t, fmt.Sprintf(`trunks:
  - {name: carrier, host: "%s", context: originate}
`, uas.Addr()), originatePlan+`
[dialout]
exten => _5XX,1,Dial(PJSIP/${EXTEN}@carrier,20)
exten => 666,1,Hangup(17)
`)
	c := dialRaw(t, n.AMIAddr, "admin", "secret")
	c.send("Action: Originate", "ActionID: l1", "Channel: Local/555@dialout", "Context: originate", "Exten: 100",
		"Priority: 1", "CallerID: \"Lo\" <100>", "Async: true")
	var or string
	for _, m := range c.untilFn(func(m string) bool { return strings.HasPrefix(m, "Event: OriginateResponse") }) {
		or = m
	}
	ch := hdr(or, "Channel")
	if hdr(or, "Response") != "Success" || hdr(or, "Reason") != "4" || !strings.HasPrefix(ch, "Local/555@dialout-") || !strings.HasSuffix(ch, ";1") {
		t.Fatalf("OriginateResponse %q", or)
	}
	c.send("Action: CoreShowChannels")
	var chans []string
	for _, m := range c.untilFn(func(m string) bool { return strings.HasPrefix(m, "Event: CoreShowChannelsComplete") }) {
		if strings.HasPrefix(m, "Event: CoreShowChannel\r\n") {
			chans = append(chans, hdr(m, "Channel")+" "+hdr(m, "Application"))
		}
	}
	want := []string{ch + " ", strings.TrimSuffix(ch, ";1") + ";2 Dial", "PJSIP/carrier-"}
	if len(chans) != 3 || !strings.HasPrefix(chans[0], ch) || !strings.HasPrefix(chans[1], want[1]) || !strings.HasPrefix(chans[2], want[2]) {
		t.Errorf("channels %q, want ;1, ;2 in Dial and the trunk leg", chans)
	}
	c.send("Action: Hangup", "Channel: "+ch)
	if m := c.until("Response:"); !strings.Contains(m, "Channel Hungup") {
		t.Errorf("Hangup %q", m)
	}
	n.waitIdle(t)

	c.send("Action: Originate", "ActionID: l2", "Channel: Local/666@dialout", "Context: originate", "Exten: 100", "Priority: 1")
	if m := c.until("Response:"); !strings.Contains(m, "Message: Originate failed") {
		t.Errorf("busy Local originate: %q", m)
	}
	c.send("Action: Originate", "ActionID: l3", "Channel: Local/666@dialout", "Context: originate", "Exten: 100", "Priority: 1", "Async: 1")
	for {
		m := c.until("Event: OriginateResponse")
		if hdr(m, "ActionID") == "l3" {
			if hdr(m, "Response") != "Failure" || hdr(m, "Reason") != "5" {
				t.Errorf("busy Local OriginateResponse %q", m)
			}
			break
		}
	}
	n.waitIdle(t)
}

// TestOriginateLocalAudio: audio crosses a Local channel. The trunk (a
// SIPp UAS) plays a 1 kHz tone once answered; ;2 bridges it in Dial, and
// ;1 records what reaches it.
func TestOriginateLocalAudio(t *testing.T) {
	testpeer.SIPpPath(t)
	uas := testpeer.StartSIPp(t, testpeer.SIPpOptions{Scenario: "uas_answer", Pcap: testpeer.TonePcap(t, 1000, 4*time.Second, ""), Timeout: 90 * time.Second})
	n := startAMINode(t, fmt.Sprintf(`trunks:
  - {name: carrier, host: "%s", context: originate}
`, uas.Addr()), `[dialout]
exten => _5XX,1,Dial(PJSIP/${EXTEN}@carrier,20)
[rec]
exten => 1,1,Record(${RECFILE},0,2,q)
 same => n,Hangup()
`)
	rec := filepath.Join(t.TempDir(), "local.wav")
	c := dialRaw(t, n.AMIAddr, "admin", "secret")
	c.send("Action: Originate", "Channel: Local/555@dialout", "Context: rec", "Exten: 1", "Priority: 1", "Variable: RECFILE="+rec)
	if m := c.until("Response:"); !strings.Contains(m, "Originate successfully queued") {
		t.Fatalf("originate: %q", m)
	}
	n.waitIdle(t)
	f, err := os.Open(rec)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	pcm, err := media.ReadWAV(f)
	if err != nil {
		t.Fatal(err)
	}
	tone, other := testpeer.Goertzel(pcm, 8000, 1000), testpeer.Goertzel(pcm, 8000, 1700)
	t.Logf("recorded %d samples through the Local channel: 1 kHz %.0f, 1.7 kHz %.0f", len(pcm), tone, other)
	if len(pcm) < 8000 || tone < 10*other || testpeer.RMS(pcm) < 1000 {
		t.Errorf("no 1 kHz tone through the Local channel (1 kHz %.0f, 1.7 kHz %.0f, RMS %.0f)", tone, other, testpeer.RMS(pcm))
	}
}
