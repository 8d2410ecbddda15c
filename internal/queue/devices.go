package queue

import (
	"context"
	"slices"
	"strings"

	"github.com/entvoice/entvoice/internal/channel"
	"github.com/entvoice/entvoice/internal/events"
	"github.com/entvoice/entvoice/internal/tenancy"
)

// DeviceState is Asterisk's enum ast_device_state: a member's Status in
// QueueMemberStatus and QueueStatus.
type DeviceState int

// Device states.
const (
	Unknown     DeviceState = 0
	NotInUse    DeviceState = 1
	InUse       DeviceState = 2
	Busy        DeviceState = 3
	Invalid     DeviceState = 4
	Unavailable DeviceState = 5
	Ringing     DeviceState = 6
	RingInUse   DeviceState = 7
	OnHold      DeviceState = 8
)

var stateNames = [...]string{"UNKNOWN", "NOT_INUSE", "INUSE", "BUSY", "INVALID", "UNAVAILABLE", "RINGING", "RINGINUSE", "ONHOLD"}

func (s DeviceState) String() string {
	if s >= 0 && int(s) < len(stateNames) {
		return stateNames[s]
	}
	return "UNKNOWN"
}

// chan2dev is devicestate.c's table: the device state a channel in a
// state gives its device.
func chan2dev(s channel.State) DeviceState {
	switch s {
	case channel.StateDown:
		return NotInUse
	case channel.StateRinging:
		return Ringing
	case channel.StateBusy:
		return Busy
	}
	return InUse // reserved, off hook, dialing, ring (ringback), up
}

// aggregateOrder is ast_devstate_aggregate_add's state_order.
var aggregateOrder = [...]int{Unknown: 1, NotInUse: 3, InUse: 6, Busy: 7, Invalid: 0, Unavailable: 2, Ringing: 5, RingInUse: 8, OnHold: 4}

// aggregate combines channel states as ast_devstate_aggregate does
// (starting from Invalid: a device with channels is what they say).
func aggregate(counts *[9]int) DeviceState {
	state := Invalid
	ringing, inuse := false, false
	for s := Unknown; s <= OnHold; s++ {
		if counts[s] == 0 {
			continue
		}
		switch s {
		case Ringing:
			ringing = true
		case InUse, OnHold, Busy:
			inuse = true
		}
		if aggregateOrder[s] > aggregateOrder[state] {
			state = s
		}
	}
	if ringing && inuse {
		return RingInUse
	}
	return state
}

// devKey is a device of a tenant: "pjsip/1001" (case-folded).
type devKey struct{ tenant, dev string }

func deviceKey(tenant, dev string) devKey {
	return devKey{tenancy.Of(tenant), strings.ToLower(dev)}
}

// device is a tracked device: the state interface of queue members.
type device struct {
	key     devKey
	name    string // as the first member gave it
	idle    DeviceState
	counts  [9]int // live channels by device state
	state   DeviceState
	members []*member
}

// chanState is a live channel of a tracked device.
type chanState struct {
	dev   devKey
	state DeviceState
}

// deviceOf is a channel's device: its name without the -%08x suffix
// (PJSIP/1001-0000002a is PJSIP/1001). Local channels have none: their
// state is their dialplan's, which a member gives as its state interface.
func deviceOf(name string) (string, bool) {
	if strings.HasPrefix(strings.ToLower(name), "local/") {
		return "", false
	}
	if i := strings.LastIndexByte(name, '-'); i > 0 {
		return name[:i], true
	}
	return name, true
}

// deviceEvent selects the events that make device state; it runs on the
// publisher's goroutine, so it only looks at the kind.
func deviceEvent(e *events.Event) bool {
	switch e.Kind {
	case events.Newchannel, events.Newstate, events.Hangup:
		return e.Channel != nil && e.Dest == nil
	case events.PeerStatus:
		return true
	}
	return false
}

// follow applies device events until ctx ends. Events the bus dropped
// (a full queue) make it count the live channels again.
func (en *Engine) follow(ctx context.Context) {
	defer close(en.done)
	var dropped uint64
	for {
		select {
		case <-ctx.Done():
			return
		case e, ok := <-en.sub.C:
			if !ok {
				return
			}
			en.apply(e)
			if d := en.sub.Dropped(); d != dropped && len(en.sub.C) == 0 {
				en.log.Warn("device state events lost; recounting live channels", "lost", d-dropped)
				dropped = d
				en.recount()
			}
		}
	}
}

// apply updates device state from one event.
func (en *Engine) apply(e *events.Event) {
	en.mu.Lock()
	defer en.mu.Unlock()
	if e.Kind == events.PeerStatus {
		d := en.devs[deviceKey(e.Tenant, e.Peer)]
		if d == nil {
			return
		}
		d.idle = en.idleState(d)
		en.updateDeviceLocked(d)
		return
	}
	name := e.Channel.Channel
	if e.Kind == events.Hangup {
		cs, ok := en.chans[name]
		if !ok {
			return
		}
		delete(en.chans, name)
		if d := en.devs[cs.dev]; d != nil {
			d.counts[cs.state]--
			en.updateDeviceLocked(d)
		}
		return
	}
	dev, ok := deviceOf(name)
	if !ok {
		return
	}
	d := en.devs[deviceKey(e.Channel.Tenant, dev)]
	if d == nil {
		return
	}
	st := chan2dev(channel.State(e.Channel.State))
	if old, ok := en.chans[name]; ok {
		if old.state == st {
			return
		}
		d.counts[old.state]--
	}
	en.chans[name] = chanState{dev: d.key, state: st}
	d.counts[st]++
	en.updateDeviceLocked(d)
}

// idleState asks the node what a device is without calls.
func (en *Engine) idleState(d *device) DeviceState {
	if _, ok := deviceOf(d.name); !ok {
		return Unknown // a Local member: always callable (its dialplan decides)
	}
	if en.o.Devices == nil {
		return NotInUse
	}
	return en.o.Devices.Idle(d.key.tenant, d.name)
}

// trackLocked starts following a device for a member: its live channels
// are counted from the channel registry.
func (en *Engine) trackLocked(m *member) {
	k := deviceKey(m.q.tenant, m.stateIface)
	d := en.devs[k]
	if d == nil {
		d = &device{key: k, name: m.stateIface}
		d.idle = en.idleState(d)
		en.devs[k] = d
		if dev, ok := deviceOf(d.name); ok && en.o.PBX != nil {
			for _, ch := range en.o.PBX.Channels().List() {
				if cd, ok := deviceOf(ch.Name); !ok || !strings.EqualFold(cd, dev) || tenancy.Of(ch.Tenant()) != k.tenant || ch.IsHungUp() {
					continue
				}
				st := chan2dev(ch.State())
				en.chans[ch.Name] = chanState{dev: k, state: st}
				d.counts[st]++
			}
		}
		d.state = d.current()
	}
	d.members = append(d.members, m)
	m.dev = d
	m.status = d.state
}

// untrackLocked stops following a device for a member.
func (en *Engine) untrackLocked(m *member) {
	d := m.dev
	if d == nil {
		return
	}
	d.members = slices.DeleteFunc(d.members, func(x *member) bool { return x == m })
	m.dev = nil
	if len(d.members) > 0 {
		return
	}
	delete(en.devs, d.key)
	for name, cs := range en.chans {
		if cs.dev == d.key {
			delete(en.chans, name)
		}
	}
}

// current is the device's state from its channels, or its idle state.
func (d *device) current() DeviceState {
	for _, n := range d.counts {
		if n > 0 {
			return aggregate(&d.counts)
		}
	}
	return d.idle
}

// updateDeviceLocked recomputes a device's state and, when it changed,
// each of its members' (update_status): one QueueMemberStatus per queue
// the member is in, and the callers those members may serve are woken.
func (en *Engine) updateDeviceLocked(d *device) {
	st := d.current()
	if st == d.state {
		return
	}
	d.state = st
	for _, m := range d.members {
		if m.status == st {
			continue
		}
		m.status = st
		en.memberEventLocked(events.QueueMemberStatus, m)
		en.wakeLocked(m.q)
	}
}

// recount rebuilds the channel counts of every tracked device from the
// channel registry.
func (en *Engine) recount() {
	if en.o.PBX == nil {
		return
	}
	list := en.o.PBX.Channels().List()
	en.mu.Lock()
	defer en.mu.Unlock()
	en.chans = map[string]chanState{}
	for _, d := range en.devs {
		d.counts = [9]int{}
		d.idle = en.idleState(d)
	}
	for _, ch := range list {
		dev, ok := deviceOf(ch.Name)
		if !ok || ch.IsHungUp() {
			continue
		}
		d := en.devs[deviceKey(ch.Tenant(), dev)]
		if d == nil {
			continue
		}
		st := chan2dev(ch.State())
		en.chans[ch.Name] = chanState{dev: d.key, state: st}
		d.counts[st]++
	}
	for _, d := range en.devs {
		en.updateDeviceLocked(d)
	}
}
