package sipauth

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/icholy/digest"
)

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{t: time.Unix(1_700_000_000, 0)} }
func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}
func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// rfcResponse checks our response computation against the RFC 7616 section
// 3.9.1 example (MD5 and SHA-256) through Verify: the nonce is not ours, so
// a correct response yields Stale and a wrong one BadPassword.
func TestVerifyRFC7616Vectors(t *testing.T) {
	c := NewChallenger(Options{Realm: "http-auth@example.org"})
	creds := CredentialsFromPassword("Mufasa", "http-auth@example.org", "Circle of Life")
	lookup := func(u string) (Credentials, bool) { return creds, u == "Mufasa" }
	for _, tc := range []struct{ alg, resp string }{
		{"MD5", "8ca523f5e9506fed4657c9700eebdbec"},
		{"SHA-256", "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"},
	} {
		hdr := fmt.Sprintf(`Digest username="Mufasa", realm="http-auth@example.org", uri="/dir/index.html", algorithm=%s, nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", nc=00000001, cnonce="f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ", qop=auth, response="%s", opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"`, tc.alg, tc.resp)
		req := newReq("GET", hdr)
		if r := c.Verify(req, lookup); r.Status != Stale || r.Username != "Mufasa" || r.Algorithm != tc.alg {
			t.Errorf("%s: Verify = %+v, want Stale (right response, foreign nonce)", tc.alg, r)
		}
		req = newReq("GET", strings.Replace(hdr, tc.resp, strings.Repeat("0", len(tc.resp)), 1))
		if r := c.Verify(req, lookup); r.Status != BadPassword {
			t.Errorf("%s: wrong response: Verify = %+v, want BadPassword", tc.alg, r)
		}
	}
}

func newReq(method string, auth ...string) *sip.Request {
	req := sip.NewRequest(sip.RequestMethod(method), sip.Uri{Scheme: "sip", Host: "pbx.example", User: "1001"})
	for _, a := range auth {
		req.AppendHeader(sip.NewHeader("Authorization", a))
	}
	return req
}

// client builds an Authorization value the way a UA would, using an
// independent digest implementation (github.com/icholy/digest, used by
// sipgo's client).
func client(t *testing.T, chal sip.Header, method, uri, user, pass string, qop bool) string {
	t.Helper()
	ch, err := digest.ParseChallenge(chal.Value())
	if err != nil {
		t.Fatalf("parse our challenge %q: %v", chal.Value(), err)
	}
	if !qop {
		ch.QOP = nil
	}
	cr, err := digest.Digest(ch, digest.Options{Method: method, URI: uri, Username: user, Password: pass, Cnonce: "6b8b4567"})
	if err != nil {
		t.Fatal(err)
	}
	return cr.String()
}

func TestChallengeFormat(t *testing.T) {
	clk := newFakeClock()
	c := NewChallenger(Options{Realm: "pbx", Key: []byte("k"), Clock: clk.Now})
	hs := c.Challenge(false)
	if len(hs) != 2 {
		t.Fatalf("got %d headers, want 2", len(hs))
	}
	for i, alg := range []string{"SHA-256", "MD5"} {
		if hs[i].Name() != "WWW-Authenticate" {
			t.Errorf("header %d name %q", i, hs[i].Name())
		}
		ch, err := digest.ParseChallenge(hs[i].Value())
		if err != nil {
			t.Fatal(err)
		}
		if ch.Algorithm != alg || ch.Realm != "pbx" || !ch.SupportsQOP("auth") || ch.Nonce == "" || ch.Opaque == "" || ch.Stale {
			t.Errorf("header %d = %q: unexpected %+v", i, hs[i].Value(), ch)
		}
	}
	d0, _ := digest.ParseChallenge(hs[0].Value())
	d1, _ := digest.ParseChallenge(hs[1].Value())
	if d0.Nonce != d1.Nonce {
		t.Error("both challenges of one 401 should carry the same nonce")
	}
	st := c.Challenge(true)
	if !strings.Contains(st[0].Value(), "stale=true") || !strings.Contains(st[1].Value(), "stale=true") {
		t.Errorf("stale challenge lacks stale=true: %q", st[0].Value())
	}
	px := c.ProxyChallenge(false)
	if len(px) != 2 || px[0].Name() != "Proxy-Authenticate" {
		t.Errorf("ProxyChallenge = %v", px)
	}
	md := c.ChallengeAlgorithms(false, "MD5", "bogus")
	if len(md) != 1 || !strings.Contains(md[0].Value(), "algorithm=MD5") {
		t.Errorf("ChallengeAlgorithms(MD5) = %v", md)
	}
	clk.Add(time.Nanosecond)
	if n2 := c.Nonce(); n2 == d0.Nonce {
		t.Error("nonces issued at different times are equal")
	}
}

func TestVerifyRoundTrip(t *testing.T) {
	clk := newFakeClock()
	c := NewChallenger(Options{Realm: "pbx", Key: []byte("secret-key"), NonceLifetime: 30 * time.Second, Clock: clk.Now})
	creds := CredentialsFromPassword("1001", "pbx", "pass1001")
	lookup := func(u string) (Credentials, bool) { return creds, u == "1001" }
	for _, alg := range []int{0, 1} { // 0 = SHA-256 header, 1 = MD5 header
		for _, qop := range []bool{true, false} {
			name := fmt.Sprintf("alg%d/qop=%v", alg, qop)
			t.Run(name, func(t *testing.T) {
				ch := c.Challenge(false)[alg]
				// uri= differs from the Request-URI, as SIPp sends it.
				auth := client(t, ch, "REGISTER", "sip:127.0.0.1:5060", "1001", "pass1001", qop)
				r := c.Verify(newReq("REGISTER", auth), lookup)
				if r.Status != OK || r.Username != "1001" {
					t.Fatalf("Verify(%q) = %+v, want OK", auth, r)
				}
				// The method is covered by the digest.
				if r := c.Verify(newReq("INVITE", auth), lookup); r.Status != BadPassword {
					t.Fatalf("digest for REGISTER accepted for INVITE: %+v", r)
				}
				bad := client(t, ch, "REGISTER", "sip:127.0.0.1:5060", "1001", "wrong", qop)
				if r := c.Verify(newReq("REGISTER", bad), lookup); r.Status != BadPassword || r.Username != "1001" {
					t.Fatalf("wrong password: %+v", r)
				}
				unk := client(t, ch, "REGISTER", "sip:127.0.0.1:5060", "9999", "x", qop)
				if r := c.Verify(newReq("REGISTER", unk), lookup); r.Status != UnknownUser || r.Username != "9999" {
					t.Fatalf("unknown user: %+v", r)
				}
			})
		}
	}
}

func TestVerifyStaleAndForged(t *testing.T) {
	clk := newFakeClock()
	c := NewChallenger(Options{Realm: "pbx", Key: []byte("k1"), NonceLifetime: 30 * time.Second, Clock: clk.Now})
	creds := CredentialsFromPassword("1001", "pbx", "pw")
	lookup := func(string) (Credentials, bool) { return creds, true }
	ch := c.Challenge(false)[0]
	auth := client(t, ch, "REGISTER", "sip:pbx", "1001", "pw", true)
	clk.Add(30 * time.Second)
	if r := c.Verify(newReq("REGISTER", auth), lookup); r.Status != OK {
		t.Fatalf("nonce at exactly its lifetime rejected: %+v", r)
	}
	clk.Add(time.Second)
	if r := c.Verify(newReq("REGISTER", auth), lookup); r.Status != Stale {
		t.Fatalf("expired nonce: %+v, want Stale", r)
	}
	bad := client(t, ch, "REGISTER", "sip:pbx", "1001", "nope", true)
	if r := c.Verify(newReq("REGISTER", bad), lookup); r.Status != BadPassword {
		t.Fatalf("expired nonce + wrong password: %+v, want BadPassword", r)
	}
	// A nonce signed by another key (another node, or before a restart).
	other := NewChallenger(Options{Realm: "pbx", Key: []byte("k2"), Clock: clk.Now})
	auth2 := client(t, other.Challenge(false)[1], "REGISTER", "sip:pbx", "1001", "pw", true)
	if r := c.Verify(newReq("REGISTER", auth2), lookup); r.Status != Stale {
		t.Fatalf("foreign-key nonce: %+v, want Stale", r)
	}
	// Same key: nodes sharing a key accept each other's nonces.
	peer := NewChallenger(Options{Realm: "pbx", Key: []byte("k1"), Clock: clk.Now})
	auth3 := client(t, peer.Challenge(false)[1], "REGISTER", "sip:pbx", "1001", "pw", true)
	if r := c.Verify(newReq("REGISTER", auth3), lookup); r.Status != OK {
		t.Fatalf("shared-key nonce: %+v, want OK", r)
	}
	// A nonce far in the future is not accepted.
	future := NewChallenger(Options{Realm: "pbx", Key: []byte("k1"), Clock: func() time.Time { return clk.Now().Add(time.Minute) }})
	auth4 := client(t, future.Challenge(false)[1], "REGISTER", "sip:pbx", "1001", "pw", true)
	if r := c.Verify(newReq("REGISTER", auth4), lookup); r.Status != Stale {
		t.Fatalf("future nonce: %+v, want Stale", r)
	}
}

func TestVerifyHeaderVariants(t *testing.T) {
	clk := newFakeClock()
	c := NewChallenger(Options{Realm: "pbx", Key: []byte("k"), Clock: clk.Now})
	creds := CredentialsFromPassword("1001", "pbx", "pw")
	lookup := func(string) (Credentials, bool) { return creds, true }
	nonce := c.Nonce()
	ha1 := creds.HA1MD5
	ha2 := HA1Like("REGISTER", "sip:pbx")
	resp := md5hex(ha1 + ":" + nonce + ":00000001:abc:auth:" + ha2)
	resp2069 := md5hex(ha1 + ":" + nonce + ":" + ha2)
	cases := []struct {
		name string
		hdr  string
		want Status
	}{
		{"comma space", `Digest username="1001", realm="pbx", nonce="` + nonce + `", uri="sip:pbx", response="` + resp + `", algorithm=MD5, cnonce="abc", qop=auth, nc=00000001`, OK},
		{"comma only", `Digest username="1001",realm="pbx",nonce="` + nonce + `",uri="sip:pbx",response="` + resp + `",algorithm=MD5,cnonce="abc",qop=auth,nc=00000001`, OK},
		{"spaces around =", `Digest  username = "1001" ,realm= "pbx" , nonce ="` + nonce + `", uri="sip:pbx",response="` + resp + `",cnonce="abc",qop="auth",nc=00000001`, OK},
		{"unquoted values, lowercase scheme and names", `digest USERNAME=1001, realm=pbx, nonce=` + nonce + `, uri="sip:pbx", response=` + strings.ToUpper(resp) + `, algorithm=md5, cnonce=abc, qop=auth, nc=00000001`, OK},
		{"unknown params ignored", `Digest username="1001", realm="pbx", foo="a,b", nonce="` + nonce + `", uri="sip:pbx", response="` + resp + `", cnonce="abc", qop=auth, nc=00000001, bar=baz`, OK},
		{"rfc2069 no qop", `Digest username="1001", realm="pbx", nonce="` + nonce + `", uri="sip:pbx", response="` + resp2069 + `"`, OK},
		{"qop without nc", `Digest username="1001", realm="pbx", nonce="` + nonce + `", uri="sip:pbx", response="` + resp + `", cnonce="abc", qop=auth`, Malformed},
		{"qop auth-int", `Digest username="1001", realm="pbx", nonce="` + nonce + `", uri="sip:pbx", response="` + resp + `", cnonce="abc", qop=auth-int, nc=00000001`, Malformed},
		{"missing uri", `Digest username="1001", realm="pbx", nonce="` + nonce + `", response="` + resp + `"`, Malformed},
		{"unknown algorithm", `Digest username="1001", realm="pbx", nonce="` + nonce + `", uri="sip:pbx", response="` + resp + `", algorithm=SHA-512`, Malformed},
		{"unterminated quote", `Digest username="1001, realm="pbx`, Malformed},
		{"duplicate param", `Digest username="1001", username="1002", realm="pbx", nonce="` + nonce + `", uri="sip:pbx", response="` + resp + `"`, Malformed},
		{"other realm ignored", `Digest username="1001", realm="other", nonce="` + nonce + `", uri="sip:pbx", response="` + resp + `"`, NoCredentials},
		{"basic scheme ignored", `Basic MTAwMTpwdw==`, NoCredentials},
		{"wrong response length", `Digest username="1001", realm="pbx", nonce="` + nonce + `", uri="sip:pbx", response="abc"`, BadPassword},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if r := c.Verify(newReq("REGISTER", tc.hdr), lookup); r.Status != tc.want {
				t.Fatalf("Verify = %v, want %v", r.Status, tc.want)
			}
		})
	}
	if r := c.Verify(newReq("REGISTER"), lookup); r.Status != NoCredentials {
		t.Fatalf("no header: %v", r.Status)
	}
	// Proxy-Authorization is accepted too, and a header for another realm
	// before ours does not hide ours.
	req := newReq("REGISTER", `Digest username="x", realm="other", nonce="n", uri="u", response="r"`)
	req.AppendHeader(sip.NewHeader("Proxy-Authorization", cases[0].hdr))
	if r := c.Verify(req, lookup); r.Status != OK {
		t.Fatalf("Proxy-Authorization for our realm: %v", r.Status)
	}
	// An account without an SHA-256 HA1 cannot verify an SHA-256 digest.
	md5only := func(string) (Credentials, bool) { return Credentials{HA1MD5: ha1}, true }
	sha := client(t, c.Challenge(false)[0], "REGISTER", "sip:pbx", "1001", "pw", true)
	if r := c.Verify(newReq("REGISTER", sha), md5only); r.Status != NoAlgorithm {
		t.Fatalf("SHA-256 digest, MD5-only account: %v, want NoAlgorithm", r.Status)
	}
}

func TestStatusString(t *testing.T) {
	if OK.String() != "OK" || NoAlgorithm.String() != "NoAlgorithm" || Status(99).String() == "" {
		t.Fatal("Status.String")
	}
}

func TestAlgorithmsOption(t *testing.T) {
	c := NewChallenger(Options{Realm: "pbx", Algorithms: []string{"md5", "SHA-512", ""}})
	hs := c.Challenge(false)
	if len(hs) != 1 || !strings.Contains(hs[0].Value(), "algorithm=MD5") {
		t.Fatalf("MD5-only challenger: %v", hs)
	}
	if got := c.Algorithms(); len(got) != 1 || got[0] != "MD5" {
		t.Fatalf("Algorithms() = %v", got)
	}
	if got := NewChallenger(Options{}).Algorithms(); len(got) != 2 || got[0] != "SHA-256" || got[1] != "MD5" {
		t.Fatalf("default Algorithms() = %v", got)
	}
}
