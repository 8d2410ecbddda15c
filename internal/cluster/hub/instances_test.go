package hub_test

import (
	"context"
	"crypto/tls"
	"errors"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/status"

	"github.com/entvoice/entvoice/internal/cluster/clustertest"
	"github.com/entvoice/entvoice/internal/cluster/hub"
	"github.com/entvoice/entvoice/internal/cluster/link"
	"github.com/entvoice/entvoice/internal/cluster/pki"
	"github.com/entvoice/entvoice/internal/cluster/wire"
	"github.com/entvoice/entvoice/internal/control"
	"github.com/entvoice/entvoice/internal/store/storetest"
)

// nodeConn is a gRPC connection to h with the certificate of the node
// enrolled in dataDir.
func nodeConn(t *testing.T, h *clustertest.Hub, dataDir string) *grpc.ClientConn {
	t.Helper()
	id, err := pki.LoadIdentity(dataDir, "")
	if err != nil {
		t.Fatal(err)
	}
	conn, err := grpc.NewClient("passthrough:///"+h.Addr().String(),
		grpc.WithTransportCredentials(credentials.NewTLS(pki.HubClientTLS(nil, id.CA, []tls.Certificate{id.Cert}))))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return conn
}

// TestCommandsAcrossInstances: two central instances share one store and
// CA; node A is linked to the first, node B to the second. Either
// instance's Remote lists both nodes' calls and acts on either node.
func TestCommandsAcrossInstances(t *testing.T) {
	ctx := context.Background()
	c := clustertest.NewCentral(t, storetest.Open(t, storetest.PostgresOptionsOrSQLite(t)))
	r1, r2 := hub.NewRemote(), hub.NewRemote()
	h1 := c.Start(t, hub.Options{Remote: r1})
	h2 := c.Start(t, hub.Options{Remote: r2})
	a := newNodeCtl("site-a", "PJSIP/1001-00000001", "PJSIP/1002-00000002")
	b := newNodeCtl("site-b", "PJSIP/2001-00000001")
	clustertest.StartLink(t, h1.Enrol(t, "site-a"), link.Options{}, link.Node{Controller: a})
	bdir := h2.Enrol(t, "site-b")
	clustertest.StartLink(t, bdir, link.Options{}, link.Node{Controller: b})
	waitFor(t, "each node linked", func() bool { return r1.Linked() == 1 && r2.Linked() == 1 })

	for i, r := range []*hub.Remote{r1, r2} {
		chans, err := r.Channels(ctx, "")
		if err != nil || len(chans) != 3 {
			t.Fatalf("instance %d lists %d channels, %v; want 3 of two nodes", i+1, len(chans), err)
		}
	}
	if err := r1.Hangup(ctx, "", "PJSIP/2001-00000001", 16); err != nil {
		t.Fatal(err)
	}
	if len(b.hungup) != 1 {
		t.Fatalf("hangup through the other instance reached %v", b.hungup)
	}
	if err := r2.SetVar(ctx, "", "PJSIP/1001-00000001", "X", "7"); err != nil {
		t.Fatal(err)
	}
	if v, err := r1.GetVar(ctx, "", "PJSIP/1001-00000001", "X"); err != nil || v != "7" {
		t.Fatalf("GetVar = %q, %v", v, err)
	}
	if err := r1.Hangup(ctx, "", "PJSIP/9-00000009", 16); !errors.Is(err, control.ErrNoChannel) {
		t.Fatalf("hangup of an unknown channel across instances = %v", err)
	}
	if res, err := r1.Originate(ctx, control.OriginateRequest{Node: "site-b", Channel: "PJSIP/2001", Exten: "600"}); err != nil || res.Channel != "PJSIP/2001-on-site-b" {
		t.Fatalf("originate on the other instance's node = %+v, %v", res, err)
	}
	if res, err := r2.Originate(ctx, control.OriginateRequest{Node: "site-a", Channel: "PJSIP/1001", Exten: "600"}); err != nil || res.Channel != "PJSIP/1001-on-site-a" {
		t.Fatalf("originate on the first instance's node = %+v, %v", res, err)
	}
	if _, err := r1.Originate(ctx, control.OriginateRequest{Node: "nope", Channel: "PJSIP/1"}); !errors.Is(err, control.ErrNodeNotLinked) {
		t.Fatalf("originate on an unknown node = %v", err)
	}

	// A node's certificate cannot call Forward.
	_, err := wire.Forward(ctx, nodeConn(t, h1, bdir), &wire.ForwardRequest{Command: wire.Command{Op: wire.OpChannels}})
	if status.Code(err) != codes.PermissionDenied {
		t.Fatalf("Forward with a node certificate = %v", err)
	}
	waitFor(t, "the refusal in the log", func() bool { return h1.Log.Has("caller is not a central instance") })

	// The second instance goes: the first lists its own node's calls.
	h2.Close()
	waitFor(t, "the first instance alone", func() bool {
		chans, err := r1.Channels(ctx, "")
		return err == nil && len(chans) == 2
	})
}
