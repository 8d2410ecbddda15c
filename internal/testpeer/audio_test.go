package testpeer

import (
	"math"
	"path/filepath"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestGenerateToneAndGoertzel(t *testing.T) {
	pcm := GenerateTone(1000, time.Second, 10000)
	if len(pcm) != 8000 {
		t.Fatalf("len = %d, want 8000", len(pcm))
	}
	if got := Goertzel(pcm, SampleRate, 1000); math.Abs(got-10000) > 200 {
		t.Errorf("Goertzel(1000) = %.0f, want about 10000", got)
	}
	if got := Goertzel(pcm, SampleRate, 1500); got > 100 {
		t.Errorf("Goertzel(1500) = %.0f, want near 0", got)
	}
	if got := RMS(pcm); math.Abs(got-10000/math.Sqrt2) > 50 {
		t.Errorf("RMS = %.0f", got)
	}
	if got := Goertzel(GenerateSilence(time.Second), SampleRate, 1000); got != 0 {
		t.Errorf("Goertzel(silence) = %v", got)
	}
	if Goertzel(nil, SampleRate, 1000) != 0 || Goertzel(pcm, 0, 1000) != 0 {
		t.Error("degenerate input should give 0")
	}
}

func TestDTMFEventCode(t *testing.T) {
	for d, want := range map[rune]uint8{'0': 0, '9': 9, '*': 10, '#': 11, 'A': 12, 'd': 15} {
		got, ok := DTMFEventCode(d)
		if !ok || got != want {
			t.Errorf("DTMFEventCode(%q) = %d,%v want %d", d, got, ok, want)
		}
	}
	if _, ok := DTMFEventCode('x'); ok {
		t.Error("x accepted")
	}
}

func TestWriteRTPPcapRoundTrip(t *testing.T) {
	for _, codec := range []Codec{PCMU, PCMA} {
		t.Run(codec.String(), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "t.pcap")
			err := WriteRTPPcap(path, PcapOptions{
				Audio: GenerateTone(1000, 2*time.Second, 8000), Codec: codec, DTMF: "123#",
			})
			if err != nil {
				t.Fatal(err)
			}
			pkts, err := ReadRTPFromPcap(path)
			if err != nil {
				t.Fatal(err)
			}
			// 100 audio packets, then per digit 10 event packets + 3 end
			// packets + 10 packets of silence.
			if want := 100 + 4*(10+3+10); len(pkts) != want {
				t.Fatalf("packets = %d, want %d", len(pkts), want)
			}
			rtps := make([]rtpPacket, 0, len(pkts))
			for i, p := range pkts {
				rtps = append(rtps, p.Packet)
				if p.Packet.SSRC != pkts[0].Packet.SSRC {
					t.Fatalf("packet %d: SSRC changed", i)
				}
				if i > 0 && p.Packet.SequenceNumber != pkts[i-1].Packet.SequenceNumber+1 {
					t.Fatalf("packet %d: sequence gap", i)
				}
			}
			if !pkts[0].Packet.Marker || pkts[1].Packet.Marker {
				t.Error("marker only on the first audio packet")
			}
			// audio packets: timestamps +160 and capture times +20 ms
			for i := 1; i < 100; i++ {
				if d := pkts[i].Packet.Timestamp - pkts[i-1].Packet.Timestamp; d != 160 {
					t.Fatalf("audio ts step %d at %d", d, i)
				}
				if d := pkts[i].Time.Sub(pkts[i-1].Time); d != 20*time.Millisecond {
					t.Fatalf("pcap time step %v at %d", d, i)
				}
			}
			// first digit: marker, constant timestamp = end of audio, growing duration
			ev := pkts[100:113]
			if !ev[0].Packet.Marker || ev[0].Packet.PayloadType != DefaultDTMFPayloadType {
				t.Errorf("first event packet: %+v", ev[0].Packet.Header)
			}
			for i, p := range ev {
				if p.Packet.Timestamp != 100*160 {
					t.Fatalf("event packet %d ts %d", i, p.Packet.Timestamp)
				}
				te, _ := ParseTelephoneEvent(p.Packet.Payload)
				if te.Event != 1 || te.End != (i >= 10) {
					t.Fatalf("event packet %d: %+v", i, te)
				}
			}
			// audio resumes after the event's 200 ms
			if got := pkts[113].Packet.Timestamp; got != 100*160+1600 {
				t.Errorf("audio after digit ts %d", got)
			}
			if got := DTMFDigits(rtps, DefaultDTMFPayloadType); got != "123#" {
				t.Errorf("digits %q", got)
			}
			pcm := DecodeAudio(rtps[:100], codec)
			if g := Goertzel(pcm, SampleRate, 1000); g < 7000 {
				t.Errorf("1 kHz level %.0f after %v round trip", g, codec)
			}
			if g := Goertzel(pcm, SampleRate, 1400); g > 300 {
				t.Errorf("1.4 kHz level %.0f", g)
			}
		})
	}
}

func TestWriteRTPPcapRejectsBadInput(t *testing.T) {
	dir := t.TempDir()
	if err := WriteRTPPcap(filepath.Join(dir, "a"), PcapOptions{Codec: 3}); err == nil {
		t.Error("codec 3 accepted")
	}
	if err := WriteRTPPcap(filepath.Join(dir, "b"), PcapOptions{DTMF: "1x"}); err == nil {
		t.Error("digit x accepted")
	}
	if _, err := ReadRTPFromPcap(filepath.Join(dir, "missing")); err == nil {
		t.Error("missing file read")
	}
	if _, err := parsePcap([]byte("not a pcap file at all....")); err == nil {
		t.Error("garbage parsed")
	}
}

// TestReadBundledPcap reads one of SIPp's own pcaps (PCMA, 30 ms).
func TestReadBundledPcap(t *testing.T) {
	pkts, err := ReadRTPFromPcap("/usr/share/sip-tester/dtmf_2833_1.pcap")
	if err != nil {
		t.Skipf("bundled pcap not available: %v", err)
	}
	rtps := make([]rtpPacket, len(pkts))
	for i, p := range pkts {
		rtps[i] = p.Packet
	}
	if got := DTMFDigits(rtps, 101); got != "1" {
		t.Errorf("digits %q, want 1", got)
	}
}
