package media

import (
	"errors"
	"net"
	"net/netip"
	"sync"
	"testing"
)

func TestPortPoolBasics(t *testing.T) {
	lo := netip.MustParseAddr("127.0.0.1")
	if _, err := NewPortPool(lo, 5000, 5000); err == nil {
		t.Error("a one-port range has no RTP/RTCP pair")
	}
	if _, err := NewPortPool(netip.Addr{}, 5000, 6000); err == nil {
		t.Error("invalid IP accepted")
	}
	p, err := NewPortPool(lo, 41001, 41010) // even ports 41002..41008
	if err != nil {
		t.Fatal(err)
	}
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
	p, err := NewPortPool(netip.MustParseAddr("127.0.0.1"), 42100, 42299) // 100 pairs
	if err != nil {
		t.Fatal(err)
	}
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
