package media

import (
	"testing"
)

func TestCodecRoundTrip(t *testing.T) {
	in := tone(1000, 8000, FrameSamples, SampleRate)
	for _, c := range []Codec{PCMU, PCMA} {
		var enc [FrameSamples]byte
		var dec [FrameSamples]int16
		if n := Encode(c, enc[:], in); n != FrameSamples {
			t.Fatalf("%s: encoded %d", c.Name, n)
		}
		if n := Decode(c, dec[:], enc[:]); n != FrameSamples {
			t.Fatalf("%s: decoded %d", c.Name, n)
		}
		for i := range in {
			d := int(in[i]) - int(dec[i])
			if d < 0 {
				d = -d
			}
			// G.711 quantisation error is at most ~1/16 of the value + a step.
			if lim := int(abs16(in[i]))/16 + 40; d > lim {
				t.Fatalf("%s sample %d: %d -> %d (err %d > %d)", c.Name, i, in[i], dec[i], d, lim)
			}
		}
		allocs := testing.AllocsPerRun(100, func() {
			Encode(c, enc[:], in)
			Decode(c, dec[:], enc[:])
		})
		if allocs != 0 {
			t.Errorf("%s: %v allocations per frame", c.Name, allocs)
		}
	}
	if n := Encode(Codec{Name: "G729"}, make([]byte, 10), in); n != 0 {
		t.Errorf("G729 encode wrote %d", n)
	}
}

func abs16(v int16) int32 {
	if v < 0 {
		return -int32(v)
	}
	return int32(v)
}

func TestTranscode(t *testing.T) {
	in := tone(440, 12000, FrameSamples, SampleRate)
	var u, a, a2, u2 [FrameSamples]byte
	Encode(PCMU, u[:], in)
	Encode(PCMA, a[:], in)
	if _, err := Transcode(PCMU, PCMA, a2[:], u[:]); err != nil {
		t.Fatal(err)
	}
	if _, err := Transcode(PCMA, PCMU, u2[:], a[:]); err != nil {
		t.Fatal(err)
	}
	var d1, d2 [FrameSamples]int16
	Decode(PCMA, d1[:], a2[:])
	Decode(PCMU, d2[:], u2[:])
	if p := DetectTone(d1[:], SampleRate, 440); p < 0.9 {
		t.Errorf("u->a lost the tone: %.3f", p)
	}
	if p := DetectTone(d2[:], SampleRate, 440); p < 0.9 {
		t.Errorf("a->u lost the tone: %.3f", p)
	}
	if _, err := Transcode(PCMU, Codec{Name: "G722", ClockRate: 8000}, a2[:], u[:]); err == nil {
		t.Error("transcode to G722 should fail")
	}
	n, err := Transcode(PCMU, PCMU, a2[:], u[:])
	if err != nil || n != FrameSamples || a2 != u {
		t.Errorf("same-codec transcode should copy: n=%d err=%v", n, err)
	}
}

func TestEventCodes(t *testing.T) {
	for _, d := range "0123456789*#ABCD!" {
		c, ok := EventCode(d)
		if !ok {
			t.Fatalf("%q has no code", d)
		}
		back, ok := EventDigit(c)
		if !ok || back != d {
			t.Errorf("%q -> %d -> %q", d, c, back)
		}
	}
	if _, ok := EventCode('x'); ok {
		t.Error("x is not a digit")
	}
	if _, ok := EventDigit(17); ok {
		t.Error("17 is not a DTMF event")
	}
}
