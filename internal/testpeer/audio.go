package testpeer

import (
	"math"
	"time"
)

// SampleRate is the G.711 narrow-band sample rate used by every helper here.
const SampleRate = 8000

// GenerateTone returns dur of a sine tone at freq Hz sampled at 8 kHz with the
// given peak amplitude. freq 0 (or amplitude 0) gives silence.
func GenerateTone(freq float64, dur time.Duration, amplitude int16) []int16 {
	n := int(dur * SampleRate / time.Second)
	if n <= 0 {
		return nil
	}
	out := make([]int16, n)
	if freq == 0 || amplitude == 0 {
		return out
	}
	w := 2 * math.Pi * freq / SampleRate
	for i := range out {
		out[i] = int16(math.Round(float64(amplitude) * math.Sin(w*float64(i))))
	}
	return out
}

// GenerateSilence returns dur of silence at 8 kHz.
func GenerateSilence(dur time.Duration) []int16 { return GenerateTone(0, dur, 0) }

// Goertzel estimates the amplitude of the freq component of pcm (sampled at
// rate Hz) with the Goertzel algorithm. For a pure sine of peak amplitude A at
// freq it returns about A; for a frequency absent from pcm it returns a value
// near 0. An empty input or non-positive rate gives 0.
func Goertzel(pcm []int16, rate int, freq float64) float64 {
	if len(pcm) == 0 || rate <= 0 {
		return 0
	}
	coeff := 2 * math.Cos(2*math.Pi*freq/float64(rate))
	var s1, s2 float64
	for _, x := range pcm {
		s0 := float64(x) + coeff*s1 - s2
		s2, s1 = s1, s0
	}
	power := s1*s1 + s2*s2 - coeff*s1*s2
	if power < 0 {
		power = 0
	}
	return 2 * math.Sqrt(power) / float64(len(pcm))
}

// RMS returns the root mean square of pcm.
func RMS(pcm []int16) float64 {
	if len(pcm) == 0 {
		return 0
	}
	var sum float64
	for _, x := range pcm {
		sum += float64(x) * float64(x)
	}
	return math.Sqrt(sum / float64(len(pcm)))
}
