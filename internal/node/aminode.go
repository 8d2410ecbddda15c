package node

import (
	"context"
	"sort"
	"strings"

	"github.com/entvoice/entvoice/internal/ami"
	"github.com/entvoice/entvoice/internal/channel"
	"github.com/entvoice/entvoice/internal/control"
	"github.com/entvoice/entvoice/internal/dialplan"
	"github.com/entvoice/entvoice/internal/pbx"
	"github.com/entvoice/entvoice/internal/registrar"
	"github.com/entvoice/entvoice/internal/sipua"
	"github.com/entvoice/entvoice/internal/tenancy"
)

// amiNode is what the AMI server asks of the node it runs on (ami.NodeInfo):
// endpoints and their registrations, hints, reload, version.
type amiNode struct {
	pbx      *pbx.PBX
	sip      *sipua.Server
	channels *channel.Registry
	// realm is the default tenant's digest realm; expires the registrar's
	// minimum, maximum and default registration lifetimes.
	realm   string
	expires [3]int
	// reloadDialplan reloads extensions.conf (nil: not supported);
	// reloadQueues queues.conf and queuerules.conf.
	reloadDialplan func(ctx context.Context) error
	reloadQueues   func() error
}

var _ ami.NodeInfo = (*amiNode)(nil)

// Endpoints implements NodeInfo.
func (n *amiNode) Endpoints(tenant string) []ami.EndpointInfo {
	dir := n.sip.Directory()
	var out []ami.EndpointInfo
	add := func(e *sipua.Endpoint) {
		if tenant != "" && e.Tenant != tenant {
			return
		}
		info := ami.EndpointInfo{Name: e.Name, Tenant: e.Tenant, Transport: e.Transport, Trunk: e.Trunk,
			Context: e.Context, Language: e.Language, AccountCode: e.AccountCode,
			CallerName: e.CallerName, CallerNum: e.CallerNum, MaxContacts: e.MaxContacts,
			MinExpires: n.expires[0], MaxExpires: n.expires[1], DefaultExpires: n.expires[2]}
		for _, c := range e.Codecs {
			info.Codecs = append(info.Codecs, astFormat(c.Name))
		}
		if e.Trunk {
			if e.Host.IsValid() {
				info.Contacts = []ami.ContactInfo{{URI: "sip:" + e.Host.String(), Static: true}}
			}
			for _, p := range e.Match {
				info.Match = append(info.Match, p.String())
			}
		} else {
			if info.MaxContacts == 0 {
				info.MaxContacts = registrar.DefaultMaxContacts
			}
			info.Realm = n.realm
			if t := dir.Tenant(e.Tenant); t != nil && !tenancy.IsDefault(e.Tenant) {
				info.Realm = t.Domain
			}
			// A hosted tenant's registrations are keyed tenant~name.
			for _, b := range n.sip.Registrar().Lookup(e.AOR()) {
				c := ami.ContactInfo{URI: strings.Trim(b.Contact, "<>"), Expires: b.Expires,
					UserAgent: b.UserAgent, CallID: b.CallID}
				if b.Source.IsValid() {
					c.ViaAddr, c.ViaPort = b.Source.Addr().Unmap().String(), int(b.Source.Port())
				}
				info.Contacts = append(info.Contacts, c)
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

// astFormat is Asterisk's format name of a codec ("ulaw" for PCMU).
func astFormat(name string) string {
	switch strings.ToUpper(name) {
	case "PCMU":
		return "ulaw"
	case "PCMA":
		return "alaw"
	}
	return strings.ToLower(name)
}

// Dialplan implements NodeInfo.
func (n *amiNode) Dialplan() *dialplan.Dialplan { return n.pbx.Dialplan() }

// ProcessedCalls implements NodeInfo.
func (n *amiNode) ProcessedCalls(tenant string) int {
	if tenant == "" {
		tenant = "*"
	}
	return n.channels.Created(tenant)
}

// Registered implements NodeInfo: a user of the tenant with a live
// contact, or a trunk with a host to send calls to.
func (n *amiNode) Registered(tenant, name string) bool {
	e, ok := n.sip.Directory().EndpointIn(tenant, name)
	if !ok {
		return false
	}
	if e.Trunk {
		return e.Host.IsValid()
	}
	return len(n.sip.Registrar().Lookup(e.AOR())) > 0
}

// Hints implements NodeInfo.
func (n *amiNode) Hints() []ami.Hint {
	plan := n.pbx.Dialplan()
	if plan == nil {
		return nil
	}
	var out []ami.Hint
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
			out = append(out, ami.Hint{Context: c, Exten: x, Devices: strings.Split(h, "&")})
		}
	}
	return out
}

// Reload implements NodeInfo: "" or "dialplan" (pbx_config) reload the
// dialplan.
func (n *amiNode) Reload(ctx context.Context, module string) error {
	queues := module == "" || strings.EqualFold(strings.TrimSuffix(strings.ToLower(module), ".so"), "app_queue")
	if !control.ReloadsDialplan(module) && !queues {
		return control.ErrNoModule
	}
	if queues && n.reloadQueues != nil {
		if err := n.reloadQueues(); err != nil {
			return err
		}
	}
	if !control.ReloadsDialplan(module) || n.reloadDialplan == nil {
		return nil
	}
	return n.reloadDialplan(ctx)
}

// Version implements NodeInfo.
func (n *amiNode) Version() string { return "entVoice, Asterisk Manager Interface " + ami.Version }
