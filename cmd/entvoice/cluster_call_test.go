package main

import (
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/entvoice/entvoice/internal/media"
	"github.com/entvoice/entvoice/internal/testpeer"
)

// TestClusterCrossNodeCall: a phone registered on node A calls a phone
// registered on node B. Node A finds B through central (Locate), calls it
// over SIP on mutual TLS with the node certificates, B rings its phone (a
// real baresip), and audio flows both ways through both nodes: SIPp on A
// hears baresip's 700 Hz, baresip hears SIPp's 1 kHz. Central then holds
// both nodes' CDRs of the call, sharing one linkedid. The same call while
// central is down fails cleanly (a node alone serves its own users).
func TestClusterCrossNodeCall(t *testing.T) {
	needSIPp(t)
	if _, err := exec.LookPath("baresip"); err != nil {
		t.Skip("baresip not installed")
	}
	c, a, b := linkedPair(t)
	c.cli(t, "ext", "add", "--tenant", "default", "--context", "internal", "--exten", "_20XX", "--priority", "1", "--app", "Dial", "--appdata", "PJSIP/${EXTEN},20")

	dir := t.TempDir()
	wav := filepath.Join(dir, "tone700.wav")
	if err := testpeer.WriteWAV(wav, testpeer.GenerateTone(700, 30*time.Second, 8000)); err != nil {
		t.Fatal(err)
	}
	recDir := filepath.Join(dir, "rec")
	if err := os.Mkdir(recDir, 0o755); err != nil {
		t.Fatal(err)
	}
	phoneB := testpeer.StartBaresip(t, testpeer.BaresipOptions{User: "2002", Pass: "pw-2002-secret", Registrar: b.sip, AudioFile: wav, RecordDir: recDir, AnswerMode: "auto"})
	defer phoneB.Stop()
	// Central knows where 2002 is: GET .../location asks the nodes.
	var loc struct{ Node, SIP string }
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if c.apiCall(t, "GET", "/tenants/default/users/2002/location", "", &loc) == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("baresip did not register 2002 on node B (central does not locate it)")
		}
	}
	if loc.Node != "site-b" || !strings.HasPrefix(loc.SIP, "127.0.0.3:") {
		t.Fatalf("2002 located at %+v, want site-b", loc)
	}
	if code := c.apiCall(t, "GET", "/tenants/default/users/2001/location", "", nil); code != 404 {
		t.Fatalf("location of 2001, registered nowhere: HTTP %d, want 404", code)
	}

	// The caller's media: SIPp signals, the recorder is its RTP end (the
	// SDP names it) and answers node A with a 1 kHz tone from there. SIPp
	// itself sends a single packet, too few for node A to latch onto it.
	rec := testpeer.RecordRTP(t)
	rec.Answer(testpeer.PCMU, testpeer.GenerateTone(1000, 4*time.Second, 8000))
	onePacket := filepath.Join(dir, "one.pcap")
	if err := testpeer.WriteRTPPcap(onePacket, testpeer.PcapOptions{Audio: testpeer.GenerateSilence(20 * time.Millisecond)}); err != nil {
		t.Fatal(err)
	}
	r := testpeer.RunSIPp(t, testpeer.SIPpOptions{Target: a.sip, Scenario: "uac_call_auth", Service: "2002", Calls: 1,
		AuthUser: "2001", AuthPass: "pw-2001-secret", Pcap: onePacket,
		Keys: map[string]string{"caller": "2001", "rtp_port": itoa(rec.Port()), "hold_ms": "3000"}, Timeout: 30 * time.Second})
	if r.ExitCode != 0 {
		t.Fatalf("call from 2001 on node A to 2002 on node B: SIPp exit %d", r.ExitCode)
	}
	heardA, heardB := testpeer.Goertzel(rec.PCM(testpeer.PCMU), 8000, 700), heardByBaresip(t, recDir, 1000)
	t.Logf("caller heard 700 Hz at %.0f (%d packets); baresip heard 1 kHz at %.0f", heardA, len(rec.RTP()), heardB)
	if heardA < 1000 {
		t.Errorf("the caller on node A heard baresip's 700 Hz at amplitude %.0f", heardA)
	}
	if heardB < 1000 {
		t.Errorf("baresip on node B heard the caller's 1 kHz at amplitude %.0f", heardB)
	}

	// Both nodes' CDRs reach central, linked.
	type row struct {
		Node, Uniqueid, Linkedid, Channel, Dstchannel, Dst, Dcontext, Disposition string
	}
	var rows []row
	deadline := time.Now().Add(15 * time.Second)
	for {
		var page struct {
			Items []row `json:"items"`
		}
		c.apiCall(t, "GET", "/cdrs?limit=50", "", &page)
		rows = page.Items
		if len(rows) >= 2 || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if len(rows) != 2 {
		t.Fatalf("central holds %d CDRs of the cross-node call, want 2 (one per node): %+v", len(rows), rows)
	}
	t.Logf("CDRs: %+v", rows)
	byNode := map[string]row{}
	for _, x := range rows {
		byNode[x.Node] = x
	}
	ra, rb := byNode["site-a"], byNode["site-b"]
	if ra.Uniqueid == "" || rb.Uniqueid == "" {
		t.Fatalf("CDRs are not one per node: %+v", rows)
	}
	if ra.Linkedid == "" || ra.Linkedid != rb.Linkedid || ra.Linkedid != ra.Uniqueid {
		t.Errorf("linkedids: node A %q (uniqueid %q), node B %q; want both the caller's uniqueid", ra.Linkedid, ra.Uniqueid, rb.Linkedid)
	}
	if ra.Disposition != "ANSWERED" || rb.Disposition != "ANSWERED" || ra.Dst != "2002" || rb.Dst != "2002" {
		t.Errorf("CDRs: node A %+v, node B %+v", ra, rb)
	}
	var linked struct {
		Items []row `json:"items"`
	}
	c.apiCall(t, "GET", "/cdrs?linkedid="+url.QueryEscape(ra.Uniqueid), "", &linked)
	if len(linked.Items) != 2 {
		t.Errorf("GET /cdrs?linkedid=%s: %d CDRs, want both nodes' legs", ra.Uniqueid, len(linked.Items))
	}
	if !strings.HasPrefix(ra.Channel, "PJSIP/2001-") || !strings.HasPrefix(ra.Dstchannel, "PJSIP/2002-") {
		t.Errorf("node A's CDR channels %q -> %q", ra.Channel, ra.Dstchannel)
	}
	if !strings.HasPrefix(rb.Channel, "PJSIP/site-a-") || !strings.HasPrefix(rb.Dstchannel, "PJSIP/2002-") || rb.Dcontext != "entvoice-peer" {
		t.Errorf("node B's CDR %q -> %q in %q; want the call from site-a in entvoice-peer", rb.Channel, rb.Dstchannel, rb.Dcontext)
	}

	// The callee hangs up: node B's BYE reaches node A over a TLS
	// connection B opens to A's peer listener, and A's BYE reaches the
	// caller.
	waitBye, err := filepath.Abs("testdata/uac_wait_bye.xml")
	if err != nil {
		t.Fatal(err)
	}
	uac := testpeer.StartSIPp(t, testpeer.SIPpOptions{Target: a.sip, Scenario: waitBye, Service: "2002", Calls: 1, Timeout: 30 * time.Second})
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		established := 0
		for _, e := range phoneB.Events() {
			if e.Type == "CALL_ESTABLISHED" {
				established++
			}
		}
		if established == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("baresip did not answer the second cross-node call: %+v", phoneB.Events())
		}
	}
	time.Sleep(300 * time.Millisecond)
	if _, err := phoneB.Command("hangup", "", 5*time.Second); err != nil {
		t.Fatal(err)
	}
	if res := uac.Wait(15 * time.Second); res == nil || res.ExitCode != 0 {
		t.Fatalf("the caller did not get the BYE of the callee on the other node: %+v", res)
	}

	// A hosted tenant's users call each other across the nodes the same
	// way: the tenant travels with the call and both legs are its.
	c.cli(t, "tenant", "create", "acme", "--name", "ACME", "--domain", "acme.example")
	c.cli(t, "user", "create", "3001", "--password", "acme-pw-3001", "--context", "internal", "--tenant", "acme")
	c.cli(t, "user", "create", "3002", "--password", "acme-pw-3002", "--context", "internal", "--tenant", "acme")
	c.cli(t, "ext", "add", "--tenant", "acme", "--context", "internal", "--exten", "_30XX", "--priority", "1", "--app", "Dial", "--appdata", "PJSIP/${EXTEN},20")
	uasPort := testpeer.FreePorts(t, 1)[0]
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		reg := testpeer.RunSIPp(t, testpeer.SIPpOptions{Target: b.sip, Scenario: "uac_register_auth", Service: "3002", Calls: 1,
			Port: uasPort, AuthUser: "3002", AuthPass: "acme-pw-3002", Keys: map[string]string{"domain": "acme.example"}})
		if reg.ExitCode == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("acme's 3002 did not register on node B: exit %d", reg.ExitCode)
		}
	}
	uas := testpeer.StartSIPp(t, testpeer.SIPpOptions{Scenario: "uas_answer", Port: uasPort, Calls: 1})
	if r := testpeer.RunSIPp(t, testpeer.SIPpOptions{Target: a.sip, Scenario: "uac_call_auth", Service: "3002", Calls: 1,
		AuthUser: "3001", AuthPass: "acme-pw-3001", Keys: map[string]string{"caller": "3001", "domain": "acme.example", "hold_ms": "300"}}); r.ExitCode != 0 {
		t.Fatalf("acme's 3001 on node A calling 3002 on node B: exit %d", r.ExitCode)
	}
	if res := uas.Stop(); res.ExitCode != 0 {
		t.Errorf("3002's SIPp UAS: exit %d", res.ExitCode)
	}
	type tenantRow struct{ Node, Tenant, Linkedid, Dst, Disposition string }
	var acme struct {
		Items []tenantRow `json:"items"`
	}
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		c.apiCall(t, "GET", "/cdrs?tenant=acme", "", &acme)
		if len(acme.Items) >= 2 || time.Now().After(deadline) {
			break
		}
	}
	if len(acme.Items) != 2 || acme.Items[0].Node == acme.Items[1].Node || acme.Items[0].Linkedid != acme.Items[1].Linkedid ||
		acme.Items[0].Disposition != "ANSWERED" || acme.Items[1].Disposition != "ANSWERED" {
		t.Fatalf("acme's CDRs of the cross-node call: %+v; want one ANSWERED per node, one linkedid", acme.Items)
	}

	// Central down: node A cannot find 2002, and says so (the call is
	// refused, not hung).
	c.p.kill9()
	a.p.waitLog(t, "link to central down", 1)
	r = testpeer.RunSIPp(t, testpeer.SIPpOptions{Target: a.sip, Scenario: "uac_call_auth", Service: "2002", Calls: 1,
		AuthUser: "2001", AuthPass: "pw-2001-secret", Keys: map[string]string{"caller": "2001", "hold_ms": "100"}, Timeout: 15 * time.Second})
	if r.ExitCode == 0 {
		t.Error("a call to a user on another node succeeded while central was down")
	}
}

// heardByBaresip is the amplitude of freq in baresip's decoded-audio
// recording (the sound its speaker got).
func heardByBaresip(t *testing.T, dir string, freq float64) float64 {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(dir, "dump-*-dec.wav"))
	if len(files) == 0 {
		t.Fatalf("baresip wrote no decoded-audio recording in %s", dir)
	}
	f, err := os.Open(files[0])
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	pcm, err := media.ReadWAV(f)
	if err != nil {
		t.Fatal(err)
	}
	return testpeer.Goertzel(pcm, 8000, freq)
}
