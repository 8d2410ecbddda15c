package agi

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/entvoice/entvoice/internal/channel"
	"github.com/entvoice/entvoice/internal/events"
	"github.com/entvoice/entvoice/internal/pbx"
	"github.com/entvoice/entvoice/internal/q850"
	"github.com/entvoice/entvoice/internal/tenancy"
)

// planFor runs AGI(target) at exten 1 of context t, then notes that the
// dialplan went on; h records AGISTATUS.
func planFor(target string) string {
	return fmt.Sprintf(`[t]
exten => 1,1,AGI(%s)
 same => n,Set(AFTER=yes)
exten => h,1,Set(HSTATUS=${AGISTATUS})
[t2]
exten => 5,1,Set(WRONG=1)
exten => 5,2,Set(LANDED=t2-5-2)
[sub]
exten => s,1,Set(GOT=${ARG1})
 same => n,Return(ok)
`, target)
}

func varOf(ch *channel.Channel, name string) string {
	v, _ := ch.GetVar(name)
	return v
}

// TestEnvironmentBlock: the FastAGI block in Asterisk's order, with the
// script path (query included) and the arguments.
func TestEnvironmentBlock(t *testing.T) {
	envs := make(chan []string, 1)
	srv := newFastAGI(t, func(c *agiConn) { envs <- c.env })
	url := "agi://" + srv.addr + "/ivr/main?lang=en"
	p := newTestPBX(t, planFor(url+",first,second arg"), Options{})
	ch, _ := p.call(t, "1", func(o *channel.Options) { o.AccountCode = "acct" })
	env := <-envs
	want := []string{
		"agi_network: yes",
		"agi_network_script: ivr/main?lang=en",
		"agi_request: " + url,
		"agi_channel: " + ch.Name,
		"agi_language: en",
		"agi_type: PJSIP",
		"agi_uniqueid: " + ch.UniqueID,
		"agi_version: " + DefaultVersion,
		"agi_callerid: 1001",
		"agi_calleridname: Alice",
		"agi_callingpres: 0",
		"agi_callingani2: 0",
		"agi_callington: 0",
		"agi_callingtns: 0",
		"agi_dnid: 1",
		"agi_rdnis: unknown",
		"agi_context: t",
		"agi_extension: 1",
		"agi_priority: 1",
		"agi_enhanced: 0.0",
		"agi_accountcode: acct",
		"agi_threadid: ",
		"agi_arg_1: first",
		"agi_arg_2: second arg",
	}
	if len(env) != len(want) {
		t.Fatalf("env has %d lines, want %d:\n%s", len(env), len(want), strings.Join(env, "\n"))
	}
	for i := range want {
		if !strings.HasPrefix(env[i], want[i]) || (!strings.HasSuffix(want[i], ": ") && env[i] != want[i]) {
			t.Errorf("env line %d: %q, want %q", i, env[i], want[i])
		}
	}
	if got := agistatus(ch); got != "SUCCESS" || varOf(ch, "AFTER") != "yes" {
		t.Errorf("AGISTATUS %q AFTER %q", got, varOf(ch, "AFTER"))
	}
}

// TestReplies: the reply grammar of res_agi.c for commands that need no
// audio, over a real FastAGI connection.
func TestReplies(t *testing.T) {
	type step struct{ cmd, want string }
	steps := []step{
		{"BOGUS COMMAND", "510 Invalid or unknown command\n"},
		{"", "510 Invalid or unknown command\n"},
		{"GET", "510 Invalid or unknown command\n"},
		{"NOOP", "200 result=0\n"},
		{"noop with words", "200 result=0\n"},
		{`SET VARIABLE FOO "a b"`, "200 result=1\n"},
		{"GET VARIABLE FOO", "200 result=1 (a b)\n"},
		{"get variable NOSUCH", "200 result=0\n"},
		{"GET VARIABLE CALLERID(num)", "200 result=1 (1001)\n"},
		{"GET VARIABLE NOSUCHFUNC(x)", "200 result=0\n"},
		{"GET VARIABLE LEN(abc)", "200 result=1 (3)\n"},
		{"GET FULL VARIABLE ${CALLERID(name)}-${FOO}", "200 result=1 (Alice-a b)\n"},
		{"GET FULL VARIABLE ${FOO} PJSIP/nosuch-00000009", "200 result=0\n"},
		{"CHANNEL STATUS", "200 result=6\n"},
		{"CHANNEL STATUS PJSIP/nosuch-00000009", "200 result=-1\n"},
		{"HANGUP PJSIP/nosuch-00000009", "200 result=-1\n"},
		{"EXEC NoSuchApp x", "200 result=-2\n"},
		{"EXEC Set BAR=${FOO}", "200 result=0\n"},
		{"GET VARIABLE BAR", "200 result=1 (${FOO})\n"},
		{"SET VARIABLE AGIEXECFULL yes", "200 result=1\n"},
		{"EXEC Set BAR=${FOO}", "200 result=0\n"},
		{"GET VARIABLE BAR", "200 result=1 (a b)\n"},
		{`VERBOSE "hello there" 1`, "200 result=1\n"},
		{`SET CALLERID "\"Bob\" <200-2>"`, "200 result=1\n"},
		{"GET VARIABLE CALLERID(all)", "200 result=1 (\"Bob\" <2002>)\n"},
		{"SET AUTOHANGUP 0", "200 result=0\n"},
		{"SET MUSIC on default", "200 result=0\n"},
		{"TDD MODE on", "200 result=0\n"},
		{"SPEECH CREATE pocketsphinx", "200 result=0\n"},
		{"SPEECH SET a b", "200 result=0\n"},
		{"SPEECH LOAD GRAMMAR g /x.gram", "200 result=0\n"},
		{"SPEECH ACTIVATE GRAMMAR g", "200 result=0\n"},
		{"SPEECH RECOGNIZE beep 5", "200 result=0\n"},
		{"SPEECH DESTROY", "200 result=0\n"},
		{"ASYNCAGI BREAK", "200 result=0\n"},
		{"NOOP", "200 result=0\n"},
		{"GOSUB sub s 1 hello", "100 result=0 Trying...\n200 result=0 Gosub complete\n"},
		{"GET VARIABLE GOT", "200 result=1 (hello)\n"},
		{"GET VARIABLE GOSUB_RETVAL", "200 result=1 (ok)\n"},
		{"WAIT FOR DIGIT", "520-Invalid command syntax.  Proper usage follows:\n"},
		{"SAY NUMBER abc \"\"", "520-Invalid command syntax.  Proper usage follows:\n"},
		{"SET PRIORITY nolabel", "520-Invalid command syntax.  Proper usage follows:\n"},
		{"SPEECH LOAD GRAMMAR g", "520-Invalid command syntax.  Proper usage follows:\n"},
	}
	results := make(chan []string, 1)
	srv := newFastAGI(t, func(c *agiConn) {
		var got []string
		for _, s := range steps {
			got = append(got, c.cmd(s.cmd))
		}
		results <- got
	})
	p := newTestPBX(t, planFor("agi://"+srv.addr), Options{})
	ch, _ := p.call(t, "1", nil)
	got := <-results
	for i, s := range steps {
		g := got[i]
		if strings.HasPrefix(s.want, "520-") {
			if !strings.HasPrefix(g, s.want) || !strings.HasSuffix(g, "\n520 End of proper usage.\n") {
				t.Errorf("%q: got %q, want a multi-line 520 usage reply", s.cmd, g)
			}
			continue
		}
		if g != s.want {
			t.Errorf("%q: got %q, want %q", s.cmd, g, s.want)
		}
	}
	if agistatus(ch) != "SUCCESS" || varOf(ch, "AFTER") != "yes" {
		t.Errorf("AGISTATUS %q AFTER %q", agistatus(ch), varOf(ch, "AFTER"))
	}
}

// TestHangupCommand: the capture's sequence. HANGUP answers 1; the next
// command gets the HANGUP line first; live-channel commands get 511,
// dead-safe ones still work; the BYE (driver hangup) waits until the
// script closes; AGISTATUS is HANGUP and the h extension runs.
func TestHangupCommand(t *testing.T) {
	drv := &legDriver{}
	results := make(chan []string, 1)
	srv := newFastAGI(t, func(c *agiConn) {
		got := []string{c.cmd("HANGUP"), c.cmd("NOOP"), c.line(), c.cmd(`STREAM FILE beep ""`), c.cmd("ANSWER"),
			c.cmd("SET VARIABLE DEADVAR 1"), c.cmd("GET VARIABLE DEADVAR"), c.cmd("EXEC NoOp x")}
		got = append(got, fmt.Sprint(drv.hangupCount()))
		results <- got
	})
	p := newTestPBX(t, planFor("agi://"+srv.addr), Options{})
	ch, d := p.call(t, "1", func(o *channel.Options) { o.Driver = drv })
	got := <-results
	// NOOP's reply follows the HANGUP line.
	want := []string{"200 result=1\n", "HANGUP\n", "200 result=0\n", msgDead, msgDead, "200 result=1\n", "200 result=1 (1)\n", "200 result=0\n", "0"}
	for i := range want {
		if i < len(got) && got[i] != want[i] {
			t.Errorf("step %d: got %q, want %q", i, got[i], want[i])
		}
	}
	if agistatus(ch) != "HANGUP" || varOf(ch, "HSTATUS") != "HANGUP" || varOf(ch, "AFTER") != "" {
		t.Errorf("AGISTATUS %q HSTATUS %q AFTER %q", agistatus(ch), varOf(ch, "HSTATUS"), varOf(ch, "AFTER"))
	}
	if d.hangupCount() != 1 {
		t.Errorf("driver hangups %d after the script, want 1", d.hangupCount())
	}
}

// TestHangupLineThenNoop checks the exact bytes after HANGUP: the next
// command's reply comes after a HANGUP line, and a second HANGUP line is
// written when the session ends.
func TestHangupLineThenNoop(t *testing.T) {
	results := make(chan string, 1)
	srv := newFastAGI(t, func(c *agiConn) {
		var b strings.Builder
		b.WriteString(c.cmd("HANGUP"))
		c.c.Write([]byte("NOOP\n"))
		b.WriteString(c.line())
		b.WriteString(c.line())
		c.c.(*net.TCPConn).CloseWrite()
		b.WriteString(c.line())
		b.WriteString(c.line())
		results <- b.String()
	})
	p := newTestPBX(t, planFor("agi://"+srv.addr), Options{})
	p.call(t, "1", nil)
	if got, want := <-results, "200 result=1\nHANGUP\n200 result=0\nHANGUP\nread error: EOF"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

// TestAGIExitOnHangup: with AGIEXITONHANGUP=yes the session ends at the
// hangup, after the HANGUP line.
func TestAGIExitOnHangup(t *testing.T) {
	results := make(chan string, 1)
	srv := newFastAGI(t, func(c *agiConn) {
		results <- c.cmd("HANGUP") + c.line() + c.line()
	})
	p := newTestPBX(t, "[t]\nexten => 1,1,Set(AGIEXITONHANGUP=yes)\n same => n,AGI(agi://"+srv.addr+")\n", Options{})
	ch, _ := p.call(t, "1", nil)
	if got, want := <-results, "200 result=1\nHANGUP\nHANGUP\n"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if agistatus(ch) != "HANGUP" {
		t.Errorf("AGISTATUS %q", agistatus(ch))
	}
}

// TestAGISighupNo: AGISIGHUP=no sends no HANGUP line.
func TestAGISighupNo(t *testing.T) {
	results := make(chan string, 1)
	srv := newFastAGI(t, func(c *agiConn) {
		s := c.cmd("HANGUP") + c.cmd("NOOP") + c.cmd("ANSWER")
		c.c.(*net.TCPConn).CloseWrite()
		results <- s + c.line()
	})
	p := newTestPBX(t, "[t]\nexten => 1,1,Set(AGISIGHUP=no)\n same => n,AGI(agi://"+srv.addr+")\n", Options{})
	p.call(t, "1", nil)
	if got, want := <-results, "200 result=1\n200 result=0\n"+msgDead+"read error: EOF"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

// TestRemoteHangup: the caller hangs up while the script waits; it gets
// the HANGUP line and the channel is dead for it.
func TestRemoteHangup(t *testing.T) {
	connected := make(chan struct{})
	results := make(chan string, 1)
	srv := newFastAGI(t, func(c *agiConn) {
		close(connected)
		s := c.line() + c.cmd("CHANNEL STATUS") + c.cmd("GET VARIABLE AGISTATUS")
		results <- s
	})
	p := newTestPBX(t, planFor("agi://"+srv.addr), Options{})
	ch, _, done := p.start("1", nil)
	<-connected
	ch.RemoteHangup(q850.NormalClearing)
	<-done
	if got, want := <-results, "HANGUP\n"+msgDead+"200 result=0\n"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if agistatus(ch) != "HANGUP" {
		t.Errorf("AGISTATUS %q", agistatus(ch))
	}
}

// TestSetPositionContinuesThere: SET CONTEXT/EXTENSION/PRIORITY move
// where the dialplan goes on after the script.
func TestSetPositionContinuesThere(t *testing.T) {
	srv := newFastAGI(t, func(c *agiConn) {
		c.cmd("SET CONTEXT t2")
		c.cmd("SET EXTENSION 5")
		c.cmd("SET PRIORITY 2")
	})
	p := newTestPBX(t, planFor("agi://"+srv.addr), Options{})
	ch, _ := p.call(t, "1", nil)
	if varOf(ch, "LANDED") != "t2-5-2" || varOf(ch, "WRONG") != "" || varOf(ch, "AFTER") != "" {
		t.Errorf("LANDED %q WRONG %q AFTER %q", varOf(ch, "LANDED"), varOf(ch, "WRONG"), varOf(ch, "AFTER"))
	}
}

// TestBadInputFails: a 1 MB line, binary garbage and a peer closing in
// the middle of a line end the session with AGISTATUS=FAILURE and the
// dialplan goes on.
func TestBadInputFails(t *testing.T) {
	for name, send := range map[string]func(c *agiConn){
		"1MB line": func(c *agiConn) {
			c.cmd("NOOP")
			c.c.Write([]byte("SET VARIABLE X " + strings.Repeat("x", 1<<20) + "\n"))
			c.line()
		},
		"binary": func(c *agiConn) { c.c.Write([]byte("NO\x00OP\xff\x01\n")); c.line() },
		"partial": func(c *agiConn) {
			c.c.Write([]byte("GET VARIAB"))
		},
		"failure line": func(c *agiConn) { c.c.Write([]byte("failure\n")); c.line() },
		// The script goes away while its command runs: it never gets
		// the reply.
		"closed during command": func(c *agiConn) { c.c.Write([]byte("EXEC Wait 0.3\n")) },
	} {
		t.Run(name, func(t *testing.T) {
			srv := newFastAGI(t, send)
			p := newTestPBX(t, planFor("agi://"+srv.addr), Options{})
			ch, _ := p.call(t, "1", nil)
			if agistatus(ch) != "FAILURE" || varOf(ch, "AFTER") != "yes" {
				t.Errorf("AGISTATUS %q AFTER %q", agistatus(ch), varOf(ch, "AFTER"))
			}
		})
	}
}

// TestFailedCommandFails: a command that fails (a missing sound file, a
// Gosub to nowhere) makes AGISTATUS FAILURE, as run_agi does, and the
// session goes on.
func TestFailedCommandFails(t *testing.T) {
	results := make(chan string, 1)
	srv := newFastAGI(t, func(c *agiConn) {
		results <- c.cmd(`STREAM FILE nosuchfile ""`) + c.cmd("GOSUB sub s nolabel") + c.cmd("NOOP")
	})
	p := newTestPBX(t, planFor("agi://"+srv.addr), Options{})
	ch, _ := p.call(t, "1", nil)
	if got, want := <-results, "200 result=-1 endpos=0\n200 result=-1 Gosub label not found\n200 result=0\n"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if agistatus(ch) != "FAILURE" {
		t.Errorf("AGISTATUS %q", agistatus(ch))
	}
}

// TestServerDown: a FastAGI server that refuses the connection, a URL
// without a host: FAILURE, and the dialplan goes on.
func TestServerDown(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	for _, target := range []string{"agi://" + addr + "/x", "agi:///x"} {
		p := newTestPBX(t, planFor(target), Options{ConnectTimeout: time.Second})
		ch, _ := p.call(t, "1", nil)
		if agistatus(ch) != "FAILURE" || varOf(ch, "AFTER") != "yes" {
			t.Errorf("%s: AGISTATUS %q AFTER %q", target, agistatus(ch), varOf(ch, "AFTER"))
		}
	}
}

// TestIdleTimeout: a script that sends nothing ends with FAILURE after
// agi.idle_timeout.
func TestIdleTimeout(t *testing.T) {
	release := make(chan struct{})
	srv := newFastAGI(t, func(c *agiConn) {
		c.cmd("NOOP")
		<-release
	})
	defer close(release)
	p := newTestPBX(t, planFor("agi://"+srv.addr), Options{IdleTimeout: 200 * time.Millisecond})
	ch, _ := p.call(t, "1", nil)
	if agistatus(ch) != "FAILURE" || varOf(ch, "AFTER") != "yes" {
		t.Errorf("AGISTATUS %q AFTER %q", agistatus(ch), varOf(ch, "AFTER"))
	}
}

// TestServiceSwitchedOff: a tenant without the agi service gets FAILURE
// and no connection is made.
func TestServiceSwitchedOff(t *testing.T) {
	var mu sync.Mutex
	connections := 0
	srv := newFastAGI(t, func(c *agiConn) {
		mu.Lock()
		connections++
		mu.Unlock()
	})
	p := newTestPBX(t, planFor("agi://"+srv.addr), Options{})
	ch, _ := p.call(t, "1", func(o *channel.Options) {
		o.Denied = tenancy.ServiceAGI
	})
	mu.Lock()
	defer mu.Unlock()
	if agistatus(ch) != "FAILURE" || connections != 0 {
		t.Errorf("AGISTATUS %q, %d connections", agistatus(ch), connections)
	}
}

// TestHAGI: hagi:// looks up _agi._tcp and connects to the target; a port
// in the URL skips the lookup.
func TestHAGI(t *testing.T) {
	envs := make(chan []string, 2)
	srv := newFastAGI(t, func(c *agiConn) { envs <- c.env })
	host, port, _ := net.SplitHostPort(srv.addr)
	var pn uint16
	fmt.Sscan(port, &pn)
	res := srvTable{"agi.example.test": {{Target: host + ".", Port: pn}}}
	p := newTestPBX(t, planFor("hagi://agi.example.test/menu"), Options{Resolver: res})
	ch, _ := p.call(t, "1", nil)
	env := <-envs
	if agistatus(ch) != "SUCCESS" || env[1] != "agi_network_script: menu" || env[2] != "agi_request: hagi://agi.example.test/menu" {
		t.Errorf("AGISTATUS %q env %q", agistatus(ch), env[:3])
	}
	p2 := newTestPBX(t, planFor("hagi://nosuch.example.test/menu"), Options{Resolver: res})
	if ch, _ := p2.call(t, "1", nil); agistatus(ch) != "FAILURE" {
		t.Errorf("unknown SRV name: AGISTATUS %q", agistatus(ch))
	}
	p3 := newTestPBX(t, planFor("hagi://"+srv.addr+"/menu"), Options{Resolver: res})
	if ch, _ := p3.call(t, "1", nil); agistatus(ch) != "SUCCESS" {
		t.Errorf("hagi with port: AGISTATUS %q", agistatus(ch))
	}
	<-envs
}

// srvTable answers SRV lookups from a table (no DNS server in the tests).
type srvTable map[string][]*net.SRV

func (s srvTable) LookupSRV(_ context.Context, service, proto, name string) (string, []*net.SRV, error) {
	if service != "agi" || proto != "tcp" {
		return "", nil, fmt.Errorf("unexpected service %s %s", service, proto)
	}
	r, ok := s[name]
	if !ok {
		return "", nil, &net.DNSError{Err: "no such host", Name: name, IsNotFound: true}
	}
	return "_agi._tcp." + name + ".", r, nil
}

// TestLocalScripts: local scripts on stdin/stdout, relative to agi_dir;
// a missing script is NOTFOUND, a non-zero exit FAILURE; EAGI gets fd 3
// and agi_enhanced 1.0; EAGI over FastAGI fails.
func TestLocalScripts(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("#!/bin/sh\n"+body), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	// Reads the environment up to the empty line, checks it, runs commands.
	write("ok.sh", `while read l; do [ -z "$l" ] && break; case "$l" in agi_arg_1*) A="$l";; agi_enhanced*) E="$l";; esac; done
echo "SET VARIABLE GOTARG \"$A\""; read r
echo "SET VARIABLE GOTENH \"$E\""; read r
if [ -e /proc/self/fd/3 ]; then echo "SET VARIABLE FD3 yes"; read r; fi
echo NOOP; read r; echo "SET VARIABLE LASTREPLY \"$r\""; read r
exit 0
`)
	write("fail.sh", "while read l; do [ -z \"$l\" ] && break; done\nexit 3\n")
	for _, tc := range []struct {
		app, script, status string
		vars                map[string]string
	}{
		{"AGI", "ok.sh,x y", "SUCCESS", map[string]string{"GOTARG": "agi_arg_1: x y", "GOTENH": "agi_enhanced: 0.0", "FD3": "", "LASTREPLY": "200 result=0"}},
		{"EAGI", filepath.Join(dir, "ok.sh") + ",z", "SUCCESS", map[string]string{"GOTARG": "agi_arg_1: z", "GOTENH": "agi_enhanced: 1.0", "FD3": "yes"}},
		{"AGI", "fail.sh", "FAILURE", nil},
		{"AGI", "nosuch.sh", "NOTFOUND", nil},
		{"EAGI", "agi://127.0.0.1:1/x", "FAILURE", nil},
	} {
		plan := fmt.Sprintf("[t]\nexten => 1,1,%s(%s)\n same => n,Set(AFTER=yes)\n", tc.app, tc.script)
		p := newTestPBX(t, plan, Options{Dir: dir})
		ch, _ := p.call(t, "1", nil)
		if agistatus(ch) != tc.status || varOf(ch, "AFTER") != "yes" {
			t.Errorf("%s(%s): AGISTATUS %q AFTER %q, want %s", tc.app, tc.script, agistatus(ch), varOf(ch, "AFTER"), tc.status)
		}
		for k, v := range tc.vars {
			if got := varOf(ch, k); got != v {
				t.Errorf("%s(%s): %s=%q, want %q", tc.app, tc.script, k, got, v)
			}
		}
	}
}

// TestLocalScriptSIGHUP: a local script gets SIGHUP after HANGUP and may
// still talk to the dead channel.
func TestLocalScriptSIGHUP(t *testing.T) {
	dir := t.TempDir()
	script := `trap 'echo "SET VARIABLE GOTHUP yes"; read r' HUP
while read l; do [ -z "$l" ] && break; done
echo HANGUP; read r
i=0; while [ $i -lt 50 ]; do sleep 0.1; i=$((i+1)); done
`
	if err := os.WriteFile(filepath.Join(dir, "hup.sh"), []byte("#!/bin/sh\n"+script), 0o755); err != nil {
		t.Fatal(err)
	}
	p := newTestPBX(t, planFor("hup.sh"), Options{Dir: dir})
	ch, d := p.call(t, "1", nil)
	if varOf(ch, "GOTHUP") != "yes" || agistatus(ch) != "HANGUP" || d.hangupCount() != 1 {
		t.Errorf("GOTHUP %q AGISTATUS %q hangups %d", varOf(ch, "GOTHUP"), agistatus(ch), d.hangupCount())
	}
}

// TestExecEvents: every command is published as AGIExecStart/AGIExecEnd
// with Asterisk's fields.
func TestExecEvents(t *testing.T) {
	srv := newFastAGI(t, func(c *agiConn) {
		c.cmd("NOOP")
		c.cmd("BOGUS")
		c.cmd("GET VARIABLE")
	})
	p := newTestPBX(t, planFor("agi://"+srv.addr), Options{})
	sub := p.bus.Subscribe(100, func(e *events.Event) bool {
		return e.Kind == events.AGIExecStart || e.Kind == events.AGIExecEnd
	})
	p.call(t, "1", nil)
	sub.Close()
	var got []string
	ids := map[string]string{}
	for e := range sub.C {
		f := func(k string) string { return agiField(*e, k) }
		if e.Kind == events.AGIExecStart {
			ids[f("Command")] = f("CommandId")
			got = append(got, fmt.Sprintf("start %s", f("Command")))
			continue
		}
		if ids[f("Command")] != f("CommandId") || f("CommandId") == "" {
			t.Errorf("CommandId %q differs from the start's %q", f("CommandId"), ids[f("Command")])
		}
		got = append(got, fmt.Sprintf("end %s %s %s", f("Command"), f("ResultCode"), f("Result")))
	}
	want := []string{"start NOOP", "end NOOP 200 Success", "start BOGUS", "end BOGUS 510 Invalid or unknown command",
		"start GET VARIABLE", "end GET VARIABLE 520 Usage"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("events\n%q\nwant\n%q", got, want)
	}
}

// TestBurst: 500 calls at once, each with its own FastAGI session, all
// succeed; TestMain's goleak and the fd count show nothing is left.
func TestBurst(t *testing.T) {
	fds := func() int {
		e, _ := os.ReadDir("/proc/self/fd")
		return len(e)
	}
	srv := newFastAGI(t, func(c *agiConn) {
		for i := 0; i < 3; i++ {
			if c.cmd("NOOP") != "200 result=0\n" {
				return
			}
		}
	})
	p := newTestPBX(t, planFor("agi://"+srv.addr), Options{})
	before := fds()
	const n = 500
	chans := make([]*channel.Channel, n)
	dones := make([]chan struct{}, n)
	for i := range chans {
		chans[i], _, dones[i] = p.start("1", nil)
	}
	failed := 0
	for i := range chans {
		<-dones[i]
		if agistatus(chans[i]) != "SUCCESS" {
			failed++
		}
	}
	if failed > 0 {
		t.Errorf("%d of %d sessions failed", failed, n)
	}
	// Closed sockets may linger briefly in the runtime's poller.
	deadline := time.Now().Add(5 * time.Second)
	for fds() > before+5 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if after := fds(); after > before+5 {
		t.Errorf("file descriptors: %d before, %d after", before, after)
	}
}

// TestConnectTimeout: a FastAGI server whose accept queue is full never
// completes the TCP handshake; AGI gives up after agi.connect_timeout with
// FAILURE and the dialplan goes on.
func TestConnectTimeout(t *testing.T) {
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Close(fd)
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	// Backlog 0: one queued connection fills the queue; later SYNs are
	// dropped and their connects hang.
	if err := syscall.Listen(fd, 0); err != nil {
		t.Fatal(err)
	}
	sa, _ := syscall.Getsockname(fd)
	addr := fmt.Sprintf("127.0.0.1:%d", sa.(*syscall.SockaddrInet4).Port)
	var fillers []net.Conn
	defer func() {
		for _, c := range fillers {
			c.Close()
		}
	}()
	for i := 0; i < 3; i++ {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err != nil {
			break
		}
		fillers = append(fillers, c)
	}
	p := newTestPBX(t, planFor("agi://"+addr), Options{ConnectTimeout: 300 * time.Millisecond})
	start := time.Now()
	ch, _ := p.call(t, "1", nil)
	if agistatus(ch) != "FAILURE" || varOf(ch, "AFTER") != "yes" {
		t.Errorf("AGISTATUS %q AFTER %q", agistatus(ch), varOf(ch, "AFTER"))
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("took %v with a 300 ms connect timeout", d)
	}
}

// TestTenantScriptsStayInAGIDir: a tenant's dialplan cannot start a
// program outside agi_dir; the default tenant can, as in Asterisk.
func TestTenantScriptsStayInAGIDir(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "ok.sh"), []byte("#!/bin/sh\nexit 0\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ tenant, script, want string }{
		{"acme", "ok.sh", "SUCCESS"},
		{"acme", "../ok.sh", "FAILURE"},
		{"acme", "/bin/true", "FAILURE"},
		{"", "/bin/true", "SUCCESS"},
	} {
		p := newTestPBX(t, planFor(tc.script), Options{Dir: dir})
		ch, _ := p.call(t, "1", func(o *channel.Options) { o.Tenant = tc.tenant })
		if got := agistatus(ch); got != tc.want {
			t.Errorf("tenant %q script %q: AGISTATUS %q, want %q", tc.tenant, tc.script, got, tc.want)
		}
	}
}

// TestDeadFromTheStart: AGI in the h extension runs on a hung-up channel:
// no HANGUP line, dead-safe commands only.
func TestDeadFromTheStart(t *testing.T) {
	results := make(chan string, 1)
	srv := newFastAGI(t, func(c *agiConn) {
		results <- c.cmd("NOOP") + c.cmd(`STREAM FILE beep ""`) + c.cmd("GET VARIABLE CALLERID(num)")
	})
	p := newTestPBX(t, "[t]\nexten => 1,1,Hangup()\nexten => h,1,AGI(agi://"+srv.addr+")\n", Options{})
	ch, _ := p.call(t, "1", nil)
	select {
	case got := <-results:
		if want := "200 result=0\n" + msgDead + "200 result=1 (1001)\n"; got != want {
			t.Errorf("got %q, want %q", got, want)
		}
	default:
		t.Fatalf("the script never ran; AGISTATUS %q", agistatus(ch))
	}
	if agistatus(ch) != "SUCCESS" {
		t.Errorf("AGISTATUS %q", agistatus(ch))
	}
}

// TestAutoHangup: SET AUTOHANGUP hangs the channel up after the time; the
// script then gets the HANGUP line.
func TestAutoHangup(t *testing.T) {
	results := make(chan string, 1)
	srv := newFastAGI(t, func(c *agiConn) {
		results <- c.cmd("SET AUTOHANGUP 0.2") + c.line()
	})
	p := newTestPBX(t, planFor("agi://"+srv.addr), Options{})
	ch, d := p.call(t, "1", nil)
	if got, want := <-results, "200 result=0\nHANGUP\n"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if agistatus(ch) != "HANGUP" || d.hangupCount() != 1 {
		t.Errorf("AGISTATUS %q hangups %d", agistatus(ch), d.hangupCount())
	}
}

// TestExecHangup: EXEC Hangup(17) answers -1 and hangs up softly: the
// HANGUP line comes, the BYE (driver hangup) waits for the script, and
// the channel keeps cause 17.
func TestExecHangup(t *testing.T) {
	results := make(chan string, 1)
	drv := &legDriver{}
	srv := newFastAGI(t, func(c *agiConn) {
		results <- c.cmd("EXEC Hangup 17") + c.cmd("NOOP") + c.line() + fmt.Sprint(drv.hangupCount())
	})
	p := newTestPBX(t, planFor("agi://"+srv.addr), Options{})
	ch, d := p.call(t, "1", func(o *channel.Options) { o.Driver = drv })
	if got, want := <-results, "200 result=-1\nHANGUP\n200 result=0\n0"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if ch.HangupCause() != 17 || d.hangupCount() != 1 || agistatus(ch) != "HANGUP" {
		t.Errorf("cause %d hangups %d AGISTATUS %q", ch.HangupCause(), d.hangupCount(), agistatus(ch))
	}
}

// TestCloseEndsSessions: AGI.Close (node shutdown) ends a session whose
// script never closes, FastAGI and local, with FAILURE; later AGI() calls
// fail at once.
func TestCloseEndsSessions(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "stuck.sh"), []byte("#!/bin/sh\nwhile read l; do [ -z \"$l\" ] && break; done\necho NOOP; read r\nsleep 30\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	started := make(chan struct{}, 1)
	release := make(chan struct{})
	srv := newFastAGI(t, func(c *agiConn) {
		c.cmd("NOOP")
		started <- struct{}{}
		<-release
	})
	defer close(release)
	for _, target := range []string{"agi://" + srv.addr, "stuck.sh"} {
		p := newTestPBX(t, planFor(target), Options{Dir: dir})
		ch, _, done := p.start("1", nil)
		if target == "stuck.sh" {
			// Wait for the session to run, then for the script's NOOP.
			for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
				p.agi.mu.Lock()
				n := len(p.agi.live)
				p.agi.mu.Unlock()
				if n == 1 {
					break
				}
			}
			time.Sleep(200 * time.Millisecond)
		} else {
			<-started
		}
		p.agi.Close()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatalf("%s: session still running after Close", target)
		}
		if agistatus(ch) != "FAILURE" {
			t.Errorf("%s: AGISTATUS %q", target, agistatus(ch))
		}
		if ch2, _ := p.call(t, "1", nil); agistatus(ch2) != "FAILURE" {
			t.Errorf("%s: after Close AGISTATUS %q", target, agistatus(ch2))
		}
	}
}

// TestLongCommandThenClose: a script that reads the reply of a long
// command and then closes ends with SUCCESS (only one that leaves while
// its command runs fails).
func TestLongCommandThenClose(t *testing.T) {
	results := make(chan string, 1)
	srv := newFastAGI(t, func(c *agiConn) { results <- c.cmd("EXEC Wait 0.1") })
	p := newTestPBX(t, planFor("agi://"+srv.addr), Options{})
	ch, _ := p.call(t, "1", nil)
	if got := <-results; got != "200 result=0\n" {
		t.Errorf("got %q", got)
	}
	if agistatus(ch) != "SUCCESS" {
		t.Errorf("AGISTATUS %q", agistatus(ch))
	}
}

// TestOtherChannels: CHANNEL STATUS, GET FULL VARIABLE and HANGUP name
// channels of the caller's tenant only.
func TestOtherChannels(t *testing.T) {
	results := make(chan string, 1)
	names := make(chan [2]string, 1)
	srv := newFastAGI(t, func(c *agiConn) {
		n := <-names
		results <- c.cmd("CHANNEL STATUS "+n[0]) + c.cmd("GET FULL VARIABLE ${OTHERVAR} "+n[0]) +
			c.cmd("CHANNEL STATUS "+n[1]) + c.cmd("HANGUP "+n[1]) + c.cmd("HANGUP "+n[0])
	})
	p := newTestPBX(t, planFor("agi://"+srv.addr)+"[wait]\nexten => w,1,Wait(30)\n", Options{})
	mine := &legDriver{}
	other, _, otherDone := p.start("w", func(o *channel.Options) { o.Context = "wait"; o.State = channel.StateRinging; o.Driver = mine })
	stranger, strangerDrv, strangerDone := p.start("w", func(o *channel.Options) { o.Context = "wait"; o.Tenant = "other" })
	other.SetVar("OTHERVAR", "x")
	names <- [2]string{other.Name, stranger.Name}
	ch, _ := p.call(t, "1", nil)
	want := "200 result=5\n200 result=1 (x)\n200 result=-1\n200 result=-1\n200 result=1\n"
	if got := <-results; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	<-otherDone
	if mine.hangupCount() != 1 || strangerDrv.hangupCount() != 0 || agistatus(ch) != "SUCCESS" {
		t.Errorf("hangups: other %d, other tenant's %d; AGISTATUS %q", mine.hangupCount(), strangerDrv.hangupCount(), agistatus(ch))
	}
	stranger.Hangup(q850.NormalClearing)
	<-strangerDone
}

// TestCommandPanicFails: a panic in an application EXEC runs ends the
// session with FAILURE and the call goes on; the node survives.
func TestCommandPanicFails(t *testing.T) {
	srv := newFastAGI(t, func(c *agiConn) { c.cmd("EXEC Boom") })
	p := newTestPBX(t, planFor("agi://"+srv.addr), Options{})
	p.Register("Boom", func(*pbx.Exec, string) error { panic("boom") })
	ch, _ := p.call(t, "1", nil)
	if agistatus(ch) != "FAILURE" || varOf(ch, "AFTER") != "yes" {
		t.Errorf("AGISTATUS %q AFTER %q", agistatus(ch), varOf(ch, "AFTER"))
	}
}
