package backoff

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestJitterSpansTheWholeRange(t *testing.T) {
	const ceiling = 100 * time.Millisecond
	var low, high bool
	for range 1000 {
		d := Jitter(ceiling)
		if d < 0 || d > ceiling {
			t.Fatalf("Jitter(%s) = %s, outside [0, %s]", ceiling, d, ceiling)
		}
		low = low || d < ceiling/4
		high = high || d > 3*ceiling/4
	}
	if !low || !high {
		t.Fatalf("1000 waits did not cover [0, %s] (full jitter): low %v, high %v", ceiling, low, high)
	}
}

// TestRun: attempts repeat until ctx ends, each failure is reported, and
// the waits between them stay under the doubling ceiling.
func TestRun(t *testing.T) {
	p := Policy{Min: time.Millisecond, Max: 4 * time.Millisecond, Stable: time.Hour}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var attempts, failures int
	var gaps []time.Duration
	last := time.Now()
	boom := errors.New("refused")
	p.Run(ctx, func(context.Context) error {
		gaps = append(gaps, time.Since(last))
		attempts++
		if attempts == 8 {
			cancel()
			return nil
		}
		return boom
	}, func(err error) {
		if !errors.Is(err, boom) {
			t.Errorf("failed(%v)", err)
		}
		failures++
		last = time.Now()
	})
	if attempts != 8 || failures != 7 {
		t.Fatalf("%d attempts, %d failures reported; want 8 and 7 (none after ctx ended)", attempts, failures)
	}
	for i, g := range gaps[1:] {
		if g > p.Max+50*time.Millisecond {
			t.Errorf("wait %d: %s, over the ceiling %s", i+1, g, p.Max)
		}
	}
}
