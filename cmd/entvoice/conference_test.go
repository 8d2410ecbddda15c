package main

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/entvoice/entvoice/internal/testpeer"
)

// TestConferenceCLI: two SIPp calls in conference 800 of `entvoice serve`
// are listed by `entvoice conference list` and `participants`; mute and
// kick through the API act on them (kick all ends the conference, and
// SIPp's calls are hung up by the dialplan); a conference that does not
// exist is exit code 3, a missing channel refused input (5).
func TestConferenceCLI(t *testing.T) {
	const admin = "admin-token-for-conference-tests-0123"
	dir := t.TempDir()
	plan := writeFile(t, dir, "extensions.conf", "[conf]\nexten => 800,1,ConfBridge(800)\n same => n,Hangup()\n")
	p := startServe(t, admin, "dialplan: "+plan+"\nusers:\n  - {name: \"1001\", secret: pass1001, context: conf}\n")
	uac := testpeer.StartSIPp(t, testpeer.SIPpOptions{Target: p.sip, Scenario: "uac_call_until_bye", Service: "800", Calls: 2, Rate: 10,
		AuthUser: "1001", AuthPass: "pass1001", Keys: map[string]string{"caller": "1001", "rtp_port": "9"}, Timeout: 40 * time.Second})
	var rooms struct {
		Items []struct {
			Name    string
			Parties int
		}
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		if err := json.Unmarshal([]byte(p.mustCLI(t, "", "conference", "list", "-o", "json")), &rooms); err != nil {
			t.Fatal(err)
		}
		if len(rooms.Items) == 1 && rooms.Items[0].Parties == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("conference list: %+v", rooms)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if rooms.Items[0].Name != "800" {
		t.Errorf("conference %q, want 800", rooms.Items[0].Name)
	}
	out := p.mustCLI(t, "", "conference", "participants", "800")
	if strings.Count(out, "PJSIP/1001-") != 2 {
		t.Errorf("participants:\n%s", out)
	}
	p.mustCLI(t, "", "conference", "mute", "800", "PJSIP/1001")
	var parts struct{ Items []struct{ Muted bool } }
	if err := json.Unmarshal([]byte(p.mustCLI(t, "", "conference", "participants", "800", "-o", "json")), &parts); err != nil {
		t.Fatal(err)
	}
	muted := 0
	for _, x := range parts.Items {
		if x.Muted {
			muted++
		}
	}
	if muted != 1 {
		t.Errorf("after muting PJSIP/1001 (a leading part): %d muted, want the first match only", muted)
	}
	if _, _, code := p.cli(t, "", "conference", "kick", "999", "all"); code != 3 {
		t.Errorf("kick in a conference that does not exist: exit %d, want 3", code)
	}
	if _, _, code := p.cli(t, "", "conference", "kick", "800", ""); code != 5 {
		t.Errorf("kick without a channel: exit %d, want 5", code)
	}
	p.mustCLI(t, "", "conference", "kick", "800", "all")
	if res := uac.Wait(20 * time.Second); res == nil || res.ExitCode != 0 {
		t.Errorf("the kicked SIPp calls did not end cleanly: %+v", res)
	}
	if _, _, code := p.cli(t, "", "conference", "participants", "800"); code != 3 {
		t.Errorf("participants of an ended conference: exit %d, want 3", code)
	}
}
