package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/entvoice/entvoice/internal/testpeer"
)

// servedPBX is an `entvoice serve` process with its API.
type servedPBX struct {
	sip, api string
	env      []string
	stderr   *bytes.Buffer
}

// startServe runs `entvoice serve` on free ports with ENTVOICE_ADMIN_TOKEN
// set, and stops it with SIGTERM at cleanup. AMI is off unless extraYAML
// has an ami section of its own.
func startServe(t *testing.T, adminToken, extraYAML string) *servedPBX {
	t.Helper()
	amiOff := `ami: {listen: "off"}` + "\n"
	if regexp.MustCompile(`(?m)^ami:`).MatchString(extraYAML) {
		amiOff = ""
	}
	dir := t.TempDir()
	ports := testpeer.FreePorts(t, 2)
	rtp := testpeer.FreePortBlock(t, 40)
	cfg := writeFile(t, dir, "entvoice.yaml", fmt.Sprintf(`sip:
  listen: ["udp:127.0.0.1:%d"]
rtp:
  ports: "%d-%d"
data_dir: ./data
http: {listen: "127.0.0.1:%d"}
%slog: {level: warn}
%s`, ports[0], rtp, rtp+39, ports[1], amiOff, extraYAML))
	cmd := exec.Command(binary, "serve", "--config", cfg)
	cmd.Env = append(os.Environ(), "ENTVOICE_ADMIN_TOKEN="+adminToken)
	var e bytes.Buffer
	cmd.Stderr = &e
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			_ = cmd.Process.Kill()
			<-done
			t.Errorf("serve did not stop on SIGTERM")
		}
		if t.Failed() {
			t.Logf("serve stderr:\n%s", e.String())
		}
	})
	p := &servedPBX{sip: fmt.Sprintf("127.0.0.1:%d", ports[0]), api: fmt.Sprintf("http://127.0.0.1:%d", ports[1]), stderr: &e}
	deadline := time.Now().Add(10 * time.Second)
	for !testpeer.PortInUse("tcp", ports[1]) {
		if time.Now().After(deadline) {
			t.Fatalf("API did not come up: %s", e.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	p.env = []string{"ENTVOICE_SERVER=" + p.api, "ENTVOICE_TOKEN=" + adminToken}
	return p
}

// cli runs an API verb of the binary against p with token (admin if "").
func (p *servedPBX) cli(t *testing.T, token string, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Env = append(os.Environ(), p.env...)
	if token != "" {
		cmd.Env = append(cmd.Env, "ENTVOICE_TOKEN="+token)
	}
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return o.String(), e.String(), code
}

func (p *servedPBX) mustCLI(t *testing.T, token string, args ...string) string {
	t.Helper()
	out, errOut, code := p.cli(t, token, args...)
	if code != 0 {
		t.Fatalf("entvoice %s: exit %d: %s%s", strings.Join(args, " "), code, errOut, out)
	}
	return out
}

// TestNewcomerHostedFlow is the hosted newcomer's flow: two tenants made with
// the CLI, each with a user 1001 (and 1002), phones registering in both
// domains and calling within their tenant, a disabled user refused within
// a second, and each tenant reading only its own CDRs with its own token.
func TestNewcomerHostedFlow(t *testing.T) {
	const admin = "admin-token-for-tests-0123456789"
	p := startServe(t, admin, "")
	tokens := map[string]string{}
	for _, tn := range []string{"acme", "beta"} {
		domain := tn + ".example"
		p.mustCLI(t, "", "tenant", "create", tn, "--name", strings.ToUpper(tn), "--domain", domain)
		for _, u := range []string{"1001", "1002"} {
			p.mustCLI(t, "", "user", "create", u, "--tenant", tn, "--password", tn+"-pw-"+u, "--context", "internal", "--callerid", `"`+tn+` `+u+`" <`+u+`>`)
		}
		p.mustCLI(t, "", "ext", "add", "--tenant", tn, "--context", "internal", "--exten", "_100X", "--priority", "1", "--app", "Dial", "--appdata", "PJSIP/${EXTEN},10")
		var tok struct {
			Token string `json:"token"`
		}
		if err := json.Unmarshal([]byte(p.mustCLI(t, "", "token", "create", tn+"-ops", "--tenant", tn, "-o", "json")), &tok); err != nil || tok.Token == "" {
			t.Fatalf("token create: %v %+v", err, tok)
		}
		tokens[tn] = tok.Token
	}
	// Errors that say what to fix, with exit codes scripts rely on.
	if _, e, code := p.cli(t, "", "user", "create", "1001", "--tenant", "acme", "--password", "another-pw-1"); code != exitInvalid || !strings.Contains(e, "1001") {
		t.Errorf("duplicate user: exit %d, %q", code, e)
	}
	if _, _, code := p.cli(t, tokens["acme"], "user", "get", "1001", "--tenant", "beta"); code != exitNotFound {
		t.Errorf("acme's token reading beta's user: exit %d, want %d", code, exitNotFound)
	}
	if _, _, code := p.cli(t, "wrong-token", "tenant", "list"); code != exitDenied {
		t.Errorf("wrong token: exit %d, want %d", code, exitDenied)
	}

	for _, tn := range []string{"acme", "beta"} {
		domain := tn + ".example"
		// 1002 registers in its domain from the port its answering SIPp
		// then listens on.
		uasPort := testpeer.FreePorts(t, 1)[0]
		reg := testpeer.RunSIPp(t, testpeer.SIPpOptions{Target: p.sip, Scenario: "uac_register_auth", Service: "1002", Calls: 1,
			Port: uasPort, AuthUser: "1002", AuthPass: tn + "-pw-1002", Keys: map[string]string{"domain": domain}})
		if reg.ExitCode != 0 {
			t.Fatalf("%s: REGISTER of 1002: exit %d", tn, reg.ExitCode)
		}
		uas := testpeer.StartSIPp(t, testpeer.SIPpOptions{Scenario: "uas_answer", Port: uasPort, Calls: 1})
		call := testpeer.RunSIPp(t, testpeer.SIPpOptions{Target: p.sip, Scenario: "uac_call_auth", Service: "1002", Calls: 1,
			AuthUser: "1001", AuthPass: tn + "-pw-1001", Keys: map[string]string{"caller": "1001", "domain": domain, "hold_ms": "300"}})
		if call.ExitCode != 0 {
			t.Fatalf("%s: 1001 calling 1002: exit %d", tn, call.ExitCode)
		}
		if res := uas.Stop(); res.ExitCode != 0 {
			t.Errorf("%s: 1002's SIPp UAS: exit %d", tn, res.ExitCode)
		}
	}

	// Disable acme's 1001: its next call is refused within a second.
	p.mustCLI(t, "", "user", "disable", "1001", "--tenant", "acme")
	deadline := time.Now().Add(time.Second)
	for {
		r := testpeer.RunSIPp(t, testpeer.SIPpOptions{Target: p.sip, Scenario: "uac_expect_code", Service: "1002", Calls: 1,
			AuthUser: "1001", AuthPass: "acme-pw-1001", Keys: map[string]string{"caller": "1001", "domain": "acme.example", "code": "403"}})
		if r.ExitCode == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("acme's disabled 1001 was not refused with 403 within a second")
		}
	}

	// Each tenant reads its own CDRs only.
	for tn, tok := range tokens {
		out := p.mustCLI(t, tok, "cdr", "export")
		lines := strings.Split(strings.TrimSpace(out), "\n")
		if len(lines) < 1 || !strings.Contains(out, `"1001","1002"`) {
			t.Fatalf("%s's CDR export:\n%s", tn, out)
		}
		var page struct {
			Items []map[string]any `json:"items"`
		}
		if err := json.Unmarshal([]byte(p.mustCLI(t, tok, "cdr", "list", "-o", "json")), &page); err != nil {
			t.Fatal(err)
		}
		if len(page.Items) == 0 {
			t.Fatalf("%s: no CDRs listed", tn)
		}
		for _, it := range page.Items {
			if it["tenant"] != tn {
				t.Errorf("%s's token sees a CDR of tenant %v", tn, it["tenant"])
			}
		}
		if _, _, code := p.cli(t, tok, "cdr", "list", "--tenant", map[string]string{"acme": "beta", "beta": "acme"}[tn]); code != exitNotFound {
			t.Errorf("%s asking for the other tenant's CDRs: exit %d, want %d", tn, code, exitNotFound)
		}
	}
	out := p.mustCLI(t, "", "tenant", "list")
	if !strings.Contains(out, "acme.example") || !strings.Contains(out, "beta.example") {
		t.Errorf("tenant list:\n%s", out)
	}
}
