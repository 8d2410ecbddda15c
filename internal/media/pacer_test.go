package media

import (
	"context"
	"net"
	"slices"
	"sync/atomic"
	"testing"
	"time"
)

// receiveGaps plays n frames from a new session to a plain UDP socket and
// returns the inter-arrival gaps and the total span.
func receiveGaps(t testing.TB, env *testEnv, n int) ([]time.Duration, time.Duration) {
	t.Helper()
	s := env.session(t)
	peer, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer peer.Close()
	s.SetRemote(Negotiated{Remote: peer.LocalAddr().(*net.UDPAddr).AddrPort(), Codec: PCMU, Direction: SendRecv})
	arrivals := make(chan []time.Time, 1)
	go func() {
		var at []time.Time
		buf := make([]byte, 1500)
		for len(at) < n {
			_ = peer.SetReadDeadline(time.Now().Add(2 * time.Second))
			if _, _, err := peer.ReadFromUDPAddrPort(buf); err != nil {
				break
			}
			at = append(at, time.Now())
		}
		arrivals <- at
	}()
	if err := s.Play(context.Background(), NewPCMReader(make([]int16, n*FrameSamples))); err != nil {
		t.Fatal(err)
	}
	at := <-arrivals
	if len(at) != n {
		t.Fatalf("received %d of %d packets", len(at), n)
	}
	gaps := make([]time.Duration, 0, n-1)
	for i := 1; i < n; i++ {
		gaps = append(gaps, at[i].Sub(at[i-1]))
	}
	return gaps, at[n-1].Sub(at[0])
}

func percentile(sorted []time.Duration, p float64) time.Duration {
	return sorted[min(len(sorted)-1, int(float64(len(sorted))*p))]
}

// TestPacerGrossTiming: 50 frames take 49 x 20 ms between first and last
// packet, within 100 ms. Precise figures are in BenchmarkPacerJitter.
func TestPacerGrossTiming(t *testing.T) {
	env := newEnv(t)
	gaps, span := receiveGaps(t, env, 50)
	want := 49 * FrameDuration
	if span < want-100*time.Millisecond || span > want+100*time.Millisecond {
		t.Errorf("50 packets spanned %v, want %v ± 100ms", span, want)
	}
	slices.Sort(gaps)
	t.Logf("gap p50=%v p99=%v max=%v span=%v", percentile(gaps, 0.5), percentile(gaps, 0.99), gaps[len(gaps)-1], span)
}

// countTask ticks every 20 ms from start and records lateness.
type countTask struct {
	start, n int64
	stopAt   int64
	ticks    atomic.Int64
	done     chan struct{}
}

func (c *countTask) tick(now int64) (int64, bool) {
	c.ticks.Add(1)
	c.n++
	if c.n >= c.stopAt {
		return 0, false
	}
	return c.start + c.n*int64(FrameDuration), true
}
func (c *countTask) detached() { close(c.done) }

// TestPacerManyStreamsAndClose: many concurrent tasks all tick at the
// right count, and Close detaches whatever is still scheduled.
func TestPacerManyStreamsAndClose(t *testing.T) {
	p := NewPacer(testLogger(t))
	var tasks []*countTask
	now := monotonicNow()
	for i := range 100 {
		c := &countTask{start: now + int64(i)*int64(time.Millisecond)/5, stopAt: 10, done: make(chan struct{})}
		if err := p.schedule(c.start, c); err != nil {
			t.Fatal(err)
		}
		tasks = append(tasks, c)
	}
	forever := &countTask{start: now, stopAt: 1 << 40, done: make(chan struct{})}
	if err := p.schedule(now, forever); err != nil {
		t.Fatal(err)
	}
	for i, c := range tasks {
		select {
		case <-c.done:
		case <-time.After(3 * time.Second):
			t.Fatalf("task %d stuck at %d ticks", i, c.ticks.Load())
		}
		if c.ticks.Load() != 10 {
			t.Errorf("task %d ticked %d times", i, c.ticks.Load())
		}
	}
	p.Close()
	select {
	case <-forever.done:
	default:
		t.Error("Close did not detach the running task")
	}
	if err := p.schedule(now, &countTask{done: make(chan struct{})}); err != ErrPacerClosed {
		t.Errorf("schedule after Close: %v", err)
	}
	p.Close() // idempotent
}

// BenchmarkPacerJitter plays 250 frames (5 s) per iteration and reports the
// distribution of |gap - 20ms| at the receiver in microseconds.
func BenchmarkPacerJitter(b *testing.B) {
	env := newEnv(b)
	var all []time.Duration
	for b.Loop() {
		gaps, _ := receiveGaps(b, env, 250)
		for _, g := range gaps {
			d := g - FrameDuration
			if d < 0 {
				d = -d
			}
			all = append(all, d)
		}
	}
	slices.Sort(all)
	us := func(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }
	b.ReportMetric(us(percentile(all, 0.5)), "p50_dev_us")
	b.ReportMetric(us(percentile(all, 0.99)), "p99_dev_us")
	b.ReportMetric(us(all[len(all)-1]), "max_dev_us")
}
