package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/entvoice/entvoice/internal/media"
	"github.com/entvoice/entvoice/internal/testpeer"
)

// TestCLIVoicemail: with the real binary, a tenant's mailbox is made with
// the CLI, a SIPp phone leaves a message (its 1 kHz tone), and the CLI
// lists it, saves its recording (the tone, checked by Goertzel) and
// deletes it; mistakes get the exit codes scripts rely on.
func TestCLIVoicemail(t *testing.T) {
	const admin = "admin-token-for-voicemail-0123456"
	dir := t.TempDir()
	vm := filepath.Join(dir, "voicemail.conf")
	if err := os.WriteFile(vm, []byte("[general]\nmaxsecs=60\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	p := startServe(t, admin, "voicemail: "+vm+"\n")
	p.mustCLI(t, "", "tenant", "create", "acme", "--domain", "acme.example")
	for _, u := range []string{"1001", "1002"} {
		p.mustCLI(t, "", "user", "create", u, "--tenant", "acme", "--password", "acme-pw-"+u, "--context", "internal")
	}
	p.mustCLI(t, "", "ext", "add", "--tenant", "acme", "--context", "internal", "--exten", "8000", "--priority", "1", "--app", "VoiceMail", "--appdata", "1001@default,s")
	p.mustCLI(t, "", "ext", "add", "--tenant", "acme", "--context", "internal", "--exten", "8000", "--priority", "2", "--app", "Hangup")
	out := p.mustCLI(t, "", "mailbox", "create", "1001", "--tenant", "acme", "--pin", "4242", "--fullname", "Alice", "--option", "maxmsg=10", "-o", "json")
	if strings.Contains(out, "4242") || !strings.Contains(out, `"has_pin": true`) && !strings.Contains(out, `"has_pin":true`) {
		t.Fatalf("mailbox create:\n%s", out)
	}
	if _, e, code := p.cli(t, "", "mailbox", "create", "1002", "--tenant", "acme", "--pin", "12a"); code != exitInvalid || !strings.Contains(e, "pin") {
		t.Errorf("bad PIN: exit %d %q", code, e)
	}
	if _, _, code := p.cli(t, "", "mailbox", "get", "9999", "--tenant", "acme"); code != exitNotFound {
		t.Errorf("unknown mailbox: exit %d", code)
	}
	if out := p.mustCLI(t, "", "mailbox", "list", "--tenant", "acme"); !strings.Contains(out, "Alice") {
		t.Errorf("mailbox list:\n%s", out)
	}

	// The provisioned mailbox reaches the node within a second; SIPp
	// leaves a 3 s message and hangs up (kept, as Asterisk keeps it).
	time.Sleep(time.Second)
	call := testpeer.RunSIPp(t, testpeer.SIPpOptions{Target: p.sip, Scenario: "uac_call_auth", Service: "8000", Calls: 1,
		AuthUser: "1002", AuthPass: "acme-pw-1002", Pcap: testpeer.TonePcap(t, 1000, 3*time.Second, ""),
		Keys: map[string]string{"caller": "1002", "domain": "acme.example", "hold_ms": "4500"}})
	if call.ExitCode != 0 {
		t.Fatalf("SIPp leaving a message: exit %d", call.ExitCode)
	}
	var page struct {
		Items []struct {
			ID       string `json:"id"`
			Folder   string `json:"folder"`
			CallerID string `json:"callerid"`
			Duration int    `json:"duration"`
		} `json:"items"`
	}
	for end := time.Now().Add(5 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if err := json.Unmarshal([]byte(p.mustCLI(t, "", "mailbox", "messages", "1001", "--tenant", "acme", "-o", "json")), &page); err != nil {
			t.Fatal(err)
		}
		if len(page.Items) > 0 || time.Now().After(end) {
			break
		}
	}
	if len(page.Items) != 1 || page.Items[0].Folder != "INBOX" || !strings.Contains(page.Items[0].CallerID, "1002") || page.Items[0].Duration < 3 {
		t.Fatalf("messages %+v", page)
	}
	id := page.Items[0].ID
	wav := filepath.Join(dir, "msg.wav")
	p.mustCLI(t, "", "mailbox", "audio", "1001", id, "--tenant", "acme", "-O", wav)
	f, err := os.Open(wav)
	if err != nil {
		t.Fatal(err)
	}
	pcm, err := media.ReadWAV(f)
	f.Close()
	if err != nil || len(pcm) < 2*8000 {
		t.Fatalf("recording: %d samples %v", len(pcm), err)
	}
	if a := testpeer.Goertzel(pcm[8000:16000], 8000, 1000); a < 2000 {
		t.Errorf("the message does not hold the 1 kHz tone: amplitude %.0f", a)
	}
	p.mustCLI(t, "", "mailbox", "delete-message", "1001", id, "--tenant", "acme")
	if _, _, code := p.cli(t, "", "mailbox", "message", "1001", id, "--tenant", "acme"); code != exitNotFound {
		t.Errorf("deleted message: exit %d", code)
	}
}
