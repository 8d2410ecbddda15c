package q850

import "testing"

func TestCauses(t *testing.T) {
	if Text(17) != "User busy" || Text(999) != "Unknown" {
		t.Fatal("cause text")
	}
	if n, ok := Parse("BUSY"); !ok || n != 17 {
		t.Fatal("BUSY alias")
	}
	if ToSIP(UserBusy) != 486 || FromSIP(486) != UserBusy || FromSIP(404) != Unallocated {
		t.Fatal("sip mapping")
	}
}
