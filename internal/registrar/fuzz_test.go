package registrar

import (
	"log/slog"
	"net/netip"
	"testing"

	"github.com/emiago/sipgo/sip"

	"github.com/entvoice/entvoice/internal/sipauth"
)

// FuzzHandle feeds arbitrary parsed requests to Handle: it must never panic
// and must answer with a final response or nothing.
func FuzzHandle(f *testing.F) {
	fx := newFixture(&testing.T{}, nil)
	f.Add(fx.regText("1001", contactA))
	f.Add(fx.regText("1001", "Contact: *", "Expires: 0"))
	f.Add(fx.regText("1001", "Contact: <sip:a@b>;expires=abc, <sip:c@d>;expires=0", `Authorization: Digest username="1001", realm="entvoice.test", nonce="AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", uri="x", response="00", qop=auth`))
	f.Add(fx.regText("1001", "Require: x", "Expires: 99999999999"))
	reg := NewRegistrar(Options{
		Realm:      realm,
		Challenger: sipauth.NewChallenger(sipauth.Options{Realm: realm, Key: []byte("k")}),
		Lookup: func(u string) (Account, bool) {
			return Account{Username: u, Credentials: sipauth.CredentialsFromPassword(u, realm, "pw"), Enabled: true}, true
		},
		Logger: slog.New(slog.DiscardHandler),
	})
	src := netip.MustParseAddrPort("192.0.2.1:5060")
	f.Fuzz(func(t *testing.T, s string) {
		m, err := sip.ParseMessage([]byte(s))
		if err != nil {
			return
		}
		req, ok := m.(*sip.Request)
		if !ok {
			return
		}
		res := reg.Handle(req, src, "UDP")
		if res != nil && (res.StatusCode < 200 || res.StatusCode > 699) {
			t.Fatalf("non-final response %d", res.StatusCode)
		}
		if res != nil {
			_ = res.String()
		}
	})
}
