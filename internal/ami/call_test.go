package ami_test

import (
	"bufio"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/entvoice/entvoice/internal/testpeer"
)

const capturePlan = `[from-sipp]
exten => 900,1,Answer()
 same => n,Wait(1)
 same => n,Hangup()
`

// captureEvents returns the events of the capture's part 2 call (Asterisk
// hangs up after Answer, Wait(1), Hangup), decoded.
func captureEvents(t *testing.T) []string {
	f, err := os.Open("testdata/ami-transcript.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	part, in := 0, false
	var out []string
	for sc.Scan() {
		l := sc.Text()
		switch {
		case strings.HasPrefix(l, "# AMI transcript"):
			part++
		case strings.HasPrefix(l, "## "):
			in = strings.HasPrefix(l, "## Events during one SIPp call")
		}
		if part != 2 || !in {
			continue
		}
		if i := strings.Index(l, "raw: b'"); i >= 0 {
			s, err := strconv.Unquote(`"` + strings.ReplaceAll(l[i+7:len(l)-1], `"`, `\"`) + `"`)
			if err != nil {
				t.Fatalf("capture line %q: %v", l, err)
			}
			out = append(out, s)
		}
	}
	return out
}

var (
	reChanSeq = regexp.MustCompile(`(PJSIP/[a-z0-9]+)-[0-9a-f]{8}`)
	reIDs     = regexp.MustCompile(`(?m)^(Uniqueid|Linkedid|UniqueID): .*\r$`)
	reTimes   = regexp.MustCompile(`(?m)^(StartTime|AnswerTime|EndTime|Duration|BillableSeconds): .*\r$`)
)

func normalize(m string) string {
	m = reChanSeq.ReplaceAllString(m, "$1-N")
	m = reIDs.ReplaceAllString(m, "$1: ID\r")
	return reTimes.ReplaceAllString(m, "$1: T\r")
}

// TestCaptureCallSequence: one call's events, byte for byte against the
// Asterisk 22 capture (part 2: Answer, Wait(1), Hangup from the PBX side),
// after numbering, times and durations are normalised. The capture's RTCP quality
// VarSets (RTPAUDIOQOS*) are not produced by entVoice and are left out.
func TestCaptureCallSequence(t *testing.T) {
	testpeer.SIPpPath(t)
	n := startAMINode(t, `trunks:
  - {name: sipp, match: ["127.0.0.1/32"], context: from-sipp}
`, capturePlan)
	c := dialRaw(t, n.AMIAddr, "admin", "secret")
	sc, _ := filepath.Abs("testdata/uac_wait_bye.xml")
	res := testpeer.RunSIPp(t, testpeer.SIPpOptions{Target: n.SIPAddr, Scenario: sc, Service: "900", Calls: 1})
	if res.ExitCode != 0 {
		t.Fatalf("sipp exit %d:\n%s", res.ExitCode, res.ErrorLog)
	}
	var want []string
	for _, m := range captureEvents(t) {
		if strings.Contains(m, "Variable: RTPAUDIOQOS") {
			continue
		}
		want = append(want, normalize(m))
	}
	var got []string
	hungUp := false
	for len(got) < len(want)+5 {
		m := c.read()
		if !strings.HasPrefix(m, "Event: ") {
			continue
		}
		got = append(got, normalize(m))
		if strings.HasPrefix(m, "Event: Hangup\r\n") {
			hungUp = true
		}
		if hungUp && strings.HasPrefix(m, "Event: DeviceStateChange") {
			break
		}
	}
	if len(got) != len(want) {
		t.Errorf("%d events, the capture has %d", len(got), len(want))
	}
	for i := 0; i < len(got) && i < len(want); i++ {
		if got[i] != want[i] {
			t.Errorf("event %d:\n got %q\nwant %q", i, got[i], want[i])
		}
	}
	n.waitIdle(t)
}
