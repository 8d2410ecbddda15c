package provision

import (
	"errors"
	"fmt"
	"net/netip"
	"regexp"
	"strings"

	"github.com/entvoice/entvoice/internal/config"
	"github.com/entvoice/entvoice/internal/dialplan"
)

// ErrNotFound is returned for an object that does not exist (or is not
// visible to the caller's tenant).
var ErrNotFound = errors.New("provision: not found")

// FieldError is one invalid field, named as in the API's JSON.
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
	// Line is the input line of a bulk import (0 otherwise).
	Line int `json:"line,omitempty"`
}

// ValidationError lists every invalid field of a request or every bad line
// of a bulk import. Conflict marks errors that are about existing objects
// (a duplicate name), which the API reports as 409 rather than 422.
type ValidationError struct {
	Errors   []FieldError
	Conflict bool
}

func (e *ValidationError) Error() string {
	var b strings.Builder
	b.WriteString("provision: invalid input: ")
	for i, f := range e.Errors {
		if i > 0 {
			b.WriteString("; ")
		}
		if i == 8 {
			fmt.Fprintf(&b, "and %d more", len(e.Errors)-i)
			break
		}
		if f.Line > 0 {
			fmt.Fprintf(&b, "line %d: ", f.Line)
		}
		b.WriteString(f.Field + ": " + f.Message)
	}
	return b.String()
}

// errs collects field errors.
type errs struct {
	list []FieldError
	line int
}

func (e *errs) add(field, format string, args ...any) {
	e.list = append(e.list, FieldError{Field: field, Message: fmt.Sprintf(format, args...), Line: e.line})
}

func (e *errs) err() error {
	if len(e.list) == 0 {
		return nil
	}
	return &ValidationError{Errors: e.list}
}

var (
	tenantIDRe  = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,31}$`)
	userNameRe  = regexp.MustCompile(`^[A-Za-z0-9._~+-]{1,64}$`)
	languageRe  = regexp.MustCompile(`^[a-z]{2,3}([_-][A-Za-z0-9]{2,8})?$`)
	contextRe   = regexp.MustCompile(`^[A-Za-z0-9_.+-]{1,79}$`)
	labelRe     = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,40}$`)
	appNameRe   = regexp.MustCompile(`^[A-Za-z0-9_]{1,40}$`)
	amiNameRe   = regexp.MustCompile(`^[A-Za-z0-9._@-]{1,64}$`)
	domainLabel = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)
)

// Statuses of a tenant.
const (
	StatusActive    = "active"
	StatusSuspended = "suspended"
)

// Codecs are the codec names a user may list (the media layer's G.711
// laws, under their SDP and Asterisk names).
var Codecs = []string{"pcmu", "pcma", "ulaw", "alaw"}

// AMIClasses are manager.conf's permission classes (main/manager.c perms[]).
var AMIClasses = []string{"system", "call", "log", "verbose", "command", "agent", "user", "config",
	"dtmf", "reporting", "cdr", "dialplan", "originate", "agi", "cc", "aoc", "test", "security",
	"message", "all"}

func validDomain(d string) bool {
	if len(d) > 253 || d == "" {
		return false
	}
	if _, err := netip.ParseAddr(d); err == nil {
		return true
	}
	for l := range strings.SplitSeq(d, ".") {
		if !domainLabel.MatchString(l) {
			return false
		}
	}
	return true
}

func noControl(s string) bool {
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return false
		}
	}
	return true
}

// ValidateTenant checks every field of t.
func ValidateTenant(t *Tenant) error {
	var e errs
	validateTenant(&e, t)
	return e.err()
}

func validateTenant(e *errs, t *Tenant) {
	if !tenantIDRe.MatchString(t.ID) {
		e.add("id", "tenant id %q must be 1-32 of a-z, 0-9 and '-', starting with a letter or digit", t.ID)
	}
	if len(t.Name) > 128 || !noControl(t.Name) {
		e.add("name", "must be at most 128 printable characters")
	}
	if t.Domain != "" && !validDomain(t.Domain) {
		e.add("domain", "%q is not a valid SIP domain (a lower-case host name or IP address)", t.Domain)
	}
	if t.Status != StatusActive && t.Status != StatusSuspended {
		e.add("status", "%q is not one of active, suspended", t.Status)
	}
	if t.MaxCalls < 0 {
		e.add("max_calls", "must be 0 (unlimited) or more")
	}
	if t.MaxUsers < 0 {
		e.add("max_users", "must be 0 (unlimited) or more")
	}
	if t.Language != "" && !languageRe.MatchString(t.Language) {
		e.add("language", "%q is not a language code such as en or en_GB", t.Language)
	}
}

func validatePrefixes(e *errs, field string, list []string) {
	for i, p := range list {
		var err error
		if strings.Contains(p, "/") {
			_, err = netip.ParsePrefix(p)
		} else {
			_, err = netip.ParseAddr(p)
		}
		if err != nil {
			e.add(fmt.Sprintf("%s[%d]", field, i), "bad CIDR %q: want an address or address/bits such as 192.0.2.0/24", p)
		}
	}
}

// ValidatePassword checks a SIP password given in clear.
func ValidatePassword(field, p string) error {
	var e errs
	validatePassword(&e, field, p)
	return e.err()
}

func validatePassword(e *errs, field, p string) {
	switch {
	case len(p) < 8:
		e.add(field, "must be at least 8 characters")
	case len(p) > 128:
		e.add(field, "must be at most 128 characters")
	case !noControl(p):
		e.add(field, "must not contain control characters")
	}
}

// ValidateUser checks every field of u (not the password or the HA1s).
func ValidateUser(u *User) error {
	var e errs
	validateUser(&e, u)
	return e.err()
}

func validateUser(e *errs, u *User) {
	if !userNameRe.MatchString(u.Name) || strings.Trim(u.Name, ".") == "" {
		e.add("name", "%q must be 1-64 of A-Z a-z 0-9 . _ ~ + -, not only dots", u.Name)
	}
	if !contextRe.MatchString(u.Context) {
		e.add("context", "%q must be 1-79 of A-Z a-z 0-9 _ . + -", u.Context)
	}
	if len(u.CallerID) > 128 || !noControl(u.CallerID) {
		e.add("callerid", "must be at most 128 printable characters, e.g. \"Alice\" <1001>")
	}
	if u.Language != "" && !languageRe.MatchString(u.Language) {
		e.add("language", "%q is not a language code such as en or en_GB", u.Language)
	}
	if len(u.Codecs) == 0 {
		e.add("codecs", "must list at least one codec of %s", strings.Join(Codecs, ", "))
	}
	for i, c := range u.Codecs {
		if !known(Codecs, c) {
			e.add(fmt.Sprintf("codecs[%d]", i), "unknown codec %q (want one of %s)", c, strings.Join(Codecs, ", "))
		}
	}
	validatePrefixes(e, "permit", u.Permit)
	validatePrefixes(e, "deny", u.Deny)
	if u.MaxContacts < 1 || u.MaxContacts > 100 {
		e.add("max_contacts", "must be 1 to 100")
	}
	if len(u.AccountCode) > 80 || !noControl(u.AccountCode) {
		e.add("accountcode", "must be at most 80 printable characters")
	}
	// Call and pickup groups as pjsip.conf writes them.
	for field, v := range map[string]string{"callgroup": u.CallGroup, "pickupgroup": u.PickupGroup} {
		if _, err := config.ParseGroups(v); err != nil {
			e.add(field, "%v", err)
		}
	}
	for field, v := range map[string]string{"named_callgroup": u.NamedCallGroup, "named_pickupgroup": u.NamedPickupGroup} {
		if _, err := config.ParseNamedGroups(v); err != nil || len(v) > 256 {
			e.add(field, "must be comma-separated names without blanks, at most 256 characters")
		}
	}
}

func known(list []string, v string) bool {
	for _, k := range list {
		if strings.EqualFold(k, v) {
			return true
		}
	}
	return false
}

// ValidateExtension checks every field of x; knownApp (nil: any) says
// whether an application exists.
func ValidateExtension(x *Extension, knownApp func(string) bool) error {
	var e errs
	validateExtension(&e, x, knownApp)
	return e.err()
}

func validateExtension(e *errs, x *Extension, knownApp func(string) bool) {
	if !contextRe.MatchString(x.Context) {
		e.add("context", "%q must be 1-79 of A-Z a-z 0-9 _ . + -", x.Context)
	}
	if x.Exten == "" || len(x.Exten) > 80 || strings.ContainsAny(x.Exten, " \t,") || !noControl(x.Exten) {
		e.add("exten", "%q must be 1-80 characters without spaces or commas", x.Exten)
	} else {
		// The dialplan's own loader decides whether a pattern (or the
		// exten/cid Caller ID match) can ever match (main/pbx.c
		// ext_cmp_pattern: an unterminated '[' never matches).
		if err := dialplan.New().AddRow("c", x.Exten, 1, "", "NoOp", ""); err != nil {
			e.add("exten", "bad pattern %q: %v", x.Exten, unwrapDialplan(err))
		}
	}
	if x.Priority < 1 && x.Priority != dialplan.PriorityHint {
		e.add("priority", "must be 1 or more (or -1 for a hint)")
	}
	if x.Label != "" && !labelRe.MatchString(x.Label) {
		e.add("label", "%q must be 1-40 of A-Z a-z 0-9 _ . -", x.Label)
	}
	switch {
	case x.App == "":
		e.add("app", "is required")
	case x.Priority == dialplan.PriorityHint:
		// A hint's "app" is its device list, not an application.
	case !appNameRe.MatchString(x.App):
		e.add("app", "%q is not an application name", x.App)
	case knownApp != nil && !knownApp(x.App):
		e.add("app", "unknown application %q", x.App)
	}
	if len(x.AppData) > 1024 || !noControl(x.AppData) {
		e.add("appdata", "must be at most 1024 printable characters")
	}
}

func unwrapDialplan(err error) string {
	return strings.TrimPrefix(err.Error(), "dialplan: ")
}

// ValidateAMIUser checks every field of u; the secret must be set when
// create is true.
func ValidateAMIUser(u *AMIUser, create bool) error {
	var e errs
	if !amiNameRe.MatchString(u.Name) {
		e.add("name", "%q must be 1-64 of A-Z a-z 0-9 . _ @ -", u.Name)
	}
	if u.Tenant != "" && !tenantIDRe.MatchString(u.Tenant) {
		e.add("tenant", "%q is not a tenant id", u.Tenant)
	}
	if create || u.Secret != "" {
		validatePassword(&e, "secret", u.Secret)
	}
	for _, f := range []struct{ name, v string }{{"read", u.Read}, {"write", u.Write}} {
		if f.v == "" {
			continue
		}
		for c := range strings.SplitSeq(f.v, ",") {
			if !known(AMIClasses, strings.TrimSpace(c)) {
				e.add(f.name, "unknown class %q (want a list of %s)", strings.TrimSpace(c), strings.Join(AMIClasses, ", "))
			}
		}
	}
	validatePrefixes(&e, "permit", u.Permit)
	validatePrefixes(&e, "deny", u.Deny)
	return e.err()
}

// ValidateToken checks a token's name.
func ValidateToken(t *Token) error {
	var e errs
	if len(t.Name) > 64 || !noControl(t.Name) {
		e.add("name", "must be at most 64 printable characters")
	}
	if t.Tenant != "" && !tenantIDRe.MatchString(t.Tenant) {
		e.add("tenant", "%q is not a tenant id", t.Tenant)
	}
	return e.err()
}
