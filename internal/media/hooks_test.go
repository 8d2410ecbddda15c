package media

import (
	"sync/atomic"
	"testing"
	"time"
)

// TestScheduleFunc: a function task ticks at its absolute deadlines and is
// detached once, after it stops or when the pacer closes.
func TestScheduleFunc(t *testing.T) {
	p := NewPacer(testLogger(t))
	var ticks atomic.Int32
	detached := make(chan struct{})
	start := MonotonicNow() + int64(2*time.Millisecond)
	var late int64
	err := p.ScheduleFunc(start, func(now int64) (int64, bool) {
		n := int64(ticks.Add(1))
		late = max(late, now-(start+(n-1)*int64(FrameDuration)))
		return start + n*int64(FrameDuration), n < 5
	}, func() { close(detached) })
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-detached:
	case <-time.After(2 * time.Second):
		t.Fatal("not detached")
	}
	if ticks.Load() != 5 || late < 0 || late > int64(50*time.Millisecond) {
		t.Fatalf("ticks %d, worst lateness %v", ticks.Load(), time.Duration(late))
	}
	// A task still scheduled is detached by Close; nil detached is allowed.
	if err := p.ScheduleFunc(MonotonicNow()+int64(time.Hour), func(int64) (int64, bool) { return 0, false }, nil); err != nil {
		t.Fatal(err)
	}
	p.Close()
	if err := p.ScheduleFunc(0, func(int64) (int64, bool) { return 0, false }, nil); err != ErrPacerClosed {
		t.Fatalf("after Close: %v", err)
	}
}

// TestWriteEncoded: a payload encoded once as PCMU reaches a PCMU peer
// unchanged and a PCMA peer transcoded.
func TestWriteEncoded(t *testing.T) {
	env := newEnv(t)
	pcm := tone(1000, 8000, FrameSamples, SampleRate)
	ulaw := make([]byte, FrameSamples)
	Encode(PCMU, ulaw, pcm)
	for _, c := range []Codec{PCMU, PCMA} {
		a, b := env.session(t), env.session(t)
		connect(t, a, b, []Codec{c}, []Codec{c}, false)
		var got collector
		b.SetSink(got.sink)
		if err := a.WriteEncoded(PCMU, ulaw); err != nil {
			t.Fatal(err)
		}
		rx := got.waitFor(t, FrameSamples, 2*time.Second)
		want := make([]int16, FrameSamples)
		Decode(PCMU, want, ulaw)
		for i := range want {
			w, d := int(want[i]), int(rx[i])-int(want[i])
			if abs(d) > abs(w)/16+64 {
				t.Fatalf("%s: sample %d = %d, want about %d", c.Name, i, rx[i], want[i])
			}
		}
		_ = a.Close()
		if err := a.WriteEncoded(PCMU, ulaw); err != ErrSessionClosed {
			t.Fatalf("after Close: %v", err)
		}
	}
}

func abs(x int) int { return max(x, -x) }
