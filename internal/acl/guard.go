package acl

import (
	"net/netip"
	"sync"
	"time"
)

// GuardOptions configures a Guard. Zero values pick the documented default.
type GuardOptions struct {
	// Service names the bans this guard makes ("SIP", "AMI", "API").
	Service string
	// Bans is the ban list the guard bans into and checks; nil gives the
	// guard a private one. One list shared by SIP, AMI and the API makes
	// a ban by one of them hold for all.
	Bans *BanList
	// RequestsPerSecond is the token-bucket refill rate per source address
	// for every request together. Zero or negative disables it.
	RequestsPerSecond int
	// Burst is the bucket size; default max(RequestsPerSecond, 1).
	Burst int
	// MethodRates are further per-source buckets, one per method name
	// ("INVITE", "REGISTER", ...; "*" for every method not named), in
	// requests per second with a burst of twice that (Kamailio's pike
	// module, per method). A method with no rate (and no "*") is bound by
	// RequestsPerSecond alone.
	MethodRates map[string]int
	// FloodBanDrops bans a source for BanTime once that many of its
	// requests were refused for exceeding a rate within FailureWindow: a
	// flood is banned, a burst only slowed. Zero never bans for rate.
	FloodBanDrops int
	// MaxAuthFailures bans a source after this many failed authentications
	// inside FailureWindow. Zero or negative disables banning (in the
	// spirit of fail2ban on Asterisk's security log, built in).
	MaxAuthFailures int
	// FailureWindow is how long failures are remembered; default 60 s.
	FailureWindow time.Duration
	// BanTime is how long a ban lasts; default 10 min.
	BanTime time.Duration
	// MaxEntries bounds the number of tracked sources; default 65536.
	// When full, idle entries are evicted first, then arbitrary ones (a
	// spoofed-source flood must not grow memory without bound).
	MaxEntries int
	// Clock returns the current time; default time.Now.
	Clock func() time.Time
}

// Guard is a per-source-address flood and brute-force guard of one service.
// It is safe for concurrent use. Memory is bounded by MaxEntries: entries
// that are idle (full buckets, no failures or drops in the window) are
// swept at most once per FailureWindow, and eagerly when the table is full.
type Guard struct {
	service    string
	bans       *BanList
	rate       float64 // tokens per second; 0 = unlimited
	burst      float64
	methods    map[string]int // method -> index into methodRate
	methodRate []float64      // per index; the last is "*" when set
	anyMethod  int            // index of "*", -1 when none
	floodBan   int
	maxFail    int
	window     time.Duration
	banTime    time.Duration
	maxEntries int
	clock      func() time.Time

	mu        sync.Mutex
	entries   map[netip.Addr]*guardEntry
	lastSweep time.Time
}

type bucket struct {
	tokens float64
	last   time.Time
}

type guardEntry struct {
	all       bucket
	method    []bucket
	failures  int
	failStart time.Time // start of the current failure window
	drops     int
	dropStart time.Time
}

// NewGuard returns a Guard configured by o.
func NewGuard(o GuardOptions) *Guard {
	g := &Guard{
		service:    o.Service,
		bans:       o.Bans,
		floodBan:   o.FloodBanDrops,
		maxFail:    o.MaxAuthFailures,
		window:     o.FailureWindow,
		banTime:    o.BanTime,
		maxEntries: o.MaxEntries,
		clock:      o.Clock,
		anyMethod:  -1,
		entries:    make(map[netip.Addr]*guardEntry),
	}
	if g.clock == nil {
		g.clock = time.Now
	}
	if g.bans == nil {
		g.bans = NewBanList(BanListOptions{Clock: g.clock})
	}
	if o.RequestsPerSecond > 0 {
		g.rate = float64(o.RequestsPerSecond)
		g.burst = float64(max(o.Burst, 1))
		if o.Burst <= 0 {
			g.burst = float64(max(o.RequestsPerSecond, 1))
		}
	}
	for m, r := range o.MethodRates {
		if r <= 0 {
			continue
		}
		if g.methods == nil {
			g.methods = map[string]int{}
		}
		g.methods[m] = len(g.methodRate)
		if m == "*" {
			g.anyMethod = len(g.methodRate)
		}
		g.methodRate = append(g.methodRate, float64(r))
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
	return g
}

func normalize(ip netip.Addr) netip.Addr { return ip.Unmap().WithZone("") }

// Bans is the ban list the guard bans into.
func (g *Guard) Bans() *BanList {
	if g == nil {
		return nil
	}
	return g.bans
}

// entry returns the entry for ip, creating it (and evicting if full).
// g.mu must be held.
func (g *Guard) entry(ip netip.Addr, now time.Time) *guardEntry {
	if e, ok := g.entries[ip]; ok {
		return e
	}
	if now.Sub(g.lastSweep) >= g.window || len(g.entries) >= g.maxEntries {
		g.sweep(now)
	}
	e := &guardEntry{all: bucket{tokens: g.burst, last: now}}
	g.entries[ip] = e
	return e
}

// sweep drops idle entries, then, if the table is still full, arbitrary
// ones until there is room (bans live in the BanList, not here). g.mu
// must be held.
func (g *Guard) sweep(now time.Time) {
	g.lastSweep = now
	for ip, e := range g.entries {
		if g.idle(e, now) {
			delete(g.entries, ip)
		}
	}
	for ip := range g.entries {
		if len(g.entries) < g.maxEntries {
			return
		}
		delete(g.entries, ip)
	}
}

func (g *Guard) idle(e *guardEntry, now time.Time) bool {
	if e.failures > 0 && now.Sub(e.failStart) < g.window {
		return false
	}
	if e.drops > 0 && now.Sub(e.dropStart) < g.window {
		return false
	}
	if g.rate > 0 && e.all.tokens+now.Sub(e.all.last).Seconds()*g.rate < g.burst {
		return false
	}
	for i, b := range e.method {
		r := g.methodRate[i]
		if b.last.IsZero() {
			continue
		}
		if b.tokens+now.Sub(b.last).Seconds()*r < 2*r {
			return false
		}
	}
	return true
}

// take takes a token from b (rate r, size burst) and reports whether there
// was one.
func take(b *bucket, r, burst float64, now time.Time) bool {
	if b.last.IsZero() {
		b.tokens, b.last = burst, now
	}
	if el := now.Sub(b.last); el > 0 {
		b.tokens = min(burst, b.tokens+el.Seconds()*r)
		b.last = now
	}
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// Allow reports whether a request from ip may be processed now: false while
// ip is banned or when its token bucket is empty.
func (g *Guard) Allow(ip netip.Addr) bool { return g.AllowMethod(ip, "") }

// AllowMethod is Allow for a request of the named method, which must also
// fit that method's bucket (GuardOptions.MethodRates). A source refused
// FloodBanDrops times within the window is banned.
func (g *Guard) AllowMethod(ip netip.Addr, method string) bool {
	if g == nil {
		return true
	}
	ip = normalize(ip)
	if g.bans.Banned(ip) {
		return false
	}
	if g.rate == 0 && g.methods == nil {
		return true // only bans matter; don't create entries for every source
	}
	if g.bans.Allowlisted(ip) {
		return true
	}
	mi := -1
	if g.methods != nil && method != "" {
		var ok bool
		if mi, ok = g.methods[method]; !ok {
			mi = g.anyMethod
		}
	}
	if g.rate == 0 && mi < 0 {
		return true
	}
	now := g.clock()
	g.mu.Lock()
	defer g.mu.Unlock()
	e := g.entry(ip, now)
	ok := g.rate == 0 || take(&e.all, g.rate, g.burst, now)
	if ok && mi >= 0 {
		if e.method == nil {
			e.method = make([]bucket, len(g.methodRate))
		}
		r := g.methodRate[mi]
		if !take(&e.method[mi], r, 2*r, now) {
			// The request was counted against the overall bucket:
			// a source flooding one method slows all of its methods.
			ok = false
		}
	}
	if !ok && g.floodBan > 0 {
		if e.drops == 0 || now.Sub(e.dropStart) >= g.window {
			e.drops, e.dropStart = 0, now
		}
		e.drops++
		if e.drops >= g.floodBan {
			e.drops = 0
			g.bans.Ban(ip, g.service, "flood", g.banTime)
		}
	}
	return ok
}

// AuthFailed records a failed authentication from ip and reports whether ip
// is now banned.
func (g *Guard) AuthFailed(ip netip.Addr) (banned bool) {
	if g == nil || g.maxFail <= 0 {
		return false
	}
	ip = normalize(ip)
	if g.bans.Allowlisted(ip) {
		return false
	}
	if g.bans.Banned(ip) {
		return true
	}
	now := g.clock()
	g.mu.Lock()
	defer g.mu.Unlock()
	e := g.entry(ip, now)
	if e.failures == 0 || now.Sub(e.failStart) >= g.window {
		e.failures = 0
		e.failStart = now
	}
	e.failures++
	if e.failures >= g.maxFail {
		e.failures = 0
		return g.bans.Ban(ip, g.service, "authentication failures", g.banTime)
	}
	return false
}

// Ban bans ip now for the guard's ban time (a scanner fingerprint, say).
func (g *Guard) Ban(ip netip.Addr, reason string) bool {
	if g == nil {
		return false
	}
	return g.bans.Ban(ip, g.service, reason, g.banTime)
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
	return g.bans.Banned(ip)
}

// Unban lifts a ban on ip and forgets its counts (an operator action).
func (g *Guard) Unban(ip netip.Addr) {
	if g == nil {
		return
	}
	ip = normalize(ip)
	g.bans.Unban(ip)
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
