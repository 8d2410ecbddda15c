package e2e

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/entvoice/entvoice/internal/testpeer"
)

// testCA issues certificates for the client-verification tests.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  []byte
}

func newTestCA(t *testing.T) *testCA {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"}, IsCA: true,
		BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	return &testCA{cert: c, key: key, pem: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
}

// issue makes a client certificate named name, valid from..until, signed
// by the CA (or self-signed when ca is nil).
func (ca *testCA) issue(t *testing.T, name string, from, until time.Time) tls.Certificate {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: name},
		DNSNames: []string{name}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		KeyUsage: x509.KeyUsageDigitalSignature, NotBefore: from, NotAfter: until}
	parent, signer := tmpl, any(key)
	if ca != nil {
		parent, signer = ca.cert, ca.key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, signer)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// TestTLSClientVerification: a trunk with tls_verify takes calls only
// over TLS with a client certificate from sip.tls_ca naming it; a
// connection without one is refused the call (403), and expired,
// untrusted or TLS 1.1 handshakes fail, the node serving on.
func TestTLSClientVerification(t *testing.T) {
	ca := newTestCA(t)
	dir := t.TempDir()
	caFile := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(caFile, ca.pem, 0o644); err != nil {
		t.Fatal(err)
	}
	tlsPort := testpeer.FreePorts(t, 1)[0]
	n := startNode(t, nodeSpec{yaml: `trunks:
  - {name: carrier, match: ["127.0.0.8/32"], context: from-trunk, tls_verify: true, tls_name: carrier.example}
`, dialplan: checkPlan, sip: fmt.Sprintf("tls_ca: %s\n  tls_verify_client: optional", caFile),
		listen: []string{fmt.Sprintf("tls:127.0.0.1:%d", tlsPort)}})
	nodeCert, err := os.ReadFile(filepath.Join(n.DataDir, "tls", "sip.crt"))
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(nodeCert)
	dial := func(cert *tls.Certificate, version uint16) (*tls.Conn, error) {
		cfg := &tls.Config{RootCAs: roots, ServerName: "127.0.0.1", MinVersion: version, MaxVersion: version}
		if version == 0 {
			cfg.MinVersion, cfg.MaxVersion = tls.VersionTLS12, 0
		}
		if cert != nil {
			cfg.Certificates = []tls.Certificate{*cert}
		}
		d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 8)}, Timeout: 3 * time.Second}
		c, err := tls.DialWithDialer(d, "tcp", fmt.Sprintf("127.0.0.1:%d", tlsPort), cfg)
		if err != nil {
			return nil, err
		}
		// TLS 1.3 reports a refused client certificate on the first read.
		_ = c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
		if _, err := c.Read(make([]byte, 1)); err != nil && !isTimeout(err) {
			c.Close()
			return nil, err
		}
		_ = c.SetReadDeadline(time.Time{})
		return c, nil
	}
	invite := func(c *tls.Conn) int {
		la := c.LocalAddr().String()
		id := time.Now().UnixNano()
		msg := fmt.Sprintf("INVITE sip:999@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/TLS %s;branch=z9hG4bK-tv-%d\r\nMax-Forwards: 70\r\n"+
			"From: <sip:carrier@carrier.example>;tag=%d\r\nTo: <sip:999@127.0.0.1>\r\nCall-ID: tv-%d\r\nCSeq: 1 INVITE\r\n"+
			"Contact: <sip:carrier@%s;transport=tls>\r\nContent-Length: 0\r\n\r\n", la, id, id, id, la)
		if _, err := c.Write([]byte(msg)); err != nil {
			t.Fatal(err)
		}
		_ = c.SetReadDeadline(time.Now().Add(3 * time.Second))
		r := bufio.NewReader(c)
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				t.Fatalf("no answer over TLS: %v", err)
			}
			if code := statusOf(line); code >= 200 {
				return code
			}
		}
	}
	good := ca.issue(t, "carrier.example", time.Now().Add(-time.Hour), time.Now().Add(time.Hour))
	c, err := dial(&good, 0)
	if err != nil {
		t.Fatalf("a valid client certificate: %v", err)
	}
	// 404: identified as the trunk (its context has no 999).
	if code := invite(c); code != 404 {
		t.Errorf("INVITE with a verified certificate: %d, want 404 from the trunk's context", code)
	}
	c.Close()
	c, err = dial(nil, 0)
	if err != nil {
		t.Fatalf("no client certificate (optional): %v", err)
	}
	if code := invite(c); code != 403 {
		t.Errorf("INVITE without a client certificate: %d, want 403", code)
	}
	c.Close()
	other := ca.issue(t, "someone.example", time.Now().Add(-time.Hour), time.Now().Add(time.Hour))
	if c, err = dial(&other, 0); err != nil {
		t.Fatal(err)
	}
	if code := invite(c); code != 403 {
		t.Errorf("INVITE with another name's certificate: %d, want 403", code)
	}
	c.Close()
	expired := ca.issue(t, "carrier.example", time.Now().Add(-48*time.Hour), time.Now().Add(-24*time.Hour))
	if c, err := dial(&expired, 0); err == nil {
		c.Close()
		t.Error("an expired client certificate was accepted")
	}
	// An untrusted certificate: Go's client does not even send one the
	// server's CA list does not name; either way the trunk is refused.
	untrusted := (*testCA)(nil).issue(t, "carrier.example", time.Now().Add(-time.Hour), time.Now().Add(time.Hour))
	if c, err := dial(&untrusted, 0); err == nil {
		if code := invite(c); code != 403 {
			t.Errorf("INVITE with an untrusted certificate: %d, want 403", code)
		}
		c.Close()
	}
	if c, err := dial(&good, tls.VersionTLS11); err == nil || !strings.Contains(err.Error(), "version") {
		if c != nil {
			c.Close()
		}
		t.Errorf("TLS 1.1: %v, want a protocol version failure", err)
	}
	// The node serves on.
	if c, err = dial(&good, 0); err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if code := invite(c); code != 404 {
		t.Errorf("after the failures: %d", code)
	}
}

func isTimeout(err error) bool {
	ne, ok := err.(net.Error)
	return ok && ne.Timeout()
}
