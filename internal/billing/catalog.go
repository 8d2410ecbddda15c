package billing

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/entvoice/entvoice/internal/billing/money"
	"github.com/entvoice/entvoice/internal/billing/tariff"
)

// Catalog is the in-memory view of what rating needs: per tenant its
// settings, plans, decks with their versions, assignments and accounts,
// reloaded after TTL (or at once after a change made through this
// process); and the longest-prefix index of every deck version used so
// far, loaded once (versions are immutable). If a reload fails (database
// down) the previous view stays in use, so authorizations keep working.
type Catalog struct {
	repo *Repo
	log  *slog.Logger
	ttl  time.Duration
	now  func() time.Time

	mu       sync.Mutex
	tenants  map[string]*tenantCat
	versions map[int64]*versionSlot
}

type tenantCat struct {
	loadedAt time.Time
	settings Settings
	loc      *time.Location
	plans    map[int64]*planCat
	assign   map[[2]string]int64
	mu       sync.Mutex
	accounts map[string]*Account // nil value: known absent
}

type planCat struct {
	plan  Plan
	decks []*deckCat
}

type deckCat struct {
	id       int64
	name     string
	currency money.Currency
	versions []Version // by EffectiveFrom, then Version
}

type versionSlot struct {
	done chan struct{}
	ix   *tariff.Index
	err  error
}

// NewCatalog returns a catalog over repo; ttl <= 0 means 5 s.
func NewCatalog(repo *Repo, ttl time.Duration, log *slog.Logger) *Catalog {
	if ttl <= 0 {
		ttl = 5 * time.Second
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Catalog{repo: repo, log: log, ttl: ttl, now: time.Now, tenants: map[string]*tenantCat{}, versions: map[int64]*versionSlot{}}
}

// Invalidate makes the next use of tenant reload its view.
func (c *Catalog) Invalidate(tenant string) {
	c.mu.Lock()
	delete(c.tenants, tenant)
	c.mu.Unlock()
}

func (c *Catalog) tenant(ctx context.Context, tenant string) (*tenantCat, error) {
	c.mu.Lock()
	tc := c.tenants[tenant]
	c.mu.Unlock()
	if tc != nil && c.now().Sub(tc.loadedAt) < c.ttl {
		return tc, nil
	}
	fresh, err := c.load(ctx, tenant)
	if err != nil {
		if tc != nil {
			c.log.Warn("billing: catalog reload failed; using the previous one", "tenant", tenant, "err", err)
			return tc, nil
		}
		return nil, err
	}
	c.mu.Lock()
	c.tenants[tenant] = fresh
	c.mu.Unlock()
	return fresh, nil
}

func (c *Catalog) load(ctx context.Context, tenant string) (*tenantCat, error) {
	s, err := c.repo.GetSettings(ctx, tenant)
	if err != nil {
		return nil, err
	}
	tc := &tenantCat{loadedAt: c.now(), settings: s, loc: s.Location(), plans: map[int64]*planCat{}, assign: map[[2]string]int64{},
		accounts: map[string]*Account{}}
	decks, err := c.repo.ListDecks(ctx, tenant)
	if err != nil {
		return nil, err
	}
	byID := map[int64]*deckCat{}
	for _, d := range decks {
		dc := &deckCat{id: d.ID, name: d.Name, currency: d.Currency, versions: d.Versions}
		slices.SortFunc(dc.versions, func(a, b Version) int {
			if c := a.EffectiveFrom.Compare(b.EffectiveFrom); c != 0 {
				return c
			}
			return a.Version - b.Version
		})
		byID[d.ID] = dc
	}
	plans, err := c.repo.ListPlans(ctx, tenant)
	if err != nil {
		return nil, err
	}
	for _, p := range plans {
		pc := &planCat{plan: p}
		for _, pd := range p.Decks {
			if dc := byID[pd.deckID]; dc != nil {
				pc.decks = append(pc.decks, dc)
			}
		}
		tc.plans[p.ID] = pc
	}
	as, err := c.repo.ListAssignments(ctx, tenant)
	if err != nil {
		return nil, err
	}
	for _, a := range as {
		for id, pc := range tc.plans {
			if pc.plan.Name == a.Plan {
				tc.assign[[2]string{a.Scope, a.Subject}] = id
			}
		}
	}
	return tc, nil
}

// index returns the loaded index of a version, loading it once.
func (c *Catalog) index(ctx context.Context, v Version, loc *time.Location) (*tariff.Index, error) {
	c.mu.Lock()
	slot, ok := c.versions[v.ID]
	if !ok {
		slot = &versionSlot{done: make(chan struct{})}
		c.versions[v.ID] = slot
		c.mu.Unlock()
		t0 := time.Now()
		rates, err := c.repo.LoadRates(ctx, v.ID)
		if err == nil {
			slot.ix, err = tariff.NewIndex(rates, loc)
		}
		slot.err = err
		if err != nil {
			c.mu.Lock()
			delete(c.versions, v.ID) // retry next time
			c.mu.Unlock()
		} else {
			c.log.Info("billing: deck version loaded", "version_id", v.ID, "rates", len(rates), "took", time.Since(t0).Round(time.Millisecond))
		}
		close(slot.done)
	} else {
		c.mu.Unlock()
	}
	select {
	case <-slot.done:
		return slot.ix, slot.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// account returns the tenant's account of that name (nil: none).
func (c *Catalog) account(ctx context.Context, tc *tenantCat, tenant, name string) (*Account, error) {
	if name == "" {
		return nil, nil
	}
	tc.mu.Lock()
	a, ok := tc.accounts[name]
	tc.mu.Unlock()
	if ok {
		return a, nil
	}
	got, err := c.repo.GetAccount(ctx, tenant, name)
	switch {
	case errors.Is(err, ErrNotFound):
		a = nil
	case err != nil:
		return nil, err
	default:
		a = &got
	}
	tc.mu.Lock()
	tc.accounts[name] = a
	tc.mu.Unlock()
	return a, nil
}

// Call is what rating needs to know of a call.
type Call struct {
	Tenant string
	// User is the calling endpoint; AccountCode the CDR's account code,
	// which names the account when one of that name exists.
	User, AccountCode string
	// Trunk is the endpoint the call left by (for trunk assignments).
	Trunk string
	// Dialled is the number as dialled (the CDR's dst).
	Dialled string
	Start   time.Time
}

// Quote is a call's price terms: the account it is charged to, the rate
// that applies, and how to round.
type Quote struct {
	Account  *Account
	PlanID   int64
	Rounding money.Rounding
	Currency money.Currency
	Number   string
	Rate     *tariff.Rate
	DeckID   int64
	Version  int
}

// Unpriced says why a call has no Quote: Status is StatusUnbilled (no
// account or plan: billing does not apply) or StatusUnrated (it should
// be priced and cannot be).
type Unpriced struct {
	Status  string
	Reason  string
	Account *Account
	Number  string
}

func (u *Unpriced) Error() string { return u.Status + ": " + u.Reason }

// Quote finds the account and rate of a call: the account named by the
// account code if one exists, else the user's; the plan assigned to the
// user, else to the trunk, else to the tenant; the dialled number in
// E.164 by the tenant's rules; and, deck by deck in the plan's priority
// order, the version in force at the call's start and its longest
// matching prefix. An *Unpriced error says why there is none; other
// errors are the store's.
func (c *Catalog) Quote(ctx context.Context, call Call) (*Quote, error) {
	tc, err := c.tenant(ctx, call.Tenant)
	if err != nil {
		return nil, err
	}
	acct, err := c.account(ctx, tc, call.Tenant, call.AccountCode)
	if err != nil {
		return nil, err
	}
	if acct == nil {
		if acct, err = c.account(ctx, tc, call.Tenant, call.User); err != nil {
			return nil, err
		}
	}
	if acct == nil {
		who := call.User
		if call.AccountCode != "" {
			who = call.AccountCode + " or " + call.User
		}
		return nil, &Unpriced{Status: StatusUnbilled, Reason: fmt.Sprintf("no account %q in tenant %s", who, call.Tenant)}
	}
	var pc *planCat
	for _, k := range [][2]string{{ScopeUser, call.User}, {ScopeTrunk, call.Trunk}, {ScopeTenant, ""}} {
		if k[0] != ScopeTenant && k[1] == "" {
			continue
		}
		if id, ok := tc.assign[k]; ok {
			pc = tc.plans[id]
			break
		}
	}
	if pc == nil {
		return nil, &Unpriced{Status: StatusUnbilled, Account: acct, Reason: fmt.Sprintf("no rate plan assigned to tenant %s", call.Tenant)}
	}
	if pc.plan.Currency != acct.Currency {
		return nil, &Unpriced{Status: StatusUnrated, Account: acct,
			Reason: fmt.Sprintf("plan %s is in %s, account %s in %s", pc.plan.Name, pc.plan.Currency, acct.Name, acct.Currency)}
	}
	num, err := tc.settings.Normalize(call.Dialled)
	if err != nil {
		return nil, &Unpriced{Status: StatusUnrated, Account: acct, Reason: err.Error()}
	}
	var tried []string
	for _, dc := range pc.decks {
		v, ok := versionAt(dc.versions, call.Start)
		if !ok {
			tried = append(tried, dc.name+" (no version in force)")
			continue
		}
		ix, err := c.index(ctx, v, tc.loc)
		if err != nil {
			return nil, err
		}
		if r, ok := ix.Lookup(num, call.Start); ok {
			return &Quote{Account: acct, PlanID: pc.plan.ID, Rounding: pc.plan.Rounding, Currency: dc.currency, Number: num, Rate: r,
				DeckID: dc.id, Version: v.Version}, nil
		}
		tried = append(tried, fmt.Sprintf("%s v%d", dc.name, v.Version))
	}
	return nil, &Unpriced{Status: StatusUnrated, Account: acct, Number: num,
		Reason: fmt.Sprintf("no rate for %s in %s", num, strings.Join(tried, ", "))}
}

// versionAt returns the version in force at t: the latest EffectiveFrom
// at or before t (the higher version number on a tie).
func versionAt(vs []Version, t time.Time) (Version, bool) {
	i, _ := slices.BinarySearchFunc(vs, t, func(v Version, t time.Time) int {
		if v.EffectiveFrom.After(t) {
			return 1
		}
		return -1
	})
	if i == 0 {
		return Version{}, false
	}
	return vs[i-1], true
}
