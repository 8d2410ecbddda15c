package sipua

import (
	"encoding/base64"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/entvoice/entvoice/internal/channel"
	"github.com/entvoice/entvoice/internal/media"
	"github.com/entvoice/entvoice/internal/q850"
)

// TestInviteRefused: an INVITE the node will not take gets the answer
// Asterisk's PJSIP gives, before any channel exists.
func TestInviteRefused(t *testing.T) {
	for _, tc := range []struct {
		name  string
		user  string // From user
		src   string
		exten string
		sdp   string
		extra []string
		setup func(e *sipEnv)
		toTag string // a re-INVITE's
		// auth, when set, answers a first challenge as "user:password".
		auth string
		code int
		// header, when set, must be in the response ("Name: substring").
		header string
	}{
		{
			name: "a known user without credentials is challenged", user: "1001", src: phoneSrc, exten: "100",
			code: 401, header: `WWW-Authenticate: realm="entvoice.test"`,
		},
		{
			name: "a known user with a wrong password is challenged again", user: "1001", src: phoneSrc, exten: "100",
			auth: "1001:wrong", code: 401, header: `WWW-Authenticate: realm="entvoice.test"`,
		},
		{
			name: "a known user authenticated as another user", user: "1001", src: phoneSrc, exten: "100",
			auth: "1003:pass1003", code: 403,
		},
		{
			name: "a disabled user, even with the right password", user: "1003", src: phoneSrc, exten: "100",
			auth: "1003:pass1003", code: 403,
		},
		{
			name: "a known user with credentials that do not parse", user: "1001", src: phoneSrc, exten: "100",
			extra: []string{"Authorization: Digest garbage"}, code: 400,
		},
		{
			name: "a known user from an address its ACL denies", user: "1002", src: phoneSrc, exten: "100",
			code: 403,
		},
		{
			// Challenged like a known user (Asterisk's artificial
			// endpoint), and again once it answers: nothing tells it
			// from a wrong password.
			name: "an unknown user from an unknown address", user: "mallory", src: strangerSrc, exten: "100",
			code: 401,
		},
		{
			name: "an unknown user answering the challenge", user: "mallory", src: strangerSrc, exten: "100",
			auth: "mallory:guess", code: 401,
		},
		{
			name: "a trunk's address with no codec in common", user: "carrier", src: trunkSrc, exten: "100",
			sdp:  offer("18", "sendrecv"),
			code: 488, header: `Warning: 304 entvoice "Media type not available"`,
		},
		{
			name: "an offer without audio", user: "carrier", src: trunkSrc, exten: "100",
			sdp:  "v=0\r\no=x 1 1 IN IP4 198.51.100.7\r\ns=-\r\nc=IN IP4 198.51.100.7\r\nt=0 0\r\nm=video 40000 RTP/AVP 96\r\n",
			code: 488,
		},
		{
			name: "an extension the dialplan does not have", user: "carrier", src: trunkSrc, exten: "999",
			code: 404,
		},
		{
			name: "a tenant at its max_calls", user: "carrier", src: trunkSrc, exten: "100",
			setup: func(e *sipEnv) {
				e.limits.SetMax(map[string]int{"default": 1})
				if _, err := e.limits.Acquire("default"); err != nil {
					e.t.Fatal(err)
				}
			},
			code: 503,
		},
		{
			name: "SDES required (media_encryption sdes) but plain RTP offered", user: "carrier", src: trunkSrc, exten: "100",
			setup: func(e *sipEnv) { e.trunk().MediaEncryption = "sdes" },
			code:  488, header: "Warning: 305",
		},
		{
			name: "SRTP offered to an endpoint without media_encryption", user: "carrier", src: trunkSrc, exten: "100",
			sdp:  sdesOffer(media.SuiteAESCM80),
			code: 488, header: "Warning: 305",
		},
		{
			name: "SDES with no suite the node takes", user: "carrier", src: trunkSrc, exten: "100",
			setup: func(e *sipEnv) { e.trunk().MediaEncryption = "sdes" },
			sdp:   strings.Replace(sdesOffer(media.SuiteAESCM80), "AES_CM_128_HMAC_SHA1_80", "F8_128_HMAC_SHA1_80", 1),
			code:  488,
		},
		{
			name: "a trunk at its max_calls", user: "carrier", src: trunkSrc, exten: "100",
			setup: func(e *sipEnv) {
				tr := e.trunk()
				tr.MaxCalls = 1
				if _, err := e.srv.calls.acquire(tr); err != nil {
					e.t.Fatal(err)
				}
				if _, err := e.srv.calls.acquire(tr); err == nil {
					e.t.Fatal("a second call past max_calls 1 counted")
				}
			},
			code: 503,
		},
		{
			name: "a draining node", user: "carrier", src: trunkSrc, exten: "100",
			setup: func(e *sipEnv) { e.srv.Drain() },
			code:  503,
		},
		{
			name: "an option tag the node does not support", user: "carrier", src: trunkSrc, exten: "100",
			extra: []string{"Require: 100rel, timer"},
			code:  420, header: "Unsupported: 100rel",
		},
		{
			name: "a re-INVITE (To tag) for a dialog that does not exist", user: "carrier", src: trunkSrc, exten: "100",
			toTag: "nosuchdialog", code: 481,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newSIPEnv(t)
			if tc.setup != nil {
				tc.setup(e)
			}
			d := newDialog(t, tc.user, tc.src, tc.exten)
			d.toTag = tc.toTag
			sdp := tc.sdp
			if sdp == "" {
				sdp = offer("0 101", "sendrecv")
			}
			extra := tc.extra
			if tc.auth != "" {
				tx, done := e.send(d.request("INVITE", 0, sdp))
				challenge := tx.final(t)
				wait(t, done, "the first INVITE's handler")
				user, password, _ := strings.Cut(tc.auth, ":")
				extra = append(extra, d.authorizationAs(challenge, user, password))
			}
			inv := d.request("INVITE", 0, sdp, extra...)
			tx, done := e.send(inv)
			res := tx.final(t)
			if res.StatusCode != tc.code {
				t.Fatalf("got %d %s, want %d:\n%s", res.StatusCode, res.Reason, tc.code, res)
			}
			if tc.header != "" {
				name, want, _ := strings.Cut(tc.header, ": ")
				found := false
				for _, h := range res.GetHeaders(name) {
					found = found || strings.Contains(h.Value(), want)
				}
				if !found {
					t.Errorf("no %q in\n%s", tc.header, res)
				}
			}
			wait(t, done, "the INVITE handler")
			select {
			case ch := <-e.calls:
				t.Errorf("a refused INVITE reached the dialplan as %s", ch.Name)
			default:
			}
			if n := e.reg.Count(); n != 0 {
				t.Errorf("%d channels created", n)
			}
			if n := e.srv.LegCount(); n != 0 {
				t.Errorf("%d legs left", n)
			}
		})
	}
}

// TestInviteAuthenticated: a known user who answers the challenge gets
// its call into the dialplan, in its context, as itself; the dialplan's
// busy is 486 to the caller.
func TestInviteAuthenticated(t *testing.T) {
	e := newSIPEnv(t)
	e.setDialplan(func(ch *channel.Channel) { ch.Hangup(q850.UserBusy) })
	d := newDialog(t, "1001", phoneSrc, "100")
	tx, done := e.send(d.request("INVITE", 0, offer("0 101", "sendrecv")))
	challenge := tx.final(t)
	wait(t, done, "the first INVITE's handler")
	if challenge.StatusCode != 401 {
		t.Fatalf("first INVITE: %d", challenge.StatusCode)
	}
	inv := d.request("INVITE", 0, offer("0 101", "sendrecv"), d.authorization(challenge, "pass1001"))
	tx, done = e.send(inv)
	ch := e.nextCall()
	if ch.Endpoint != "1001" || ch.Direction != channel.Inbound || ch.Tenant() != "default" {
		t.Errorf("channel %s endpoint %q direction %v tenant %q", ch.Name, ch.Endpoint, ch.Direction, ch.Tenant())
	}
	if ctx, exten, _ := ch.Location(); ctx != "phones" || exten != "100" {
		t.Errorf("call starts at %s@%s", exten, ctx)
	}
	if num, _ := ch.CallerID(); num != "1001" {
		t.Errorf("caller number %q", num)
	}
	res := tx.final(t)
	if res.StatusCode != 486 {
		t.Fatalf("got %d, want 486 for the dialplan's busy", res.StatusCode)
	}
	// The caller ACKs the 486 (on the INVITE transaction); then the
	// handler is done with the call.
	tx.Receive(d.request("ACK", d.cseq, ""))
	wait(t, done, "the INVITE handler")
}

// TestDialog: a call from a trunk through its whole dialog: answered
// with the session timer the node allows, held and resumed by
// re-INVITE (media is anchored: hold is answered on this leg alone),
// a DTMF INFO, an offer it cannot take, and the caller's BYE; requests
// for the dialog after it ended get 481.
func TestDialog(t *testing.T) {
	e := newSIPEnv(t)
	d := newDialog(t, "carrier", trunkSrc, "100")
	tx, done := e.send(d.request("INVITE", 0, offer("0 101", "sendrecv"), "Supported: timer", "Session-Expires: 3600;refresher=uac"))
	ch := e.nextCall()
	ok := tx.final(t)
	if ok.StatusCode != 200 {
		t.Fatalf("INVITE: %d\n%s", ok.StatusCode, ok)
	}
	if h := ok.GetHeader("Session-Expires"); h == nil || h.Value() != "1800;refresher=uac" {
		t.Errorf("Session-Expires %v, want the node's 1800 (below the caller's 3600)", h)
	}
	if !strings.Contains(string(ok.Body()), "a=sendrecv") || !strings.Contains(string(ok.Body()), "RTP/AVP 0 101") {
		t.Errorf("answer SDP:\n%s", ok.Body())
	}
	d.established(ok)
	e.ack(d.request("ACK", d.cseq, ""))

	for _, step := range []struct {
		name      string
		offer     string
		code      int
		direction media.Direction // what the node then answers (and does)
	}{
		{"hold: sendonly is answered recvonly", offer("0 101", "sendonly"), 200, media.RecvOnly},
		{"resume: sendrecv again", offer("0 101", "sendrecv"), 200, media.SendRecv},
		{"an offer without the codec in use is refused", offer("8", "sendrecv"), 488, media.SendRecv},
		{"inactive is answered inactive", offer("0 101", "inactive"), 200, media.Inactive},
	} {
		tx := e.sendIn(d.request("INVITE", 0, step.offer))
		res := tx.final(t)
		if res.StatusCode != step.code {
			t.Fatalf("%s: got %d", step.name, res.StatusCode)
		}
		if step.code == 200 {
			if !strings.Contains(string(res.Body()), "a="+string(step.direction)) {
				t.Errorf("%s: answer\n%s", step.name, res.Body())
			}
			e.ack(d.request("ACK", d.cseq, ""))
		}
		if got := ch.Media().Negotiated().Direction; got != step.direction {
			t.Errorf("%s: the leg's media is %s", step.name, got)
		}
	}

	info := e.sendIn(d.request("INFO", 0, "Signal=5\r\nDuration=250\r\n", "Content-Type: application/dtmf-relay"))
	if res := info.final(t); res.StatusCode != 200 {
		t.Fatalf("INFO: %d", res.StatusCode)
	}
	select {
	case dg := <-ch.Media().DTMF():
		if dg.Digit != '5' || dg.Duration != 250*time.Millisecond {
			t.Errorf("digit %+v", dg)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the INFO's digit never reached the channel")
	}

	bye := e.sendIn(d.request("BYE", 0, ""))
	if res := bye.final(t); res.StatusCode != 200 {
		t.Fatalf("BYE: %d", res.StatusCode)
	}
	wait(t, done, "the INVITE handler")
	if !ch.IsHungUp() || ch.HangupCause() != q850.NormalClearing {
		t.Errorf("after BYE: hung up %v, cause %d", ch.IsHungUp(), ch.HangupCause())
	}
	for _, m := range []string{"BYE", "INFO", "INVITE", "UPDATE"} {
		if res := e.sendIn(d.request(m, 0, "")).final(t); res.StatusCode != 481 {
			t.Errorf("%s after the call: %d, want 481", m, res.StatusCode)
		}
	}
	if n := e.srv.LegCount(); n != 0 {
		t.Errorf("%d legs left", n)
	}
}

// sendIn sends an in-dialog request and waits for its handler.
func (e *sipEnv) sendIn(req *sip.Request) *txRec {
	e.t.Helper()
	tx, done := e.send(req)
	wait(e.t, done, string(req.Method)+" handler")
	return tx
}

// TestOutOfDialog: requests that belong to no dialog, and methods the
// node does not take.
func TestOutOfDialog(t *testing.T) {
	for _, tc := range []struct {
		name    string
		method  string
		badCSeq bool // the CSeq names INVITE
		code    int
		header  string
	}{
		{"a BYE for a dialog that does not exist", "BYE", false, 481, ""},
		{"an INFO for a dialog that does not exist", "INFO", false, 481, ""},
		{"an UPDATE for a dialog that does not exist", "UPDATE", false, 481, ""},
		{"a CANCEL that matches no INVITE", "CANCEL", false, 481, ""},
		{"OPTIONS is answered with what the node supports", "OPTIONS", false, 200, "Allow"},
		{"a method the node does not take", "PUBLISH", false, 405, "Allow"},
		{"a SUBSCRIBE to an event package other than message-summary", "SUBSCRIBE", false, 489, "Allow-Events"},
		{"a CSeq naming another method", "BYE", true, 400, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newSIPEnv(t)
			d := newDialog(t, "carrier", trunkSrc, "100")
			d.toTag = "unknown"
			req := d.request(tc.method, 0, "")
			if tc.badCSeq {
				req.CSeq().MethodName = sip.INVITE
			}
			res := e.sendIn(req).final(t)
			if res.StatusCode != tc.code {
				t.Fatalf("got %d, want %d:\n%s", res.StatusCode, tc.code, res)
			}
			if tc.header != "" && res.GetHeader(tc.header) == nil {
				t.Errorf("no %s header:\n%s", tc.header, res)
			}
		})
	}
}

// TestSessionExpires: the session interval the node confirms (RFC 4028
// section 9): the caller's, never above the node's, none when the caller
// asked for no session timer or sent nonsense.
func TestSessionExpires(t *testing.T) {
	for _, tc := range []struct {
		header string // "" : no Session-Expires
		ours   int
		want   int
	}{
		{"", 1800, 0},
		{"1800", 1800, 1800},
		{"900;refresher=uac", 1800, 900},
		{" 900 ", 1800, 900},
		{"3600;refresher=uas", 1800, 1800},
		{"99999999999", 1800, 1800},
		{"3600", 0, 3600}, // the node sets no bound
		{"0", 1800, 0},
		{"abc", 1800, 0},
		{"-5", 1800, 0},
		{"90x", 1800, 0},
	} {
		d := newDialog(t, "carrier", trunkSrc, "100")
		var extra []string
		if tc.header != "" {
			extra = append(extra, "Session-Expires: "+tc.header)
		}
		req := d.request("INVITE", 0, "", extra...)
		if got := sessionExpires(req, tc.ours); got != tc.want {
			t.Errorf("Session-Expires %q with ours %d: %d, want %d", tc.header, tc.ours, got, tc.want)
		}
	}
}

// TestParseDTMFRelay: application/dtmf-relay bodies as phones send them.
func TestParseDTMFRelay(t *testing.T) {
	for _, tc := range []struct {
		body  string
		digit rune
		dur   time.Duration
		ok    bool
	}{
		{"Signal=5\r\nDuration=160\r\n", '5', 160 * time.Millisecond, true},
		{"Signal=5\nDuration=160", '5', 160 * time.Millisecond, true},
		{"signal = 9\r\nduration = 250\r\n", '9', 250 * time.Millisecond, true},
		{"Signal=*\r\n", '*', 100 * time.Millisecond, true},
		{"Signal=#\r\nDuration=100\r\n", '#', 100 * time.Millisecond, true},
		{"Signal=10\r\n", '*', 100 * time.Millisecond, true}, // the event number of *
		{"Signal=11\r\n", '#', 100 * time.Millisecond, true}, // and of #
		{"Signal=a\r\n", 'A', 100 * time.Millisecond, true},
		{"Signal=D\r\n", 'D', 100 * time.Millisecond, true},
		{"Signal=5\r\nDuration=0\r\n", '5', 100 * time.Millisecond, true},     // no duration: the default
		{"Signal=5\r\nDuration=-40\r\n", '5', 100 * time.Millisecond, true},   // nonsense: the default
		{"Signal=5\r\nDuration=20000\r\n", '5', 100 * time.Millisecond, true}, // 20 s is not a key press
		{"Signal=5\r\nDuration=abc\r\n", '5', 100 * time.Millisecond, true},
		{"Signal=12\r\n", 0, 0, false},
		{"Signal=E\r\n", 0, 0, false},
		{"Signal=\r\n", 0, 0, false},
		{"Duration=160\r\n", 0, 0, false},
		{"", 0, 0, false},
		{"garbage", 0, 0, false},
	} {
		d, dur, ok := parseDTMFRelay([]byte(tc.body))
		if ok != tc.ok || ok && (d != tc.digit || dur != tc.dur) {
			t.Errorf("parseDTMFRelay(%q) = %q, %v, %v; want %q, %v, %v", tc.body, d, dur, ok, tc.digit, tc.dur, tc.ok)
		}
	}
}

// TestHandleInfo: what an INFO in a dialog gets back, and the digit it
// hands to the leg's media.
func TestHandleInfo(t *testing.T) {
	e := newSIPEnv(t)
	sess, err := media.NewSession(e.pool, e.pacer, e.log)
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	for _, tc := range []struct {
		name        string
		contentType string
		body        string
		code        int
		digit       rune
	}{
		{"dtmf-relay", "application/dtmf-relay", "Signal=7\r\nDuration=120\r\n", 200, '7'},
		{"dtmf-relay with parameters and case", "Application/DTMF-Relay; charset=utf-8", "Signal=#\r\n", 200, '#'},
		{"dtmf-relay without a digit", "application/dtmf-relay", "Duration=120\r\n", 400, 0},
		{"application/dtmf: the digit alone", "application/dtmf", "3", 200, '3'},
		{"application/dtmf with blanks", "application/dtmf", " 3\r\n", 200, '3'},
		{"application/dtmf with two digits", "application/dtmf", "33", 400, 0},
		{"application/dtmf that is not a digit", "application/dtmf", "x", 400, 0},
		{"an empty INFO is a keep-alive", "", "", 200, 0},
		{"another body type", "text/plain", "hello", 415, 0},
	} {
		d := newDialog(t, "carrier", trunkSrc, "100")
		var extra []string
		if tc.contentType != "" {
			extra = append(extra, "Content-Type: "+tc.contentType)
		}
		req := d.request("INFO", 0, tc.body, extra...)
		tx := newTx(t, req)
		e.srv.handleInfo(req, tx, sess)
		res := tx.final(t)
		if res.StatusCode != tc.code {
			t.Errorf("%s: got %d, want %d", tc.name, res.StatusCode, tc.code)
		}
		if tc.code == 415 && res.GetHeader("Accept") == nil {
			t.Errorf("%s: a 415 without Accept", tc.name)
		}
		// A digit ends (and reaches the DTMF channel) once its duration
		// has passed, as Asterisk emulates it; none is expected for the
		// requests that carry no digit.
		var got rune
		wait := time.Second
		if tc.digit == 0 {
			wait = 300 * time.Millisecond // longer than the default 100 ms duration
		}
		select {
		case dg := <-sess.DTMF():
			got = dg.Digit
		case <-time.After(wait):
		}
		if got != tc.digit {
			t.Errorf("%s: digit %q, want %q", tc.name, got, tc.digit)
		}
	}
}

// TestInviteSDES: a trunk with media_encryption sdes offering two suites
// gets an RTP/SAVP answer with one crypto line of its first suite, under
// the offer's tag and with a key of the node's; the session is keyed.
func TestInviteSDES(t *testing.T) {
	e := newSIPEnv(t)
	e.trunk().MediaEncryption = "sdes"
	d := newDialog(t, "carrier", trunkSrc, "100")
	tx, done := e.send(d.request("INVITE", 0, sdesOffer(media.SuiteAESCM32, media.SuiteAESCM80)))
	ch := e.nextCall()
	res := tx.final(t)
	if res.StatusCode != 200 {
		t.Fatalf("got %d", res.StatusCode)
	}
	ans, err := media.ParseSDP(res.Body())
	if err != nil {
		t.Fatal(err)
	}
	if ans.Proto != "RTP/SAVP" || len(ans.Crypto) != 1 || ans.Crypto[0].Tag != 1 || ans.Crypto[0].Suite != media.SuiteAESCM32 {
		t.Fatalf("answer %s %+v", ans.Proto, ans.Crypto)
	}
	if string(ans.Crypto[0].Key) == string(offerKey) {
		t.Fatal("the answer echoes the offer's key")
	}
	if l, ok := ch.Driver().(interface{ Media() *media.Session }); !ok || !l.Media().Encrypted() {
		t.Error("the call's media is not keyed")
	}
	d.established(res)
	e.ack(d.request("ACK", d.cseq, ""))
	// A re-INVITE repeating the keys is answered with the same line.
	re := e.sendIn(d.request("INVITE", 0, sdesOffer(media.SuiteAESCM32))).final(t)
	if again, err := media.ParseSDP(re.Body()); err != nil || len(again.Crypto) != 1 || string(again.Crypto[0].Key) != string(ans.Crypto[0].Key) {
		t.Errorf("re-INVITE answer %d %+v %v", re.StatusCode, again, err)
	}
	e.ack(d.request("ACK", d.cseq, ""))
	if res := e.sendIn(d.request("BYE", 0, "")).final(t); res.StatusCode != 200 {
		t.Fatalf("BYE: %d", res.StatusCode)
	}
	wait(t, done, "the INVITE handler")
}

// offerKey is the key of sdesOffer's crypto lines (30 bytes).
var offerKey = []byte("0123456789abcdef0123456789abcd")

// sdesOffer is an RTP/SAVP offer of PCMU with one crypto line per suite
// (AES-CM keys only), tags from 1.
func sdesOffer(suites ...string) string {
	o := strings.Replace(offer("0 101", "sendrecv"), "RTP/AVP", "RTP/SAVP", 1)
	for i, su := range suites {
		o += fmt.Sprintf("a=crypto:%d %s inline:%s\r\n", i+1, su, base64.StdEncoding.EncodeToString(offerKey))
	}
	return o
}

func (e *sipEnv) trunk() *Endpoint {
	tr, _ := e.srv.Directory().TrunkFor(netip.MustParseAddr("198.51.100.7"))
	return tr
}
