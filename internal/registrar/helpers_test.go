package registrar

import (
	"bytes"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/icholy/digest"

	"github.com/entvoice/entvoice/internal/acl"
	"github.com/entvoice/entvoice/internal/sipauth"
)

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)} }
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

// syncBuffer is a goroutine-safe log sink.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

const realm = "entvoice.test"

type changeRec struct {
	aor string
	n   int
}

type fixture struct {
	t        *testing.T
	clk      *fakeClock
	reg      *Registrar
	log      *syncBuffer
	accounts map[string]Account
	changes  []changeRec
	last     map[string][]string // contacts after the last change, by AOR
	mu       sync.Mutex
	cseq     uint32
	callID   string
}

func newFixture(t *testing.T, guard *acl.Guard) *fixture {
	f := &fixture{t: t, clk: newFakeClock(), log: &syncBuffer{}, callID: "call-1@phone"}
	f.accounts = map[string]Account{
		"1001": {Username: "1001", Credentials: sipauth.CredentialsFromPassword("1001", realm, "pass1001"), Enabled: true},
		"1002": {Username: "1002", Credentials: sipauth.CredentialsFromPassword("1002", realm, "pass1002"), Enabled: true, MaxContacts: 2},
		"off":  {Username: "off", Credentials: sipauth.CredentialsFromPassword("off", realm, "pw"), Enabled: false},
		"md5":  {Username: "md5", Credentials: sipauth.Credentials{HA1MD5: sipauth.CredentialsFromPassword("md5", realm, "pw").HA1MD5}, Enabled: true},
	}
	lan, err := acl.ParseList([]string{"192.168.0.0/16"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	f.accounts["lan"] = Account{Username: "lan", Credentials: sipauth.CredentialsFromPassword("lan", realm, "pw"), Enabled: true, ACL: lan}
	ch := sipauth.NewChallenger(sipauth.Options{Realm: realm, Key: []byte("test-key"), Clock: f.clk.Now})
	f.reg = NewRegistrar(Options{
		Realm:      realm,
		Challenger: ch,
		Lookup: func(u string) (Account, bool) {
			a, ok := f.accounts[u]
			return a, ok
		},
		Guard:  guard,
		Logger: slog.New(slog.NewTextHandler(f.log, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Clock:  f.clk.Now,
		OnChange: func(aor string, before, bs []Binding) {
			f.mu.Lock()
			defer f.mu.Unlock()
			// before is what the last change left: every test checks it.
			if got, want := bindingContacts(before), f.last[aor]; !slices.Equal(got, want) {
				t.Errorf("OnChange(%s): before %v, but the last change left %v", aor, got, want)
			}
			if f.last == nil {
				f.last = map[string][]string{}
			}
			f.last[aor] = bindingContacts(bs)
			f.changes = append(f.changes, changeRec{aor, len(bs)})
		},
	})
	return f
}

// bindingContacts is the sorted contacts of bs.
func bindingContacts(bs []Binding) []string {
	var out []string
	for _, b := range bs {
		out = append(out, b.Contact)
	}
	slices.Sort(out)
	return out
}

var phone = netip.MustParseAddrPort("203.0.113.7:40000")

// regText renders a REGISTER from user with the given extra header lines
// (Contact, Expires, Authorization...).
func (f *fixture) regText(user string, extra ...string) string {
	f.cseq++
	var b strings.Builder
	fmt.Fprintf(&b, "REGISTER sip:%s SIP/2.0\r\n", realm)
	b.WriteString("Via: SIP/2.0/UDP 10.0.0.5:5060;rport;branch=z9hG4bK" + fmt.Sprint(f.cseq) + "\r\n")
	b.WriteString("Max-Forwards: 70\r\n")
	fmt.Fprintf(&b, "From: <sip:%s@%s>;tag=abc\r\n", user, realm)
	fmt.Fprintf(&b, "To: <sip:%s@%s>\r\n", user, realm)
	fmt.Fprintf(&b, "Call-ID: %s\r\n", f.callID)
	fmt.Fprintf(&b, "CSeq: %d REGISTER\r\n", f.cseq)
	b.WriteString("User-Agent: test-phone/1.0\r\n")
	for _, e := range extra {
		b.WriteString(e + "\r\n")
	}
	b.WriteString("Content-Length: 0\r\n\r\n")
	return b.String()
}

func parseReq(t *testing.T, s string) *sip.Request {
	t.Helper()
	m, err := sip.ParseMessage([]byte(s))
	if err != nil {
		t.Fatalf("parse %q: %v", s, err)
	}
	return m.(*sip.Request)
}

func (f *fixture) handle(s string) *sip.Response {
	return f.handleFrom(phone, s)
}

func (f *fixture) handleFrom(src netip.AddrPort, s string) *sip.Response {
	f.t.Helper()
	return f.reg.Handle(parseReq(f.t, s), src, "UDP")
}

// authHeader answers the challenge at index idx of res (0 = SHA-256,
// 1 = MD5) for user/pass.
func authHeader(t *testing.T, res *sip.Response, idx int, user, pass string) string {
	t.Helper()
	hs := res.GetHeaders("WWW-Authenticate")
	if len(hs) <= idx {
		t.Fatalf("response has %d challenges, want > %d:\n%s", len(hs), idx, res)
	}
	ch, err := digest.ParseChallenge(hs[idx].Value())
	if err != nil {
		t.Fatal(err)
	}
	cr, err := digest.Digest(ch, digest.Options{Method: "REGISTER", URI: "sip:" + realm, Username: user, Password: pass})
	if err != nil {
		t.Fatal(err)
	}
	return "Authorization: " + cr.String()
}

// register runs the full challenge/response and returns the final
// response. extra holds Contact/Expires lines.
func (f *fixture) register(user, pass string, extra ...string) *sip.Response {
	f.t.Helper()
	return f.registerFrom(phone, user, pass, extra...)
}

func (f *fixture) registerFrom(src netip.AddrPort, user, pass string, extra ...string) *sip.Response {
	f.t.Helper()
	res := f.handleFrom(src, f.regText(user, extra...))
	if res == nil || res.StatusCode != 401 {
		f.t.Fatalf("first REGISTER: got %v, want 401", res)
	}
	return f.handleFrom(src, f.regText(user, append(extra, authHeader(f.t, res, 1, user, pass))...))
}

func contactsOf(res *sip.Response) map[string]string {
	out := map[string]string{}
	for _, h := range res.GetHeaders("Contact") {
		c := h.(*sip.ContactHeader)
		e, _ := c.Params.Get("expires")
		out[c.Address.String()] = e
	}
	return out
}

func wantStatus(t *testing.T, res *sip.Response, code int) {
	t.Helper()
	if res == nil {
		t.Fatalf("got no response, want %d", code)
	}
	if res.StatusCode != code {
		t.Fatalf("got %d %s, want %d:\n%s", res.StatusCode, res.Reason, code, res)
	}
}
