package media

import (
	"math"
	"testing"
	"time"
)

func TestEnergy(t *testing.T) {
	if Energy(nil) != 0 {
		t.Error("empty")
	}
	if e := Energy(tone(1000, 10000, 8000, SampleRate)); math.Abs(e-10000/math.Sqrt2) > 10 {
		t.Errorf("sine RMS %.1f", e)
	}
	if e := Energy([]int16{-300, 300, -300, 300}); e != 300 {
		t.Errorf("square RMS %.1f", e)
	}
}

func TestSilenceDetector(t *testing.T) {
	d := SilenceDetector{Duration: 500 * time.Millisecond}
	loud := tone(400, 3000, FrameSamples, SampleRate)
	quiet := tone(400, 200, FrameSamples, SampleRate) // mean |x| ~127 < 256
	for range 10 {
		if d.Feed(loud) {
			t.Fatal("loud audio reported as silence")
		}
	}
	for i := range 25 {
		if got := d.Feed(quiet); got != (i == 24) {
			t.Fatalf("frame %d: silence=%v after %v", i, got, d.Silence())
		}
	}
	d.Feed(loud)
	if d.Silence() != 0 {
		t.Error("loud frame did not reset")
	}
	// Threshold semantics: average absolute amplitude, like dsp.c.
	d2 := SilenceDetector{Threshold: 100, Duration: 20 * time.Millisecond}
	if d2.Feed(quiet) {
		t.Error("mean |x| ~127 is above threshold 100")
	}
}

func TestDetectTone(t *testing.T) {
	pcm := tone(1000, 8000, 1600, SampleRate)
	if p := DetectTone(pcm, SampleRate, 1000); p < 0.98 || p > 1.02 {
		t.Errorf("on-frequency %.3f", p)
	}
	if p := DetectTone(pcm, SampleRate, 1300); p > 0.01 {
		t.Errorf("off-frequency %.3f", p)
	}
	if DetectTone(make([]int16, 160), SampleRate, 1000) != 0 || DetectTone(nil, SampleRate, 1000) != 0 {
		t.Error("silence has no tone")
	}
}
