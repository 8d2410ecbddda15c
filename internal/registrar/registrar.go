// Package registrar is the location service and REGISTER processing of a
// SIP registrar (RFC 3261 section 10.3), with NAT-aware bindings (RFC 3581)
// and a stateless UDP fast path for REGISTER floods (see WrapPacketConn).
package registrar

import (
	"context"
	"log/slog"
	"net/netip"
	"sync"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/entvoice/entvoice/internal/acl"
	"github.com/entvoice/entvoice/internal/events"
	"github.com/entvoice/entvoice/internal/sipauth"
)

// Account is what the registrar needs to know about a user.
type Account struct {
	Username    string
	Credentials sipauth.Credentials
	// ACL restricts the source addresses the account may register from
	// (Asterisk endpoint permit/deny); nil allows all.
	ACL *acl.List
	// MaxContacts bounds the bindings of the AOR; 0 means 5. Asterisk's
	// max_contacts defaults to 1 with remove_existing=no (a second phone
	// is refused); we default to 5 and, when the AOR is full, replace the
	// bindings that expire soonest, like remove_existing=yes.
	MaxContacts int
	Enabled     bool
	// AOR is the key the account's bindings are stored under (Lookup,
	// Unregister, OnChange); empty means Username. Hosted mode gives each
	// tenant's users their own keys, as two tenants may both have 1001.
	AOR string
}

// Scope is what the domain of one REGISTER selects in hosted mode: the
// realm it is challenged with and the users it may authenticate as.
type Scope struct {
	Challenger *sipauth.Challenger
	Lookup     func(user string) (Account, bool)
}

// DefaultMaxContacts is used when Account.MaxContacts is 0.
const DefaultMaxContacts = 5

// Binding is one registered contact of an address-of-record.
type Binding struct {
	AOR string
	// Contact is the registered contact URI (RFC 3261 section 10.2.1).
	Contact string
	// Source is where the REGISTER came from (RFC 3581 received/rport):
	// requests to the user go here, not to the Contact host, so phones
	// behind NAT are reachable (Asterisk's rewrite_contact/force_rport).
	Source    netip.AddrPort
	Transport string
	Expires   time.Time
	UserAgent string
	CallID    string
	CSeq      uint32

	// params are the Contact header's parameters but expires (nil when
	// none). The URI is kept as text only (Contact) and parsed again for a
	// 200 OK: a parsed sip.Uri per binding was a tenth of a contact's
	// memory.
	params  sip.HeaderParams
	ckey    string // contactKey of the URI
	updated time.Time
}

// Options configures a Registrar.
type Options struct {
	// Realm is the digest realm; it must match the Challenger's.
	Realm      string
	Challenger *sipauth.Challenger
	Lookup     func(user string) (Account, bool)
	// Scope, when set, picks the Challenger and Lookup for each request
	// (by its To domain, the address-of-record's); nil uses the two above.
	Scope func(req *sip.Request) Scope
	// MinExpires (default 60 s), MaxExpires (default 3600 s) and
	// DefaultExpires (default 3600 s) bound registration lifetimes
	// (Asterisk AOR minimum_expiration, maximum_expiration,
	// default_expiration).
	MinExpires, MaxExpires, DefaultExpires time.Duration
	// Guard limits request rates and bans sources that fail to
	// authenticate; nil disables both.
	Guard  *acl.Guard
	Logger *slog.Logger
	Clock  func() time.Time
	// Security, when set, is told of each authentication outcome as one
	// of Asterisk's security events (ChallengeSent, SuccessfulAuth,
	// InvalidAccountID, ChallengeResponseFailed, FailedACL,
	// RequestBadFormat), for the caller to fill in and report.
	Security func(req *sip.Request, src netip.AddrPort, transport string, ev events.Security)
	// OnChange is called, outside any lock, after the bindings of aor
	// change: added, refreshed, removed, expired or unregistered. before
	// and after are copies of the set before and after the change (after
	// is empty when the AOR has none left), so a listener needs no copy
	// of its own. Calls for different AORs may run concurrently.
	OnChange func(aor string, before, after []Binding)
}

// Registrar holds the location service. It is safe for concurrent use.
type Registrar struct {
	realm          string
	ch             *sipauth.Challenger
	lookup         func(string) (Account, bool)
	scope          func(*sip.Request) Scope
	minExp, maxExp time.Duration
	defExp         time.Duration
	guard          *acl.Guard
	log            *slog.Logger
	clock          func() time.Time
	onChange       func(aor string, before, after []Binding)
	security       func(*sip.Request, netip.AddrPort, string, events.Security)

	mu        sync.RWMutex
	aors      map[string][]Binding
	total     int
	nextSweep time.Time
}

// sweepInterval bounds how often expired bindings are collected.
const sweepInterval = time.Second

// NewRegistrar returns a Registrar configured by o. A nil Challenger gets
// one with o.Realm and a random key; a nil Lookup knows no users.
func NewRegistrar(o Options) *Registrar {
	r := &Registrar{
		realm:    o.Realm,
		ch:       o.Challenger,
		lookup:   o.Lookup,
		scope:    o.Scope,
		minExp:   o.MinExpires,
		maxExp:   o.MaxExpires,
		defExp:   o.DefaultExpires,
		guard:    o.Guard,
		security: o.Security,
		log:      o.Logger,
		clock:    o.Clock,
		onChange: o.OnChange,
		aors:     make(map[string][]Binding),
	}
	if r.ch == nil {
		r.ch = sipauth.NewChallenger(sipauth.Options{Realm: o.Realm, Clock: o.Clock})
	}
	if r.realm == "" {
		r.realm = r.ch.Realm()
	}
	if r.lookup == nil {
		r.lookup = func(string) (Account, bool) { return Account{}, false }
	}
	if r.minExp <= 0 {
		r.minExp = 60 * time.Second
	}
	if r.maxExp <= 0 {
		r.maxExp = 3600 * time.Second
	}
	if r.defExp <= 0 {
		r.defExp = 3600 * time.Second
	}
	r.defExp = min(max(r.defExp, r.minExp), r.maxExp)
	if r.log == nil {
		r.log = slog.Default()
	}
	if r.clock == nil {
		r.clock = time.Now
	}
	return r
}

// Lookup returns the current (unexpired) bindings of aor, most recently
// updated first. The AOR is the account username (the To-URI user).
func (r *Registrar) Lookup(aor string) []Binding {
	now := r.clock()
	r.mu.RLock()
	defer r.mu.RUnlock()
	bs := r.aors[aor]
	out := make([]Binding, 0, len(bs))
	for _, b := range bs {
		if b.Expires.After(now) {
			out = append(out, b)
		}
	}
	sortNewestFirst(out)
	return out
}

// Unregister removes every binding of aor (used when an account is
// disabled or deleted). It reports whether there were any.
func (r *Registrar) Unregister(aor string) bool {
	r.mu.Lock()
	before := r.aors[aor]
	delete(r.aors, aor)
	r.total -= len(before)
	r.mu.Unlock()
	if len(before) > 0 && r.onChange != nil {
		r.onChange(aor, before, []Binding{})
	}
	return len(before) > 0
}

// Count returns the number of bindings, after collecting expired ones if a
// sweep is due (so it may include bindings expired less than a second ago).
func (r *Registrar) Count() int {
	r.Sweep()
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.total
}

// Sweep removes expired bindings, at most once per second (cheap: no timer
// per binding). Handle calls it; call it (or Run) when REGISTER traffic
// may stop, so that expiries are reported through OnChange.
func (r *Registrar) Sweep() {
	now := r.clock()
	r.mu.RLock()
	due := !now.Before(r.nextSweep)
	r.mu.RUnlock()
	if !due {
		return
	}
	type change struct {
		aor           string
		before, after []Binding
	}
	var changes []change
	r.mu.Lock()
	if now.Before(r.nextSweep) { // another goroutine swept meanwhile
		r.mu.Unlock()
		return
	}
	r.nextSweep = now.Add(sweepInterval)
	for aor, bs := range r.aors {
		expired := false
		for _, b := range bs {
			expired = expired || !b.Expires.After(now)
		}
		if !expired {
			continue
		}
		var before []Binding
		if r.onChange != nil {
			before = cloneBindings(bs)
		}
		kept := bs[:0]
		for _, b := range bs {
			if b.Expires.After(now) {
				kept = append(kept, b)
			}
		}
		clear(bs[len(kept):])
		r.total -= len(bs) - len(kept)
		if len(kept) == 0 {
			delete(r.aors, aor)
		} else {
			r.aors[aor] = kept
		}
		if r.onChange != nil {
			changes = append(changes, change{aor, before, cloneBindings(kept)})
		}
	}
	r.mu.Unlock()
	for _, c := range changes {
		r.onChange(c.aor, c.before, c.after)
	}
}

// Run sweeps expired bindings every second until ctx is done.
func (r *Registrar) Run(ctx context.Context) error {
	t := time.NewTicker(sweepInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
			r.Sweep()
		}
	}
}

func cloneBindings(bs []Binding) []Binding {
	out := make([]Binding, len(bs))
	copy(out, bs)
	return out
}

func sortNewestFirst(bs []Binding) {
	// Insertion sort: an AOR has a handful of bindings.
	for i := 1; i < len(bs); i++ {
		for j := i; j > 0 && bs[j].updated.After(bs[j-1].updated); j-- {
			bs[j], bs[j-1] = bs[j-1], bs[j]
		}
	}
}
