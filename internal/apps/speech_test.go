package apps

import (
	"testing"

	"github.com/entvoice/entvoice/internal/speech"
)

// TestFindResult: SPEECH_TEXT(N) and SPEECH_TEXT(B/N) pick results as
// app_speech_utils.c's find_result does; out of range is not found.
func TestFindResult(t *testing.T) {
	res := []speech.Result{{Text: "sales", NBest: 0}, {Text: "support", NBest: 1}, {Text: "billing", NBest: 1}}
	for spec, want := range map[string]string{"0": "sales", "1": "support", "2": "billing", "1/0": "support", "1/1": "billing", "0/0": "sales", " 0 ": "sales"} {
		if r, ok := findResult(res, spec); !ok || r.Text != want {
			t.Errorf("findResult(%q) = %q %v, want %q", spec, r.Text, ok, want)
		}
	}
	for _, spec := range []string{"3", "0/1", "2/0"} {
		if r, ok := findResult(res, spec); ok {
			t.Errorf("findResult(%q) = %q, want none", spec, r.Text)
		}
	}
	if _, ok := findResult(nil, "0"); ok {
		t.Error("a result without results")
	}
}
