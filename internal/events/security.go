package events

import (
	"context"
	"log/slog"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// Security event kinds beyond those above (InvalidPassword, SuccessfulAuth,
// ChallengeSent, RequestNotAllowd): Asterisk's security events
// (main/security_events.c), raised by SIP, AMI and the API.
const (
	InvalidAccountID        Kind = "InvalidAccountID"
	ChallengeResponseFailed Kind = "ChallengeResponseFailed"
	FailedACL               Kind = "FailedACL"
	RequestBadFormat        Kind = "RequestBadFormat"
	RequestNotSupported     Kind = "RequestNotSupported"
	SessionLimit            Kind = "SessionLimit"
	InvalidTransport        Kind = "InvalidTransport"
)

// securitySpec is what security_events.c's sec_events table says of one
// kind: its version, severity, and the fields after the common ones in
// order, required (always printed) then optional (printed when set).
type securitySpec struct {
	version  int
	info     bool // Informational; else Error
	noAcct   bool // AccountID is optional (RequestBadFormat)
	required []string
	optional []string
}

// specOf is security_events.c's sec_events entry of a kind.
func specOf(k Kind) (securitySpec, bool) {
	switch k {
	case FailedACL:
		return securitySpec{version: 1, optional: []string{"Module", "ACLName", "SessionTV"}}, true
	case InvalidAccountID:
		return securitySpec{version: 1, optional: []string{"Module", "SessionTV"}}, true
	case SessionLimit:
		return securitySpec{version: 1, optional: []string{"Module", "SessionTV"}}, true
	case RequestNotSupported:
		return securitySpec{version: 1, required: []string{"RequestType"}, optional: []string{"Module", "SessionTV"}}, true
	case RequestNotAllowd:
		return securitySpec{version: 1, required: []string{"RequestType"}, optional: []string{"Module", "SessionTV", "RequestParams"}}, true
	case RequestBadFormat:
		return securitySpec{version: 1, noAcct: true, required: []string{"RequestType"}, optional: []string{"Module", "SessionTV", "AccountID", "RequestParams"}}, true
	case SuccessfulAuth:
		return securitySpec{version: 1, info: true, required: []string{"UsingPassword"}, optional: []string{"Module", "SessionTV"}}, true
	case ChallengeResponseFailed:
		return securitySpec{version: 1, required: []string{"Challenge", "Response", "ExpectedResponse"}, optional: []string{"Module", "SessionTV"}}, true
	case InvalidPassword:
		return securitySpec{version: 2, optional: []string{"Module", "SessionTV", "Challenge", "ReceivedChallenge", "ReceivedHash"}}, true
	case ChallengeSent:
		return securitySpec{version: 1, info: true, required: []string{"Challenge"}, optional: []string{"Module", "SessionTV"}}, true
	case InvalidTransport:
		return securitySpec{version: 1, required: []string{"AttemptedTransport"}, optional: []string{"Module", "SessionTV"}}, true
	}
	return securitySpec{}, false
}

// IsSecurity reports whether k is one of the security events.
func IsSecurity(k Kind) bool {
	_, ok := specOf(k)
	return ok
}

// Security is one security event with Asterisk's fields. Service is
// "PJSIP", "AMI" or "API"; SessionID is the SIP Call-ID, the AMI session
// or the HTTP request; addresses are as SecurityAddr prints them. Fields
// a kind does not have are ignored; optional ones are printed when set.
type Security struct {
	Kind       Kind
	Time       time.Time // EventTV; zero: now
	Service    string
	AccountID  string
	SessionID  string
	LocalAddr  string
	RemoteAddr string
	SessionTV  time.Time
	// Fields of some kinds.
	Module, ACLName, RequestType, RequestParams string
	Challenge, Response, ExpectedResponse       string
	ReceivedChallenge, ReceivedHash             string
	AttemptedTransport                          string
	UsingPassword                               bool
	// Tenant scopes the event on the bus (AMI users bound to a tenant
	// see their tenant's events only).
	Tenant string
}

// SecurityAddr prints an address as Asterisk's security events do
// (ast_json_ipaddr): "IPV4/UDP/127.0.0.1/5060".
func SecurityAddr(transport string, ap netip.AddrPort) string {
	if !ap.IsValid() {
		return ""
	}
	v := "IPV4"
	a := ap.Addr()
	if a.Is6() && !a.Is4In6() {
		v = "IPV6"
	}
	return v + "/" + strings.ToUpper(transport) + "/" + a.Unmap().String() + "/" + strconv.Itoa(int(ap.Port()))
}

// eventTime formats EventTV and SessionTV (ast_json_timeval).
func eventTime(t time.Time) string { return t.Format("2006-01-02T15:04:05.000-0700") }

func (s *Security) field(name string) string {
	switch name {
	case "Module":
		return s.Module
	case "ACLName":
		return s.ACLName
	case "SessionTV":
		if s.SessionTV.IsZero() {
			return ""
		}
		return eventTime(s.SessionTV)
	case "AccountID":
		return s.AccountID
	case "RequestType":
		return s.RequestType
	case "RequestParams":
		return s.RequestParams
	case "Challenge":
		return s.Challenge
	case "Response":
		return s.Response
	case "ExpectedResponse":
		return s.ExpectedResponse
	case "ReceivedChallenge":
		return s.ReceivedChallenge
	case "ReceivedHash":
		return s.ReceivedHash
	case "AttemptedTransport":
		return s.AttemptedTransport
	case "UsingPassword":
		if s.UsingPassword {
			return "1"
		}
		return "0"
	}
	return ""
}

// Fields returns the event's fields as Asterisk orders them (required,
// then optional that are set), each a name and value.
func (s *Security) Fields() [][2]string {
	spec, ok := specOf(s.Kind)
	if !ok {
		return nil
	}
	t := s.Time
	if t.IsZero() {
		t = time.Now()
	}
	sev := "Error"
	if spec.info {
		sev = "Informational"
	}
	out := make([][2]string, 0, 12)
	out = append(out, [2]string{"EventTV", eventTime(t)}, [2]string{"Severity", sev},
		[2]string{"Service", s.Service}, [2]string{"EventVersion", strconv.Itoa(spec.version)})
	if !spec.noAcct {
		out = append(out, [2]string{"AccountID", s.AccountID})
	}
	out = append(out, [2]string{"SessionID", s.SessionID},
		[2]string{"LocalAddress", s.LocalAddr}, [2]string{"RemoteAddress", s.RemoteAddr})
	for _, f := range spec.required {
		out = append(out, [2]string{f, s.field(f)})
	}
	for _, f := range spec.optional {
		if v := s.field(f); v != "" {
			out = append(out, [2]string{f, v})
		}
	}
	return out
}

// Event is the bus event of s: its Extra lines are the AMI body.
func (s *Security) Event() Event {
	if s.Time.IsZero() {
		s.Time = time.Now()
	}
	f := s.Fields()
	lines := make([]string, len(f))
	for i, kv := range f {
		lines[i] = kv[0] + ": " + kv[1]
	}
	return Event{Kind: s.Kind, Time: s.Time, Tenant: s.Tenant, Extra: lines}
}

// Log writes s as one structured log line (res_security_log's security
// log channel): message "security event", SecurityEvent=<kind>, then the
// fields by their Asterisk names. Errors log at WARN; informational
// events (a challenge sent, a success: one per registration) at DEBUG.
func (s *Security) Log(log *slog.Logger) {
	if log == nil {
		return
	}
	spec, _ := specOf(s.Kind)
	level := slog.LevelWarn
	if spec.info {
		level = slog.LevelDebug
	}
	if !log.Enabled(context.Background(), level) {
		return
	}
	f := s.Fields()
	attrs := make([]slog.Attr, 0, len(f)+1)
	attrs = append(attrs, slog.String("SecurityEvent", string(s.Kind)))
	for _, kv := range f {
		attrs = append(attrs, slog.String(kv[0], kv[1]))
	}
	log.LogAttrs(context.Background(), level, "security event", attrs...)
}

// Report publishes s on bus (nil: none) and logs it.
func (s Security) Report(bus *Bus, log *slog.Logger) {
	if s.Time.IsZero() {
		s.Time = time.Now()
	}
	if bus != nil {
		bus.Publish(s.Event())
	}
	s.Log(log)
}
