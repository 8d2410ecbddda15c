package e2e

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/entvoice/entvoice/internal/testpeer"
)

// sippRun runs SIPp once in dir against target and returns its exit code
// and message log. It skips the test when SIPp is not installed.
func sippRun(t *testing.T, dir, target string, args ...string) (int, string) {
	t.Helper()
	if _, err := exec.LookPath("sipp"); err != nil {
		t.Skip("sipp not installed")
	}
	port := testpeer.FreeUDPPort(t)
	media := testpeer.FreePortBlock(t, 4)
	ctl := testpeer.FreeUDPPort(t)
	msgs := filepath.Join(dir, "msgs.log")
	full := append([]string{target, "-i", "127.0.0.1", "-p", strconv.Itoa(port), "-mi", "127.0.0.1",
		"-mp", strconv.Itoa(media), "-cp", strconv.Itoa(ctl), "-nostdin", "-timeout", "30s", "-timeout_error",
		"-trace_msg", "-message_file", msgs, "-trace_err", "-error_file", filepath.Join(dir, "err.log")}, args...)
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "sipp", full...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("sipp: %v", err)
	}
	log, _ := os.ReadFile(msgs)
	if code != 0 {
		errs, _ := os.ReadFile(filepath.Join(dir, "err.log"))
		t.Logf("sipp %s exited %d\n%s\nerrors:\n%s", strings.Join(args, " "), code, tail(string(out), 40), errs)
	}
	return code, string(log)
}

func tail(s string, lines int) string {
	l := strings.Split(s, "\n")
	if len(l) > lines {
		l = l[len(l)-lines:]
	}
	return strings.Join(l, "\n")
}

// sippDir makes a working directory with the scenarios and a pcap/ folder.
func sippDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "pcap"), 0o755); err != nil {
		t.Fatal(err)
	}
	wd, _ := os.Getwd()
	entries, _ := os.ReadDir(filepath.Join(wd, "testdata"))
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(wd, "testdata", e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, e.Name()), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// startLines returns the start lines of the SIP messages in a SIPp message
// log, in order: "INVITE", "401", "ACK", "200", ...
func startLines(log string) []string {
	var out []string
	for _, line := range strings.Split(log, "\n") {
		line = strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(line, "SIP/2.0 "):
			f := strings.Fields(line)
			out = append(out, f[1])
		case strings.HasSuffix(line, " SIP/2.0"):
			out = append(out, strings.Fields(line)[0])
		}
	}
	return out
}
