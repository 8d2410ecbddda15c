package channel

import (
	"context"
	"slices"
	"sync/atomic"
	"time"
)

// Groups are a channel's call and pickup groups (pjsip.conf call_group,
// pickup_group and their named forms): a channel whose pickup groups
// meet a ringing channel's call groups may pick it up.
type Groups struct {
	Call, Pickup           uint64 // bit n: group n (0-63)
	NamedCall, NamedPickup []string
}

// CanPickUp reports whether a channel of groups g may pick up one of
// target's groups (find_channel_by_group: the numbered and the named
// groups are matched independently).
func (g Groups) CanPickUp(target Groups) bool {
	if g.Pickup&target.Call != 0 {
		return true
	}
	for _, n := range g.NamedPickup {
		if slices.Contains(target.NamedCall, n) {
			return true
		}
	}
	return false
}

// pickupState is what Dial and a picker share about a ringing leg.
type pickupState struct {
	offer chan PickupRequest // nil: not offered
	taken bool               // a picker is on it
}

// PickupRequest is a picker asking Dial for a ringing leg; Dial answers
// it with Accept (the picker takes the leg's place in the call) or Refuse.
type PickupRequest struct {
	Picker *Channel
	state  *atomic.Int32 // requestPending, then accepted or abandoned
	reply  chan struct{}
}

const (
	requestPending int32 = iota
	requestAccepted
	requestAbandoned
)

// Accept gives the call to the picker; false when the picker gave up
// waiting meanwhile.
func (r PickupRequest) Accept() bool {
	ok := r.state.CompareAndSwap(requestPending, requestAccepted)
	close(r.reply)
	return ok
}

// Refuse keeps the call from the picker (another party answered first).
func (r PickupRequest) Refuse() { close(r.reply) }

// pickupWait bounds how long a picker waits for Dial's answer.
const pickupWait = 5 * time.Second

// SetGroups sets the channel's call and pickup groups (its endpoint's).
func (c *Channel) SetGroups(g Groups) {
	c.mu.Lock()
	c.groups = g
	c.mu.Unlock()
}

// Groups returns the channel's call and pickup groups.
func (c *Channel) Groups() Groups {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.groups
}

// SetDialedFrom records the dialplan position of the Dial that placed an
// outbound channel (app_dial sets the outgoing channel's dialcontext and
// exten), which a directed Pickup(exten@context) names.
func (c *Channel) SetDialedFrom(context, exten string) {
	c.mu.Lock()
	c.dialContext, c.dialExten = context, exten
	c.mu.Unlock()
}

// DialedFrom returns what SetDialedFrom recorded.
func (c *Channel) DialedFrom() (context, exten string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.dialContext, c.dialExten
}

// OfferPickup makes a leg Dial is calling pickable while it rings; the
// requests of pickers arrive on the channel returned. WithdrawPickup
// ends the offer.
func (c *Channel) OfferPickup() <-chan PickupRequest {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.pickup.offer == nil {
		c.pickup.offer = make(chan PickupRequest)
	}
	return c.pickup.offer
}

// WithdrawPickup ends OfferPickup's offer (the leg answered, failed or
// was abandoned).
func (c *Channel) WithdrawPickup() {
	c.mu.Lock()
	c.pickup.offer = nil
	c.mu.Unlock()
}

// Pickable reports whether the channel may be picked up now
// (ast_can_pickup): offered by Dial, ringing (or not yet: some phones
// send no 180), nobody picking it up already, not hung up.
func (c *Channel) Pickable() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.pickable()
}

func (c *Channel) pickable() bool {
	return c.pickup.offer != nil && !c.pickup.taken && !c.hungUp &&
		(c.state == StateRinging || c.state == StateRing || c.state == StateDown)
}

// PickUp asks the Dial calling this channel to give the call to picker
// instead (ast_do_pickup); it reports whether Dial did. On success the
// leg is cancelled by Dial and picker is bridged to the caller.
func (c *Channel) PickUp(ctx context.Context, picker *Channel) bool {
	c.mu.Lock()
	if !c.pickable() {
		c.mu.Unlock()
		return false
	}
	c.pickup.taken = true
	offer := c.pickup.offer
	c.mu.Unlock()
	ctx, cancel := context.WithTimeout(ctx, pickupWait)
	defer cancel()
	req := PickupRequest{Picker: picker, state: new(atomic.Int32), reply: make(chan struct{})}
	select {
	case offer <- req:
		select {
		case <-req.reply:
		case <-c.done:
		case <-ctx.Done():
		}
	case <-c.done:
	case <-ctx.Done():
	}
	// Either Dial accepted, or the request is abandoned and a late
	// Accept fails.
	ok := !req.state.CompareAndSwap(requestPending, requestAbandoned) && req.state.Load() == requestAccepted
	if !ok {
		c.mu.Lock()
		c.pickup.taken = false
		c.mu.Unlock()
	}
	return ok
}
