package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/entvoice/entvoice/internal/testpeer"
)

const twoUsers = `users:
  - {name: "1001", secret: pass1001, context: phones, callerid: '"Alice" <1001>', codecs: [pcmu]}
  - {name: "1002", secret: pass1002, context: phones, callerid: '"Bob" <1002>', codecs: [pcma]}
`

const phonesPlan = `[phones]
exten => _100X,1,Dial(PJSIP/${EXTEN},4)
 same => n,Hangup()
`

// TestCallWithAudioBothWays: two phones register and call each other
// through entVoice; each hears the other's tone (1001 speaks PCMU, 1002
// PCMA, so the bridge transcodes), and the CDR says ANSWERED with the
// billsec of the call.
func TestCallWithAudioBothWays(t *testing.T) {
	n := startNode(t, nodeSpec{yaml: twoUsers, dialplan: phonesPlan})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	alice := n.phone(t, "1001", "pass1001", testpeer.PCMU, 1000)
	bob := n.phone(t, "1002", "pass1002", testpeer.PCMA, 700)
	alice.register(ctx)
	bob.register(ctx)

	c, code, err := alice.dial(ctx, "1002")
	if err != nil || code != 200 {
		t.Fatalf("dial: code %d err %v", code, err)
	}
	time.Sleep(2500 * time.Millisecond)
	if a, b := alice.heardTone(700), alice.heardTone(1000); a < 3000 || b > 800 {
		t.Errorf("alice should hear bob's 700 Hz: 700 Hz %.0f, 1000 Hz %.0f (%d samples)", a, b, alice.heardSamples())
	}
	if a, b := bob.heardTone(1000), bob.heardTone(700); a < 3000 || b > 800 {
		t.Errorf("bob should hear alice's 1000 Hz: 1000 Hz %.0f, 700 Hz %.0f (%d samples)", a, b, bob.heardSamples())
	}
	c.hangup(ctx)
	n.waitIdle(t)
	rows := n.cdrs(t, 1)
	if len(rows) != 1 {
		t.Fatalf("want 1 CDR, got %d: %+v", len(rows), rows)
	}
	r := rows[0]
	if r.Disposition != "ANSWERED" || r.Src != "1001" || r.Dst != "1002" || r.LastApp != "Dial" {
		t.Errorf("CDR %+v", r)
	}
	if !strings.HasPrefix(r.Channel, "PJSIP/1001-") || !strings.HasPrefix(r.DstChannel, "PJSIP/1002-") {
		t.Errorf("channels %q -> %q", r.Channel, r.DstChannel)
	}
	if r.BillSec < 2 || r.BillSec > 4 {
		t.Errorf("billsec %d, want about 3", r.BillSec)
	}
	if r.CLID != `"Alice" <1001>` {
		t.Errorf("clid %q", r.CLID)
	}
}

// callFailure has alice call bob, who behaves as bobMode ("busy",
// "ignore"), with dial's context ending after dialFor; it returns the SIP
// code alice got and checks the CDR's disposition.
func callFailure(t *testing.T, bobMode string, dialFor time.Duration, disposition string) int {
	t.Helper()
	n := startNode(t, nodeSpec{yaml: twoUsers, dialplan: phonesPlan})
	ctx, cancel := context.WithTimeout(context.Background(), dialFor)
	defer cancel()
	alice := n.phone(t, "1001", "pass1001", testpeer.PCMU, 1000)
	bob := n.phone(t, "1002", "pass1002", testpeer.PCMA, 700)
	bob.setOnInvite(bobMode)
	alice.register(ctx)
	bob.register(ctx)
	_, code, err := alice.dial(ctx, "1002")
	t.Logf("dial ended with code %d err %v", code, err)
	n.waitIdle(t)
	rows := n.cdrs(t, 1)
	if len(rows) != 1 || rows[0].Disposition != disposition {
		t.Fatalf("CDRs %+v, want one %s", rows, disposition)
	}
	return code
}

// TestCallBusy: the callee answers 486; the caller gets 486 and the CDR says BUSY.
func TestCallBusy(t *testing.T) {
	if code := callFailure(t, "busy", 30*time.Second, "BUSY"); code != 486 {
		t.Fatalf("caller got %d, want 486", code)
	}
}

// TestCallNoAnswer: the callee rings past Dial's timeout; the caller gets
// 480 and the CDR says NO ANSWER.
func TestCallNoAnswer(t *testing.T) {
	if code := callFailure(t, "ignore", 30*time.Second, "NO ANSWER"); code != 480 {
		t.Fatalf("caller got %d, want 480", code)
	}
}

// TestCallCancel: the caller gives up while the callee rings; the callee
// sees CANCEL and the CDR says NO ANSWER.
func TestCallCancel(t *testing.T) {
	if code := callFailure(t, "ignore", 1500*time.Millisecond, "NO ANSWER"); code == 200 {
		t.Fatal("call was answered")
	}
}

// TestRegisterAndCallSHA256: with SHA-256 required (RFC 8760), phones
// register and call with SHA-256 digests; a wrong password gets 401.
func TestRegisterAndCallSHA256(t *testing.T) {
	n := startNode(t, nodeSpec{yaml: twoUsers, dialplan: phonesPlan, sip: "auth_algorithms: [SHA-256]"})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	alice := n.phone(t, "1001", "pass1001", testpeer.PCMU, 1000)
	bob := n.phone(t, "1002", "pass1002", testpeer.PCMA, 700)
	if code := alice.tryRegister(ctx, "wrong"); code != 401 {
		t.Fatalf("wrong password: %d, want 401", code)
	}
	alice.register(ctx)
	bob.register(ctx)
	c, code, err := alice.dial(ctx, "1002")
	if err != nil || code != 200 {
		t.Fatalf("dial: code %d err %v", code, err)
	}
	c.hangup(ctx)
	n.waitIdle(t)
	if rows := n.cdrs(t, 1); len(rows) != 1 || rows[0].Disposition != "ANSWERED" {
		t.Fatalf("CDRs %+v", rows)
	}
}

const transferPlan = `[phones]
exten => _100X,1,Dial(PJSIP/${EXTEN},10,tT)
 same => n,Hangup()
exten => 601,1,Answer()
 same => n,Echo()
`

// TestBlindTransfer: with Dial's t the callee sends the caller elsewhere
// by pressing # and an extension; with T the caller sends the callee.
// Here the target is an echo: whoever was transferred then hears their own
// tone, and the transferring side is hung up.
func TestBlindTransfer(t *testing.T) {
	for _, tc := range []struct {
		name       string
		byCallee   bool
		transferee float64 // tone of the party that lands on the echo
	}{{"callee transfers caller (t)", true, 1000}, {"caller transfers callee (T)", false, 700}} {
		t.Run(tc.name, func(t *testing.T) {
			n := startNode(t, nodeSpec{yaml: twoUsers, dialplan: transferPlan})
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			alice := n.phone(t, "1001", "pass1001", testpeer.PCMU, 1000)
			bob := n.phone(t, "1002", "pass1002", testpeer.PCMA, 700)
			alice.register(ctx)
			bob.register(ctx)
			ac, code, err := alice.dial(ctx, "1002")
			if err != nil || code != 200 {
				t.Fatalf("dial: code %d err %v", code, err)
			}
			var bc *call
			select {
			case bc = <-bob.incoming:
			case <-ctx.Done():
				t.Fatal("bob got no call")
			}
			time.Sleep(500 * time.Millisecond)
			transferer, transferee, ended := bc, alice, bc
			if !tc.byCallee {
				transferer, transferee, ended = ac, bob, ac
			}
			if err := transferer.sendDigits(ctx, "#601"); err != nil {
				t.Fatal(err)
			}
			select {
			case <-ended.done:
			case <-time.After(5 * time.Second):
				t.Fatal("the transferring party was not hung up")
			}
			time.Sleep(2 * time.Second)
			if a := transferee.heardTone(tc.transferee); a < 3000 {
				t.Errorf("the transferred party should hear its own tone from the echo: %.0f Hz at %.0f", tc.transferee, a)
			}
			if tc.byCallee {
				ac.hangup(ctx)
			} else {
				bc.hangup(ctx)
			}
			n.waitIdle(t)
		})
	}
}
