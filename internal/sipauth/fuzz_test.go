package sipauth

import (
	"strings"
	"testing"
)

func FuzzParseDigest(f *testing.F) {
	for _, s := range []string{
		`Digest username="1001", realm="pbx", nonce="abc", uri="sip:pbx", response="0123", algorithm=MD5, cnonce="x", qop=auth, nc=00000001`,
		`Digest username="1001",realm="pbx",nonce="abc"`,
		`digest a = "b\"c" , d=e,,`,
		`Digest realm="a\\`,
		`Basic abc`,
		`Digest `,
		`Digest =x`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := parseDigest(s)
		if err != nil {
			return
		}
		// Values come from s (or unescaped quoted strings from it), so
		// they can never be longer than s.
		for _, v := range []string{d.username, d.realm, d.nonce, d.uri, d.response, d.algorithm, d.cnonce, d.opaque, d.qop, d.nc} {
			if len(v) > len(s) {
				t.Fatalf("value %q longer than input %q", v, s)
			}
		}
		// Re-serialising with quotes parses back to the same values.
		var b strings.Builder
		b.WriteString("Digest ")
		for i, kv := range [][2]string{{"username", d.username}, {"realm", d.realm}, {"nonce", d.nonce}, {"uri", d.uri}, {"response", d.response}} {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(kv[0] + `="` + quoteEscape(kv[1]) + `"`)
		}
		d2, err := parseDigest(b.String())
		if err != nil {
			t.Fatalf("re-parse of %q: %v", b.String(), err)
		}
		if d2.username != d.username || d2.realm != d.realm || d2.nonce != d.nonce || d2.uri != d.uri || d2.response != d.response {
			t.Fatalf("round trip mismatch: %+v vs %+v", d, d2)
		}
	})
}
