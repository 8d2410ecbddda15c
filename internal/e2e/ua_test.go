package e2e

import (
	"context"
	"errors"
	"fmt"
	"net"
	"regexp"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
	"github.com/pion/rtp"

	"github.com/entvoice/entvoice/internal/testpeer"
)

// phone is a minimal SIP user agent built on sipgo with its own RTP socket
// and G.711 codec (testpeer's, not entVoice's media layer), so audio checks
// do not test entVoice against itself. It registers, places and answers
// calls, sends a tone and records what it hears.
type phone struct {
	t        *testing.T
	user     string
	pass     string
	registar string
	codec    testpeer.Codec
	tone     float64 // Hz sent while in a call
	amp      int16   // the tone's amplitude (0: 8000)

	ua     *sipgo.UserAgent
	srv    *sipgo.Server
	client *sipgo.Client
	port   int
	dua    *sipgo.DialogUA

	// Behaviour when called: "answer", "busy" (486), "ignore" (ring forever).
	onInvite    string
	answerAfter time.Duration

	mu       sync.Mutex
	heard    []int16
	invites  int
	lastCall *call
	incoming chan *call
	close    func()
	// inviteHeaders are added to the INVITEs the phone sends.
	inviteHeaders []sip.Header
	// domain is the host of the phone's From and To URIs (hosted mode:
	// its tenant's SIP domain); empty is 127.0.0.1.
	domain string
	// lastFrom is the From host of the last INVITE the phone received.
	lastFrom string
	// speak is audio queued to send instead of the tone (call.say).
	speak []int16
	// notifies are the NOTIFYs the phone received (voicemail_test.go).
	notifies []*sip.Request
	notified chan struct{}
}

// host is the domain part of the phone's address-of-record.
func (p *phone) host() string {
	if p.domain != "" {
		return p.domain
	}
	return "127.0.0.1"
}

// call is one call of a phone.
type call struct {
	p      *phone
	rtp    *net.UDPConn
	remote *net.UDPAddr
	srv    *sipgo.DialogServerSession
	cli    *sipgo.DialogClientSession
	done   chan struct{}
	once   sync.Once
}

// newPhone starts a phone that stops at the test's cleanup.
func newPhone(t *testing.T, registrar, user, pass string, codec testpeer.Codec, tone float64) *phone {
	t.Helper()
	p := makePhone(t, registrar, user, pass, codec, tone)
	t.Cleanup(p.close)
	return p
}

// phone starts a phone that stops after the node: the node's last
// signalling (BYEs at shutdown) still finds it listening.
func (n *testNode) phone(t *testing.T, user, pass string, codec testpeer.Codec, tone float64) *phone {
	t.Helper()
	p := makePhone(t, n.Addr, user, pass, codec, tone)
	n.afterStop = append(n.afterStop, p.close)
	return p
}

func makePhone(t *testing.T, registrar, user, pass string, codec testpeer.Codec, tone float64) *phone {
	t.Helper()
	p := &phone{t: t, user: user, pass: pass, registar: registrar, codec: codec, tone: tone, onInvite: "answer", incoming: make(chan *call, 4)}
	ua, err := sipgo.NewUA(sipgo.WithUserAgent("e2e-phone-" + user))
	if err != nil {
		t.Fatal(err)
	}
	p.ua = ua
	p.port = testpeer.FreeUDPPort(t)
	addr := fmt.Sprintf("127.0.0.1:%d", p.port)
	p.srv, _ = sipgo.NewServer(ua)
	p.client, err = sipgo.NewClient(ua, sipgo.WithClientAddr(addr), sipgo.WithClientConnectionAddr(addr))
	if err != nil {
		t.Fatal(err)
	}
	p.dua = &sipgo.DialogUA{Client: p.client, ContactHDR: sip.ContactHeader{Address: sip.Uri{Scheme: "sip", User: user, Host: "127.0.0.1", Port: p.port}}}
	p.srv.OnInvite(p.handleInvite)
	p.srv.OnAck(p.handleAck)
	p.srv.OnBye(p.handleBye)
	p.notified = make(chan struct{}, 64)
	p.srv.OnNotify(p.handleNotify)
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan struct{})
	served := make(chan struct{})
	go func() {
		defer close(served)
		pc, err := net.ListenPacket("udp", addr)
		if err != nil {
			t.Errorf("phone listen: %v", err)
			close(ready)
			return
		}
		context.AfterFunc(ctx, func() { pc.Close() })
		close(ready)
		_ = p.srv.ServeUDP(pc)
	}()
	<-ready
	for i := 0; i < 200; i++ { // until sipgo has the socket in its pool
		if c, err := p.srv.TransportLayer().GetConnection("udp", addr); err == nil && c != nil {
			_, _ = c.TryClose() // GetConnection took a reference; the listener stays open
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	p.close = func() {
		p.mu.Lock()
		c := p.lastCall
		p.mu.Unlock()
		if c != nil {
			c.stop()
		}
		// Transactions first, then the socket: see sipua.Server.Close.
		ua.Close()
		cancel()
		<-served
		p.client.Close()
		p.srv.Close()
	}
	return p
}

// register registers the phone with digest auth and fails the test on error.
func (p *phone) register(ctx context.Context) {
	p.t.Helper()
	if code := p.tryRegister(ctx, p.pass); code != 200 {
		p.t.Fatalf("register %s: got %d", p.user, code)
	}
}

func (p *phone) tryRegister(ctx context.Context, pass string) int {
	req := sip.NewRequest(sip.REGISTER, sip.Uri{Scheme: "sip", Host: "127.0.0.1", Port: portOf(p.registar)})
	req.AppendHeader(&sip.FromHeader{Address: sip.Uri{Scheme: "sip", User: p.user, Host: p.host()}, Params: tagParams()})
	req.AppendHeader(&sip.ToHeader{Address: sip.Uri{Scheme: "sip", User: p.user, Host: p.host()}})
	req.AppendHeader(&p.dua.ContactHDR)
	req.AppendHeader(sip.NewHeader("Expires", "300"))
	res, err := p.client.Do(ctx, req)
	if err != nil {
		p.t.Fatalf("register: %v", err)
	}
	if res.StatusCode == 401 {
		res, err = p.client.DoDigestAuth(ctx, req, res, sipgo.DigestAuth{Username: p.user, Password: pass})
		if err != nil {
			p.t.Fatalf("register auth: %v", err)
		}
	}
	return res.StatusCode
}

func tagParams() sip.HeaderParams {
	p := sip.NewParams()
	p.Add("tag", sip.GenerateTagN(8))
	return p
}

func portOf(hostport string) int {
	_, ps, _ := net.SplitHostPort(hostport)
	n, _ := strconv.Atoi(ps)
	return n
}

func (p *phone) newRTP() *net.UDPConn {
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		p.t.Fatalf("rtp socket: %v", err)
	}
	return c
}

func (p *phone) sdp(c *net.UDPConn) []byte {
	port := c.LocalAddr().(*net.UDPAddr).Port
	return []byte(fmt.Sprintf("v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio %d RTP/AVP %d 101\r\na=rtpmap:%d %s/8000\r\na=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\na=ptime:20\r\na=sendrecv\r\n",
		port, p.codec, p.codec, p.codec))
}

var sdpConn = regexp.MustCompile(`c=IN IP4 (\S+)`)
var sdpAudio = regexp.MustCompile(`m=audio (\d+) RTP/AVP (\d+)`)

func remoteOf(body []byte) (*net.UDPAddr, int, error) {
	c := sdpConn.FindSubmatch(body)
	m := sdpAudio.FindSubmatch(body)
	if c == nil || m == nil {
		return nil, 0, errors.New("no audio in SDP")
	}
	port, _ := strconv.Atoi(string(m[1]))
	pt, _ := strconv.Atoi(string(m[2]))
	return &net.UDPAddr{IP: net.ParseIP(string(c[1])), Port: port}, pt, nil
}

// setOnInvite changes how the phone answers calls (see onInvite), safely
// while it may be called.
func (p *phone) setOnInvite(mode string) {
	p.mu.Lock()
	p.onInvite = mode
	p.mu.Unlock()
}

func (p *phone) handleInvite(req *sip.Request, tx sip.ServerTransaction) {
	p.mu.Lock()
	p.invites++
	if f := req.From(); f != nil {
		p.lastFrom = f.Address.Host
	}
	mode, delay := p.onInvite, p.answerAfter
	p.mu.Unlock()
	dlg, err := p.dua.ReadInvite(req, tx)
	if err != nil {
		return
	}
	_ = dlg.Respond(180, "Ringing", nil)
	switch mode {
	case "busy":
		_ = dlg.Respond(486, "Busy Here", nil)
		return
	case "ignore":
		<-tx.Done() // until CANCEL
		return
	}
	if delay > 0 {
		select {
		case <-time.After(delay):
		case <-tx.Done():
			return
		}
	}
	remote, _, err := remoteOf(req.Body())
	if err != nil {
		_ = dlg.Respond(488, "Not Acceptable Here", nil)
		return
	}
	c := &call{p: p, rtp: p.newRTP(), remote: remote, srv: dlg, done: make(chan struct{})}
	p.mu.Lock()
	p.lastCall = c
	p.mu.Unlock()
	go c.media()
	if err := dlg.Respond(200, "OK", p.sdp(c.rtp), sip.NewHeader("Content-Type", "application/sdp")); err != nil {
		c.stop()
		return
	}
	p.incoming <- c
	<-c.done
}

// handleAck confirms the answered dialog, which stops sipgo resending 200.
func (p *phone) handleAck(req *sip.Request, tx sip.ServerTransaction) {
	p.mu.Lock()
	c := p.lastCall
	p.mu.Unlock()
	if c != nil && c.srv != nil {
		_ = c.srv.ReadAck(req, tx)
	}
}

func (p *phone) handleBye(req *sip.Request, tx sip.ServerTransaction) {
	p.mu.Lock()
	c := p.lastCall
	p.mu.Unlock()
	_ = tx.Respond(sip.NewResponseFromRequest(req, 200, "OK", nil))
	if c != nil {
		c.stop()
	}
}

// dial calls target through the registrar; it returns the call once
// answered, or the final error response code.
func (p *phone) dial(ctx context.Context, target string) (*call, int, error) {
	c := &call{p: p, rtp: p.newRTP(), done: make(chan struct{})}
	req := sip.NewRequest(sip.INVITE, sip.Uri{Scheme: "sip", User: target, Host: "127.0.0.1", Port: portOf(p.registar)})
	req.AppendHeader(&sip.FromHeader{Address: sip.Uri{Scheme: "sip", User: p.user, Host: p.host()}, Params: tagParams()})
	req.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	for _, h := range p.inviteHeaders {
		req.AppendHeader(h)
	}
	req.SetBody(p.sdp(c.rtp))
	dlg, err := p.dua.WriteInvite(ctx, req)
	if err != nil {
		c.rtp.Close()
		return nil, 0, err
	}
	c.cli = dlg
	if err := dlg.WaitAnswer(ctx, sipgo.AnswerOptions{Username: p.user, Password: p.pass}); err != nil {
		c.rtp.Close()
		var de *sipgo.ErrDialogResponse
		if errors.As(err, &de) {
			return nil, de.Res.StatusCode, nil
		}
		return nil, 0, err
	}
	if err := dlg.Ack(ctx); err != nil {
		c.rtp.Close()
		return nil, 0, err
	}
	remote, _, err := remoteOf(dlg.InviteResponse.Body())
	if err != nil {
		c.rtp.Close()
		return nil, 0, err
	}
	c.remote = remote
	p.mu.Lock()
	p.lastCall = c
	p.mu.Unlock()
	go c.media()
	return c, 200, nil
}

// media sends the phone's tone and records what arrives until the call ends.
func (c *call) media() {
	go func() {
		buf := make([]byte, 1500)
		for {
			n, _, err := c.rtp.ReadFromUDP(buf)
			if err != nil {
				return
			}
			var pkt rtp.Packet
			if pkt.Unmarshal(buf[:n]) != nil || pkt.PayloadType != uint8(c.p.codec) {
				continue
			}
			pcm := c.p.codec.Decode(pkt.Payload)
			c.p.mu.Lock()
			c.p.heard = append(c.p.heard, pcm...)
			c.p.mu.Unlock()
		}
	}()
	amp := c.p.amp
	if amp == 0 {
		amp = 8000
	}
	tone := testpeer.GenerateTone(c.p.tone, 20*time.Second, amp)
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	seq, ts := uint16(1), uint32(0)
	for off := 0; off+160 <= len(tone); off += 160 {
		select {
		case <-c.done:
			return
		case <-t.C:
		}
		pkt := rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: uint8(c.p.codec), SequenceNumber: seq, Timestamp: ts, SSRC: 0x1234}, Payload: c.p.codec.Encode(c.p.frame(tone[off : off+160]))}
		b, _ := pkt.Marshal()
		_, _ = c.rtp.WriteToUDP(b, c.remote)
		seq++
		ts += 160
	}
}

func (c *call) stop() {
	c.once.Do(func() {
		close(c.done)
		c.rtp.Close()
	})
}

// hangup sends BYE.
func (c *call) hangup(ctx context.Context) {
	defer c.stop()
	if c.cli != nil {
		_ = c.cli.Bye(ctx)
		return
	}
	_ = c.srv.Bye(ctx)
}

// heardTone is the amplitude of freq in the last second the phone heard
// (about the tone's peak amplitude when present, near 0 when absent).
func (p *phone) heardTone(freq float64) float64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	pcm := p.heard
	if len(pcm) > 8000 {
		pcm = pcm[len(pcm)-8000:]
	}
	if len(pcm) == 0 {
		return 0
	}
	return testpeer.Goertzel(pcm, 8000, freq)
}

// heardPCM is everything the phone heard, in order.
func (p *phone) heardPCM() []int16 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]int16(nil), p.heard...)
}

func (p *phone) heardSamples() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.heard)
}

// sendDigits sends DTMF as SIP INFO application/dtmf-relay on the call,
// waiting for each 200.
func (c *call) sendDigits(ctx context.Context, digits string) error {
	return c.sendDigitsFor(ctx, digits, 160)
}

// sendDigitsFor is sendDigits with each digit's Duration in ms.
func (c *call) sendDigitsFor(ctx context.Context, digits string, ms int) error {
	// The caller's dialog sends to the Request-URI, the callee's to the
	// caller's Contact.
	target, do := sip.Uri{}, (func(context.Context, *sip.Request) (*sip.Response, error))(nil)
	if c.cli != nil {
		target, do = c.cli.InviteRequest.Recipient, c.cli.Do
	} else {
		target, do = c.srv.InviteRequest.Contact().Address, c.srv.Do
	}
	for _, d := range digits {
		req := sip.NewRequest(sip.INFO, target)
		req.AppendHeader(sip.NewHeader("Content-Type", "application/dtmf-relay"))
		req.SetBody([]byte("Signal=" + string(d) + "\r\nDuration=" + strconv.Itoa(ms) + "\r\n"))
		res, err := do(ctx, req)
		if err != nil {
			return err
		}
		if res.StatusCode != 200 {
			return fmt.Errorf("INFO %c: %d", d, res.StatusCode)
		}
		time.Sleep(100 * time.Millisecond)
	}
	return nil
}
