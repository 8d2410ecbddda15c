package api

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/entvoice/entvoice/internal/acl"
	"github.com/entvoice/entvoice/internal/provision"
	"github.com/entvoice/entvoice/internal/store"
	"github.com/entvoice/entvoice/internal/store/storetest"
	"github.com/entvoice/entvoice/internal/tlsconf"
)

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestAPISecurityEdge: the API over HTTPS (a self-signed certificate made
// on first start) sends HSTS; the bans SIP and AMI share are listed, added
// and lifted by an admin; every change lands in the audit log with who,
// what and from where, and no token value is ever written, to the audit
// log or the log; bad tokens from one address ban it after
// max_auth_failures, and then even a good token from it is refused.
func TestAPISecurityEdge(t *testing.T) {
	st := storetest.Open(t, store.Options{DataDir: t.TempDir()})
	repo, err := provision.New(context.Background(), st, provision.Options{KnownApp: knownApp})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	src, err := tlsconf.Load(tlsconf.Options{Dir: dir, Name: "http", Hosts: []string{"127.0.0.1"}})
	if err != nil {
		t.Fatal(err)
	}
	var logs lockedBuffer
	log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	bans := acl.NewBanList(acl.BanListOptions{})
	auditPath := filepath.Join(dir, "audit.log")
	const admin = "evt_admin-token-for-the-test-0123456789"
	srv, err := Start(context.Background(), Options{Store: st, Provision: repo, Logger: log,
		Guard: acl.NewGuard(acl.GuardOptions{Service: "API", Bans: bans, MaxAuthFailures: 3, BanTime: time.Minute}),
		Audit: NewAudit(auditPath, log), TLS: src.ServerConfig(), HSTS: 24 * time.Hour},
		"127.0.0.1:0", func(k string) string {
			if k == EnvAdminToken {
				return admin
			}
			return ""
		}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown(context.Background())
	roots := x509.NewCertPool()
	pem, _ := os.ReadFile(filepath.Join(dir, "http.crt"))
	roots.AppendCertsFromPEM(pem)
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}}
	defer client.CloseIdleConnections()
	base := "https://" + srv.Addr().String() + Prefix
	call := func(method, path, token string, body any) (int, http.Header, []byte) {
		t.Helper()
		var rd io.Reader
		if body != nil {
			b, _ := json.Marshal(body)
			rd = bytes.NewReader(b)
		}
		req, _ := http.NewRequest(method, base+path, rd)
		req.Header.Set("Authorization", "Bearer "+token)
		if body != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		res, err := client.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, res.Header, b
	}
	code, hdr, _ := call("GET", "/tenants", admin, nil)
	if code != 200 || hdr.Get("Strict-Transport-Security") != "max-age=86400" {
		t.Fatalf("GET over HTTPS: %d, HSTS %q", code, hdr.Get("Strict-Transport-Security"))
	}
	if code, _, _ := call("POST", "/tenants", admin, map[string]any{"id": "acme", "domain": "acme.example"}); code != 201 {
		t.Fatalf("create tenant: %d", code)
	}
	// Bans by hand, as SIP and AMI would make them.
	bans.Ban(mustAddr("198.51.100.9"), "SIP", "flood", time.Hour)
	bans.Counter("sip.dropped_rate").Add(7)
	var state SecurityState
	code, _, body := call("GET", "/security", admin, nil)
	if code != 200 || json.Unmarshal(body, &state) != nil || len(state.Bans) != 1 || state.Bans[0].Service != "SIP" || state.Counters["sip.dropped_rate"] != 7 {
		t.Fatalf("GET /security: %d %s", code, body)
	}
	if code, _, body := call("POST", "/security/bans", admin, map[string]any{"address": "203.0.113.4", "reason": "scanner", "seconds": 60}); code != 201 || !strings.Contains(string(body), `"service":"operator"`) {
		t.Fatalf("add ban: %d %s", code, body)
	}
	if code, _, _ := call("POST", "/security/bans", admin, map[string]any{"address": "not-an-ip"}); code != 400 {
		t.Errorf("ban of a non-address: %d", code)
	}
	if code, _, _ := call("DELETE", "/security/bans/198.51.100.9", admin, nil); code != 204 || bans.Banned(mustAddr("198.51.100.9")) {
		t.Fatalf("lift ban: %d", code)
	}
	if code, _, _ := call("DELETE", "/security/bans/198.51.100.9", admin, nil); code != 404 {
		t.Errorf("lift a ban twice: %d", code)
	}
	if code, _, _ := call("DELETE", "/security/counters", admin, nil); code != 204 || bans.Counters()["sip.dropped_rate"] != 0 {
		t.Errorf("reset counters: %d", code)
	}
	// The audit log: every change, and only changes.
	var audit list[AuditRecord]
	code, _, body = call("GET", "/audit", admin, nil)
	if code != 200 || json.Unmarshal(body, &audit) != nil {
		t.Fatalf("GET /audit: %d %s", code, body)
	}
	var seen []string
	for _, r := range audit.Items {
		seen = append(seen, r.Method+" "+r.Path+" "+itoa(r.Status))
		if r.TokenID == "" || !strings.HasPrefix(r.Remote, "127.0.0.1:") {
			t.Errorf("audit record without who or where: %+v", r)
		}
	}
	want := []string{"POST /api/v1/tenants 201", "POST /api/v1/security/bans 201", "POST /api/v1/security/bans 400",
		"DELETE /api/v1/security/bans/198.51.100.9 204", "DELETE /api/v1/security/bans/198.51.100.9 404", "DELETE /api/v1/security/counters 204"}
	if strings.Join(seen, "|") != strings.Join(want, "|") {
		t.Errorf("audit:\n got %v\nwant %v", seen, want)
	}
	// Brute force: three bad tokens ban the address.
	for i := range 3 {
		if code, _, _ := call("GET", "/tenants", "evt_guess-"+itoa(i), nil); code != 401 {
			t.Fatalf("bad token %d: %d", i, code)
		}
	}
	if code, _, body := call("GET", "/tenants", admin, nil); code != 403 || !strings.Contains(string(body), "banned") {
		t.Fatalf("after 3 bad tokens: %d %s", code, body)
	}
	if l := bans.List(); len(l) != 2 || l[1].Service != "API" || l[1].Addr.String() != "127.0.0.1" {
		t.Fatalf("bans %+v", l)
	}
	fileBytes, _ := os.ReadFile(auditPath)
	for _, where := range []string{logs.String(), string(fileBytes)} {
		if strings.Contains(where, admin) || strings.Contains(where, "evt_guess") {
			t.Fatal("a token value was written")
		}
	}
	if !strings.Contains(logs.String(), "SecurityEvent=InvalidAccountID") || !strings.Contains(logs.String(), "Service=API") {
		t.Errorf("no security event for the bad tokens:\n%s", logs.String())
	}
}

func mustAddr(s string) netip.Addr { return netip.MustParseAddr(s) }

func itoa(i int) string { return strconv.Itoa(i) }
