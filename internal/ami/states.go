package ami

import (
	"sort"
	"strconv"
	"strings"

	"github.com/entvoice/entvoice/internal/tenancy"
)

// visibleContext says whether a session sees a context of the node, and
// by which name: an admin sees every context by the node's name, a
// tenant-bound user only its own, by their bare names.
func (ss *session) visibleContext(nodeCtx string) (string, bool) {
	if ss.tenant == "" {
		return nodeCtx, true
	}
	want := ss.tenant
	if tenancy.IsDefault(want) {
		want = defaultTenant
	}
	if hintTenant(nodeCtx) != want {
		return "", false
	}
	return tenancy.BareContext(ss.tenant, nodeCtx), true
}

// extensionStateList is extension_state.c action_extensionstatelist: one
// ExtensionStatus per hint (pattern hints left out).
func (ss *session) extensionStateList(m *Message) bool {
	type row struct {
		h   Hint
		ctx string
	}
	var rows []row
	if n := ss.srv.o.Node; n != nil {
		for _, h := range n.Hints() {
			if c, ok := ss.visibleContext(h.Context); ok && !strings.HasPrefix(h.Exten, "_") {
				rows = append(rows, row{h, c})
			}
		}
	}
	if len(rows) == 0 {
		ss.reply(errorResponse(m, "No dialplan hints are available"))
		return true
	}
	ss.reply(listAck(m, "Extension Statuses will follow"))
	for _, r := range rows {
		st, txt := extState(ss.srv.dev.HintState(r.h))
		w := item(m, "ExtensionStatus")
		w.h("Exten", r.h.Exten)
		w.h("Context", r.ctx)
		w.h("Hint", strings.Join(r.h.Devices, "&"))
		w.h("Status", strconv.Itoa(st))
		w.h("StatusText", txt)
		ss.reply(w.end())
	}
	ss.reply(listComplete(m, "ExtensionStateListComplete", len(rows)))
	return true
}

// deviceStateList is res_manager_devicestate.c action_devicestatelist:
// the cached device states as DeviceStateChange events; here every
// endpoint device the session sees, by name.
func (ss *session) deviceStateList(m *Message) bool {
	var eps []EndpointInfo
	if n := ss.srv.o.Node; n != nil {
		eps = n.Endpoints(ss.tenant)
	}
	sort.Slice(eps, func(i, j int) bool { return eps[i].Name < eps[j].Name })
	ss.reply(listAck(m, "Device State Changes will follow"))
	for _, e := range eps {
		w := item(m, "DeviceStateChange")
		w.h("Device", "PJSIP/"+e.Name)
		w.h("State", ss.srv.dev.State(e.Tenant, "PJSIP/"+e.Name))
		ss.reply(w.end())
	}
	ss.reply(listComplete(m, "DeviceStateListComplete", len(eps)))
	return true
}

// presenceState is manager.c action_presencestate. entVoice has no
// presence state provider (no CustomPresence, no channel technology
// reporting presence), so every provider is invalid, as on an Asterisk
// without them.
func (ss *session) presenceState(m *Message) bool {
	p := m.Get("Provider")
	if p == "" {
		ss.reply(errorResponse(m, "No provider specified"))
		return true
	}
	ss.reply(errorResponse(m, "Invalid provider "+p+" or provider in invalid state"))
	return true
}

// presenceStateList is res_manager_presencestate.c: the cached presence
// states, none here.
func (ss *session) presenceStateList(m *Message) bool {
	ss.reply(listAck(m, "Presence State Changes will follow"))
	ss.reply(listComplete(m, "PresenceStateListComplete", 0))
	return true
}
