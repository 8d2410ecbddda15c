package main

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/entvoice/entvoice/internal/media"
)

// The test binary is built without the pocketsphinx tag: the speech
// commands must say so and how to fix it, with exit code 3.
func TestSpeechCommandsWithoutEngine(t *testing.T) {
	out, _, code := run(t, "speech", "engines")
	if code != 0 || !strings.HasPrefix(out, "pocketsphinx\tunavailable\t") || !strings.Contains(out, "-tags pocketsphinx") {
		t.Fatalf("speech engines: %q code %d", out, code)
	}
	_, errOut, code := run(t, "speech", "recognize", "--grammar", "builtin:yesno", "nofile.wav")
	if code != 3 || !strings.Contains(errOut, "engine unavailable") {
		t.Fatalf("speech recognize: %q code %d", errOut, code)
	}
}

func TestSpeechSay(t *testing.T) {
	if _, err := exec.LookPath("espeak-ng"); err != nil {
		t.Skip("espeak-ng not installed")
	}
	wav := filepath.Join(t.TempDir(), "hola.wav")
	out, errOut, code := run(t, "speech", "say", "--language", "es", "-o", wav, "Hola, bienvenido")
	if code != 0 || !strings.Contains(out, "voice es") {
		t.Fatalf("speech say: %q %q code %d", out, errOut, code)
	}
	pcm, err := media.LoadFile(wav)
	if err != nil || len(pcm) < media.SampleRate/2 {
		t.Fatalf("%s: %d samples, %v", wav, len(pcm), err)
	}
	if _, errOut, code := run(t, "speech", "say", "--voice", "zz-none", "-o", wav, "x"); code != 5 || !strings.Contains(errOut, "zz-none") {
		t.Fatalf("bad voice: %q code %d", errOut, code)
	}
}
