package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/entvoice/entvoice/internal/testpeer"
)

// TestNewcomerQueue is the call-centre newcomer's flow against `entvoice
// serve`: a tenant, three agents and a queue made with the CLI; two
// callers (SIPp) call in and wait, hearing music on hold and their
// position (the RTP they receive); the agents (SIPp) register and are
// rung in the strategy's order; the calls are in the queue log, the AMI
// events and the statistics served by the API.
func TestNewcomerQueue(t *testing.T) {
	const admin = "admin-token-for-queue-tests-0123"
	amiPort := testpeer.FreeTCPPort(t)
	p := startServe(t, admin, fmt.Sprintf("ami:\n  listen: 127.0.0.1:%d\n  users:\n    - {name: admin, secret: amipass, read: all, write: all}\n", amiPort))
	const domain = "acme.example"
	p.mustCLI(t, "", "tenant", "create", "acme", "--name", "ACME", "--domain", domain)
	agents := map[string]string{"1001": "Alice", "1002": "Bob", "1003": "Carol"}
	for _, u := range []string{"1001", "1002", "1003", "2001", "2002"} {
		p.mustCLI(t, "", "user", "create", u, "--tenant", "acme", "--password", "acme-pw-"+u, "--context", "internal")
	}
	for i, row := range [][2]string{{"Answer", ""}, {"Queue", "support"}, {"Hangup", ""}} {
		p.mustCLI(t, "", "ext", "add", "--tenant", "acme", "--context", "internal", "--exten", "700", "--priority", fmt.Sprint(i+1), "--app", row[0], "--appdata", row[1])
	}
	p.mustCLI(t, "", "queue", "create", "support", "--tenant", "acme", "--strategy", "rrmemory",
		"--set", "announce-frequency=3", "--set", "min-announce-frequency=1", "--set", "announce-holdtime=no", "--set", "servicelevel=60")
	for _, u := range []string{"1001", "1002", "1003"} {
		p.mustCLI(t, "", "queue", "member", "add", "support", "PJSIP/"+u, "--tenant", "acme", "--name", agents[u])
	}
	if _, e, code := p.cli(t, "", "queue", "create", "bad", "--tenant", "acme", "--strategy", "sometimes"); code != exitInvalid || !strings.Contains(e, "params.strategy") {
		t.Errorf("a bad strategy: exit %d, %q", code, e)
	}
	out := p.mustCLI(t, "", "queue", "member", "list", "support", "--tenant", "acme")
	if !strings.Contains(out, "PJSIP/1003") || !strings.Contains(out, "Carol") {
		t.Fatalf("member list:\n%s", out)
	}

	ami := queueAMILogin(t, fmt.Sprintf("127.0.0.1:%d", amiPort))
	// Two callers wait: nobody is registered yet.
	var callers []*testpeer.SIPpProc
	var recs []*testpeer.RTPRecorder
	for _, u := range []string{"2001", "2002"} {
		rec := testpeer.RecordRTP(t)
		recs = append(recs, rec)
		callers = append(callers, testpeer.StartSIPp(t, testpeer.SIPpOptions{Target: p.sip, Scenario: "uac_call_until_bye", Service: "700", Calls: 1,
			AuthUser: u, AuthPass: "acme-pw-" + u, Keys: map[string]string{"caller": u, "domain": domain, "rtp_port": fmt.Sprint(rec.Port())}}))
		time.Sleep(300 * time.Millisecond)
	}
	// They hear the music and their positions (prompts are louder than
	// silence: the RTP carries audio).
	for i, rec := range recs {
		if !rec.WaitPackets(100, 10*time.Second) {
			t.Fatalf("caller %d heard nothing while waiting", i+1)
		}
		time.Sleep(time.Second)
		if rms := testpeer.RMS(rec.PCM(testpeer.PCMU)); rms < 100 {
			t.Errorf("caller %d heard silence while waiting (RMS %.0f)", i+1, rms)
		}
	}
	// The agents register and answer, hanging up after a second.
	for _, u := range []string{"1001", "1002", "1003"} {
		port := testpeer.FreePorts(t, 1)[0]
		reg := testpeer.RunSIPp(t, testpeer.SIPpOptions{Target: p.sip, Scenario: "uac_register_auth", Service: u, Calls: 1,
			Port: port, AuthUser: u, AuthPass: "acme-pw-" + u, Keys: map[string]string{"domain": domain}})
		if reg.ExitCode != 0 {
			t.Fatalf("REGISTER of %s: exit %d", u, reg.ExitCode)
		}
		testpeer.StartSIPp(t, testpeer.SIPpOptions{Scenario: "uas_answer_hangup", Port: port, Calls: 1, Keys: map[string]string{"hold_ms": "1000"}})
	}
	for i, c := range callers {
		if res := c.Wait(30 * time.Second); res.ExitCode != 0 {
			t.Fatalf("caller %d: SIPp exit %d: %s", i+1, res.ExitCode, res.ErrorLog)
		}
	}
	// queue_log, through the API: two callers entered and were connected
	// to Alice then Bob (rrmemory; Carol was free too).
	var page struct {
		Items []struct {
			Agent, Event string
			Data         []string
		} `json:"items"`
	}
	deadline := time.Now().Add(5 * time.Second)
	var connects []string
	for {
		if err := json.Unmarshal([]byte(p.mustCLI(t, "", "queue", "log", "--tenant", "acme", "--queue", "support", "-o", "json")), &page); err != nil {
			t.Fatal(err)
		}
		connects = nil
		completes := 0
		for _, r := range page.Items {
			switch {
			case r.Event == "CONNECT":
				connects = append(connects, r.Agent)
			case strings.HasPrefix(r.Event, "COMPLETE"):
				completes++
			}
		}
		if completes == 2 || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if strings.Join(connects, ",") != "Alice,Bob" {
		t.Errorf("connected to %v, want Alice then Bob", connects)
	}
	var st struct {
		Entered, Answered, Abandoned int
		ServiceLevelPct              float64 `json:"service_level_pct"`
		ASA                          float64 `json:"asa_seconds"`
	}
	if err := json.Unmarshal([]byte(p.mustCLI(t, "", "queue", "stats", "support", "--tenant", "acme", "-o", "json")), &st); err != nil {
		t.Fatal(err)
	}
	if st.Entered != 2 || st.Answered != 2 || st.Abandoned != 0 || st.ServiceLevelPct != 100 {
		t.Errorf("stats %+v", st)
	}
	// The AMI saw the callers join and be connected, tenant-tagged.
	got := ami.events(t, "AgentComplete", 2, 10*time.Second)
	for _, want := range []string{"QueueCallerJoin", "AgentCalled", "AgentConnect", "QueueCallerLeave", "AgentComplete"} {
		if got[want] == 0 {
			t.Errorf("AMI: no %s (saw %v)", want, got)
		}
	}
	if got["Tenantid: acme"] == 0 {
		t.Errorf("AMI queue events carry no Tenantid: acme")
	}
}

// amiClient is a raw AMI connection collecting events.
type queueAMI struct {
	c net.Conn
	r *bufio.Reader
}

func queueAMILogin(t *testing.T, addr string) *queueAMI {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	a := &queueAMI{c: c, r: bufio.NewReader(c)}
	if _, err := fmt.Fprint(c, "Action: Login\r\nUsername: admin\r\nSecret: amipass\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	return a
}

// events reads messages until count events named last arrived, counting
// event names and Tenantid lines.
func (a *queueAMI) events(t *testing.T, last string, count int, within time.Duration) map[string]int {
	t.Helper()
	_ = a.c.SetReadDeadline(time.Now().Add(within))
	seen := map[string]int{}
	for seen[last] < count {
		l, err := a.r.ReadString('\n')
		if err != nil {
			t.Errorf("AMI: %v after %v", err, seen)
			return seen
		}
		l = strings.TrimRight(l, "\r\n")
		switch {
		case strings.HasPrefix(l, "Event: "):
			seen[strings.TrimPrefix(l, "Event: ")]++
		case strings.HasPrefix(l, "Tenantid: "):
			seen[l]++
		}
	}
	return seen
}
