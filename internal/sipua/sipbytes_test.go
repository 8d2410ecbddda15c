package sipua

import (
	"log/slog"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/emiago/sipgo/sip"

	"github.com/entvoice/entvoice/internal/acl"
)

func TestRportInsert(t *testing.T) {
	for _, tc := range []struct{ via, want string }{
		{"SIP/2.0/UDP 10.0.0.1:5062;branch=z9hG4bK1", "SIP/2.0/UDP 10.0.0.1:5062;branch=z9hG4bK1;rport"},
		{"SIP/2.0/UDP 10.0.0.1", "SIP/2.0/UDP 10.0.0.1;rport"},
		{"SIP/2.0/UDP 10.0.0.1;branch=a, SIP/2.0/UDP 10.0.0.2;branch=b", "SIP/2.0/UDP 10.0.0.1;branch=a;rport, SIP/2.0/UDP 10.0.0.2;branch=b"},
		{"SIP/2.0/UDP 10.0.0.1;branch=a  ,SIP/2.0/UDP h", "SIP/2.0/UDP 10.0.0.1;branch=a;rport  ,SIP/2.0/UDP h"},
		{"SIP/2.0/UDP 10.0.0.1;rport;branch=a", ""},
		{"SIP/2.0/UDP 10.0.0.1;branch=a;RPort=5060", ""},
		{"SIP/2.0/UDP 10.0.0.1;branch=a; rport", ""},
		{"SIP/2.0/UDP 10.0.0.1;x=\"a,b\";branch=c", "SIP/2.0/UDP 10.0.0.1;x=\"a,b\";branch=c;rport"},
		{"SIP/2.0/UDP 10.0.0.1;rportx=1", "SIP/2.0/UDP 10.0.0.1;rportx=1;rport"},
		{"SIP/2.0/UDP 10.0.0.1;x=\"open", ""},
		{"   ", ""},
	} {
		msg := []byte("Via:" + tc.via)
		at := rportInsert(msg, 4, len(msg))
		got := ""
		if at >= 0 {
			got = string(msg[4:at]) + ";rport" + string(msg[at:])
		}
		if got != tc.want {
			t.Errorf("%q: got %q, want %q", tc.via, got, tc.want)
		}
	}
}

func TestScanHead(t *testing.T) {
	msg := []byte("INVITE sip:100@h SIP/2.0\r\n" +
		"v  : SIP/2.0/UDP  host.example;\r\n  branch=z9hG4bK1\r\n" +
		"Via: SIP/2.0/UDP other\r\n" +
		"f: \"A\" <sip:1001:pw@acme.example:5060>;tag=1\r\n" +
		"USER-AGENT:  friendly-scanner 1.0\r\n" +
		"Content-Length: 0\r\n\r\nUser-Agent: body\r\n")
	h := scanHead(msg)
	if !h.request || string(h.method) != "INVITE" {
		t.Fatalf("method %q", h.method)
	}
	if via := string(msg[h.viaStart:h.viaEnd]); via != " SIP/2.0/UDP  host.example;\r\n  branch=z9hG4bK1" {
		t.Errorf("via %q", via)
	}
	if string(h.userAgent) != "friendly-scanner 1.0" {
		t.Errorf("user agent %q", h.userAgent)
	}
	if u, host := uriUserHost(h.from); string(u) != "1001" || string(host) != "acme.example" {
		t.Errorf("from user %q host %q", u, host)
	}
	if r := scanHead([]byte("SIP/2.0 200 OK\r\nVia: x\r\n\r\n")); r.request {
		t.Error("a response taken for a request")
	}
	for _, junk := range []string{"", "\r\n", "INVITE", "\x00\x01\x02", "GARBAGE\nVia\n:\n"} {
		scanHead([]byte(junk)) // must not panic
	}
}

func FuzzEdgeDatagram(f *testing.F) {
	f.Add([]byte("OPTIONS sip:h SIP/2.0\r\nVia: SIP/2.0/UDP 1.2.3.4;branch=z9hG4bKx\r\nUser-Agent: x\r\n\r\n"))
	f.Add([]byte("INVITE sip:h SIP/2.0\r\nv: SIP/2.0/UDP a;x=\"\r\n b\r\n\r\n"))
	var d atomic.Pointer[Directory]
	d.Store(NewDirectory(nil))
	e := newEdge(EdgeOptions{ForceRport: true}, acl.NewGuard(acl.GuardOptions{}), &d, discardLogger())
	f.Fuzz(func(t *testing.T, data []byte) {
		p := make([]byte, len(data)+64)
		copy(p, data)
		n, _ := e.datagram(p, len(data), netip.MustParseAddrPort("192.0.2.1:5062"))
		if n != len(data) && n != len(data)+len(rportParam) {
			t.Fatalf("length %d from %d", n, len(data))
		}
	})
}

func TestEdgeDatagram(t *testing.T) {
	var d atomic.Pointer[Directory]
	no, yes := false, true
	d.Store(NewDirectory([]*Endpoint{
		{Name: "1001", Enabled: true, ForceRport: &no},
		{Name: "carrier", Trunk: true, Enabled: true, ForceRport: &yes, Match: []netip.Prefix{netip.MustParsePrefix("198.51.100.0/24")}},
	}))
	bans := acl.NewBanList(acl.BanListOptions{})
	guard := acl.NewGuard(acl.GuardOptions{Service: "SIP", Bans: bans, MethodRates: map[string]int{"OPTIONS": 1}, FloodBanDrops: 2})
	e := newEdge(EdgeOptions{ForceRport: true, ScannerUserAgents: []string{"Friendly-Scanner"}, BanScanners: true}, guard, &d, discardLogger())
	req := func(from, ua string) []byte {
		return []byte("OPTIONS sip:h SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.1:5070;branch=z9hG4bK1\r\nFrom: <sip:" + from + "@h>;tag=1\r\n" + ua + "\r\n")
	}
	run := func(msg []byte, src string) (string, bool) {
		p := make([]byte, len(msg)+100)
		copy(p, msg)
		n, ok := e.datagram(p, len(msg), netip.MustParseAddrPort(src))
		return string(p[:n]), ok
	}
	out, ok := run(req("1002", ""), "192.0.2.1:4000")
	if !ok || !strings.Contains(out, "branch=z9hG4bK1;rport\r\n") {
		t.Fatalf("default force_rport: %v %q", ok, out)
	}
	if _, err := sip.ParseMessage([]byte(out)); err != nil {
		t.Fatalf("rewritten message does not parse: %v", err)
	}
	if out, _ := run(req("1001", ""), "192.0.2.2:4000"); strings.Contains(out, "rport") {
		t.Fatalf("user with force_rport: false got rport: %q", out)
	}
	// The trunk's address: its own setting, and no per-method bucket.
	for range 5 {
		if out, ok := run(req("1001", ""), "198.51.100.7:5060"); !ok || !strings.Contains(out, ";rport") {
			t.Fatalf("trunk: %v %q", ok, out)
		}
	}
	// A scanner is dropped and banned; everything it sends after is dropped.
	if _, ok := run(req("100", "User-Agent: friendly-scanner"), "203.0.113.5:5060"); ok {
		t.Fatal("scanner passed")
	}
	if _, ok := run(req("100", ""), "203.0.113.5:5060"); ok || !bans.Banned(netip.MustParseAddr("203.0.113.5")) {
		t.Fatal("scanner's source not banned")
	}
	// A flood: over the OPTIONS rate (burst 2), dropped, then banned.
	src := "203.0.113.9:5060"
	for i := range 4 {
		_, ok := run(req("x", ""), src)
		if ok != (i < 2) {
			t.Fatalf("OPTIONS %d passed=%v", i, ok)
		}
	}
	if !bans.Banned(netip.MustParseAddr("203.0.113.9")) {
		t.Fatal("flooding source not banned")
	}
	c := bans.Counters()
	if c["sip.dropped_scanner"] != 1 || c["sip.dropped_rate"] != 2 || c["sip.dropped_banned"] < 1 {
		t.Fatalf("counters %v", c)
	}
}

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }
