package media

import (
	"context"
	"log/slog"
	"math"
	"net/netip"
	"os"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func testLogger(t testing.TB) *slog.Logger {
	if os.Getenv("MEDIA_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

// tone generates n samples of a sine at freq Hz and amplitude amp.
func tone(freq float64, amp float64, n, rate int) []int16 {
	out := make([]int16, n)
	for i := range out {
		out[i] = int16(amp * math.Sin(2*math.Pi*freq*float64(i)/float64(rate)))
	}
	return out
}

type testEnv struct {
	pool  *PortPool
	pacer *Pacer
	log   *slog.Logger
}

func newEnv(t testing.TB) *testEnv {
	t.Helper()
	pool, err := NewPortPool(netip.MustParseAddr("127.0.0.1"), 30000+int(time.Now().UnixNano()%5000)*2, 42000, PoolOptions{Keep: -1}) // a wide range: hold no idle ports other tests may want
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	p := NewPacer(testLogger(t))
	t.Cleanup(p.Close)
	return &testEnv{pool: pool, pacer: p, log: testLogger(t)}
}

func (e *testEnv) session(t testing.TB) *Session {
	t.Helper()
	s, err := NewSession(e.pool, e.pacer, e.log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// connect runs a real SDP offer/answer between an offerer and an answerer:
// the offerer offers offerCodecs (+ telephone-event when dtmfA), the
// answerer supports answerCodecs.
func connect(t testing.TB, a, b *Session, offerCodecs, answerCodecs []Codec, dtmfA bool) {
	t.Helper()
	ld := LocalDescription{Addr: a.LocalAddr(), Codecs: offerCodecs, Direction: SendRecv, SessionID: 1, Version: 1}
	if dtmfA {
		te := DefaultTelephoneEvent
		ld.DTMF = &te
	}
	offer, err := ParseSDP(ld.Marshal())
	if err != nil {
		t.Fatal(err)
	}
	nb, err := Negotiate(offer, answerCodecs)
	if err != nil {
		t.Fatal(err)
	}
	b.SetRemote(nb)
	answer, err := ParseSDP(nb.Answer(b.LocalAddr(), 2, 1).Marshal())
	if err != nil {
		t.Fatal(err)
	}
	na, err := Negotiate(answer, offerCodecs)
	if err != nil {
		t.Fatal(err)
	}
	a.SetRemote(na)
}

// collector is a sink gathering received PCM.
type collector struct {
	mu  sync.Mutex
	pcm []int16
}

func (c *collector) sink(p []int16) {
	c.mu.Lock()
	c.pcm = append(c.pcm, p...)
	c.mu.Unlock()
}

func (c *collector) samples() []int16 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]int16(nil), c.pcm...)
}

func (c *collector) waitFor(t testing.TB, n int, timeout time.Duration) []int16 {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if s := c.samples(); len(s) >= n {
			return s
		}
		time.Sleep(10 * time.Millisecond)
	}
	s := c.samples()
	t.Fatalf("got %d samples, want %d", len(s), n)
	return s
}

func ctxTimeout(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}
