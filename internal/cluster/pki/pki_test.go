package pki

import (
	"crypto/ecdsa"
	"crypto/x509"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestTokenFormat(t *testing.T) {
	tok, err := NewToken([32]byte{1, 2, 3})
	if err != nil {
		t.Fatal(err)
	}
	back, err := ParseToken(tok.String())
	if err != nil || back != tok {
		t.Fatalf("round trip: %v %+v != %+v", err, back, tok)
	}
	if !TokenMatches(tok.Hash(), tok.ID, tok.Secret) || TokenMatches(tok.Hash(), tok.ID, tok.Secret+"x") {
		t.Fatal("TokenMatches does not tell the token's secret from another")
	}
	for _, bad := range []string{"", "evn1", "evn2." + strings.TrimPrefix(tok.String(), "evn1."), tok.String() + "x", "evn1.zz.aa.bb"} {
		if _, err := ParseToken(bad); !errors.Is(err, ErrBadToken) {
			t.Errorf("ParseToken(%q) = %v, want ErrBadToken", bad, err)
		}
	}
}

func TestCAPersistsAndOperatorCA(t *testing.T) {
	dir := t.TempDir()
	a, err := LoadOrCreateCA("", "", dir)
	if err != nil {
		t.Fatal(err)
	}
	b, err := LoadOrCreateCA("", "", dir)
	if err != nil {
		t.Fatal(err)
	}
	if a.Fingerprint() != b.Fingerprint() {
		t.Fatal("the CA changed between starts")
	}
	if fi, err := os.Stat(filepath.Join(dir, "ca.key")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("ca.key mode: %v %v", fi, err)
	}
	// The operator's CA, given as files.
	c, err := LoadOrCreateCA(filepath.Join(dir, "ca.crt"), filepath.Join(dir, "ca.key"), t.TempDir())
	if err != nil || c.Fingerprint() != a.Fingerprint() {
		t.Fatalf("operator CA: %v", err)
	}
	other := t.TempDir()
	if _, err := LoadOrCreateCA("", "", other); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadOrCreateCA(filepath.Join(dir, "ca.crt"), filepath.Join(other, "ca.key"), t.TempDir()); err == nil {
		t.Fatal("a CA certificate with another CA's key was accepted")
	}
}

// signed is a fresh key and site-a's certificate for it.
func signed(t *testing.T, ca *CA) (*ecdsa.PrivateKey, *x509.Certificate) {
	t.Helper()
	key, csr, err := NewKeyCSR("anything")
	if err != nil {
		t.Fatal(err)
	}
	c, err := ca.SignCSR(csr, "site-a")
	if err != nil {
		t.Fatal(err)
	}
	return key, c
}

// enrolled stores an identity signed by a fresh CA in a fresh data dir.
func enrolled(t *testing.T) (dataDir string, ca *CA) {
	t.Helper()
	ca, err := LoadOrCreateCA("", "", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	dataDir = t.TempDir()
	key, c := signed(t, ca)
	if err := SaveEnrolment(dataDir, "https://127.0.0.1:7443", key, c.Raw, ca.Cert.Raw); err != nil {
		t.Fatal(err)
	}
	return dataDir, ca
}

func serialOf(t *testing.T, dataDir string) string {
	t.Helper()
	id, err := LoadIdentity(dataDir, "")
	if err != nil {
		t.Fatal(err)
	}
	return SerialHex(id.Cert.Leaf)
}

// TestRenewalSurvivesCrashes: a renewal staged with StageRenewal replaces
// the identity; one cut short by a crash leaves a working identity: the
// old pair before node.crt.next exists, the new pair once it does.
func TestRenewalSurvivesCrashes(t *testing.T) {
	dataDir, ca := enrolled(t)
	id, err := LoadIdentity(dataDir, "")
	if err != nil || id.Name != "site-a" || id.Central != "https://127.0.0.1:7443" {
		t.Fatalf("identity: %+v, %v", id, err)
	}
	if _, err := id.Cert.Leaf.Verify(x509.VerifyOptions{Roots: id.CA, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Fatalf("the stored certificate does not chain to the stored CA: %v", err)
	}
	first := serialOf(t, dataDir)
	renewed := func() *x509.Certificate {
		key, c := signed(t, ca)
		if err := StageRenewal(dataDir, key, c.Raw); err != nil {
			t.Fatal(err)
		}
		return c
	}
	c := renewed()
	if got := serialOf(t, dataDir); got != SerialHex(c) || got == first {
		t.Fatalf("after a renewal the node holds %s, want %s", got, SerialHex(c))
	}
	dir := Dir(dataDir)
	// A crash while staging the key: node.key.next alone is dropped.
	if err := os.WriteFile(filepath.Join(dir, nodeKeyNext), []byte("half a key"), 0o600); err != nil {
		t.Fatal(err)
	}
	if got := serialOf(t, dataDir); got != SerialHex(c) {
		t.Fatalf("a half-staged key changed the identity to %s", got)
	}
	if _, err := os.Stat(filepath.Join(dir, nodeKeyNext)); !os.IsNotExist(err) {
		t.Fatalf("node.key.next left behind: %v", err)
	}
	// A crash after the key's rename, before the certificate's: the next
	// load finishes it.
	c2 := renewed()
	if err := os.Rename(filepath.Join(dir, nodeCertFile), filepath.Join(dir, nodeCertNext)); err != nil {
		t.Fatal(err)
	}
	if err := WriteCert(filepath.Join(dir, nodeCertFile), c.Raw); err != nil { // the old certificate, the new key
		t.Fatal(err)
	}
	if got := serialOf(t, dataDir); got != SerialHex(c2) {
		t.Fatalf("a renewal cut between its renames: the node holds %s, want %s", got, SerialHex(c2))
	}
}
