package e2e

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/entvoice/entvoice/internal/events"
	"github.com/entvoice/entvoice/internal/media"
	"github.com/entvoice/entvoice/internal/testpeer"
)

// The AGI peer tests run the same IVR, written with three real AGI
// libraries (Perl Asterisk::AGI, Python panoramisk, node ding-dong), during
// a real SIP call from the harness phone: answer, stream a prompt, collect
// DTMF with GET DATA, say a number, set and get a variable, EXEC Playback,
// record, use the astdb, hang up. Each script writes what its library
// handed back; the test compares that transcript line by line.

const agiUsers = `users:
  - {name: "1001", secret: pass1001, context: ivr}
`

// agiPlan runs the IVR at 800 with the script named by target; the h
// extension stores AGISTATUS and the variable the script set in the CDR.
func agiPlan(target, rec, transcript string) string {
	return fmt.Sprintf(`[ivr]
exten => 800,1,AGI(%s,%s,%s)
 same => n,Set(CDR(userfield)=after)
exten => h,1,Set(CDR(userfield)=${AGISTATUS}/${IVRVAR}/${PLAYBACKSTATUS})
[ivr-sub]
exten => s,1,Set(GOSUBVAR=${ARG1})
 same => n,Return()
`, target, rec, transcript)
}

// needPeer skips when a peer program is missing outside CI.
func needPeer(t *testing.T, path string) {
	t.Helper()
	if _, err := os.Stat(path); err != nil {
		if os.Getenv("CI") == "" {
			t.Skipf("%s not installed", path)
		}
		t.Fatalf("%s not installed (CI must have it; see scripts/setup.sh)", path)
	}
}

// startPeer starts a FastAGI server process and waits for its "ready"
// line (on stdout or stderr); it is killed at cleanup.
func startPeer(t *testing.T, env []string, name string, args ...string) {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), env...)
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = pw, pw
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pw.Close()
	lines := make(chan string, 100)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		pr.Close()
		for l := range lines {
			t.Logf("%s: %s", filepath.Base(name), l)
		}
	})
	timeout := time.After(10 * time.Second)
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("%s exited before it was ready", name)
			}
			if strings.Contains(l, "ready") {
				return
			}
			t.Logf("%s: %s", filepath.Base(name), l)
		case <-timeout:
			t.Fatalf("%s not ready after 10 s", name)
		}
	}
}

// runIVRCall calls 800 from the harness phone, sends 4 2 # once the script
// has started GET DATA, and waits for the node to hang up.
func runIVRCall(t *testing.T, n *testNode) {
	t.Helper()
	sub := n.Bus.Subscribe(256, func(e *events.Event) bool {
		return e.Kind == events.AGIExecStart && strings.HasPrefix(strings.ToUpper(e.AGI.Command), "GET DATA")
	})
	defer sub.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	p := n.phone(t, "1001", "pass1001", testpeer.PCMU, 1000)
	c, code, err := p.dial(ctx, "800")
	if err != nil || code != 200 {
		t.Fatalf("dial 800: code %d err %v", code, err)
	}
	select {
	case <-sub.C:
	case <-ctx.Done():
		t.Fatal("the script never ran GET DATA")
	}
	if err := c.sendDigits(ctx, "42#"); err != nil {
		t.Fatalf("digits: %v", err)
	}
	n.waitIdleFor(t, 30*time.Second)
}

// waitIdleFor is waitIdle with a longer limit (the IVR takes ~6 s).
func (n *testNode) waitIdleFor(t *testing.T, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(d)
	for n.Channels.Count() > 0 || n.PBX.Active() > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("channels still live: %d", n.Channels.Count())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// checkTranscript compares a transcript with want; a want line starting
// with "re:" is a regular expression (for the recording's endpos). It
// returns the submatches of the regex lines, in order.
func checkTranscript(t *testing.T, path string, want []string) [][]string {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("transcript: %v", err)
	}
	got := strings.Split(strings.TrimRight(string(raw), "\n"), "\n")
	var subs [][]string
	for i := 0; i < max(len(got), len(want)); i++ {
		g, w := "", ""
		if i < len(got) {
			g = got[i]
		}
		if i < len(want) {
			w = want[i]
		}
		if re, ok := strings.CutPrefix(w, "re:"); ok {
			m := regexp.MustCompile("^" + re + "$").FindStringSubmatch(g)
			if m == nil {
				t.Errorf("transcript line %d: %q does not match %q", i+1, g, re)
				continue
			}
			subs = append(subs, m)
			continue
		}
		if g != w {
			t.Errorf("transcript line %d: got %q, want %q", i+1, g, w)
		}
	}
	if t.Failed() {
		t.Logf("transcript:\n%s", raw)
	}
	return subs
}

// checkRecording: the recording holds endpos samples (the Asterisk
// testsuite's record-file check) of the phone's 1 kHz tone, about 1 s.
func checkRecording(t *testing.T, path string, endpos string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("recording: %v", err)
	}
	defer f.Close()
	pcm, err := media.ReadWAV(f)
	if err != nil {
		t.Fatal(err)
	}
	if strconv.Itoa(len(pcm)) != endpos {
		t.Errorf("recording has %d samples, RECORD FILE said endpos=%s", len(pcm), endpos)
	}
	if len(pcm) < 6000 || len(pcm) > 9000 {
		t.Errorf("recorded %d samples, want about 8000 (1 s)", len(pcm))
	}
	if len(pcm) > 1600 {
		if a := testpeer.Goertzel(pcm[len(pcm)/2:], 8000, 1000); a < 3000 {
			t.Errorf("recording lacks the caller's 1 kHz tone: amplitude %.0f", a)
		}
	}
}

// checkAfter: AGISTATUS is HANGUP (the script hung up), the variable the
// script set is there, the EXEC'd Playback set PLAYBACKSTATUS, and the
// dialplan did not go on after AGI().
func checkAfter(t *testing.T, n *testNode) {
	t.Helper()
	rows := n.cdrs(t, 1)
	if len(rows) != 1 {
		t.Fatalf("want 1 CDR, got %d", len(rows))
	}
	if want := "HANGUP/hello world/SUCCESS"; rows[0].UserField != want || rows[0].Disposition != "ANSWERED" {
		t.Errorf("CDR userfield %q disposition %q, want %q ANSWERED", rows[0].UserField, rows[0].Disposition, want)
	}
}

var perlWant = []string{
	"re:env request=(\\S+) channel=PJSIP/1001-[0-9a-f]{8} enhanced=0.0 arg_1=\\S+",
	"200 result=0",
	"200 result=0 endpos=3404",
	"200 result=42",
	"digits=42",
	"200 result=0",
	"200 result=1",
	"200 result=1 (hello world)",
	"IVRVAR=hello world",
	"200 result=0",
	`re:200 result=\d+ \(timeout\) endpos=(\d+)`,
	"200 result=1",
	"200 result=1 (42)",
	"db=42",
	"200 result=1",
}

func perlIVR(t *testing.T, local bool) {
	needPeer(t, "/usr/share/perl5/Asterisk/AGI.pm")
	script, _ := filepath.Abs("testdata/agi/ivr.pl")
	dir := t.TempDir()
	rec, transcript := filepath.Join(dir, "rec-perl"), filepath.Join(dir, "transcript")
	target := script
	if !local {
		port := testpeer.FreePorts(t, 1)[0]
		startPeer(t, nil, "perl", script, "--listen", strconv.Itoa(port))
		target = fmt.Sprintf("agi://127.0.0.1:%d/ivr", port)
	}
	n := startNode(t, nodeSpec{yaml: agiUsers, dialplan: agiPlan(target, rec, transcript)})
	runIVRCall(t, n)
	want := perlWant
	if local {
		want = append(want[:len(want):len(want)], "sighup=1")
	}
	subs := checkTranscript(t, transcript, want)
	if len(subs) == 2 {
		if subs[0][1] != target {
			t.Errorf("agi_request %q, want %q", subs[0][1], target)
		}
		checkRecording(t, rec+".wav", subs[1][1])
	}
	checkAfter(t, n)
}

// TestAGIPerlLocalScript: Asterisk::AGI as a local AGI script on
// stdin/stdout.
func TestAGIPerlLocalScript(t *testing.T) { perlIVR(t, true) }

// TestAGIPerlFastAGI: the same script as a FastAGI server.
func TestAGIPerlFastAGI(t *testing.T) { perlIVR(t, false) }

// TestAGIPanoramisk: panoramisk's FastAGI Application serves the IVR.
func TestAGIPanoramisk(t *testing.T) {
	needPeer(t, "/usr/lib/python3/dist-packages/panoramisk/fast_agi.py")
	script, _ := filepath.Abs("testdata/agi/ivr_panoramisk.py")
	dir := t.TempDir()
	rec, transcript := filepath.Join(dir, "rec-pano"), filepath.Join(dir, "transcript")
	port := testpeer.FreePorts(t, 1)[0]
	startPeer(t, nil, "/usr/bin/python3", script, strconv.Itoa(port))
	target := fmt.Sprintf("agi://127.0.0.1:%d/ivr", port)
	n := startNode(t, nodeSpec{yaml: agiUsers, dialplan: agiPlan(target, rec, transcript)})
	runIVRCall(t, n)
	ok := func(r, data string) string {
		return fmt.Sprintf(`{"msg": "", "result": [%q, %q], "status_code": 200}`, r, data)
	}
	subs := checkTranscript(t, transcript, []string{
		"re:env request=(\\S+) channel=PJSIP/1001-[0-9a-f]{8} script=ivr",
		ok("0", ""),
		`{"endpos": ["3404", ""], "msg": "", "result": ["0", ""], "status_code": 200}`,
		ok("42", ""),
		ok("0", ""),
		ok("1", ""),
		ok("1", "hello world"),
		ok("0", ""),
		// GOSUB: panoramisk skips the "100 result=0 Trying..." line.
		ok("0", ""),
		ok("1", "from-pano"),
		`re:\{"endpos": \["(\d+)", ""\], "msg": "", "result": \["\d+", "timeout"\], "status_code": 200\}`,
		ok("1", ""),
		ok("1", "42"),
		ok("1", ""),
	})
	if len(subs) == 2 {
		if subs[0][1] != target {
			t.Errorf("agi_request %q, want %q", subs[0][1], target)
		}
		checkRecording(t, rec+".wav", subs[1][1])
	}
	checkAfter(t, n)
}

// TestAGIDingDong: npm ding-dong's FastAGI server serves the IVR.
func TestAGIDingDong(t *testing.T) {
	modules, _ := filepath.Abs("../testpeer/npm/node_modules")
	needPeer(t, filepath.Join(modules, "ding-dong", "package.json"))
	node, err := exec.LookPath("node")
	if err != nil {
		needPeer(t, "/usr/bin/node")
	}
	script, _ := filepath.Abs("testdata/agi/ivr_dingdong.js")
	dir := t.TempDir()
	rec, transcript := filepath.Join(dir, "rec-dd"), filepath.Join(dir, "transcript")
	port := testpeer.FreePorts(t, 1)[0]
	startPeer(t, []string{"NODE_PATH=" + modules}, node, script, strconv.Itoa(port))
	target := fmt.Sprintf("agi://127.0.0.1:%d/ivr", port)
	n := startNode(t, nodeSpec{yaml: agiUsers, dialplan: agiPlan(target, rec, transcript)})
	runIVRCall(t, n)
	subs := checkTranscript(t, transcript, []string{
		// ding-dong splits the env lines at ':', so agi_request is "agi".
		"re:env request=agi channel=PJSIP/1001-[0-9a-f]{8}",
		`{"code":200,"result":"0"}`,
		`{"code":200,"result":"0 endpos=3404"}`,
		`{"code":200,"result":"42"}`,
		`{"code":200,"result":"0"}`,
		`{"code":200,"result":"1"}`,
		`{"code":200,"result":"1","value":"hello world"}`,
		`{"code":200,"result":"0"}`,
		`re:\{"code":200,"result":"\d+","value":"timeout"\}`,
		`{"code":200,"result":"1"}`,
		`{"code":200,"result":"1","value":"42"}`,
		`{"code":200,"result":"1"}`,
	})
	_ = subs
	// ding-dong drops what follows "(timeout)"; the file must still be
	// the second of the caller's tone.
	f, err := os.Open(rec + ".wav")
	if err != nil {
		t.Fatal(err)
	}
	pcm, err := media.ReadWAV(f)
	f.Close()
	if err != nil || len(pcm) < 6000 || len(pcm) > 9000 {
		t.Errorf("recording: %d samples, err %v; want about 8000", len(pcm), err)
	}
	checkAfter(t, n)
}
