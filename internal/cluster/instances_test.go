package cluster

import (
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/status"

	"github.com/entvoice/entvoice/internal/control"
	"github.com/entvoice/entvoice/internal/provision"
	"github.com/entvoice/entvoice/internal/store/storetest"
)

// TestCommandsAcrossInstances: two central instances share one store and
// CA; node A is linked to the first, node B to the second. Either
// instance's Remote lists both nodes' calls and acts on either node.
func TestCommandsAcrossInstances(t *testing.T) {
	ctx := context.Background()
	st := storetest.Open(t, storetest.PostgresOptionsOrSQLite(t))
	repo, err := provision.New(ctx, st, provision.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ca, err := LoadOrCreateCA("", "", filepath.Join(t.TempDir(), "ca"))
	if err != nil {
		t.Fatal(err)
	}
	lb := &logBuf{t: t}
	log := slog.New(slog.NewTextHandler(lb, nil))
	start := func(r *Remote) *Hub {
		h, err := StartHub(ctx, HubOptions{Store: st, Source: repo, CA: ca, Listen: "127.0.0.1:0", Heartbeat: 200 * time.Millisecond, Remote: r, Logger: log})
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	r1, r2 := NewRemote(), NewRemote()
	h1 := start(r1)
	defer h1.Close()
	h2 := start(r2)
	h2closed := false
	defer func() {
		if !h2closed {
			h2.Close()
		}
	}()
	link := func(h *Hub, name string, ctl control.Controller) string {
		tok, err := h.Registry().CreateToken(ctx, ca, name, []netipPrefix{mustPrefix("127.0.0.1/32")}, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		dir := t.TempDir()
		if _, err := Join(ctx, dir, "https://"+h.Addr().String(), tok.String(), ""); err != nil {
			t.Fatal(err)
		}
		l, err := NewLink(LinkOptions{DataDir: dir, Heartbeat: 200 * time.Millisecond, Logger: log, Controller: ctl})
		if err != nil {
			t.Fatal(err)
		}
		l.Start(ctx)
		t.Cleanup(l.Close)
		return dir
	}
	a := newNodeCtl("site-a", "PJSIP/1001-00000001", "PJSIP/1002-00000002")
	b := newNodeCtl("site-b", "PJSIP/2001-00000001")
	link(h1, "site-a", a)
	bdir := link(h2, "site-b", b)
	waitFor(t, "each node linked", func() bool { return len(r1.linked()) == 1 && len(r2.linked()) == 1 })

	for i, r := range []*Remote{r1, r2} {
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
	if _, err := r1.Originate(ctx, control.OriginateRequest{Node: "nope", Channel: "PJSIP/1"}); !errors.Is(err, ErrNodeNotLinked) {
		t.Fatalf("originate on an unknown node = %v", err)
	}

	// A node's certificate cannot call Forward.
	id, err := loadIdentity(bdir, "")
	if err != nil {
		t.Fatal(err)
	}
	conn, err := grpc.NewClient("passthrough:///"+h1.Addr().String(),
		grpc.WithTransportCredentials(credentials.NewTLS(pinnedTLS(nil, id.ca, []tls.Certificate{id.cert}))))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var rep ForwardReply
	err = conn.Invoke(ctx, methodForward, &ForwardRequest{Command: Command{Op: opChannels}}, &rep, grpc.ForceCodec(jsonCodec{}))
	if status.Code(err) != codes.PermissionDenied {
		t.Fatalf("Forward with a node certificate = %v", err)
	}
	waitFor(t, "the refusal in the log", func() bool { return lb.has("caller is not a central instance") })

	// The second instance goes: the first lists its own node's calls.
	h2.Close()
	h2closed = true
	waitFor(t, "the first instance alone", func() bool {
		chans, err := r1.Channels(ctx, "")
		return err == nil && len(chans) == 2
	})
}
