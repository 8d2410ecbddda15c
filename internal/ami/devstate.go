package ami

import (
	"strconv"
	"strings"
	"sync"

	"github.com/entvoice/entvoice/internal/events"
	"github.com/entvoice/entvoice/internal/tenancy"
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
//
// Devices are per tenant: hosted tenants may both have a 1001, whose
// channels are both PJSIP/1001-...; each tenant's PJSIP/1001 is its own
// device, and a hint in a tenant's context names the tenant's devices.
type deviceStates struct {
	node NodeInfo

	mu    sync.Mutex
	chans map[string]int            // channel name -> state counted
	devs  map[devKey]*deviceCounter // (tenant, "PJSIP/1001")
	ext   map[string]int            // "exten@context" (node's context name) -> last extension state
}

// devKey is a device of a tenant (the default tenant is "default").
type devKey struct{ tenant, dev string }

// tenantDevice is the device key of dev for tenant.
func tenantDevice(tenant, dev string) devKey {
	if tenancy.IsDefault(tenant) {
		return devKey{defaultTenant, dev}
	}
	return devKey{tenant, dev}
}

const defaultTenant = "default"

// hintTenant is the tenant whose context holds a hint: a hosted tenant's
// contexts are "tenant~context".
func hintTenant(context string) string {
	if t, _, ok := strings.Cut(context, tenancy.Sep); ok {
		return t
	}
	return defaultTenant
}

// eventTenant is the tenant an event is tagged with ("" for the default
// tenant's, which every admin sees and no hosted tenant does).
func eventTenant(t string) string {
	if t == defaultTenant {
		return ""
	}
	return t
}

type deviceCounter struct {
	inuse, ringing int
	state          string
}

func newDeviceStates(n NodeInfo) *deviceStates {
	return &deviceStates{node: n, chans: map[string]int{}, devs: map[devKey]*deviceCounter{}, ext: map[string]int{}}
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
// movesDeviceState reports whether update may act on events of kind k.
func movesDeviceState(k events.Kind) bool {
	return k == events.Newchannel || k == events.Newstate || k == events.Hangup || k == events.PeerStatus
}

func (d *deviceStates) update(e *events.Event) []events.Event {
	var key devKey
	switch e.Kind {
	case events.Newchannel, events.Newstate, events.Hangup:
		if e.Channel == nil || e.Dest != nil {
			return nil
		}
		key = tenantDevice(e.Channel.Tenant, device(e.Channel.Channel))
	case events.PeerStatus:
		key = tenantDevice(e.Tenant, e.Peer)
	default:
		return nil
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	c := d.devs[key]
	if c == nil {
		c = &deviceCounter{state: d.idleState(key)}
		d.devs[key] = c
	}
	if e.Channel != nil {
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
	}
	next := d.aggregate(key, c)
	if next == c.state {
		if c.inuse == 0 && c.ringing == 0 && e.Kind == events.Hangup {
			delete(d.devs, key)
		}
		return nil
	}
	c.state = next
	tenant := eventTenant(key.tenant)
	out := []events.Event{{Kind: events.DeviceStateChange, Time: e.Time, Tenant: tenant,
		Extra: []string{"Device: " + key.dev, "State: " + next}}}
	if c.inuse == 0 && c.ringing == 0 {
		delete(d.devs, key)
	}
	if d.node != nil {
		for _, h := range d.node.Hints() {
			// Only the device's tenant's hints name it.
			if hintTenant(h.Context) != key.tenant || !containsFold(h.Devices, key.dev) {
				continue
			}
			ek := h.Exten + "@" + h.Context
			st, txt := extState(d.hintStateLocked(h))
			if old, ok := d.ext[ek]; ok && old == st {
				continue
			}
			d.ext[ek] = st
			out = append(out, events.Event{Kind: events.ExtensionStatus, Time: e.Time, Tenant: tenant, Extra: []string{
				"Exten: " + h.Exten, "Context: " + tenancy.BareContext(key.tenant, h.Context), "Hint: " + strings.Join(h.Devices, "&"),
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

func (d *deviceStates) idleState(k devKey) string {
	if d.node == nil {
		return devUnknown
	}
	ep := strings.TrimPrefix(k.dev, "PJSIP/")
	if d.node.Registered(k.tenant, ep) {
		return devNotInUse
	}
	return devUnavail
}

func (d *deviceStates) aggregate(dev devKey, c *deviceCounter) string {
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

// State returns the current state of a tenant's device.
func (d *deviceStates) State(tenant, dev string) string {
	k := tenantDevice(tenant, dev)
	d.mu.Lock()
	defer d.mu.Unlock()
	if c, ok := d.devs[k]; ok {
		return c.state
	}
	return d.idleState(k)
}

// hintStateLocked combines a hint's devices (those of the tenant whose
// context holds it) as ast_devstate_aggregate does.
func (d *deviceStates) hintStateLocked(h Hint) string {
	inuse, ringing, avail := false, false, false
	tenant := hintTenant(h.Context)
	for _, dev := range h.Devices {
		k := tenantDevice(tenant, dev)
		st := d.idleState(k)
		if c, ok := d.devs[k]; ok {
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
