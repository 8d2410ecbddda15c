package e2e

import (
	"bufio"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/entvoice/entvoice/internal/events"
	"github.com/entvoice/entvoice/internal/testpeer"
)

// TestFloodBannedCallsGoOn: SIPp floods the node with 20,000 INVITEs a
// second from 127.0.0.2, each from a new unknown user, while legitimate
// callers on 127.0.0.1 place authenticated calls: the flooding address is
// banned within the first second by its rate alone (the INVITE bucket,
// then sip.flood_ban_drops; authentication failures, which would ban it
// too, are set out of reach here) and dropped before parsing, and at
// least 99% of the legitimate calls complete. The drops show in the
// counters.
func TestFloodBannedCallsGoOn(t *testing.T) {
	n := startNode(t, nodeSpec{yaml: checkUsers, dialplan: checkPlan, sip: "max_auth_failures: 100000"})
	flooder := netip.MustParseAddr("127.0.0.2")
	flood := testpeer.StartSIPp(t, testpeer.SIPpOptions{Target: n.Addr, Scenario: "uac_flood", Service: "100",
		Calls: 200000, Rate: 20000, LocalIP: flooder.String(), Quiet: true, Timeout: 40 * time.Second})
	defer flood.Stop()
	deadline := time.Now().Add(5 * time.Second)
	for !n.Bans.Banned(flooder) {
		if time.Now().After(deadline) {
			t.Fatalf("the flooding address was not banned; counters %v", n.Bans.Counters())
		}
		time.Sleep(10 * time.Millisecond)
	}
	const calls = 100
	res := testpeer.RunSIPp(t, testpeer.SIPpOptions{Target: n.Addr, Scenario: "uac_call_auth", Service: "100",
		Calls: calls, Rate: 20, Concurrent: 30, AuthUser: "1001", AuthPass: "pass1001", Quiet: true,
		Keys: map[string]string{"caller": "1001", "hold_ms": "300"}, Timeout: 60 * time.Second})
	c := n.Bans.Counters()
	t.Logf("legitimate calls: %d/%d successful while flooded; counters %v", res.Successful, calls, c)
	if res.Successful*100 < calls*99 {
		t.Errorf("only %d of %d legitimate calls succeeded under the flood", res.Successful, calls)
	}
	if c["sip.dropped_banned"] < 1000 {
		t.Errorf("flood packets dropped as banned: %d", c["sip.dropped_banned"])
	}
	if b := n.Bans.List(); len(b) != 1 || b[0].Reason != "flood" || b[0].Service != "SIP" {
		t.Errorf("bans %+v", b)
	}
	flood.Stop()
	n.waitIdle(t)
}

// TestBruteForceBanned: a digest brute force with SIPp (REGISTER with a
// wrong password, over and over) is banned after sip.max_auth_failures;
// then even the right password from that address gets no answer while
// another address registers; AMI, sharing the ban list, refuses the
// banned address too; each failure is a ChallengeResponseFailed security
// event with Asterisk's fields.
func TestBruteForceBanned(t *testing.T) {
	n := startNode(t, nodeSpec{yaml: checkUsers + `ami:
  listen: "127.0.0.1:0"
  users: [{name: admin, secret: amipass1, read: all, write: all}]
`, dialplan: checkPlan, sip: "max_auth_failures: 5"})
	sub := n.Bus.Subscribe(64, func(e *events.Event) bool { return e.Kind == events.ChallengeResponseFailed })
	defer sub.Close()
	attacker := "127.0.0.4"
	res := testpeer.RunSIPp(t, testpeer.SIPpOptions{Target: n.Addr, Scenario: "uac_register_auth", Service: "1001",
		Calls: 12, Rate: 50, AuthUser: "1001", AuthPass: "guess", LocalIP: attacker, Timeout: 8 * time.Second,
		ExtraArgs: []string{"-recv_timeout", "2000"}})
	if res.Successful != 0 {
		t.Fatalf("a wrong password registered: %+v", res)
	}
	if !n.Bans.Banned(netip.MustParseAddr(attacker)) {
		t.Fatalf("not banned after %d failures; bans %+v", res.Failed, n.Bans.List())
	}
	select {
	case e := <-sub.C:
		body := strings.Join(e.Extra, "\n")
		for _, want := range []string{"Severity: Error", "Service: PJSIP", "EventVersion: 1", "AccountID: 1001",
			"RemoteAddress: IPV4/UDP/" + attacker + "/", "LocalAddress: IPV4/UDP/127.0.0.1/", "Challenge: ", "Response: ", "ExpectedResponse: "} {
			if !strings.Contains(body, want) {
				t.Errorf("ChallengeResponseFailed lacks %q:\n%s", want, body)
			}
		}
	case <-time.After(2 * time.Second):
		t.Error("no ChallengeResponseFailed event")
	}
	// The right password from the banned address: no answer at all.
	ok := testpeer.RunSIPp(t, testpeer.SIPpOptions{Target: n.Addr, Scenario: "uac_register_auth", Service: "1001",
		Calls: 1, AuthUser: "1001", AuthPass: "pass1001", LocalIP: attacker, Timeout: 3 * time.Second})
	if ok.Successful != 0 {
		t.Errorf("banned address registered: %+v", ok)
	}
	other := testpeer.RunSIPp(t, testpeer.SIPpOptions{Target: n.Addr, Scenario: "uac_register_auth", Service: "1001",
		Calls: 1, AuthUser: "1001", AuthPass: "pass1001", LocalIP: "127.0.0.5"})
	if other.Successful != 1 {
		t.Errorf("another address could not register: %+v", other)
	}
	// AMI shares the list: the banned address is disconnected at once.
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(attacker)}, Timeout: 2 * time.Second}
	c, err := d.Dial("tcp", n.AMI.Addrs()[0].String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
	if line, err := bufio.NewReader(c).ReadString('\n'); err == nil {
		t.Errorf("AMI greeted a banned address: %q", line)
	}
	n.waitIdle(t)
}

// TestScannerGetsNoAnswer: requests that look like sipvicious (svmap's
// OPTIONS, svwar's REGISTERs for a run of extensions, User-Agent
// friendly-scanner) get no answer over UDP or TCP, and the address is
// banned, so what it sends next is not answered either; an ordinary
// client is answered as always.
func TestScannerGetsNoAnswer(t *testing.T) {
	n := startNode(t, nodeSpec{yaml: checkUsers, dialplan: checkPlan})
	scanner := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 6)}
	r, err := newRawUDPAt(t, n.Addr, scanner)
	if err != nil {
		t.Fatal(err)
	}
	probe := func(method, user, ua string, port int) []byte {
		id := time.Now().UnixNano()
		return fmt.Appendf(nil, "%s sip:%s@127.0.0.1:%d SIP/2.0\r\n"+
			"Via: SIP/2.0/UDP 127.0.0.6:%d;branch=z9hG4bK-%d;rport\r\nMax-Forwards: 70\r\n"+
			"From: \"sipvicious\" <sip:%s@1.1.1.1>;tag=%d\r\nTo: <sip:%s@1.1.1.1>\r\nCall-ID: %d\r\nCSeq: 1 %s\r\n"+
			"Contact: <sip:%s@127.0.0.6:%d>\r\n%sAccept: application/sdp\r\nContent-Length: 0\r\n\r\n",
			method, user, n.Port, port, id, user, id, user, id, method, user, port, ua)
	}
	if got := r.exchange(probe("OPTIONS", "100", "User-Agent: friendly-scanner\r\n", r.port()), 800*time.Millisecond, true); len(got) != 0 {
		t.Fatalf("svmap's OPTIONS answered: %q", firstLine(got[0]))
	}
	for _, ext := range []string{"1000", "1001", "1002"} {
		if got := r.exchange(probe("REGISTER", ext, "", r.port()), 300*time.Millisecond, true); len(got) != 0 {
			t.Errorf("REGISTER %s from the banned scanner answered: %q", ext, firstLine(got[0]))
		}
	}
	if !n.Bans.Banned(netip.MustParseAddr("127.0.0.6")) {
		t.Error("scanner's address not banned")
	}
	// Over TCP, from another address.
	tc, err := (&net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 7)}}).Dial("tcp", n.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer tc.Close()
	msg := strings.ReplaceAll(string(probe("OPTIONS", "100", "User-Agent: sipcli/v1.8\r\n", 5060)), "SIP/2.0/UDP", "SIP/2.0/TCP")
	if _, err := tc.Write([]byte(msg)); err != nil {
		t.Fatal(err)
	}
	_ = tc.SetReadDeadline(time.Now().Add(800 * time.Millisecond))
	if b, _ := bufio.NewReader(tc).ReadString('\n'); b != "" {
		t.Errorf("scanner over TCP answered: %q", b)
	}
	// An ordinary client is answered.
	ordinary := newRawUDP(t, n.Addr)
	if got := ordinary.exchange(probe("OPTIONS", "100", "User-Agent: Yealink SIP-T46U\r\n", ordinary.port()), time.Second, true); len(got) == 0 || statusOf(got[0]) != 200 {
		t.Errorf("an ordinary OPTIONS: %v", got)
	}
	if c := n.Bans.Counters(); c["sip.dropped_scanner"] < 2 {
		t.Errorf("counters %v", c)
	}
}
