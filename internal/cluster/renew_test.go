package cluster

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/status"

	"github.com/entvoice/entvoice/internal/store/storetest"
)

// copyIdentity copies a node's cluster files to a fresh data dir.
func copyIdentity(t *testing.T, from string) string {
	t.Helper()
	to := t.TempDir()
	for _, f := range []string{nodeKeyFile, nodeCertFile, nodeCAFile, centralURLFile} {
		b, err := os.ReadFile(filepath.Join(ClusterDir(from), f))
		if err != nil {
			t.Fatal(err)
		}
		if err := writeFileAtomic(filepath.Join(ClusterDir(to), f), b, 0o600); err != nil {
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
	th := startTestHubOn(t, storetest.Open(t, storetest.PostgresOptionsOrSQLite(t)), nil)
	ctx := context.Background()
	dir := t.TempDir()
	if _, err := Join(ctx, dir, th.url, th.token(t, "site-a", "127.0.0.0/8", time.Hour), ""); err != nil {
		t.Fatal(err)
	}
	reg := th.hub.Registry()
	serial := func() NodeInfo {
		t.Helper()
		n, err := reg.Node(ctx, "site-a")
		if err != nil {
			t.Fatal(err)
		}
		return n
	}

	// The node's certificate, for its key, now has 30 minutes left of
	// 2.5 hours (less than a third); central knows it as the node's.
	key, err := readKey(filepath.Join(ClusterDir(dir), nodeKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: randomSerial(), Subject: pkix.Name{CommonName: "site-a"},
		NotBefore: time.Now().Add(-2 * time.Hour), NotAfter: time.Now().Add(30 * time.Minute),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, th.ca.Cert, key.Public(), th.ca.Key)
	if err != nil {
		t.Fatal(err)
	}
	short, _ := x509.ParseCertificate(der)
	if err := writePEM(filepath.Join(ClusterDir(dir), nodeCertFile), "CERTIFICATE", der, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := th.st.DB().ExecContext(ctx, th.st.Rebind(`UPDATE nodes SET serial = ?, fingerprint = ? WHERE name = ?`),
		SerialHex(short), CertFingerprint(short), "site-a"); err != nil {
		t.Fatal(err)
	}
	oldDir := copyIdentity(t, dir)

	l, err := NewLink(LinkOptions{DataDir: dir, Heartbeat: 200 * time.Millisecond, Logger: storetest.Logger(t)})
	if err != nil {
		t.Fatal(err)
	}
	l.Start(ctx)
	waitFor(t, "the renewed certificate switched in at central", func() bool {
		n := serial()
		return n.Serial != SerialHex(short) && n.NextSerial == ""
	})
	renewed := serial().Serial
	id, err := loadIdentity(dir, "")
	if err != nil {
		t.Fatal(err)
	}
	if got := SerialHex(id.cert.Leaf); got != renewed {
		t.Fatalf("the node stored serial %s, central holds %s", got, renewed)
	}
	if left := time.Until(id.cert.Leaf.NotAfter); left < 4*365*24*time.Hour || id.cert.Leaf.Subject.CommonName != "site-a" {
		t.Fatalf("renewed certificate: CN %q, %s left", id.cert.Leaf.Subject.CommonName, left)
	}
	if publicKeysEqual(id.cert.Leaf.PublicKey, key.Public()) {
		t.Fatal("the renewed certificate kept the old key")
	}
	for _, f := range []string{nodeKeyNext, nodeCertNext} {
		if _, err := os.Stat(filepath.Join(ClusterDir(dir), f)); !os.IsNotExist(err) {
			t.Fatalf("%s left behind: %v", f, err)
		}
	}
	// The live link is not cut by the switch (it was authorized with the
	// old serial): three heartbeats later it is still up.
	time.Sleep(600 * time.Millisecond)
	if !l.Connected() || th.log.has("certificate revoked or superseded") {
		t.Fatal("the link was cut after the renewal")
	}
	l.Close()

	// The old certificate is refused; the next connection with the new
	// one is accepted (and does not renew again).
	if err := linkErr(t, oldDir, ""); status.Code(err) != codes.PermissionDenied || !strings.Contains(err.Error(), "superseded") {
		t.Fatalf("link with the old certificate = %v", err)
	}
	l, err = NewLink(LinkOptions{DataDir: dir, Heartbeat: 200 * time.Millisecond, Logger: storetest.Logger(t)})
	if err != nil {
		t.Fatal(err)
	}
	l.Start(ctx)
	waitFor(t, "the link with the renewed certificate", l.Connected)
	l.Close()
	if got := serial().Serial; got != renewed {
		t.Fatalf("a node with a fresh certificate renewed it again (%s -> %s)", renewed, got)
	}

	// A renewal central signed and the node staged but never acked (it
	// crashed between its two renames): the node finishes it when it
	// loads its identity, and central takes the new certificate at its
	// first use.
	prevDir := copyIdentity(t, dir)
	key2, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	csr, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "evil"}}, key2)
	if err != nil {
		t.Fatal(err)
	}
	c2, err := th.ca.SignCSR(csr, "site-a")
	if err != nil {
		t.Fatal(err)
	}
	if err := reg.setNext(ctx, "site-a", renewed, SerialHex(c2), CertFingerprint(c2)); err != nil {
		t.Fatal(err)
	}
	if err := writeKey(filepath.Join(ClusterDir(dir), nodeKeyFile), key2); err != nil { // the first rename done
		t.Fatal(err)
	}
	if err := writePEM(filepath.Join(ClusterDir(dir), nodeCertNext), "CERTIFICATE", c2.Raw, 0o644); err != nil {
		t.Fatal(err)
	}
	// Until then the current certificate still works.
	l, err = NewLink(LinkOptions{DataDir: prevDir, Heartbeat: 200 * time.Millisecond, Logger: storetest.Logger(t)})
	if err != nil {
		t.Fatal(err)
	}
	l.Start(ctx)
	waitFor(t, "the link with the current certificate while a renewal is pending", l.Connected)
	l.Close()
	l, err = NewLink(LinkOptions{DataDir: dir, Heartbeat: 200 * time.Millisecond, Logger: storetest.Logger(t)})
	if err != nil {
		t.Fatal(err)
	}
	l.Start(ctx)
	waitFor(t, "the link with the staged certificate", l.Connected)
	if n := serial(); n.Serial != SerialHex(c2) || n.NextSerial != "" {
		t.Fatalf("after the first use of the staged certificate central holds %s (next %q), want %s", n.Serial, n.NextSerial, SerialHex(c2))
	}
	if !th.log.has("confirmed by its first use") {
		t.Fatal("no log of the switch at first use")
	}
	l.Close()
	if err := linkErr(t, prevDir, ""); status.Code(err) != codes.PermissionDenied || !strings.Contains(err.Error(), "superseded") {
		t.Fatalf("link with the certificate before the staged one = %v", err)
	}

	// RenewBefore longer than the lifetime renews on demand.
	l, err = NewLink(LinkOptions{DataDir: dir, Heartbeat: 200 * time.Millisecond, Logger: storetest.Logger(t), RenewBefore: 10 * 365 * 24 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	l.Start(ctx)
	defer l.Close()
	waitFor(t, "the renewal on demand", func() bool {
		n := serial()
		return n.Serial != SerialHex(c2) && n.NextSerial == ""
	})
}

// TestRenewalOnTheWire drives the hub's side with a raw link stream: the
// certificate is the node's name whatever the CSR asks, client auth only,
// 5 years; one renewal per connection; the serial switches on the ack.
func TestRenewalOnTheWire(t *testing.T) {
	th := startTestHub(t, storetest.PostgresOptionsOrSQLite(t))
	ctx := context.Background()
	dir := t.TempDir()
	if _, err := Join(ctx, dir, th.url, th.token(t, "site-a", "127.0.0.0/8", time.Hour), ""); err != nil {
		t.Fatal(err)
	}
	id, err := loadIdentity(dir, "")
	if err != nil {
		t.Fatal(err)
	}
	first := SerialHex(id.cert.Leaf)
	conn, err := grpc.NewClient("passthrough:///"+th.hub.Addr().String(),
		grpc.WithTransportCredentials(credentials.NewTLS(pinnedTLS(nil, id.ca, []tls.Certificate{id.cert}))))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := conn.NewStream(sctx, &linkStreamDesc, methodLink, grpc.ForceCodec(jsonCodec{}))
	if err != nil {
		t.Fatal(err)
	}
	if err := stream.SendMsg(&Up{Hello: &Hello{Protocol: protoVersion}}); err != nil {
		t.Fatal(err)
	}
	renewal := func() *Renewal {
		t.Helper()
		for {
			var d Down
			if err := stream.RecvMsg(&d); err != nil {
				t.Fatal(err)
			}
			if d.Renewal != nil {
				return d.Renewal
			}
		}
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	csr, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "site-b"}, DNSNames: []string{"site-b"}}, key)
	if err != nil {
		t.Fatal(err)
	}
	if err := stream.SendMsg(&Up{Renew: &RenewRequest{CSR: csr}}); err != nil {
		t.Fatal(err)
	}
	r := renewal()
	c, err := x509.ParseCertificate(r.Cert)
	if err != nil {
		t.Fatalf("renewal %+v: %v", r, err)
	}
	if c.Subject.CommonName != "site-a" || len(c.DNSNames) != 1 || c.DNSNames[0] != "site-a" ||
		len(c.ExtKeyUsage) != 1 || c.ExtKeyUsage[0] != x509.ExtKeyUsageClientAuth || time.Until(c.NotAfter) < 4*365*24*time.Hour {
		t.Fatalf("renewed certificate: CN %q, DNS %v, EKU %v, not after %s", c.Subject.CommonName, c.DNSNames, c.ExtKeyUsage, c.NotAfter)
	}
	if err := stream.SendMsg(&Up{Renew: &RenewRequest{CSR: csr}}); err != nil {
		t.Fatal(err)
	}
	if r := renewal(); r.Cert != nil || !strings.Contains(r.Err, "one certificate renewal per connection") {
		t.Fatalf("a second renewal on one connection: %+v", r)
	}
	n, err := th.hub.Registry().Node(ctx, "site-a")
	if err != nil || n.Serial != first || n.NextSerial != SerialHex(c) {
		t.Fatalf("before the ack: %+v, %v", n, err)
	}
	if err := stream.SendMsg(&Up{RenewAck: SerialHex(c)}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the switch on the ack", func() bool {
		n, err := th.hub.Registry().Node(ctx, "site-a")
		return err == nil && n.Serial == SerialHex(c) && n.NextSerial == ""
	})
	if !th.log.has("node certificate renewed; the previous one is superseded") {
		t.Fatal("no log of the switch")
	}
}
