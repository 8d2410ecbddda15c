package link_test

import (
	"context"
	"crypto/tls"
	"net"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/entvoice/entvoice/internal/cluster/clustertest"
	"github.com/entvoice/entvoice/internal/cluster/hub"
	"github.com/entvoice/entvoice/internal/cluster/link"
	"github.com/entvoice/entvoice/internal/cluster/pki"
	"github.com/entvoice/entvoice/internal/store"
	"github.com/entvoice/entvoice/internal/store/storetest"
)

// handshake runs a TLS 1.3 handshake between a client and a server config
// over loopback and returns the name the server saw and the server's and
// the client's errors.
func handshake(t *testing.T, client, server *tls.Config) (peer string, srvErr, cliErr error) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	done := make(chan struct{})
	go func() {
		defer close(done)
		c, err := ln.Accept()
		if err != nil {
			srvErr = err
			return
		}
		defer c.Close()
		tc := tls.Server(c, server)
		_ = tc.SetDeadline(time.Now().Add(5 * time.Second))
		if srvErr = tc.Handshake(); srvErr == nil {
			peer = tc.ConnectionState().PeerCertificates[0].Subject.CommonName
			// TLS 1.3: the client learns of a refused certificate on
			// its first read.
			_, _ = tc.Write([]byte("ok"))
		}
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	tc := tls.Client(c, client)
	_ = tc.SetDeadline(time.Now().Add(5 * time.Second))
	if cliErr = tc.Handshake(); cliErr == nil {
		_, cliErr = tc.Read(make([]byte, 2))
	}
	_ = tc.Close()
	<-done
	return peer, srvErr, cliErr
}

// TestPeerTrust: nodes of one cluster accept each other's certificates
// for node-to-node calls, both ways; a node of another cluster, a node
// central does not list (revoked) and a superseded certificate are refused.
// The link keeps the list current, and at once: the hub's and the link's
// heartbeats are a minute long here, so every change below reaches
// site-a's list by central's push when it happens (an enrolment, a
// revocation, a second enrolment, a renewal), not by a heartbeat.
func TestPeerTrust(t *testing.T) {
	ctx := context.Background()
	th := clustertest.StartHub(t, store.Options{DataDir: t.TempDir()}, hub.Options{Heartbeat: time.Minute})
	enrol := func(th *clustertest.Hub, name string) (string, *link.PeerTrust) {
		dir := th.Enrol(t, name)
		trust, err := link.NewPeerTrust(dir)
		if err != nil {
			t.Fatal(err)
		}
		return dir, trust
	}
	dirA, a := enrol(th, "site-a")
	_, b := enrol(th, "site-b")

	peer, srvErr, cliErr := handshake(t, a.TLSConfig(), b.TLSConfig())
	if srvErr != nil || cliErr != nil || peer != "site-a" {
		t.Fatalf("site-a calling site-b: server %v, client %v, peer %q", srvErr, cliErr, peer)
	}
	if peer, _, _ := handshake(t, b.TLSConfig(), a.TLSConfig()); peer != "site-b" {
		t.Fatalf("site-b calling site-a: peer %q", peer)
	}

	// Another cluster's node is refused by both roles.
	other := clustertest.StartHub(t, store.Options{DataDir: t.TempDir()}, hub.Options{})
	_, foreign := enrol(other, "site-a")
	if _, srvErr, _ := handshake(t, foreign.TLSConfig(), b.TLSConfig()); srvErr == nil {
		t.Error("site-b took a call from another cluster's node")
	}
	if _, _, cliErr := handshake(t, b.TLSConfig(), foreign.TLSConfig()); cliErr == nil {
		t.Error("site-b called another cluster's node")
	}

	// The link brings central's list of enrolled nodes.
	l := clustertest.StartLink(t, dirA, link.Options{Heartbeat: time.Minute, Peers: a})
	serials := func(name string) []string { return a.Nodes()[name] }
	listed := func(name string) func() bool { return func() bool { return serials(name) != nil } }
	waitFor(t, "site-a to learn the enrolled nodes", listed("site-b"))
	if _, srvErr, _ := handshake(t, b.TLSConfig(), a.TLSConfig()); srvErr != nil {
		t.Fatalf("site-a refused site-b, an enrolled node: %v", srvErr)
	}
	// A node enrolled while site-a is linked is trusted at once.
	dirD, d := enrol(th, "site-d")
	waitFor(t, "site-a to learn of site-d, just enrolled", listed("site-d"))
	if _, srvErr, _ := handshake(t, d.TLSConfig(), a.TLSConfig()); srvErr != nil {
		t.Fatalf("site-a refused site-d, enrolled a moment ago: %v", srvErr)
	}
	// Revoked: gone from the list at once, then refused.
	if err := th.Registry().Revoke(ctx, "site-b"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "site-b to leave site-a's list", func() bool { return !listed("site-b")() })
	if _, srvErr, _ := handshake(t, b.TLSConfig(), a.TLSConfig()); srvErr == nil {
		t.Error("site-a took a call from revoked site-b")
	}
	// Superseded: site-c enrolled again elsewhere; its first certificate
	// is refused, the new one taken.
	_, c1 := enrol(th, "site-c")
	_, c2 := enrol(th, "site-c")
	c2cert, err := c2.Certificate()
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "site-c's new serial in site-a's list", func() bool {
		return slices.Equal(serials("site-c"), []string{pki.SerialHex(c2cert.Leaf)})
	})
	if _, srvErr, _ := handshake(t, c1.TLSConfig(), a.TLSConfig()); srvErr == nil {
		t.Error("site-a took a call with site-c's superseded certificate")
	}
	if _, srvErr, _ := handshake(t, c2.TLSConfig(), a.TLSConfig()); srvErr != nil {
		t.Errorf("site-a refused site-c's current certificate: %v", srvErr)
	}
	// Renewed: site-d renews over its link (RenewBefore: at once); site-a
	// lists its new serial at once and takes the renewed certificate.
	before := serials("site-d")
	clustertest.StartLink(t, dirD, link.Options{Heartbeat: time.Minute, RenewBefore: 10 * 365 * 24 * time.Hour})
	waitFor(t, "site-d's renewed serial in site-a's list", func() bool {
		s := serials("site-d")
		return len(s) == 1 && !slices.Equal(s, before)
	})
	if _, srvErr, _ := handshake(t, d.TLSConfig(), a.TLSConfig()); srvErr != nil {
		t.Errorf("site-a refused site-d's renewed certificate: %v", srvErr)
	}
	if !l.Connected() {
		t.Error("site-a's link went down")
	}
}

// TestPeerTrustAcrossInstances (PostgreSQL): two central instances share
// one database. site-a, linked to the first, learns at once of site-b
// enrolled at the second, and of site-b's revocation by a registry of
// neither hub (as by `entvoice node revoke`): the change reaches the
// first hub through the database's notification, not a heartbeat (a
// minute long here).
func TestPeerTrustAcrossInstances(t *testing.T) {
	opts := storetest.PostgresOptions(t)
	st := storetest.Open(t, opts)
	c := clustertest.NewCentral(t, st)
	ctx, cancel := context.WithCancel(context.Background())
	var listening sync.WaitGroup
	listening.Go(func() { _ = c.Repo.ListenPostgres(ctx, opts.DSN) })
	defer listening.Wait()
	defer cancel()
	h1 := c.Start(t, hub.Options{Heartbeat: time.Minute})
	h2 := c.Start(t, hub.Options{Heartbeat: time.Minute})
	dirA := h1.Enrol(t, "site-a")
	a, err := link.NewPeerTrust(dirA)
	if err != nil {
		t.Fatal(err)
	}
	l := clustertest.StartLink(t, dirA, link.Options{Heartbeat: time.Minute, Peers: a})
	waitFor(t, "site-a linked", l.Connected)
	h2.Enrol(t, "site-b")
	waitFor(t, "site-a to learn of site-b, enrolled at the other instance", func() bool { return a.Nodes()["site-b"] != nil })
	if err := hub.NewRegistry(st).Revoke(ctx, "site-b"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "site-b, revoked elsewhere, to leave site-a's list", func() bool { return a.Nodes()["site-b"] == nil })
}
