package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// natRequest is an INVITE from user whose top Via has no rport and names
// viaPort, sent from another port: where its 401 arrives tells whether
// force_rport applied.
func natRequest(user string, nodePort, viaPort int) []byte {
	id := time.Now().UnixNano()
	return fmt.Appendf(nil, "INVITE sip:100@127.0.0.1:%d SIP/2.0\r\n"+
		"Via: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bK-nat-%d\r\n"+
		"Max-Forwards: 70\r\nFrom: <sip:%s@127.0.0.1>;tag=n%d\r\nTo: <sip:100@127.0.0.1>\r\n"+
		"Call-ID: nat-%d@127.0.0.1\r\nCSeq: 1 INVITE\r\nContact: <sip:%s@127.0.0.1:%d>\r\nContent-Length: 0\r\n\r\n",
		nodePort, viaPort, id, user, id, id, user, viaPort)
}

// answeredAt sends msg from one socket, naming another's port in its Via,
// and reports which socket the answer reached: "source" or "via".
func answeredAt(t *testing.T, n *testNode, user string) string {
	t.Helper()
	src := newRawUDP(t, n.Addr)
	via := newRawUDP(t, n.Addr)
	msg := natRequest(user, n.Port, via.port())
	got := make(chan string, 2)
	go func() {
		if r := via.collect(1500*time.Millisecond, false); len(r) > 0 {
			got <- "via: " + r[0]
		}
		got <- ""
	}()
	if r := src.exchange(msg, 1500*time.Millisecond, true); len(r) > 0 {
		<-got
		if !strings.Contains(r[0], fmt.Sprintf(";rport=%d", src.port())) || !strings.Contains(r[0], "received=127.0.0.1") {
			t.Errorf("answer at the source port without rport=%d;received: %q", src.port(), firstLine(r[0]))
		}
		return "source"
	}
	if r := <-got; r != "" {
		return "via"
	}
	return "nowhere"
}

// TestForceRport: with force_rport (Asterisk's default) a request whose Via
// has no rport is answered to the port it came from, with rport= and
// received= added to the Via (RFC 3581 section 4); a user or trunk with
// force_rport: false is answered to its Via port (RFC 3261 18.2.2), and
// sip.force_rport: false makes that the default.
func TestForceRport(t *testing.T) {
	users := `users:
  - {name: "1001", secret: pass1001, context: phones}
  - {name: "1002", secret: pass1002, context: phones, force_rport: false}
  - {name: "1003", secret: pass1003, context: phones, force_rport: true}
`
	t.Run("default on", func(t *testing.T) {
		n := startNode(t, nodeSpec{yaml: users, dialplan: checkPlan})
		if got := answeredAt(t, n, "1001"); got != "source" {
			t.Errorf("1001 (default): answered at %s, want source", got)
		}
		if got := answeredAt(t, n, "1002"); got != "via" {
			t.Errorf("1002 (force_rport: false): answered at %s, want via", got)
		}
		if got := answeredAt(t, n, "nobody"); got != "source" {
			t.Errorf("unknown user: answered at %s, want source", got)
		}
	})
	t.Run("default off", func(t *testing.T) {
		n := startNode(t, nodeSpec{yaml: users, dialplan: checkPlan, sip: "force_rport: false"})
		if got := answeredAt(t, n, "1001"); got != "via" {
			t.Errorf("1001 (default off): answered at %s, want via", got)
		}
		if got := answeredAt(t, n, "1003"); got != "source" {
			t.Errorf("1003 (force_rport: true): answered at %s, want source", got)
		}
	})
}
