package e2e

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/entvoice/entvoice/internal/testpeer"
)

// captureLine is one line of the Asterisk 22 FastAGI capture: fromAst is
// true for what Asterisk sent (AST<<), false for the script's (AGI>>).
type captureLine struct {
	fromAst bool
	data    []byte
}

var captureRe = regexp.MustCompile(`^\S+ (AST<<|AGI>>) b'(.*)'$`)

// loadCapture reads testdata/asterisk22-agi-transcript.txt (a copy of the
// reference capture): every socket line as a Python bytes repr.
func loadCapture(t *testing.T) []captureLine {
	t.Helper()
	raw, err := os.ReadFile("testdata/asterisk22-agi-transcript.txt")
	if err != nil {
		t.Fatal(err)
	}
	var out []captureLine
	for _, l := range strings.Split(string(raw), "\n") {
		m := captureRe.FindStringSubmatch(l)
		if m == nil {
			continue
		}
		out = append(out, captureLine{fromAst: m[1] == "AST<<", data: unrepr(t, m[2])})
	}
	return out
}

// unrepr decodes the body of a Python bytes literal.
func unrepr(t *testing.T, s string) []byte {
	t.Helper()
	var b []byte
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' {
			b = append(b, s[i])
			continue
		}
		i++
		switch s[i] {
		case 'n':
			b = append(b, '\n')
		case 'r':
			b = append(b, '\r')
		case 't':
			b = append(b, '\t')
		case 'x':
			v, err := strconv.ParseUint(s[i+1:i+3], 16, 8)
			if err != nil {
				t.Fatalf("bad escape in %q", s)
			}
			b = append(b, byte(v))
			i += 2
		default:
			b = append(b, s[i])
		}
	}
	return b
}

// normalize replaces what differs by design between two runs: uniqueids,
// thread ids, channel name counters, the FastAGI port and the version.
var normalizers = []struct {
	re   *regexp.Regexp
	repl string
}{
	{regexp.MustCompile(`^agi_uniqueid: .*`), "agi_uniqueid: <id>"},
	{regexp.MustCompile(`^agi_threadid: \d+`), "agi_threadid: <thread>"},
	{regexp.MustCompile(`^agi_version: .*`), "agi_version: <version>"},
	{regexp.MustCompile(`PJSIP/sipp-[0-9a-f]{8}`), "PJSIP/sipp-<n>"},
	{regexp.MustCompile(`agi://127\.0\.0\.1:\d+/`), "agi://127.0.0.1:<port>/"},
}

func normalize(b []byte) string {
	s := string(b)
	for _, n := range normalizers {
		s = n.re.ReplaceAllString(s, n.repl)
	}
	return s
}

// TestAGIMatchesAsterisk22Capture replays the script side of the Asterisk
// 22.10.1 FastAGI capture against entVoice during the same SIPp call and
// compares every byte entVoice sends, the environment block and each
// reply, with what Asterisk sent (modulo ids, port and version). It then
// checks that, as in the capture, the BYE waits for the script to close
// the socket after HANGUP.
func TestAGIMatchesAsterisk22Capture(t *testing.T) {
	capture := loadCapture(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := ln.Addr().(*net.TCPAddr).Port
	n := startNode(t, nodeSpec{
		yaml: "trunks:\n  - {name: sipp, match: [\"127.0.0.1/32\"], context: from-sipp}\n",
		dialplan: fmt.Sprintf(`[from-sipp]
include => anchor
[anchor]
exten => 700,1,AGI(agi://127.0.0.1:%d/test)
`, port),
	})

	type verdict struct {
		errs       []string
		aliveAfter bool // channel still up 1 s after the last reply
	}
	done := make(chan verdict, 1)
	go func() {
		var v verdict
		defer func() { done <- v }()
		ln.(*net.TCPListener).SetDeadline(time.Now().Add(20 * time.Second))
		c, err := ln.Accept()
		if err != nil {
			v.errs = append(v.errs, "accept: "+err.Error())
			return
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(30 * time.Second))
		r := bufio.NewReader(c)
		for i, l := range capture {
			if !l.fromAst {
				if _, err := c.Write(l.data); err != nil {
					v.errs = append(v.errs, "write: "+err.Error())
					return
				}
				continue
			}
			got, err := r.ReadBytes('\n')
			if err != nil {
				v.errs = append(v.errs, fmt.Sprintf("line %d: read: %v (want %q)", i, err, l.data))
				return
			}
			if normalize(got) != normalize(l.data) {
				v.errs = append(v.errs, fmt.Sprintf("line %d: got %q, Asterisk 22 sent %q", i, got, l.data))
			}
		}
		// Asterisk keeps the call until the script closes the socket.
		time.Sleep(time.Second)
		v.aliveAfter = n.Channels.Count() == 1
	}()

	code, log := sipp(t, testpeer.SIPpOptions{Target: n.Addr, Scenario: scenario("uac_agi_info.xml"), Service: "700",
		Keys: map[string]string{"d1": "5"}, Timeout: 60 * time.Second})
	v := <-done
	for _, e := range v.errs {
		t.Error(e)
	}
	if !v.aliveAfter {
		t.Error("the channel was gone before the FastAGI server closed the socket; Asterisk sends the BYE only after")
	}
	if code != 0 {
		t.Fatalf("sipp exit %d\n%s", code, log)
	}
	if got := startLines(log); len(got) < 2 || got[len(got)-2] != "BYE" {
		t.Errorf("SIP flow %v: want the PBX's BYE at the end", got)
	}
	n.waitIdle(t)
	if !bytes.Contains([]byte(log), []byte("application/dtmf-relay")) {
		t.Error("no INFO sent")
	}
}
