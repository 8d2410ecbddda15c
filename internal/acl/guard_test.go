package acl

import (
	"net/netip"
	"sync"
	"testing"
	"time"
)

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{t: time.Unix(1_700_000_000, 0)} }
func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}
func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

var ipA = netip.MustParseAddr("192.0.2.1")
var ipB = netip.MustParseAddr("192.0.2.2")

func TestGuardTokenBucket(t *testing.T) {
	clk := newFakeClock()
	g := NewGuard(GuardOptions{RequestsPerSecond: 10, Burst: 3, Clock: clk.Now})
	for i := range 3 {
		if !g.Allow(ipA) {
			t.Fatalf("request %d within burst refused", i)
		}
	}
	if g.Allow(ipA) {
		t.Fatal("4th request in the same instant allowed beyond burst 3")
	}
	if !g.Allow(ipB) {
		t.Fatal("other source affected by ipA's bucket")
	}
	clk.Add(100 * time.Millisecond) // one token at 10/s
	if !g.Allow(ipA) {
		t.Fatal("token not refilled after 100ms")
	}
	if g.Allow(ipA) {
		t.Fatal("only one token should have been refilled")
	}
	clk.Add(time.Hour) // refill caps at burst
	for range 3 {
		if !g.Allow(ipA) {
			t.Fatal("refused within burst after long idle")
		}
	}
	if g.Allow(ipA) {
		t.Fatal("bucket exceeded burst after long idle")
	}
}

func TestGuardUnlimitedRate(t *testing.T) {
	g := NewGuard(GuardOptions{})
	for range 1000 {
		if !g.Allow(ipA) {
			t.Fatal("rate limiting disabled but request refused")
		}
	}
	if g.Len() != 0 {
		t.Fatalf("unlimited guard tracks %d entries, want 0", g.Len())
	}
}

func TestGuardBanAfterFailures(t *testing.T) {
	clk := newFakeClock()
	g := NewGuard(GuardOptions{MaxAuthFailures: 3, FailureWindow: time.Minute, BanTime: 5 * time.Minute, Clock: clk.Now})
	for i := range 2 {
		if g.AuthFailed(ipA) {
			t.Fatalf("banned after %d failures, before MaxAuthFailures", i+1)
		}
	}
	if g.Banned(ipA) {
		t.Fatal("Banned true before threshold")
	}
	if !g.AuthFailed(ipA) {
		t.Fatal("3rd failure did not ban")
	}
	if !g.Banned(ipA) || g.Allow(ipA) {
		t.Fatal("banned source still allowed")
	}
	if g.Banned(ipB) || !g.Allow(ipB) {
		t.Fatal("ban leaked to another source")
	}
	clk.Add(5*time.Minute - time.Second)
	if !g.Banned(ipA) {
		t.Fatal("ban lifted early")
	}
	clk.Add(time.Second)
	if g.Banned(ipA) || !g.Allow(ipA) {
		t.Fatal("ban not lifted after BanTime")
	}
}

func TestGuardFailureWindowAndSuccess(t *testing.T) {
	clk := newFakeClock()
	g := NewGuard(GuardOptions{MaxAuthFailures: 2, FailureWindow: time.Minute, Clock: clk.Now})
	g.AuthFailed(ipA)
	clk.Add(61 * time.Second)
	if g.AuthFailed(ipA) {
		t.Fatal("failure outside the window counted")
	}
	g.AuthSucceeded(ipA)
	if g.AuthFailed(ipA) {
		t.Fatal("success did not reset failures")
	}
	if !g.AuthFailed(ipA) {
		t.Fatal("two failures in window did not ban")
	}
	g.Unban(ipA)
	if g.Banned(ipA) {
		t.Fatal("Unban did not lift the ban")
	}
}

func TestGuardMappedAddressesShareEntry(t *testing.T) {
	clk := newFakeClock()
	g := NewGuard(GuardOptions{MaxAuthFailures: 1, Clock: clk.Now})
	g.AuthFailed(netip.MustParseAddr("::ffff:192.0.2.1"))
	if !g.Banned(ipA) {
		t.Fatal("IPv4-mapped source not treated as the IPv4 address")
	}
}

func TestGuardMemoryBounded(t *testing.T) {
	clk := newFakeClock()
	g := NewGuard(GuardOptions{RequestsPerSecond: 1, Burst: 1, MaxAuthFailures: 1, BanTime: time.Hour, MaxEntries: 100, Clock: clk.Now})
	g.AuthFailed(ipA) // banned: must survive eviction while others are evictable
	base := netip.MustParseAddr("10.0.0.0").As4()
	for i := range 10_000 {
		b := base
		b[2], b[3] = byte(i>>8), byte(i)
		g.Allow(netip.AddrFrom4(b))
		if g.Len() > 100 {
			t.Fatalf("guard grew to %d entries, limit 100", g.Len())
		}
	}
	if !g.Banned(ipA) {
		t.Fatal("eviction dropped a banned source while non-banned ones existed")
	}
	// Idle entries are swept once the window has passed.
	clk.Add(2 * time.Minute)
	g.Allow(ipB)
	if g.Len() > 3 {
		t.Fatalf("idle entries not swept: %d left", g.Len())
	}
}

func TestGuardNil(t *testing.T) {
	var g *Guard
	if !g.Allow(ipA) || g.AuthFailed(ipA) || g.Banned(ipA) {
		t.Fatal("nil guard must be a no-op that allows")
	}
	g.AuthSucceeded(ipA)
	g.Unban(ipA)
}

func TestGuardConcurrent(t *testing.T) {
	g := NewGuard(GuardOptions{RequestsPerSecond: 1000, MaxAuthFailures: 5})
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			ip := netip.AddrFrom4([4]byte{10, 0, 0, byte(w)})
			for range 1000 {
				g.Allow(ip)
				g.AuthFailed(ip)
				g.Banned(ip)
				g.AuthSucceeded(ip)
			}
		})
	}
	wg.Wait()
}
