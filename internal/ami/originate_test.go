package ami_test

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/entvoice/entvoice/internal/testpeer"
)

const originatePlan = `[originate]
exten => 100,1,Answer()
 same => n,Wait(30)
 same => n,Hangup()
exten => 200,1,Set(REDIRECTED=yes)
 same => n(wait),Wait(30)
exten => 300,1,Wait(1)
 same => n,Hangup()
exten => 400,1,Set(AGIVAR=from py)
 same => n,AGI(agi:async)
 same => n,Set(AFTER=${AGISTATUS})
 same => n,Wait(30)
exten => 555,hint,PJSIP/carrier
exten => 1001,hint,PJSIP/1001
`

// startWithUAS starts a SIPp UAS (answers every call, waits for BYE) and a
// node whose trunk "carrier" sends calls to it; 1001 is a static user.
func startWithUAS(t *testing.T) (*amiNode, *testpeer.SIPpProc) {
	t.Helper()
	testpeer.SIPpPath(t)
	scenario, err := filepath.Abs("testdata/uas_ring.xml")
	if err != nil {
		t.Fatal(err)
	}
	uas := testpeer.StartSIPp(t, testpeer.SIPpOptions{Scenario: scenario, Timeout: 90 * time.Second})
	n := startAMINode(t, fmt.Sprintf(`users:
  - {name: "1001", secret: pw, context: originate}
trunks:
  - {name: carrier, host: "%s", context: originate}
`, uas.Addr()), originatePlan)
	return n, uas
}

func TestOriginateFlow(t *testing.T) {
	n, _ := startWithUAS(t)
	c := dialRaw(t, n.AMIAddr, "admin", "secret")

	// Errors first.
	for _, tc := range []struct {
		lines []string
		want  string
	}{
		{[]string{"Channel: PJSIP/555@carrier", "Context: originate", "Exten: 999", "Priority: 1"}, "Extension does not exist."},
		{[]string{"Channel: carrier", "Context: originate", "Exten: 100", "Priority: 1"}, "Invalid channel"},
		{[]string{"Channel: PJSIP/nosuch", "Context: originate", "Exten: 100", "Priority: 1"}, "Originate failed"},
		{[]string{"Context: originate", "Exten: 100", "Priority: 1"}, "Channel not specified"},
		{[]string{"Channel: PJSIP/555@carrier", "Exten: 100"}, "Originate with 'Exten' requires 'Context' and 'Priority'"},
		{[]string{"Channel: PJSIP/555@carrier", "Context: originate", "Exten: 100", "Priority: 1", "Timeout: soon"}, "Invalid timeout"},
	} {
		c.send(append([]string{"Action: Originate"}, tc.lines...)...)
		if m := c.until("Response:"); m != "Response: Error\r\nMessage: "+tc.want+"\r\n\r\n" {
			t.Errorf("%v: %q", tc.lines, m)
		}
	}

	c.send("Action: Originate", "ActionID: o1", "Channel: PJSIP/555@carrier", "Context: originate", "Exten: 100",
		"Priority: 1", "CallerID: \"Bob\" <1234>", "Variable: FOO=bar,BAZ=qux", "Async: true")
	if m := c.until("Response:"); m != "Response: Success\r\nActionID: o1\r\nMessage: Originate successfully queued\r\n\r\n" {
		t.Fatalf("async originate: %q", m)
	}
	var seq []string
	msgs := c.untilFn(func(m string) bool { return strings.HasPrefix(m, "Event: OriginateResponse") })
	or := msgs[len(msgs)-1]
	for _, m := range msgs {
		seq = append(seq, hdr(m, "Event"))
	}
	ch := hdr(or, "Channel")
	if hdr(or, "ActionID") != "o1" || hdr(or, "Response") != "Success" || hdr(or, "Reason") != "4" ||
		!strings.HasPrefix(ch, "PJSIP/carrier-") || hdr(or, "CallerIDNum") != "1234" || hdr(or, "CallerIDName") != "Bob" ||
		hdr(or, "Context") != "originate" || hdr(or, "Exten") != "100" {
		t.Fatalf("OriginateResponse %q", or)
	}
	t.Logf("events up to OriginateResponse: %v", seq)
	for _, want := range []string{"Newchannel", "DialBegin", "DialEnd", "Newstate"} {
		if !strings.Contains(strings.Join(seq, ","), want) {
			t.Errorf("no %s before OriginateResponse: %v", want, seq)
		}
	}
	c.until("Event: Newexten") // the dialplan runs on the answered leg

	c.send("Action: Getvar", "Channel: "+ch, "Variable: BAZ", "ActionID: g")
	if m := c.until("Response:"); m != "Response: Success\r\nActionID: g\r\nVariable: BAZ\r\nValue: qux\r\n\r\n" {
		t.Errorf("Getvar: %q", m)
	}
	c.send("Action: Setvar", "Channel: "+ch, "Variable: MARK", "Value: 42")
	if m := c.until("Response:"); m != "Response: Success\r\nMessage: Variable Set\r\n\r\n" {
		t.Errorf("Setvar: %q", m)
	}
	c.send("Action: Getvar", "Channel: PJSIP/none-00000000", "Variable: X")
	if m := c.until("Response:"); m != "Response: Error\r\nMessage: No such channel\r\n\r\n" {
		t.Errorf("Getvar on a missing channel: %q", m)
	}

	c.send("Action: Status", "Channel: "+ch, "Variables: MARK", "ActionID: s")
	if m := c.until("Response:"); m != "Response: Success\r\nActionID: s\r\nEventList: start\r\nMessage: Channel status will follow\r\n\r\n" {
		t.Errorf("Status ack: %q", m)
	}
	st := c.until("Event: Status\r\n")
	if hdr(st, "Channel") != ch || hdr(st, "ChannelStateDesc") != "Up" || hdr(st, "Variable") != "MARK=42" || hdr(st, "ActionID") != "s" || hdr(st, "Privilege") != "Call" {
		t.Errorf("Status event %q", st)
	}
	if m := c.until("Event: StatusComplete"); m != "Event: StatusComplete\r\nActionID: s\r\nEventList: Complete\r\nListItems: 1\r\nItems: 1\r\n\r\n" {
		t.Errorf("StatusComplete %q", m)
	}

	c.send("Action: CoreShowChannels", "ActionID: cs")
	csc := c.until("Event: CoreShowChannel\r\n")
	if hdr(csc, "ActionID") != "cs" || hdr(csc, "Channel") != ch || hdr(csc, "Application") != "Wait" || hdr(csc, "ApplicationData") != "30" {
		t.Errorf("CoreShowChannel %q", csc)
	}
	c.until("Event: CoreShowChannelsComplete")

	c.send("Action: Command", "Command: core show channels", "ActionID: cmd")
	cmd := c.until("Response:")
	if !strings.HasPrefix(cmd, "Response: Success\r\nActionID: cmd\r\nMessage: Command output follows\r\nOutput: Channel ") ||
		!strings.Contains(cmd, "Output: "+ch[:20]) || !strings.Contains(cmd, "Output: 1 active channel\r\n") {
		t.Errorf("core show channels: %q", cmd)
	}
	c.send("Action: Command", "Command: core show version")
	if m := c.until("Response:"); !strings.Contains(m, "Output: entVoice") {
		t.Errorf("core show version: %q", m)
	}
	c.send("Action: Command", "Command: pjsip show endpoints")
	if m := c.until("Response:"); !strings.Contains(m, "Output:  Endpoint:  carrier ") || !strings.Contains(m, "Output:  Endpoint:  1001 ") {
		t.Errorf("pjsip show endpoints: %q", m)
	}
	c.send("Action: Command", "Command: dance")
	if m := c.until("Response:"); m != "Response: Error\r\nMessage: Command output follows\r\nOutput: No such command 'dance' (type 'core show help dance' for other possible commands)\r\n\r\n" {
		t.Errorf("unknown command: %q", m)
	}

	// Redirect interrupts Wait(30) and runs 200@originate.
	c.send("Action: Redirect", "Channel: "+ch, "Context: originate", "Exten: 200", "Priority: 1", "ActionID: r")
	if m := c.until("Response:"); m != "Response: Success\r\nActionID: r\r\nMessage: Redirect successful\r\n\r\n" {
		t.Fatalf("Redirect: %q", m)
	}
	for {
		m := c.until("Event: Newexten")
		if hdr(m, "Channel") == ch && hdr(m, "Exten") == "200" && hdr(m, "Application") == "Wait" {
			break
		}
	}
	c.send("Action: Getvar", "Channel: "+ch, "Variable: REDIRECTED")
	if m := c.until("Response:"); hdr(m, "Value") != "yes" {
		t.Errorf("after Redirect: %q", m)
	}
	c.send("Action: Redirect", "Channel: "+ch, "Context: originate", "Exten: 404", "Priority: 1")
	if m := c.until("Response:"); m != "Response: Error\r\nMessage: Redirect failed\r\n\r\n" {
		t.Errorf("Redirect to a missing extension: %q", m)
	}

	// Hang it up by name: SoftHangupRequest, Cdr, then Hangup.
	// The events of the hangup may come before or after the reply.
	c.send("Action: Hangup", "Channel: "+ch, "ActionID: h")
	var order []string
	replied := false
	for _, m := range c.untilFn(func(m string) bool { return strings.HasPrefix(m, "Event: Hangup\r\n") && hdr(m, "Channel") == ch }) {
		if strings.HasPrefix(m, "Response:") {
			replied = true
			if m != "Response: Success\r\nActionID: h\r\nMessage: Channel Hungup\r\n\r\n" {
				t.Fatalf("Hangup: %q", m)
			}
		}
		if e := hdr(m, "Event"); (e == "SoftHangupRequest" || e == "Cdr" || e == "Hangup") && hdr(m, "Channel") == ch {
			order = append(order, e)
			if e == "Cdr" && (hdr(m, "Disposition") != "ANSWERED" || hdr(m, "Destination") != "200" || hdr(m, "Source") != "1234") {
				t.Errorf("Cdr %q", m)
			}
			if e == "Hangup" && (hdr(m, "Cause") != "16" || hdr(m, "Cause-txt") != "Normal Clearing") {
				t.Errorf("Hangup %q", m)
			}
		}
	}
	if !replied {
		c.until("Response:")
	}
	if strings.Join(order, ",") != "SoftHangupRequest,Cdr,Hangup" {
		t.Errorf("hangup events %v, want SoftHangupRequest,Cdr,Hangup", order)
	}
	c.send("Action: Hangup", "Channel: "+ch)
	if m := c.until("Response:"); m != "Response: Error\r\nMessage: No such channel\r\n\r\n" {
		t.Errorf("second Hangup: %q", m)
	}

	// Synchronous originate: the reply waits for the answer; an
	// application instead of the dialplan.
	c.send("Action: Originate", "Channel: PJSIP/556@carrier", "Application: Wait", "Data: 30", "ActionID: sync")
	if m := c.until("Response:"); m != "Response: Success\r\nActionID: sync\r\nMessage: Originate successfully queued\r\n\r\n" {
		t.Fatalf("sync originate: %q", m)
	}
	// Hangup by regex.
	c.send("Action: Hangup", "Channel: /^PJSIP/carrier-/", "ActionID: re")
	if m := c.until("Response:"); m != "Response: Success\r\nActionID: re\r\nEventList: start\r\nMessage: Channels hung up will follow\r\n\r\n" {
		t.Fatalf("regex Hangup: %q", m)
	}
	if m := c.until("Event: ChannelHungup"); !strings.HasPrefix(hdr(m, "Channel"), "PJSIP/carrier-") || hdr(m, "ActionID") != "re" {
		t.Errorf("ChannelHungup %q", m)
	}
	if m := c.until("Event: ChannelsHungupListComplete"); hdr(m, "ListItems") != "1" {
		t.Errorf("list complete %q", m)
	}
	n.waitIdle(t)
}
