package e2e

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/entvoice/entvoice/internal/events"
	"github.com/entvoice/entvoice/internal/testpeer"
)

const parkUsers = `users:
  - {name: "1001", secret: pass1001, context: phones, codecs: [pcmu]}
  - {name: "1002", secret: pass1002, context: phones, codecs: [pcma]}
  - {name: "1003", secret: pass1003, context: phones, codecs: [pcmu]}
shutdown: {grace: 1s}
`

const parkPlan = `[phones]
include => parkedcalls
exten => _100X,1,Dial(PJSIP/${EXTEN},20,tT)
 same => n,Hangup()
`

// A default lot as the sample's, and a short one whose parkext parks in
// it alone.
const parkingConf = `[default]
parkext => 700
parkpos => 701-705
context => parkedcalls

[quick]
parkext => 750
parkext_exclusive = yes
parkpos => 751-755
context => parkedcalls
parkingtime => 3
comebackdialtime => 10
`

func parkNode(t *testing.T) *testNode {
	t.Helper()
	conf := filepath.Join(t.TempDir(), "res_parking.conf")
	if err := os.WriteFile(conf, []byte(parkingConf), 0o644); err != nil {
		t.Fatal(err)
	}
	return startNode(t, nodeSpec{yaml: parkUsers + "parking: " + conf + "\n", dialplan: parkPlan})
}

func parkEvents(n *testNode) *events.Subscription {
	return n.Bus.Subscribe(256, func(e *events.Event) bool { return e.Parked != nil })
}

func nextParkEvent(t *testing.T, sub *events.Subscription, kind events.Kind) events.Event {
	t.Helper()
	for {
		select {
		case e := <-sub.C:
			if e.Kind == kind {
				return *e
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("no %s event", kind)
		}
	}
}

// TestParkAndRetrieve: a caller who dials 700 is parked in 701 (it hears
// the space, then music on hold), ParkedCalls lists it, and a phone that
// dials 701 retrieves it: both hear each other. ParkedCall and
// UnParkedCall carry the parkee, the retriever and the space.
func TestParkAndRetrieve(t *testing.T) {
	n := parkNode(t)
	sub := parkEvents(n)
	defer sub.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	alice := n.phone(t, "1001", "pass1001", testpeer.PCMU, 1000)
	bob := n.phone(t, "1002", "pass1002", testpeer.PCMA, 700)
	ca, code, err := alice.dial(ctx, "700")
	if err != nil || code != 200 {
		t.Fatalf("alice dials 700: %d %v", code, err)
	}
	parked := nextParkEvent(t, sub, events.ParkedCall)
	if p := parked.Parked; p.Space != 701 || p.Lot != "default" || p.ParkerDialString != "PJSIP/1001" || p.Timeout != 45 {
		t.Errorf("ParkedCall %+v", *p)
	}
	time.Sleep(3 * time.Second) // "seven zero one", then music
	if l := meanAbs(lastSecond(alice.heardPCM())); l < 300 {
		t.Errorf("the parked caller hears no music on hold: level %.0f", l)
	}
	calls, err := n.Control.ParkedCalls(ctx, "", "")
	if err != nil || len(calls) != 1 || calls[0].Space != 701 || calls[0].Parkee.Channel != parked.Channel.Channel {
		t.Errorf("ParkedCalls: %+v %v", calls, err)
	}

	cb, code, err := bob.dial(ctx, "701")
	if err != nil || code != 200 {
		t.Fatalf("bob dials 701: %d %v", code, err)
	}
	unparked := nextParkEvent(t, sub, events.UnParkedCall)
	if unparked.Dest == nil || unparked.Channel.Channel != parked.Channel.Channel || unparked.Parked.Space != 701 {
		t.Errorf("UnParkedCall: parkee %v retriever %v", unparked.Channel, unparked.Dest)
	}
	time.Sleep(1500 * time.Millisecond)
	if a := alice.heardTone(700); a < 3000 {
		t.Errorf("alice does not hear bob after the retrieval: %.0f", a)
	}
	if a := bob.heardTone(1000); a < 3000 {
		t.Errorf("bob does not hear alice after the retrieval: %.0f", a)
	}
	if calls, _ := n.Control.ParkedCalls(ctx, "", ""); len(calls) != 0 {
		t.Errorf("the space is still taken: %+v", calls)
	}
	cb.hangup(ctx)
	select {
	case <-ca.done:
	case <-time.After(5 * time.Second):
		t.Error("the retrieved caller was not hung up with the retriever")
	}
	n.waitIdle(t)
	for _, r := range n.cdrs(t, 2) {
		if r.Src == "1002" && (r.LastApp != "ParkedCall" || r.DstChannel != parked.Channel.Channel) {
			t.Errorf("retriever's CDR: lastapp %q dstchannel %q", r.LastApp, r.DstChannel)
		}
	}
}

// TestParkBlindTransferTimeout: during a call, the caller blind-transfers
// the callee to 750 (#750): the callee is parked in lot quick with the
// caller as its parker, the caller hears the space and is hung up; when
// the 3 s parkingtime runs out (ParkedCallTimeOut) the parked call dials
// its parker back, who answers and hears it again.
func TestParkBlindTransferTimeout(t *testing.T) {
	n := parkNode(t)
	sub := parkEvents(n)
	defer sub.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	alice := n.phone(t, "1001", "pass1001", testpeer.PCMU, 1000)
	bob := n.phone(t, "1002", "pass1002", testpeer.PCMA, 700)
	alice.register(ctx)
	bob.register(ctx)
	c, code, err := alice.dial(ctx, "1002")
	if err != nil || code != 200 {
		t.Fatalf("alice calls bob: %d %v", code, err)
	}
	time.Sleep(time.Second)
	if err := c.sendDigits(ctx, "#750"); err != nil {
		t.Fatal(err)
	}
	parked := nextParkEvent(t, sub, events.ParkedCall)
	if p := parked.Parked; p.Space != 751 || p.Lot != "quick" || p.ParkerDialString != "PJSIP/1001" {
		t.Errorf("ParkedCall %+v", *p)
	}
	select {
	case <-c.done: // the transferer is hung up once it heard the space
	case <-time.After(10 * time.Second):
		t.Fatal("the transferer was not hung up")
	}
	out := nextParkEvent(t, sub, events.ParkedCallTimeOut)
	if out.Parked.Space != 751 {
		t.Errorf("ParkedCallTimeOut %+v", *out.Parked)
	}
	var back *call
	select {
	case back = <-alice.incoming:
	case <-time.After(10 * time.Second):
		t.Fatal("the parker was not called back")
	}
	time.Sleep(1500 * time.Millisecond)
	if a := alice.heardTone(700); a < 3000 {
		t.Errorf("the parker does not hear the parked call back: %.0f", a)
	}
	back.hangup(ctx)
	n.waitIdle(t)
}
