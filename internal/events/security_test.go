package events

import (
	"bytes"
	"log/slog"
	"net/netip"
	"strings"
	"testing"
	"time"
)

// TestSecurityFields: the fields in security_events.c's order, required
// ones always, optional ones when set; captured from Asterisk 22:
// "EventTV, Severity, Service, EventVersion, AccountID, SessionID,
// LocalAddress, RemoteAddress, UsingPassword, SessionTV" for an AMI login.
func TestSecurityFields(t *testing.T) {
	tm := time.Date(2026, 11, 29, 4, 19, 7, 315e6, time.UTC)
	ev := Security{Kind: SuccessfulAuth, Time: tm, Service: "AMI", AccountID: "admin", SessionID: "0x1",
		LocalAddr:  SecurityAddr("tcp", netip.MustParseAddrPort("127.0.0.1:5039")),
		RemoteAddr: SecurityAddr("TCP", netip.MustParseAddrPort("[::ffff:127.0.0.1]:58426")), SessionTV: tm}
	got := strings.Join(ev.Event().Extra, "|")
	want := "EventTV: 2026-11-29T04:19:07.315+0000|Severity: Informational|Service: AMI|EventVersion: 1|AccountID: admin|" +
		"SessionID: 0x1|LocalAddress: IPV4/TCP/127.0.0.1/5039|RemoteAddress: IPV4/TCP/127.0.0.1/58426|UsingPassword: 0|" +
		"SessionTV: 2026-11-29T04:19:07.315+0000"
	if got != want {
		t.Errorf("SuccessfulAuth\n got %s\nwant %s", got, want)
	}
	crf := Security{Kind: ChallengeResponseFailed, Time: tm, Service: "PJSIP", AccountID: "1001", SessionID: "c1",
		LocalAddr: "IPV4/UDP/127.0.0.1/5060", RemoteAddr: "IPV6/UDP/::1/5062", Challenge: "n", Response: "r"}
	if got := strings.Join(crf.Event().Extra[8:], "|"); got != "Challenge: n|Response: r|ExpectedResponse: " {
		t.Errorf("ChallengeResponseFailed tail %q", got)
	}
	bad := Security{Kind: RequestBadFormat, Time: tm, Service: "PJSIP", SessionID: "c", RequestType: "INVITE"}
	if got := strings.Join(bad.Event().Extra, "|"); strings.Contains(got, "AccountID") || !strings.Contains(got, "|RequestType: INVITE") {
		t.Errorf("RequestBadFormat without account: %s", got)
	}
	if !IsSecurity(InvalidAccountID) || IsSecurity(Hangup) {
		t.Error("IsSecurity")
	}
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, nil))
	Security{Kind: InvalidAccountID, Service: "PJSIP", AccountID: "mallory", RemoteAddr: "IPV4/UDP/192.0.2.1/5060"}.Report(nil, log)
	if l := buf.String(); !strings.Contains(l, "level=WARN") || !strings.Contains(l, "SecurityEvent=InvalidAccountID") ||
		!strings.Contains(l, "AccountID=mallory") || !strings.Contains(l, "RemoteAddress=IPV4/UDP/192.0.2.1/5060") {
		t.Errorf("log line %q", l)
	}
	buf.Reset()
	ev.Report(nil, log) // informational: DEBUG, below the handler's level
	if buf.Len() != 0 {
		t.Errorf("informational event logged at INFO: %q", buf.String())
	}
}
