package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/entvoice/entvoice/internal/testpeer"
)

// TestClusterQueueRemoteMember: a queue made at central rings a member
// registered on another node. The caller is on node A; the member's
// phone (baresip) is registered on node B: node A, which has no contact
// for it, rings it through central's locator and the node-to-node SIP,
// and the call is connected (CONNECT in queue_log, in central's store
// too when the node runs beside it).
func TestClusterQueueRemoteMember(t *testing.T) {
	needSIPp(t)
	if _, err := exec.LookPath("baresip"); err != nil {
		t.Skip("baresip not installed")
	}
	c, a, b := linkedPair(t)
	c.cli(t, "ext", "add", "--tenant", "default", "--context", "internal", "--exten", "700", "--priority", "1", "--app", "Queue", "--appdata", "support,,,,15")
	c.cli(t, "queue", "create", "support", "--tenant", "default", "--strategy", "ringall")
	c.cli(t, "queue", "member", "add", "support", "PJSIP/2002", "--tenant", "default", "--name", "Remote")

	phoneB := testpeer.StartBaresip(t, testpeer.BaresipOptions{User: "2002", Pass: "pw-2002-secret", Registrar: b.sip, AnswerMode: "auto"})
	defer phoneB.Stop()
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if c.apiCall(t, "GET", "/tenants/default/users/2002/location", "", nil) == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("baresip did not register 2002 on node B")
		}
	}
	r := testpeer.RunSIPp(t, testpeer.SIPpOptions{Target: a.sip, Scenario: "uac_call_auth", Service: "700", Calls: 1,
		AuthUser: "2001", AuthPass: "pw-2001-secret", Keys: map[string]string{"caller": "2001", "hold_ms": "1000"}, Timeout: 30 * time.Second})
	if r.ExitCode != 0 {
		t.Fatalf("the queue call on node A to a member on node B: SIPp exit %d", r.ExitCode)
	}
	established := 0
	for _, e := range phoneB.Events() {
		if e.Type == "CALL_ESTABLISHED" {
			established++
		}
	}
	if established != 1 {
		t.Errorf("baresip on node B established %d calls, want 1", established)
	}
	var qlog string
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		b, _ := os.ReadFile(filepath.Join(a.dataDir, "queue_log"))
		if qlog = string(b); strings.Contains(qlog, "|COMPLETECALLER|") {
			break
		}
	}
	if !strings.Contains(qlog, "|support|Remote|CONNECT|") || !strings.Contains(qlog, "|support|Remote|COMPLETECALLER|") {
		t.Errorf("node A's queue_log:\n%s", qlog)
	}
}

// linkedPair starts central and two nodes enrolled with it, site-a on
// 127.0.0.2 and site-b on 127.0.0.3, and creates users 2001 and 2002
// (passwords pw-2001-secret, pw-2002-secret; context internal).
func linkedPair(t *testing.T) (*centralProc, *nodeProc, *nodeProc) {
	t.Helper()
	c := newCentral(t)
	a := newNodeProc(t, "site-a", "127.0.0.2")
	b := newNodeProc(t, "site-b", "127.0.0.3")
	a.start(t, "--join", c.hub, "--token", c.token(t, "site-a", "127.0.0.2/32"))
	b.start(t, "--join", c.hub, "--token", c.token(t, "site-b", "127.0.0.3/32"))
	for _, n := range []*nodeProc{a, b} {
		n.p.waitLog(t, "linked to central", 1)
	}
	for _, u := range []string{"2001", "2002"} {
		c.cli(t, "user", "create", u, "--password", "pw-"+u+"-secret", "--context", "internal", "--tenant", "default")
	}
	return c, a, b
}
