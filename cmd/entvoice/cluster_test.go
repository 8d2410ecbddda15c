package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/entvoice/entvoice/internal/cdr"
	"github.com/entvoice/entvoice/internal/cdrstore"
	"github.com/entvoice/entvoice/internal/cluster/pki"
	"github.com/entvoice/entvoice/internal/store"
	"github.com/entvoice/entvoice/internal/store/storetest"
	"github.com/entvoice/entvoice/internal/testpeer"
)

// Multi-process tests of the distributed tier: `entvoice server` on
// 127.0.0.1 and `entvoice node` processes on 127.0.0.2 and 127.0.0.3,
// driven by the real binary, its CLI and SIPp.

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (w *lockedBuffer) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func (w *lockedBuffer) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.String()
}

// proc is one entvoice process.
type proc struct {
	name     string
	cmd      *exec.Cmd
	out, err *lockedBuffer
	done     chan struct{}
}

func startProc(t *testing.T, name string, env []string, args ...string) *proc {
	t.Helper()
	p := &proc{name: name, cmd: exec.Command(binary, args...), out: &lockedBuffer{}, err: &lockedBuffer{}, done: make(chan struct{})}
	p.cmd.Env = append(os.Environ(), env...)
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.err
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { _ = p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		p.stop(t)
		if t.Failed() {
			t.Logf("%s stderr:\n%s", p.name, p.err.String())
		}
	})
	return p
}

// stop ends the process with SIGTERM (kill after 20 s).
func (p *proc) stop(t *testing.T) {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(20 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
		t.Errorf("%s did not stop on SIGTERM", p.name)
	}
}

// kill9 ends the process as a crash would.
func (p *proc) kill9() {
	_ = p.cmd.Process.Kill()
	<-p.done
}

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// waitLog waits until the process's stderr holds s, n times.
func (p *proc) waitLog(t *testing.T, s string, n int) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for strings.Count(p.err.String(), s) < n {
		if time.Now().After(deadline) || p.exited() {
			t.Fatalf("%s: no %q (x%d) in its log:\n%s", p.name, s, n, p.err.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

const clusterAdmin = "cluster-admin-token-0123456789abc"

// centralProc is an `entvoice server`, restartable on the same ports.
type centralProc struct {
	cfg, api, hub, ami string
	env                []string
	p                  *proc
}

func newCentral(t *testing.T) *centralProc {
	t.Helper()
	return newCentralBeat(t, "300ms")
}

// newCentralBeat is newCentral with another cluster.heartbeat.
func newCentralBeat(t *testing.T, heartbeat string) *centralProc {
	t.Helper()
	dsn := ""
	if os.Getenv(storetest.EnvPGDSN) != "" {
		dsn = storetest.PostgresOptions(t).DSN
	}
	c := newCentralWith(t, dsn, heartbeat, "")
	if dsn != "" && !strings.Contains(c.p.err.String(), "dialect=postgres") {
		t.Fatalf("central is not on PostgreSQL:\n%s", c.p.err.String())
	}
	return c
}

// newCentralWith starts a central on the store dsn (empty: SQLite) with
// that cluster.heartbeat and extra keys in its cluster section.
func newCentralWith(t *testing.T, dsn, heartbeat, clusterExtra string) *centralProc {
	t.Helper()
	dir := t.TempDir()
	ports := testpeer.FreePorts(t, 3)
	c := &centralProc{
		api: fmt.Sprintf("http://127.0.0.1:%d", ports[0]),
		hub: fmt.Sprintf("https://127.0.0.1:%d", ports[1]),
		ami: fmt.Sprintf("127.0.0.1:%d", ports[2]),
		env: []string{"ENTVOICE_ADMIN_TOKEN=" + clusterAdmin},
	}
	c.cfg = writeFile(t, dir, "central.yaml", fmt.Sprintf(`data_dir: ./data
database: {dsn: %q}
http: {listen: "127.0.0.1:%d"}
ami:
  listen: "127.0.0.1:%d"
  users: [{name: admin, secret: ami-secret, read: all, write: all}]
cluster: {listen: "127.0.0.1:%d", heartbeat: %s%s}
log: {level: info}
`, dsn, ports[0], ports[2], ports[1], heartbeat, clusterExtra))
	c.start(t)
	return c
}

func (c *centralProc) start(t *testing.T) {
	t.Helper()
	c.p = startProc(t, "central", c.env, "server", "--config", c.cfg)
	c.p.waitLog(t, "entvoice central serving", 1)
}

// cli runs a CLI verb against central's API.
func (c *centralProc) cli(t *testing.T, args ...string) string {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Env = append(os.Environ(), "ENTVOICE_SERVER="+c.api, "ENTVOICE_TOKEN="+clusterAdmin)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("entvoice %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

func (c *centralProc) token(t *testing.T, name, allow string) string {
	t.Helper()
	out, errOut, code := run(t, "node-token", "create", "--config", c.cfg, "--name", name, "--allow", allow, "--ttl", "1h")
	if code != 0 || !strings.HasPrefix(out, "evn1.") || !strings.Contains(errOut, "not shown again") {
		t.Fatalf("node-token create: exit %d %q %q", code, out, errOut)
	}
	return strings.TrimSpace(out)
}

// apiCall calls central's REST API as admin and decodes the reply into v.
func (c *centralProc) apiCall(t *testing.T, method, path, body string, v any) int {
	t.Helper()
	req, _ := http.NewRequest(method, c.api+"/api/v1"+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+clusterAdmin)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if v != nil {
		if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
			t.Fatalf("%s %s: %d: %v", method, path, resp.StatusCode, err)
		}
	}
	return resp.StatusCode
}

// countUserfield counts central's CDRs with that userfield.
func (c *centralProc) countUserfield(t *testing.T, v string) int {
	t.Helper()
	var page struct {
		Items []cdr.Row `json:"items"`
	}
	c.apiCall(t, http.MethodGet, "/cdrs?limit=1000", "", &page)
	n := 0
	for _, r := range page.Items {
		if r.UserField == v {
			n++
		}
	}
	return n
}

// cdrs reads central's CDRs through the API: uniqueid -> times seen.
func (c *centralProc) cdrs(t *testing.T) (map[string]int, int) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, c.api+"/api/v1/cdrs?limit=1000", nil)
	req.Header.Set("Authorization", "Bearer "+clusterAdmin)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var page struct {
		Items []cdr.Row `json:"items"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&page); err != nil {
		t.Fatal(err)
	}
	m := map[string]int{}
	for _, r := range page.Items {
		m[r.UniqueID]++
	}
	return m, len(page.Items)
}

// nodeProc is an `entvoice node` on its own loopback address.
type nodeProc struct {
	ip, sip, cfg, dataDir string
	p                     *proc
}

func newNodeProc(t *testing.T, name, ip string) *nodeProc {
	t.Helper()
	return newNodeProcBeat(t, name, ip, "300ms")
}

// newNodeProcBeat is newNodeProc with another cluster.heartbeat.
func newNodeProcBeat(t *testing.T, name, ip, heartbeat string) *nodeProc {
	t.Helper()
	return newNodeProcWith(t, name, ip, heartbeat, "")
}

// newNodeProcWith is newNodeProcBeat with more trunks (YAML list items).
func newNodeProcWith(t *testing.T, name, ip, heartbeat, trunks string) *nodeProc {
	t.Helper()
	dir := t.TempDir()
	port := testpeer.FreePorts(t, 1)[0]
	peerPort := testpeer.FreeTCPPort(t)
	rtp := testpeer.FreePortBlock(t, 240) // 120 calls
	n := &nodeProc{ip: ip, sip: fmt.Sprintf("%s:%d", ip, port), dataDir: filepath.Join(dir, "data")}
	agiDir, err := filepath.Abs("testdata")
	if err != nil {
		t.Fatal(err)
	}
	n.cfg = writeFile(t, dir, "node.yaml", fmt.Sprintf(`system_name: %s
sip:
  listen: ["udp:%s:%d"]
rtp: {ports: "%d-%d"}
data_dir: ./data
agi_dir: %s
# SIPp's calls from "sipp" (not a user) come in on this trunk.
trunks:
  - {name: sipp, match: ["127.0.0.1/32"], context: internal}
%scluster: {bind: %s, heartbeat: %s, sip_listen: "%s:%d"}
log: {level: info}
`, name, ip, port, rtp, rtp+239, agiDir, trunks, ip, heartbeat, ip, peerPort))
	return n
}

func (n *nodeProc) start(t *testing.T, args ...string) {
	t.Helper()
	n.p = startProc(t, "node "+n.ip, nil, append([]string{"node", "--config", n.cfg}, args...)...)
}

func (n *nodeProc) register(t *testing.T, user, pass string, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		r := testpeer.RunSIPp(t, testpeer.SIPpOptions{Target: n.sip, Scenario: "uac_register_auth", Service: user, Calls: 1,
			AuthUser: user, AuthPass: pass, Timeout: 5 * time.Second})
		if r.ExitCode == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: REGISTER of %s failed: exit %d", n.ip, user, r.ExitCode)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// calls places n answered calls to the echo extension 600.
func (n *nodeProc) calls(t *testing.T, count int) {
	t.Helper()
	r := testpeer.RunSIPp(t, testpeer.SIPpOptions{Target: n.sip, Scenario: "uac_call_auth", Service: "600", Calls: count, Rate: 10, Concurrent: 5,
		AuthUser: "1001", AuthPass: "pw-1001-secret", Keys: map[string]string{"caller": "1001", "hold_ms": "200"}})
	if r.ExitCode != 0 {
		t.Fatalf("%s: %d calls to 600: exit %d", n.ip, count, r.ExitCode)
	}
}

// hangupThroughAPI places a call into node n's echo extension and hangs it
// up through central c's REST API: GET /calls must list it (from the node,
// over the link) and DELETE /calls/{channel} must end it (SIPp gets the
// node's BYE).
func hangupThroughAPI(t *testing.T, c *centralProc, n *nodeProc) {
	t.Helper()
	scenario, err := filepath.Abs("testdata/uac_wait_bye.xml")
	if err != nil {
		t.Fatal(err)
	}
	uac := testpeer.StartSIPp(t, testpeer.SIPpOptions{Target: n.sip, Scenario: scenario, Service: "600", Calls: 1, Timeout: 30 * time.Second})
	var channel string
	deadline := time.Now().Add(10 * time.Second)
	for channel == "" {
		var calls struct {
			Items []struct {
				Channel  string `json:"channel"`
				UniqueID string `json:"uniqueid"`
			} `json:"items"`
		}
		if status := c.apiCall(t, http.MethodGet, "/calls", "", &calls); status != http.StatusOK {
			t.Fatalf("GET /calls: %d", status)
		}
		for _, it := range calls.Items {
			if strings.HasPrefix(it.Channel, "PJSIP/sipp-") {
				channel = it.Channel
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the call on %s never showed in central's GET /calls", n.ip)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if status := c.apiCall(t, http.MethodDelete, "/calls/"+url.PathEscape(channel), "", nil); status != http.StatusNoContent {
		t.Fatalf("DELETE /calls/%s: %d", channel, status)
	}
	if res := uac.Wait(15 * time.Second); res == nil || res.ExitCode != 0 {
		t.Fatalf("the call hung up through central's API: %+v", res)
	}
}

// amiWatch logs in to central's AMI and collects the events it sends:
// peek returns them so far, stop ends the session and returns them all.
func amiWatch(t *testing.T, c *centralProc) (peek, stop func() []map[string]string) {
	t.Helper()
	conn, err := net.DialTimeout("tcp", c.ami, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	r := bufio.NewReader(conn)
	if _, err := r.ReadString('\n'); err != nil { // Asterisk Call Manager/x.y.z
		t.Fatal(err)
	}
	if _, err := conn.Write([]byte("Action: Login\r\nUsername: admin\r\nSecret: ami-secret\r\n\r\n")); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var got []map[string]string
	done := make(chan struct{})
	go func() {
		defer close(done)
		msg := map[string]string{}
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				return
			}
			line = strings.TrimRight(line, "\r\n")
			if line == "" {
				mu.Lock()
				got = append(got, msg)
				mu.Unlock()
				msg = map[string]string{}
				continue
			}
			if k, v, ok := strings.Cut(line, ": "); ok {
				msg[k] = v
			}
		}
	}()
	peek = func() []map[string]string {
		mu.Lock()
		defer mu.Unlock()
		return append([]map[string]string(nil), got...)
	}
	stopped := false
	stop = func() []map[string]string {
		if !stopped {
			stopped = true
			_ = conn.Close()
			<-done
		}
		mu.Lock()
		defer mu.Unlock()
		return append([]map[string]string(nil), got...)
	}
	t.Cleanup(func() { stop() })
	// Logged in?
	deadline := time.Now().Add(5 * time.Second)
	for {
		mu.Lock()
		ok := len(got) > 0 && got[0]["Response"] == "Success"
		mu.Unlock()
		if ok {
			return peek, stop
		}
		if time.Now().After(deadline) {
			t.Fatalf("AMI login to central: %v", stop())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// localCDRs reads a stopped node's own CDR store.
func (n *nodeProc) localCDRs(t *testing.T) map[string]int {
	t.Helper()
	st := storetest.Open(t, store.Options{DataDir: n.dataDir})
	rows, _, err := cdrstore.List(context.Background(), st, cdrstore.Filter{Limit: cdrstore.MaxLimit})
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]int{}
	for _, r := range rows {
		m[r.UniqueID]++
	}
	return m
}

func needSIPp(t *testing.T) {
	t.Helper()
	for _, need := range []string{"sipp", "/usr/share/perl5/Asterisk/AGI.pm"} {
		if _, err := exec.LookPath(need); err != nil {
			if _, err := os.Stat(need); err != nil && os.Getenv("CI") == "" {
				t.Skipf("%s is not installed", need)
			}
		}
	}
}

// TestClusterEnrolment: a node enrols from its allowed address; a reused
// token, a token used from outside its networks and a malformed token are
// refused with a log on both sides; a second node enrols with a token made
// through the REST API; GET /nodes and node list show them; revoke (REST
// and CLI) cuts a live link and refuses it afterwards.
func TestClusterEnrolment(t *testing.T) {
	c := newCentral(t)
	tokA := c.token(t, "site-a", "127.0.0.2/32")
	a := newNodeProc(t, "site-a", "127.0.0.2")
	a.start(t, "--join", c.hub, "--token", tokA)
	a.p.waitLog(t, "linked to central", 1)
	c.p.waitLog(t, "node linked", 1)
	if !strings.Contains(a.p.out.String(), "enrolled as node site-a") {
		t.Fatalf("node stdout: %q", a.p.out.String())
	}

	// The same token again, from 127.0.0.3.
	b := newNodeProc(t, "site-b", "127.0.0.3")
	_, errOut, code := run(t, "node", "--config", b.cfg, "--join", c.hub, "--token", tokA)
	if code != exitDenied || !strings.Contains(errOut, "already used") {
		t.Fatalf("reused token: exit %d %s", code, errOut)
	}
	c.p.waitLog(t, "node token already used", 1)
	// A token for 127.0.0.2 used from 127.0.0.3.
	_, errOut, code = run(t, "node", "--config", b.cfg, "--join", c.hub, "--token", c.token(t, "site-b", "127.0.0.2/32"))
	if code != exitDenied || !strings.Contains(errOut, "allowed networks") {
		t.Fatalf("token from outside its networks: exit %d %s", code, errOut)
	}
	c.p.waitLog(t, "127.0.0.3 not in 127.0.0.2/32", 1)
	if _, errOut, code = run(t, "node", "--config", b.cfg, "--join", c.hub, "--token", "evn1.bogus"); code != exitDenied || !strings.Contains(errOut, "malformed node token") {
		t.Fatalf("malformed token: exit %d %s", code, errOut)
	}

	// The REST API makes a token too; site-b enrols with it.
	var rt struct {
		Token string `json:"token"`
	}
	if status := c.apiCall(t, http.MethodPost, "/node-tokens", `{"name":"site-b","allow":["127.0.0.3/32"],"ttl":"10m"}`, &rt); status != http.StatusCreated {
		t.Fatalf("POST /node-tokens: %d", status)
	}
	b.start(t, "--join", c.hub, "--token", rt.Token)
	b.p.waitLog(t, "linked to central", 1)
	var api struct {
		Items []struct {
			Name     string `json:"name"`
			LastAddr string `json:"last_addr"`
		} `json:"items"`
	}
	if status := c.apiCall(t, http.MethodGet, "/nodes", "", &api); status != 200 || len(api.Items) != 2 || api.Items[1].Name != "site-b" || !strings.HasPrefix(api.Items[1].LastAddr, "127.0.0.3:") {
		t.Fatalf("GET /nodes: %d %+v", status, api)
	}
	if status := c.apiCall(t, http.MethodPost, "/nodes/site-b/revoke", "", nil); status != http.StatusNoContent {
		t.Fatalf("POST /nodes/site-b/revoke: %d", status)
	}
	b.p.waitLog(t, "node certificate revoked", 1)

	out, _, code := run(t, "node", "list", "--config", c.cfg, "--json")
	var nodes []struct {
		Name    string `json:"name"`
		Revoked bool   `json:"revoked"`
		Addr    string `json:"last_addr"`
	}
	if code != 0 || json.Unmarshal([]byte(out), &nodes) != nil || len(nodes) != 2 || nodes[0].Name != "site-a" || !strings.HasPrefix(nodes[0].Addr, "127.0.0.2") || !nodes[1].Revoked {
		t.Fatalf("node list: exit %d %s", code, out)
	}
	if out, _, code = run(t, "node", "revoke", "site-a", "--config", c.cfg); code != 0 {
		t.Fatalf("node revoke: exit %d %s", code, out)
	}
	c.p.waitLog(t, "node link cut: certificate revoked", 2)
	a.p.waitLog(t, "node certificate revoked", 1)
	c.p.waitLog(t, "node link refused", 1)
	if _, _, code = run(t, "node", "revoke", "nope", "--config", c.cfg); code != exitNotFound {
		t.Fatalf("revoke of an unknown node: exit %d", code)
	}
	out, _, _ = run(t, "node", "list", "--config", c.cfg)
	if !strings.Contains(out, "revoked") {
		t.Fatalf("node list after revoke:\n%s", out)
	}
}

// TestClusterNodeSurvivesCentral is the survivability promise end to end
// with two nodes (127.0.0.2 and 127.0.0.3): configuration made on central
// reaches both over the link; with central killed (-9) they keep
// registering and routing calls (a load running across the crash loses no
// call), node A also after its own restart; when central returns every CDR
// of both arrives once.
func TestClusterNodeSurvivesCentral(t *testing.T) {
	needSIPp(t)
	c := newCentral(t)
	a := newNodeProc(t, "site-a", "127.0.0.2")
	b := newNodeProc(t, "site-b", "127.0.0.3")
	a.start(t, "--join", c.hub, "--token", c.token(t, "site-a", "127.0.0.2/32"))
	b.start(t, "--join", c.hub, "--token", c.token(t, "site-b", "127.0.0.3/32"))
	both := []*nodeProc{a, b}
	for _, n := range both {
		n.p.waitLog(t, "linked to central", 1)
	}

	c.cli(t, "user", "create", "1001", "--password", "pw-1001-secret", "--context", "internal", "--tenant", "default")
	c.cli(t, "ext", "add", "--tenant", "default", "--context", "internal", "--exten", "600", "--priority", "1", "--app", "Answer")
	c.cli(t, "ext", "add", "--tenant", "default", "--context", "internal", "--exten", "600", "--priority", "2", "--app", "Echo")
	// 700 runs a real AGI script (Perl Asterisk::AGI, in the nodes'
	// agi_dir), then echoes.
	c.cli(t, "ext", "add", "--tenant", "default", "--context", "internal", "--exten", "700", "--priority", "1", "--app", "AGI", "--appdata", "agi_mark.pl")
	c.cli(t, "ext", "add", "--tenant", "default", "--context", "internal", "--exten", "700", "--priority", "2", "--app", "Set", "--appdata", "CDR(userfield)=${AGISTATUS}-${AGIMARK}")
	c.cli(t, "ext", "add", "--tenant", "default", "--context", "internal", "--exten", "700", "--priority", "3", "--app", "Echo")
	for _, n := range both {
		n.register(t, "1001", "pw-1001-secret", 5*time.Second)
		n.calls(t, 3)
	}
	// Central's API lists node B's call and hangs it up over the link.
	hangupThroughAPI(t, c, b)
	// Central's AMI carries both nodes' events (uniqueids name the node).
	peek, stop := amiWatch(t, c)
	for _, n := range both {
		n.calls(t, 1)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		seen := map[string]bool{}
		for _, e := range peek() {
			if e["Event"] == "Hangup" {
				for _, node := range []string{"site-a", "site-b"} {
					if strings.HasPrefix(e["Uniqueid"], node+"-") {
						seen[node] = true
					}
				}
			}
		}
		if seen["site-a"] && seen["site-b"] {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("central's AMI saw Hangup events of %v, want site-a and site-b", seen)
		}
		time.Sleep(50 * time.Millisecond)
	}
	stop()

	// Central crashes with 100 calls up (50 per node, 6 s each): no call fails, and the nodes keep
	// serving afterwards.
	const load = 50
	var loads []*testpeer.SIPpProc
	for _, n := range both {
		loads = append(loads, testpeer.StartSIPp(t, testpeer.SIPpOptions{Target: n.sip, Scenario: "uac_call_auth", Service: "600",
			Calls: load, Rate: 10, Concurrent: load, AuthUser: "1001", AuthPass: "pw-1001-secret",
			Keys: map[string]string{"caller": "1001", "hold_ms": "6000"}, Timeout: 60 * time.Second}))
	}
	time.Sleep(5300 * time.Millisecond) // every call is up
	c.p.kill9()
	for i, n := range both {
		res := loads[i].Wait(60 * time.Second)
		if res == nil || res.ExitCode != 0 || res.Successful != load {
			t.Fatalf("%s: load across central's crash: %+v", n.ip, res)
		}
		n.p.waitLog(t, "link to central down", 1)
		n.register(t, "1001", "pw-1001-secret", 5*time.Second)
		n.calls(t, 3)
	}

	// Node A restarts while central is down: it serves its persisted
	// configuration.
	a.p.stop(t)
	a.start(t)
	a.p.waitLog(t, "serving the persisted configuration", 1)
	a.register(t, "1001", "pw-1001-secret", 5*time.Second)
	a.calls(t, 3)
	// ...including AGI.
	const agiCalls = 2
	if r := testpeer.RunSIPp(t, testpeer.SIPpOptions{Target: a.sip, Scenario: "uac_call_auth", Service: "700", Calls: agiCalls, Rate: 10,
		AuthUser: "1001", AuthPass: "pw-1001-secret", Keys: map[string]string{"caller": "1001", "hold_ms": "300"}}); r.ExitCode != 0 {
		t.Fatalf("calls to the AGI extension: exit %d", r.ExitCode)
	}

	// Central returns: every CDR reaches it once.
	c.start(t)
	deadline = time.Now().Add(15 * time.Second)
	const want = 3*2 + 1 + 2 + (load+3)*2 + 3 + agiCalls
	var got map[string]int
	var rows int
	for {
		got, rows = c.cdrs(t)
		if len(got) >= want || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	local := map[string]int{}
	for _, n := range both {
		n.p.stop(t)
		for id, k := range n.localCDRs(t) {
			local[id] += k
		}
	}
	if len(local) != want || rows != len(got) || len(got) != len(local) {
		t.Fatalf("nodes wrote %d CDRs, central holds %d rows for %d uniqueids (want %d calls, once each)", len(local), rows, len(got), want)
	}
	for id := range local {
		if got[id] != 1 {
			t.Errorf("CDR %s reached central %d times", id, got[id])
		}
	}
	if n := c.countUserfield(t, "SUCCESS-ran"); n != agiCalls {
		t.Errorf("central holds %d CDRs of AGI calls marked by the script, want %d", n, agiCalls)
	}
}

// TestClusterTwoCentrals: two central servers share one PostgreSQL
// database and the operator's CA (cluster.ca_cert/ca_key). A token made on
// the first enrols a node with the second; users and extensions written
// through the first reach the node through the second (PostgreSQL
// LISTEN/NOTIFY wakes its feed); the node's CDRs, shipped to the second,
// are read through the first, whose API lists and hangs up a call on the
// node; both centrals' AMIs carry the node's events once each.
func TestClusterTwoCentrals(t *testing.T) {
	needSIPp(t)
	if os.Getenv(storetest.EnvPGDSN) == "" {
		t.Skip("needs PostgreSQL (ENTVOICE_TEST_PG_DSN)")
	}
	dsn := storetest.PostgresOptions(t).DSN
	caDir := t.TempDir()
	if _, err := pki.LoadOrCreateCA("", "", caDir); err != nil {
		t.Fatal(err)
	}
	ca := fmt.Sprintf(", ca_cert: %q, ca_key: %q", filepath.Join(caDir, "ca.crt"), filepath.Join(caDir, "ca.key"))
	c1 := newCentralWith(t, dsn, "300ms", ca)
	c2 := newCentralWith(t, dsn, "300ms", ca)
	a := newNodeProc(t, "site-a", "127.0.0.2")
	a.start(t, "--join", c2.hub, "--token", c1.token(t, "site-a", "127.0.0.2/32"))
	a.p.waitLog(t, "linked to central", 1)
	c2.p.waitLog(t, "node linked", 1)

	c1.cli(t, "user", "create", "1001", "--password", "pw-1001-secret", "--context", "internal", "--tenant", "default")
	c1.cli(t, "ext", "add", "--tenant", "default", "--context", "internal", "--exten", "600", "--priority", "1", "--app", "Answer")
	c1.cli(t, "ext", "add", "--tenant", "default", "--context", "internal", "--exten", "600", "--priority", "2", "--app", "Echo")
	a.register(t, "1001", "pw-1001-secret", 5*time.Second)
	a.calls(t, 4)
	// The first's API sees and hangs up a call on the node linked to the
	// second.
	hangupThroughAPI(t, c1, a)
	deadline := time.Now().Add(15 * time.Second)
	for {
		got, rows := c1.cdrs(t)
		if len(got) == 5 && rows == 5 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the first central reads %d CDRs (%d rows), want 5", len(got), rows)
		}
		time.Sleep(100 * time.Millisecond)
	}

	// Both centrals' AMIs carry the node's events, each once: the second
	// has them from the link, the first from the second's hub (which it
	// follows once its own AMI has a session: events flow on demand).
	peek1, _ := amiWatch(t, c1)
	peek2, _ := amiWatch(t, c2)
	c1.p.waitLog(t, "subscribed to a central instance's node events", 1)
	a.calls(t, 2)
	hangups := func(peek func() []map[string]string) map[string]int {
		out := map[string]int{}
		for _, e := range peek() {
			if e["Event"] == "Hangup" && strings.HasPrefix(e["Uniqueid"], "site-a-") {
				out[e["Uniqueid"]]++
			}
		}
		return out
	}
	deadline = time.Now().Add(10 * time.Second)
	for len(hangups(peek1)) < 2 || len(hangups(peek2)) < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("Hangup events of site-a's 2 calls: %v on the first central's AMI, %v on the second's", hangups(peek1), hangups(peek2))
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(time.Second) // a duplicate would come by then
	h1, h2 := hangups(peek1), hangups(peek2)
	if len(h1) != len(h2) {
		t.Fatalf("Hangup events: %v on the first central's AMI, %v on the second's", h1, h2)
	}
	for id, n := range h2 {
		if n != 1 || h1[id] != 1 {
			t.Fatalf("Hangup of %s: %d on the first central's AMI, %d on the second's; want 1 each", id, h1[id], n)
		}
	}
}

// TestClusterNodeRestartMidCalls: a node is restarted (SIGTERM, then
// started again on its data dir) in the middle of a SIPp load. The calls
// up when it stops finish within its shutdown grace, INVITEs during the
// drain get 503 and SIPp counts them failed; afterwards central holds one
// ANSWERED CDR per call SIPp completed, each once, and exactly the node's
// own CDRs.
func TestClusterNodeRestartMidCalls(t *testing.T) {
	needSIPp(t)
	c := newCentral(t)
	a := newNodeProc(t, "site-a", "127.0.0.2")
	a.start(t, "--join", c.hub, "--token", c.token(t, "site-a", "127.0.0.2/32"))
	a.p.waitLog(t, "linked to central", 1)
	c.cli(t, "user", "create", "1001", "--password", "pw-1001-secret", "--context", "internal", "--tenant", "default")
	c.cli(t, "ext", "add", "--tenant", "default", "--context", "internal", "--exten", "600", "--priority", "1", "--app", "Answer")
	c.cli(t, "ext", "add", "--tenant", "default", "--context", "internal", "--exten", "600", "--priority", "2", "--app", "Echo")
	a.register(t, "1001", "pw-1001-secret", 5*time.Second)

	const calls = 40
	load := testpeer.StartSIPp(t, testpeer.SIPpOptions{Target: a.sip, Scenario: "uac_call_auth", Service: "600",
		Calls: calls, Rate: 10, Concurrent: 10, AuthUser: "1001", AuthPass: "pw-1001-secret",
		Keys: map[string]string{"caller": "1001", "hold_ms": "1000"}, Timeout: 90 * time.Second})
	time.Sleep(1500 * time.Millisecond) // about ten calls up
	a.p.stop(t)
	a.start(t)
	a.p.waitLog(t, "linked to central", 1)
	res := load.Wait(90 * time.Second)
	if res == nil {
		t.Fatal("SIPp did not finish")
	}
	if res.Successful == 0 || res.Successful+res.Failed != calls {
		t.Fatalf("SIPp: %d successful, %d failed of %d", res.Successful, res.Failed, calls)
	}
	// What the node wrote (read from its stopped store), then what reached
	// central once the node is back and has shipped it.
	a.p.stop(t)
	local := a.localCDRs(t)
	a.start(t)
	var got map[string]int
	var rows int
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if got, rows = c.cdrs(t); len(got) >= len(local) || time.Now().After(deadline) {
			break
		}
	}
	var page struct {
		Items []cdr.Row `json:"items"`
	}
	c.apiCall(t, "GET", "/cdrs?limit=1000&disposition=ANSWERED", "", &page)
	answered := len(page.Items)
	t.Logf("SIPp %d successful, %d failed; central %d ANSWERED CDRs, %d rows, %d uniqueids; node %d", res.Successful, res.Failed, answered, rows, len(got), len(local))
	if answered != res.Successful {
		t.Errorf("central holds %d ANSWERED CDRs for %d calls SIPp completed", answered, res.Successful)
	}
	if rows != len(got) || len(got) != len(local) {
		t.Errorf("central %d rows for %d uniqueids, node %d CDRs: want each node CDR once", rows, len(got), len(local))
	}
	for id := range local {
		if got[id] != 1 {
			t.Errorf("CDR %s reached central %d times", id, got[id])
		}
	}
}
