package e2e

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/entvoice/entvoice/internal/testpeer"
)

// sipp runs one SIPp call (unless opts.Calls says otherwise) and returns
// its exit code and message log.
func sipp(t *testing.T, opts testpeer.SIPpOptions) (int, string) {
	t.Helper()
	if opts.Calls == 0 {
		opts.Calls = 1
	}
	res := testpeer.RunSIPp(t, opts)
	return res.ExitCode, res.MessageLog
}

// scenario is the path of a scenario in testdata.
func scenario(name string) string {
	p, _ := filepath.Abs(filepath.Join("testdata", name))
	return p
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
