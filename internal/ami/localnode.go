package ami

import (
	"context"
	"sort"
	"strings"

	"github.com/entvoice/entvoice/internal/control"
	"github.com/entvoice/entvoice/internal/dialplan"
	"github.com/entvoice/entvoice/internal/pbx"
	"github.com/entvoice/entvoice/internal/sipua"
)

// LocalNode is the NodeInfo of a node running in this process.
type LocalNode struct {
	PBX *pbx.PBX
	SIP *sipua.Server
	// ReloadDialplan reloads extensions.conf (nil: not supported).
	ReloadDialplan func(ctx context.Context) error
	VersionLine    string
}

var _ NodeInfo = (*LocalNode)(nil)

// Endpoints implements NodeInfo.
func (n *LocalNode) Endpoints(tenant string) []EndpointInfo {
	dir := n.SIP.Directory()
	var out []EndpointInfo
	add := func(e *sipua.Endpoint) {
		if tenant != "" && e.Tenant != tenant {
			return
		}
		info := EndpointInfo{Name: e.Name, Tenant: e.Tenant, Transport: e.Transport, Trunk: e.Trunk}
		if e.Trunk {
			if e.Host.IsValid() {
				info.Contacts = []string{"sip:" + e.Host.String()}
			}
		} else {
			// A hosted tenant's registrations are keyed tenant~name.
			for _, b := range n.SIP.Registrar().Lookup(e.AOR()) {
				info.Contacts = append(info.Contacts, strings.Trim(b.Contact, "<>"))
			}
		}
		out = append(out, info)
	}
	for _, e := range dir.Users() {
		add(e)
	}
	for _, e := range dir.Trunks() {
		add(e)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Registered implements NodeInfo: a user of the tenant with a live
// contact, or a trunk with a host to send calls to.
func (n *LocalNode) Registered(tenant, name string) bool {
	e, ok := n.SIP.Directory().EndpointIn(tenant, name)
	if !ok {
		return false
	}
	if e.Trunk {
		return e.Host.IsValid()
	}
	return len(n.SIP.Registrar().Lookup(e.AOR())) > 0
}

// Hints implements NodeInfo.
func (n *LocalNode) Hints() []Hint {
	plan := n.PBX.Dialplan()
	if plan == nil {
		return nil
	}
	var out []Hint
	for _, c := range plan.Contexts() {
		for _, x := range plan.Extensions(c) {
			st := plan.Steps(c, x)
			if len(st) == 0 || st[0].Priority != dialplan.PriorityHint {
				continue
			}
			h := st[0].App
			if st[0].Data != "" {
				h += "(" + st[0].Data + ")"
			}
			out = append(out, Hint{Context: c, Exten: x, Devices: strings.Split(h, "&")})
		}
	}
	return out
}

// Reload implements NodeInfo: "" or "dialplan" (pbx_config) reload the
// dialplan.
func (n *LocalNode) Reload(ctx context.Context, module string) error {
	if !control.ReloadsDialplan(module) {
		return ErrNoModule
	}
	if n.ReloadDialplan == nil {
		return nil
	}
	return n.ReloadDialplan(ctx)
}

// Version implements NodeInfo.
func (n *LocalNode) Version() string {
	if n.VersionLine != "" {
		return n.VersionLine
	}
	return "entVoice, Asterisk Manager Interface " + Version
}
