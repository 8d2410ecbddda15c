package ami

import (
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/entvoice/entvoice/internal/config"
)

func mustUsers(t testing.TB, doc string) StaticUsers {
	t.Helper()
	var list []config.AMIUser
	if err := yaml.Unmarshal([]byte(doc), &list); err != nil {
		t.Fatal(err)
	}
	u, err := UsersFromConfig(list)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func TestUsersFromConfigRejectsBadInput(t *testing.T) {
	for _, doc := range []string{
		`[{name: a, secret: s, read: bogus}]`,
		`[{name: a, secret: s, write: "call,nope"}]`,
		`[{name: a, secret: s, permit: [300.1.1.1/8]}]`,
		`[{secret: s}]`,
		`[{name: a}, {name: a}]`,
	} {
		var list []config.AMIUser
		if err := yaml.Unmarshal([]byte(doc), &list); err != nil {
			t.Fatal(err)
		}
		if _, err := UsersFromConfig(list); err == nil {
			t.Errorf("%s: accepted", doc)
		}
	}
}

func TestClasses(t *testing.T) {
	c, err := ParseClasses("system, call,agent")
	if err != nil || c != ClassSystem|ClassCall|ClassAgent {
		t.Fatalf("ParseClasses = %b, %v", c, err)
	}
	if got := privilege(ClassCall); got != "call,all" {
		t.Errorf("privilege(call) = %q", got)
	}
	if got := privilege(ClassSystem | ClassCall | ClassReporting); got != "system,call,reporting,all" {
		t.Errorf("privilege = %q", got)
	}
	for in, want := range map[string]Class{"on": 1<<19 - 1 - 1<<17 | ClassMessage, "off": 0, "3": 3, "call,cdr": ClassCall | ClassCDR, "": -1, "-1": 0, "foo": 0} {
		if got := ParseEventMask(in); got != want {
			t.Errorf("ParseEventMask(%q) = %d, want %d", in, got, want)
		}
	}
}
