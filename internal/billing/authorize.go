package billing

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/entvoice/entvoice/internal/billing/money"
	"github.com/entvoice/entvoice/internal/billing/tariff"
)

// Refusal causes of Authorize (Denied.Cause).
const (
	CauseNoFunds   = "insufficient-funds"
	CauseNoRate    = "no-rate"
	CauseBadNumber = "bad-number"
)

// ErrNotBilled is returned by Authorize for a caller billing does not
// apply to (no account, or no plan assigned): the call path places the
// call without a limit, as it would without billing.
var ErrNotBilled = errors.New("billing: caller not billed")

// ErrUnknownReservation is returned by Settle for a reservation this
// Authorizer does not hold.
var ErrUnknownReservation = errors.New("billing: unknown reservation")

// Denied is a refused authorization, with a cause for the call path (the
// prompt to play, the SIP status) and a sentence for logs and the caller.
type Denied struct {
	Cause  string
	Detail string
}

func (d *Denied) Error() string { return "billing: call refused: " + d.Detail }

// AuthRequest is an outbound call about to be placed.
type AuthRequest struct {
	Tenant string
	// User is the calling endpoint; AccountCode the channel's account
	// code (its account, when one of that name exists, pays).
	User, AccountCode string
	// Trunk is the endpoint the call will leave by.
	Trunk string
	// Destination is the number as dialled.
	Destination string
	// UniqueID is the calling channel's uniqueid: its CDR's debit
	// replaces the settled amount.
	UniqueID string
	// Now is the call's start (default time.Now).
	Now time.Time
}

// Reservation is money held for a call that is up, and the longest it
// may last. Fields are read-only for the caller.
type Reservation struct {
	ID          uint64
	Tenant      string
	Account     string
	AccountID   int64
	UniqueID    string
	Number      string
	Prefix      string
	Description string
	Currency    money.Currency
	// MaxSeconds is the longest billable duration the balance pays for
	// (a whole number of increments); hang up when the answered call
	// reaches it. Amount is what it costs, held until Settle.
	MaxSeconds int64
	Amount     int64
	Created    time.Time
	// Expires is when an unsettled reservation is released by itself
	// (a call path that died): Created + ring allowance + MaxSeconds.
	Expires time.Time

	rate     tariff.Rate
	rounding money.Rounding
	settled  *Settlement
}

// MaxDuration is MaxSeconds as a duration.
func (r *Reservation) MaxDuration() time.Duration { return time.Duration(r.MaxSeconds) * time.Second }

// Settlement is what a call cost.
type Settlement struct {
	Cost     int64
	Billable int64
	Currency money.Currency
}

// Balance is an account's money as the Authorizer sees it.
type Balance struct {
	Account  Account
	Reserved int64 // held by calls that are up
	Pending  int64 // settled calls whose CDR is not rated yet
	// Available is Balance - Floor - Reserved - Pending: what a new call
	// may spend.
	Available int64
}

// AuthorizerOptions tune an Authorizer.
type AuthorizerOptions struct {
	// MaxCallSeconds caps a grant (default 4 h), also for free
	// destinations and postpaid accounts with room to spare.
	MaxCallSeconds int64
	// RingAllowance is added to a reservation's lifetime for the time
	// before answer (default 5 min).
	RingAllowance time.Duration
	// PendingTTL drops a settled amount whose CDR never got rated (lost
	// CDR) after this long (default 1 h).
	PendingTTL time.Duration
	// Refresh re-reads an account's balance from the store after this
	// long (default 30 s), for changes made by other processes.
	Refresh time.Duration
	Now     func() time.Time
}

// Authorizer is the prepaid authorization engine, in process at central:
// it grants a call the longest duration the available balance pays for
// at the destination's rate, holds that amount while the call is up
// (so concurrent calls of one account can never spend the same money
// twice), and on Settle turns the hold into the call's exact cost until
// the Rater's debit of its CDR replaces it. All of it is in memory,
// guarded by one mutex per account: an authorization costs microseconds
// once the account is loaded.
//
// One Authorizer must own an account's reservations: with several
// central processes, route an account's authorizations to one of them.
type Authorizer struct {
	cat  *Catalog
	repo *Repo
	o    AuthorizerOptions
	next atomic.Uint64

	mu       sync.Mutex
	accounts map[int64]*acctState
}

type acctState struct {
	mu       sync.Mutex
	loaded   time.Time
	acct     Account
	lastID   int64 // highest journal entry reflected in acct.Balance
	reserved int64
	res      map[uint64]*Reservation
	pending  map[string]pendingDebit
	pendSum  int64
}

type pendingDebit struct {
	amount int64
	at     time.Time
}

// NewAuthorizer returns an Authorizer over the catalog and repository.
func NewAuthorizer(cat *Catalog, repo *Repo, o AuthorizerOptions) *Authorizer {
	if o.MaxCallSeconds <= 0 {
		o.MaxCallSeconds = 4 * 3600
	}
	if o.RingAllowance <= 0 {
		o.RingAllowance = 5 * time.Minute
	}
	if o.PendingTTL <= 0 {
		o.PendingTTL = time.Hour
	}
	if o.Refresh <= 0 {
		o.Refresh = 30 * time.Second
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Authorizer{cat: cat, repo: repo, o: o, accounts: map[int64]*acctState{}}
}

func (a *Authorizer) state(id int64) *acctState {
	a.mu.Lock()
	defer a.mu.Unlock()
	st := a.accounts[id]
	if st == nil {
		st = &acctState{res: map[uint64]*Reservation{}, pending: map[string]pendingDebit{}}
		a.accounts[id] = st
	}
	return st
}

// sync loads or refreshes st (held) from the store and drops expired
// reservations and pending amounts. On a store failure an account
// already loaded keeps its view.
func (a *Authorizer) sync(ctx context.Context, st *acctState, id int64, now time.Time) error {
	if st.loaded.IsZero() || now.Sub(st.loaded) >= a.o.Refresh {
		acct, last, err := a.repo.accountSnapshot(ctx, id)
		switch {
		case err != nil && st.loaded.IsZero():
			return err
		case err == nil:
			if len(st.pending) > 0 {
				done, err := a.repo.journaledCalls(ctx, id, last, st.pending)
				if err != nil && st.loaded.IsZero() {
					return err
				}
				for _, u := range done {
					st.pendSum -= st.pending[u].amount
					delete(st.pending, u)
				}
			}
			st.acct, st.lastID, st.loaded = acct, last, now
		}
	}
	for id, r := range st.res {
		if now.After(r.Expires) {
			st.reserved -= r.Amount
			delete(st.res, id)
		}
	}
	for u, p := range st.pending {
		if now.Sub(p.at) > a.o.PendingTTL {
			st.pendSum -= p.amount
			delete(st.pending, u)
		}
	}
	return nil
}

func (st *acctState) available() int64 {
	return st.acct.Balance - st.acct.Floor() - st.reserved - st.pendSum
}

// Authorize prices the destination for the caller's account and, if the
// available balance pays for at least the first block, reserves the cost
// of the longest affordable duration and returns it. It returns
// ErrNotBilled for a caller without account or plan, a *Denied for a
// destination without rate, an undialable number or too little money,
// and the store's error if the account cannot be loaded.
func (a *Authorizer) Authorize(ctx context.Context, req AuthRequest) (*Reservation, error) {
	now := req.Now
	if now.IsZero() {
		now = a.o.Now()
	}
	if req.UniqueID == "" {
		return nil, errors.New("billing: authorize: the calling channel's uniqueid is required")
	}
	q, err := a.cat.Quote(ctx, Call{Tenant: req.Tenant, User: req.User, AccountCode: req.AccountCode, Trunk: req.Trunk, Dialled: req.Destination, Start: now})
	var up *Unpriced
	if errors.As(err, &up) {
		if up.Status == StatusUnbilled {
			return nil, fmt.Errorf("%w: %s", ErrNotBilled, up.Reason)
		}
		cause := CauseNoRate
		if up.Number == "" && up.Account != nil {
			cause = CauseBadNumber
		}
		return nil, &Denied{Cause: cause, Detail: up.Reason}
	}
	if err != nil {
		return nil, err
	}
	st := a.state(q.Account.ID)
	st.mu.Lock()
	defer st.mu.Unlock()
	if err := a.sync(ctx, st, q.Account.ID, now); err != nil {
		return nil, err
	}
	avail := st.available()
	secs, err := q.Rate.MaxSeconds(avail, q.Currency, q.Rounding, a.o.MaxCallSeconds)
	if err != nil {
		return nil, err
	}
	if secs == 0 {
		first, _ := q.Rate.Cost(1, q.Currency, q.Rounding)
		return nil, &Denied{Cause: CauseNoFunds, Detail: fmt.Sprintf("account %s has %s %s available, below the %s %s of the first %d s to %s (%s)",
			st.acct.Name, money.FormatAmount(max(avail, 0), q.Currency), q.Currency, money.FormatAmount(first.Minor, q.Currency), q.Currency,
			first.Billable, q.Number, q.Rate.Description)}
	}
	cost, err := q.Rate.Cost(secs, q.Currency, q.Rounding)
	if err != nil {
		return nil, err
	}
	r := &Reservation{ID: a.next.Add(1), Tenant: req.Tenant, Account: st.acct.Name, AccountID: st.acct.ID, UniqueID: req.UniqueID,
		Number: q.Number, Prefix: q.Rate.Prefix, Description: q.Rate.Description, Currency: q.Currency, MaxSeconds: secs, Amount: cost.Minor,
		Created: now, Expires: now.Add(a.o.RingAllowance + time.Duration(secs)*time.Second), rate: *q.Rate, rounding: q.Rounding}
	st.res[r.ID] = r
	st.reserved += r.Amount
	return r, nil
}

// Settle ends a reservation: the call lasted billsec answered seconds
// (0: not answered). The hold is released and the exact cost of the call
// is counted against the balance until the Rater debits its CDR. A
// second Settle of the same reservation returns the first settlement.
func (a *Authorizer) Settle(r *Reservation, billsec int64) (Settlement, error) {
	st := a.state(r.AccountID)
	st.mu.Lock()
	defer st.mu.Unlock()
	if r.settled != nil {
		return *r.settled, nil
	}
	if _, ok := st.res[r.ID]; !ok {
		return Settlement{}, fmt.Errorf("%w %d (expired or not from this process)", ErrUnknownReservation, r.ID)
	}
	cost, err := r.rate.Cost(billsec, r.Currency, r.rounding)
	if err != nil {
		return Settlement{}, err
	}
	delete(st.res, r.ID)
	st.reserved -= r.Amount
	if cost.Minor != 0 {
		st.pending[r.UniqueID] = pendingDebit{amount: cost.Minor, at: a.o.Now()}
		st.pendSum += cost.Minor
	}
	s := Settlement{Cost: cost.Minor, Billable: cost.Billable, Currency: r.Currency}
	r.settled = &s
	return s, nil
}

// Journaled tells the Authorizer that a journal entry was committed for
// an account (a call debit with the CDR's uniqueid as ref, a top-up...),
// so its balance follows without a read. Entries the loaded balance
// already reflects are ignored.
func (a *Authorizer) Journaled(accountID, entryID int64, ref string, amount int64) {
	a.mu.Lock()
	st := a.accounts[accountID]
	a.mu.Unlock()
	if st == nil {
		return
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.loaded.IsZero() || entryID <= st.lastID {
		return
	}
	st.acct.Balance += amount
	st.lastID = entryID
	if p, ok := st.pending[ref]; ok {
		st.pendSum -= p.amount
		delete(st.pending, ref)
	}
}

// Balance returns an account's money as authorizations see it.
func (a *Authorizer) Balance(ctx context.Context, acct Account) (Balance, error) {
	st := a.state(acct.ID)
	st.mu.Lock()
	defer st.mu.Unlock()
	if err := a.sync(ctx, st, acct.ID, a.o.Now()); err != nil {
		return Balance{}, err
	}
	return Balance{Account: st.acct, Reserved: st.reserved, Pending: st.pendSum, Available: st.available()}, nil
}

// accountSnapshot reads an account and the highest journal id its
// balance includes, in one statement (one snapshot).
func (r *Repo) accountSnapshot(ctx context.Context, id int64) (Account, int64, error) {
	row := r.db.QueryRowContext(ctx, r.q(`SELECT `+accountColumns+`, (SELECT COALESCE(MAX(j.id), 0) FROM billing_journal j WHERE j.account_id = billing_accounts.id)
		FROM billing_accounts WHERE id = ?`), id)
	var last int64
	a, err := scanAccount(scanExtra{row, &last})
	if err != nil {
		return a, 0, fmt.Errorf("billing: load account %d: %w", id, err)
	}
	return a, last, nil
}

type scanExtra struct {
	sc    interface{ Scan(...any) error }
	extra *int64
}

func (s scanExtra) Scan(dst ...any) error { return s.sc.Scan(append(dst, s.extra)...) }

// journaledCalls returns which of the pending uniqueids have a call debit.
// Only entries up to last (those the snapshot's balance includes) count.
func (r *Repo) journaledCalls(ctx context.Context, id, last int64, pending map[string]pendingDebit) ([]string, error) {
	var out []string
	for u := range pending {
		var n int
		if err := r.db.QueryRowContext(ctx, r.q(`SELECT COUNT(*) FROM billing_journal WHERE account_id = ? AND kind = 'call' AND ref = ? AND id <= ?`), id, u, last).Scan(&n); err != nil {
			return nil, fmt.Errorf("billing: pending debits: %w", err)
		}
		if n > 0 {
			out = append(out, u)
		}
	}
	return out, nil
}
