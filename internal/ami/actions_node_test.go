package ami_test

import (
	"strings"
	"testing"
)

// TestNodeActions: DB*, Reload, ExtensionState with ExtensionStatus
// events, PJSIPShowEndpoints on a running node.
func TestNodeActions(t *testing.T) {
	n, _ := startWithUAS(t)
	c := dialRaw(t, n.AMIAddr, "admin", "secret")
	for _, tc := range []struct {
		lines []string
		want  string
	}{
		{[]string{"Action: DBGet", "Family: cidname", "Key: 5551234"}, "Response: Error\r\nMessage: Database entry not found\r\n\r\n"},
		{[]string{"Action: DBPut", "Family: cidname", "Key: 5551234", "Val: Alice"}, "Response: Success\r\nMessage: Updated database successfully\r\n\r\n"},
		{[]string{"Action: DBPut", "Family: cidname", "Key: 5551234", "Val: Alice B"}, "Response: Success\r\nMessage: Updated database successfully\r\n\r\n"},
		{[]string{"Action: DBGet", "Family: cidname", "ActionID: x"}, "Response: Error\r\nActionID: x\r\nMessage: No key specified.\r\n\r\n"},
		{[]string{"Action: DBPut", "Key: 1"}, "Response: Error\r\nMessage: No family specified\r\n\r\n"},
		{[]string{"Action: DBDel", "Family: cidname"}, "Response: Error\r\nMessage: No key specified.\r\n\r\n"},
		{[]string{"Action: Reload", "Module: chan_dahdi"}, "Response: Error\r\nMessage: No such module\r\n\r\n"},
		{[]string{"Action: Reload"}, "Response: Success\r\nMessage: Module Reloaded\r\n\r\n"},
		{[]string{"Action: ExtensionState", "Context: originate", "Exten: 555", "ActionID: es"}, "Response: Success\r\nActionID: es\r\nMessage: Extension Status\r\nExten: 555\r\nContext: originate\r\nHint: PJSIP/carrier\r\nStatus: 0\r\nStatusText: Idle\r\n\r\n"},
		{[]string{"Action: ExtensionState", "Context: originate", "Exten: 1001"}, "Response: Success\r\nMessage: Extension Status\r\nExten: 1001\r\nContext: originate\r\nHint: PJSIP/1001\r\nStatus: 4\r\nStatusText: Unavailable\r\n\r\n"},
		{[]string{"Action: ExtensionState", "Context: originate", "Exten: 100"}, "Response: Success\r\nMessage: Extension Status\r\nExten: 100\r\nContext: originate\r\nHint: \r\nStatus: -1\r\nStatusText: Unknown\r\n\r\n"},
	} {
		c.send(tc.lines...)
		if m := c.until("Response:"); m != tc.want {
			t.Errorf("%v: %q, want %q", tc.lines, m, tc.want)
		}
	}
	c.send("Action: DBGet", "Family: cidname", "Key: 5551234", "ActionID: d")
	c.until("Response: Success")
	if m := c.until("Event: DBGetResponse"); m != "Event: DBGetResponse\r\nFamily: cidname\r\nKey: 5551234\r\nVal: Alice B\r\nActionID: d\r\n\r\n" {
		t.Errorf("DBGetResponse %q", m)
	}
	if m := c.until("Event: DBGetComplete"); m != "Event: DBGetComplete\r\nActionID: d\r\nEventList: Complete\r\nListItems: 1\r\n\r\n" {
		t.Errorf("DBGetComplete %q", m)
	}
	c.send("Action: DBDel", "Family: cidname", "Key: 5551234")
	if m := c.until("Response:"); m != "Response: Success\r\nMessage: Key deleted successfully\r\n\r\n" {
		t.Errorf("DBDel %q", m)
	}
	c.send("Action: DBDel", "Family: cidname", "Key: 5551234")
	if m := c.until("Response:"); m != "Response: Error\r\nMessage: Database entry could not be deleted\r\n\r\n" {
		t.Errorf("second DBDel %q", m)
	}

	c.send("Action: PJSIPShowEndpoints", "ActionID: ep")
	if m := c.until("Response:"); m != "Response: Success\r\nActionID: ep\r\nEventList: start\r\nMessage: A listing of Endpoints follows, presented as EndpointList events\r\n\r\n" {
		t.Errorf("PJSIPShowEndpoints ack %q", m)
	}
	var names []string
	for _, m := range c.untilFn(func(m string) bool { return strings.HasPrefix(m, "Event: EndpointListComplete") }) {
		if strings.HasPrefix(m, "Event: EndpointList\r\n") {
			names = append(names, hdr(m, "ObjectName")+"="+hdr(m, "DeviceState"))
		}
	}
	if strings.Join(names, ",") != "1001=Unavailable,carrier=Not in use" {
		t.Errorf("endpoints %v", names)
	}

	// A call through the trunk turns the hint busy: ExtensionStatus.
	c.send("Action: Originate", "ActionID: x", "Channel: PJSIP/555@carrier", "Context: originate",
		"Exten: 100", "Priority: 1", "Async: yes")
	var ch string
	var states []string
	for _, m := range c.untilFn(func(m string) bool { return strings.HasPrefix(m, "Event: OriginateResponse") }) {
		if strings.HasPrefix(m, "Event: OriginateResponse") {
			ch = hdr(m, "Channel")
		}
		if strings.HasPrefix(m, "Event: ExtensionStatus") {
			states = append(states, hdr(m, "StatusText"))
			if hdr(m, "StatusText") == "InUse" && m != "Event: ExtensionStatus\r\nPrivilege: call,all\r\nExten: 555\r\nContext: originate\r\nHint: PJSIP/carrier\r\nStatus: 1\r\nStatusText: InUse\r\n\r\n" {
				t.Errorf("ExtensionStatus %q", m)
			}
		}
	}
	if strings.Join(states, ",") != "Ringing,InUse" {
		t.Errorf("hint states during the call setup: %v, want Ringing,InUse", states)
	}
	c.send("Action: Hangup", "Channel: "+ch)
	if m := c.until("Event: ExtensionStatus"); hdr(m, "Status") != "0" || hdr(m, "StatusText") != "Idle" {
		t.Errorf("ExtensionStatus after hangup %q", m)
	}
	n.waitIdle(t)
}
