package e2e

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/entvoice/entvoice/internal/cdr"
	"github.com/entvoice/entvoice/internal/cdrstore"
	"github.com/entvoice/entvoice/internal/config"
	"github.com/entvoice/entvoice/internal/node"
	"github.com/entvoice/entvoice/internal/provision"
	"github.com/entvoice/entvoice/internal/store"
	"github.com/entvoice/entvoice/internal/system"
	"github.com/entvoice/entvoice/internal/testpeer"
)

// testNode is an entVoice node running inside the test.
type testNode struct {
	*node.Node
	Port    int    // SIP port (UDP and TCP)
	Addr    string // 127.0.0.1:Port
	DataDir string
	cfg     *config.Config
	// afterStop runs after the node has stopped (phones made by n.phone).
	afterStop []func()
}

// nodeSpec describes the node a test needs: its YAML (without the sip,
// rtp, data_dir and dialplan keys, which the harness fills in) and its
// dialplan.
type nodeSpec struct {
	yaml     string
	dialplan string
	sounds   string // sounds_dir; default: the installed Asterisk sounds
	sip      string // extra keys under sip:, e.g. "max_auth_failures: 1000"
	// listen are extra sip.listen entries ("tls:127.0.0.1:PORT").
	listen []string
	// source, when set, is the node's realtime provisioning Source.
	source provision.Source
	// files are written in the node's directory before it starts
	// (queues.conf, musiconhold.conf...), by name.
	files map[string]string
}

// startNode starts a node on free ports and stops it at cleanup, checking
// that every call ended.
func startNode(t *testing.T, spec nodeSpec) *testNode {
	t.Helper()
	dir := t.TempDir()
	port := testpeer.FreePorts(t, 1)[0]
	rtp := testpeer.FreePortBlock(t, 200)
	if err := os.WriteFile(filepath.Join(dir, "extensions.conf"), []byte(spec.dialplan), 0o644); err != nil {
		t.Fatal(err)
	}
	for name, text := range spec.files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	sounds := spec.sounds
	if sounds == "" {
		sounds = "/usr/share/asterisk/sounds"
	}
	extra := ""
	for _, l := range spec.listen {
		extra += fmt.Sprintf(", %q", l)
	}
	doc := fmt.Sprintf(`sip:
  listen: ["udp:127.0.0.1:%d", "tcp:127.0.0.1:%d"%s]
  %s
rtp:
  ports: "%d-%d"
data_dir: ./data
sounds_dir: %s
dialplan: extensions.conf
log: {level: %s}
%s`, port, port, extra, spec.sip, rtp, rtp+199, sounds, logLevel(), spec.yaml)
	path := filepath.Join(dir, "entvoice.yaml")
	if err := os.WriteFile(path, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	return runNodeWith(t, cfg, port, spec.source)
}

// runNode starts a node from a configuration and stops it at cleanup.
func runNode(t *testing.T, cfg *config.Config, port int) *testNode {
	t.Helper()
	return runNodeWith(t, cfg, port, nil)
}

// runNodeWith is runNode with a realtime Source (nil: none).
func runNodeWith(t *testing.T, cfg *config.Config, port int, src provision.Source) *testNode {
	t.Helper()
	before := goleak.IgnoreCurrent()
	log := slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: levelOf(cfg.Log.Level)}))
	ctx, cancel := context.WithCancel(context.Background())
	p, err := system.Standalone(ctx, cfg, system.Options{Logger: log}, src)
	if err != nil {
		cancel()
		t.Fatalf("node: %v", err)
	}
	if err := p.Start(ctx); err != nil {
		cancel()
		t.Fatalf("start: %v", err)
	}
	n := p.Node
	tn := &testNode{Node: n, Port: port, Addr: fmt.Sprintf("127.0.0.1:%d", port), DataDir: cfg.DataDir, cfg: cfg}
	t.Cleanup(func() {
		n.Shutdown(2 * time.Second)
		p.Stop()
		for _, f := range tn.afterStop {
			f()
		}
		cancel()
		// Phones were stopped before (cleanups run last first): nothing
		// this test started may still run.
		if err := goleak.Find(before); err != nil {
			t.Errorf("goroutines left behind: %v", err)
		}
	})
	return tn
}

func logLevel() string {
	if os.Getenv("ENTVOICE_TEST_DEBUG") != "" {
		return "debug"
	}
	return "warn"
}

func levelOf(s string) slog.Level {
	var l slog.Level
	_ = l.UnmarshalText([]byte(s))
	return l
}

// testWriter sends node logs to the test log, so they show on failure.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// cdrs returns every CDR stored so far, waiting up to 5 s for want of them.
func (n *testNode) cdrs(t *testing.T, want int) []cdr.Record {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		rows, _, err := cdrstore.List(context.Background(), n.Store, cdrstore.Filter{Limit: 1000})
		if err != nil {
			t.Fatalf("list CDRs: %v", err)
		}
		if len(rows) >= want || time.Now().After(deadline) {
			out := make([]cdr.Record, len(rows))
			for i, r := range rows {
				out[i] = r.Record
			}
			return out
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitIdle waits until no channel is live.
func (n *testNode) waitIdle(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for n.Channels.Count() > 0 || n.PBX.Active() > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("channels still live: %d", n.Channels.Count())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func reopenStore(t *testing.T, dataDir string) *store.Store {
	t.Helper()
	st, err := store.Open(context.Background(), store.Options{DataDir: dataDir})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func listCDRs(t *testing.T, st *store.Store) []cdr.Record {
	t.Helper()
	rows, _, err := cdrstore.List(context.Background(), st, cdrstore.Filter{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	out := make([]cdr.Record, len(rows))
	for i, r := range rows {
		out[i] = r.Record
	}
	return out
}

// startDemo runs the configuration `entvoice serve` uses without --config,
// on free ports.
func startDemo(t *testing.T) *testNode {
	t.Helper()
	dir := t.TempDir()
	plan := filepath.Join(dir, config.DemoFileName)
	if err := os.WriteFile(plan, []byte(config.DemoDialplan), 0o644); err != nil {
		t.Fatal(err)
	}
	vm := filepath.Join(dir, config.DemoVoicemailFileName)
	if err := os.WriteFile(vm, []byte(config.DemoVoicemail), 0o644); err != nil {
		t.Fatal(err)
	}
	port := testpeer.FreePorts(t, 1)[0]
	rtp := testpeer.FreePortBlock(t, 100)
	cfg := config.Demo(filepath.Join(dir, "data"), plan, func(c *config.Config) {
		c.SIP.Listen = []string{fmt.Sprintf("udp:127.0.0.1:%d", port)}
		c.RTP.Ports = fmt.Sprintf("%d-%d", rtp, rtp+99)
		c.Log.Level = logLevel()
		config.WithDemoVoicemail(vm)(c)
	})
	return runNode(t, cfg, port)
}
