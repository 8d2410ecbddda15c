package link_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/entvoice/entvoice/internal/cluster/clustertest"
	"github.com/entvoice/entvoice/internal/cluster/hub"
	"github.com/entvoice/entvoice/internal/cluster/link"
	"github.com/entvoice/entvoice/internal/cluster/pki"
	"github.com/entvoice/entvoice/internal/control"
	"github.com/entvoice/entvoice/internal/store"
	"github.com/entvoice/entvoice/internal/store/storetest"
)

// storeCert replaces the node's certificate in dataDir by one the CA
// signs from tmpl for key.
func storeCert(t *testing.T, ca *pki.CA, dataDir string, tmpl *x509.Certificate, key *ecdsa.PrivateKey) *x509.Certificate {
	t.Helper()
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, &key.PublicKey, ca.Key)
	if err != nil {
		t.Fatal(err)
	}
	if err := pki.WriteKey(filepath.Join(pki.Dir(dataDir), "node.key"), key); err != nil {
		t.Fatal(err)
	}
	if err := pki.WriteCert(filepath.Join(pki.Dir(dataDir), "node.crt"), der); err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestExpiredNodeCertificate: a node certificate of the right CA, enrolled
// serial, but past its NotAfter, is refused in the handshake and logged.
func TestExpiredNodeCertificate(t *testing.T) {
	th := clustertest.StartHub(t, store.Options{DataDir: t.TempDir()}, hub.Options{})
	dir := th.Enrol(t, "site-a")
	// Replace the node's certificate by an expired one for the same name
	// and serial, signed by the cluster CA.
	cur, err := pki.ReadCert(filepath.Join(pki.Dir(dir), "node.crt"))
	if err != nil {
		t.Fatal(err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	storeCert(t, th.CA, dir, &x509.Certificate{
		SerialNumber: cur.SerialNumber, Subject: pkix.Name{CommonName: "site-a"},
		NotBefore: time.Now().Add(-48 * time.Hour), NotAfter: time.Now().Add(-24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}, key)
	if err := linkErr(t, dir, ""); err == nil {
		t.Fatal("an expired node certificate was accepted")
	}
	waitFor(t, "the hub's log of the expired certificate", func() bool {
		return th.Log.Has("client certificate not valid for this cluster") && th.Log.Has("expired")
	})
	if th.Log.Has("node linked") {
		t.Fatal("the expired node was linked")
	}
}

// copyIdentity copies a node's cluster files to a fresh data dir.
func copyIdentity(t *testing.T, from string) string {
	t.Helper()
	to := t.TempDir()
	for _, f := range []string{"node.key", "node.crt", "ca.crt", "central.url"} {
		b, err := os.ReadFile(filepath.Join(pki.Dir(from), f))
		if err != nil {
			t.Fatal(err)
		}
		if err := pki.WriteFileAtomic(filepath.Join(pki.Dir(to), f), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return to
}

// TestCertificateRenewal: a node whose certificate has less than a third
// of its lifetime left renews it over the live link: central signs a
// 5-year certificate for a fresh key, the node stores it and acks, central
// switches the node's serial, the live link carries on, the next
// connection uses the new certificate and the old one is refused. A
// renewal whose ack never came (the node staged the files and crashed) is
// finished by the node at its next start and confirmed by central when
// the new certificate is first used. RenewBefore renews on demand.
func TestCertificateRenewal(t *testing.T) {
	th := clustertest.StartHub(t, storetest.PostgresOptionsOrSQLite(t), hub.Options{})
	ctx := context.Background()
	dir := th.Enrol(t, "site-a")
	reg := th.Registry()
	node := func() control.NodeInfo {
		t.Helper()
		n, err := reg.Node(ctx, "site-a")
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	setSerial := func(c *x509.Certificate, column string) {
		t.Helper()
		q := `UPDATE nodes SET serial = ?, fingerprint = ? WHERE name = ?`
		if column == "next" {
			q = `UPDATE nodes SET next_serial = ?, next_fingerprint = ? WHERE name = ?`
		}
		if _, err := th.Store.DB().ExecContext(ctx, th.Store.Rebind(q), pki.SerialHex(c), pki.CertFingerprint(c), "site-a"); err != nil {
			t.Fatal(err)
		}
	}

	// The node's certificate, for its key, now has 30 minutes left of
	// 2.5 hours (less than a third); central knows it as the node's.
	key, err := pki.ReadKey(filepath.Join(pki.Dir(dir), "node.key"))
	if err != nil {
		t.Fatal(err)
	}
	short := storeCert(t, th.CA, dir, &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: "site-a"},
		NotBefore: time.Now().Add(-2 * time.Hour), NotAfter: time.Now().Add(30 * time.Minute),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}, key.(*ecdsa.PrivateKey))
	setSerial(short, "current")
	oldDir := copyIdentity(t, dir)

	l := clustertest.StartLink(t, dir, link.Options{})
	waitFor(t, "the renewed certificate switched in at central", func() bool {
		n := node()
		return n.Serial != pki.SerialHex(short) && n.NextSerial == ""
	})
	renewed := node().Serial
	id, err := pki.LoadIdentity(dir, "")
	if err != nil {
		t.Fatal(err)
	}
	if got := pki.SerialHex(id.Cert.Leaf); got != renewed {
		t.Fatalf("the node stored serial %s, central holds %s", got, renewed)
	}
	if left := time.Until(id.Cert.Leaf.NotAfter); left < 4*365*24*time.Hour || id.Cert.Leaf.Subject.CommonName != "site-a" {
		t.Fatalf("renewed certificate: CN %q, %s left", id.Cert.Leaf.Subject.CommonName, left)
	}
	if pki.SameKey(id.Cert.Leaf.PublicKey, key.Public()) {
		t.Fatal("the renewed certificate kept the old key")
	}
	for _, f := range []string{"node.key.next", "node.crt.next"} {
		if _, err := os.Stat(filepath.Join(pki.Dir(dir), f)); !os.IsNotExist(err) {
			t.Fatalf("%s left behind: %v", f, err)
		}
	}
	// The live link is not cut by the switch (it was authorized with the
	// old serial): three heartbeats later it is still up.
	time.Sleep(3 * clustertest.Heartbeat)
	if !l.Connected() || th.Log.Has("certificate revoked or superseded") {
		t.Fatal("the link was cut after the renewal")
	}
	l.Close()

	// The old certificate is refused; the next connection with the new
	// one is accepted (and does not renew again).
	if err := linkErr(t, oldDir, ""); status.Code(err) != codes.PermissionDenied || !strings.Contains(err.Error(), "superseded") {
		t.Fatalf("link with the old certificate = %v", err)
	}
	l = clustertest.StartLink(t, dir, link.Options{})
	waitFor(t, "the link with the renewed certificate", l.Connected)
	l.Close()
	if got := node().Serial; got != renewed {
		t.Fatalf("a node with a fresh certificate renewed it again (%s -> %s)", renewed, got)
	}

	// A renewal central signed and the node staged but never acked (it
	// crashed between its two renames): the node finishes it when it
	// loads its identity, and central takes the new certificate at its
	// first use.
	prevDir := copyIdentity(t, dir)
	key2, csr, err := pki.NewKeyCSR("evil")
	if err != nil {
		t.Fatal(err)
	}
	c2, err := th.CA.SignCSR(csr, "site-a")
	if err != nil {
		t.Fatal(err)
	}
	setSerial(c2, "next")
	if err := pki.WriteKey(filepath.Join(pki.Dir(dir), "node.key"), key2); err != nil { // the first rename done
		t.Fatal(err)
	}
	if err := pki.WriteCert(filepath.Join(pki.Dir(dir), "node.crt.next"), c2.Raw); err != nil {
		t.Fatal(err)
	}
	// Until then the current certificate still works.
	l = clustertest.StartLink(t, prevDir, link.Options{})
	waitFor(t, "the link with the current certificate while a renewal is pending", l.Connected)
	l.Close()
	l = clustertest.StartLink(t, dir, link.Options{})
	waitFor(t, "the link with the staged certificate", l.Connected)
	if n := node(); n.Serial != pki.SerialHex(c2) || n.NextSerial != "" {
		t.Fatalf("after the first use of the staged certificate central holds %s (next %q), want %s", n.Serial, n.NextSerial, pki.SerialHex(c2))
	}
	if !th.Log.Has("confirmed by its first use") {
		t.Fatal("no log of the switch at first use")
	}
	l.Close()
	if err := linkErr(t, prevDir, ""); status.Code(err) != codes.PermissionDenied || !strings.Contains(err.Error(), "superseded") {
		t.Fatalf("link with the certificate before the staged one = %v", err)
	}

	// RenewBefore longer than the lifetime renews on demand.
	clustertest.StartLink(t, dir, link.Options{RenewBefore: 10 * 365 * 24 * time.Hour})
	waitFor(t, "the renewal on demand", func() bool {
		n := node()
		return n.Serial != pki.SerialHex(c2) && n.NextSerial == ""
	})
}
