// Package mediatest has test helpers for packages built on internal/media:
// a port pool and pacer per test, pairs of real loopback RTP sessions
// (one playing the "phone", one the PBX side), tones and a PCM collector.
// Only tests import it.
package mediatest

import (
	"log/slog"
	"math"
	"net/netip"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/entvoice/entvoice/internal/media"
)

// Env is a port pool on 127.0.0.1 and a pacer, closed when the test ends.
type Env struct {
	Pool  *media.PortPool
	Pacer *media.Pacer
	Log   *slog.Logger
}

// Logger discards unless MEDIA_TEST_LOG is set.
func Logger() *slog.Logger {
	if os.Getenv("MEDIA_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

// NewEnv makes an Env whose RTP ports start at a time-derived base in
// 20000-60000, so packages tested in parallel rarely meet (busy ports are
// skipped by the pool anyway).
func NewEnv(t testing.TB) *Env {
	t.Helper()
	base := 20000 + int(time.Now().UnixNano()/1000%15000)*2
	pool, err := media.NewPortPool(netip.MustParseAddr("127.0.0.1"), base, 65000, media.PoolOptions{Keep: -1}) // a wide range: hold no idle ports other tests may want
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	p := media.NewPacer(Logger())
	t.Cleanup(p.Close)
	return &Env{Pool: pool, Pacer: p, Log: Logger()}
}

// Session allocates a session closed when the test ends.
func (e *Env) Session(t testing.TB) *media.Session {
	t.Helper()
	s, err := media.NewSession(e.Pool, e.Pacer, e.Log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// Pair returns two sessions sending to each other with codec c (PCMU or
// PCMA): phone is the caller's end, pbx the side under test.
func (e *Env) Pair(t testing.TB, c media.Codec) (phone, pbx *media.Session) {
	t.Helper()
	phone, pbx = e.Session(t), e.Session(t)
	Connect(phone, pbx, c)
	return phone, pbx
}

// Connect points a and b at each other with codec c, as an offer/answer
// would.
func Connect(a, b *media.Session, c media.Codec) {
	a.SetRemote(media.Negotiated{Remote: b.LocalAddr(), Codec: c, Direction: media.SendRecv})
	b.SetRemote(media.Negotiated{Remote: a.LocalAddr(), Codec: c, Direction: media.SendRecv})
}

// Tone is n samples of a sine at freq Hz with peak amp, at 8 kHz.
func Tone(freq, amp float64, n int) []int16 {
	out := make([]int16, n)
	for i := range out {
		out[i] = int16(math.Round(amp * math.Sin(2*math.Pi*freq*float64(i)/media.SampleRate)))
	}
	return out
}

// Collector gathers the PCM a session receives (use Sink with SetSink).
type Collector struct {
	mu  sync.Mutex
	pcm []int16
}

// Sink appends pcm.
func (c *Collector) Sink(pcm []int16) {
	c.mu.Lock()
	c.pcm = append(c.pcm, pcm...)
	c.mu.Unlock()
}

// Len is how many samples arrived.
func (c *Collector) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.pcm)
}

// Samples returns a copy of what arrived.
func (c *Collector) Samples() []int16 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]int16(nil), c.pcm...)
}

// Reset forgets what arrived so far.
func (c *Collector) Reset() {
	c.mu.Lock()
	c.pcm = c.pcm[:0]
	c.mu.Unlock()
}

// WaitFor waits until n samples arrived and returns them.
func (c *Collector) WaitFor(t testing.TB, n int, timeout time.Duration) []int16 {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if c.Len() >= n {
			return c.Samples()
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("received %d samples, want %d", c.Len(), n)
	return nil
}

// Looper is a media.Source that repeats pcm forever (Session.Play of a
// phone's tone until the context ends).
type Looper struct {
	PCM []int16
	pos int
}

// ReadFrame fills pcm from the loop.
func (l *Looper) ReadFrame(pcm []int16) (int, error) {
	for i := range pcm {
		pcm[i] = l.PCM[l.pos]
		l.pos = (l.pos + 1) % len(l.PCM)
	}
	return len(pcm), nil
}
