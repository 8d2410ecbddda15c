package e2e

import (
	"context"
	"testing"
	"time"

	"github.com/entvoice/entvoice/internal/testpeer"
)

// TestDemoConferenceAndParking walks the demo as a newcomer would: 1001
// and 1002 meet in conference 800 and hear each other; then 1001 parks
// itself at 700 (space 701) and 1003 picks it up at 701.
func TestDemoConferenceAndParking(t *testing.T) {
	n := startDemo(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	alice := n.phone(t, "1001", "pass1001", testpeer.PCMU, 1000)
	bob := n.phone(t, "1002", "pass1002", testpeer.PCMA, 700)
	ca, code, err := alice.dial(ctx, "800")
	if err != nil || code != 200 {
		t.Fatalf("1001 dials 800: %d %v", code, err)
	}
	cb, code, err := bob.dial(ctx, "800")
	if err != nil || code != 200 {
		t.Fatalf("1002 dials 800: %d %v", code, err)
	}
	time.Sleep(settle)
	if a, b := alice.heardTone(700), bob.heardTone(1000); a < 3000 || b < 3000 {
		t.Errorf("in conference 800: 1001 hears 1002 at %.0f, 1002 hears 1001 at %.0f", a, b)
	}
	ca.hangup(ctx)
	cb.hangup(ctx)
	n.waitIdle(t)

	if _, code, err = alice.dial(ctx, "700"); err != nil || code != 200 {
		t.Fatalf("1001 dials 700: %d %v", code, err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		calls, _ := n.Control.ParkedCalls(ctx, "", "default")
		if len(calls) == 1 && calls[0].Space == 701 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("1001 is not parked in 701: %+v", calls)
		}
		time.Sleep(50 * time.Millisecond)
	}
	carol := n.phone(t, "1003", "pass1003", testpeer.PCMU, 1300)
	cc, code, err := carol.dial(ctx, "701")
	if err != nil || code != 200 {
		t.Fatalf("1003 dials 701: %d %v", code, err)
	}
	time.Sleep(1500 * time.Millisecond)
	if a := carol.heardTone(1000); a < 3000 {
		t.Errorf("1003 does not hear the parked 1001: %.0f", a)
	}
	cc.hangup(ctx)
	n.waitIdle(t)
}
