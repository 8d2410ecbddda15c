package media

import (
	"math"
	"time"
)

// Energy returns the RMS amplitude of pcm (0 for an empty slice).
func Energy(pcm []int16) float64 {
	if len(pcm) == 0 {
		return 0
	}
	var sum float64
	for _, s := range pcm {
		f := float64(s)
		sum += f * f
	}
	return math.Sqrt(sum / float64(len(pcm)))
}

// AverageAmplitude is the measure Asterisk's dsp.c (__ast_dsp_silence_noise)
// compares with its silence and talking thresholds: the mean absolute sample
// value, truncated (0 for an empty slice).
func AverageAmplitude(pcm []int16) int { return averageAmplitude(pcm) }

func averageAmplitude(pcm []int16) int {
	if len(pcm) == 0 {
		return 0
	}
	var sum int64
	for _, s := range pcm {
		v := int64(s)
		if v < 0 {
			v = -v
		}
		sum += v
	}
	return int(sum / int64(len(pcm)))
}

// DefaultSilenceThreshold is Asterisk's default silencethreshold (dsp.conf,
// used by Record and AGI RECORD FILE).
const DefaultSilenceThreshold = 256

// SilenceDetector reports when silence has lasted Duration, like Asterisk's
// Record silence detection: a frame is silent when its average absolute
// amplitude is below Threshold (DefaultSilenceThreshold when 0); any loud
// frame resets the silence total. Feed it frame by frame from one goroutine.
type SilenceDetector struct {
	Threshold int
	Duration  time.Duration

	silence time.Duration
}

// Feed accounts for one frame of 8 kHz audio and reports whether silence has
// now lasted at least Duration (always false when Duration is 0).
func (d *SilenceDetector) Feed(pcm []int16) bool {
	th := d.Threshold
	if th <= 0 {
		th = DefaultSilenceThreshold
	}
	if averageAmplitude(pcm) < th {
		d.silence += time.Duration(len(pcm)) * time.Second / SampleRate
	} else {
		d.silence = 0
	}
	return d.Duration > 0 && d.silence >= d.Duration
}

// Silence returns how long the current silence has lasted.
func (d *SilenceDetector) Silence() time.Duration { return d.silence }

// Reset forgets the accumulated silence.
func (d *SilenceDetector) Reset() { d.silence = 0 }

// DetectTone measures freq in pcm with the Goertzel algorithm and returns its
// power relative to the block's total energy: about 1 for a pure tone at
// freq, near 0 when freq is absent (0 for silence or an empty block).
func DetectTone(pcm []int16, sampleRate int, freq float64) float64 {
	n := len(pcm)
	if n == 0 || sampleRate <= 0 {
		return 0
	}
	w := 2 * math.Pi * freq / float64(sampleRate)
	coeff := 2 * math.Cos(w)
	var s1, s2, total float64
	for _, v := range pcm {
		x := float64(v)
		total += x * x
		s0 := x + coeff*s1 - s2
		s2, s1 = s1, s0
	}
	if total == 0 {
		return 0
	}
	// |X(f)|^2 from the final Goertzel state.
	power := s1*s1 + s2*s2 - coeff*s1*s2
	return 2 * power / (float64(n) * total)
}
