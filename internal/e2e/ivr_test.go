package e2e

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/entvoice/entvoice/internal/testpeer"
)

const ivrUsers = `users:
  - {name: "1001", secret: pass1001, context: ivr, callerid: '"Alice" <1001>'}
`

// The IVR plays a prompt, reads digits with Read, branches with GotoIf and
// hangs up; the branch it took is written to the CDR's userfield.
const ivrPlan = `[ivr]
exten => 500,1,Answer()
 same => n,Read(DIGITS,beep,3,,1,4)
 same => n,GotoIf($["${DIGITS}" = "42"]?right:wrong)
 same => n(right),Set(CDR(userfield)=right-${DIGITS}-${READSTATUS})
 same => n,Hangup()
 same => n(wrong),Set(CDR(userfield)=wrong-${DIGITS}-${READSTATUS})
 same => n,Hangup()
`

func checkIVR(t *testing.T, n *testNode, log string, want string) {
	t.Helper()
	got := startLines(log)
	// INVITE, 401, ACK, INVITE, 100, 200, ACK, (INFO/200...), BYE, 200
	wantPrefix := []string{"INVITE", "401", "ACK", "INVITE"}
	if len(got) < 8 || !slices.Equal(got[:4], wantPrefix) || !slices.Contains(got, "ACK") || got[len(got)-2] != "BYE" || got[len(got)-1] != "200" {
		t.Errorf("SIP flow %v", got)
	}
	n.waitIdle(t)
	rows := n.cdrs(t, 1)
	if len(rows) != 1 {
		t.Fatalf("want 1 CDR, got %d", len(rows))
	}
	r := rows[0]
	if r.UserField != want || r.Disposition != "ANSWERED" || r.Dst != "500" || r.DContext != "ivr" || r.Src != "1001" || r.LastApp != "Hangup" {
		t.Errorf("CDR %+v, want userfield %q", r, want)
	}
}

// TestIVRWithRFC4733Digits: SIPp sends 4 2 # as RFC 4733 events in its
// RTP stream; Read collects "42" and the IVR takes the right branch.
func TestIVRWithRFC4733Digits(t *testing.T) {
	n := startNode(t, nodeSpec{yaml: ivrUsers, dialplan: ivrPlan})
	pcap := filepath.Join(t.TempDir(), "dtmf.pcap")
	if err := testpeer.WriteRTPPcap(pcap, testpeer.PcapOptions{
		Audio: testpeer.GenerateSilence(600 * time.Millisecond), DTMF: "42#",
	}); err != nil {
		t.Fatal(err)
	}
	code, log := sipp(t, testpeer.SIPpOptions{Target: n.Addr, Scenario: scenario("uac_ivr_rfc4733.xml"), Service: "500",
		Keys: map[string]string{"caller": "1001"}, AuthUser: "1001", AuthPass: "pass1001", Pcap: pcap})
	if code != 0 {
		t.Fatalf("sipp exit %d", code)
	}
	checkIVR(t, n, log, "right-42-OK")
}

// TestIVRWithSIPInfoDigits: the same IVR, digits sent as SIP INFO
// application/dtmf-relay; 7 7 # takes the wrong branch.
func TestIVRWithSIPInfoDigits(t *testing.T) {
	n := startNode(t, nodeSpec{yaml: ivrUsers, dialplan: ivrPlan})
	code, log := sipp(t, testpeer.SIPpOptions{Target: n.Addr, Scenario: scenario("uac_ivr_info.xml"), Service: "500",
		Keys:     map[string]string{"caller": "1001", "d1": "7", "d2": "7", "d3": "#"},
		AuthUser: "1001", AuthPass: "pass1001"})
	if code != 0 {
		t.Fatalf("sipp exit %d", code)
	}
	if !strings.Contains(log, "application/dtmf-relay") {
		t.Fatal("no INFO sent")
	}
	checkIVR(t, n, log, "wrong-77-OK")
}

// TestRegisterWithSIPp: SIPp registers with digest auth (right password:
// 401 then 200, then un-registers), and with a wrong password gets 401
// twice and no binding.
func TestRegisterWithSIPp(t *testing.T) {
	n := startNode(t, nodeSpec{yaml: ivrUsers, dialplan: ivrPlan})
	scen, _ := filepath.Abs("../registrar/testdata/uac_register.xml")
	code, log := sipp(t, testpeer.SIPpOptions{Target: n.Addr, Scenario: scen, Service: "1001", AuthUser: "1001", AuthPass: "pass1001"})
	if code != 0 {
		t.Fatalf("register: sipp exit %d", code)
	}
	if got := startLines(log); !slices.Equal(got, []string{"REGISTER", "401", "REGISTER", "200", "REGISTER", "200"}) {
		t.Errorf("flow %v", got)
	}
	bad, _ := filepath.Abs("../registrar/testdata/uac_register_wrong_password.xml")
	code, log = sipp(t, testpeer.SIPpOptions{Target: n.Addr, Scenario: bad, Service: "1001", AuthUser: "1001", AuthPass: "wrong"})
	if code != 0 {
		t.Fatalf("wrong password: sipp exit %d", code)
	}
	if got := startLines(log); !slices.Equal(got, []string{"REGISTER", "401", "REGISTER", "401"}) {
		t.Errorf("wrong password flow %v", got)
	}
	if b := n.SIP.Registrar().Lookup("1001"); len(b) != 0 {
		t.Errorf("bindings after unregister and failed register: %+v", b)
	}
}
