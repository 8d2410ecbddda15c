package ami

import (
	"strconv"
	"strings"
	"sync"

	"github.com/entvoice/entvoice/internal/events"
)

// Device states (ast_device_state), with their ast_devstate_str texts.
const (
	devUnknown   = "UNKNOWN"
	devNotInUse  = "NOT_INUSE"
	devInUse     = "INUSE"
	devRinging   = "RINGING"
	devRingInUse = "RINGINUSE"
	devUnavail   = "UNAVAILABLE"
)

var devText = map[string]string{
	devUnknown: "Unknown", devNotInUse: "Not in use", devInUse: "In use", devRinging: "Ringing",
	devRingInUse: "Ring+Inuse", devUnavail: "Unavailable",
}

// extState maps a device state to an extension state (ast_extension_state2
// and ast_extension_state2str).
func extState(dev string) (int, string) {
	switch dev {
	case devNotInUse:
		return 0, "Idle"
	case devInUse:
		return 1, "InUse"
	case devUnavail, devUnknown:
		return 4, "Unavailable"
	case devRinging:
		return 8, "Ringing"
	case devRingInUse:
		return 9, "InUse&Ringing"
	}
	return 4, "Unavailable"
}

// deviceStates derives PJSIP device states from channel events (as
// chan_pjsip's devicestate callback counts an endpoint's channels) and
// raises DeviceStateChange and ExtensionStatus when they change.
type deviceStates struct {
	node NodeInfo

	mu    sync.Mutex
	chans map[string]int            // channel name -> state counted
	devs  map[string]*deviceCounter // "PJSIP/1001"
	ext   map[string]int            // "exten@context" -> last extension state
	tent  map[string]string         // device -> tenant of its last channel
}

type deviceCounter struct {
	inuse, ringing int
	state          string
}

func newDeviceStates(n NodeInfo) *deviceStates {
	return &deviceStates{node: n, chans: map[string]int{}, devs: map[string]*deviceCounter{}, ext: map[string]int{}, tent: map[string]string{}}
}

// device is the device of a channel: its name without the -%08x suffix.
func device(channel string) string {
	if i := strings.LastIndexByte(channel, '-'); i > 0 {
		return channel[:i]
	}
	return channel
}

const (
	stRing    = 4
	stRinging = 5
	stUp      = 6
)

// weight says how a channel state counts: in use (Up, Busy) or ringing.
// A channel still in Ring (an incoming call not answered yet) does not
// count, as in the Asterisk 22 capture, where the device turns INUSE only
// when the call is answered.
func weight(state int) (inuse, ringing int) {
	switch state {
	case stUp, 7:
		return 1, 0
	case stRinging:
		return 0, 1
	}
	return 0, 0
}

// update returns the derived events an event causes.
func (d *deviceStates) update(e *events.Event) []events.Event {
	var dev string
	switch e.Kind {
	case events.Newchannel, events.Newstate, events.Hangup:
		if e.Channel == nil || e.Dest != nil {
			return nil
		}
		dev = device(e.Channel.Channel)
	case events.PeerStatus:
		dev = e.Peer
	default:
		return nil
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	c := d.devs[dev]
	if c == nil {
		c = &deviceCounter{state: d.idleState(dev)}
		d.devs[dev] = c
	}
	if e.Channel != nil {
		d.tent[dev] = e.Channel.Tenant
		name := e.Channel.Channel
		if old, ok := d.chans[name]; ok {
			i, r := weight(old)
			c.inuse -= i
			c.ringing -= r
		}
		if e.Kind == events.Hangup {
			delete(d.chans, name)
		} else {
			d.chans[name] = e.Channel.State
			i, r := weight(e.Channel.State)
			c.inuse += i
			c.ringing += r
		}
	} else {
		d.tent[dev] = e.Tenant
	}
	next := d.aggregate(dev, c)
	if next == c.state {
		if c.inuse == 0 && c.ringing == 0 && e.Kind == events.Hangup {
			delete(d.devs, dev)
		}
		return nil
	}
	c.state = next
	tenant := d.tent[dev]
	out := []events.Event{{Kind: events.DeviceStateChange, Time: e.Time, Tenant: tenant,
		Extra: []string{"Device: " + dev, "State: " + next}}}
	if c.inuse == 0 && c.ringing == 0 {
		delete(d.devs, dev)
	}
	if d.node != nil {
		for _, h := range d.node.Hints() {
			if !containsFold(h.Devices, dev) {
				continue
			}
			key := h.Exten + "@" + h.Context
			st, txt := extState(d.hintStateLocked(h))
			if old, ok := d.ext[key]; ok && old == st {
				continue
			}
			d.ext[key] = st
			out = append(out, events.Event{Kind: events.ExtensionStatus, Time: e.Time, Tenant: tenant, Extra: []string{
				"Exten: " + h.Exten, "Context: " + h.Context, "Hint: " + strings.Join(h.Devices, "&"),
				"Status: " + strconv.Itoa(st), "StatusText: " + txt}})
		}
	}
	return out
}

func containsFold(list []string, s string) bool {
	for _, x := range list {
		if strings.EqualFold(x, s) {
			return true
		}
	}
	return false
}

func (d *deviceStates) idleState(dev string) string {
	if d.node == nil {
		return devUnknown
	}
	ep := strings.TrimPrefix(dev, "PJSIP/")
	if d.node.Registered(ep) {
		return devNotInUse
	}
	return devUnavail
}

func (d *deviceStates) aggregate(dev string, c *deviceCounter) string {
	switch {
	case c.inuse > 0 && c.ringing > 0:
		return devRingInUse
	case c.inuse > 0:
		return devInUse
	case c.ringing > 0:
		return devRinging
	}
	return d.idleState(dev)
}

// State returns a device's current state.
func (d *deviceStates) State(dev string) string {
	d.mu.Lock()
	defer d.mu.Unlock()
	if c, ok := d.devs[dev]; ok {
		return c.state
	}
	return d.idleState(dev)
}

// hintStateLocked combines a hint's devices as ast_devstate_aggregate does.
func (d *deviceStates) hintStateLocked(h Hint) string {
	inuse, ringing, avail := false, false, false
	for _, dev := range h.Devices {
		st := d.idleState(dev)
		if c, ok := d.devs[dev]; ok {
			st = c.state
		}
		switch st {
		case devInUse:
			inuse, avail = true, true
		case devRinging:
			ringing, avail = true, true
		case devRingInUse:
			inuse, ringing, avail = true, true, true
		case devNotInUse:
			avail = true
		}
	}
	switch {
	case inuse && ringing:
		return devRingInUse
	case ringing:
		return devRinging
	case inuse:
		return devInUse
	case avail:
		return devNotInUse
	}
	return devUnavail
}

// HintState is a hint's current device state.
func (d *deviceStates) HintState(h Hint) string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.hintStateLocked(h)
}
