package hub_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/entvoice/entvoice/internal/cluster/clustertest"
	"github.com/entvoice/entvoice/internal/cluster/hub"
	"github.com/entvoice/entvoice/internal/cluster/link"
	"github.com/entvoice/entvoice/internal/control"
	"github.com/entvoice/entvoice/internal/events"
	"github.com/entvoice/entvoice/internal/store"
)

// nodeCtl is a node's controller in these tests: the link is under test
// here, so the node side is a controller over a fixed set of channels
// (control.Local runs a real node's calls).
type nodeCtl struct {
	node   string
	mu     sync.Mutex
	chans  []control.ChannelInfo
	hungup []string
	vars   map[string]string
	// users are registered here: "tenant/user" -> peer SIP address.
	users map[string]string
}

func newNodeCtl(node string, chans ...string) *nodeCtl {
	c := &nodeCtl{node: node, vars: map[string]string{}, users: map[string]string{}}
	for i, name := range chans {
		tenant := ""
		if i == 0 {
			tenant = "acme"
		}
		c.chans = append(c.chans, control.ChannelInfo{Snapshot: events.Snapshot{Channel: name, Tenant: tenant, UniqueID: fmt.Sprintf("%s-1.%d", node, i)}})
	}
	return c
}

func (c *nodeCtl) find(tenant, name string) (int, error) {
	for i, ch := range c.chans {
		if ch.Channel == name && (tenant == "" || tenant == ch.Tenant) {
			return i, nil
		}
	}
	return -1, fmt.Errorf("%w: %s", control.ErrNoChannel, name)
}

func (c *nodeCtl) Channels(_ context.Context, tenant string) ([]control.ChannelInfo, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []control.ChannelInfo
	for _, ch := range c.chans {
		if tenant == "" || tenant == ch.Tenant {
			out = append(out, ch)
		}
	}
	return out, nil
}

func (c *nodeCtl) Originate(ctx context.Context, r control.OriginateRequest) (control.OriginateResult, error) {
	if r.Exten == "wait" { // a first leg that never answers
		<-ctx.Done()
		return control.OriginateResult{}, ctx.Err()
	}
	return control.OriginateResult{Reason: 4, Channel: r.Channel + "-on-" + c.node}, nil
}

func (c *nodeCtl) Hangup(_ context.Context, tenant, name string, _ int) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	i, err := c.find(tenant, name)
	if err != nil {
		return err
	}
	c.chans = slices.Delete(c.chans, i, i+1)
	c.hungup = append(c.hungup, name)
	return nil
}

func (c *nodeCtl) Redirect(_ context.Context, tenant, name, _, _, _, _ string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	_, err := c.find(tenant, name)
	return err
}

func (c *nodeCtl) GetVar(_ context.Context, tenant, name, v string) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, err := c.find(tenant, name); err != nil {
		return "", err
	}
	return c.vars[name+"/"+v], nil
}

func (c *nodeCtl) SetVar(_ context.Context, tenant, name, v, value string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, err := c.find(tenant, name); err != nil {
		return err
	}
	c.vars[name+"/"+v] = value
	return nil
}

func (c *nodeCtl) Locate(_ context.Context, tenant, user string) (control.Location, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	sip, ok := c.users[tenant+"/"+user]
	if !ok {
		return control.Location{}, fmt.Errorf("%w: %s", control.ErrNotRegistered, user)
	}
	return control.Location{Node: "system-name-not-the-node-name", SIP: sip}, nil
}

func TestRemoteControl(t *testing.T) {
	ctx := context.Background()
	remote := hub.NewRemote()
	th := clustertest.StartHub(t, store.Options{DataDir: t.TempDir()}, hub.Options{Remote: remote})
	linkNode := func(name string, ctl control.Controller) *link.Link {
		return clustertest.StartLink(t, th.Enrol(t, name), link.Options{}, link.Node{Controller: ctl})
	}
	a := newNodeCtl("site-a", "PJSIP/1001-00000001", "PJSIP/1002-00000002")
	b := newNodeCtl("site-b", "PJSIP/2001-00000001")
	b.users["acme/2001"] = "127.0.0.3:5061"
	b.users["default/2002"] = "127.0.0.3:5061"
	a.users["default/1001"] = "127.0.0.2:5061"
	la := linkNode("site-a", a)
	lb := linkNode("site-b", b)
	waitFor(t, "two linked nodes", func() bool { return remote.Linked() == 2 })

	// Where users are registered: central asks every node.
	if loc, err := remote.Locate(ctx, "acme", "2001"); err != nil || loc.Node != "site-b" || loc.SIP != "127.0.0.3:5061" {
		t.Fatalf("Locate(acme/2001) = %+v, %v; want site-b at 127.0.0.3:5061", loc, err)
	}
	if _, err := remote.Locate(ctx, "other", "2001"); !errors.Is(err, control.ErrNotRegistered) {
		t.Fatalf("Locate in another tenant = %v; want ErrNotRegistered", err)
	}
	// A node asks over its link, and is never its own answer.
	waitFor(t, "site-a's link up", la.Connected)
	if p, err := la.LocatePeer(ctx, "default", "2002"); err != nil || p.Node != "site-b" || p.SIP != "127.0.0.3:5061" {
		t.Fatalf("LocatePeer(2002) from site-a = %+v, %v", p, err)
	}
	if _, err := la.LocatePeer(ctx, "default", "1001"); err == nil {
		t.Fatal("site-a located its own user 1001 through central")
	}
	if _, err := la.LocatePeer(ctx, "default", "nobody"); err == nil || !strings.Contains(err.Error(), "not registered") {
		t.Fatalf("LocatePeer(nobody) = %v", err)
	}
	// Originate without a node runs where the user is registered.
	if res, err := remote.Originate(ctx, control.OriginateRequest{Channel: "PJSIP/2002", Exten: "600"}); err != nil || res.Channel != "PJSIP/2002-on-site-b" {
		t.Fatalf("originate to PJSIP/2002 without a node = %+v, %v; want it on site-b", res, err)
	}

	all, err := remote.Channels(ctx, "")
	if err != nil || len(all) != 3 {
		t.Fatalf("Channels = %d, %v; want 3 from two nodes", len(all), err)
	}
	acme, err := remote.Channels(ctx, "acme")
	if err != nil || len(acme) != 2 {
		t.Fatalf("acme's channels = %+v, %v", acme, err)
	}
	if err := remote.Hangup(ctx, "", "PJSIP/2001-00000001", 16); err != nil {
		t.Fatal(err)
	}
	if len(b.hungup) != 1 || len(a.hungup) != 0 {
		t.Fatalf("hangup reached a=%v b=%v", a.hungup, b.hungup)
	}
	if err := remote.Hangup(ctx, "", "PJSIP/9999-00000001", 16); !errors.Is(err, control.ErrNoChannel) {
		t.Fatalf("hangup of an unknown channel = %v", err)
	}
	// Tenant scope travels: acme cannot touch a default-tenant channel.
	if err := remote.SetVar(ctx, "acme", "PJSIP/1002-00000002", "X", "1"); !errors.Is(err, control.ErrNoChannel) {
		t.Fatalf("acme setting a default-tenant channel's variable = %v", err)
	}
	if err := remote.SetVar(ctx, "", "PJSIP/1002-00000002", "X", "42"); err != nil {
		t.Fatal(err)
	}
	if v, err := remote.GetVar(ctx, "", "PJSIP/1002-00000002", "X"); err != nil || v != "42" {
		t.Fatalf("GetVar = %q, %v", v, err)
	}
	if err := remote.Redirect(ctx, "", "PJSIP/1001-00000001", "", "internal", "600", "1"); err != nil {
		t.Fatal(err)
	}
	if _, err := remote.Originate(ctx, control.OriginateRequest{Channel: "PJSIP/1009", Exten: "600"}); err == nil || !strings.Contains(err.Error(), "name the node") {
		t.Fatalf("originate without a node among two = %v", err)
	}
	res, err := remote.Originate(ctx, control.OriginateRequest{Node: "site-b", Channel: "PJSIP/2001", Exten: "600"})
	if err != nil || res.Reason != 4 || res.Channel != "PJSIP/2001-on-site-b" {
		t.Fatalf("originate on site-b = %+v, %v", res, err)
	}
	if _, err := remote.Originate(ctx, control.OriginateRequest{Node: "nope", Channel: "PJSIP/1"}); !errors.Is(err, control.ErrNodeNotLinked) {
		t.Fatalf("originate on an unknown node = %v", err)
	}

	// A command in flight when its node's link goes fails; it does not hang.
	errc := make(chan error, 1)
	go func() {
		_, err := remote.Originate(ctx, control.OriginateRequest{Node: "site-b", Channel: "PJSIP/2001", Exten: "wait"})
		errc <- err
	}()
	time.Sleep(100 * time.Millisecond)
	lb.Close()
	select {
	case err := <-errc:
		if err == nil {
			t.Fatal("originate on a node whose link went succeeded")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a command in flight hung when its link went")
	}
	waitFor(t, "one linked node", func() bool { return remote.Linked() == 1 })
	if res, err := remote.Originate(ctx, control.OriginateRequest{Channel: "PJSIP/1001", Exten: "600"}); err != nil || res.Channel != "PJSIP/1001-on-site-a" {
		t.Fatalf("originate on the only linked node = %+v, %v", res, err)
	}

	// A node without a controller says so.
	linkNode("site-c", nil)
	waitFor(t, "site-c linked", func() bool { return remote.Linked() == 2 })
	if _, err := remote.Originate(ctx, control.OriginateRequest{Node: "site-c", Channel: "PJSIP/1"}); err == nil || !strings.Contains(err.Error(), "no controller") {
		t.Fatalf("originate on a node without a controller = %v", err)
	}
	if chans, err := remote.Channels(ctx, ""); err != nil || len(chans) != 2 {
		t.Fatalf("Channels with one node failing = %d, %v", len(chans), err)
	}
}

// TestRemoteReload: central's reload command reaches the named node's
// reloader; an unknown module and a node without a reloader say so; a
// reloader's error (a broken extensions.conf) comes back naming the node.
func TestRemoteReload(t *testing.T) {
	ctx := context.Background()
	remote := hub.NewRemote()
	th := clustertest.StartHub(t, store.Options{DataDir: t.TempDir()}, hub.Options{Remote: remote})
	var reloads atomic.Int32
	var broken atomic.Bool
	linkNode := func(name string, reload func(context.Context) error) {
		clustertest.StartLink(t, th.Enrol(t, name), link.Options{}, link.Node{ReloadDialplan: reload})
	}
	linkNode("site-a", func(context.Context) error {
		if broken.Load() {
			return errors.New("extensions.conf:3: unclosed [")
		}
		reloads.Add(1)
		return nil
	})
	linkNode("site-b", nil)
	waitFor(t, "two linked nodes", func() bool { return remote.Linked() == 2 })
	if done, err := remote.Reload(ctx, "site-a", "dialplan"); err != nil || len(done) != 1 || reloads.Load() != 1 {
		t.Fatalf("reload of site-a = %v, %v (%d reloads)", done, err, reloads.Load())
	}
	if _, err := remote.Reload(ctx, "site-a", "pjsip"); err == nil || !strings.Contains(err.Error(), "no such module") {
		t.Fatalf("reload of an unknown module = %v", err)
	}
	if _, err := remote.Reload(ctx, "site-b", ""); err == nil || !strings.Contains(err.Error(), "does not reload") {
		t.Fatalf("reload of a node without a reloader = %v", err)
	}
	broken.Store(true)
	if _, err := remote.Reload(ctx, "site-a", ""); err == nil || !strings.Contains(err.Error(), "site-a") || !strings.Contains(err.Error(), "unclosed") {
		t.Fatalf("a failed reload = %v; want the node and its error", err)
	}
	if _, err := remote.Reload(ctx, "nope", ""); !errors.Is(err, control.ErrNodeNotLinked) {
		t.Fatalf("reload of an unlinked node = %v", err)
	}
}
