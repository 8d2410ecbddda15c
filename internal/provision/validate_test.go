package provision

import (
	"errors"
	"strings"
	"testing"
)

func TestValidatorsNameTheField(t *testing.T) {
	user := func(mod func(u *User)) error {
		u := User{Name: "1001", Context: "default", Codecs: []string{"pcmu"}, MaxContacts: 1}
		mod(&u)
		return ValidateUser(&u)
	}
	ext := func(mod func(x *Extension)) error {
		x := Extension{Context: "in", Exten: "_1XX", Priority: 1, App: "Dial"}
		mod(&x)
		return ValidateExtension(&x, func(a string) bool { return strings.EqualFold(a, "dial") })
	}
	tenant := func(mod func(t *Tenant)) error {
		t := Tenant{ID: "acme", Status: StatusActive, Domain: "acme.example.com"}
		mod(&t)
		return ValidateTenant(&t)
	}
	cases := []struct {
		name, field, msg string
		err              error
	}{
		{"ok user", "", "", user(func(*User) {})},
		{"dots", "name", "only dots", user(func(u *User) { u.Name = ".." })},
		{"space", "name", "must be", user(func(u *User) { u.Name = "a b" })},
		{"context", "context", "must be", user(func(u *User) { u.Context = "in ternal" })},
		{"codec", "codecs[1]", `unknown codec "g722"`, user(func(u *User) { u.Codecs = []string{"PCMA", "g722"} })},
		{"no codec", "codecs", "at least one", user(func(u *User) { u.Codecs = nil })},
		{"cidr", "deny[0]", `bad CIDR "10.0.0.0/99"`, user(func(u *User) { u.Deny = []string{"10.0.0.0/99"} })},
		{"addr", "permit[0]", "bad CIDR", user(func(u *User) { u.Permit = []string{"not-an-ip"} })},
		{"v6 ok", "", "", user(func(u *User) { u.Permit = []string{"2001:db8::/32", "192.0.2.7"} })},
		{"language", "language", "language code", user(func(u *User) { u.Language = "English" })},
		{"callerid", "callerid", "printable", user(func(u *User) { u.CallerID = "a\r\nb" })},
		{"contacts", "max_contacts", "1 to 100", user(func(u *User) { u.MaxContacts = 0 })},
		{"ok ext", "", "", ext(func(*Extension) {})},
		{"pattern", "exten", "bad pattern", ext(func(x *Extension) { x.Exten = "_1[2" })},
		{"cid pattern", "exten", "bad pattern", ext(func(x *Extension) { x.Exten = "100/_5[5" })},
		{"exten comma", "exten", "without spaces or commas", ext(func(x *Extension) { x.Exten = "1,2" })},
		{"priority", "priority", "1 or more", ext(func(x *Extension) { x.Priority = 0 })},
		{"hint ok", "", "", ext(func(x *Extension) { x.Priority = -1; x.App = "PJSIP/100&PJSIP/101" })},
		{"app", "app", `unknown application "Playback"`, ext(func(x *Extension) { x.App = "Playback" })},
		{"app name", "app", "not an application name", ext(func(x *Extension) { x.App = "Dial(" })},
		{"label", "label", "must be", ext(func(x *Extension) { x.Label = "a b" })},
		{"ok tenant", "", "", tenant(func(*Tenant) {})},
		{"tenant id", "id", "tenant id", tenant(func(t *Tenant) { t.ID = "Acme" })},
		{"domain", "domain", "not a valid SIP domain", tenant(func(t *Tenant) { t.Domain = "acme..com" })},
		{"domain ip", "", "", tenant(func(t *Tenant) { t.Domain = "192.0.2.1" })},
		{"status", "status", "active, suspended", tenant(func(t *Tenant) { t.Status = "on" })},
		{"limits", "max_calls", "0 (unlimited)", tenant(func(t *Tenant) { t.MaxCalls = -1 })},
		{"ami class", "read", `unknown class "everything"`, ValidateAMIUser(&AMIUser{Name: "m", Secret: "long-enough", Read: "call,everything"}, true)},
		{"ami secret", "secret", "at least 8", ValidateAMIUser(&AMIUser{Name: "m", Secret: "x"}, true)},
		{"ami keep secret", "", "", ValidateAMIUser(&AMIUser{Name: "m", Read: "all"}, false)},
	}
	for _, c := range cases {
		if c.field == "" {
			if c.err != nil {
				t.Errorf("%s: unexpected %v", c.name, c.err)
			}
			continue
		}
		var ve *ValidationError
		if !errors.As(c.err, &ve) {
			t.Errorf("%s: want a ValidationError on %s, got %v", c.name, c.field, c.err)
			continue
		}
		found := false
		for _, f := range ve.Errors {
			if f.Field == c.field && strings.Contains(f.Message, c.msg) {
				found = true
			}
		}
		if !found {
			t.Errorf("%s: want %s: ...%s..., got %v", c.name, c.field, c.msg, ve.Errors)
		}
	}
}
