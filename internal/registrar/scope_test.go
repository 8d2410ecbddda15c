package registrar

import (
	"fmt"
	"strings"
	"testing"

	"github.com/emiago/sipgo/sip"
	"github.com/icholy/digest"

	"github.com/entvoice/entvoice/internal/sipauth"
)

// TestScopeByDomain: hosted mode picks realm and users by the AOR's
// domain; two domains' 1001 are different accounts with their own
// bindings.
func TestScopeByDomain(t *testing.T) {
	f := newFixture(t, nil)
	acme := sipauth.NewChallenger(sipauth.Options{Realm: "acme.example", Key: []byte("k"), Clock: f.clk.Now})
	def := f.reg.ch
	f.reg.scope = func(req *sip.Request) Scope {
		if req.To().Address.Host == "acme.example" {
			return Scope{Challenger: acme, Lookup: func(u string) (Account, bool) {
				if u != "1001" {
					return Account{}, false
				}
				return Account{Username: "1001", AOR: "acme~1001", Enabled: true,
					Credentials: sipauth.CredentialsFromPassword("1001", "acme.example", "acme-pw")}, true
			}}
		}
		return Scope{Challenger: def, Lookup: f.reg.lookup}
	}
	text := func(domain string, extra ...string) string {
		f.cseq++
		var b strings.Builder
		fmt.Fprintf(&b, "REGISTER sip:%s SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.5:5060;rport;branch=z9hG4bKs%d\r\nMax-Forwards: 70\r\n", domain, f.cseq)
		fmt.Fprintf(&b, "From: <sip:1001@%s>;tag=abc\r\nTo: <sip:1001@%s>\r\nCall-ID: scope-%s\r\nCSeq: %d REGISTER\r\n", domain, domain, domain, f.cseq)
		b.WriteString("Contact: <sip:1001@10.0.0.5:5060>\r\n")
		for _, e := range extra {
			b.WriteString(e + "\r\n")
		}
		b.WriteString("Content-Length: 0\r\n\r\n")
		return b.String()
	}
	register := func(domain, pass string) *sip.Response {
		res := f.handle(text(domain))
		wantStatus(t, res, 401)
		h := res.GetHeaders("WWW-Authenticate")
		if !strings.Contains(h[len(h)-1].Value(), `realm="`+domain+`"`) {
			t.Fatalf("challenge for acme.example: %s", h[len(h)-1].Value())
		}
		ch, err := digest.ParseChallenge(h[len(h)-1].Value())
		if err != nil {
			t.Fatal(err)
		}
		cr, err := digest.Digest(ch, digest.Options{Method: "REGISTER", URI: "sip:" + domain, Username: "1001", Password: pass})
		if err != nil {
			t.Fatal(err)
		}
		return f.handle(text(domain, "Authorization: "+cr.String()))
	}
	// The default tenant's password does not open acme's 1001.
	wantStatus(t, register("acme.example", "pass1001"), 401)
	wantStatus(t, register("acme.example", "acme-pw"), 200)
	wantStatus(t, register(realm, "pass1001"), 200)
	if n := len(f.reg.Lookup("acme~1001")); n != 1 {
		t.Errorf("acme~1001 has %d bindings", n)
	}
	if n := len(f.reg.Lookup("1001")); n != 1 {
		t.Errorf("1001 has %d bindings", n)
	}
	if !f.reg.Unregister("acme~1001") || len(f.reg.Lookup("1001")) != 1 {
		t.Error("unregistering acme's 1001 touched the default tenant's")
	}
}
