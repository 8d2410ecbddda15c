package e2e

import (
	"context"
	"testing"
	"time"

	"github.com/entvoice/entvoice/internal/testpeer"
)

const menuUsers = `users:
  - {name: "1001", secret: pass1001, context: menu}
`

const menuPlan = `[menu]
exten => 700,1,Answer()
 same => n,Set(__INHERIT=yes)
 same => n,Gosub(sub,s,1(hello,world))
 same => n,Background(beep)
 same => n,WaitExten(2)
exten => 1,1,Set(CDR(userfield)=one-${GOSUB_RETVAL})
 same => n,Hangup()
exten => 12,1,Set(CDR(userfield)=twelve-${GOSUB_RETVAL}-${LEN(${EXTEN})}-$[${LEN(${EXTEN})} * 10])
 same => n,Hangup()
exten => t,1,Set(CDR(userfield)=timeout-${INHERIT})
 same => n,Hangup()
exten => i,1,Set(CDR(userfield)=invalid-${INVALID_EXTEN})
 same => n,Hangup()
exten => h,1,Set(CDR(userfield)=${CDR(userfield)}+h)

[sub]
exten => s,1,Return(${ARG1}-${ARG2})
`

// TestDialplanMenu walks Background/WaitExten with digits sent as SIP
// INFO: a two-digit extension that shares a prefix with a one-digit one,
// an invalid digit (i), no digit (t), Gosub/Return with arguments, LEN and
// $[...] in the data, and the h extension running after the hangup.
func TestDialplanMenu(t *testing.T) {
	cases := []struct{ digits, want string }{
		{"12", "twelve-hello-world-2-20+h"},
		{"9", "invalid-9+h"},
		{"", "timeout-yes+h"},
	}
	for _, tc := range cases {
		t.Run("digits="+tc.digits, func(t *testing.T) {
			n := startNode(t, nodeSpec{yaml: menuUsers, dialplan: menuPlan})
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			_, c := dialApp(t, n, "700")
			if tc.digits != "" {
				time.Sleep(300 * time.Millisecond)
				if err := c.sendDigits(ctx, tc.digits); err != nil {
					t.Fatal(err)
				}
			}
			n.waitIdle(t)
			rows := n.cdrs(t, 1)
			if len(rows) != 1 || rows[0].UserField != tc.want {
				t.Fatalf("CDRs %+v, want userfield %q", rows, tc.want)
			}
		})
	}
}

// TestDemoIVR runs the demo configuration of `entvoice serve` (moved to
// free ports): 1001 calls the IVR on 500, presses 2 and hears the thanks
// prompt before the IVR hangs up.
func TestDemoIVR(t *testing.T) {
	n := startDemo(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	p := n.phone(t, "1001", "pass1001", testpeer.PCMU, 1000)
	c, code, err := p.dial(ctx, "500")
	if err != nil || code != 200 {
		t.Fatalf("dial 500: code %d err %v", code, err)
	}
	// Read plays the menu prompts; a digit interrupts them.
	time.Sleep(500 * time.Millisecond)
	deadline := time.Now().Add(20 * time.Second)
	for n.Channels.Count() > 0 && time.Now().Before(deadline) {
		_ = c.sendDigits(ctx, "2")
		time.Sleep(time.Second)
	}
	n.waitIdle(t)
	rows := n.cdrs(t, 1)
	if len(rows) != 1 || rows[0].Dst != "2" || rows[0].DContext != "ivr" || rows[0].Disposition != "ANSWERED" || rows[0].LastApp != "Hangup" {
		t.Fatalf("CDRs %+v, want the call to end in ivr,2", rows)
	}
	if p.heardSamples() < 8000 {
		t.Errorf("heard only %d samples of prompts", p.heardSamples())
	}
}
