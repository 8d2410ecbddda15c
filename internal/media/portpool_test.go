package media

import (
	"errors"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"
)

func TestPortPoolBasics(t *testing.T) {
	lo := netip.MustParseAddr("127.0.0.1")
	if _, err := NewPortPool(lo, 5000, 5000, PoolOptions{}); err == nil {
		t.Error("a one-port range has no RTP/RTCP pair")
	}
	if _, err := NewPortPool(netip.Addr{}, 5000, 6000, PoolOptions{}); err == nil {
		t.Error("invalid IP accepted")
	}
	pp, err := NewPortPool(lo, 41001, 41010, PoolOptions{Keep: -1}) // even ports 41002..41008, no reuse
	if err != nil {
		t.Fatal(err)
	}
	p := wrapPool(pp)
	if p.Size() != 4 {
		t.Fatalf("size %d, want 4", p.Size())
	}
	// Occupy 41004 behind the pool's back: it must be skipped.
	busy, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.MustParseAddrPort("127.0.0.1:41004")))
	if err != nil {
		t.Skipf("cannot bind test port: %v", err)
	}
	defer busy.Close()
	var conns [][2]*net.UDPConn
	seen := map[int]bool{}
	for {
		r, c, err := p.Allocate()
		if errors.Is(err, ErrNoPorts) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		port := r.LocalAddr().(*net.UDPAddr).Port
		if port%2 != 0 || c.LocalAddr().(*net.UDPAddr).Port != port+1 {
			t.Errorf("pair %v/%v is not even/odd", r.LocalAddr(), c.LocalAddr())
		}
		if seen[port] || port == 41004 {
			t.Errorf("port %d handed out wrongly", port)
		}
		seen[port] = true
		conns = append(conns, [2]*net.UDPConn{r, c})
	}
	if len(conns) != 3 {
		t.Errorf("allocated %d pairs, want 3 (one busy)", len(conns))
	}
	// Round robin: after releasing the first, the next allocation must
	// not reuse it while others are free.
	first := conns[0][0].LocalAddr().(*net.UDPAddr).Port
	p.Release(conns[0][0], conns[0][1])
	p.Release(conns[1][0], conns[1][1])
	r, c, err := p.Allocate()
	if err != nil {
		t.Fatal(err)
	}
	if got := r.LocalAddr().(*net.UDPAddr).Port; got == first {
		t.Errorf("released port %d reused at once", got)
	}
	p.Release(r, c)
	p.Release(conns[2][0], conns[2][1])
	if p.InUse() != 0 {
		t.Errorf("%d still in use", p.InUse())
	}
}

func TestPortPoolConcurrent(t *testing.T) {
	pp, err := NewPortPool(netip.MustParseAddr("127.0.0.1"), 42100, 42299, PoolOptions{Quarantine: time.Millisecond}) // 100 pairs
	if err != nil {
		t.Fatal(err)
	}
	p := wrapPool(pp)
	defer p.Close()
	const workers, rounds = 32, 40
	var mu sync.Mutex
	held := map[int]bool{}
	var wg sync.WaitGroup
	errc := make(chan error, workers)
	for range workers {
		wg.Go(func() {
			for range rounds {
				r, c, err := p.Allocate()
				if errors.Is(err, ErrNoPorts) {
					continue
				}
				if err != nil {
					errc <- err
					return
				}
				port := r.LocalAddr().(*net.UDPAddr).Port
				mu.Lock()
				if held[port] {
					mu.Unlock()
					errc <- errors.New("port handed out twice")
					return
				}
				held[port] = true
				mu.Unlock()
				mu.Lock()
				delete(held, port)
				mu.Unlock()
				p.Release(r, c)
			}
		})
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Error(err)
	}
	if n := p.InUse(); n != 0 {
		t.Errorf("%d pairs leaked", n)
	}
}

// port is the local port of c.
func port(c *net.UDPConn) int { return c.LocalAddr().(*net.UDPAddr).Port }

func TestPortPoolReusesRestedPairs(t *testing.T) {
	pp, err := NewPortPool(netip.MustParseAddr("127.0.0.1"), 43100, 43199, PoolOptions{Quarantine: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	p := wrapPool(pp)
	defer p.Close()
	r, c, err := p.Allocate()
	if err != nil {
		t.Fatal(err)
	}
	first := port(r)
	p.Release(r, c)
	p.Release(r, c) // twice: harmless
	if p.Idle() != 1 || p.InUse() != 0 {
		t.Fatalf("idle %d in use %d after release, want 1 and 0", p.Idle(), p.InUse())
	}
	// Still resting: a fresh pair, not the released one.
	r2, c2, err := p.Allocate()
	if err != nil {
		t.Fatal(err)
	}
	if port(r2) == first {
		t.Fatalf("port %d reused within its quarantine", first)
	}
	time.Sleep(150 * time.Millisecond)
	r3, c3, err := p.Allocate()
	if err != nil {
		t.Fatal(err)
	}
	if port(r3) != first || r3 != r {
		t.Fatalf("got port %d, want the rested pair on %d", port(r3), first)
	}
	// The reused pair reads again (its deadline was cleared).
	peer, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer peer.Close()
	if _, err := peer.WriteToUDP([]byte("rtp"), r3.LocalAddr().(*net.UDPAddr)); err != nil {
		t.Fatal(err)
	}
	_ = r3.SetReadDeadline(time.Now().Add(2 * time.Second))
	buf := make([]byte, 16)
	if n, _, err := r3.ReadFromUDP(buf); err != nil || string(buf[:n]) != "rtp" {
		t.Fatalf("read on the reused pair: %q, %v", buf[:n], err)
	}
	_ = r3.SetReadDeadline(time.Time{})
	p.Release(r2, c2)
	p.Release(r3, c3)
}

func TestPortPoolClosesPairsStillReceiving(t *testing.T) {
	pp, err := NewPortPool(netip.MustParseAddr("127.0.0.1"), 43200, 43299, PoolOptions{Quarantine: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	p := wrapPool(pp)
	defer p.Close()
	r, c, err := p.Allocate()
	if err != nil {
		t.Fatal(err)
	}
	stale := port(r)
	p.Release(r, c)
	// The old peer goes on sending RTCP to the rested pair.
	peer, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer peer.Close()
	if _, err := peer.WriteToUDP([]byte("late"), c.LocalAddr().(*net.UDPAddr)); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	r2, c2, err := p.Allocate()
	if err != nil {
		t.Fatal(err)
	}
	defer p.Release(r2, c2)
	if port(r2) == stale {
		t.Fatalf("pair on %d reused although its old peer still sends", stale)
	}
	if p.Idle() != 0 {
		t.Fatalf("%d pairs rest, want 0: the stale one is closed", p.Idle())
	}
	// Closed for good: the port can be bound by anyone again.
	l, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: stale})
	if err != nil {
		t.Fatalf("stale pair's port %d still bound: %v", stale, err)
	}
	_ = l.Close()
}

func TestPortPoolKeepAndMaxIdle(t *testing.T) {
	pp, err := NewPortPool(netip.MustParseAddr("127.0.0.1"), 43300, 43399, PoolOptions{Keep: 2, MaxIdle: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	p := wrapPool(pp)
	var pairs [][2]*net.UDPConn
	for range 3 {
		r, c, err := p.Allocate()
		if err != nil {
			t.Fatal(err)
		}
		pairs = append(pairs, [2]*net.UDPConn{r, c})
	}
	for _, pr := range pairs {
		p.Release(pr[0], pr[1])
	}
	if p.Idle() != 2 || p.InUse() != 0 {
		t.Fatalf("idle %d in use %d, want 2 kept (Keep) and 0", p.Idle(), p.InUse())
	}
	time.Sleep(100 * time.Millisecond)
	r, c, err := p.Allocate() // expires both resting pairs, binds afresh
	if err != nil {
		t.Fatal(err)
	}
	if p.Idle() != 0 {
		t.Fatalf("%d pairs rest past MaxIdle", p.Idle())
	}
	p.Close()
	p.Release(r, c) // after Close: closed at once
	if p.Idle() != 0 || p.InUse() != 0 {
		t.Fatalf("idle %d in use %d after Close and release", p.Idle(), p.InUse())
	}
	if _, _, err := r.ReadFromUDP(make([]byte, 1)); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("pair released after Close is not closed: %v", err)
	}
}

func TestPortPoolFullRangeTakesRestingPair(t *testing.T) {
	pp, err := NewPortPool(netip.MustParseAddr("127.0.0.1"), 43401, 43404, PoolOptions{Quarantine: time.Hour}) // one pair: 43402/43403
	if err != nil {
		t.Fatal(err)
	}
	p := wrapPool(pp)
	defer p.Close()
	r, c, err := p.Allocate()
	if err != nil {
		t.Fatal(err)
	}
	p.Release(r, c)
	r2, c2, err := p.Allocate()
	if err != nil {
		t.Fatalf("range of one pair, resting: %v", err)
	}
	if r2 != r {
		t.Fatal("want the resting pair when the range is taken")
	}
	if _, _, err := p.Allocate(); !errors.Is(err, ErrNoPorts) {
		t.Fatalf("got %v, want ErrNoPorts", err)
	}
	p.Release(r2, c2)
}

func TestPortPoolJanitorClosesIdlePairs(t *testing.T) {
	pp, err := NewPortPool(netip.MustParseAddr("127.0.0.1"), 43500, 43599, PoolOptions{MaxIdle: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	p := wrapPool(pp)
	defer p.Close()
	r, c, err := p.Allocate()
	if err != nil {
		t.Fatal(err)
	}
	p.Release(r, c)
	deadline := time.Now().Add(5 * time.Second)
	for p.Idle() > 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if p.Idle() != 0 {
		t.Fatal("an idle pair outlived MaxIdle with no call to close it")
	}
	if _, _, err := r.ReadFromUDP(make([]byte, 1)); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("expired pair not closed: %v", err)
	}
}

// testPool is a PortPool handing out bare socket pairs, as the tests
// written for them want.
type testPool struct {
	*PortPool
	mu    sync.Mutex
	pairs map[*net.UDPConn]*Pair
}

func wrapPool(p *PortPool) *testPool { return &testPool{PortPool: p, pairs: map[*net.UDPConn]*Pair{}} }

func (p *testPool) Allocate() (rtp, rtcp *net.UDPConn, err error) {
	pr, err := p.PortPool.Allocate()
	if err != nil {
		return nil, nil, err
	}
	p.mu.Lock()
	p.pairs[pr.RTP] = pr
	p.mu.Unlock()
	return pr.RTP, pr.RTCP, nil
}

func (p *testPool) Release(rtp, _ *net.UDPConn) {
	p.mu.Lock()
	pr := p.pairs[rtp]
	p.mu.Unlock()
	p.PortPool.Release(pr)
}

// TestRawSenderSharesThePort: what a pair sends leaves from its RTP port
// through the raw sender, and everything arriving on the port reaches the
// RTP socket, none the sender (the reuseport steering program).
func TestRawSenderSharesThePort(t *testing.T) {
	p, err := NewPortPool(netip.MustParseAddr("127.0.0.1"), 43600, 43699, PoolOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	pr, err := p.Allocate()
	if err != nil {
		t.Fatal(err)
	}
	defer p.Release(pr)
	if pr.send == nil {
		t.Skip("this kernel refuses a second socket on the port (SO_ATTACH_REUSEPORT_CBPF)")
	}
	peer, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer peer.Close()
	if err := pr.send.send([]byte("out"), peer.LocalAddr().(*net.UDPAddr).AddrPort()); err != nil {
		t.Fatal(err)
	}
	_ = peer.SetReadDeadline(time.Now().Add(2 * time.Second))
	buf := make([]byte, 16)
	n, from, err := peer.ReadFromUDP(buf)
	if err != nil || string(buf[:n]) != "out" {
		t.Fatalf("peer read %q, %v", buf[:n], err)
	}
	if from.Port != port(pr.RTP) {
		t.Fatalf("sent from port %d, want the RTP port %d", from.Port, port(pr.RTP))
	}
	const count = 200
	for i := range count {
		if _, err := peer.WriteToUDP([]byte{byte(i)}, pr.RTP.LocalAddr().(*net.UDPAddr)); err != nil {
			t.Fatal(err)
		}
	}
	_ = pr.RTP.SetReadDeadline(time.Now().Add(2 * time.Second))
	for i := range count {
		if _, _, err := pr.RTP.ReadFromUDP(buf); err != nil {
			t.Fatalf("RTP socket got %d of %d datagrams: %v", i, count, err)
		}
	}
	_ = pr.RTP.SetReadDeadline(time.Time{})
}
