package ami_test

import (
	"strings"
	"testing"

	"github.com/entvoice/entvoice/internal/testpeer"
)

// TestStaticUserTenant: a static SIP user with a tenant calls in: the
// tenant's AMI user sees the call with Tenantid through to Cdr and Hangup;
// a tenant-less user's call stays invisible to it.
func TestStaticUserTenant(t *testing.T) {
	testpeer.SIPpPath(t)
	n := startAMINode(t, `users:
  - {name: "2001", secret: pw2001, context: ivr, tenant: acme}
  - {name: "3001", secret: pw3001, context: ivr}
`, `[ivr]
exten => 100,1,Answer()
 same => n,Wait(10)
 same => n,Hangup()
`)
	acme := dialRaw(t, n.AMIAddr, "acme", "acmepw")
	res := testpeer.RunSIPp(t, testpeer.SIPpOptions{Target: n.SIPAddr, Scenario: "uac_call_auth", Service: "100", Calls: 1,
		AuthUser: "3001", AuthPass: "pw3001", Keys: map[string]string{"caller": "3001", "hold_ms": "300"}})
	if res.ExitCode != 0 {
		t.Fatalf("3001's call: sipp exit %d", res.ExitCode)
	}
	res = testpeer.RunSIPp(t, testpeer.SIPpOptions{Target: n.SIPAddr, Scenario: "uac_call_auth", Service: "100", Calls: 1,
		AuthUser: "2001", AuthPass: "pw2001", Keys: map[string]string{"caller": "2001", "hold_ms": "300"}})
	if res.ExitCode != 0 {
		t.Fatalf("2001's call: sipp exit %d", res.ExitCode)
	}
	var seq []string
	for _, m := range acme.untilFn(func(m string) bool { return strings.HasPrefix(m, "Event: Hangup\r\n") }) {
		if strings.Contains(m, "PJSIP/3001-") {
			t.Errorf("tenant user saw the default tenant's call: %q", m)
		}
		e := hdr(m, "Event")
		if e == "SuccessfulAuth" {
			continue
		}
		seq = append(seq, e)
		if e == "Newchannel" && (!strings.HasPrefix(hdr(m, "Channel"), "PJSIP/2001-") || hdr(m, "Tenantid") != "acme") {
			t.Errorf("Newchannel %q", m)
		}
	}
	got := strings.Join(seq, ",")
	if !strings.HasPrefix(got, "Newchannel,VarSet,Newexten,Newstate") || !strings.HasSuffix(got, "Cdr,Hangup") {
		t.Errorf("tenant's events %s", got)
	}
}
