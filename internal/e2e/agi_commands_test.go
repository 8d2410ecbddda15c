package e2e

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
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

// agiStep is one command of a scripted FastAGI session: the reply must
// match want (a regular expression of the whole reply line); digits are
// sent by the caller as SIP INFO once the command has started, after
// delay.
type agiStep struct {
	cmd, want string
	digits    string
	delay     time.Duration
}

// runScript serves one FastAGI session on ln, playing steps; it reports
// mismatches and the submatches of each step.
func runScript(ln net.Listener, steps []agiStep) (errs []string, subs [][]string) {
	ln.(*net.TCPListener).SetDeadline(time.Now().Add(30 * time.Second))
	c, err := ln.Accept()
	if err != nil {
		return []string{"accept: " + err.Error()}, nil
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(120 * time.Second))
	r := bufio.NewReader(c)
	for {
		l, err := r.ReadString('\n')
		if err != nil {
			return []string{"env: " + err.Error()}, nil
		}
		if l == "\n" {
			break
		}
	}
	for _, s := range steps {
		if _, err := c.Write([]byte(s.cmd + "\n")); err != nil {
			return append(errs, "write: "+err.Error()), subs
		}
		got, err := r.ReadString('\n')
		if err != nil {
			return append(errs, fmt.Sprintf("%q: read: %v", s.cmd, err)), subs
		}
		got = strings.TrimSuffix(got, "\n")
		m := regexp.MustCompile("^" + s.want + "$").FindStringSubmatch(got)
		if m == nil {
			errs = append(errs, fmt.Sprintf("%q: got %q, want %q", s.cmd, got, s.want))
		}
		subs = append(subs, m)
	}
	return errs, subs
}

// sendDigitsOnCommands sends each step's digits when the node publishes
// AGIExecStart for it.
func sendDigitsOnCommands(ctx context.Context, sub *events.Subscription, c *call, steps []agiStep) <-chan error {
	done := make(chan error, 1)
	want := map[string]agiStep{}
	for _, s := range steps {
		if s.digits != "" {
			want[s.cmd] = s
		}
	}
	go func() {
		for {
			select {
			case e, ok := <-sub.C:
				if !ok {
					done <- nil
					return
				}
				s, ok := want[e.AGI.Command]
				if !ok {
					continue
				}
				if s.delay > 0 {
					time.Sleep(s.delay)
				}
				if err := c.sendDigits(ctx, s.digits); err != nil {
					done <- fmt.Errorf("%s: %w", s.cmd, err)
					return
				}
			case <-ctx.Done():
				done <- ctx.Err()
				return
			}
		}
	}()
	return done
}

// TestAGIMediaCommands runs the audio commands on a real call: escape
// digits and endpos, GET OPTION, WAIT FOR DIGIT, GET DATA's timeout and
// '#' forms, SAY * interrupted, CONTROL STREAM FILE, RECORD FILE ended by
// a digit (key press cut off) and by silence.
func TestAGIMediaCommands(t *testing.T) {
	if _, err := os.Stat("/usr/share/asterisk/sounds/en_US_f_Allison/demo-congrats.wav"); err != nil {
		t.Skip("Asterisk sounds not installed")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	rec := t.TempDir()
	n := startNode(t, nodeSpec{yaml: agiUsers, dialplan: fmt.Sprintf("[ivr]\nexten => 810,1,AGI(agi://%s/media)\n", ln.Addr())})
	steps := []agiStep{
		{cmd: "ANSWER", want: `200 result=0`},
		{cmd: `STREAM FILE demo-congrats "5"`, want: `200 result=53 endpos=(\d+)`, digits: "5", delay: 300 * time.Millisecond},
		{cmd: `STREAM FILE beep ""`, want: `200 result=0 endpos=3404`, digits: "1"},
		{cmd: "GET VARIABLE PLAYBACKSTATUS", want: `200 result=1 \(SUCCESS\)`},
		{cmd: `GET OPTION beep "12" 5000`, want: `200 result=50 endpos=\d+`, digits: "2"},
		{cmd: "WAIT FOR DIGIT 5000", want: `200 result=42`, digits: "*"},
		{cmd: "WAIT FOR DIGIT 100", want: `200 result=0`},
		{cmd: "GET DATA beep 500", want: `200 result= \(timeout\)`},
		{cmd: "GET DATA beep 3000 4", want: `200 result=`, digits: "#"},
		{cmd: "GET DATA beep 1500 5", want: `200 result=12 \(timeout\)`, digits: "12"},
		{cmd: "GET DATA beep 3000 2", want: `200 result=98`, digits: "98"},
		{cmd: `SAY DIGITS 12 ""`, want: `200 result=0`},
		{cmd: `SAY ALPHA ab ""`, want: `200 result=0`},
		{cmd: `SAY PHONETIC a ""`, want: `200 result=0`},
		{cmd: `SAY NUMBER 7 ""`, want: `200 result=0`},
		{cmd: `SAY DATE 0 "#"`, want: `200 result=35`, digits: "#", delay: 200 * time.Millisecond},
		{cmd: `SAY TIME 3600 "3"`, want: `200 result=51`, digits: "3", delay: 200 * time.Millisecond},
		{cmd: `SAY DATETIME 0 "" "IM" UTC`, want: `200 result=0`},
		{cmd: `CONTROL STREAM FILE demo-congrats "9"`, want: `200 result=57 endpos=(\d+)`, digits: "9", delay: 500 * time.Millisecond},
		{cmd: "GET FULL VARIABLE ${CPLAYBACKSTATUS}/${CPLAYBACKSTOPKEY}", want: `200 result=1 \(USERSTOPPED/9\)`},
		{cmd: `CONTROL STREAM FILE beep ""`, want: `200 result=0 endpos=-1`},
		{cmd: fmt.Sprintf(`RECORD FILE %s wav "#" 8000 BEEP`, filepath.Join(rec, "r1")), want: `200 result=35 \(dtmf\) endpos=(\d+)`, digits: "#", delay: 1500 * time.Millisecond},
		{cmd: fmt.Sprintf(`RECORD FILE %s wav "#" 20000 s=1`, filepath.Join(rec, "r2")), want: `200 result=\d+ \(timeout\) endpos=(\d+)`},
		{cmd: "EXEC Wait 0.1", want: `200 result=0`},
		{cmd: "HANGUP", want: `200 result=1`},
	}
	sub := n.Bus.Subscribe(256, func(e *events.Event) bool { return e.Kind == events.AGIExecStart })
	defer sub.Close()
	type result struct {
		errs []string
		subs [][]string
	}
	res := make(chan result, 1)
	go func() {
		errs, subs := runScript(ln, steps)
		res <- result{errs, subs}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	// A silent phone, so that RECORD FILE's silence detection fires.
	p := n.phone(t, "1001", "pass1001", testpeer.PCMU, 0)
	c, code, err := p.dial(ctx, "810")
	if err != nil || code != 200 {
		t.Fatalf("dial: code %d err %v", code, err)
	}
	digitsDone := sendDigitsOnCommands(ctx, sub, c, steps)
	r := <-res
	for _, e := range r.errs {
		t.Error(e)
	}
	n.waitIdleFor(t, 30*time.Second)
	sub.Close()
	if err := <-digitsDone; err != nil {
		t.Errorf("digits: %v", err)
	}
	if len(r.subs) != len(steps) {
		return
	}
	if m := r.subs[1]; m != nil {
		if pos, _ := strconv.Atoi(m[1]); pos <= 0 || pos >= 242214 {
			t.Errorf("interrupted STREAM FILE endpos %d, want within the file", pos)
		}
	}
	if m := r.subs[18]; m != nil {
		if ms, _ := strconv.Atoi(m[1]); ms <= 0 || ms >= 242214/8 {
			t.Errorf("CONTROL STREAM FILE endpos %d ms, want within the file", ms)
		}
	}
	checkSamples := func(name string, m []string, lo, hi int) {
		if m == nil {
			return
		}
		f, err := os.Open(filepath.Join(rec, name))
		if err != nil {
			t.Error(err)
			return
		}
		defer f.Close()
		pcm, err := media.ReadWAV(f)
		if err != nil {
			t.Error(err)
			return
		}
		if strconv.Itoa(len(pcm)) != m[1] || len(pcm) < lo || len(pcm) > hi {
			t.Errorf("%s: %d samples, endpos %s, want the same, in [%d, %d]", name, len(pcm), m[1], lo, hi)
		}
	}
	// '#' 1.5 s into the command, after the 0.4 s beep: ~1.1 s recorded
	// less the 200 ms Asterisk cuts for the key press.
	checkSamples("r1.wav", r.subs[21], 2000, 12000)
	// Silence from the start: it ends after a second, not at 20 s.
	checkSamples("r2.wav", r.subs[22], 4000, 24000)
}

// TestEAGIAudio: EAGI hands the caller's audio to a local script on fd 3
// as 8 kHz 16-bit signed linear: one second of the phone's 1 kHz tone has
// about 2000 zero crossings.
func TestEAGIAudio(t *testing.T) {
	dir := t.TempDir()
	script := filepath.Join(dir, "eagi.py")
	if err := os.WriteFile(script, []byte(`#!/usr/bin/python3
import os, struct, sys
env = {}
for line in sys.stdin:
    line = line.rstrip("\n")
    if not line:
        break
    k, _, v = line.partition(": ")
    env[k] = v
def cmd(c):
    sys.stdout.write(c + "\n"); sys.stdout.flush()
    return sys.stdin.readline()
cmd("ANSWER")
data = b""
while len(data) < 16000:
    chunk = os.read(3, 16000 - len(data))
    if not chunk:
        break
    data += chunk
pcm = struct.unpack("<%dh" % (len(data) // 2), data[: len(data) // 2 * 2])
crossings = sum(1 for a, b in zip(pcm, pcm[1:]) if (a < 0) != (b < 0))
cmd("SET VARIABLE EAGIRESULT %s/%d/%d" % (env["agi_enhanced"], len(pcm), crossings))
`), 0o755); err != nil {
		t.Fatal(err)
	}
	n := startNode(t, nodeSpec{yaml: agiUsers, dialplan: fmt.Sprintf(`[ivr]
exten => 820,1,EAGI(%s)
 same => n,Set(CDR(userfield)=${AGISTATUS}/${EAGIRESULT})
 same => n,Hangup()
`, script)})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	p := n.phone(t, "1001", "pass1001", testpeer.PCMU, 1000)
	if _, code, err := p.dial(ctx, "820"); err != nil || code != 200 {
		t.Fatalf("dial: code %d err %v", code, err)
	}
	n.waitIdleFor(t, 20*time.Second)
	rows := n.cdrs(t, 1)
	if len(rows) != 1 {
		t.Fatalf("%d CDRs", len(rows))
	}
	var status, enh string
	var samples, crossings int
	if _, err := fmt.Sscanf(strings.ReplaceAll(rows[0].UserField, "/", " "), "%s %s %d %d", &status, &enh, &samples, &crossings); err != nil {
		t.Fatalf("userfield %q: %v", rows[0].UserField, err)
	}
	if status != "SUCCESS" || enh != "1.0" || samples != 8000 || crossings < 1900 || crossings > 2100 {
		t.Errorf("userfield %q: want SUCCESS/1.0/8000/~2000", rows[0].UserField)
	}
}

// TestAGIShutdown: a node shutting down hangs up a call whose FastAGI
// script ignores the HANGUP line and never closes; the session is cut off
// after the grace period, the CDR is stored and nothing is left running.
func TestAGIShutdown(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	n := startNode(t, nodeSpec{yaml: agiUsers + "shutdown: {grace: 1s}\n",
		dialplan: fmt.Sprintf("[ivr]\nexten => 830,1,Answer()\n same => n,AGI(agi://%s/stuck)\n", ln.Addr())})
	got := make(chan string, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			got <- err.Error()
			return
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(30 * time.Second))
		r := bufio.NewReader(c)
		var seen []string
		for {
			l, err := r.ReadString('\n')
			if err != nil {
				break
			}
			if strings.HasPrefix(l, "agi_") || l == "\n" {
				continue
			}
			seen = append(seen, strings.TrimSpace(l))
		}
		got <- strings.Join(seen, ",")
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	p := n.phone(t, "1001", "pass1001", testpeer.PCMU, 1000)
	if _, code, err := p.dial(ctx, "830"); err != nil || code != 200 {
		t.Fatalf("dial: code %d err %v", code, err)
	}
	for n.AGI == nil || n.PBX.Active() == 0 {
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond)
	n.Shutdown(time.Second)
	// The script saw the HANGUP line, then the connection closed.
	if s := <-got; s != "HANGUP" {
		t.Errorf("script received %q, want HANGUP then EOF", s)
	}
	if rows := listCDRs(t, reopenStore(t, n.DataDir)); len(rows) != 1 || rows[0].Disposition != "ANSWERED" {
		t.Errorf("CDRs %+v", rows)
	}
}
