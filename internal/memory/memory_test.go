package memory

import (
	"context"
	"runtime"
	"runtime/debug"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestTrimStateTrimsOnlyAfterBusy(t *testing.T) {
	s := newTrimState(3)
	// quiet             quiet  busy  q     q     q     q      busy  q
	in := []bool{true, true, false, true, true, true, true, false, true}
	want := []bool{false, false, false, true, true, true, false, false, true}
	for i, quiet := range in {
		if got := s.next(quiet); got != want[i] {
			t.Fatalf("observation %d (quiet=%v): trim=%v, want %v", i, quiet, got, want[i])
		}
	}
}

func TestApplyRestores(t *testing.T) {
	before := debug.SetGCPercent(-1)
	debug.SetGCPercent(before)
	restore := Apply(Policy{GCPercent: 345, Limit: 1 << 40})
	if got := debug.SetGCPercent(345); got != 345 {
		t.Fatalf("GC percent %d, want 345", got)
	}
	if got := debug.SetMemoryLimit(-1); got != 1<<40 {
		t.Fatalf("memory limit %d, want %d", got, int64(1<<40))
	}
	restore()
	if got := debug.SetGCPercent(before); got != before {
		t.Fatalf("GC percent %d after restore, want %d", got, before)
	}
}

func TestTrimmerFreesAfterABurst(t *testing.T) {
	var frees atomic.Int32
	tr := NewTrimmer(nil, TrimOptions{Every: 50 * time.Millisecond, QuietRate: 20 << 20, Rounds: 2, Free: func() { frees.Add(1) }})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); tr.Run(ctx) }()
	defer func() { cancel(); <-done }()

	time.Sleep(200 * time.Millisecond)
	if n := frees.Load(); n != 0 {
		t.Fatalf("trimmed %d times before any burst", n)
	}
	// A burst: well over 20 MB/s for a few intervals.
	var sink [][]byte
	end := time.Now().Add(200 * time.Millisecond)
	for time.Now().Before(end) {
		sink = append(sink, make([]byte, 1<<20))
		if len(sink) > 64 {
			sink = sink[:0]
		}
		time.Sleep(time.Millisecond)
	}
	runtime.KeepAlive(sink)
	deadline := time.Now().Add(5 * time.Second)
	for frees.Load() < 2 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if n := frees.Load(); n != 2 {
		t.Fatalf("trimmed %d times after the burst, want 2 (Rounds)", n)
	}
	time.Sleep(200 * time.Millisecond)
	if n := frees.Load(); n != 2 {
		t.Fatalf("trimmed %d times, want 2: no more once the rounds are spent", n)
	}
}

func TestTunerPercent(t *testing.T) {
	tu := &Tuner{Headroom: 64 << 20, Floor: 100, Ceiling: 1000}
	for _, c := range []struct {
		live uint64
		want int
	}{
		{0, 100}, // no collection yet: the floor
		{4 << 20, 1000},
		{16 << 20, 400},
		{32 << 20, 200},
		{64 << 20, 100},
		{512 << 20, 100},
	} {
		if got := tu.percent(c.live); got != c.want {
			t.Errorf("live %d MB: percent %d, want %d", c.live>>20, got, c.want)
		}
	}
}

func TestTunerSetsAfterCollections(t *testing.T) {
	set := make(chan int, 16)
	tu := &Tuner{Headroom: 1 << 40, Every: 10 * time.Millisecond, Set: func(p int) int { set <- p; return 100 }}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); tu.Run(ctx) }()
	defer func() { cancel(); <-done }()
	select {
	case p := <-set:
		if p != 1000 {
			t.Fatalf("first percentage %d, want the ceiling 1000 for a huge headroom", p)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the tuner set no percentage")
	}
	runtime.GC()
	select {
	case p := <-set:
		t.Fatalf("percentage set again to %d although it did not change", p)
	case <-time.After(100 * time.Millisecond):
	}
}
