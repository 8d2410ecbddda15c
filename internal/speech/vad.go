package speech

import (
	"math"
	"time"
)

// EndpointConfig tunes the voice-activity endpointer. Every duration is
// audio time (frames written), not wall time, so a recognizer behaves the
// same under load and in tests. Zero fields take the defaults below.
type EndpointConfig struct {
	// NoInputTimeout ends the recognition with no result when speech has
	// not started this long after StartInputTimers (SpeechBackground's
	// timeout argument, which starts when the prompt has finished).
	// 0: wait for speech until MaxWait.
	NoInputTimeout time.Duration
	// MaxWait ends the recognition when speech has not started this long
	// after Start, whatever the input timers (a safety net; default 60 s).
	MaxWait time.Duration
	// EndSilence is the silence after speech that ends the utterance
	// (default 600 ms). Shorter answers faster and cuts pauses between
	// digits; longer waits for hesitant callers.
	EndSilence time.Duration
	// MaxSpeech ends an utterance that goes on this long (default 10 s).
	MaxSpeech time.Duration
	// MinSpeech is the sound a speech start needs: that much consecutive
	// activity including voiced frames (default 100 ms), so clicks and
	// line noise do not barge in.
	MinSpeech time.Duration
	// PreRoll is the audio kept before the detected start (default 300 ms):
	// the decoder needs some silence before the first word.
	PreRoll time.Duration
	// MarginDB is how far above the tracked noise floor a frame's energy
	// must be to count as activity (default 12 dB).
	MarginDB float64
	// MinLevelDB is the lowest frame energy that can count as speech, in
	// dB below full scale (default -50 dBFS).
	MinLevelDB float64
}

// Endpointer defaults.
const (
	DefaultEndSilence = 600 * time.Millisecond
	DefaultMaxSpeech  = 10 * time.Second
	DefaultMaxWait    = 60 * time.Second
	DefaultMinSpeech  = 100 * time.Millisecond
	DefaultPreRoll    = 300 * time.Millisecond
	DefaultMarginDB   = 12
	DefaultMinLevelDB = -50
)

func (c EndpointConfig) withDefaults() EndpointConfig {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&c.EndSilence, DefaultEndSilence)
	def(&c.MaxSpeech, DefaultMaxSpeech)
	def(&c.MaxWait, DefaultMaxWait)
	def(&c.MinSpeech, DefaultMinSpeech)
	def(&c.PreRoll, DefaultPreRoll)
	if c.MarginDB <= 0 {
		c.MarginDB = DefaultMarginDB
	}
	if c.MinLevelDB == 0 {
		c.MinLevelDB = DefaultMinLevelDB
	}
	return c
}

// sampleRate is the audio rate recognizers are fed (8 kHz telephony).
const sampleRate = 8000

func samplesOf(d time.Duration) int { return int(d * sampleRate / time.Second) }

// vadEvent is what one frame changed.
type vadEvent int

const (
	vadNone vadEvent = iota
	vadStart
	vadEnd
)

// vad is an energy and voicing endpointer. A frame is active when its
// energy is MarginDB above a noise floor that follows quiet frames quickly
// downwards and slowly upwards (so steady noise becomes the floor), and
// voiced when its normalised autocorrelation has a peak in the pitch range
// (80-400 Hz). Speech starts after MinSpeech of consecutive activity with
// at least two voiced frames (white noise and clicks are not voiced), and
// ends after EndSilence without activity.
type vad struct {
	cfg   EndpointConfig
	floor float64 // noise floor, dBFS

	prev    []int16 // previous frame, for the autocorrelation window
	run     int     // consecutive active samples
	voiced  int     // voiced frames in the current run
	runFrom int     // sample index where the run began

	speaking bool
	silence  int // samples since the last active frame, while speaking
	start    int // sample index where speech started
	total    int // samples seen
}

// settle is how long after Start the noise floor adapts fast and speech
// cannot start yet.
const settle = 200 * time.Millisecond

func newVAD(cfg EndpointConfig) *vad {
	return &vad{cfg: cfg, floor: cfg.MinLevelDB - cfg.MarginDB}
}

func frameDB(pcm []int16) float64 {
	if len(pcm) == 0 {
		return -120
	}
	var sum float64
	for _, s := range pcm {
		f := float64(s)
		sum += f * f
	}
	ms := sum / float64(len(pcm)) / (32768 * 32768)
	if ms < 1e-12 {
		return -120
	}
	return 10 * math.Log10(ms)
}

// voicedFrame looks for a pitch period: the normalised autocorrelation of
// the previous and current frames at lags of 20-100 samples (400-80 Hz).
func voicedFrame(prev, cur []int16) bool {
	buf := make([]float64, 0, len(prev)+len(cur))
	for _, s := range prev {
		buf = append(buf, float64(s))
	}
	for _, s := range cur {
		buf = append(buf, float64(s))
	}
	n := len(buf)
	if n < 200 {
		return false
	}
	var mean float64
	for _, v := range buf {
		mean += v
	}
	mean /= float64(n)
	for i := range buf {
		buf[i] -= mean
	}
	// r(lag) for lags 19..101, so 20..100 can be tested for a local
	// maximum: a pitch peak, not the slow decay of a low tone or hum.
	var r [103]float64
	for lag := 19; lag <= 101 && lag < n/2; lag++ {
		var xy, xx, yy float64
		for i := 0; i+lag < n; i++ {
			a, b := buf[i], buf[i+lag]
			xy += a * b
			xx += a * a
			yy += b * b
		}
		if xx > 0 && yy > 0 {
			r[lag] = xy / math.Sqrt(xx*yy)
		}
	}
	for lag := 20; lag <= 100; lag++ {
		if r[lag] > 0.6 && r[lag] >= r[lag-1] && r[lag] >= r[lag+1] {
			return true
		}
	}
	return false
}

// feed analyses one frame and reports a speech start or end.
func (v *vad) feed(pcm []int16) vadEvent {
	db := frameDB(pcm)
	active := db > v.floor+v.cfg.MarginDB && db > v.cfg.MinLevelDB
	at := v.total
	v.total += len(pcm)
	ev := vadNone
	if !v.speaking {
		// Track the floor outside speech: fast down, slow up, except in
		// the first frames after Start, where it settles on whatever the
		// line carries (hum, steady noise) before speech may start.
		switch {
		case at < samplesOf(settle):
			v.floor += (db - v.floor) * 0.5
		case db < v.floor:
			v.floor += (db - v.floor) * 0.3
		default:
			v.floor += (db - v.floor) * 0.02
		}
		if active {
			if v.run == 0 {
				v.runFrom, v.voiced = at, 0
			}
			v.run += len(pcm)
			if voicedFrame(v.prev, pcm) {
				v.voiced++
			}
			if v.run >= samplesOf(v.cfg.MinSpeech) && v.voiced >= 2 && at >= samplesOf(settle) {
				v.speaking, v.start, v.silence = true, v.runFrom, 0
				ev = vadStart
			}
		} else {
			v.run = 0
		}
	} else {
		if active {
			v.silence = 0
		} else {
			v.silence += len(pcm)
		}
		if v.silence >= samplesOf(v.cfg.EndSilence) || v.total-v.start >= samplesOf(v.cfg.MaxSpeech) {
			v.speaking = false
			v.run = 0
			ev = vadEnd
		}
	}
	v.prev = append(v.prev[:0], pcm...)
	return ev
}
