package registrar

import (
	"bytes"
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/entvoice/entvoice/internal/sipauth"
)

const benchUsers = 1000

func benchRegistrar(algs []string) *Registrar {
	accounts := make(map[string]Account, benchUsers)
	for i := range benchUsers {
		u := fmt.Sprint(2000 + i)
		accounts[u] = Account{Username: u, Credentials: sipauth.CredentialsFromPassword(u, realm, "pw"+u), Enabled: true}
	}
	return NewRegistrar(Options{
		Realm:      realm,
		Challenger: sipauth.NewChallenger(sipauth.Options{Realm: realm, Algorithms: algs}),
		Lookup:     func(u string) (Account, bool) { a, ok := accounts[u]; return a, ok },
		Logger:     slog.New(slog.DiscardHandler),
	})
}

func benchRegister(user string, cseq int, auth string) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "REGISTER sip:%s SIP/2.0\r\n", realm)
	fmt.Fprintf(&b, "Via: SIP/2.0/UDP 10.1.0.1:5060;rport;branch=z9hG4bK%d\r\n", cseq)
	b.WriteString("Max-Forwards: 70\r\n")
	fmt.Fprintf(&b, "From: <sip:%s@%s>;tag=t%s\r\n", user, realm, user)
	fmt.Fprintf(&b, "To: <sip:%s@%s>\r\n", user, realm)
	fmt.Fprintf(&b, "Call-ID: reg-%s\r\n", user)
	fmt.Fprintf(&b, "CSeq: %d REGISTER\r\n", cseq)
	fmt.Fprintf(&b, "Contact: <sip:%s@10.1.0.1:5060;transport=udp>\r\n", user)
	b.WriteString("Expires: 3600\r\nUser-Agent: bench\r\n")
	if auth != "" {
		b.WriteString(auth)
	}
	b.WriteString("Content-Length: 0\r\n\r\n")
	return []byte(b.String())
}

func md5Hex(s string) string {
	h := md5.Sum([]byte(s))
	return hex.EncodeToString(h[:])
}

// clientAuth answers an MD5 challenge like a phone (qop=auth).
func clientAuth(chal, user string) string {
	i := strings.Index(chal, `nonce="`) + len(`nonce="`)
	nonce := chal[i : i+strings.IndexByte(chal[i:], '"')]
	uri := "sip:" + realm
	ha1 := md5Hex(user + ":" + realm + ":pw" + user)
	resp := md5Hex(ha1 + ":" + nonce + ":00000001:c0ffee:auth:" + md5Hex("REGISTER:"+uri))
	return `Authorization: Digest username="` + user + `", realm="` + realm + `", nonce="` + nonce + `", uri="` + uri +
		`", response="` + resp + `", algorithm=MD5, cnonce="c0ffee", qop=auth, nc=00000001` + "\r\n"
}

// BenchmarkRegisterDigest is one full digest registration through Handle:
// parse REGISTER, 401 challenge, serialise it, the client's answer (MD5,
// qop=auth, included in the time), parse the authenticated REGISTER, 200
// with the binding refresh, serialise it. 1000 users round-robin.
func BenchmarkRegisterDigest(b *testing.B) {
	r := benchRegistrar([]string{"MD5"})
	src := netip.MustParseAddrPort("198.51.100.10:5060")
	var out bytes.Buffer
	i := 0
	b.ReportAllocs()
	for b.Loop() {
		user := fmt.Sprint(2000 + i%benchUsers)
		i++
		m, err := sip.ParseMessage(benchRegister(user, 2*i, ""))
		if err != nil {
			b.Fatal(err)
		}
		res := r.Handle(m.(*sip.Request), src, "UDP")
		out.Reset()
		res.StringWrite(&out)
		if res.StatusCode != 401 {
			b.Fatalf("got %d", res.StatusCode)
		}
		auth := clientAuth(res.GetHeader("WWW-Authenticate").Value(), user)
		m, err = sip.ParseMessage(benchRegister(user, 2*i+1, auth))
		if err != nil {
			b.Fatal(err)
		}
		res = r.Handle(m.(*sip.Request), src, "UDP")
		out.Reset()
		res.StringWrite(&out)
		if res.StatusCode != 200 {
			b.Fatalf("got %d: %s", res.StatusCode, res)
		}
	}
	if r.Count() != min(i, benchUsers) {
		b.Fatalf("Count = %d", r.Count())
	}
}

// BenchmarkVerifyMD5 and BenchmarkVerifySHA256 time Verify alone.
func BenchmarkVerifyMD5(b *testing.B)    { benchVerify(b, 1) }
func BenchmarkVerifySHA256(b *testing.B) { benchVerify(b, 0) }

func benchVerify(b *testing.B, idx int) {
	f := newFixture(&testing.T{}, nil)
	chal := f.handle(f.regText("1001", contactA))
	m, err := sip.ParseMessage([]byte(f.regText("1001", contactA, authHeader(&testing.T{}, chal, idx, "1001", "pass1001"))))
	if err != nil {
		b.Fatal(err)
	}
	req := m.(*sip.Request)
	creds := f.accounts["1001"].Credentials
	lookup := func(string) (sipauth.Credentials, bool) { return creds, true }
	b.ReportAllocs()
	for b.Loop() {
		if v := f.reg.ch.Verify(req, lookup); v.Status != sipauth.OK {
			b.Fatal(v.Status)
		}
	}
}

// memConn is an in-memory net.PacketConn feeding one datagram per read.
type memConn struct {
	in      [][]byte
	next    int
	from    net.Addr
	written int
}

func (c *memConn) ReadFrom(p []byte) (int, net.Addr, error) {
	d := c.in[c.next%len(c.in)]
	c.next++
	return copy(p, d), c.from, nil
}
func (c *memConn) WriteTo(p []byte, _ net.Addr) (int, error) { c.written++; return len(p), nil }
func (c *memConn) Close() error                              { return nil }
func (c *memConn) LocalAddr() net.Addr                       { return c.from }
func (c *memConn) SetDeadline(time.Time) error               { return nil }
func (c *memConn) SetReadDeadline(time.Time) error           { return nil }
func (c *memConn) SetWriteDeadline(time.Time) error          { return nil }

// BenchmarkStatelessChallenge is the flood case on the UDP fast path: an
// unauthenticated REGISTER in, a 401 written back, per op; the last
// datagram of each round is an OPTIONS so ReadFrom returns.
func BenchmarkStatelessChallenge(b *testing.B) {
	r := benchRegistrar(nil)
	mc := &memConn{from: &net.UDPAddr{IP: net.IPv4(198, 51, 100, 10), Port: 5060}}
	mc.in = [][]byte{benchRegister("2000", 1, ""), []byte("OPTIONS sip:x SIP/2.0\r\n\r\n")}
	pc := WrapPacketConn(mc, r)
	buf := make([]byte, 65535)
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := pc.ReadFrom(buf); err != nil {
			b.Fatal(err)
		}
	}
	if mc.written != b.N {
		b.Fatalf("wrote %d responses for %d REGISTERs", mc.written, b.N)
	}
}
