package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/entvoice/entvoice/internal/testpeer"
)

// amiLogin logs in to AMI at addr and returns the Login response's
// Message (with the MD5 challenge when md5 is set).
func amiLogin(t *testing.T, addr, user, secret string) string {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	r := bufio.NewReader(c)
	if l, err := r.ReadString('\n'); err != nil || !strings.HasPrefix(l, "Asterisk Call Manager/") {
		t.Fatalf("banner %q %v", l, err)
	}
	if _, err := io.WriteString(c, "Action: Login\r\nUsername: "+user+"\r\nSecret: "+secret+"\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	for {
		l, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("login response: %v", err)
		}
		if m, ok := strings.CutPrefix(l, "Message: "); ok {
			return strings.TrimSpace(m)
		}
	}
}

// TestAMIUserCLI: AMI users made with `entvoice ami-user` against a served
// binary log in to its AMI (which runs with no static AMI user, on the
// store's users): create, list and get without the secret, update the
// secret, delete; a tenant token manages only its tenant's users.
func TestAMIUserCLI(t *testing.T) {
	const admin = "admin-token-for-ami-tests-0123456789"
	amiPort := testpeer.FreePorts(t, 1)[0]
	p := startServe(t, admin, fmt.Sprintf("ami: {listen: \"127.0.0.1:%d\"}\n", amiPort))
	addr := fmt.Sprintf("127.0.0.1:%d", amiPort)
	deadline := time.Now().Add(10 * time.Second)
	for !testpeer.PortInUse("tcp", amiPort) {
		if time.Now().After(deadline) {
			t.Fatalf("AMI did not come up: %s", p.stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if m := amiLogin(t, addr, "ops", "ops-secret-1"); m != "Authentication failed" {
		t.Fatalf("login before the user exists: %q", m)
	}

	p.mustCLI(t, "", "tenant", "create", "acme", "--name", "ACME", "--domain", "acme.example")
	out := p.mustCLI(t, "", "ami-user", "create", "ops", "--secret", "ops-secret-1", "--read", "all", "--write", "call,originate", "-o", "json")
	var u map[string]any
	if err := json.Unmarshal([]byte(out), &u); err != nil || u["name"] != "ops" || u["write"] != "call,originate" || u["allowmultiplelogin"] != true {
		t.Fatalf("ami-user create: %v %s", err, out)
	}
	var tok struct {
		Token string `json:"token"`
	}
	if err := json.Unmarshal([]byte(p.mustCLI(t, "", "token", "create", "acme-ops", "--tenant", "acme", "-o", "json")), &tok); err != nil || tok.Token == "" {
		t.Fatalf("token create: %v %+v", err, tok)
	}
	// A tenant token's user is bound to its tenant.
	out = p.mustCLI(t, tok.Token, "ami-user", "create", "acme-mgr", "--secret", "acme-secret-1", "--read", "call", "-o", "json")
	if err := json.Unmarshal([]byte(out), &u); err != nil || u["tenant"] != "acme" {
		t.Fatalf("tenant's ami-user create: %v %s", err, out)
	}
	if _, e, code := p.cli(t, "", "ami-user", "create", "weak", "--secret", "short"); code != exitInvalid || !strings.Contains(e, "secret") {
		t.Errorf("short secret: exit %d, %q", code, e)
	}
	if _, _, code := p.cli(t, tok.Token, "ami-user", "get", "ops"); code != exitNotFound {
		t.Errorf("acme's token reading the admin's AMI user: exit %d, want %d", code, exitNotFound)
	}
	for _, c := range []struct {
		token string
		want  []string
	}{{"", []string{"ops", "acme-mgr"}}, {tok.Token, []string{"acme-mgr"}}} {
		out := p.mustCLI(t, c.token, "ami-user", "list")
		for _, s := range []string{"ops-secret-1", "acme-secret-1"} {
			if strings.Contains(out, s) {
				t.Fatalf("list shows a secret:\n%s", out)
			}
		}
		for _, name := range c.want {
			if !strings.Contains(out, name) {
				t.Errorf("list with token %q lacks %s:\n%s", c.token, name, out)
			}
		}
		if c.token != "" && strings.Contains(out, "ops ") {
			t.Errorf("acme's list shows the admin's user:\n%s", out)
		}
	}
	if out := p.mustCLI(t, "", "ami-user", "get", "acme-mgr"); !strings.Contains(out, "acme") || strings.Contains(out, "acme-secret-1") {
		t.Errorf("get:\n%s", out)
	}

	for _, c := range [][2]string{{"ops", "ops-secret-1"}, {"acme-mgr", "acme-secret-1"}} {
		if m := amiLogin(t, addr, c[0], c[1]); m != "Authentication accepted" {
			t.Errorf("AMI login as %s: %q", c[0], m)
		}
	}
	p.mustCLI(t, "", "ami-user", "update", "ops", "--secret", "ops-secret-2")
	if m := amiLogin(t, addr, "ops", "ops-secret-1"); m != "Authentication failed" {
		t.Errorf("old secret after update: %q", m)
	}
	if m := amiLogin(t, addr, "ops", "ops-secret-2"); m != "Authentication accepted" {
		t.Errorf("new secret after update: %q", m)
	}
	p.mustCLI(t, tok.Token, "ami-user", "delete", "acme-mgr")
	if m := amiLogin(t, addr, "acme-mgr", "acme-secret-1"); m != "Authentication failed" {
		t.Errorf("deleted user: %q", m)
	}
	if _, _, code := p.cli(t, "", "ami-user", "get", "acme-mgr"); code != exitNotFound {
		t.Errorf("deleted user get: exit %d", code)
	}
}
