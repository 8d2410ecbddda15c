package ami

import (
	"strings"
	"testing"
)

func TestURIEncode(t *testing.T) {
	for in, want := range map[string]string{
		"200 result=0\n":       "200%20result%3D0%0A",
		"a-_.!~*'()z/:+é":      "a-_.!~*'()z%2F%3A%2B%C3%A9",
		strings.Repeat("é", 9): strings.Repeat("%C3%A9", 3), // cut at 20 bytes, never inside an escape
	} {
		max := 2048
		if strings.HasPrefix(in, "é") {
			max = 20
		}
		if got := uriEncode([]byte(in), max); got != want {
			t.Errorf("uriEncode(%q) = %q, want %q", in, got, want)
		}
	}
}
