package e2e

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"
	"github.com/icholy/digest"

	"github.com/entvoice/entvoice/internal/testpeer"
)

// wsPhone is a SIP client over a WebSocket (RFC 7118) as a browser's
// JsSIP is: Via SIP/2.0/WS with an .invalid host, a Contact nobody can
// dial, one SIP message per text frame.
type wsPhone struct {
	t    *testing.T
	conn net.Conn
	host string // the .invalid host of its Via and Contact
}

func dialWS(t *testing.T, url string, tlsCfg *tls.Config) *wsPhone {
	t.Helper()
	d := ws.Dialer{Protocols: []string{"sip"}, Timeout: 3 * time.Second, TLSConfig: tlsCfg}
	conn, br, hs, err := d.Dial(context.Background(), url)
	if err != nil {
		t.Fatalf("websocket %s: %v", url, err)
	}
	if br != nil {
		ws.PutReader(br)
	}
	if hs.Protocol != "sip" {
		t.Errorf("negotiated subprotocol %q, want sip (RFC 7118 section 4.1)", hs.Protocol)
	}
	t.Cleanup(func() { conn.Close() })
	return &wsPhone{t: t, conn: conn, host: fmt.Sprintf("wsp%d.invalid", time.Now().UnixNano()%100000)}
}

func (p *wsPhone) send(msg string) {
	p.t.Helper()
	if err := wsutil.WriteClientText(p.conn, []byte(msg)); err != nil {
		p.t.Fatalf("ws send: %v", err)
	}
}

func (p *wsPhone) read(d time.Duration) string {
	p.t.Helper()
	_ = p.conn.SetReadDeadline(time.Now().Add(d))
	for {
		b, err := wsutil.ReadServerText(p.conn)
		if err != nil {
			return ""
		}
		if s := string(b); !strings.HasPrefix(s, "SIP/2.0 100") {
			return s
		}
	}
}

func (p *wsPhone) register(user, transport string, cseq int, auth string) string {
	return fmt.Sprintf("REGISTER sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/%s %s;branch=z9hG4bK-ws-%d-%d\r\n"+
		"Max-Forwards: 70\r\nTo: <sip:%s@127.0.0.1>\r\nFrom: <sip:%s@127.0.0.1>;tag=wst\r\nCall-ID: ws-reg-%s\r\n"+
		"CSeq: %d REGISTER\r\nContact: <sip:%s@%s;transport=ws>\r\nExpires: 600\r\n%sUser-Agent: JsSIP 3.10.1\r\nContent-Length: 0\r\n\r\n",
		transport, p.host, cseq, time.Now().UnixNano(), user, user, p.host, cseq, user, p.host, auth)
}

// authorize answers a 401 for user/pass as the REGISTER's digest.
func authorize(t *testing.T, res, user, pass string) string {
	t.Helper()
	var chal string
	for _, l := range strings.Split(res, "\r\n") {
		if v, ok := strings.CutPrefix(l, "WWW-Authenticate: "); ok {
			chal = v
		}
	}
	c, err := digest.ParseChallenge(chal)
	if err != nil {
		t.Fatalf("challenge %q: %v", chal, err)
	}
	cred, err := digest.Digest(c, digest.Options{Method: "REGISTER", URI: "sip:127.0.0.1", Username: user, Password: pass})
	if err != nil {
		t.Fatal(err)
	}
	return "Authorization: " + cred.String() + "\r\n"
}

// TestSIPOverWebSocket: a browser-like client registers over WS (RFC 7118)
// with digest authentication; a call to it from a UDP phone reaches it
// over its WebSocket (its Contact, an .invalid host, is never dialled) and
// its 486 comes back to the caller; WSS works with the listener's
// certificate; garbage on a WebSocket closes that connection only.
func TestSIPOverWebSocket(t *testing.T) {
	ports := testpeer.FreePorts(t, 2)
	n := startNode(t, nodeSpec{yaml: checkUsers, dialplan: checkPlan,
		listen: []string{fmt.Sprintf("ws:127.0.0.1:%d", ports[0]), fmt.Sprintf("wss:127.0.0.1:%d", ports[1])}})
	p := dialWS(t, fmt.Sprintf("ws://127.0.0.1:%d", ports[0]), nil)
	p.send(p.register("1002", "WS", 1, ""))
	res := p.read(3 * time.Second)
	if !strings.HasPrefix(res, "SIP/2.0 401") {
		t.Fatalf("first REGISTER over WS: %q", firstLine(res))
	}
	p.send(p.register("1002", "WS", 2, authorize(t, res, "1002", "pass1002")))
	if res = p.read(3 * time.Second); !strings.HasPrefix(res, "SIP/2.0 200") {
		t.Fatalf("authorized REGISTER over WS: %q", res)
	}
	if b := n.SIP.Registrar().Lookup("1002"); len(b) != 1 || !strings.EqualFold(b[0].Transport, "WS") {
		t.Fatalf("bindings %+v", b)
	}

	// A call to 1002 reaches the WebSocket.
	alice := n.phone(t, "1001", "pass1001", testpeer.PCMU, 1000)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	type dialed struct{ code int }
	done := make(chan dialed, 1)
	go func() {
		_, code, _ := alice.dial(ctx, "1002")
		done <- dialed{code}
	}()
	inv := p.read(5 * time.Second)
	if !strings.HasPrefix(inv, "INVITE sip:1002@"+p.host) {
		t.Fatalf("no INVITE over the WebSocket: %q", firstLine(inv))
	}
	msg, err := sip.ParseMessage([]byte(inv))
	if err != nil {
		t.Fatal(err)
	}
	req := msg.(*sip.Request)
	busy := sip.NewResponseFromRequest(req, 486, "Busy Here", nil)
	p.send(busy.String())
	select {
	case d := <-done:
		if d.code != 486 {
			t.Errorf("caller got %d, want 486 from the WebSocket phone", d.code)
		}
	case <-ctx.Done():
		t.Fatal("the caller never got the answer")
	}
	// Its ACK.
	if ack := p.read(3 * time.Second); !strings.HasPrefix(ack, "ACK ") {
		t.Errorf("no ACK for the 486: %q", firstLine(ack))
	}

	// WSS with the self-signed certificate made on first start.
	pem, err := os.ReadFile(filepath.Join(n.DataDir, "tls", "sip.crt"))
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(pem)
	s := dialWS(t, fmt.Sprintf("wss://127.0.0.1:%d", ports[1]), &tls.Config{RootCAs: roots})
	s.send(s.register("1001", "WSS", 1, ""))
	if res := s.read(3 * time.Second); !strings.HasPrefix(res, "SIP/2.0 401") {
		t.Fatalf("REGISTER over WSS: %q", firstLine(res))
	}

	// Garbage: a frame header announcing far more than the message limit,
	// then junk. The connection goes; the node stays.
	g := dialWS(t, fmt.Sprintf("ws://127.0.0.1:%d", ports[0]), nil)
	if _, err := g.conn.Write([]byte{0x81, 0xff, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 1, 2, 3, 4}); err != nil {
		t.Fatal(err)
	}
	_, _ = g.conn.Write([]byte(strings.Repeat("x", 4096)))
	_ = g.conn.SetReadDeadline(time.Now().Add(3 * time.Second))
	if _, err := io.ReadAll(bufio.NewReader(g.conn)); err != nil && !strings.Contains(err.Error(), "reset") {
		var ne net.Error
		if asNetErr(err, &ne) && ne.Timeout() {
			t.Error("a WebSocket sending garbage was not closed")
		}
	}
	p.send(p.register("1002", "WS", 3, ""))
	if res := p.read(3 * time.Second); !strings.HasPrefix(res, "SIP/2.0 401") {
		t.Errorf("after the garbage, the first WebSocket: %q", firstLine(res))
	}
	n.waitIdle(t)
}

func asNetErr(err error, ne *net.Error) bool {
	e, ok := err.(net.Error)
	if ok {
		*ne = e
	}
	return ok
}
