package e2e

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"github.com/entvoice/entvoice/internal/events"
	"github.com/entvoice/entvoice/internal/testpeer"
)

// checkUsers: 1001 and 1002 are ordinary users; 1003 may only call from
// 10.0.0.0/8, so every test call of it comes from a refused address.
const checkUsers = `users:
  - {name: "1001", secret: pass1001, context: phones, callerid: '"Alice" <1001>', codecs: [pcmu]}
  - {name: "1002", secret: pass1002, context: phones, callerid: '"Bob" <1002>', codecs: [pcma]}
  - {name: "1003", secret: pass1003, context: phones, permit: ["10.0.0.0/8"]}
`

const checkPlan = `[phones]
exten => 100,1,Answer()
 same => n,Wait(5)
 same => n,Hangup()
exten => _100X,1,Dial(PJSIP/${EXTEN},4)
 same => n,Hangup()
exten => _9XXX,1,Dial(PJSIP/${EXTEN}@carrier1,5)
 same => n,Hangup()

[from-trunk]
exten => 200,1,Answer()
 same => n,Wait(1)
 same => n,Hangup()
`

// expectRefused runs SIPp's uac_expect_code scenario (one digest round
// with -au/-ap when given) and checks the final answer and the message flow.
func expectRefused(t *testing.T, n *testNode, caller, pass, exten string, code int) []string {
	t.Helper()
	opts := testpeer.SIPpOptions{
		Target: n.Addr, Scenario: "uac_expect_code", Service: exten, Calls: 1,
		Keys: map[string]string{"caller": caller, "code": fmt.Sprint(code)},
	}
	if pass != "" {
		opts.AuthUser, opts.AuthPass = caller, pass
	}
	res := testpeer.RunSIPp(t, opts)
	if res.ExitCode != 0 {
		t.Errorf("sipp exit %d, final codes %v, want %d", res.ExitCode, res.FinalCodes(), code)
	}
	if got := res.FinalCodes(); !slices.Equal(got, []int{code}) {
		t.Errorf("final codes %v, want [%d]", got, code)
	}
	flow := startLines(res.MessageLog)
	if len(flow) < 3 || flow[len(flow)-2] != fmt.Sprint(code) || flow[len(flow)-1] != "ACK" {
		t.Errorf("SIP flow %v, want it to end with %d, ACK", flow, code)
	}
	return flow
}

// TestRefusedInvites: INVITEs the node must refuse, and the code it
// refuses them with (chan_pjsip's answers): an extension the caller's
// context lacks (404, after authentication), an offer without a common
// codec (488), a user calling from outside its permit list (403 without a
// challenge: the ACL is checked first) and a From user that is neither a
// user nor covered by a trunk (401: challenged like any user). None of
// them creates a channel.
func TestRefusedInvites(t *testing.T) {
	n := startNode(t, nodeSpec{yaml: checkUsers, dialplan: checkPlan})

	t.Run("unknown extension", func(t *testing.T) {
		flow := expectRefused(t, n, "1001", "pass1001", "999", 404)
		if !slices.Contains(flow, "401") {
			t.Errorf("flow %v: the caller must be authenticated before the dialplan is consulted", flow)
		}
	})
	t.Run("no common codec", func(t *testing.T) {
		code, log := sipp(t, testpeer.SIPpOptions{Target: n.Addr, Scenario: scenario("uac_g729.xml"), Service: "100",
			Keys: map[string]string{"caller": "1001"}, AuthUser: "1001", AuthPass: "pass1001"})
		if code != 0 {
			t.Errorf("sipp exit %d, want the G.729-only offer refused with 488", code)
		}
		if got := startLines(log); !slices.Equal(got, []string{"INVITE", "401", "ACK", "INVITE", "488", "ACK"}) &&
			!slices.Equal(got, []string{"INVITE", "401", "ACK", "INVITE", "100", "488", "ACK"}) {
			t.Errorf("SIP flow %v", got)
		}
		// RFC 3261 20.43: 304 "Media type not available".
		if !strings.Contains(log, "Warning: 304") {
			t.Errorf("488 without Warning 304:\n%s", log)
		}
	})
	t.Run("source outside permit", func(t *testing.T) {
		flow := expectRefused(t, n, "1003", "pass1003", "100", 403)
		if slices.Contains(flow, "401") {
			t.Errorf("flow %v: a refused source must not be challenged", flow)
		}
	})
	t.Run("unknown caller without trunk", func(t *testing.T) {
		// Challenged like a user (Asterisk's artificial endpoint): the
		// answer does not say the user does not exist.
		expectRefused(t, n, "mallory", "", "100", 401)
	})
	n.waitIdle(t)
	if rows := n.cdrs(t, 0); len(rows) != 0 {
		t.Errorf("refused INVITEs left CDRs: %+v", rows)
	}
}

// TestInviteChallenge: a known user calling without credentials gets 401
// with a WWW-Authenticate digest challenge (RFC 3261 22.2); a wrong
// password gets 401 again with a fresh nonce; the right password passes
// authentication (and reaches the dialplan, which has no 999: 404).
func TestInviteChallenge(t *testing.T) {
	n := startNode(t, nodeSpec{yaml: checkUsers, dialplan: checkPlan})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	p := newPhone(t, n.Addr, "1001", "pass1001", testpeer.PCMU, 1000)
	rtp := p.newRTP()
	defer rtp.Close()
	invite := func() *sip.Request {
		req := sip.NewRequest(sip.INVITE, sip.Uri{Scheme: "sip", User: "999", Host: "127.0.0.1", Port: n.Port})
		req.AppendHeader(&sip.FromHeader{Address: sip.Uri{Scheme: "sip", User: "1001", Host: "127.0.0.1"}, Params: tagParams()})
		req.AppendHeader(&sip.ToHeader{Address: sip.Uri{Scheme: "sip", User: "999", Host: "127.0.0.1"}})
		req.AppendHeader(&p.dua.ContactHDR)
		req.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
		req.SetBody(p.sdp(rtp))
		return req
	}
	nonceOf := func(res *sip.Response) string {
		h := res.GetHeader("WWW-Authenticate")
		if h == nil {
			t.Fatalf("%d without WWW-Authenticate", res.StatusCode)
		}
		v := h.Value()
		if !strings.HasPrefix(v, "Digest ") || !strings.Contains(v, `realm="entvoice"`) {
			t.Errorf("challenge %q", v)
		}
		_, rest, ok := strings.Cut(v, `nonce="`)
		nonce, _, _ := strings.Cut(rest, `"`)
		if !ok || nonce == "" {
			t.Fatalf("challenge without nonce: %q", v)
		}
		return nonce
	}

	req := invite()
	res, err := p.client.Do(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != 401 {
		t.Fatalf("INVITE without credentials: %d, want 401", res.StatusCode)
	}
	first := nonceOf(res)

	res, err = p.client.DoDigestAuth(ctx, req, res, sipgo.DigestAuth{Username: "1001", Password: "wrong"})
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != 401 {
		t.Fatalf("INVITE with a wrong password: %d, want 401", res.StatusCode)
	}
	if second := nonceOf(res); second == first {
		t.Errorf("second challenge reuses nonce %q", first)
	}

	req = invite()
	res, err = p.client.Do(ctx, req)
	if err != nil || res.StatusCode != 401 {
		t.Fatalf("fresh INVITE: %v %v", res, err)
	}
	res, err = p.client.DoDigestAuth(ctx, req, res, sipgo.DigestAuth{Username: "1001", Password: "pass1001"})
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != 404 {
		t.Fatalf("authenticated INVITE to a missing extension: %d, want 404", res.StatusCode)
	}
	n.waitIdle(t)
}

// TestTrunkInbound: SIPp's built-in uac (From user "sipp", not a user)
// calls from 127.0.0.1, which trunk t1 matches: no challenge, and the call
// runs in the trunk's context from-trunk.
func TestTrunkInbound(t *testing.T) {
	n := startNode(t, nodeSpec{yaml: checkUsers + `trunks:
  - {name: t1, match: ["127.0.0.1/32"], context: from-trunk}
`, dialplan: checkPlan})
	res := testpeer.RunSIPp(t, testpeer.SIPpOptions{Target: n.Addr, Scenario: "uac", Service: "200", Calls: 1})
	if res.ExitCode != 0 {
		t.Fatalf("sipp uac exit %d (successful %d, failed %d)", res.ExitCode, res.Successful, res.Failed)
	}
	if flow := startLines(res.MessageLog); slices.Contains(flow, "401") || !slices.Contains(flow, "200") {
		t.Errorf("SIP flow %v: want the trunk call answered without a challenge", flow)
	}
	n.waitIdle(t)
	rows := n.cdrs(t, 1)
	if len(rows) != 1 {
		t.Fatalf("want 1 CDR, got %+v", rows)
	}
	r := rows[0]
	if r.DContext != "from-trunk" || r.Dst != "200" || r.Disposition != "ANSWERED" || !strings.HasPrefix(r.Channel, "PJSIP/t1-") {
		t.Errorf("CDR %+v, want an answered call on PJSIP/t1- in from-trunk,200", r)
	}

	// A known user is still identified by name first (endpoint_identifier_order=
	// username,ip): calling from the trunk's address does not skip its challenge.
	flow := expectRefused(t, n, "1001", "pass1001", "999", 404)
	if !slices.Contains(flow, "401") {
		t.Errorf("flow %v: user 1001 was not challenged", flow)
	}
}

// TestOptions: OPTIONS outside a dialog gets 200 with Allow listing the
// methods the node handles (RFC 3261 section 11.2).
func TestOptions(t *testing.T) {
	n := startNode(t, nodeSpec{yaml: checkUsers, dialplan: checkPlan})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	p := newPhone(t, n.Addr, "1001", "pass1001", testpeer.PCMU, 1000)
	req := sip.NewRequest(sip.OPTIONS, sip.Uri{Scheme: "sip", Host: "127.0.0.1", Port: n.Port})
	req.AppendHeader(&sip.FromHeader{Address: sip.Uri{Scheme: "sip", User: "prober", Host: "127.0.0.1"}, Params: tagParams()})
	req.AppendHeader(&sip.ToHeader{Address: sip.Uri{Scheme: "sip", Host: "127.0.0.1", Port: n.Port}})
	res, err := p.client.Do(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != 200 {
		t.Fatalf("OPTIONS: %d, want 200", res.StatusCode)
	}
	h := res.GetHeader("Allow")
	if h == nil {
		t.Fatal("200 to OPTIONS without Allow")
	}
	for _, m := range []string{"INVITE", "ACK", "CANCEL", "BYE", "OPTIONS"} {
		if !slices.Contains(strings.Split(strings.ReplaceAll(h.Value(), " ", ""), ","), m) {
			t.Errorf("Allow %q lacks %s", h.Value(), m)
		}
	}
}

// TestHoldUnhold: the caller puts a call on hold with a re-INVITE offering
// a=sendonly and takes it off hold with a=sendrecv (RFC 3264 section 8.4).
// The node answers recvonly then sendrecv, stops sending audio to the held
// caller, plays music on hold to the callee instead of the caller's audio
// (Asterisk's bridge starts the held party's music on AST_CONTROL_HOLD)
// and publishes Hold and Unhold; audio flows both ways again after unhold.
func TestHoldUnhold(t *testing.T) {
	n := startNode(t, nodeSpec{yaml: checkUsers, dialplan: checkPlan})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	sub := n.Bus.Subscribe(1024, func(e *events.Event) bool { return e.Kind == events.Hold || e.Kind == events.Unhold })
	defer sub.Close()
	alice := newPhone(t, n.Addr, "1001", "pass1001", testpeer.PCMU, 1000)
	bob := newPhone(t, n.Addr, "1002", "pass1002", testpeer.PCMA, 700)
	alice.register(ctx)
	bob.register(ctx)
	c, code, err := alice.dial(ctx, "1002")
	if err != nil || code != 200 {
		t.Fatalf("dial: code %d err %v", code, err)
	}
	time.Sleep(1500 * time.Millisecond)
	if a := alice.heardTone(700); a < 3000 {
		t.Fatalf("before hold alice does not hear bob: %.0f", a)
	}

	res, err := c.reinvite(ctx, "sendonly", 2)
	if err != nil {
		t.Fatalf("hold: %v", err)
	}
	if res.StatusCode != 200 {
		t.Fatalf("hold re-INVITE: %d, want 200", res.StatusCode)
	}
	if d := sdpDirection(res.Body()); d != "recvonly" {
		t.Errorf("hold answer direction %q, want recvonly:\n%s", d, res.Body())
	}
	time.Sleep(300 * time.Millisecond) // packets already on their way
	before := alice.heardSamples()
	time.Sleep(time.Second)
	got := alice.heardSamples() - before
	t.Logf("during hold: alice received %d samples, bob hears 1 kHz at %.0f", got, bob.heardTone(1000))
	if got > 800 {
		t.Errorf("held caller received %d samples in 1 s; a recvonly answerer must not send", got)
	}
	if a := bob.heardTone(1000); a > 800 {
		t.Errorf("bob hears alice's 1 kHz during hold (%.0f); he should hear music on hold", a)
	}
	if l := meanAbs(lastSecond(bob.heardPCM())); l < 300 {
		t.Errorf("bob hears no music on hold: level %.0f", l)
	}

	res, err = c.reinvite(ctx, "sendrecv", 3)
	if err != nil {
		t.Fatalf("unhold: %v", err)
	}
	if res.StatusCode != 200 {
		t.Fatalf("unhold re-INVITE: %d, want 200", res.StatusCode)
	}
	if d := sdpDirection(res.Body()); d != "sendrecv" {
		t.Errorf("unhold answer direction %q, want sendrecv:\n%s", d, res.Body())
	}
	time.Sleep(1500 * time.Millisecond)
	if a, b := alice.heardTone(700), alice.heardTone(1000); a < 3000 || b > 800 {
		t.Errorf("after unhold alice should hear bob's 700 Hz: 700 Hz %.0f, 1000 Hz %.0f", a, b)
	}
	if a := bob.heardTone(1000); a < 3000 {
		t.Errorf("after unhold bob should hear alice's 1000 Hz: %.0f", a)
	}
	c.hangup(ctx)
	n.waitIdle(t)
	var holds []string
	for len(holds) < 2 {
		select {
		case e := <-sub.C:
			holds = append(holds, string(e.Kind)+":"+e.Channel.Channel+":"+e.MusicClass)
		case <-time.After(2 * time.Second):
			t.Fatalf("hold events: %q", holds)
		}
	}
	if !strings.HasPrefix(holds[0], "Hold:PJSIP/1001-") || !strings.HasSuffix(holds[0], ":default") ||
		!strings.HasPrefix(holds[1], "Unhold:PJSIP/1001-") {
		t.Errorf("hold events %q, want Hold (MusicClass default) then Unhold of alice's channel", holds)
	}
	rows := n.cdrs(t, 1)
	if len(rows) != 1 || rows[0].Disposition != "ANSWERED" || rows[0].BillSec < 3 {
		t.Errorf("CDRs %+v, want one ANSWERED call of about 4 s", rows)
	}
}

// TestCallOverTCP: SIPp calls over TCP (the node listens on TCP on the
// same port as UDP), authenticates and is answered; the whole dialog
// stays on the TCP connection.
func TestCallOverTCP(t *testing.T) {
	n := startNode(t, nodeSpec{yaml: checkUsers, dialplan: checkPlan})
	res := testpeer.RunSIPp(t, testpeer.SIPpOptions{
		Target: n.Addr, Scenario: "uac_call_auth", Transport: "t1", Service: "100", Calls: 1,
		AuthUser: "1001", AuthPass: "pass1001",
		Keys: map[string]string{"caller": "1001", "hold_ms": "1500"},
	})
	if res.ExitCode != 0 {
		t.Fatalf("sipp over TCP exit %d", res.ExitCode)
	}
	flow := startLines(res.MessageLog)
	if !slices.Equal(flow, []string{"INVITE", "401", "ACK", "INVITE", "100", "200", "ACK", "BYE", "200"}) {
		t.Errorf("SIP flow %v", flow)
	}
	if strings.Contains(res.MessageLog, "SIP/2.0/UDP") || !strings.Contains(res.MessageLog, "SIP/2.0/TCP") {
		t.Errorf("the dialog left TCP:\n%s", res.MessageLog)
	}
	n.waitIdle(t)
	rows := n.cdrs(t, 1)
	if len(rows) != 1 {
		t.Fatalf("want 1 CDR, got %+v", rows)
	}
	r := rows[0]
	if r.Disposition != "ANSWERED" || r.Src != "1001" || r.Dst != "100" || !strings.HasPrefix(r.Channel, "PJSIP/1001-") || r.BillSec < 1 || r.BillSec > 3 {
		t.Errorf("CDR %+v", r)
	}
}

// TestDialTrunk: Dial(PJSIP/${EXTEN}@carrier1) sends the call to the
// trunk's host, a SIPp UAS that echoes RTP: the caller is answered, hears
// its own tone back through both legs, and the CDR names the trunk leg.
func TestDialTrunk(t *testing.T) {
	uas := testpeer.StartSIPp(t, testpeer.SIPpOptions{Scenario: "uas", RTPEcho: true, Timeout: 60 * time.Second})
	n := startNode(t, nodeSpec{yaml: checkUsers + fmt.Sprintf(`trunks:
  - {name: carrier1, host: "%s", context: from-trunk}
`, uas.Addr()), dialplan: checkPlan})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	alice := newPhone(t, n.Addr, "1001", "pass1001", testpeer.PCMU, 1000)
	c, code, err := alice.dial(ctx, "9555")
	if err != nil || code != 200 {
		t.Fatalf("dial 9555: code %d err %v", code, err)
	}
	time.Sleep(1500 * time.Millisecond)
	t.Logf("echo through the trunk: 1 kHz at %.0f", alice.heardTone(1000))
	if a := alice.heardTone(1000); a < 3000 {
		t.Errorf("alice should hear her tone echoed by the trunk: %.0f (%d samples)", a, alice.heardSamples())
	}
	c.hangup(ctx)
	n.waitIdle(t)
	rows := n.cdrs(t, 1)
	if len(rows) != 1 {
		t.Fatalf("want 1 CDR, got %+v", rows)
	}
	r := rows[0]
	if r.Disposition != "ANSWERED" || r.Dst != "9555" || r.LastApp != "Dial" || !strings.HasPrefix(r.DstChannel, "PJSIP/carrier1-") {
		t.Errorf("CDR %+v, want an answered Dial to PJSIP/carrier1-", r)
	}
	sipp := uas.Stop()
	if !strings.Contains(sipp.MessageLog, "INVITE sip:9555@"+uas.Addr()+" SIP/2.0") {
		t.Errorf("the trunk did not get INVITE sip:9555@%s:\n%s", uas.Addr(), sipp.MessageLog)
	}
	if flow := startLines(sipp.MessageLog); !slices.Contains(flow, "BYE") {
		t.Errorf("trunk flow %v: no BYE after the caller hung up", flow)
	}
}
