package ami_test

import (
	"strings"
	"testing"

	"github.com/entvoice/entvoice/internal/testpeer"
)

// TestRegistrationEvents: a phone registering and unregistering raises
// ContactStatus Created/Removed and PeerStatus Reachable/Unreachable, and
// its endpoint's device state follows.
func TestRegistrationEvents(t *testing.T) {
	testpeer.SIPpPath(t)
	n := startAMINode(t, `users:
  - {name: "1001", secret: pw1001, context: default}
`, "[default]\nexten => 100,1,Answer()\n")
	c := dialRaw(t, n.AMIAddr, "admin", "secret")
	// The same port both times: the un-REGISTER names the same contact.
	port := testpeer.FreePorts(t, 1)[0]
	reg := func(expires string) {
		t.Helper()
		res := testpeer.RunSIPp(t, testpeer.SIPpOptions{Target: n.SIPAddr, Scenario: "uac_register_auth", Service: "1001", Calls: 1, Port: port,
			AuthUser: "1001", AuthPass: "pw1001", Keys: map[string]string{"caller": "1001", "expires": expires}})
		if res.ExitCode != 0 {
			t.Fatalf("REGISTER expires=%s: sipp exit %d", expires, res.ExitCode)
		}
	}
	reg("3600")
	var got []string
	for _, m := range c.untilFn(func(m string) bool { return strings.HasPrefix(m, "Event: PeerStatus") }) {
		switch hdr(m, "Event") {
		case "ContactStatus":
			got = append(got, "ContactStatus:"+hdr(m, "ContactStatus"))
			if hdr(m, "AOR") != "1001" || !strings.HasPrefix(hdr(m, "URI"), "sip:1001@") || hdr(m, "Privilege") != "system,all" {
				t.Errorf("ContactStatus %q", m)
			}
		case "PeerStatus":
			got = append(got, "PeerStatus:"+hdr(m, "PeerStatus"))
			if hdr(m, "Peer") != "PJSIP/1001" || hdr(m, "ChannelType") != "PJSIP" {
				t.Errorf("PeerStatus %q", m)
			}
		case "DeviceStateChange":
			got = append(got, "Device:"+hdr(m, "State"))
		}
	}
	// Contacts: as ast_sip_contact_to_str writes them, "aor/uri," each.
	c.send("Action: PJSIPShowEndpoints")
	for _, m := range c.untilFn(func(m string) bool { return strings.HasPrefix(m, "Event: EndpointListComplete") }) {
		if strings.HasPrefix(m, "Event: EndpointList\r\n") && (hdr(m, "DeviceState") != "Not in use" || !strings.HasPrefix(hdr(m, "Contacts"), "1001/sip:1001@") || !strings.HasSuffix(hdr(m, "Contacts"), ",")) {
			t.Errorf("registered endpoint %q", m)
		}
	}
	reg("0")
	for _, m := range c.untilFn(func(m string) bool { return strings.HasPrefix(m, "Event: PeerStatus") }) {
		switch hdr(m, "Event") {
		case "ContactStatus":
			got = append(got, "ContactStatus:"+hdr(m, "ContactStatus"))
		case "PeerStatus":
			got = append(got, "PeerStatus:"+hdr(m, "PeerStatus"))
		}
	}
	if g := strings.Join(got, ","); g != "ContactStatus:Created,PeerStatus:Reachable,ContactStatus:Removed,PeerStatus:Unreachable" {
		t.Errorf("registration events %s", g)
	}
}
