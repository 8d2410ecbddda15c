//go:build !pocketsphinx || !cgo

package pocketsphinx

import (
	"errors"
	"strings"
	"testing"

	"github.com/entvoice/entvoice/internal/speech"
)

// Without the build tag the binary builds and reports the engine missing.
func TestUnavailableWithoutTag(t *testing.T) {
	e, err := New(Config{})
	if e != nil || !errors.Is(err, speech.ErrUnavailable) || !strings.Contains(err.Error(), "-tags pocketsphinx") {
		t.Fatalf("New = %v, %v", e, err)
	}
	reg := speech.NewRegistry()
	if err := reg.RegisterUnavailable(Name, err); err != nil {
		t.Fatal(err)
	}
	if _, err := reg.Get("pocketsphinx"); !errors.Is(err, speech.ErrUnavailable) {
		t.Fatalf("Get: %v", err)
	}
	if _, err := reg.Get(""); !errors.Is(err, speech.ErrUnavailable) {
		t.Fatalf("Get default: %v", err)
	}
	if Available {
		t.Fatal("Available without the tag")
	}
}
