package moh

import (
	"math"

	"github.com/entvoice/entvoice/internal/media"
)

// Tune synthesises the music of a class without files (Debian ships no
// music on hold): 16 s of soft arpeggios over the chords C, A minor, F and
// G, in sine tones with a gentle attack and a long decay, peaking near
// -12 dBFS, at 8 kHz. It loops seamlessly: every note has faded out by the
// end of its bar.
func Tune() []int16 {
	const (
		rate  = media.SampleRate
		bar   = 4 * rate // 4 s per chord
		note  = rate / 2 // a note every 500 ms
		level = 0.25     // peak of one note (about -12 dBFS)
	)
	// MIDI note numbers: each chord's arpeggio, low to high and back.
	chords := [4][8]int{
		{48, 55, 60, 64, 67, 64, 60, 55}, // C
		{45, 52, 57, 60, 64, 60, 57, 52}, // A minor
		{41, 48, 53, 57, 60, 57, 53, 48}, // F
		{43, 50, 55, 59, 62, 59, 55, 50}, // G
	}
	mix := make([]float64, 4*bar)
	for b, chord := range chords {
		for k, m := range chord {
			freq := 440 * math.Pow(2, float64(m-69)/12)
			start := b*bar + k*note
			// Each note rings for up to 1.5 s but ends with its bar.
			end := min(start+3*note, (b+1)*bar)
			for i := start; i < end; i++ {
				t := float64(i-start) / rate
				env := (1 - math.Exp(-t/0.02)) * math.Exp(-t/0.45)
				if tail := float64(end-i) / rate; tail < 0.05 {
					env *= tail / 0.05 // no click where a note is cut
				}
				x := math.Sin(2*math.Pi*freq*t) + 0.2*math.Sin(4*math.Pi*freq*t)
				mix[i] += level / 1.2 * env * x
			}
		}
	}
	out := make([]int16, len(mix))
	for i, v := range mix {
		out[i] = int16(math.Round(max(-1, min(1, v)) * 32767 * 0.9))
	}
	return out
}
