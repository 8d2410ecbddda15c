package testpeer

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"testing"
	"time"
)

// BrowserCallOptions describe one call from a browser: Debian's chromium,
// driven by playwright-core, runs a SIP.js page (npm/webrtc/page.html)
// that registers over WSS, calls Target and listens to what comes back.
type BrowserCallOptions struct {
	WSS          string // wss://127.0.0.1:PORT
	Domain       string // the SIP domain of its AOR (default 127.0.0.1)
	User, Pass   string
	Target       string
	Seconds      int // how long it listens once the call is up (default 5)
	TimeoutSecs  int // for the whole run (default 60)
	ChromiumPath string
}

// BrowserResult is what the page reports.
type BrowserResult struct {
	Registered       bool     `json:"registered"`
	Established      bool     `json:"established"`
	PeakRMS          float64  `json:"peakRMS"`
	TotalAudioEnergy float64  `json:"totalAudioEnergy"`
	PacketsReceived  int      `json:"packetsReceived"`
	PacketsSent      int      `json:"packetsSent"`
	DTLSState        string   `json:"dtlsState"`
	Codec            string   `json:"codec"`
	Error            string   `json:"error"`
	Log              []string `json:"log"`
}

// npmDir is this package's npm directory (package.json, node_modules).
func npmDir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "npm")
}

// defaultChromium is Debian's chromium.
const defaultChromium = "/usr/bin/chromium"

// RequireBrowser skips the test unless Debian's chromium, node and the npm
// packages (scripts/setup.sh installs them) are there: call it before
// starting anything the skip would leave behind.
func RequireBrowser(t testing.TB) {
	t.Helper()
	requireBrowser(t, defaultChromium)
}

// requireBrowser skips the test when a tool is missing and returns node's
// path.
func requireBrowser(t testing.TB, chromium string) string {
	t.Helper()
	if _, err := os.Stat(chromium); err != nil {
		t.Skip("chromium is not installed (scripts/setup.sh)")
	}
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node is not installed")
	}
	for _, p := range []string{"node_modules/playwright-core", "node_modules/sip.js/lib/index.js"} {
		if _, err := os.Stat(filepath.Join(npmDir(), p)); err != nil {
			t.Skipf("npm packages missing (%s): run scripts/setup.sh", p)
		}
	}
	return node
}

// BrowserCall runs the page in a fresh chromium profile and returns its
// result. The test is skipped when chromium, node or the npm packages
// (scripts/setup.sh installs them) are missing.
func BrowserCall(t testing.TB, o BrowserCallOptions) BrowserResult {
	t.Helper()
	if o.ChromiumPath == "" {
		o.ChromiumPath = defaultChromium
	}
	node := requireBrowser(t, o.ChromiumPath)
	dir := npmDir()
	if o.Domain == "" {
		o.Domain = "127.0.0.1"
	}
	if o.Seconds == 0 {
		o.Seconds = 5
	}
	if o.TimeoutSecs == 0 {
		o.TimeoutSecs = 60
	}
	// The page and SIP.js over plain HTTP on loopback: a secure context
	// for getUserMedia (localhost is potentially trustworthy).
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		http.ServeFile(w, r, filepath.Join(dir, "webrtc", "page.html"))
	})
	mux.Handle("/sip.js/", http.StripPrefix("/sip.js/", http.FileServer(http.Dir(filepath.Join(dir, "node_modules", "sip.js")))))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()
	q := url.Values{"wss": {o.WSS}, "domain": {o.Domain}, "user": {o.User}, "pass": {o.Pass}, "target": {o.Target},
		"secs": {strconv.Itoa(o.Seconds)}}
	page := "http://" + ln.Addr().String() + "/?" + q.Encode()
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(o.TimeoutSecs+30)*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, filepath.Join(dir, "webrtc", "call.mjs"), page, t.TempDir(), strconv.Itoa(o.TimeoutSecs*1000))
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err = cmd.Run()
	var res BrowserResult
	if jerr := json.Unmarshal(bytes.TrimSpace(stdout.Bytes()), &res); jerr != nil {
		t.Fatalf("testpeer: browser: %v; stdout %q; stderr:\n%s", errors.Join(err, jerr), stdout.String(), tail(stderr.String(), 4000))
	}
	if res.Error != "" || t.Failed() {
		t.Logf("testpeer: browser console:\n%s", tail(stderr.String(), 4000))
	}
	return res
}
