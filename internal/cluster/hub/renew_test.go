package hub_test

import (
	"context"
	"crypto/x509"
	"strings"
	"testing"
	"time"

	"github.com/entvoice/entvoice/internal/cluster/clustertest"
	"github.com/entvoice/entvoice/internal/cluster/hub"
	"github.com/entvoice/entvoice/internal/cluster/pki"
	"github.com/entvoice/entvoice/internal/cluster/wire"
	"github.com/entvoice/entvoice/internal/store/storetest"
)

// TestRenewalOnTheWire drives the hub's side with a raw link stream: the
// certificate is the node's name whatever the CSR asks, client auth only,
// 5 years; one renewal per connection; the serial switches on the ack.
func TestRenewalOnTheWire(t *testing.T) {
	th := clustertest.StartHub(t, storetest.PostgresOptionsOrSQLite(t), hub.Options{})
	ctx := context.Background()
	dir := th.Enrol(t, "site-a")
	id, err := pki.LoadIdentity(dir, "")
	if err != nil {
		t.Fatal(err)
	}
	first := pki.SerialHex(id.Cert.Leaf)
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := wire.OpenLink(sctx, nodeConn(t, th, dir))
	if err != nil {
		t.Fatal(err)
	}
	if err := stream.SendMsg(&wire.Up{Hello: &wire.Hello{Protocol: wire.Protocol}}); err != nil {
		t.Fatal(err)
	}
	renewal := func() *wire.Renewal {
		t.Helper()
		for {
			var d wire.Down
			if err := stream.RecvMsg(&d); err != nil {
				t.Fatal(err)
			}
			if d.Renewal != nil {
				return d.Renewal
			}
		}
	}
	_, csr, err := pki.NewKeyCSR("site-b")
	if err != nil {
		t.Fatal(err)
	}
	if err := stream.SendMsg(&wire.Up{Renew: &wire.RenewRequest{CSR: csr}}); err != nil {
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
	if err := stream.SendMsg(&wire.Up{Renew: &wire.RenewRequest{CSR: csr}}); err != nil {
		t.Fatal(err)
	}
	if r := renewal(); r.Cert != nil || !strings.Contains(r.Err, "one certificate renewal per connection") {
		t.Fatalf("a second renewal on one connection: %+v", r)
	}
	n, err := th.Registry().Node(ctx, "site-a")
	if err != nil || n.Serial != first || n.NextSerial != pki.SerialHex(c) {
		t.Fatalf("before the ack: %+v, %v", n, err)
	}
	if err := stream.SendMsg(&wire.Up{RenewAck: pki.SerialHex(c)}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the switch on the ack", func() bool {
		n, err := th.Registry().Node(ctx, "site-a")
		return err == nil && n.Serial == pki.SerialHex(c) && n.NextSerial == ""
	})
	// The hub logs the switch once the registry has it (and has told the
	// other processes: a database round trip on PostgreSQL).
	waitFor(t, "the log of the switch", func() bool { return th.Log.Has("node certificate renewed; the previous one is superseded") })
}
