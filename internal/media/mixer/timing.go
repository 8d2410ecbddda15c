package mixer

import (
	"sync/atomic"
	"time"
)

// Timing is a histogram of mixer frame times (the work of one room tick:
// receive buffers, sum, outputs, encoding and sending) in 10 µs buckets up
// to 10 ms. Rooms given the same Timing (Options.Timing) add to it; it is
// safe to read while they run.
type Timing struct {
	buckets [timingBuckets + 1]atomic.Uint64 // last: 10 ms and over
	max     atomic.Int64
	late    atomic.Int64 // worst tick lateness after its deadline
}

const (
	timingBucket  = 10 * time.Microsecond
	timingBuckets = 1000
)

func (t *Timing) observe(d, late time.Duration) {
	t.buckets[min(int(d/timingBucket), timingBuckets)].Add(1)
	for m := t.max.Load(); int64(d) > m && !t.max.CompareAndSwap(m, int64(d)); m = t.max.Load() {
	}
	for m := t.late.Load(); int64(late) > m && !t.late.CompareAndSwap(m, int64(late)); m = t.late.Load() {
	}
}

// Count is the number of frames observed.
func (t *Timing) Count() uint64 {
	var n uint64
	for i := range t.buckets {
		n += t.buckets[i].Load()
	}
	return n
}

// Quantile returns the upper bound of the bucket holding quantile q (0..1)
// of the frame times, or 0 when nothing was observed.
func (t *Timing) Quantile(q float64) time.Duration {
	total := t.Count()
	if total == 0 {
		return 0
	}
	rank := uint64(q * float64(total))
	var seen uint64
	for i := range t.buckets {
		if seen += t.buckets[i].Load(); seen > rank {
			return time.Duration(i+1) * timingBucket
		}
	}
	return time.Duration(timingBuckets+1) * timingBucket
}

// Max is the longest frame time observed.
func (t *Timing) Max() time.Duration { return time.Duration(t.max.Load()) }

// MaxLate is the worst delay of a tick after its deadline (pacer lateness,
// which the RTP timing of every participant inherits).
func (t *Timing) MaxLate() time.Duration { return time.Duration(t.late.Load()) }

// Reset clears the histogram (between benchmark phases).
func (t *Timing) Reset() {
	for i := range t.buckets {
		t.buckets[i].Store(0)
	}
	t.max.Store(0)
	t.late.Store(0)
}
