package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/entvoice/entvoice/internal/testpeer"
)

const echoUsers = `users:
  - {name: "1001", secret: pass1001, context: apps}
`

// TestSessionTimer: a caller asking for session timers (RFC 4028) gets the
// interval confirmed (capped by sip.session_expires); a call it refreshes
// with re-INVITEs lives on, and one it stops refreshing is ended by a BYE
// from the node.
func TestSessionTimer(t *testing.T) {
	n := startNode(t, nodeSpec{yaml: echoUsers, dialplan: appsPlan, sip: "session_expires: 3"})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	p := n.phone(t, "1001", "pass1001", testpeer.PCMU, 1000)
	p.inviteHeaders = []sip.Header{sip.NewHeader("Session-Expires", "90;refresher=uac"), sip.NewHeader("Supported", "timer")}
	c, code, err := p.dial(ctx, "601") // Echo until hangup
	if err != nil || code != 200 {
		t.Fatalf("dial: code %d err %v", code, err)
	}
	if se := c.cli.InviteResponse.GetHeader("Session-Expires"); se == nil || !strings.HasPrefix(se.Value(), "3;refresher=uac") {
		t.Fatalf("200 OK Session-Expires %v, want 3;refresher=uac", se)
	}
	// Refresh every second for 4 s: longer than the interval, the call stays.
	for v := 2; v < 6; v++ {
		time.Sleep(time.Second)
		res, err := c.reinvite(ctx, "sendrecv", v)
		if err != nil || res.StatusCode != 200 {
			t.Fatalf("refresh %d: %v %v", v, res, err)
		}
	}
	if n.Channels.Count() == 0 {
		t.Fatal("a refreshed session was ended")
	}
	// Stop refreshing: the node sends BYE within the interval.
	start := time.Now()
	deadline := start.Add(6 * time.Second)
	for n.Channels.Count() > 0 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if n.Channels.Count() > 0 {
		t.Fatal("the node did not end a session that was no longer refreshed")
	}
	if waited := time.Since(start); waited > 4*time.Second {
		t.Errorf("ended after %v, want within the 3 s interval", waited)
	}
	n.waitIdle(t)
}
