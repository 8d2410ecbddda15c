package main

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/entvoice/entvoice/internal/testpeer"
)

// TestClusterPeersTrustedAtOnce: a node that enrols while another is
// linked takes and places calls with it as soon as both are linked, and a
// revoked node is cut off at once: its link is cut and its next call, either
// way, is refused. Every heartbeat (central's and the nodes') is a minute
// long, so none of this can come from a heartbeat: central pushes the
// enrolled-node list to the linked nodes when it changes.
func TestClusterPeersTrustedAtOnce(t *testing.T) {
	needSIPp(t)
	const heartbeat = "1m"
	c := newCentralBeat(t, heartbeat)
	a := newNodeProcBeat(t, "site-a", "127.0.0.2", heartbeat)
	b := newNodeProcBeat(t, "site-b", "127.0.0.3", heartbeat)
	a.start(t, "--join", c.hub, "--token", c.token(t, "site-a", "127.0.0.2/32"))
	a.p.waitLog(t, "linked to central", 1)
	c.cli(t, "user", "create", "2001", "--password", "pw-2001-secret", "--context", "internal", "--tenant", "default")
	c.cli(t, "user", "create", "2002", "--password", "pw-2002-secret", "--context", "internal", "--tenant", "default")
	c.cli(t, "ext", "add", "--tenant", "default", "--context", "internal", "--exten", "_20XX", "--priority", "1", "--app", "Dial", "--appdata", "PJSIP/${EXTEN},20")

	// phone registers user on node n from a port of its own, where a SIPp
	// UAS then answers one call.
	ports := testpeer.FreePorts(t, 2)
	phone := func(n *nodeProc, user, pass string, port int) *testpeer.SIPpProc {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
			reg := testpeer.RunSIPp(t, testpeer.SIPpOptions{Target: n.sip, Scenario: "uac_register_auth", Service: user, Calls: 1,
				Port: port, AuthUser: user, AuthPass: pass, Timeout: 5 * time.Second})
			if reg.ExitCode == 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s did not register on %s: exit %d", user, n.ip, reg.ExitCode)
			}
		}
		return testpeer.StartSIPp(t, testpeer.SIPpOptions{Scenario: "uas_answer", Port: port, Calls: 1})
	}
	// call places a call from the user on node n to the other user with
	// SIPp's scenario: uac_call_auth (answered) or uac_expect_code
	// (refused, whatever the code); it reports whether that happened.
	call := func(n *nodeProc, from, pass, to, scenario string) bool {
		t.Helper()
		r := testpeer.RunSIPp(t, testpeer.SIPpOptions{Target: n.sip, Scenario: scenario, Service: to, Calls: 1,
			AuthUser: from, AuthPass: pass, Keys: map[string]string{"caller": from, "hold_ms": "300", "code": "any"}, Timeout: 15 * time.Second})
		return r.ExitCode == 0
	}
	phoneA := phone(a, "2001", "pw-2001-secret", ports[0])

	// site-b enrols now, with site-a linked: the two call each other as
	// soon as site-b is linked.
	b.start(t, "--join", c.hub, "--token", c.token(t, "site-b", "127.0.0.3/32"))
	b.p.waitLog(t, "linked to central", 1)
	linked := time.Now()
	phoneB := phone(b, "2002", "pw-2002-secret", ports[1])
	if !call(a, "2001", "pw-2001-secret", "2002", "uac_call_auth") {
		t.Fatalf("2001 on site-a calling 2002 on site-b, enrolled a moment ago, failed; site-a's log:\n%s", a.p.err.String())
	}
	if !call(b, "2002", "pw-2002-secret", "2001", "uac_call_auth") {
		t.Fatalf("2002 on site-b, enrolled a moment ago, calling 2001 on site-a failed; site-b's log:\n%s", b.p.err.String())
	}
	t.Logf("both calls answered %s after site-b was linked", time.Since(linked).Round(time.Millisecond))
	for _, p := range []*testpeer.SIPpProc{phoneA, phoneB} {
		if res := p.Stop(); res.ExitCode != 0 {
			t.Errorf("a callee's SIPp: exit %d", res.ExitCode)
		}
	}
	if strings.Contains(a.p.err.String(), "not enrolled (or revoked)") {
		t.Errorf("site-a refused site-b on the way:\n%s", a.p.err.String())
	}

	// site-b is revoked through central's API: its link is cut at once, and
	// its next call, either way, is refused (its phones still answer).
	phoneA, phoneB = phone(a, "2001", "pw-2001-secret", ports[0]), phone(b, "2002", "pw-2002-secret", ports[1])
	revoked := time.Now()
	if status := c.apiCall(t, http.MethodPost, "/nodes/site-b/revoke", "", nil); status != http.StatusNoContent {
		t.Fatalf("POST /nodes/site-b/revoke: %d", status)
	}
	if !call(a, "2001", "pw-2001-secret", "2002", "uac_expect_code") {
		t.Error("2001 on site-a reached 2002 on site-b after site-b was revoked")
	}
	if !call(b, "2002", "pw-2002-secret", "2001", "uac_expect_code") {
		t.Error("2002 on revoked site-b reached 2001 on site-a")
	}
	c.p.waitLog(t, "node link cut: certificate revoked", 1)
	b.p.waitLog(t, "node certificate revoked", 1)
	t.Logf("site-b cut off %s after its revocation", time.Since(revoked).Round(time.Millisecond))
	for _, p := range []*testpeer.SIPpProc{phoneA, phoneB} {
		if res := p.Stop(); res.Successful != 0 {
			t.Errorf("a call reached a phone after the revocation: %+v", res)
		}
	}
}
