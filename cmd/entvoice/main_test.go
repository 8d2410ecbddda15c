package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/entvoice/entvoice/internal/cdr"
	"github.com/entvoice/entvoice/internal/cdrstore"
	"github.com/entvoice/entvoice/internal/store"
	"github.com/entvoice/entvoice/internal/testpeer"
)

var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "entvoice-bin")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "entvoice")
	if out, err := exec.Command("go", "build", "-o", binary, ".").CombinedOutput(); err != nil {
		panic(string(out))
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func run(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, args...)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	code = 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return o.String(), e.String(), code
}

func TestVersion(t *testing.T) {
	out, _, code := run(t, "version")
	if code != 0 || !strings.HasPrefix(out, "entvoice ") {
		t.Fatalf("version: %q code %d", out, code)
	}
}

func writeFile(t *testing.T, dir, name, body string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// A configuration or dialplan with errors stops serve with file:line.
func TestServeRefusesBadConfig(t *testing.T) {
	dir := t.TempDir()
	cases := []struct {
		name, yaml, plan, want string
	}{
		{"unknown key", "sip:\n  listne: []\n", "", `entvoice.yaml:2: .*listne`},
		// Static users are the default tenant's; hosted tenants come from the store.
		{"static user tenant", "users:\n  - {name: \"1001\", secret: x, tenant: acme}\n", "", `entvoice.yaml:2: .*tenant`},
		{"bad cidr", "users:\n  - name: \"1001\"\n    secret: x\n    permit: [\"10.0.0.300/8\"]\n", "", `entvoice.yaml:2: user "1001": bad CIDR`},
		{"bad rtp range", "rtp:\n  ports: \"20-10\"\n", "", `entvoice.yaml:2: rtp.ports`},
		{"dialplan syntax", "dialplan: ext.conf\n", "[a]\nexten => 1,1,Answer()\nexten => 1,1,Hangup()\n", `ext.conf:3: priority 1 of 1@a already defined`},
		{"unknown app", "dialplan: ext.conf\n", "[a]\nexten => 1,1,Answr()\n", `ext.conf:2: unknown application "Answr"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			writeFile(t, dir, "ext.conf", c.plan)
			cfg := writeFile(t, dir, "entvoice.yaml", c.yaml+"data_dir: ./data\n")
			_, stderr, code := run(t, "serve", "--config", cfg)
			if code != 2 || !regexp.MustCompile(c.want).MatchString(stderr) {
				t.Fatalf("exit %d, stderr %q; want exit 2 and %q", code, stderr, c.want)
			}
		})
	}
}

// SIGTERM stops serve cleanly with exit status 0.
func TestServeStopsOnSIGTERM(t *testing.T) {
	dir := t.TempDir()
	port := testpeer.FreePorts(t, 1)[0]
	rtp := testpeer.FreePortBlock(t, 20)
	cfg := writeFile(t, dir, "entvoice.yaml", "sip:\n  listen: [\"udp:127.0.0.1:"+itoa(port)+"\"]\nrtp:\n  ports: \""+itoa(rtp)+"-"+itoa(rtp+19)+"\"\ndata_dir: ./data\nhttp: {listen: \"127.0.0.1:"+itoa(testpeer.FreePorts(t, 1)[0])+"\"}\nami: {listen: \"off\"}\n")
	cmd := exec.Command(binary, "serve", "--config", cfg)
	var e bytes.Buffer
	cmd.Stderr = &e
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for !testpeer.PortInUse("udp", port) && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("serve exited with %v: %s", err, e.String())
		}
	case <-time.After(15 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatalf("serve did not stop on SIGTERM: %s", e.String())
	}
	if !strings.Contains(e.String(), "stopped") {
		t.Fatalf("no shutdown log: %s", e.String())
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

// cdr export prints Master.csv for the records in the data directory.
func TestCDRExport(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	st, err := store.Open(ctx, store.Options{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	w := cdrstore.NewWriter(st, nil, cdrstore.WriterOptions{})
	start := time.Date(2026, 11, 29, 10, 0, 0, 0, time.UTC)
	rec := cdr.Record{Src: "1001", Dst: "500", DContext: "demo", CLID: `"Alice" <1001>`, Channel: "PJSIP/1001-00000001",
		LastApp: "Hangup", Start: start, Answer: start.Add(time.Second), End: start.Add(11 * time.Second),
		Duration: 11, BillSec: 10, Disposition: "ANSWERED", AMAFlags: "DOCUMENTATION", UniqueID: "1795000000.1", LinkedID: "1795000000.1", Sequence: 1}
	if err := w.Write(ctx, rec); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(ctx); err != nil {
		t.Fatal(err)
	}
	st.Close()
	out, stderr, code := run(t, "cdr", "export", "--format", "csv", "--gmt", "--data", dir)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	want := `"","1001","500","demo","""Alice"" <1001>","PJSIP/1001-00000001","","Hangup","","2026-11-29 10:00:00","2026-11-29 10:00:01","2026-11-29 10:00:11",11,10,"ANSWERED","DOCUMENTATION","1795000000.1","","","1795000000.1",1` + "\n"
	if out != want {
		t.Fatalf("export:\n%s\nwant:\n%s", out, want)
	}
	if _, _, code := run(t, "cdr", "export", "--data", filepath.Join(dir, "missing")); code != 2 {
		t.Fatalf("missing data dir: exit %d, want 2", code)
	}
}
