package e2e

import (
	"context"
	"errors"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"github.com/entvoice/entvoice/internal/channel"
	"github.com/entvoice/entvoice/internal/testpeer"
)

// TestDelayedOfferSIPpEcho: SIPp calls the echo test with an INVITE
// without SDP (RFC 3261 section 13.2.1): the node offers in its 200 OK and
// takes SIPp's answer from the ACK, then, in the dialog, answers a
// re-INVITE without SDP with an offer whose answer comes in the ACK. The
// answer names an RTP recorder: it speaks a 1 kHz tone to the node's
// media address, and must hear it back (checked on the wire), both after
// the first ACK and after the re-INVITE's.
func TestDelayedOfferSIPpEcho(t *testing.T) {
	testpeer.SIPpPath(t)
	n := startNode(t, nodeSpec{yaml: appsUsers, dialplan: appsPlan})
	rec := testpeer.RecordRTP(t)
	uac := testpeer.StartSIPp(t, testpeer.SIPpOptions{Target: n.Addr, Scenario: "uac_delayed_offer", Service: "601", Calls: 1,
		AuthUser: "1001", AuthPass: "pass1001", Timeout: 60 * time.Second,
		Keys: map[string]string{"caller": "1001", "rtp_port": strconv.Itoa(rec.Port()), "hold_ms": "3000"}})

	// The echo answers only what it hears: speak first, once the call is
	// up and its media knows the answer's address.
	ch := waitAnsweredChannel(t, n, 10*time.Second)
	local := ch.Media().LocalAddr()
	rec.SendTo(netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), local.Port()), testpeer.PCMU, testpeer.GenerateTone(1000, 8*time.Second, 8000))
	if !rec.WaitPackets(100, 5*time.Second) {
		t.Fatalf("no echo after the ACK's answer: %d packets", len(rec.Packets()))
	}
	res := uac.Wait(40 * time.Second)
	if res == nil {
		t.Fatal("SIPp did not finish")
	}
	if res.ExitCode != 0 || res.Successful != 1 {
		t.Fatalf("SIPp exit %d, %d successful\n%s", res.ExitCode, res.Successful, res.MessageLog)
	}
	// Every 200 to a body-less INVITE carried the node's offer.
	if got := strings.Count(res.MessageLog, "m=audio "); got < 4 {
		t.Errorf("offers and answers in the log: %d m= lines, want 4 (two offers in 200s, two answers in ACKs)", got)
	}
	pcm := rec.PCM(testpeer.PCMU)
	if len(pcm) < 16000 {
		t.Fatalf("heard %d samples", len(pcm))
	}
	if g := testpeer.Goertzel(pcm[len(pcm)/4:len(pcm)/2], 8000, 1000); g < 3000 {
		t.Errorf("echo after the first answer: 1 kHz amplitude %.0f", g)
	}
	if g := testpeer.Goertzel(pcm[len(pcm)*3/4:], 8000, 1000); g < 3000 {
		t.Errorf("echo after the re-INVITE's answer: 1 kHz amplitude %.0f", g)
	}
	n.waitIdle(t)
}

// TestDelayedOfferBadAnswer: an ACK whose SDP has no codec the node
// offered ends the call with BYE (RFC 3261 section 13.3.1.4).
func TestDelayedOfferBadAnswer(t *testing.T) {
	n := startNode(t, nodeSpec{yaml: appsUsers, dialplan: appsPlan})
	p := n.phone(t, "1001", "pass1001", testpeer.PCMU, 1000)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, offer, err := p.dialDelayed(ctx, "601", func(answer string) string {
		return strings.NewReplacer("RTP/AVP 0 101", "RTP/AVP 18", "a=rtpmap:0 PCMU/8000", "a=rtpmap:18 G729/8000").Replace(answer)
	})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(offer, "m=audio ") {
		t.Fatalf("200 without an offer:\n%s", offer)
	}
	select {
	case <-c.done: // the phone stops the call on BYE
	case <-ctx.Done():
		t.Fatal("no BYE after an unusable answer")
	}
	n.waitIdle(t)
	rows := n.cdrs(t, 1)
	if len(rows) != 1 || rows[0].Disposition != "ANSWERED" {
		t.Errorf("CDR %+v", rows)
	}
}

// TestReinviteWithoutSDPHold: a sipgo phone holds the call by answering
// the node's offer (to its re-INVITE without SDP) with a=sendonly in the
// ACK: the node's echo then stops sending to it; answering sendrecv again
// brings the echo back.
func TestReinviteWithoutSDPHold(t *testing.T) {
	n := startNode(t, nodeSpec{yaml: appsUsers, dialplan: appsPlan})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	p, c := dialApp(t, n, "601")
	time.Sleep(time.Second) // let the echo run
	if a := p.heardTone(1000); a < 3000 {
		t.Fatalf("echo before hold: %.0f", a)
	}
	if err := c.reinviteDelayed(ctx, "sendonly", 2); err != nil {
		t.Fatal(err)
	}
	ch := waitAnsweredChannel(t, n, time.Second)
	before := ch.Media().Stats().PacketsOut
	time.Sleep(600 * time.Millisecond)
	if sent := ch.Media().Stats().PacketsOut - before; sent > 2 {
		t.Errorf("node sent %d packets to a phone that holds the call", sent)
	}
	if err := c.reinviteDelayed(ctx, "sendrecv", 3); err != nil {
		t.Fatal(err)
	}
	before = ch.Media().Stats().PacketsOut
	time.Sleep(600 * time.Millisecond)
	if sent := ch.Media().Stats().PacketsOut - before; sent < 10 {
		t.Errorf("node sent %d packets after unhold", sent)
	}
	c.hangup(ctx)
	n.waitIdle(t)
}

// waitAnsweredChannel waits for the node's one answered channel.
func waitAnsweredChannel(t *testing.T, n *testNode, d time.Duration) *channel.Channel {
	t.Helper()
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		for _, ch := range n.Channels.List() {
			if ch.State() == channel.StateUp && ch.Media() != nil {
				return ch
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatal("no answered channel")
	return nil
}

// dialDelayed calls target with an INVITE without SDP and answers the
// node's offer in the ACK with the phone's own description, rewritten by
// edit. It returns the call and the offer.
func (p *phone) dialDelayed(ctx context.Context, target string, edit func(string) string) (*call, string, error) {
	c := &call{p: p, rtp: p.newRTP(), done: make(chan struct{})}
	req := sip.NewRequest(sip.INVITE, sip.Uri{Scheme: "sip", User: target, Host: "127.0.0.1", Port: portOf(p.registar)})
	req.AppendHeader(&sip.FromHeader{Address: sip.Uri{Scheme: "sip", User: p.user, Host: p.host()}, Params: tagParams()})
	dlg, err := p.dua.WriteInvite(ctx, req)
	if err != nil {
		c.rtp.Close()
		return nil, "", err
	}
	c.cli = dlg
	if err := dlg.WaitAnswer(ctx, sipgo.AnswerOptions{Username: p.user, Password: p.pass}); err != nil {
		c.rtp.Close()
		var de *sipgo.ErrDialogResponse
		if errors.As(err, &de) {
			return nil, "", errors.New(de.Res.StartLine())
		}
		return nil, "", err
	}
	offer := string(dlg.InviteResponse.Body())
	to := dlg.InviteRequest.Recipient
	if ct := dlg.InviteResponse.Contact(); ct != nil {
		to = ct.Address
	}
	ack := sip.NewRequest(sip.ACK, to)
	ack.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	ack.SetBody([]byte(edit(string(p.sdp(c.rtp)))))
	// The node may answer the ACK with a BYE at once: the phone must
	// know the call first.
	p.mu.Lock()
	p.lastCall = c
	p.mu.Unlock()
	if err := dlg.WriteAck(ctx, ack); err != nil {
		c.rtp.Close()
		return nil, offer, err
	}
	return c, offer, nil
}

// reinviteDelayed sends a re-INVITE without SDP on a call the phone placed
// and answers the node's offer in the ACK with direction dir (RFC 3264
// section 8.4: a=sendonly holds). version is the answer's o= version.
func (c *call) reinviteDelayed(ctx context.Context, dir string, version int) error {
	target := c.cli.InviteRequest.Recipient
	if ct := c.cli.InviteResponse.Contact(); ct != nil {
		target = ct.Address
	}
	req := sip.NewRequest(sip.INVITE, target)
	res, err := c.cli.Do(ctx, req)
	if err != nil {
		return err
	}
	if !res.IsSuccess() || !strings.Contains(string(res.Body()), "m=audio ") {
		return errors.New("re-INVITE without SDP: " + res.StartLine() + " without an offer")
	}
	body := strings.Replace(string(c.p.sdp(c.rtp)), "a=sendrecv", "a="+dir, 1)
	body = strings.Replace(body, "o=- 1 1 ", "o=- 1 "+strconv.Itoa(version)+" ", 1)
	ack := sip.NewRequest(sip.ACK, target)
	ack.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	ack.SetBody([]byte(body))
	return c.cli.WriteRequest(ack)
}
