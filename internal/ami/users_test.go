package ami

import (
	"testing"
)

// TestNewStaticUsersRejectsBadInput: each user section with a mistake is
// refused, naming it.
func TestNewStaticUsersRejectsBadInput(t *testing.T) {
	for name, specs := range map[string][]UserSpec{
		"unknown read class":  {{Name: "a", Secret: "s", Read: "bogus"}},
		"unknown write class": {{Name: "a", Secret: "s", Write: "call,nope"}},
		"bad CIDR":            {{Name: "a", Secret: "s", Permit: []string{"300.1.1.1/8"}}},
		"no name":             {{Secret: "s"}},
		"defined twice":       {{Name: "a"}, {Name: "a"}},
	} {
		if _, err := NewStaticUsers(specs); err == nil {
			t.Errorf("%s: accepted", name)
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
