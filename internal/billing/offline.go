package billing

import (
	"errors"
	"fmt"
	"sync"

	"github.com/entvoice/entvoice/internal/billing/money"
	"github.com/entvoice/entvoice/internal/billing/tariff"
)

// OfflineLedger is a node's own account of what it let accounts spend
// while central was unreachable: each account may spend up to its
// OfflineCap (Account.OfflineCap, pushed to nodes; 0, the default for
// prepaid, refuses every call). The node prices calls with the rate it
// last had from central.
//
// Reconciliation rule (no double debit, no lost debit): the ledger never
// writes to central's journal. Every call it authorizes leaves a CDR,
// which the node link delivers to central exactly once; central's Rater
// debits it by uniqueid, exactly once. The ledger keeps a call's amount
// as spent until central acknowledges storing that CDR (Reconcile with
// its uniqueid), and only then releases it: a call is always counted
// either here or in central's balance, never in neither, and central
// debits it once whatever the node retries.
type OfflineLedger struct {
	mu    sync.Mutex
	caps  map[[2]string]int64
	spent map[[2]string]int64
	calls map[string]offlineCall
}

type offlineCall struct {
	key      [2]string
	amount   int64 // held while up, the cost once settled
	settled  bool
	rate     tariff.Rate
	cur      money.Currency
	rounding money.Rounding
}

// ErrOfflineRefused is wrapped by OfflineLedger.Authorize when the
// account's offline cap does not pay for the first block.
var ErrOfflineRefused = errors.New("billing: offline credit exhausted")

// NewOfflineLedger returns an empty ledger.
func NewOfflineLedger() *OfflineLedger {
	return &OfflineLedger{caps: map[[2]string]int64{}, spent: map[[2]string]int64{}, calls: map[string]offlineCall{}}
}

// SetCap sets an account's offline cap (minor units).
func (l *OfflineLedger) SetCap(tenant, account string, capMinor int64) {
	l.mu.Lock()
	l.caps[[2]string{tenant, account}] = max(capMinor, 0)
	l.mu.Unlock()
}

// Spent returns what the account has spent (and holds) offline and not
// yet reconciled.
func (l *OfflineLedger) Spent(tenant, account string) int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.spent[[2]string{tenant, account}]
}

// Authorize grants a call placed while central is away the longest
// duration (capped at limitSeconds) the rest of the account's offline cap
// pays for at rate, and holds its cost under uniqueid.
func (l *OfflineLedger) Authorize(tenant, account, uniqueid string, rate tariff.Rate, cur money.Currency, rounding money.Rounding, limitSeconds int64) (int64, error) {
	k := [2]string{tenant, account}
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, dup := l.calls[uniqueid]; dup {
		return 0, fmt.Errorf("billing: offline call %s already authorized", uniqueid)
	}
	room := l.caps[k] - l.spent[k]
	secs, err := rate.MaxSeconds(room, cur, rounding, limitSeconds)
	if err != nil {
		return 0, err
	}
	if secs == 0 {
		return 0, fmt.Errorf("%w: account %s/%s has %s %s of offline credit left", ErrOfflineRefused, tenant, account, money.FormatAmount(max(room, 0), cur), cur)
	}
	c, err := rate.Cost(secs, cur, rounding)
	if err != nil {
		return 0, err
	}
	l.calls[uniqueid] = offlineCall{key: k, amount: c.Minor, rate: rate, cur: cur, rounding: rounding}
	l.spent[k] += c.Minor
	return secs, nil
}

// Settle replaces a call's hold by its cost.
func (l *OfflineLedger) Settle(uniqueid string, billsec int64) (int64, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	c, ok := l.calls[uniqueid]
	if !ok {
		return 0, fmt.Errorf("%w: offline call %s", ErrUnknownReservation, uniqueid)
	}
	if c.settled {
		return c.amount, nil
	}
	cost, err := c.rate.Cost(billsec, c.cur, c.rounding)
	if err != nil {
		return 0, err
	}
	l.spent[c.key] += cost.Minor - c.amount
	c.amount, c.settled = cost.Minor, true
	l.calls[uniqueid] = c
	return cost.Minor, nil
}

// Reconcile releases the calls whose CDRs central has acknowledged:
// central's balance now carries their debit. Unknown uniqueids (calls
// made while central was up) are ignored; a call still up is kept.
func (l *OfflineLedger) Reconcile(uniqueids []string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, u := range uniqueids {
		c, ok := l.calls[u]
		if !ok || !c.settled {
			continue
		}
		l.spent[c.key] -= c.amount
		delete(l.calls, u)
	}
}
