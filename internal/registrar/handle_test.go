package registrar

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/entvoice/entvoice/internal/acl"
)

const contactA = "Contact: <sip:1001@10.0.0.5:5060;transport=udp>"

func TestChallengeThenRegister(t *testing.T) {
	f := newFixture(t, nil)
	res := f.handle(f.regText("1001", contactA, "Expires: 3600"))
	wantStatus(t, res, 401)
	hs := res.GetHeaders("WWW-Authenticate")
	if len(hs) != 2 || !strings.Contains(hs[0].Value(), "algorithm=SHA-256") || !strings.Contains(hs[1].Value(), "algorithm=MD5") {
		t.Fatalf("challenges = %v", hs)
	}
	if to := res.To(); to == nil || !to.Params.Has("tag") {
		t.Fatal("401 without To tag")
	}
	for _, idx := range []int{0, 1} { // SHA-256, then MD5
		chal := f.handle(f.regText("1001", contactA, "Expires: 3600"))
		res = f.handle(f.regText("1001", contactA, "Expires: 3600", authHeader(t, chal, idx, "1001", "pass1001")))
		wantStatus(t, res, 200)
	}
	cs := contactsOf(res)
	if len(cs) != 1 || cs["sip:1001@10.0.0.5:5060;transport=udp"] != "3600" {
		t.Fatalf("200 contacts = %v", cs)
	}
	date := res.GetHeader("Date")
	if date == nil || date.Value() != "Sun, 01 Mar 2026 12:00:00 GMT" {
		t.Fatalf("Date = %v", date)
	}
	bs := f.reg.Lookup("1001")
	if len(bs) != 1 {
		t.Fatalf("Lookup = %v", bs)
	}
	b := bs[0]
	if b.AOR != "1001" || b.Contact != "sip:1001@10.0.0.5:5060;transport=udp" || b.Source != phone || b.Transport != "UDP" ||
		b.UserAgent != "test-phone/1.0" || b.CallID != f.callID || b.CSeq != f.cseq || !b.Expires.Equal(f.clk.Now().Add(time.Hour)) {
		t.Fatalf("binding = %+v", b)
	}
	if f.reg.Count() != 1 {
		t.Fatalf("Count = %d", f.reg.Count())
	}
	if len(f.changes) == 0 || f.changes[len(f.changes)-1] != (changeRec{"1001", 1}) {
		t.Fatalf("OnChange calls = %v", f.changes)
	}
}

func TestViaReceivedRport(t *testing.T) {
	f := newFixture(t, nil)
	res := f.handle(f.regText("1001", contactA))
	v := res.Via()
	if got, _ := v.Params.Get("received"); got != "203.0.113.7" {
		t.Errorf("received = %q", got)
	}
	if got, _ := v.Params.Get("rport"); got != "40000" {
		t.Errorf("rport = %q", got)
	}
	if res.Destination() != "203.0.113.7:40000" {
		t.Errorf("destination = %q", res.Destination())
	}
	// Without rport: received only when the host differs (RFC 3261 18.2.1).
	txt := strings.Replace(f.regText("1001", contactA), ";rport", "", 1)
	v = f.handle(txt).Via()
	if got, _ := v.Params.Get("received"); got != "203.0.113.7" || v.Params.Has("rport") {
		t.Errorf("no rport: via = %s", v.Value())
	}
	v = f.handleFrom(netip.MustParseAddrPort("10.0.0.5:5060"), txt).Via()
	if v.Params.Has("received") {
		t.Errorf("same host: via = %s", v.Value())
	}
}

func TestWrongPasswordAndBan(t *testing.T) {
	clk := newFakeClock()
	guard := acl.NewGuard(acl.GuardOptions{MaxAuthFailures: 3, BanTime: time.Minute, Clock: clk.Now})
	f := newFixture(t, guard)
	f.clk = clk
	for i := range 3 {
		res := f.register("1001", "wrong", contactA)
		wantStatus(t, res, 401)
		if i == 0 && !strings.Contains(f.log.String(), "source=203.0.113.7:40000") || !strings.Contains(f.log.String(), "user=1001") {
			t.Fatalf("warning does not name source and user: %s", f.log.String())
		}
		if len(res.GetHeaders("WWW-Authenticate")) != 2 {
			t.Fatal("wrong password answer lacks a fresh challenge")
		}
	}
	if !guard.Banned(phone.Addr()) {
		t.Fatal("source not banned after 3 failures")
	}
	if res := f.handle(f.regText("1001", contactA)); res != nil {
		t.Fatalf("banned source answered: %d", res.StatusCode)
	}
	if len(f.reg.Lookup("1001")) != 0 {
		t.Fatal("binding created by a failed registration")
	}
	// Another source is unaffected and its success resets nothing of ours.
	other := netip.MustParseAddrPort("198.51.100.1:5060")
	wantStatus(t, f.registerFrom(other, "1001", "pass1001", contactA), 200)
}

func TestBannedSourceDropped(t *testing.T) {
	clk := newFakeClock()
	guard := acl.NewGuard(acl.GuardOptions{RequestsPerSecond: 2, Burst: 2, Clock: clk.Now})
	f := newFixture(t, guard)
	// Rates are the edge's (sipua): the registrar answers whatever it is
	// handed, but never a banned source.
	for range 5 {
		wantStatus(t, f.handle(f.regText("1001", contactA)), 401)
	}
	guard.Ban(phone.Addr(), "test")
	if res := f.handle(f.regText("1001", contactA)); res != nil {
		t.Fatal("banned source answered")
	}
}

func TestUnknownDisabledACL(t *testing.T) {
	f := newFixture(t, nil)
	// Unknown and disabled users are challenged first like anyone, and
	// again once they answer, exactly as a wrong password is.
	unknown := f.register("nobody", "x", contactA)
	wantStatus(t, unknown, 401)
	wrong := f.register("1001", "wrong", contactA)
	if got, want := shape(unknown), shape(wrong); got != want {
		t.Errorf("unknown user and wrong password answered differently:\n%s\n%s", got, want)
	}
	// A disabled account is refused once its own password is given.
	wantStatus(t, f.register("off", "pw", contactA), 403)
	wantStatus(t, f.register("off", "wrong", contactA), 401)
	// ACL: denied source gets 403 even with the right password.
	wantStatus(t, f.register("lan", "pw", contactA), 403)
	if !strings.Contains(f.log.String(), "denied by ACL") {
		t.Fatalf("ACL refusal not logged: %s", f.log.String())
	}
	wantStatus(t, f.registerFrom(netip.MustParseAddrPort("192.168.1.20:5060"), "lan", "pw", "Contact: <sip:lan@192.168.1.20>"), 200)
	if f.reg.Count() != 1 {
		t.Fatalf("Count = %d", f.reg.Count())
	}
}

func TestToUserMustMatch(t *testing.T) {
	f := newFixture(t, nil)
	res := f.handle(f.regText("1001", contactA))
	auth := authHeader(t, res, 1, "1001", "pass1001")
	txt := strings.Replace(f.regText("1001", contactA, auth), "To: <sip:1001@", "To: <sip:1002@", 1)
	wantStatus(t, f.handle(txt), 403)
	if len(f.reg.Lookup("1002")) != 0 || len(f.reg.Lookup("1001")) != 0 {
		t.Fatal("binding created despite To mismatch")
	}
}

func TestStaleNonce(t *testing.T) {
	f := newFixture(t, nil)
	res := f.handle(f.regText("1001", contactA))
	auth := authHeader(t, res, 0, "1001", "pass1001")
	f.clk.Add(31 * time.Second)
	res = f.handle(f.regText("1001", contactA, auth))
	wantStatus(t, res, 401)
	if !strings.Contains(res.GetHeader("WWW-Authenticate").Value(), "stale=true") {
		t.Fatalf("expired nonce not answered stale=true: %s", res)
	}
}

func TestMD5OnlyAccountRechallenged(t *testing.T) {
	f := newFixture(t, nil)
	res := f.handle(f.regText("md5", contactA))
	res = f.handle(f.regText("md5", contactA, authHeader(t, res, 0, "md5", "pw"))) // SHA-256
	wantStatus(t, res, 401)
	hs := res.GetHeaders("WWW-Authenticate")
	if len(hs) != 1 || !strings.Contains(hs[0].Value(), "algorithm=MD5") {
		t.Fatalf("re-challenge = %v", hs)
	}
	wantStatus(t, f.handle(f.regText("md5", "Contact: <sip:md5@10.0.0.9>", authHeader(t, res, 0, "md5", "pw"))), 200)
}

func TestExpiresRules(t *testing.T) {
	f := newFixture(t, nil)
	// Default expiry when neither header nor param is given.
	res := f.register("1001", "pass1001", contactA)
	wantStatus(t, res, 200)
	if e := contactsOf(res)["sip:1001@10.0.0.5:5060;transport=udp"]; e != "3600" {
		t.Fatalf("default expires = %q", e)
	}
	// Contact param wins over the header; above max is clamped.
	res = f.register("1001", "pass1001", "Contact: <sip:1001@10.0.0.5:5060;transport=udp>;expires=7200", "Expires: 120")
	if e := contactsOf(res)["sip:1001@10.0.0.5:5060;transport=udp"]; e != "3600" {
		t.Fatalf("clamped expires = %q", e)
	}
	res = f.register("1001", "pass1001", contactA, "Expires: 120")
	if e := contactsOf(res)["sip:1001@10.0.0.5:5060;transport=udp"]; e != "120" {
		t.Fatalf("header expires = %q", e)
	}
	// Too brief: 423 with Min-Expires, nothing changed.
	res = f.register("1001", "pass1001", "Contact: <sip:1001@10.0.0.6>;expires=30")
	wantStatus(t, res, 423)
	if h := res.GetHeader("Min-Expires"); h == nil || h.Value() != "60" {
		t.Fatalf("Min-Expires = %v", h)
	}
	if len(f.reg.Lookup("1001")) != 1 {
		t.Fatal("423 changed the bindings")
	}
	// Remaining time is reported, and expiry removes the binding.
	f.clk.Add(100 * time.Second)
	res = f.register("1001", "pass1001") // query: no Contact
	wantStatus(t, res, 200)
	if e := contactsOf(res)["sip:1001@10.0.0.5:5060;transport=udp"]; e != "20" {
		t.Fatalf("remaining expires = %q, want 20", e)
	}
	f.clk.Add(21 * time.Second)
	if len(f.reg.Lookup("1001")) != 0 {
		t.Fatal("expired binding still returned")
	}
	if f.reg.Count() != 0 {
		t.Fatalf("Count after expiry = %d", f.reg.Count())
	}
	if last := f.changes[len(f.changes)-1]; last != (changeRec{"1001", 0}) {
		t.Fatalf("expiry not reported via OnChange: %v", f.changes)
	}
}

func TestUnregisterByParamAndWildcard(t *testing.T) {
	f := newFixture(t, nil)
	wantStatus(t, f.register("1001", "pass1001", contactA, "Contact: <sip:1001@10.0.0.6>"), 200)
	if n := len(f.reg.Lookup("1001")); n != 2 {
		t.Fatalf("bindings = %d, want 2", n)
	}
	// SIPp style: ;expires=0 on the Contact, no Expires header.
	res := f.register("1001", "pass1001", "Contact: <sip:1001@10.0.0.6>;expires=0")
	wantStatus(t, res, 200)
	if cs := contactsOf(res); len(cs) != 1 || cs["sip:1001@10.0.0.5:5060;transport=udp"] == "" {
		t.Fatalf("after expires=0: %v", cs)
	}
	// Wildcard must be alone and with Expires: 0.
	wantStatus(t, f.register("1001", "pass1001", "Contact: *"), 400)
	wantStatus(t, f.register("1001", "pass1001", "Contact: *", "Expires: 10"), 400)
	wantStatus(t, f.register("1001", "pass1001", "Contact: *", contactA, "Expires: 0"), 400)
	res = f.register("1001", "pass1001", "Contact: *", "Expires: 0")
	wantStatus(t, res, 200)
	if len(res.GetHeaders("Contact")) != 0 || f.reg.Count() != 0 {
		t.Fatalf("wildcard left bindings: %s", res)
	}
}

func TestCSeqOrdering(t *testing.T) {
	f := newFixture(t, nil)
	wantStatus(t, f.register("1001", "pass1001", contactA, "Expires: 600"), 200)
	// A delayed REGISTER of the same Call-ID with a lower CSeq is ignored.
	f.cseq = 0
	res := f.register("1001", "pass1001", "Contact: <sip:1001@10.0.0.5:5060;transport=udp>;expires=0")
	wantStatus(t, res, 200)
	if n := len(f.reg.Lookup("1001")); n != 1 {
		t.Fatal("older CSeq removed the binding")
	}
	// A new Call-ID (phone rebooted) may start low.
	f.callID = "call-2@phone"
	wantStatus(t, f.register("1001", "pass1001", "Contact: <sip:1001@10.0.0.5:5060;transport=udp>;expires=0"), 200)
	if n := len(f.reg.Lookup("1001")); n != 0 {
		t.Fatal("new Call-ID could not remove the binding")
	}
}

func TestMaxContacts(t *testing.T) {
	f := newFixture(t, nil) // 1002 has MaxContacts 2
	wantStatus(t, f.register("1002", "pass1002", "Contact: <sip:1002@10.0.0.1>", "Expires: 600"), 200)
	f.clk.Add(time.Second)
	wantStatus(t, f.register("1002", "pass1002", "Contact: <sip:1002@10.0.0.2>", "Expires: 300"), 200)
	f.clk.Add(time.Second)
	res := f.register("1002", "pass1002", "Contact: <sip:1002@10.0.0.3>", "Expires: 900")
	wantStatus(t, res, 200)
	cs := contactsOf(res)
	if len(cs) != 2 || cs["sip:1002@10.0.0.3"] == "" || cs["sip:1002@10.0.0.1"] == "" {
		t.Fatalf("after overflow: %v (the soonest-expiring 10.0.0.2 should go)", cs)
	}
	bs := f.reg.Lookup("1002")
	if bs[0].Contact != "sip:1002@10.0.0.3" {
		t.Fatalf("Lookup not newest first: %v", bs)
	}
	// More contacts in one request than allowed: refused.
	wantStatus(t, f.register("1002", "pass1002", "Contact: <sip:1002@10.0.0.4>, <sip:1002@10.0.0.5>, <sip:1002@10.0.0.6>"), 403)
	if f.reg.Count() != 2 {
		t.Fatalf("Count = %d", f.reg.Count())
	}
}

func TestMultipleContactsOneHeader(t *testing.T) {
	f := newFixture(t, nil)
	res := f.register("1001", "pass1001", "Contact: <sip:1001@10.0.0.1>;expires=100, <sip:1001@10.0.0.2>;expires=200")
	wantStatus(t, res, 200)
	cs := contactsOf(res)
	if cs["sip:1001@10.0.0.1"] != "100" || cs["sip:1001@10.0.0.2"] != "200" {
		t.Fatalf("contacts = %v", cs)
	}
}

func TestUnregisterAPI(t *testing.T) {
	f := newFixture(t, nil)
	wantStatus(t, f.register("1001", "pass1001", contactA), 200)
	if !f.reg.Unregister("1001") || f.reg.Count() != 0 || len(f.reg.Lookup("1001")) != 0 {
		t.Fatal("Unregister did not remove bindings")
	}
	if f.reg.Unregister("1001") {
		t.Fatal("second Unregister reported bindings")
	}
	if last := f.changes[len(f.changes)-1]; last != (changeRec{"1001", 0}) {
		t.Fatalf("OnChange = %v", f.changes)
	}
}

func TestBadRequests(t *testing.T) {
	f := newFixture(t, nil)
	opt := strings.Replace(f.regText("1001"), "REGISTER sip:", "OPTIONS sip:", 1)
	opt = strings.Replace(opt, "REGISTER\r\n", "OPTIONS\r\n", 1)
	res := f.handle(opt)
	wantStatus(t, res, 405)
	if res.GetHeader("Allow") == nil {
		t.Fatal("405 without Allow")
	}
	noCallID := strings.Replace(f.regText("1001"), "Call-ID: call-1@phone\r\n", "", 1)
	wantStatus(t, f.handle(noCallID), 400)
	wrongCSeq := strings.Replace(f.regText("1001"), " REGISTER\r\nUser-Agent", " INVITE\r\nUser-Agent", 1)
	wantStatus(t, f.handle(wrongCSeq), 400)
	res = f.handle(f.regText("1001", "Require: gruu"))
	wantStatus(t, res, 420)
	if h := res.GetHeader("Unsupported"); h == nil || h.Value() != "gruu" {
		t.Fatalf("Unsupported = %v", h)
	}
	wantStatus(t, f.handle(f.regText("1001", `Authorization: Digest username="1001", realm="`+realm+`", nonce="x`)), 400)
	var noVia string
	for _, line := range strings.SplitAfter(f.regText("1001"), "\r\n") {
		if !strings.HasPrefix(line, "Via:") {
			noVia += line
		}
	}
	if res := f.handle(noVia); res != nil {
		t.Fatalf("request without Via answered %d", res.StatusCode)
	}
}

func TestNewRegistrarDefaults(t *testing.T) {
	r := NewRegistrar(Options{Realm: "x"})
	if r.minExp != time.Minute || r.maxExp != time.Hour || r.defExp != time.Hour || r.ch.Realm() != "x" {
		t.Fatalf("defaults: %+v", r)
	}
	req := parseReq(t, "REGISTER sip:x SIP/2.0\r\nVia: SIP/2.0/UDP 1.2.3.4;branch=z9hG4bKx\r\nFrom: <sip:a@x>;tag=1\r\nTo: <sip:a@x>\r\nCall-ID: c\r\nCSeq: 1 REGISTER\r\nContent-Length: 0\r\n\r\n")
	res := r.Handle(req, phone, "UDP")
	wantStatus(t, res, 401)
	var _ sip.Header = res.GetHeader("WWW-Authenticate")
}

// shape is a response with its varying values (tags, nonces) blanked.
func shape(res *sip.Response) string {
	out := res.StartLine() + "\n"
	for _, h := range res.Headers() {
		v := h.Value()
		switch strings.ToLower(h.Name()) {
		case "to", "from", "call-id", "via", "cseq":
			v = "*"
		case "www-authenticate":
			if i := strings.Index(v, `nonce="`); i >= 0 {
				j := strings.Index(v[i+7:], `"`)
				v = v[:i+7] + "*" + v[i+7+j:]
			}
		}
		out += h.Name() + ": " + v + "\n"
	}
	return out
}
