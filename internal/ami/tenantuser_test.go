package ami_test

import (
	"strings"
	"testing"

	"github.com/entvoice/entvoice/internal/testpeer"
)

// TestTenantUserCall: SIP users 2001 of hosted tenants acme and beta (from
// the store) call 100 from their own domains, as does static user 3001
// (the default tenant). acme's AMI user sees acme's call, with Tenantid
// and its context by its own name, through to Cdr and Hangup, and nothing
// of the other two; the admin sees all three, the static one without
// Tenantid, as Asterisk 22 shows a channel without a tenant id.
func TestTenantUserCall(t *testing.T) {
	testpeer.SIPpPath(t)
	n := startAMINodeWith(t, `users:
  - {name: "3001", secret: pw3001, context: ivr}
`, `[ivr]
exten => 100,1,Answer()
 same => n,Wait(10)
 same => n,Hangup()
`, provisionTenants)
	acme := dialRaw(t, n.AMIAddr, "acme", acmePW)
	admin := dialRaw(t, n.AMIAddr, "admin", "secret")
	call := func(user, pass, domain string) {
		t.Helper()
		keys := map[string]string{"caller": user, "hold_ms": "300"}
		if domain != "" {
			keys["domain"] = domain
		}
		res := testpeer.RunSIPp(t, testpeer.SIPpOptions{Target: n.SIPAddr, Scenario: "uac_call_auth", Service: "100", Calls: 1,
			AuthUser: user, AuthPass: pass, Keys: keys})
		if res.ExitCode != 0 {
			t.Fatalf("%s@%s's call: sipp exit %d", user, domain, res.ExitCode)
		}
	}
	call("3001", "pw3001", "")
	call("2001", "beta-2001", "beta.example")
	call("2001", "acme-2001", "acme.example")

	var seq []string
	var acmeChan string
	devInUse, extInUse := false, false
	for _, m := range acme.untilFn(func(m string) bool { return strings.HasPrefix(m, "Event: Hangup\r\n") }) {
		// Device states are per tenant: beta's PJSIP/2001 (called
		// first) is not acme's, and acme's hint follows its own device.
		switch hdr(m, "Event") {
		case "DeviceStateChange":
			if acmeChan == "" || hdr(m, "Device") != "PJSIP/2001" {
				t.Errorf("acme's AMI user got %q before its own call", m)
			}
			devInUse = devInUse || hdr(m, "State") == "INUSE"
			continue
		case "ExtensionStatus":
			if acmeChan == "" || hdr(m, "Exten") != "2001" || hdr(m, "Context") != "ivr" {
				t.Errorf("acme's AMI user got %q", m)
			}
			extInUse = extInUse || hdr(m, "StatusText") == "InUse"
			continue
		}
		if strings.Contains(m, "PJSIP/3001-") || strings.Contains(m, "Tenantid: beta") || strings.Contains(m, "Tenantid: default") {
			t.Errorf("acme's AMI user saw another tenant's call: %q", m)
		}
		e := hdr(m, "Event")
		if e == "SuccessfulAuth" || e == "ChallengeSent" {
			// Security events: its own login, and the SIP challenge of
			// its tenant's caller (tenant-scoped, as channels are).
			continue
		}
		seq = append(seq, e)
		if ch := hdr(m, "Channel"); ch != "" {
			if acmeChan == "" {
				acmeChan = ch
			}
			if ch != acmeChan {
				t.Errorf("acme's AMI user saw a second channel: %q", m)
			}
		}
		if e == "Newchannel" && (!strings.HasPrefix(hdr(m, "Channel"), "PJSIP/2001-") || hdr(m, "Tenantid") != "acme") {
			t.Errorf("Newchannel %q", m)
		}
		if e == "Newexten" && (hdr(m, "Context") != "ivr" || hdr(m, "Tenantid") != "acme") {
			t.Errorf("Newexten %q", m)
		}
	}
	got := strings.Join(seq, ",")
	if !strings.HasPrefix(got, "Newchannel,VarSet,Newexten,Newstate") || !strings.HasSuffix(got, "Cdr,Hangup") {
		t.Errorf("tenant's events %s", got)
	}
	if !devInUse || !extInUse {
		t.Errorf("acme's device/hint never in use: %v %v", devInUse, extInUse)
	}
	// The admin saw the three calls' Newchannel: the static user's without
	// Tenantid, each tenant's with its own.
	tenants := map[string]string{}
	for len(tenants) < 3 {
		m := admin.until("Event: Newchannel")
		tid, has := hdr(m, "Tenantid"), strings.Contains(m, "\r\nTenantid: ")
		switch {
		case strings.HasPrefix(hdr(m, "Channel"), "PJSIP/3001-") && !has:
			tenants["default"] = hdr(m, "Channel")
		case strings.HasPrefix(hdr(m, "Channel"), "PJSIP/2001-") && (tid == "acme" || tid == "beta"):
			tenants[tid] = hdr(m, "Channel")
		default:
			t.Fatalf("admin's Newchannel %q", m)
		}
	}
	if tenants["acme"] != acmeChan {
		t.Errorf("admin's acme channel %s, acme's %s", tenants["acme"], acmeChan)
	}
	// ExtensionState: a tenant names its own contexts; the admin names
	// the node's (the static [ivr] has no 2001 hint).
	for _, c := range []struct {
		cl       *rawClient
		ctx, out string
	}{
		{acme, "ivr", "Response: Success\r\nMessage: Extension Status\r\nExten: 2001\r\nContext: ivr\r\nHint: PJSIP/2001\r\nStatus: 4\r\nStatusText: Unavailable\r\n\r\n"},
		{acme, "beta~ivr", "Response: Success\r\nMessage: Extension Status\r\nExten: 2001\r\nContext: beta~ivr\r\nHint: \r\nStatus: -1\r\nStatusText: Unknown\r\n\r\n"},
		{admin, "ivr", "Response: Success\r\nMessage: Extension Status\r\nExten: 2001\r\nContext: ivr\r\nHint: \r\nStatus: -1\r\nStatusText: Unknown\r\n\r\n"},
		{admin, "beta~ivr", "Response: Success\r\nMessage: Extension Status\r\nExten: 2001\r\nContext: beta~ivr\r\nHint: PJSIP/2001\r\nStatus: 4\r\nStatusText: Unavailable\r\n\r\n"},
	} {
		c.cl.send("Action: ExtensionState", "Context: "+c.ctx, "Exten: 2001")
		if m := c.cl.until("Response:"); m != c.out {
			t.Errorf("ExtensionState 2001@%s: %q, want %q", c.ctx, m, c.out)
		}
	}

	n.waitIdle(t)
}
