package ami_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/entvoice/entvoice/internal/ami"
	"github.com/entvoice/entvoice/internal/config"
	"github.com/entvoice/entvoice/internal/control"
	"github.com/entvoice/entvoice/internal/node"
	"github.com/entvoice/entvoice/internal/provision"
	"github.com/entvoice/entvoice/internal/store"
	"github.com/entvoice/entvoice/internal/system"
	"github.com/entvoice/entvoice/internal/testpeer"
)

// amiNode is a node with AMI, running in the test.
type amiNode struct {
	*node.Node
	SIPAddr string
	AMIAddr string
	// Repo is the provisioning repository (startAMINodeWith only).
	Repo *provision.Repo
}

const testUsers = `ami:
  listen: "127.0.0.1:%d"
  users:
    - {name: admin, secret: secret, read: all, write: all}
`

// startAMINode starts a node whose YAML holds the AMI users above plus
// extra, with the given dialplan.
func startAMINode(t *testing.T, extra, plan string) *amiNode {
	t.Helper()
	return startAMINodeWith(t, extra, plan, nil)
}

// startAMINodeWith is startAMINode with, when fill is set, a real
// provisioning repository on the node's store: fill fills it before
// the node starts, and the node takes it as its realtime Source (hosted
// tenants, their users and extension rows) and as a source of AMI users
// after the static ones, as `entvoice serve` does.
func startAMINodeWith(t *testing.T, extra, plan string, fill func(context.Context, *provision.Repo) error) *amiNode {
	t.Helper()
	dir := t.TempDir()
	ports := testpeer.FreePorts(t, 2)
	rtp := testpeer.FreePortBlock(t, 100)
	if err := os.WriteFile(filepath.Join(dir, "extensions.conf"), []byte(plan), 0o644); err != nil {
		t.Fatal(err)
	}
	level := "warn"
	if os.Getenv("ENTVOICE_TEST_DEBUG") != "" {
		level = "debug"
	}
	doc := fmt.Sprintf(`sip:
  listen: ["udp:127.0.0.1:%d"]
rtp:
  ports: "%d-%d"
data_dir: ./data
sounds_dir: /usr/share/asterisk/sounds
dialplan: extensions.conf
log: {level: %s}
`+testUsers+"%s", ports[0], rtp, rtp+99, level, ports[1], extra)
	path := filepath.Join(dir, "entvoice.yaml")
	if err := os.WriteFile(path, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	before := goleak.IgnoreCurrent()
	var lvl slog.Level
	_ = lvl.UnmarshalText([]byte(level))
	log := slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: lvl}))
	ctx := context.Background()
	st, err := store.Open(ctx, store.Options{DataDir: cfg.DataDir})
	if err != nil {
		t.Fatal(err)
	}
	var (
		rev  int64
		repo *provision.Repo
		o    = node.Options{Store: st, Logger: log}
		more ami.UserSource
	)
	if fill != nil {
		if repo, err = provisionRepo(ctx, st, fill); err != nil {
			_ = st.Close()
			t.Fatalf("provision: %v", err)
		}
		if rev, err = repo.Revision(ctx); err != nil {
			_ = st.Close()
			t.Fatal(err)
		}
		o.Source, more = repo, system.StoreAMIUsers(repo)
	}
	if o.AMI, err = system.AMIOptions(cfg, more); err != nil {
		_ = st.Close()
		t.Fatal(err)
	}
	n, err := node.New(ctx, cfg, o)
	if err != nil {
		_ = st.Close()
		t.Fatalf("node: %v", err)
	}
	if err := n.Start(ctx); err != nil {
		n.Shutdown(0)
		_ = st.Close()
		t.Fatalf("start: %v", err)
	}
	t.Cleanup(func() {
		n.Shutdown(2 * time.Second)
		_ = st.Close()
		if err := goleak.Find(before); err != nil {
			t.Errorf("goroutines left behind: %v", err)
		}
	})
	if fill != nil {
		wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		if err := n.WaitRevision(wctx, rev); err != nil {
			t.Fatalf("revision %d not in force: %v", rev, err)
		}
	}
	return &amiNode{Node: n, SIPAddr: fmt.Sprintf("127.0.0.1:%d", ports[0]), AMIAddr: fmt.Sprintf("127.0.0.1:%d", ports[1]), Repo: repo}
}

func provisionRepo(ctx context.Context, st *store.Store, fill func(context.Context, *provision.Repo) error) (*provision.Repo, error) {
	repo, err := provision.New(ctx, st, provision.Options{KnownApp: control.IsApplication})
	if err != nil {
		return nil, err
	}
	return repo, fill(ctx, repo)
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// waitIdle waits until no channel is live.
func (n *amiNode) waitIdle(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for n.Channels.Count() > 0 || n.PBX.Active() > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("channels still live: %d", n.Channels.Count())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// rawClient is a byte-level AMI client.
type rawClient struct {
	t *testing.T
	c net.Conn
	r *bufio.Reader
}

func dialRaw(t *testing.T, addr, user, secret string) *rawClient {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	rc := &rawClient{t: t, c: c, r: bufio.NewReader(c)}
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := rc.r.ReadString('\n'); err != nil {
		t.Fatal(err)
	}
	rc.send("Action: Login", "Username: "+user, "Secret: "+secret)
	if m := rc.until("Response:"); !strings.Contains(m, "Authentication accepted") {
		t.Fatalf("login %s: %q", user, m)
	}
	// SuccessfulAuth is published once the session receives events.
	rc.until("Event: SuccessfulAuth")
	return rc
}

func (c *rawClient) send(lines ...string) {
	c.t.Helper()
	if _, err := io.WriteString(c.c, strings.Join(lines, "\r\n")+"\r\n\r\n"); err != nil {
		c.t.Fatal(err)
	}
}

func (c *rawClient) read() string {
	c.t.Helper()
	_ = c.c.SetReadDeadline(time.Now().Add(20 * time.Second))
	var b strings.Builder
	for {
		l, err := c.r.ReadString('\n')
		b.WriteString(l)
		if err != nil {
			c.t.Fatalf("read: %v after %q", err, b.String())
		}
		if l == "\r\n" {
			return b.String()
		}
	}
}

func (c *rawClient) until(prefix string) string {
	c.t.Helper()
	for {
		if m := c.read(); strings.HasPrefix(m, prefix) {
			return m
		}
	}
}

// untilFn reads until pred accepts a message, returning every message read.
func (c *rawClient) untilFn(pred func(string) bool) []string {
	c.t.Helper()
	var out []string
	for {
		m := c.read()
		out = append(out, m)
		if pred(m) {
			return out
		}
	}
}

func hdr(msg, key string) string {
	for _, l := range strings.Split(msg, "\r\n") {
		if k, v, ok := strings.Cut(l, ": "); ok && strings.EqualFold(k, key) {
			return v
		}
	}
	return ""
}
