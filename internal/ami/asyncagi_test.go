package ami_test

import (
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/entvoice/entvoice/internal/testpeer"
)

// asyncPlan: a SIPp call into 900 runs two AsyncAGI sessions; the dialplan
// records each AGISTATUS and goes on after them.
const asyncPlan = `[from-sipp]
exten => 900,1,Set(AGIVAR=a b)
 same => n,AGI(agi:async,x y)
 same => n,Set(FIRST=${AGISTATUS})
 same => n,AGI(agi:async)
 same => n,Set(SECOND=${AGISTATUS})
 same => n,Set(AFTER=yes)
 same => n,Hangup()
`

// agiCmd sends an AGI action and returns its response.
func agiCmd(c *rawClient, id string, lines ...string) string {
	c.t.Helper()
	c.send(append([]string{"Action: AGI", "ActionID: " + id}, lines...)...)
	for {
		m := c.until("Response:")
		if hdr(m, "ActionID") == id {
			return m
		}
	}
}

// asyncExec waits for the AsyncAGIExec of channel ch and returns it.
func asyncExec(c *rawClient, ch string) string {
	c.t.Helper()
	ms := asyncExecAll(c, ch)
	return ms[len(ms)-1]
}

// asyncExecAll returns the messages read up to the AsyncAGIExec of ch.
func asyncExecAll(c *rawClient, ch string) []string {
	c.t.Helper()
	return c.untilFn(func(m string) bool { return strings.HasPrefix(m, "Event: AsyncAGIExec\r\n") && hdr(m, "Channel") == ch })
}

// TestAsyncAGI: a SIPp call runs AGI(agi:async); an AMI client sees
// AsyncAGIStart with the URL-encoded environment, queues ANSWER (the
// caller gets its 200 OK), GET VARIABLE and ASYNCAGI BREAK with the AGI
// action and reads each reply in AsyncAGIExec; the dialplan goes on
// (AGISTATUS=SUCCESS) into a second AsyncAGI that ends with FAILURE on
// STREAM FILE of a missing file, as res_agi.c's launch_asyncagi does,
// then continues to its end.
func TestAsyncAGI(t *testing.T) {
	testpeer.SIPpPath(t)
	n := startAMINode(t, `trunks:
  - {name: sipp, match: ["127.0.0.1/32"], context: from-sipp}
`, asyncPlan)
	c := dialRaw(t, n.AMIAddr, "admin", "secret")

	// The action's errors.
	for _, tc := range []struct {
		lines []string
		want  string
	}{
		{[]string{"Channel: PJSIP/x-00000001"}, "Both, Channel and Command are *required*"},
		{[]string{"Command: NOOP"}, "Both, Channel and Command are *required*"},
		{[]string{"Channel: PJSIP/nope-00000001", "Command: NOOP"}, "Channel PJSIP/nope-00000001 does not exist."},
	} {
		m := agiCmd(c, "e", tc.lines...)
		if hdr(m, "Response") != "Error" || hdr(m, "Message") != tc.want {
			t.Errorf("%v: %q, want %q", tc.lines, m, tc.want)
		}
	}

	sc, _ := filepath.Abs("testdata/uac_wait_bye.xml")
	uac := testpeer.StartSIPp(t, testpeer.SIPpOptions{Target: n.SIPAddr, Scenario: sc, Service: "900", Calls: 1, Timeout: 60 * time.Second})

	start := c.until("Event: AsyncAGIStart\r\n")
	ch := hdr(start, "Channel")
	if hdr(start, "Privilege") != "agi,all" || hdr(start, "Exten") != "900" || hdr(start, "Priority") != "2" {
		t.Errorf("AsyncAGIStart %q", start)
	}
	rawEnv := hdr(start, "Env")
	env, err := url.PathUnescape(rawEnv)
	if err != nil || strings.ContainsAny(rawEnv, " :\n") {
		t.Fatalf("Env %q is not URL-encoded: %v", rawEnv, err)
	}
	for _, want := range []string{"agi_request: async\n", "agi_channel: " + ch + "\n", "agi_type: PJSIP\n", "agi_context: from-sipp\n",
		"agi_extension: 900\n", "agi_priority: 2\n", "agi_enhanced: 0.0\n", "agi_arg_1: x y\n"} {
		if !strings.Contains(env, want) {
			t.Errorf("Env lacks %q:\n%s", want, env)
		}
	}
	if !strings.HasPrefix(env, "agi_request: async\nagi_channel: ") || !strings.HasSuffix(env, "\n\n") {
		t.Errorf("Env %q", env)
	}

	for _, step := range []struct{ cmd, id, result string }{
		{"ANSWER", "c1", "200%20result%3D0%0A"},
		{"GET VARIABLE AGIVAR", "c2", "200%20result%3D1%20(a%20b)%0A"},
		{"GET VARIABLE NOSUCHVAR", "", "200%20result%3D0%0A"},
		{"ASYNCAGI BREAK", "c3", "200%20result%3D0%0A"},
	} {
		lines := []string{"Channel: " + ch, "Command: " + step.cmd}
		if step.id != "" {
			lines = append(lines, "CommandID: "+step.id)
		}
		if m := agiCmd(c, "a-"+step.cmd, lines...); m != "Response: Success\r\nActionID: a-"+step.cmd+"\r\nMessage: Added AGI command to queue\r\n\r\n" {
			t.Errorf("%s: %q", step.cmd, m)
		}
		ms := asyncExecAll(c, ch)
		e := ms[len(ms)-1]
		// The command's AGIExecStart/End come first, with their body.
		var start, end string
		for _, m := range ms {
			if strings.HasPrefix(m, "Event: AGIExecStart\r\n") {
				start = m
			}
			if strings.HasPrefix(m, "Event: AGIExecEnd\r\n") {
				end = m
			}
		}
		if hdr(start, "Command") != step.cmd || hdr(start, "CommandId") == "" || hdr(end, "CommandId") != hdr(start, "CommandId") ||
			hdr(end, "ResultCode") != "200" || hdr(end, "Result") != "Success" || hdr(start, "Channel") != ch {
			t.Errorf("%s: AGIExecStart %q AGIExecEnd %q", step.cmd, start, end)
		}
		if hdr(e, "Result") != step.result || hdr(e, "CommandId") != step.id || hdr(e, "Privilege") != "agi,all" {
			t.Errorf("%s: AsyncAGIExec %q, want Result %q CommandId %q", step.cmd, e, step.result, step.id)
		}
		if step.id == "" && strings.Contains(e, "CommandId") {
			t.Errorf("%s: CommandId without a CommandID: %q", step.cmd, e)
		}
	}
	c.untilFn(func(m string) bool { return strings.HasPrefix(m, "Event: AsyncAGIEnd\r\n") && hdr(m, "Channel") == ch })
	varSet := func(name string) string {
		ms := c.untilFn(func(m string) bool {
			return strings.HasPrefix(m, "Event: VarSet\r\n") && hdr(m, "Channel") == ch && hdr(m, "Variable") == name
		})
		return hdr(ms[len(ms)-1], "Value")
	}
	if v := varSet("FIRST"); v != "SUCCESS" {
		t.Errorf("AGISTATUS after ASYNCAGI BREAK: %q", v)
	}

	// The second AsyncAGI: a failing command ends it.
	if m := c.until("Event: AsyncAGIStart\r\n"); hdr(m, "Channel") != ch || hdr(m, "Priority") != "4" {
		t.Errorf("second AsyncAGIStart %q", m)
	}
	agiCmd(c, "s", "Channel: "+ch, `Command: STREAM FILE no-such-file ""`, "CommandID: s1")
	if e := asyncExec(c, ch); hdr(e, "Result") != "200%20result%3D-1%20endpos%3D0%0A" || hdr(e, "CommandId") != "s1" {
		t.Errorf("STREAM FILE: %q", e)
	}
	c.untilFn(func(m string) bool { return strings.HasPrefix(m, "Event: AsyncAGIEnd\r\n") && hdr(m, "Channel") == ch })
	if v := varSet("SECOND"); v != "FAILURE" {
		t.Errorf("AGISTATUS after a failing command: %q", v)
	}
	if v := varSet("AFTER"); v != "yes" {
		t.Errorf("AFTER %q", v)
	}
	if res := uac.Wait(30 * time.Second); res == nil || res.ExitCode != 0 {
		t.Errorf("sipp did not complete its call: %+v", res)
	}
	// The channel is gone.
	if m := agiCmd(c, "g", "Channel: "+ch, "Command: NOOP"); hdr(m, "Message") != "Channel "+ch+" does not exist." {
		t.Errorf("after hangup: %q", m)
	}
	n.waitIdle(t)
}

// TestAsyncAGITenants: hosted tenants' calls in AsyncAGI (their own
// realtime 400 runs AGI(agi:async)): acme's AMI user queues commands on
// its own call only, another tenant's call "does not exist" for it and it
// never sees beta's AsyncAGI events; the admin reaches every call, and a
// call that never entered AsyncAGI refuses commands with Asterisk's reply.
func TestAsyncAGITenants(t *testing.T) {
	n, _ := startHostedWithUAS(t)
	admin := dialRaw(t, n.AMIAddr, "admin", "secret")
	acme := dialRaw(t, n.AMIAddr, "acme", acmePW)
	beta := dialRaw(t, n.AMIAddr, "beta", "beta-ami-pw")

	acme.send("Action: Originate", "ActionID: a1", "Channel: PJSIP/710@carrier", "Context: originate", "Exten: 400", "Priority: 1", "Async: yes")
	mine := hdr(acme.until("Event: AsyncAGIStart\r\n"), "Channel")
	beta.send("Action: Originate", "ActionID: b1", "Channel: PJSIP/711@carrier", "Context: originate", "Exten: 400", "Priority: 1", "Async: yes")
	betas := hdr(beta.until("Event: AsyncAGIStart\r\n"), "Channel")
	plain := originate(t, admin, "d1", "712") // static originate/100: Answer, Wait

	if m := agiCmd(acme, "x", "Channel: "+betas, "Command: NOOP"); m != "Response: Error\r\nActionID: x\r\nMessage: Channel "+betas+" does not exist.\r\n\r\n" {
		t.Errorf("acme on beta's channel: %q", m)
	}
	if m := agiCmd(acme, "y", "Channel: "+plain, "Command: NOOP"); hdr(m, "Message") != "Channel "+plain+" does not exist." {
		t.Errorf("acme on the default tenant's channel: %q", m)
	}
	if m := agiCmd(admin, "z", "Channel: "+plain, "Command: NOOP"); m != "Response: Error\r\nActionID: z\r\nMessage: Failed to add AGI command to channel "+plain+" queue\r\n\r\n" {
		t.Errorf("admin on a channel not in AsyncAGI: %q", m)
	}
	if m := agiCmd(acme, "m", "Channel: "+mine, "Command: SET VARIABLE MARK acme-did-it", "CommandID: m1"); hdr(m, "Response") != "Success" {
		t.Errorf("acme on its own channel: %q", m)
	}
	if e := asyncExec(acme, mine); hdr(e, "Result") != "200%20result%3D1%0A" || hdr(e, "CommandId") != "m1" {
		t.Errorf("acme's exec %q", e)
	}
	if m := agiCmd(admin, "b", "Channel: "+betas, "Command: ASYNCAGI BREAK"); hdr(m, "Response") != "Success" {
		t.Errorf("admin on beta's channel: %q", m)
	}
	ms := beta.untilFn(func(m string) bool {
		return strings.HasPrefix(m, "Event: VarSet\r\n") && hdr(m, "Channel") == betas && hdr(m, "Variable") == "AFTER"
	})
	if hdr(ms[len(ms)-1], "Value") != "beta" {
		t.Errorf("beta's dialplan after AsyncAGI: %q", ms[len(ms)-1])
	}
	for _, m := range ms {
		if strings.Contains(m, mine) || strings.Contains(m, plain) {
			t.Errorf("beta's AMI user saw %q", m)
		}
	}
	agiCmd(acme, "e", "Channel: "+mine, "Command: ASYNCAGI BREAK")
	ms = acme.untilFn(func(m string) bool {
		return strings.HasPrefix(m, "Event: VarSet\r\n") && hdr(m, "Channel") == mine && hdr(m, "Variable") == "AFTER"
	})
	for _, m := range ms {
		if strings.Contains(m, betas) || strings.Contains(m, plain) {
			t.Errorf("acme's AMI user saw %q", m)
		}
	}
	admin.send("Action: Getvar", "ActionID: g", "Channel: "+mine, "Variable: MARK")
	if m := admin.until("Response:"); hdr(m, "Value") != "acme-did-it" {
		t.Errorf("MARK %q", m)
	}
	for _, ch := range []string{mine, betas, plain} {
		admin.send("Action: Hangup", "Channel: "+ch)
		admin.untilFn(func(m string) bool { return strings.HasPrefix(m, "Event: Hangup\r\n") && hdr(m, "Channel") == ch })
	}
	n.waitIdle(t)
}

// TestPanoramiskAsyncAGI: Debian's python3-panoramisk drives AsyncAGI
// unchanged: its AGI actions get "Added AGI command to queue" and the
// replies arrive as AsyncAGIExec events; the call goes on in the dialplan
// after ASYNCAGI BREAK; send_agi_command gets the error for a missing
// channel.
func TestPanoramiskAsyncAGI(t *testing.T) {
	n, _ := startWithUAS(t)
	port := strings.TrimPrefix(n.AMIAddr, "127.0.0.1:")
	out := runClient(t, "python", "panoramisk_asyncagi.py", port, "admin", "secret", "820")
	ch := str(out, "channel")
	if !strings.HasPrefix(ch, "PJSIP/carrier-") || !strings.Contains(str(out, "env"), "agi_request: async\nagi_channel: "+ch+"\n") {
		t.Errorf("start: channel %q env %q", ch, str(out, "env"))
	}
	for _, k := range []string{"get_response", "break_response"} {
		if str(out, k, "Response") != "Success" || str(out, k, "Message") != "Added AGI command to queue" {
			t.Errorf("%s %v", k, out[k])
		}
	}
	// panoramisk URL-decodes Result (and strips it), as for Asterisk.
	if str(out, "get_exec", "Result") != "200 result=1 (from py)" || str(out, "get_exec", "CommandId") != "py-get" || str(out, "get_exec", "Channel") != ch {
		t.Errorf("GET VARIABLE exec %v", out["get_exec"])
	}
	if str(out, "break_exec", "Result") != "200 result=0" || str(out, "break_exec", "CommandId") != "py-break" {
		t.Errorf("ASYNCAGI BREAK exec %v", out["break_exec"])
	}
	if str(out, "end", "Channel") != ch || str(out, "after") != "SUCCESS" {
		t.Errorf("end %v after %q", out["end"], str(out, "after"))
	}
	if str(out, "missing", "Response") != "Error" || str(out, "missing", "Message") != "Channel PJSIP/nope-00000001 does not exist." {
		t.Errorf("missing channel %v", out["missing"])
	}
	n.waitIdle(t)
}
