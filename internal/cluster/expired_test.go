package cluster

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"path/filepath"
	"testing"
	"time"

	"github.com/entvoice/entvoice/internal/store"
)

// TestExpiredNodeCertificate: a node certificate of the right CA, enrolled
// serial, but past its NotAfter, is refused in the handshake and logged.
func TestExpiredNodeCertificate(t *testing.T) {
	th := startTestHub(t, store.Options{DataDir: t.TempDir()})
	ctx := context.Background()
	dir := t.TempDir()
	if _, err := Join(ctx, dir, th.url, th.token(t, "site-a", "127.0.0.0/8", time.Hour), ""); err != nil {
		t.Fatal(err)
	}
	// Replace the node's certificate by an expired one for the same name
	// and serial, signed by the cluster CA.
	cur, err := readCert(filepath.Join(ClusterDir(dir), nodeCertFile))
	if err != nil {
		t.Fatal(err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: cur.SerialNumber, Subject: pkix.Name{CommonName: "site-a"},
		NotBefore: time.Now().Add(-48 * time.Hour), NotAfter: time.Now().Add(-24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, th.ca.Cert, &key.PublicKey, th.ca.Key)
	if err != nil {
		t.Fatal(err)
	}
	if err := writeKey(filepath.Join(ClusterDir(dir), nodeKeyFile), key); err != nil {
		t.Fatal(err)
	}
	if err := writePEM(filepath.Join(ClusterDir(dir), nodeCertFile), "CERTIFICATE", der, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := linkErr(t, dir, ""); err == nil {
		t.Fatal("an expired node certificate was accepted")
	}
	waitFor(t, "the hub's log of the expired certificate", func() bool {
		return th.log.has("client certificate not valid for this cluster") && th.log.has("expired")
	})
	if th.log.has("node linked") {
		t.Fatal("the expired node was linked")
	}
}
