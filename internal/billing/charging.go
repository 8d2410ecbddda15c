package billing

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/entvoice/entvoice/internal/billing/money"
	"github.com/entvoice/entvoice/internal/control"
)

// Charging is the Authorizer as the call path sees it (control.Charging):
// an authorization per leg that leaves the platform, settled when the
// leg ends. It runs where the Authorizer does, at central.
type Charging struct {
	a    *Authorizer
	repo *Repo
}

// NewCharging returns the call path's view of a Service's Authorizer.
func NewCharging(s *Service) *Charging { return &Charging{a: s.Authorizer, repo: s.Repo} }

var (
	_ control.Charging      = (*Charging)(nil)
	_ control.AccountLister = (*Charging)(nil)
)

// BilledAccounts implements control.AccountLister.
func (c *Charging) BilledAccounts(ctx context.Context) ([]control.BilledAccount, error) {
	names, err := c.repo.AccountNames(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]control.BilledAccount, len(names))
	for i, n := range names {
		out[i] = control.BilledAccount{Tenant: n[0], Name: n[1]}
	}
	return out, nil
}

// Authorize implements control.Charging.
func (c *Charging) Authorize(ctx context.Context, r control.ChargeRequest) (control.Grant, error) {
	res, err := c.a.Authorize(ctx, AuthRequest{Tenant: r.Tenant, User: r.User, AccountCode: r.AccountCode, Trunk: r.Trunk,
		Destination: r.Number, UniqueID: r.UniqueID})
	var denied *Denied
	switch {
	case errors.Is(err, ErrNotBilled):
		return nil, fmt.Errorf("%w: %w", control.ErrNotCharged, err)
	case errors.As(err, &denied):
		return nil, &control.ChargeDenied{Cause: denied.Cause, Detail: denied.Detail}
	case err != nil:
		return nil, err
	}
	return &grant{a: c.a, res: res}, nil
}

// grant is a reservation held for a leg.
type grant struct {
	a   *Authorizer
	res *Reservation
}

func (g *grant) Limit() time.Duration { return g.res.MaxDuration() }

// Account is the account that pays the leg.
func (g *grant) Account() control.BilledAccount {
	return control.BilledAccount{Tenant: g.res.Tenant, Name: g.res.Account}
}

func (g *grant) Settle(_ context.Context, billsec int64) (control.Charge, error) {
	st, err := g.a.Settle(g.res, billsec)
	if err != nil {
		return control.Charge{}, err
	}
	return control.Charge{Cost: money.FormatAmount(st.Cost, st.Currency), Currency: st.Currency.Code()}, nil
}
