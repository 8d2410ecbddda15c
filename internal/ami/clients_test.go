package ami_test

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// peer returns the command to run a client script, skipping the test when
// the client is not installed (outside CI only).
func peer(t *testing.T, kind string) (string, []string) {
	t.Helper()
	skip := func(why string) {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s (CI must have it: scripts/setup.sh)", why)
		}
		t.Skip(why)
	}
	switch kind {
	case "python":
		if err := exec.Command("/usr/bin/python3", "-c", "import panoramisk").Run(); err != nil {
			skip("python3-panoramisk is not installed")
		}
		return "/usr/bin/python3", nil
	default:
		mods, _ := filepath.Abs("../testpeer/npm/node_modules")
		if _, err := os.Stat(filepath.Join(mods, kind)); err != nil {
			skip("npm " + kind + " is not installed in internal/testpeer/npm")
		}
		node, err := exec.LookPath("node")
		if err != nil {
			skip("node is not installed")
		}
		return node, []string{"NODE_PATH=" + mods}
	}
}

// runClient runs a client flow script and decodes its JSON summary.
func runClient(t *testing.T, kind, script string, args ...string) map[string]any {
	t.Helper()
	bin, env := peer(t, kind)
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, append([]string{filepath.Join("testdata", "clients", script)}, args...)...)
	cmd.Env = append(os.Environ(), env...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	outb, err := cmd.Output()
	t.Logf("%s stdout: %s", script, outb)
	if stderr.Len() > 0 {
		t.Logf("%s stderr: %s", script, stderr.String())
	}
	if err != nil {
		t.Fatalf("%s: %v", script, err)
	}
	var out map[string]any
	if err := json.Unmarshal(outb, &out); err != nil {
		t.Fatalf("%s output: %v", script, err)
	}
	return out
}

func str(m map[string]any, keys ...string) string {
	var v any = m
	for _, k := range keys {
		mm, ok := v.(map[string]any)
		if !ok {
			return ""
		}
		v = mm[k]
	}
	s, _ := v.(string)
	return s
}

func strs(v any) []string {
	var out []string
	l, _ := v.([]any)
	for _, x := range l {
		s, _ := x.(string)
		out = append(out, s)
	}
	return out
}

// checkCallEvents: the client followed its call to a Cdr and then Hangup.
func checkCallEvents(t *testing.T, out map[string]any) {
	t.Helper()
	ev := strings.Join(strs(out["events"]), ",")
	ci, hi := strings.Index(ev, "Cdr"), strings.LastIndex(ev, "Hangup")
	if !strings.Contains(ev, "SoftHangupRequest") || ci < 0 || hi < ci {
		t.Errorf("call events %s: want SoftHangupRequest, Cdr then Hangup", ev)
	}
}

func TestPanoramisk(t *testing.T) {
	n, _ := startWithUAS(t)
	port := strings.TrimPrefix(n.AMIAddr, "127.0.0.1:")
	out := runClient(t, "python", "panoramisk_flow.py", port, "admin", "secret", "800")
	ch := str(out, "channel")
	if out["booted"] != true || !strings.HasPrefix(ch, "PJSIP/carrier-") {
		t.Fatalf("summary %v", out)
	}
	orig, _ := out["originate"].([]any)
	if len(orig) != 2 {
		t.Fatalf("originate responses %v", out["originate"])
	}
	if r, _ := orig[1].(map[string]any); str(r, "Event") != "OriginateResponse" || str(r, "Reason") != "4" || str(r, "Response") != "Success" {
		t.Errorf("OriginateResponse %v", orig[1])
	}
	if st := strs(out["status"]); len(st) != 1 || st[0] != ch {
		t.Errorf("Status channels %v", st)
	}
	if str(out, "status_complete", "Event") != "StatusComplete" {
		t.Errorf("status complete %v", out["status_complete"])
	}
	if str(out, "command", "Response") != "Success" || !strings.Contains(str(out, "command", "Message"), "Command output follows") ||
		!strings.Contains(strings.Join(strs(out["command_output"]), "\n"), ch[:20]) {
		t.Errorf("command %v", out["command"])
	}
	if str(out, "hangup", "Message") != "Channel Hungup" || str(out, "hangup_event", "Cause") != "16" {
		t.Errorf("hangup %v / %v", out["hangup"], out["hangup_event"])
	}
	if str(out, "cdr", "Disposition") != "ANSWERED" || str(out, "cdr", "Source") != "4242" {
		t.Errorf("cdr %v", out["cdr"])
	}
	if str(out, "logoff", "Response") != "Goodbye" {
		t.Errorf("logoff %v", out["logoff"])
	}
	checkCallEvents(t, out)
	n.waitIdle(t)
}

func TestAsteriskManagerNPM(t *testing.T) {
	n, _ := startWithUAS(t)
	port := strings.TrimPrefix(n.AMIAddr, "127.0.0.1:")
	out := runClient(t, "asterisk-manager", "asterisk_manager_flow.js", port, "admin", "secret", "801")
	ch := str(out, "channel")
	if out["booted"] != true || !strings.HasPrefix(ch, "PJSIP/carrier-") {
		t.Fatalf("summary %v", out)
	}
	if str(out, "originate", "message") != "Originate successfully queued" || str(out, "originate_response", "reason") != "4" {
		t.Errorf("originate %v / %v", out["originate"], out["originate_response"])
	}
	if str(out, "ping", "ping") != "Pong" || str(out, "hangup", "message") != "Channel Hungup" {
		t.Errorf("ping %v hangup %v", out["ping"], out["hangup"])
	}
	if str(out, "command", "response") != "Success" {
		t.Errorf("command %v", out["command"])
	}
	if str(out, "cdr", "disposition") != "ANSWERED" || str(out, "hangup_event", "cause-txt") != "Normal Clearing" {
		t.Errorf("cdr %v hangup %v", out["cdr"], out["hangup_event"])
	}
	checkCallEvents(t, out)
	n.waitIdle(t)
}

func TestAsteriskAmiClientNPM(t *testing.T) {
	n, _ := startWithUAS(t)
	port := strings.TrimPrefix(n.AMIAddr, "127.0.0.1:")
	out := runClient(t, "asterisk-ami-client", "ami_client_flow.js", port, "admin", "secret", "802")
	ch := str(out, "channel")
	if !strings.HasPrefix(ch, "PJSIP/carrier-") {
		t.Fatalf("summary %v", out)
	}
	// asterisk-ami-client swaps its parser once the Login response is
	// read and drops whatever came in the same read, so FullyBooted (sent
	// right after the response, as Asterisk does) may not reach it.
	t.Logf("asterisk-ami-client saw FullyBooted: %v", out["booted"])
	if str(out, "originate", "Message") != "Originate successfully queued" || str(out, "originate_response", "Reason") != "4" {
		t.Errorf("originate %v / %v", out["originate"], out["originate_response"])
	}
	if str(out, "hangup", "Message") != "Channel Hungup" || str(out, "cdr", "Disposition") != "ANSWERED" {
		t.Errorf("hangup %v cdr %v", out["hangup"], out["cdr"])
	}
	checkCallEvents(t, out)
	n.waitIdle(t)
}

// TestPanoramiskTenant: panoramisk logged in as hosted tenant acme's AMI
// user (from the store) originates into acme's own context and sees its
// own call and nothing of a default-tenant call and a beta call running
// beside it.
func TestPanoramiskTenant(t *testing.T) {
	n, _ := startHostedWithUAS(t)
	admin := dialRaw(t, n.AMIAddr, "admin", "secret")
	beta := dialRaw(t, n.AMIAddr, "beta", "beta-ami-pw")
	others := []string{originate(t, admin, "bg", "810"), originate(t, beta, "bb", "812")}
	port := strings.TrimPrefix(n.AMIAddr, "127.0.0.1:")
	out := runClient(t, "python", "panoramisk_flow.py", port, "acme", acmePW, "811")
	ch := str(out, "channel")
	if st := strs(out["status"]); len(st) != 1 || st[0] != ch {
		t.Errorf("tenant Status lists %v, want only %s", st, ch)
	}
	for _, seen := range strs(out["channels_seen"]) {
		for _, other := range others {
			if seen == other {
				t.Errorf("tenant client saw another tenant's channel %s", other)
			}
		}
	}
	// The CLI table truncates names to 20 characters: count the rows.
	if o := strings.Join(strs(out["command_output"]), "\n"); !strings.Contains(o, "\n1 active channel") {
		t.Errorf("tenant core show channels: %q", o)
	}
	checkCallEvents(t, out)
	for _, other := range others {
		admin.send("Action: Hangup", "Channel: "+other)
		admin.until("Response: Success")
	}
	n.waitIdle(t)
}

// TestPanoramiskStatus: CoreSettings, CoreStatus and the PJSIP listings as
// panoramisk reads them: plain responses for the first two, lists it
// recognises and gathers up to their Complete event for the others.
func TestPanoramiskStatus(t *testing.T) {
	n, _ := startWithUAS(t)
	port := strings.TrimPrefix(n.AMIAddr, "127.0.0.1:")
	out := runClient(t, "python", "panoramisk_status.py", port, "admin", "secret")
	cs, _ := out["CoreSettings"].(map[string]any)
	if str(cs, "Response") != "Success" || str(cs, "AMIversion") != "11.0.0" || !strings.HasPrefix(str(cs, "AsteriskVersion"), "22.") {
		t.Errorf("CoreSettings %v", cs)
	}
	st, _ := out["CoreStatus"].(map[string]any)
	if str(st, "Response") != "Success" || str(st, "CoreCurrentCalls") != "0" || len(str(st, "CoreStartupDate")) != 10 {
		t.Errorf("CoreStatus %v", st)
	}
	list := func(name string) []map[string]any {
		l, _ := out[name].([]any)
		var ms []map[string]any
		for _, x := range l {
			m, _ := x.(map[string]any)
			ms = append(ms, m)
		}
		return ms
	}
	var eps []string
	for _, m := range list("PJSIPShowEndpoints") {
		if str(m, "Event") == "EndpointList" {
			eps = append(eps, str(m, "ObjectName")+"="+str(m, "DeviceState"))
		}
	}
	if l := list("PJSIPShowEndpoints"); strings.Join(eps, ",") != "1001=Unavailable,carrier=Not in use" ||
		len(l) == 0 || str(l[len(l)-1], "Event") != "EndpointListComplete" {
		t.Errorf("PJSIPShowEndpoints %v", out["PJSIPShowEndpoints"])
	}
	c := list("PJSIPShowContacts")
	if len(c) < 2 || str(c[len(c)-2], "Event") != "ContactList" || !strings.HasPrefix(str(c[len(c)-2], "ObjectName"), "carrier@@") ||
		str(c[len(c)-1], "ListItems") != "1" {
		t.Errorf("PJSIPShowContacts %v", out["PJSIPShowContacts"])
	}
}
