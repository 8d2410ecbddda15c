package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/entvoice/entvoice/internal/digest"
	"github.com/entvoice/entvoice/internal/events"
	"github.com/entvoice/entvoice/internal/provision"
	"github.com/entvoice/entvoice/internal/provision/memfeed"
	"github.com/entvoice/entvoice/internal/testpeer"
)

// 1002 rings in call group 1; 1003 picks up group 1; 1004 picks up
// nothing.
const pickupUsers = `users:
  - {name: "1001", secret: pass1001, context: phones, codecs: [pcmu]}
  - {name: "1002", secret: pass1002, context: phones, codecs: [pcma], callgroup: "1"}
  - {name: "1003", secret: pass1003, context: phones, codecs: [pcmu], pickupgroup: "1,5-7"}
  - {name: "1004", secret: pass1004, context: phones, codecs: [pcmu]}
shutdown: {grace: 1s}
`

const pickupPlan = `[phones]
exten => _100X,1,Dial(PJSIP/${EXTEN},20)
 same => n,Hangup()
exten => *8,1,Pickup()
 same => n,Hangup()
exten => _**X.,1,Pickup(${EXTEN:2}@phones)
 same => n,Hangup()
`

// dialResult is how a phone's call ended up.
type dialResult struct {
	c    *call
	code int
	err  error
}

// ringing has alice call bob, whose phone rings without answering, and
// returns how alice's call ends up (answered by a picker) on the channel.
func ringing(t *testing.T, n *testNode) (alice, bob *phone, answered chan dialResult) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	alice = n.phone(t, "1001", "pass1001", testpeer.PCMU, 1000)
	bob = n.phone(t, "1002", "pass1002", testpeer.PCMA, 700)
	bob.setOnInvite("ignore")
	bob.register(ctx)
	answered = make(chan dialResult, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 25*time.Second)
		defer cancel()
		c, code, err := alice.dial(ctx, "1002")
		answered <- dialResult{c, code, err}
	}()
	deadline := time.Now().Add(5 * time.Second)
	for {
		bob.mu.Lock()
		rung := bob.invites > 0
		bob.mu.Unlock()
		if rung {
			return alice, bob, answered
		}
		if time.Now().After(deadline) {
			t.Fatal("bob's phone never rang")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// pickUp has user dial exten and checks that it and alice then hear each
// other, that bob's ringing leg was cancelled, and that Pickup was
// published.
func pickUp(t *testing.T, n *testNode, user, exten string) {
	t.Helper()
	sub := n.Bus.Subscribe(64, func(e *events.Event) bool { return e.Kind == events.Pickup })
	defer sub.Close()
	alice, bob, answered := ringing(t, n)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	carol := n.phone(t, user, "pass"+user, testpeer.PCMU, 1300)
	cc, code, err := carol.dial(ctx, exten)
	if err != nil || code != 200 {
		t.Fatalf("%s dials %s: code %d err %v", user, exten, code, err)
	}
	var ca *call
	select {
	case r := <-answered:
		if r.err != nil || r.code != 200 {
			t.Fatalf("alice's call: code %d err %v", r.code, r.err)
		}
		ca = r.c
	case <-time.After(10 * time.Second):
		t.Fatal("alice's call was not answered by the pickup")
	}
	select {
	case e := <-sub.C:
		if !strings.HasPrefix(e.Channel.Channel, "PJSIP/"+user+"-") || !strings.HasPrefix(e.Dest.Channel, "PJSIP/1002-") {
			t.Errorf("Pickup event: channel %s target %s", e.Channel.Channel, e.Dest.Channel)
		}
	case <-time.After(5 * time.Second):
		t.Error("no Pickup event")
	}
	time.Sleep(1500 * time.Millisecond)
	if a := alice.heardTone(1300); a < 3000 {
		t.Errorf("alice does not hear the picker: %.0f", a)
	}
	if a := carol.heardTone(1000); a < 3000 {
		t.Errorf("the picker does not hear alice: %.0f", a)
	}
	bob.mu.Lock()
	bobCall := bob.lastCall
	bob.mu.Unlock()
	if bobCall != nil {
		t.Error("bob's phone answered a call it only rang for")
	}
	ca.hangup(ctx)
	select {
	case <-cc.done:
	case <-time.After(5 * time.Second):
		t.Error("the picker was not hung up with the caller")
	}
	n.waitIdle(t)
	for _, r := range n.cdrs(t, 2) {
		switch r.Src {
		case "1001":
			if !strings.HasPrefix(r.DstChannel, "PJSIP/"+user+"-") || r.Disposition != "ANSWERED" {
				t.Errorf("caller's CDR: dstchannel %q disposition %q", r.DstChannel, r.Disposition)
			}
		case user:
			if r.LastApp != "Pickup" || r.Disposition != "ANSWERED" || r.Dst != exten {
				t.Errorf("picker's CDR: lastapp %q disposition %q dst %q", r.LastApp, r.Disposition, r.Dst)
			}
		}
	}
}

// TestPickupGroup: *8 (Pickup()) from a phone whose pickup groups meet
// the ringing phone's call group answers the call in its place; a phone
// with no pickup group gets nothing and its dialplan goes on.
func TestPickupGroup(t *testing.T) {
	n := startNode(t, nodeSpec{yaml: pickupUsers, dialplan: pickupPlan})
	pickUp(t, n, "1003", "*8")

	// 1004 has no pickup group: Pickup() finds nothing and the dialplan
	// hangs up the unanswered call.
	_, bob, answered := ringing(t, n)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	dave := n.phone(t, "1004", "pass1004", testpeer.PCMU, 1300)
	if _, code, err := dave.dial(ctx, "*8"); err != nil || code == 200 {
		t.Errorf("1004 picked up a call of a group it is not in: code %d err %v", code, err)
	}
	_ = bob
	n.Shutdown(time.Second) // ends alice's ringing call
	if r := <-answered; r.code == 200 {
		r.c.hangup(ctx)
		t.Error("alice's call was answered")
	}
}

// TestPickupDirected: Pickup(1002@phones) (dialled as **1002) from a
// phone in no pickup group answers the call ringing at 1002.
func TestPickupDirected(t *testing.T) {
	n := startNode(t, nodeSpec{yaml: pickupUsers, dialplan: pickupPlan})
	pickUp(t, n, "1004", "**1002")
}

// TestPickupRealtimeGroups: call and pickup groups of realtime users (the
// provisioning feed) work as static ones: *8 from 1003 answers 1002's
// ringing call.
func TestPickupRealtimeGroups(t *testing.T) {
	src := memfeed.New()
	for _, u := range []provision.User{
		{Name: "1002", CallGroup: "1"},
		{Name: "1003", PickupGroup: "0-3"},
	} {
		u.Tenant, u.Context, u.Enabled = provision.DefaultTenant, "phones", true
		u.HA1MD5 = digest.HA1("MD5", u.Name, "entvoice", "pass"+u.Name)
		u.HA1SHA256 = digest.HA1("SHA-256", u.Name, "entvoice", "pass"+u.Name)
		src.PutUser(u)
	}
	_, rev := src.PutExtension(provision.Extension{Context: "phones", Exten: "9999", Priority: 1, App: "NoOp"})
	n := startNode(t, nodeSpec{yaml: "users:\n  - {name: \"1001\", secret: pass1001, context: phones, codecs: [pcmu]}\nshutdown: {grace: 1s}\n",
		dialplan: pickupPlan, source: src})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := n.WaitRevision(ctx, rev); err != nil {
		t.Fatal(err)
	}
	pickUp(t, n, "1003", "*8")
}
