package testpeer

import (
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// TestBaresipAnswersSIPp: SIPp calls an auto-answering baresip; baresip's
// WAV (440 Hz) reaches a Go RTPRecorder named in SIPp's SDP, and SIPp's
// RFC 4733 digits are reported by baresip as events.
func TestBaresipAnswersSIPp(t *testing.T) {
	SIPpPath(t)
	t.Parallel()
	wav := filepath.Join(t.TempDir(), "tone.wav")
	if err := WriteWAV(wav, GenerateTone(440, 20*time.Second, 8000)); err != nil {
		t.Fatal(err)
	}
	bs := StartBaresip(t, BaresipOptions{User: "bob", AudioFile: wav})
	rec := RecordRTP(t)
	res := RunSIPp(t, SIPpOptions{
		Target: "127.0.0.1:" + strconv.Itoa(bs.SIPPort), Scenario: "uac_call_auth", Service: "bob", Calls: 1,
		Pcap: TonePcap(t, 1000, time.Second, "42"),
		Keys: map[string]string{"rtp_port": strconv.Itoa(rec.Port()), "hold_ms": "2500"},
	})
	requireSuccess(t, res, 1)
	if ev, ok := bs.WaitEvent("CALL_ESTABLISHED", 5*time.Second); !ok || ev.Direction != "incoming" {
		t.Errorf("CALL_ESTABLISHED: %+v %v", ev, ok)
	}
	if _, ok := bs.WaitEvent("CALL_CLOSED", 5*time.Second); !ok {
		t.Error("no CALL_CLOSED")
	}
	var digits string
	for _, e := range bs.Events() {
		if e.Type == "CALL_DTMF_START" {
			digits += e.Param
		}
	}
	if digits != "42" {
		t.Errorf("baresip DTMF %q, want 42", digits)
	}
	pcm := rec.PCM(PCMU)
	if len(pcm) < 8000 {
		t.Fatalf("only %d samples from baresip", len(pcm))
	}
	if g := Goertzel(pcm[len(pcm)/4:len(pcm)/4+4000], SampleRate, 440); g < 3000 {
		t.Errorf("440 Hz level from baresip %.0f", g)
	}
}
