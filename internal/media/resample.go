package media

import (
	"math"
	"sync"
)

// The resampler is a windowed-sinc interpolator: a Blackman-windowed sinc
// with resampleZeros zero crossings each side, low-passed at
// resampleRolloff of the lower Nyquist frequency (so downsampling 16 kHz
// to 8 kHz removes what would alias above 4 kHz), evaluated from a table
// with linear interpolation between resampleSteps points per zero
// crossing, and normalised so the taps of every output sample sum to 1.
const (
	resampleZeros   = 16
	resampleSteps   = 256
	resampleRolloff = 0.94
)

// sincTable holds sinc(x)*blackman(x) for x in [0, resampleZeros], computed
// once and only read afterwards.
var sincTable = sync.OnceValue(func() []float64 {
	t := make([]float64, resampleZeros*resampleSteps+2)
	for i := range t {
		x := float64(i) / resampleSteps
		if x > resampleZeros {
			break
		}
		s := 1.0
		if x != 0 {
			s = math.Sin(math.Pi*x) / (math.Pi * x)
		}
		// Blackman window over [-zeros, zeros].
		r := 0.5 + x/(2*resampleZeros) // 0.5 at the centre, 1 at the edge
		w := 0.42 - 0.5*math.Cos(2*math.Pi*r) + 0.08*math.Cos(4*math.Pi*r)
		t[i] = s * w
	}
	return t
})

func kernel(t []float64, x float64) float64 {
	if x < 0 {
		x = -x
	}
	p := x * resampleSteps
	i := int(p)
	if i+1 >= len(t) {
		return 0
	}
	f := p - float64(i)
	return t[i]*(1-f) + t[i+1]*f
}

// Resample converts pcm from rate from to rate to (windowed sinc, see the
// constants above). Equal rates return a copy.
func Resample(pcm []int16, from, to int) []int16 {
	if from <= 0 || to <= 0 || len(pcm) == 0 {
		return nil
	}
	if from == to {
		return append([]int16(nil), pcm...)
	}
	t := sincTable()
	ratio := float64(from) / float64(to) // input samples per output sample
	cutoff := resampleRolloff
	if ratio > 1 {
		cutoff /= ratio // downsampling: low-pass at the output Nyquist
	}
	half := float64(resampleZeros) / cutoff // kernel half-width, input samples
	outLen := int(int64(len(pcm)) * int64(to) / int64(from))
	out := make([]int16, outLen)
	for i := range out {
		center := float64(i) * ratio
		lo := max(0, int(math.Ceil(center-half)))
		hi := min(len(pcm)-1, int(math.Floor(center+half)))
		var acc, wsum float64
		for j := lo; j <= hi; j++ {
			w := kernel(t, (center-float64(j))*cutoff)
			acc += w * float64(pcm[j])
			wsum += w
		}
		if wsum != 0 {
			acc /= wsum
		}
		out[i] = clamp16(acc)
	}
	return out
}

func clamp16(v float64) int16 {
	switch {
	case v >= math.MaxInt16:
		return math.MaxInt16
	case v <= math.MinInt16:
		return math.MinInt16
	}
	return int16(math.Round(v))
}
