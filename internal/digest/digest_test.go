package digest

import "testing"

func TestHA1Vectors(t *testing.T) {
	// RFC 2617 section 3.5 and RFC 7616 section 3.9.1 users.
	if got, want := HA1("MD5", "Mufasa", "testrealm@host.com", "Circle Of Life"), "939e7578ed9e3c518a452acee763bce9"; got != want {
		t.Errorf("HA1 MD5 = %s, want %s", got, want)
	}
	if got, want := HA1("", "Mufasa", "testrealm@host.com", "Circle Of Life"), "939e7578ed9e3c518a452acee763bce9"; got != want {
		t.Errorf("HA1 default alg = %s, want MD5 %s", got, want)
	}
	if got, want := HA1("sha-256", "Mufasa", "http-auth@example.org", "Circle of Life"), "7987c64c30e25f1b74be53f966b49b90f2808aa92faf9a00262392d7b4794232"; got != want {
		t.Errorf("HA1 SHA-256 = %s, want %s", got, want)
	}
	if HA1("SHA-512", "a", "b", "c") != "" {
		t.Error("unsupported algorithm must give empty HA1")
	}
}
