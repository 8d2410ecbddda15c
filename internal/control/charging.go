package control

import (
	"context"
	"errors"
	"time"
)

// Charging is how a node has a call leg that leaves the platform (through
// a trunk) authorized against the caller's balance before it is placed,
// and settled when it ends. Billing implements it at central; a node
// reaches it in-process (serve) or over its link (node).
type Charging interface {
	Authorize(ctx context.Context, r ChargeRequest) (Grant, error)
}

// ChargeRequest is a leg about to leave the platform.
type ChargeRequest struct {
	Tenant string
	// User is the calling endpoint, AccountCode the calling channel's
	// account code (its account pays when one of that name exists).
	User, AccountCode string
	// Trunk is the endpoint the leg leaves by, Number the number dialled.
	Trunk, Number string
	// UniqueID is the calling channel's uniqueid: the account's debit is
	// its CDR's.
	UniqueID string
}

// Grant is an authorized leg.
type Grant interface {
	// Limit is how long the answered call may last (a whole number of
	// the rate's increments); 0 is no limit.
	Limit() time.Duration
	// Settle reports the call's billable seconds once it ended (0 when
	// it was never answered) and returns what it cost. It is idempotent.
	Settle(ctx context.Context, billsec int64) (Charge, error)
}

// Charge is what a call cost, formatted in its currency.
type Charge struct {
	Cost     string // "0.42"
	Currency string // "EUR"
}

// ErrNotCharged is Authorize's answer for a caller that billing does not
// apply to (no account or no rate plan): the leg is placed without limit.
var ErrNotCharged = errors.New("caller not charged")

// ChargeDenied is a refused authorization: Cause is billing's
// (insufficient-funds, no-rate, bad-number), Detail a sentence for logs.
type ChargeDenied struct {
	Cause  string
	Detail string
}

func (d *ChargeDenied) Error() string { return "call refused by billing: " + d.Detail }

// BilledAccount names an account billing keeps (a user's, or an account
// code's, in a tenant).
type BilledAccount struct {
	Tenant string `json:"tenant"`
	Name   string `json:"name"`
}

// AccountLister is implemented by a Charging that can list its accounts:
// a node keeps the list to decide while central is away (a caller with an
// account is refused then, one without is not charged).
type AccountLister interface {
	BilledAccounts(ctx context.Context) ([]BilledAccount, error)
}
