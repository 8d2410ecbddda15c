package sipua

import (
	"io"
	"net"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/entvoice/entvoice/internal/acl"
)

// testStream is a stream listener on loopback with a short header
// timeout, and an accept loop that echoes nothing: each connection is read
// until it ends, and the reader reports why.
type testStream struct {
	ln    *streamListener
	bans  *acl.BanList
	ended chan error
	wg    sync.WaitGroup
}

func newTestStream(t *testing.T, maxPerIP int) *testStream {
	t.Helper()
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	bans := acl.NewBanList(acl.BanListOptions{})
	var d atomic.Pointer[Directory]
	d.Store(NewDirectory(nil))
	e := newEdge(EdgeOptions{MaxConnsPerIP: maxPerIP, IdleTimeout: time.Minute}, acl.NewGuard(acl.GuardOptions{Bans: bans}), &d, discardLogger())
	ts := &testStream{bans: bans, ended: make(chan error, 16),
		ln: &streamListener{Listener: raw, edge: e, framed: true, certs: &sync.Map{}, per: map[netip.Addr]int{}, header: 300 * time.Millisecond}}
	ts.wg.Add(1)
	go func() {
		defer ts.wg.Done()
		for {
			c, err := ts.ln.Accept()
			if err != nil {
				return
			}
			ts.wg.Add(1)
			go func() {
				defer ts.wg.Done()
				_, err := io.Copy(io.Discard, c)
				_ = c.Close()
				ts.ended <- err
			}()
		}
	}()
	t.Cleanup(func() {
		_ = raw.Close()
		ts.wg.Wait()
	})
	return ts
}

func (ts *testStream) dial(t *testing.T) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", ts.ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// closedByServer waits for the server side to end a connection.
func (ts *testStream) closedByServer(t *testing.T, within time.Duration) {
	t.Helper()
	select {
	case <-ts.ended:
	case <-time.After(within):
		t.Fatal("the server kept the connection")
	}
}

// TestStreamSlowloris: headers trickled a byte at a time past the header
// timeout end the connection, while a peer that completes its messages
// (bodies too, even slowly) and then idles keeps it.
func TestStreamSlowloris(t *testing.T) {
	ts := newTestStream(t, 64)
	slow := ts.dial(t)
	start := time.Now()
	go func() {
		for _, b := range []byte("OPTIONS sip:x SIP/2.0\r\nVia: SIP/2.0/TCP h;branch=z9hG4bK1\r\n") {
			if _, err := slow.Write([]byte{b}); err != nil {
				return
			}
			time.Sleep(30 * time.Millisecond)
		}
	}()
	ts.closedByServer(t, 2*time.Second)
	if d := time.Since(start); d > time.Second {
		t.Errorf("slowloris held the connection %v", d)
	}
	good := ts.dial(t)
	msg := "INVITE sip:x SIP/2.0\r\nContent-Length: 10\r\nl: 10\r\n\r\n"
	if _, err := good.Write([]byte(msg + "01234")); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	if _, err := good.Write([]byte("56789\r\n\r\n")); err != nil { // body's end, then a keep-alive
		t.Fatal(err)
	}
	select {
	case err := <-ts.ended:
		t.Fatalf("a well-framed connection was closed: %v", err)
	case <-time.After(600 * time.Millisecond):
	}
}

// TestStreamOversizedAndLimits: headers past the message limit end the
// connection; a banned address is refused at accept; one address gets at
// most max_conns_per_ip connections.
func TestStreamOversizedAndLimits(t *testing.T) {
	ts := newTestStream(t, 2)
	big := ts.dial(t)
	go func() { _, _ = big.Write([]byte("OPTIONS sip:x SIP/2.0\r\nX: " + strings.Repeat("a", 70000))) }()
	ts.closedByServer(t, 2*time.Second)

	a, b := ts.dial(t), ts.dial(t)
	_, _ = a.Write([]byte("\r\n\r\n"))
	_, _ = b.Write([]byte("\r\n\r\n"))
	third := ts.dial(t)
	_ = third.SetReadDeadline(time.Now().Add(time.Second))
	if _, err := third.Read(make([]byte, 1)); err != io.EOF {
		t.Errorf("third connection from one address: %v, want closed", err)
	}
	if c := ts.bans.Counters()["sip.refused_connections"]; c != 1 {
		t.Errorf("refused connections %d", c)
	}
	a.Close()
	b.Close()
	ts.closedByServer(t, time.Second)
	ts.closedByServer(t, time.Second)
	ts.bans.Ban(netip.MustParseAddr("127.0.0.1"), "test", "test", time.Minute)
	banned := ts.dial(t)
	_ = banned.SetReadDeadline(time.Now().Add(time.Second))
	if _, err := banned.Read(make([]byte, 1)); err != io.EOF {
		t.Errorf("banned address: %v, want closed at accept", err)
	}
}

func TestFramer(t *testing.T) {
	var f framer
	steps := []struct {
		in   string
		busy bool
	}{
		{"\r\n\r\n", false},
		{"REGISTER sip:x SIP/2.0\r\n", true},
		{"Content-Length: 3\r\n\r\nab", true},
		{"c", false},
		{"OPTIONS sip:x SIP/2.0\r\nl:0\r\n\r\nBYE sip:x SIP/2.0\r\n", true},
		{"Via: x\r\n", true},
		{"\r\n", false},
	}
	for i, s := range steps {
		busy, ok := f.feed([]byte(s.in))
		if !ok || busy != s.busy {
			t.Fatalf("step %d %q: busy=%v ok=%v, want busy=%v", i, s.in, busy, ok, s.busy)
		}
	}
}
