package testpeer

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func requireSuccess(t *testing.T, res *SIPpResult, calls int) {
	t.Helper()
	if res.ExitCode != SIPpExitOK || res.Successful != calls || res.Failed != 0 {
		t.Fatalf("sipp: exit %d, successful %d, failed %d (want 0, %d, 0)",
			res.ExitCode, res.Successful, res.Failed, calls)
	}
}

// TestSIPpBuiltins runs SIPp's own uac against its own uas.
func TestSIPpBuiltins(t *testing.T) {
	SIPpPath(t)
	t.Parallel()
	uas := StartSIPp(t, SIPpOptions{Scenario: "uas"})
	res := RunSIPp(t, SIPpOptions{Target: uas.Addr(), Scenario: "uac", Calls: 3, Rate: 10})
	requireSuccess(t, res, 3)
	if res.Created != 3 {
		t.Errorf("created %d", res.Created)
	}
	if !strings.Contains(res.MessageLog, "INVITE sip:service@") {
		t.Error("message log lacks the INVITE")
	}
	st := uas.Stop()
	if st.Successful != 3 {
		t.Errorf("uas successful %d", st.Successful)
	}
	if uas.Running() {
		t.Error("uas still running after Stop")
	}
}

// TestCallMediaBothWays: uac_call_auth -> uas_answer, each side playing a
// generated pcap to a Go RTPRecorder named in its SDP.
func TestCallMediaBothWays(t *testing.T) {
	SIPpPath(t)
	t.Parallel()
	toCaller := RecordRTP(t) // what the UAS plays
	toCallee := RecordRTP(t) // what the UAC plays
	uas := StartSIPp(t, SIPpOptions{
		Scenario: "uas_answer",
		Pcap:     TonePcap(t, 2000, time.Second, ""),
		Keys:     map[string]string{"rtp_port": itoa(toCallee.Port())},
	})
	res := RunSIPp(t, SIPpOptions{
		Target: uas.Addr(), Scenario: "uac_call_auth", Service: "1000", Calls: 1,
		Pcap: TonePcap(t, 1000, 2*time.Second, "123#"),
		Keys: map[string]string{"rtp_port": itoa(toCaller.Port()), "caller": "alice"},
	})
	requireSuccess(t, res, 1)
	if !strings.Contains(res.MessageLog, `From: "alice" <sip:alice@`) {
		t.Error("caller key not used")
	}
	st := uas.Stop()
	if st.Successful != 1 || st.ExitCode != 0 {
		t.Errorf("uas: exit %d successful %d", st.ExitCode, st.Successful)
	}
	if got := st.LogLines("INVITE sip:1000@"); len(got) != 1 {
		t.Errorf("uas log: %q", st.Log)
	}

	// UAC -> UAS: 100 packets of 1 kHz, then 123# (4*(10+3) events).
	if !toCallee.WaitPackets(100+4*13+4*10, 5*time.Second) {
		t.Fatalf("callee got %d packets", len(toCallee.Packets()))
	}
	if got := toCallee.Digits(DefaultDTMFPayloadType); got != "123#" {
		t.Errorf("digits %q", got)
	}
	pcm := toCallee.PCM(PCMU)
	if g := Goertzel(pcm[:16000], SampleRate, 1000); g < 6000 {
		t.Errorf("1 kHz level at callee %.0f", g)
	}
	// pacing: SIPp replays the pcap timing (20 ms); allow scheduling jitter
	// but reject a burst (all packets at once).
	gaps := toCallee.Gaps(uint8(PCMU))
	var total time.Duration
	for _, g := range gaps[:99] {
		total += g
	}
	if total < 1500*time.Millisecond {
		t.Errorf("100 packets arrived within %v: not paced", total)
	}

	// UAS -> UAC: 1 s of 2 kHz.
	if !toCaller.WaitPackets(50, 5*time.Second) {
		t.Fatalf("caller got %d packets", len(toCaller.Packets()))
	}
	back := toCaller.PCM(PCMU)
	if g := Goertzel(back, SampleRate, 2000); g < 6000 {
		t.Errorf("2 kHz level at caller %.0f", g)
	}
	if g := Goertzel(back, SampleRate, 1000); g > 500 {
		t.Errorf("1 kHz level at caller %.0f", g)
	}
}

func TestCallDigestAuth(t *testing.T) {
	SIPpPath(t)
	t.Parallel()
	for _, tc := range []struct {
		pass string
		ok   bool
	}{{"secret", true}, {"wrong", false}} {
		uas := StartSIPp(t, SIPpOptions{Scenario: "uas_auth_answer"})
		res := RunSIPp(t, SIPpOptions{
			Target: uas.Addr(), Scenario: "uac_call_auth", Service: "1000", Calls: 1,
			AuthUser: "alice", AuthPass: tc.pass, Timeout: 10 * time.Second,
		})
		st := uas.Stop()
		if tc.ok {
			requireSuccess(t, res, 1)
			if len(st.LogLines("INVITE auth=true")) != 1 {
				t.Errorf("uas log %q", st.Log)
			}
			// the ACK of the 401 carries the INVITE's branch (RFC 3261 17.1.1.3)
			checkNon2xxACKBranch(t, res.MessageLog)
		} else {
			if res.ExitCode != SIPpExitFailed || res.Failed != 1 {
				t.Errorf("wrong password: exit %d failed %d", res.ExitCode, res.Failed)
			}
			if len(st.LogLines("INVITE auth=false")) != 1 {
				t.Errorf("uas log %q", st.Log)
			}
		}
	}
}

// checkNon2xxACKBranch finds the first INVITE and the first ACK sent in a
// SIPp message log and compares their Via branches.
func checkNon2xxACKBranch(t *testing.T, log string) {
	t.Helper()
	branchOf := func(method string) string {
		i := strings.Index(log, "\n"+method+" sip:")
		if i < 0 {
			return ""
		}
		msg := log[i:]
		j := strings.Index(msg, "branch=")
		if j < 0 {
			return ""
		}
		b := msg[j+7:]
		return b[:strings.IndexAny(b, ";\r\n ")]
	}
	inv, ack := branchOf("INVITE"), branchOf("ACK")
	if inv == "" || inv != ack {
		t.Errorf("INVITE branch %q, ACK branch %q", inv, ack)
	}
}

func TestRegisterAuth(t *testing.T) {
	SIPpPath(t)
	t.Parallel()
	reg := StartSIPp(t, SIPpOptions{Scenario: "uas_registrar"})
	good := RunSIPp(t, SIPpOptions{Target: reg.Addr(), Scenario: "uac_register_auth", Service: "alice",
		AuthUser: "alice", AuthPass: "secret", Calls: 1})
	bad := RunSIPp(t, SIPpOptions{Target: reg.Addr(), Scenario: "uac_register_auth", Service: "alice",
		AuthUser: "alice", AuthPass: "nope", Calls: 1, Timeout: 10 * time.Second})
	st := reg.Stop()
	requireSuccess(t, good, 1)
	if bad.ExitCode != SIPpExitFailed || bad.Failed != 1 {
		t.Errorf("bad password: exit %d failed %d", bad.ExitCode, bad.Failed)
	}
	if got := strings.Join(st.LogLines("REGISTER auth="), ","); got != "REGISTER auth=true,REGISTER auth=false" {
		t.Errorf("registrar log %q", got)
	}
	if !strings.Contains(good.MessageLog, "Authorization: Digest username=\"alice\"") {
		t.Error("no Authorization header sent")
	}
}

func TestCancel(t *testing.T) {
	SIPpPath(t)
	t.Parallel()
	uas := StartSIPp(t, SIPpOptions{Scenario: "uas_noanswer"})
	res := RunSIPp(t, SIPpOptions{Target: uas.Addr(), Scenario: "uac_cancel", Service: "1000", Calls: 1,
		Keys: map[string]string{"ring_ms": "200"}})
	st := uas.Stop()
	requireSuccess(t, res, 1)
	if st.Successful != 1 || len(st.LogLines("CANCEL received")) != 1 {
		t.Errorf("uas: successful %d log %q", st.Successful, st.Log)
	}
	if !strings.Contains(res.MessageLog, "SIP/2.0 487 Request Terminated") {
		t.Error("no 487 in the UAC's message log")
	}
	// CANCEL and the ACK of the 487 share the INVITE's branch (RFC 3261 9.1, 17.1.1.3)
	checkNon2xxACKBranch(t, res.MessageLog)
	if !strings.Contains(res.MessageLog, "\nCANCEL sip:") {
		t.Error("no CANCEL sent")
	}
}

func TestExpectCode(t *testing.T) {
	SIPpPath(t)
	t.Parallel()
	uas := StartSIPp(t, SIPpOptions{Scenario: "uas_busy"})
	ok := RunSIPp(t, SIPpOptions{Target: uas.Addr(), Scenario: "uac_expect_code", Service: "1000", Calls: 1,
		Keys: map[string]string{"code": "486"}})
	anyCode := RunSIPp(t, SIPpOptions{Target: uas.Addr(), Scenario: "uac_expect_code", Service: "1000", Calls: 1})
	wrong := RunSIPp(t, SIPpOptions{Target: uas.Addr(), Scenario: "uac_expect_code", Service: "1000", Calls: 1,
		Keys: map[string]string{"code": "404"}, Timeout: 10 * time.Second,
		// a failed call makes SIPp send a BYE by default; not wanted here
		ExtraArgs: []string{"-default_behaviors", "all,-bye"}})
	st := uas.Stop()
	requireSuccess(t, ok, 1)
	requireSuccess(t, anyCode, 1)
	if c := ok.FinalCodes(); len(c) != 1 || c[0] != 486 {
		t.Errorf("final codes %v", c)
	}
	if c := anyCode.FinalCodes(); len(c) != 1 || c[0] != 486 {
		t.Errorf("final codes %v", c)
	}
	if wrong.ExitCode != SIPpExitFailed || wrong.Failed != 1 {
		t.Errorf("expecting 404 on a 486: exit %d failed %d", wrong.ExitCode, wrong.Failed)
	}
	if st.Successful != 3 {
		t.Errorf("uas successful %d (ACKs matched?)", st.Successful)
	}
	checkNon2xxACKBranch(t, ok.MessageLog)
}

func TestInfoDTMF(t *testing.T) {
	SIPpPath(t)
	t.Parallel()
	uas := StartSIPp(t, SIPpOptions{Scenario: "uas_answer"})
	res := RunSIPp(t, SIPpOptions{Target: uas.Addr(), Scenario: "uac_call_info_dtmf", Service: "1000", Calls: 1,
		Keys: map[string]string{"digits": "12*#"}})
	st := uas.Stop()
	requireSuccess(t, res, 1)
	if got := strings.Join(st.LogLines("INFO "), ","); got != "INFO Signal=1,INFO Signal=2,INFO Signal=*,INFO Signal=#" {
		t.Errorf("uas saw %q", got)
	}
	if !strings.Contains(res.MessageLog, "Content-Type: application/dtmf-relay") {
		t.Error("no dtmf-relay INFO")
	}
}

// TestUASHangup checks uas_answer_hangup with a minimal UAC that waits for
// the callee's BYE.
func TestUASHangup(t *testing.T) {
	SIPpPath(t)
	t.Parallel()
	uas := StartSIPp(t, SIPpOptions{Scenario: "uas_answer_hangup", Keys: map[string]string{"hold_ms": "300"}})
	path := filepath.Join(t.TempDir(), "uac_wait_bye.xml")
	if err := os.WriteFile(path, []byte(uacWaitBye), 0o644); err != nil {
		t.Fatal(err)
	}
	res := RunSIPp(t, SIPpOptions{Target: uas.Addr(), Scenario: path, Service: "1000", Calls: 1})
	st := uas.Stop()
	requireSuccess(t, res, 1)
	if st.Successful != 1 {
		t.Errorf("uas successful %d", st.Successful)
	}
	if !strings.Contains(res.MessageLog, "\nBYE sip:sipp@127.0.0.1:") {
		t.Error("BYE not sent to the caller's Contact")
	}
}

const uacWaitBye = `<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="uac_wait_bye">
  <send retrans="500"><![CDATA[

      INVITE sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:sipp@[local_ip]>;tag=[pid]T[call_number]
      To: <sip:[service]@[remote_ip]:[remote_port]>
      Call-ID: [call_id]
      CSeq: 1 INVITE
      Contact: <sip:sipp@[local_ip]:[local_port]>
      Content-Type: application/sdp
      Content-Length: [len]

      v=0
      o=sipp 1 1 IN IP4 [local_ip]
      s=-
      c=IN IP4 [media_ip]
      t=0 0
      m=audio [rtp_port] RTP/AVP 0
      a=rtpmap:0 PCMU/8000

    ]]></send>
  <recv response="180" optional="true"/>
  <recv response="200"/>
  <send><![CDATA[

      ACK sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:sipp@[local_ip]>;tag=[pid]T[call_number]
      To: <sip:[service]@[remote_ip]:[remote_port]>[peer_tag_param]
      Call-ID: [call_id]
      CSeq: 1 ACK
      Content-Length: 0

    ]]></send>
  <recv request="BYE"/>
  <send><![CDATA[

      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:]
      [last_Call-ID:]
      [last_CSeq:]
      Content-Length: 0

    ]]></send>
</scenario>
`

// TestAuthVariants runs the INFO and expect-code UACs through a digest
// challenge.
func TestAuthVariants(t *testing.T) {
	SIPpPath(t)
	t.Parallel()
	uas := StartSIPp(t, SIPpOptions{Scenario: "uas_auth_answer"})
	info := RunSIPp(t, SIPpOptions{Target: uas.Addr(), Scenario: "uac_call_info_dtmf", Service: "1000", Calls: 1,
		AuthUser: "alice", AuthPass: "secret", Keys: map[string]string{"digits": "5"}})
	refused := RunSIPp(t, SIPpOptions{Target: uas.Addr(), Scenario: "uac_expect_code", Service: "1000", Calls: 1,
		AuthUser: "alice", AuthPass: "bad", Keys: map[string]string{"code": "403"}})
	st := uas.Stop()
	requireSuccess(t, info, 1)
	requireSuccess(t, refused, 1)
	if c := refused.FinalCodes(); len(c) != 1 || c[0] != 403 {
		t.Errorf("final codes %v", c)
	}
	if got := strings.Join(st.LogLines("INVITE auth="), ","); got != "INVITE auth=true,INVITE auth=false" {
		t.Errorf("uas log %q", got)
	}
}

func TestFinalCodesParse(t *testing.T) {
	r := &SIPpResult{Log: "final SIP/2.0 486\nunexpected final SIP/2.0 486, wanted 404\nfinal SIP/2.0 200\nfinal SIP/2.0 x\n"}
	if got := r.FinalCodes(); len(got) != 2 || got[0] != 486 || got[1] != 200 {
		t.Errorf("FinalCodes = %v", got)
	}
	row := lastStatRow("A;B;C\n1;2;3\n4;5;6\n\n")
	if row["A"] != "4" || row["C"] != "6" {
		t.Errorf("lastStatRow = %v", row)
	}
	if len(lastStatRow("")) != 0 {
		t.Error("empty csv")
	}
}

func TestScenariosEmbedded(t *testing.T) {
	names := Scenarios()
	for _, want := range []string{"uac_register_auth", "uac_call_auth", "uac_call_info_dtmf", "uac_cancel",
		"uac_expect_code", "uas_answer", "uas_busy", "uas_noanswer"} {
		if _, err := ScenarioXML(want); err != nil {
			t.Errorf("%s: %v (have %v)", want, err, names)
		}
	}
	if _, err := ScenarioXML("nope"); err == nil {
		t.Error("unknown scenario found")
	}
}
