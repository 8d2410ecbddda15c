package mixer

import (
	"math"
	"sync"

	"github.com/entvoice/entvoice/internal/media"
)

const frame = media.FrameSamples

// Gains are Q12 fixed point: unity is 4096. They are clamped to
// [-96 dB, +18 dB] so that one sample times a gain stays within int32
// (32768 x 8.0 x 4096 < 2^31).
const (
	unity   = 1 << 12
	maxGain = 18.0
	minGain = -96.0
)

// gainQ12 converts decibels to a Q12 factor.
func gainQ12(db float64) int32 {
	db = min(max(db, minGain), maxGain)
	return int32(math.Round(unity * math.Pow(10, db/20)))
}

// The limiter is a static soft knee applied to every output sample: below
// |x| = knee the sample passes unchanged; above it the excess e = |x| - knee
// is compressed as knee + e*headroom/(e+headroom), a curve whose value and
// slope are continuous at the knee (slope 1) and which approaches, but
// never reaches, full scale. So a loud sum is bent smoothly instead of
// being flattened (hard clipping) or wrapped around (int16 overflow), and
// because it has no memory the same output can be shared by every
// listener who hears it. A single full-scale talker comes out at most
// 1.2 dB lower on its peaks; anything under -2.5 dBFS is bit-exact.
const (
	knee     = 24576 // -2.5 dBFS
	headroom = math.MaxInt16 - knee
)

func limit(x int32) int16 {
	switch {
	case x > knee:
		e := int64(x - knee)
		return int16(knee + e*headroom/(e+headroom))
	case x < -knee:
		e := int64(-x - knee)
		return -int16(knee + e*headroom/(e+headroom))
	}
	return int16(x)
}

// rxCap is the receive buffer of a participant in samples (160 ms).
const rxCap = 8 * frame

// rxBuffer is a participant's receive (jitter) buffer between the
// session's reader goroutine, which pushes decoded audio of any
// packetisation, and the mixer tick, which pops 20 ms frames. Play-out
// starts once two frames are buffered (so arrival jitter up to a frame
// does not starve the mixer) and starts over the same way after an
// underrun (loss, silence suppression, hold). When the sender's clock runs
// fast and more than three frames stay queued for a second, a frame is
// dropped, which bounds the added latency; beyond rxCap the oldest audio
// is dropped at once.
type rxBuffer struct {
	mu     sync.Mutex
	buf    [rxCap]int16
	r, n   int
	primed bool
	over   int // consecutive pops that left more than driftFrames queued
}

const (
	primeSamples = 2 * frame
	driftFrames  = 3
	driftTicks   = 50
)

func (b *rxBuffer) push(pcm []int16) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(pcm) > rxCap {
		pcm = pcm[len(pcm)-rxCap:]
	}
	if drop := b.n + len(pcm) - rxCap; drop > 0 {
		b.r = (b.r + drop) % rxCap
		b.n -= drop
	}
	w := (b.r + b.n) % rxCap
	c := copy(b.buf[w:], pcm)
	copy(b.buf[:], pcm[c:])
	b.n += len(pcm)
}

// pop fills dst with the next frame, or reports false when there is none.
func (b *rxBuffer) pop(dst *[frame]int16) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.primed {
		if b.n < primeSamples {
			return false
		}
		b.primed = true
	}
	if b.n < frame {
		b.primed = false
		return false
	}
	c := copy(dst[:], b.buf[b.r:min(rxCap, b.r+frame)])
	copy(dst[c:], b.buf[:frame-c])
	b.r = (b.r + frame) % rxCap
	b.n -= frame
	if b.n > driftFrames*frame {
		if b.over++; b.over >= driftTicks {
			b.r = (b.r + frame) % rxCap
			b.n -= frame
			b.over = 0
		}
	} else {
		b.over = 0
	}
	return true
}

func (b *rxBuffer) reset() {
	b.mu.Lock()
	b.r, b.n, b.primed, b.over = 0, 0, false, 0
	b.mu.Unlock()
}
