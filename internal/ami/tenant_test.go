package ami_test

import (
	"strings"
	"testing"
)

// originate starts a call through the carrier trunk on c and returns the
// channel from its OriginateResponse.
func originate(t *testing.T, c *rawClient, id, exten string) string {
	t.Helper()
	c.send("Action: Originate", "ActionID: "+id, "Channel: PJSIP/"+exten+"@carrier", "Context: originate",
		"Exten: 100", "Priority: 1", "Async: yes")
	for {
		m := c.until("Event: OriginateResponse")
		if hdr(m, "ActionID") == id {
			if hdr(m, "Response") != "Success" {
				t.Fatalf("originate %s: %q", id, m)
			}
			return hdr(m, "Channel")
		}
	}
}

// TestTenantScope: a tenant-bound AMI user sees and acts on its tenant's
// calls only; the default tenant's calls (static users, admin originates)
// are invisible to it; an admin sees both.
func TestTenantScope(t *testing.T) {
	n, _ := startWithUAS(t)
	admin := dialRaw(t, n.AMIAddr, "admin", "secret")
	acme := dialRaw(t, n.AMIAddr, "acme", "acmepw")

	mine := originate(t, acme, "a1", "700")
	theirs := originate(t, admin, "d1", "701")

	// What acme read so far must never name the default tenant's channel.
	acme.send("Action: CoreShowChannels", "ActionID: l")
	msgs := acme.untilFn(func(m string) bool { return strings.HasPrefix(m, "Event: CoreShowChannelsComplete") })
	var listed []string
	for _, m := range msgs {
		if strings.Contains(m, theirs) {
			t.Errorf("tenant user saw the default tenant's channel: %q", m)
		}
		if strings.HasPrefix(m, "Event: CoreShowChannel\r\n") {
			listed = append(listed, hdr(m, "Channel"))
			if hdr(m, "Tenantid") != "acme" {
				t.Errorf("tenant channel without Tenantid: %q", m)
			}
		}
		if strings.HasPrefix(m, "Event: Newchannel") && hdr(m, "Channel") == mine && hdr(m, "Tenantid") != "acme" {
			t.Errorf("Newchannel %q", m)
		}
	}
	if len(listed) != 1 || listed[0] != mine {
		t.Errorf("acme lists %v, want [%s]", listed, mine)
	}
	if m := msgs[len(msgs)-1]; hdr(m, "ListItems") != "1" {
		t.Errorf("acme list complete %q", m)
	}
	admin.send("Action: CoreShowChannels")
	if m := admin.until("Event: CoreShowChannelsComplete"); hdr(m, "ListItems") != "2" {
		t.Errorf("admin sees %s channels, want 2", hdr(m, "ListItems"))
	}

	// acme cannot touch the other call.
	for _, tc := range []struct {
		lines []string
		want  string
	}{
		{[]string{"Action: Hangup", "Channel: " + theirs}, "Response: Error\r\nMessage: No such channel\r\n\r\n"},
		{[]string{"Action: Redirect", "Channel: " + theirs, "Context: originate", "Exten: 200", "Priority: 1"}, "Response: Error\r\nMessage: Channel does not exist: " + theirs + "\r\n\r\n"},
		{[]string{"Action: Getvar", "Channel: " + theirs, "Variable: X"}, "Response: Error\r\nMessage: No such channel\r\n\r\n"},
		{[]string{"Action: Setvar", "Channel: " + theirs, "Variable: X", "Value: 1"}, "Response: Error\r\nMessage: No such channel\r\n\r\n"},
		{[]string{"Action: Status", "Channel: " + theirs}, "Response: Error\r\nMessage: No such channel\r\n\r\n"},
		{[]string{"Action: Getvar", "Variable: GLOBALSECRET"}, "Response: Error\r\nMessage: No such channel\r\n\r\n"},
		{[]string{"Action: Originate", "Channel: PJSIP/1001", "Context: originate", "Exten: 100", "Priority: 1"}, "Response: Error\r\nMessage: Originate failed\r\n\r\n"},
		{[]string{"Action: DBPut", "Family: f", "Key: k", "Val: v"}, "Response: Error\r\nMessage: Permission denied\r\n\r\n"},
	} {
		acme.send(tc.lines...)
		if m := acme.until("Response:"); m != tc.want {
			t.Errorf("%v: %q, want %q", tc.lines, m, tc.want)
		}
	}
	// A regex hangup matches acme's own call only.
	acme.send("Action: Hangup", "Channel: /carrier/")
	if m := acme.until("Response:"); m != "Response: Success\r\nEventList: start\r\nMessage: Channels hung up will follow\r\n\r\n" {
		t.Errorf("regex hangup: %q", m)
	}
	var hung []string
	for {
		m := acme.read()
		if strings.HasPrefix(m, "Event: ChannelHungup") {
			hung = append(hung, hdr(m, "Channel"))
		}
		if strings.HasPrefix(m, "Event: ChannelsHungupListComplete") {
			break
		}
	}
	if len(hung) != 1 || hung[0] != mine {
		t.Errorf("acme's /carrier/ hangup hit %v, want [%s]", hung, mine)
	}
	// acme gets its call's Cdr and Hangup, and never an event of the
	// other call, which the admin now hangs up.
	acme.untilFn(func(m string) bool { return strings.HasPrefix(m, "Event: Hangup\r\n") && hdr(m, "Channel") == mine })
	admin.send("Action: Hangup", "Channel: "+theirs)
	admin.untilFn(func(m string) bool { return strings.HasPrefix(m, "Event: Hangup\r\n") && hdr(m, "Channel") == theirs })
	acme.send("Action: Ping", "ActionID: end")
	for _, m := range acme.untilFn(func(m string) bool { return hdr(m, "ActionID") == "end" }) {
		if strings.Contains(m, theirs) {
			t.Errorf("tenant user saw %q", m)
		}
	}
	n.waitIdle(t)
}
