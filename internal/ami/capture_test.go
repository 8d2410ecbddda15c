package ami

import (
	"bufio"
	"os"
	"strconv"
	"strings"
	"testing"
)

// captured is one message of the Asterisk 22 capture in testdata.
type captured struct {
	section string // "## Login", ...
	part    int    // 1 or 2
	raw     string
}

// loadCapture reads testdata/ami-transcript.txt (a copy of the reference
// capture): every "raw: b'...'" line, decoded from Python's bytes repr.
func loadCapture(t testing.TB) []captured {
	t.Helper()
	f, err := os.Open("testdata/ami-transcript.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []captured
	section, part := "", 0
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		l := sc.Text()
		switch {
		case strings.HasPrefix(l, "# AMI transcript"):
			part++
		case strings.HasPrefix(l, "## "):
			section = strings.TrimPrefix(l, "## ")
		}
		i := strings.Index(l, "raw: b'")
		if i < 0 {
			continue
		}
		lit := l[i+len("raw: b'") : len(l)-1]
		out = append(out, captured{section: section, part: part, raw: unpy(t, lit)})
	}
	return out
}

// unpy decodes the body of a Python bytes literal written with single quotes.
func unpy(t testing.TB, s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' {
			b.WriteByte(s[i])
			continue
		}
		i++
		switch s[i] {
		case 'r':
			b.WriteByte('\r')
		case 'n':
			b.WriteByte('\n')
		case 't':
			b.WriteByte('\t')
		case '\\', '\'', '"':
			b.WriteByte(s[i])
		case 'x':
			v, err := strconv.ParseUint(s[i+1:i+3], 16, 8)
			if err != nil {
				t.Fatalf("bad escape in capture: %q", s[i:])
			}
			b.WriteByte(byte(v))
			i += 2
		default:
			t.Fatalf("unknown escape \\%c in capture", s[i])
		}
	}
	return b.String()
}

// captureMsgs returns the capture's messages of a part and section.
func captureMsgs(t testing.TB, part int, section string) []string {
	var out []string
	for _, c := range loadCapture(t) {
		if c.part == part && strings.HasPrefix(c.section, section) {
			out = append(out, c.raw)
		}
	}
	if len(out) == 0 {
		t.Fatalf("no %q messages in part %d of the capture", section, part)
	}
	return out
}
