package registrar

import (
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
)

// udpPair starts a wrapped server socket with a reader goroutine that
// forwards the datagrams ReadFrom passes through, and a client socket.
func udpPair(t *testing.T, f *fixture) (client net.PacketConn, server net.Addr, passed <-chan string) {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	wrapped := WrapPacketConn(pc, f.reg)
	ch := make(chan string, 16)
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 65535)
		for {
			n, _, err := wrapped.ReadFrom(buf)
			if err != nil {
				return
			}
			ch <- string(buf[:n])
		}
	}()
	cl, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		wrapped.Close()
		<-done
		cl.Close()
	})
	return cl, pc.LocalAddr(), ch
}

func readResponse(t *testing.T, c net.PacketConn) *sip.Response {
	t.Helper()
	// Safety net only: a lost reply must fail the test, not hang it.
	if err := c.SetReadDeadline(time.Now().Add(5 * time.Second)); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 65535)
	n, _, err := c.ReadFrom(buf)
	if err != nil {
		t.Fatalf("no response: %v", err)
	}
	m, err := sip.ParseMessage(buf[:n])
	if err != nil {
		t.Fatalf("parse response: %v\n%s", err, buf[:n])
	}
	res, ok := m.(*sip.Response)
	if !ok {
		t.Fatalf("got a request: %s", m)
	}
	return res
}

func TestWrapPacketConn(t *testing.T) {
	f := newFixture(t, nil)
	cl, srv, passed := udpPair(t, f)
	send := func(s string) {
		t.Helper()
		if _, err := cl.WriteTo([]byte(s), srv); err != nil {
			t.Fatal(err)
		}
	}
	clientPort := strconv.Itoa(cl.LocalAddr().(*net.UDPAddr).Port)

	send(f.regText("1001", contactA))
	res := readResponse(t, cl)
	wantStatus(t, res, 401)
	if rp, _ := res.Via().Params.Get("rport"); rp != clientPort {
		t.Fatalf("rport = %q, want %s", rp, clientPort)
	}
	if rc, _ := res.Via().Params.Get("received"); rc != "127.0.0.1" {
		t.Fatalf("received = %q", rc)
	}
	send(f.regText("1001", contactA, authHeader(t, res, 0, "1001", "pass1001")))
	wantStatus(t, readResponse(t, cl), 200)
	b := f.reg.Lookup("1001")
	if len(b) != 1 || b[0].Source.String() != cl.LocalAddr().String() || b[0].Transport != "UDP" {
		t.Fatalf("binding = %+v", b)
	}

	// Other traffic reaches the caller of ReadFrom untouched.
	opt := "OPTIONS sip:x SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1;branch=z9hG4bKo\r\n\r\n"
	send(opt)
	if got := <-passed; got != opt {
		t.Fatalf("passed through %q", got)
	}

	// A REGISTER that cannot be parsed at all is dropped; one whose
	// Contact is broken gets a 400. The 400 is the next reply we see.
	send("REGISTER garbage\r\n\r\n")
	bad := strings.Replace(f.regText("1001"), "User-Agent:", "Contact: <sip:1001@[::1\r\nUser-Agent:", 1)
	bad = strings.Replace(bad, "Call-ID: call-1@phone", "Call-ID: broken-contact", 1)
	if _, err := sip.ParseMessage([]byte(bad)); err == nil {
		t.Fatal("test precondition: sipgo parses the broken Contact")
	}
	send(bad)
	res = readResponse(t, cl)
	wantStatus(t, res, 400)
	if string(*res.CallID()) != "broken-contact" {
		t.Fatalf("400 for %q", *res.CallID())
	}
	if len(passed) != 0 {
		t.Fatal("a REGISTER leaked to the caller")
	}
}
