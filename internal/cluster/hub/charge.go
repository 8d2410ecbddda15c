package hub

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/entvoice/entvoice/internal/cluster/wire"
	"github.com/entvoice/entvoice/internal/control"
)

// chargeTimeout bounds one billing answer to a node.
const chargeTimeout = 5 * time.Second

// grants are the authorizations central gave the nodes' legs, held until
// the node settles them. A grant a node never settles (its link lost) is
// forgotten once it cannot be settled any more: billing releases the
// reservation by itself, and the call's CDR is rated and debited when it
// arrives.
type grants struct {
	mu   sync.Mutex
	next uint64
	by   map[uint64]heldGrant
}

type heldGrant struct {
	g       control.Grant
	forgets time.Time
}

func (gs *grants) add(g control.Grant, now time.Time) uint64 {
	gs.mu.Lock()
	defer gs.mu.Unlock()
	if gs.by == nil {
		gs.by = map[uint64]heldGrant{}
	}
	for id, h := range gs.by {
		if now.After(h.forgets) {
			delete(gs.by, id)
		}
	}
	gs.next++
	// Long enough for the call to ring, run its limit and be settled.
	gs.by[gs.next] = heldGrant{g: g, forgets: now.Add(g.Limit() + time.Hour)}
	return gs.next
}

func (gs *grants) take(id uint64) (control.Grant, bool) {
	gs.mu.Lock()
	defer gs.mu.Unlock()
	h, ok := gs.by[id]
	delete(gs.by, id)
	return h.g, ok
}

// charge answers a node's billing question with central's Charging.
func (c *nodeLink) charge(ctx context.Context, req *wire.ChargeRequest) {
	rep := &wire.ChargeReply{ID: req.ID}
	ch := c.h.o.Charging
	ctx, cancel := context.WithTimeout(ctx, chargeTimeout)
	defer cancel()
	switch {
	case ch == nil:
		rep.NotCharged = true // no billing at this central server
	case req.Op == wire.ChargeAuthorize:
		g, err := ch.Authorize(ctx, control.ChargeRequest{Tenant: req.Tenant, User: req.User, AccountCode: req.AccountCode,
			Trunk: req.Trunk, Number: req.Number, UniqueID: req.UniqueID})
		var denied *control.ChargeDenied
		switch {
		case errors.Is(err, control.ErrNotCharged):
			rep.NotCharged = true
		case errors.As(err, &denied):
			rep.Denied, rep.Detail = denied.Cause, denied.Detail
		case err != nil:
			rep.Err = err.Error()
		default:
			rep.Grant, rep.LimitMS = c.h.grants.add(g, time.Now()), g.Limit().Milliseconds()
			if a, ok := g.(interface{ Account() control.BilledAccount }); ok {
				acct := a.Account()
				rep.Account = &acct
			}
		}
	case req.Op == wire.ChargeSettle:
		g, ok := c.h.grants.take(req.Grant)
		if !ok {
			rep.Err = "no such grant (settled, or held by another central instance)"
			break
		}
		chg, err := g.Settle(ctx, req.Billsec)
		if err != nil {
			rep.Err = err.Error()
			break
		}
		rep.Cost, rep.Currency = chg.Cost, chg.Currency
	case req.Op == wire.ChargeAccounts:
		if l, ok := ch.(control.AccountLister); ok {
			accts, err := l.BilledAccounts(ctx)
			if err != nil {
				rep.Err = err.Error()
			}
			rep.Accounts = accts
		}
	default:
		rep.Err = "unknown charge operation " + req.Op
	}
	select {
	case c.charged <- rep:
	case <-ctx.Done():
	}
}
