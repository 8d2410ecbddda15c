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

func TestGuardMethodRatesAndFloodBan(t *testing.T) {
	clk := newFakeClock()
	bans := NewBanList(BanListOptions{Clock: clk.Now})
	g := NewGuard(GuardOptions{Service: "SIP", Bans: bans, RequestsPerSecond: 1000,
		MethodRates: map[string]int{"INVITE": 2, "*": 5}, FloodBanDrops: 3, BanTime: time.Minute, Clock: clk.Now})
	// INVITE: burst of twice the rate, then refused; OPTIONS has its own.
	for i := range 4 {
		if !g.AllowMethod(ipA, "INVITE") {
			t.Fatalf("INVITE %d within the burst of 4 refused", i)
		}
	}
	if g.AllowMethod(ipA, "INVITE") {
		t.Fatal("5th INVITE in the same instant allowed")
	}
	if !g.AllowMethod(ipA, "OPTIONS") {
		t.Fatal("OPTIONS refused because of INVITE's bucket")
	}
	if !g.AllowMethod(ipB, "INVITE") {
		t.Fatal("another source refused")
	}
	if bans.Banned(ipA) {
		t.Fatal("banned after one refusal")
	}
	g.AllowMethod(ipA, "INVITE")
	g.AllowMethod(ipA, "INVITE") // third refusal: a flood
	if !g.Banned(ipA) || !bans.Banned(ipA) {
		t.Fatal("flooding source not banned after FloodBanDrops refusals")
	}
	if l := bans.List(); len(l) != 1 || l[0].Service != "SIP" || l[0].Reason != "flood" {
		t.Fatalf("ban list %+v", l)
	}
	if g.AllowMethod(ipA, "OPTIONS") {
		t.Fatal("banned source allowed")
	}
	clk.Add(time.Minute)
	if !g.AllowMethod(ipA, "OPTIONS") {
		t.Fatal("ban not lifted after BanTime")
	}
}

func TestGuardAllowlist(t *testing.T) {
	clk := newFakeClock()
	bans := NewBanList(BanListOptions{Allow: []netip.Prefix{netip.MustParsePrefix("192.0.2.0/28")}, Clock: clk.Now})
	g := NewGuard(GuardOptions{Bans: bans, RequestsPerSecond: 1, Burst: 1, MaxAuthFailures: 1, Clock: clk.Now})
	for range 10 {
		if !g.Allow(ipA) {
			t.Fatal("allowlisted source rate limited")
		}
		if g.AuthFailed(ipA) {
			t.Fatal("allowlisted source banned")
		}
	}
	if bans.Ban(ipA, "operator", "test", time.Hour) || g.Banned(ipA) {
		t.Fatal("allowlisted source banned by hand")
	}
	if g.Len() != 0 {
		t.Fatalf("allowlisted source tracked: %d entries", g.Len())
	}
}

func TestGuardsShareBans(t *testing.T) {
	bans := NewBanList(BanListOptions{})
	sip := NewGuard(GuardOptions{Service: "SIP", Bans: bans, MaxAuthFailures: 2})
	ami := NewGuard(GuardOptions{Service: "AMI", Bans: bans, MaxAuthFailures: 5})
	sip.AuthFailed(ipA)
	if !sip.AuthFailed(ipA) {
		t.Fatal("not banned")
	}
	if !ami.Banned(ipA) || ami.Allow(ipA) {
		t.Fatal("a SIP ban does not hold for AMI")
	}
	ami.Unban(ipA)
	if sip.Banned(ipA) {
		t.Fatal("unban through AMI's guard left the SIP ban")
	}
}
