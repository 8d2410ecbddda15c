package link

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/entvoice/entvoice/internal/cluster/pki"
	"github.com/entvoice/entvoice/internal/cluster/wire"
	"github.com/entvoice/entvoice/internal/control"
)

// The link is the node's control.Charging: a leg that leaves through a
// trunk is authorized (and later settled) by central's billing, over the
// link. While central is away a node cannot price a call: a caller who
// has a billing account is refused (the offline credit of an account is
// zero), one who has none is not charged, as without billing. The list of
// accounts comes from central every minute and is kept on disk, so a node
// restarted during an outage still knows it.

var (
	_ control.Charging = (*Link)(nil)
	_ control.Grant    = (*remoteGrant)(nil)
)

// chargeTimeout bounds a billing question to central; past it the leg is
// decided as when central is away.
const chargeTimeout = 3 * time.Second

// accountsRefresh is how often the list of billed accounts is fetched.
const accountsRefresh = time.Minute

// accountsFile keeps the list in data_dir/cluster.
const accountsFile = "billed-accounts.json"

// billedAccounts is the last list of billing accounts central gave.
type billedAccounts struct {
	mu   sync.RWMutex
	set  map[control.BilledAccount]bool
	when time.Time // fetched
}

func (b *billedAccounts) has(tenant, name string) bool {
	if name == "" {
		return false
	}
	b.mu.RLock()
	defer b.mu.RUnlock()
	return b.set[control.BilledAccount{Tenant: tenant, Name: name}]
}

// add records an account learnt from a grant (the list may be older).
func (b *billedAccounts) add(a control.BilledAccount) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.set == nil {
		b.set = map[control.BilledAccount]bool{}
	}
	b.set[a] = true
}

func (b *billedAccounts) replace(list []control.BilledAccount, when time.Time) {
	set := make(map[control.BilledAccount]bool, len(list))
	for _, a := range list {
		set[a] = true
	}
	b.mu.Lock()
	b.set, b.when = set, when
	b.mu.Unlock()
}

func (b *billedAccounts) list() []control.BilledAccount {
	b.mu.RLock()
	defer b.mu.RUnlock()
	out := make([]control.BilledAccount, 0, len(b.set))
	for a := range b.set {
		out = append(out, a)
	}
	return out
}

// Authorize implements control.Charging.
func (l *Link) Authorize(ctx context.Context, r control.ChargeRequest) (control.Grant, error) {
	rep, err := l.askCharge(ctx, &wire.ChargeRequest{Op: wire.ChargeAuthorize, Tenant: r.Tenant, User: r.User,
		AccountCode: r.AccountCode, Trunk: r.Trunk, Number: r.Number, UniqueID: r.UniqueID})
	if err != nil {
		return nil, l.offlineDecision(r, err)
	}
	switch {
	case rep.NotCharged:
		return nil, control.ErrNotCharged
	case rep.Denied != "":
		return nil, &control.ChargeDenied{Cause: rep.Denied, Detail: rep.Detail}
	case rep.Err != "":
		return nil, fmt.Errorf("central's billing: %s", rep.Err)
	}
	if rep.Account != nil {
		l.billed.add(*rep.Account)
	}
	return &remoteGrant{l: l, id: rep.Grant, limit: time.Duration(rep.LimitMS) * time.Millisecond}, nil
}

// offlineDecision decides a leg central could not be asked about.
func (l *Link) offlineDecision(r control.ChargeRequest, cause error) error {
	if l.billed.has(r.Tenant, r.AccountCode) || l.billed.has(r.Tenant, r.User) {
		return &control.ChargeDenied{Cause: "offline", Detail: fmt.Sprintf("the account cannot be charged while central is away (%v)", cause)}
	}
	return fmt.Errorf("%w: no billing account known (central away: %v)", control.ErrNotCharged, cause)
}

// remoteGrant is central's authorization of one of the node's legs.
type remoteGrant struct {
	l     *Link
	id    uint64
	limit time.Duration
}

func (g *remoteGrant) Limit() time.Duration { return g.limit }

// Settle implements control.Grant. When central cannot be reached the
// call's CDR, shipped later, is rated and debited all the same.
func (g *remoteGrant) Settle(ctx context.Context, billsec int64) (control.Charge, error) {
	rep, err := g.l.askCharge(ctx, &wire.ChargeRequest{Op: wire.ChargeSettle, Grant: g.id, Billsec: billsec})
	if err != nil {
		return control.Charge{}, err
	}
	if rep.Err != "" {
		return control.Charge{}, errors.New(rep.Err)
	}
	return control.Charge{Cost: rep.Cost, Currency: rep.Currency}, nil
}

// askCharge sends a billing question to central and waits for its answer.
func (l *Link) askCharge(ctx context.Context, req *wire.ChargeRequest) (*wire.ChargeReply, error) {
	if !l.connected.Load() {
		return nil, fmt.Errorf("%w: central unreachable", control.ErrNodeNotLinked)
	}
	ctx, cancel := context.WithTimeout(ctx, chargeTimeout)
	defer cancel()
	p := l.charging.Open()
	defer p.Close()
	req.ID = p.ID
	select {
	case l.charges <- req:
	case <-ctx.Done():
		return nil, fmt.Errorf("billing %s: %w", req.Op, ctx.Err())
	}
	rep, err := p.Wait(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("billing %s: %w", req.Op, err)
	}
	return rep, nil
}

// refreshAccounts keeps the list of billed accounts: fetched when the link
// is up and the list is older than accountsRefresh.
func (l *Link) refreshAccounts(ctx context.Context) {
	path := filepath.Join(pki.Dir(l.o.DataDir), accountsFile)
	if b, err := os.ReadFile(path); err == nil {
		var list []control.BilledAccount
		if json.Unmarshal(b, &list) == nil {
			l.billed.replace(list, time.Time{})
		}
	}
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		l.billed.mu.RLock()
		fresh := time.Since(l.billed.when) < accountsRefresh
		l.billed.mu.RUnlock()
		if fresh || !l.connected.Load() {
			continue
		}
		rep, err := l.askCharge(ctx, &wire.ChargeRequest{Op: wire.ChargeAccounts})
		if err != nil || rep.Err != "" {
			continue
		}
		l.billed.replace(rep.Accounts, time.Now())
		if b, err := json.Marshal(l.billed.list()); err == nil {
			if err := pki.WriteFileAtomic(path, b, 0o600); err != nil {
				l.log.Warn("cannot keep the list of billed accounts", "err", err)
			}
		}
	}
}
