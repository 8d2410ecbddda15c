package tlsconf

import (
	"crypto/tls"
	"crypto/x509"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// TestSelfSignedThenReload: a first start makes a pair, a second keeps
// it; pointing at files, a renewal is served at the next handshake after
// CheckEvery, and a broken renewal keeps the previous certificate.
func TestSelfSignedThenReload(t *testing.T) {
	dir := t.TempDir()
	clk := &clock{t: time.Now()}
	s, err := Load(Options{Dir: dir, Name: "sip", Hosts: []string{"192.0.2.1", "pbx.example", "0.0.0.0"}, Clock: clk.now})
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(s.Certificate().Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	if err := leaf.VerifyHostname("pbx.example"); err != nil {
		t.Error(err)
	}
	if err := leaf.VerifyHostname("192.0.2.1"); err != nil {
		t.Error(err)
	}
	if fi, _ := os.Stat(filepath.Join(dir, "sip.key")); fi.Mode().Perm() != 0o600 {
		t.Errorf("key file mode %v", fi.Mode().Perm())
	}
	again, err := Load(Options{Dir: dir, Name: "sip", Clock: clk.now})
	if err != nil {
		t.Fatal(err)
	}
	if string(again.Certificate().Certificate[0]) != string(s.Certificate().Certificate[0]) {
		t.Error("second start made a new certificate")
	}

	// Configured files: copy the pair, then renew it.
	cert, key := filepath.Join(dir, "c.pem"), filepath.Join(dir, "k.pem")
	copyFile(t, filepath.Join(dir, "sip.crt"), cert)
	copyFile(t, filepath.Join(dir, "sip.key"), key)
	f, err := Load(Options{CertFile: cert, KeyFile: key, Clock: clk.now})
	if err != nil {
		t.Fatal(err)
	}
	first := f.Certificate()
	other := t.TempDir()
	if _, err := Load(Options{Dir: other, Name: "x", Clock: clk.now}); err != nil {
		t.Fatal(err)
	}
	copyFile(t, filepath.Join(other, "x.key"), key)
	copyFile(t, filepath.Join(other, "x.crt"), cert)
	if f.Certificate() != first {
		t.Error("reloaded before CheckEvery passed")
	}
	clk.add(2 * time.Second)
	renewed := f.Certificate()
	if renewed == first {
		t.Fatal("renewed files not taken")
	}
	// A broken change keeps the renewed certificate.
	if err := os.WriteFile(cert, []byte("garbage"), 0o644); err != nil {
		t.Fatal(err)
	}
	clk.add(2 * time.Second)
	if f.Certificate() != renewed {
		t.Error("a broken certificate file replaced the working one")
	}
	// The config serves it and refuses TLS 1.1.
	cfg := f.ServerConfig()
	if cfg.MinVersion != tls.VersionTLS12 {
		t.Error("TLS below 1.2 allowed")
	}
	if _, err := Load(Options{CertFile: cert, KeyFile: key}); err == nil {
		t.Error("a garbage certificate loaded")
	}
	if _, err := Load(Options{CertFile: cert}); err == nil {
		t.Error("a certificate without key accepted")
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to+".tmp", b, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(to+".tmp", to); err != nil {
		t.Fatal(err)
	}
}
