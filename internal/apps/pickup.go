package apps

import (
	"strings"

	"github.com/entvoice/entvoice/internal/channel"
	"github.com/entvoice/entvoice/internal/events"
	"github.com/entvoice/entvoice/internal/pbx"
	"github.com/entvoice/entvoice/internal/q850"
)

// pickupMark is the context name that makes Pickup match the PICKUPMARK
// variable instead of an extension (app_directed_pickup.c).
const pickupMark = "PICKUPMARK"

// Pickup([extension[@context][&extension2@context...]]) answers a call
// ringing elsewhere (app_directed_pickup.c pickup_exec): without
// arguments, the oldest ringing call of a phone whose call group is one
// of the caller's pickup groups (*8, ast_pickup_call); with extensions,
// a call that a Dial at extension@context (default: the caller's
// context) is ringing, or with @PICKUPMARK a call whose PICKUPMARK
// variable is the extension. The picker is answered, the ringing phone's
// leg cancelled (answered elsewhere), and the caller bridged to the
// picker; as in Asterisk, the picker's dialplan does not go on. When
// nothing can be picked up, the dialplan goes on.
func (ap *Apps) Pickup(e *pbx.Exec, data string) error {
	if strings.TrimSpace(data) == "" {
		return ap.pickupFirst(e, func(c *channel.Channel) bool { return e.Ch.Groups().CanPickUp(c.Groups()) }, "by group")
	}
	curCtx, _, _ := e.Ch.Location()
	for _, t := range strings.Split(data, "&") {
		exten, ctx, _ := strings.Cut(strings.TrimSpace(t), "@")
		if exten == "" {
			continue
		}
		var match func(*channel.Channel) bool
		switch {
		case strings.EqualFold(ctx, pickupMark):
			match = func(c *channel.Channel) bool {
				v, _ := c.GetVar(pickupMark)
				return strings.EqualFold(v, exten)
			}
		default:
			q := curCtx
			if ctx != "" {
				var ok bool
				if q, ok = e.QualifyContext(ctx); !ok {
					continue
				}
			}
			match = func(c *channel.Channel) bool {
				dc, dx := c.DialedFrom()
				return strings.EqualFold(dx, exten) && strings.EqualFold(dc, q)
			}
		}
		if ok, err := ap.pickup(e, match); ok {
			return err
		}
		e.Ch.Log().Info("Pickup: no target channel found", "target", t)
	}
	return nil
}

// PickupChan(channel[&channel...][,p]) picks up a ringing channel by name
// (p: by the leading part of its name), as app_directed_pickup.c
// pickupchan_exec.
func (ap *Apps) PickupChan(e *pbx.Exec, data string) error {
	a := args(data)
	if arg(a, 0) == "" {
		e.Ch.Log().Warn("PickupChan requires an argument (channel)")
		return nil
	}
	partial := hasOption(arg(a, 1), 'p')
	for _, name := range strings.Split(arg(a, 0), "&") {
		name = strings.TrimSpace(name)
		if name == "" {
			continue
		}
		match := func(c *channel.Channel) bool {
			if partial {
				return len(c.Name) >= len(name) && strings.EqualFold(c.Name[:len(name)], name)
			}
			return strings.EqualFold(c.Name, name)
		}
		if ok, err := ap.pickup(e, match); ok {
			return err
		}
		e.Ch.Log().Info("PickupChan: no target channel found", "channel", name)
	}
	return nil
}

// pickupFirst is pickup with a log line when nothing matched.
func (ap *Apps) pickupFirst(e *pbx.Exec, match func(*channel.Channel) bool, how string) error {
	if ok, err := ap.pickup(e, match); ok {
		return err
	}
	e.Ch.Log().Info("Pickup: no call to pick up " + how)
	return nil
}

// pickup picks up the oldest ringing channel of the caller's tenant that
// match selects (ast_pickup_find_by_group: the oldest candidate, checked
// again when taken); ok is false when none could be. On success it
// returns once the picker's call is over.
func (ap *Apps) pickup(e *pbx.Exec, match func(*channel.Channel) bool) (bool, error) {
	tenant := e.Ch.Tenant()
	for _, c := range e.PBX.Channels().List() {
		if c == e.Ch || c.Tenant() != tenant || !c.Pickable() || !match(c) {
			continue
		}
		// ast_do_pickup answers the picker first.
		if err := e.Ch.Answer(e.Ctx); err != nil {
			return true, channel.ErrHangup
		}
		if !c.PickUp(e.Ctx, e.Ch) {
			continue // someone else was faster, or it stopped ringing
		}
		e.Ch.Log().Info("call picked up", "target", c.Name)
		// The caller's Dial bridges us now; our dialplan is over.
		<-e.Ch.Done()
		return true, channel.ErrHangup
	}
	return false, nil
}

// pickedUp completes Dial's side of a pickup of the ringing leg target by
// picker (ast_do_pickup): Pickup is published, the leg is cancelled as
// answered elsewhere, the picker and the caller learn each other as
// connected line; the picker is the call's peer from now on.
func pickedUp(e *pbx.Exec, target, picker *channel.Channel) *channel.Channel {
	picker.PublishWith(events.Event{Kind: events.Pickup}, target)
	target.Hangup(q850.AnsweredElsewhere)
	e.PBX.Destroy(target)
	num, name := e.Ch.CallerID()
	picker.SetConnectedLine(num, name)
	pnum, pname := picker.CallerID()
	e.Ch.SetConnectedLine(pnum, pname)
	return picker
}
