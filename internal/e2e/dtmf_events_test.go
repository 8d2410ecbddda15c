package e2e

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/entvoice/entvoice/internal/events"
	"github.com/entvoice/entvoice/internal/testpeer"
)

// dtmfTimes collects the DTMFBegin and DTMFEnd events of a node.
type dtmfTimes struct {
	sub *events.Subscription
}

func watchDTMFEvents(n *testNode) *dtmfTimes {
	return &dtmfTimes{sub: n.Bus.Subscribe(64, func(e *events.Event) bool {
		return e.Kind == events.DTMFBegin || e.Kind == events.DTMFEnd
	})}
}

// next returns the next DTMF event, failing after d.
func (w *dtmfTimes) next(t *testing.T, d time.Duration) events.Event {
	t.Helper()
	select {
	case e := <-w.sub.C:
		return *e
	case <-time.After(d):
		t.Fatal("no DTMF event")
	}
	return events.Event{}
}

// TestDTMFEventTimingRFC4733: a digit sent as RFC 4733 events for 400 ms
// (20 packets of 20 ms, then its end packets) raises DTMFBegin when its
// first packet arrives and DTMFEnd at its end, about 400 ms later, with
// DurationMs from the end packet's duration field (3200 samples at
// 8 kHz), as Asterisk's channel publishes them.
func TestDTMFEventTimingRFC4733(t *testing.T) {
	n := startNode(t, nodeSpec{yaml: ivrUsers, dialplan: ivrPlan})
	w := watchDTMFEvents(n)
	defer w.sub.Close()
	pcap := filepath.Join(t.TempDir(), "dtmf.pcap")
	if err := testpeer.WriteRTPPcap(pcap, testpeer.PcapOptions{
		Audio: testpeer.GenerateSilence(600 * time.Millisecond), DTMF: "4", DigitDuration: 400 * time.Millisecond,
	}); err != nil {
		t.Fatal(err)
	}
	uac := testpeer.StartSIPp(t, testpeer.SIPpOptions{Target: n.Addr, Scenario: scenario("uac_ivr_rfc4733.xml"), Service: "500", Calls: 1,
		Keys: map[string]string{"caller": "1001"}, AuthUser: "1001", AuthPass: "pass1001", Pcap: pcap, Timeout: 60 * time.Second})
	begin := w.next(t, 15*time.Second)
	end := w.next(t, 5*time.Second)
	if begin.Kind != events.DTMFBegin || end.Kind != events.DTMFEnd || begin.Digit != '4' || end.Digit != '4' {
		t.Fatalf("events %s %q, %s %q; want DTMFBegin then DTMFEnd of 4", begin.Kind, begin.Digit, end.Kind, end.Digit)
	}
	if end.Duration != 400*time.Millisecond {
		t.Errorf("DurationMs %d, want 400 (the end packet's duration)", end.Duration.Milliseconds())
	}
	// The packets are paced by SIPp in real time: the end follows the
	// begin by the digit's length (a wide margin for a loaded machine;
	// before, both were raised at the end, 0 ms apart).
	if gap := end.Time.Sub(begin.Time); gap < 300*time.Millisecond || gap > 1500*time.Millisecond {
		t.Errorf("DTMFEnd %v after DTMFBegin, want about the digit's 400 ms", gap)
	}
	if res := uac.Wait(30 * time.Second); res == nil || res.ExitCode != 0 {
		t.Errorf("sipp did not finish cleanly: %+v", res)
	}
	n.waitIdle(t)
}

// TestDTMFEventTimingINFO: a digit sent as SIP INFO (dtmf-relay with
// Duration=250) begins when the INFO arrives and ends 250 ms later, as
// Asterisk emulates the end of a digit that arrives whole.
func TestDTMFEventTimingINFO(t *testing.T) {
	n := startNode(t, nodeSpec{yaml: appsUsers, dialplan: appsPlan})
	w := watchDTMFEvents(n)
	defer w.sub.Close()
	_, c := dialApp(t, n, "601")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.sendDigitsFor(ctx, "7", 250); err != nil {
		t.Fatal(err)
	}
	begin := w.next(t, 5*time.Second)
	end := w.next(t, 5*time.Second)
	if begin.Kind != events.DTMFBegin || end.Kind != events.DTMFEnd || begin.Digit != '7' {
		t.Fatalf("events %s %q, %s %q", begin.Kind, begin.Digit, end.Kind, end.Digit)
	}
	if end.Duration != 250*time.Millisecond {
		t.Errorf("DurationMs %d, want 250", end.Duration.Milliseconds())
	}
	if gap := end.Time.Sub(begin.Time); gap < 200*time.Millisecond || gap > 1200*time.Millisecond {
		t.Errorf("DTMFEnd %v after DTMFBegin, want about 250 ms", gap)
	}
	c.hangup(ctx)
	n.waitIdle(t)
}
