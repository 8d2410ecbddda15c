package acl

import (
	"net/netip"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

// Ban is one banned address.
type Ban struct {
	Addr netip.Addr
	// Service is what banned it: "SIP", "AMI", "API" or "operator".
	Service string
	// Reason says why: "authentication failures", "flood", "scanner",
	// or an operator's text.
	Reason string
	Since  time.Time
	Until  time.Time
	// Hits counts what the address sent while banned (dropped unseen).
	Hits uint64
}

// BanList is the process's one list of banned addresses, shared by SIP, AMI
// and the API (fail2ban built in: the services ban directly, no log is
// scraped), with an allowlist of networks that are never banned nor rate
// limited, and named counters of what the services dropped. A nil
// *BanList bans nothing. It is safe for concurrent use; Banned, the check
// every packet pays, takes a read lock and one map lookup.
type BanList struct {
	allow []netip.Prefix
	clock func() time.Time
	max   int

	mu   sync.RWMutex
	bans map[netip.Addr]*banEntry

	counters sync.Map // name -> *atomic.Uint64
}

type banEntry struct {
	Ban
	hits atomic.Uint64
}

// BanListOptions configure a BanList.
type BanListOptions struct {
	// Allow lists networks never banned nor rate limited (trusted
	// carriers, the operator's own networks).
	Allow []netip.Prefix
	// MaxBans bounds the list (default 100000); when full, the ban that
	// ends soonest makes room.
	MaxBans int
	Clock   func() time.Time
}

// NewBanList returns an empty ban list.
func NewBanList(o BanListOptions) *BanList {
	b := &BanList{allow: slices.Clone(o.Allow), clock: o.Clock, max: o.MaxBans, bans: map[netip.Addr]*banEntry{}}
	if b.clock == nil {
		b.clock = time.Now
	}
	if b.max <= 0 {
		b.max = 100000
	}
	for i, p := range b.allow {
		b.allow[i] = p.Masked()
	}
	return b
}

// Allowlisted reports whether ip is in the allowlist.
func (b *BanList) Allowlisted(ip netip.Addr) bool {
	if b == nil || len(b.allow) == 0 {
		return false
	}
	return matches(b.allow, normalize(ip))
}

// Banned reports whether ip is banned now, counting the hit.
func (b *BanList) Banned(ip netip.Addr) bool {
	if b == nil {
		return false
	}
	ip = normalize(ip)
	b.mu.RLock()
	e, ok := b.bans[ip]
	b.mu.RUnlock()
	if !ok {
		return false
	}
	if !b.clock().Before(e.Until) {
		b.mu.Lock()
		if cur, ok := b.bans[ip]; ok && cur == e {
			delete(b.bans, ip)
		}
		b.mu.Unlock()
		return false
	}
	e.hits.Add(1)
	return true
}

// Ban bans ip for d on behalf of service. It reports false, doing nothing,
// for an allowlisted address. A longer ban is never shortened.
func (b *BanList) Ban(ip netip.Addr, service, reason string, d time.Duration) bool {
	if b == nil || !ip.IsValid() || b.Allowlisted(ip) {
		return false
	}
	ip = normalize(ip)
	now := b.clock()
	until := now.Add(d)
	b.mu.Lock()
	defer b.mu.Unlock()
	if e, ok := b.bans[ip]; ok && now.Before(e.Until) {
		if until.After(e.Until) {
			e.Until, e.Service, e.Reason = until, service, reason
		}
		return true
	}
	if len(b.bans) >= b.max {
		b.evict(now)
	}
	b.bans[ip] = &banEntry{Ban: Ban{Addr: ip, Service: service, Reason: reason, Since: now, Until: until}}
	return true
}

// evict drops expired bans, then the one ending soonest. b.mu is held.
func (b *BanList) evict(now time.Time) {
	var soonest netip.Addr
	var end time.Time
	for ip, e := range b.bans {
		if !now.Before(e.Until) {
			delete(b.bans, ip)
			continue
		}
		if !soonest.IsValid() || e.Until.Before(end) {
			soonest, end = ip, e.Until
		}
	}
	if len(b.bans) >= b.max && soonest.IsValid() {
		delete(b.bans, soonest)
	}
}

// Unban lifts the ban of ip and reports whether there was one.
func (b *BanList) Unban(ip netip.Addr) bool {
	if b == nil {
		return false
	}
	ip = normalize(ip)
	b.mu.Lock()
	defer b.mu.Unlock()
	_, ok := b.bans[ip]
	delete(b.bans, ip)
	return ok
}

// Clear lifts every ban and returns how many there were.
func (b *BanList) Clear() int {
	if b == nil {
		return 0
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	n := len(b.bans)
	b.bans = map[netip.Addr]*banEntry{}
	return n
}

// List returns the bans in force, soonest to end first.
func (b *BanList) List() []Ban {
	if b == nil {
		return nil
	}
	now := b.clock()
	b.mu.RLock()
	out := make([]Ban, 0, len(b.bans))
	for _, e := range b.bans {
		if now.Before(e.Until) {
			ban := e.Ban
			ban.Hits = e.hits.Load()
			out = append(out, ban)
		}
	}
	b.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool {
		if !out[i].Until.Equal(out[j].Until) {
			return out[i].Until.Before(out[j].Until)
		}
		return out[i].Addr.Less(out[j].Addr)
	})
	return out
}

// Counter returns the named counter, created at zero on first use; keep
// the pointer where a hot path increments it.
func (b *BanList) Counter(name string) *atomic.Uint64 {
	if b == nil {
		return new(atomic.Uint64)
	}
	if c, ok := b.counters.Load(name); ok {
		return c.(*atomic.Uint64)
	}
	c, _ := b.counters.LoadOrStore(name, new(atomic.Uint64))
	return c.(*atomic.Uint64)
}

// Counters returns every counter's value by name.
func (b *BanList) Counters() map[string]uint64 {
	out := map[string]uint64{}
	if b == nil {
		return out
	}
	b.counters.Range(func(k, v any) bool {
		out[k.(string)] = v.(*atomic.Uint64).Load()
		return true
	})
	return out
}

// ResetCounters sets every counter back to zero.
func (b *BanList) ResetCounters() {
	if b == nil {
		return
	}
	b.counters.Range(func(_, v any) bool {
		v.(*atomic.Uint64).Store(0)
		return true
	})
}
