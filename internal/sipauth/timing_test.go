package sipauth

import (
	"fmt"
	"testing"
)

// An unknown user and a wrong password cost Verify the same work (a digest
// against a stand-in HA1 for the former), so the time of the answer does
// not tell them apart: compare the two benchmarks' ns/op.

func benchVerify(b *testing.B, user string) {
	c := NewChallenger(Options{Realm: "entvoice", Algorithms: []string{MD5}})
	creds := CredentialsFromPassword("1001", "entvoice", "pass1001")
	lookup := func(u string) (Credentials, bool) { return creds, u == "1001" }
	nonce := c.Nonce()
	req := newReq("REGISTER", fmt.Sprintf(`Digest username="%s", realm="entvoice", nonce="%s", uri="sip:pbx.example", algorithm=MD5, qop=auth, nc=00000001, cnonce="abc", response="%032x"`, user, nonce, 7))
	want := UnknownUser
	if user == "1001" {
		want = BadPassword
	}
	if r := c.Verify(req, lookup); r.Status != want {
		b.Fatalf("Verify %s = %v, want %v", user, r.Status, want)
	}
	b.ResetTimer()
	for range b.N {
		c.Verify(req, lookup)
	}
}

func BenchmarkVerifyWrongPassword(b *testing.B) { benchVerify(b, "1001") }
func BenchmarkVerifyUnknownUser(b *testing.B)   { benchVerify(b, "mallory") }
