package acl

import (
	"net/netip"
	"sync"
	"time"
)

// GuardOptions configures a Guard. Zero values pick the documented default.
type GuardOptions struct {
	// RequestsPerSecond is the token-bucket refill rate per source address.
	// Zero or negative disables rate limiting.
	RequestsPerSecond int
	// Burst is the bucket size; default max(RequestsPerSecond, 1).
	Burst int
	// MaxAuthFailures bans a source after this many failed authentications
	// inside FailureWindow. Zero or negative disables banning (in the
	// spirit of fail2ban on Asterisk's security log, built in).
	MaxAuthFailures int
	// FailureWindow is how long failures are remembered; default 60 s.
	FailureWindow time.Duration
	// BanTime is how long a ban lasts; default 10 min.
	BanTime time.Duration
	// MaxEntries bounds the number of tracked sources; default 65536.
	// When full, idle entries are evicted first, then arbitrary non-banned
	// ones (a spoofed-source flood must not grow memory without bound).
	MaxEntries int
	// Clock returns the current time; default time.Now.
	Clock func() time.Time
}

// Guard is a per-source-address flood and brute-force guard. It is safe
// for concurrent use. Memory is bounded by MaxEntries: entries that are
// idle (full bucket, no failures in the window, not banned) are swept at
// most once per FailureWindow, and eagerly when the table is full.
type Guard struct {
	rate       float64 // tokens per second; 0 = unlimited
	burst      float64
	maxFail    int
	window     time.Duration
	banTime    time.Duration
	maxEntries int
	clock      func() time.Time

	mu        sync.Mutex
	entries   map[netip.Addr]*guardEntry
	lastSweep time.Time
}

type guardEntry struct {
	tokens      float64
	last        time.Time // last token refill
	failures    int
	failStart   time.Time // start of the current failure window
	bannedUntil time.Time
}

// NewGuard returns a Guard configured by o.
func NewGuard(o GuardOptions) *Guard {
	g := &Guard{
		maxFail:    o.MaxAuthFailures,
		window:     o.FailureWindow,
		banTime:    o.BanTime,
		maxEntries: o.MaxEntries,
		clock:      o.Clock,
		entries:    make(map[netip.Addr]*guardEntry),
	}
	if o.RequestsPerSecond > 0 {
		g.rate = float64(o.RequestsPerSecond)
		g.burst = float64(max(o.Burst, 1))
		if o.Burst <= 0 {
			g.burst = float64(max(o.RequestsPerSecond, 1))
		}
	}
	if g.window <= 0 {
		g.window = 60 * time.Second
	}
	if g.banTime <= 0 {
		g.banTime = 10 * time.Minute
	}
	if g.maxEntries <= 0 {
		g.maxEntries = 65536
	}
	if g.clock == nil {
		g.clock = time.Now
	}
	return g
}

func normalize(ip netip.Addr) netip.Addr { return ip.Unmap().WithZone("") }

// entry returns the entry for ip, creating it (and evicting if full).
// g.mu must be held.
func (g *Guard) entry(ip netip.Addr, now time.Time) *guardEntry {
	if e, ok := g.entries[ip]; ok {
		return e
	}
	if now.Sub(g.lastSweep) >= g.window || len(g.entries) >= g.maxEntries {
		g.sweep(now)
	}
	e := &guardEntry{tokens: g.burst, last: now}
	g.entries[ip] = e
	return e
}

// sweep drops idle entries, then, if the table is still full, arbitrary
// non-banned entries until there is room. g.mu must be held.
func (g *Guard) sweep(now time.Time) {
	g.lastSweep = now
	for ip, e := range g.entries {
		if g.idle(e, now) {
			delete(g.entries, ip)
		}
	}
	for ip, e := range g.entries {
		if len(g.entries) < g.maxEntries {
			return
		}
		if !now.Before(e.bannedUntil) {
			delete(g.entries, ip)
		}
	}
	// Every entry is banned: drop any, the oldest bans are as good as any.
	for ip := range g.entries {
		if len(g.entries) < g.maxEntries {
			return
		}
		delete(g.entries, ip)
	}
}

func (g *Guard) idle(e *guardEntry, now time.Time) bool {
	if now.Before(e.bannedUntil) {
		return false
	}
	if e.failures > 0 && now.Sub(e.failStart) < g.window {
		return false
	}
	if g.rate > 0 {
		refilled := e.tokens + now.Sub(e.last).Seconds()*g.rate
		if refilled < g.burst {
			return false
		}
	}
	return true
}

// Allow reports whether a request from ip may be processed now: false while
// ip is banned or when its token bucket is empty.
func (g *Guard) Allow(ip netip.Addr) bool {
	if g == nil {
		return true
	}
	ip = normalize(ip)
	now := g.clock()
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.rate == 0 {
		// Only bans matter; don't create entries for every source.
		e, ok := g.entries[ip]
		return !ok || !now.Before(e.bannedUntil)
	}
	e := g.entry(ip, now)
	if now.Before(e.bannedUntil) {
		return false
	}
	if el := now.Sub(e.last); el > 0 {
		e.tokens = min(g.burst, e.tokens+el.Seconds()*g.rate)
		e.last = now
	}
	if e.tokens < 1 {
		return false
	}
	e.tokens--
	return true
}

// AuthFailed records a failed authentication from ip and reports whether ip
// is now banned.
func (g *Guard) AuthFailed(ip netip.Addr) (banned bool) {
	if g == nil || g.maxFail <= 0 {
		return false
	}
	ip = normalize(ip)
	now := g.clock()
	g.mu.Lock()
	defer g.mu.Unlock()
	e := g.entry(ip, now)
	if now.Before(e.bannedUntil) {
		return true
	}
	if e.failures == 0 || now.Sub(e.failStart) >= g.window {
		e.failures = 0
		e.failStart = now
	}
	e.failures++
	if e.failures >= g.maxFail {
		e.bannedUntil = now.Add(g.banTime)
		e.failures = 0
		return true
	}
	return false
}

// AuthSucceeded clears the failure count of ip (a ban stays in force).
func (g *Guard) AuthSucceeded(ip netip.Addr) {
	if g == nil {
		return
	}
	ip = normalize(ip)
	g.mu.Lock()
	defer g.mu.Unlock()
	if e, ok := g.entries[ip]; ok {
		e.failures = 0
	}
}

// Banned reports whether ip is currently banned.
func (g *Guard) Banned(ip netip.Addr) bool {
	if g == nil {
		return false
	}
	ip = normalize(ip)
	now := g.clock()
	g.mu.Lock()
	defer g.mu.Unlock()
	e, ok := g.entries[ip]
	return ok && now.Before(e.bannedUntil)
}

// Unban lifts a ban on ip (an operator action).
func (g *Guard) Unban(ip netip.Addr) {
	if g == nil {
		return
	}
	ip = normalize(ip)
	g.mu.Lock()
	defer g.mu.Unlock()
	delete(g.entries, ip)
}

// Len returns the number of tracked sources (for metrics and tests).
func (g *Guard) Len() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.entries)
}
