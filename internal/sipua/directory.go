package sipua

import (
	"net/netip"
	"strings"

	"github.com/entvoice/entvoice/internal/acl"
	"github.com/entvoice/entvoice/internal/channel"
	"github.com/entvoice/entvoice/internal/media"
	"github.com/entvoice/entvoice/internal/sipauth"
	"github.com/entvoice/entvoice/internal/tenancy"
)

// Endpoint is a SIP user (digest-authenticated, registers) or a trunk
// (identified by source address), as PJSIP endpoints are.
type Endpoint struct {
	Name    string
	Trunk   bool
	Enabled bool
	// Tenant owns the endpoint (hosted mode); "" is the default tenant.
	// Trunks belong to the default tenant and serve every tenant.
	Tenant      string
	Credentials sipauth.Credentials
	ACL         *acl.List // nil: any source
	MaxContacts int
	// Context is the dialplan context calls from the endpoint start in,
	// already namespaced for a hosted tenant (dialplan.TenantContext).
	Context     string
	Language    string
	AccountCode string
	CallerNum   string
	CallerName  string
	Codecs      []media.Codec
	// Denied are the services switched off for the endpoint (tenant and
	// user switches together); the zero value allows every service.
	Denied tenancy.Service
	// Groups are the user's call and pickup groups (pickup of its
	// ringing calls, *8).
	Groups channel.Groups

	// NAT handling (Asterisk's endpoint options): ForceRport overrides
	// the edge's default when set; RewriteContact sends requests to where
	// the endpoint's REGISTER or INVITE came from, not to its Contact.
	ForceRport     *bool
	RewriteContact bool
	// MediaEncryption is "" (plain RTP), "sdes" or "dtls": calls that do
	// not offer it are refused (488), calls to the endpoint offer it.
	MediaEncryption string
	// MaxCalls bounds the endpoint's concurrent calls, inbound and
	// outbound together (0: no limit).
	MaxCalls int

	// Trunks only.
	// TLSVerify: calls from the trunk must come over TLS with a verified
	// client certificate, named TLSName when set.
	TLSVerify bool
	TLSName   string
	Match     []netip.Prefix
	Host      netip.AddrPort
	Transport string
}

// AOR is the key of the endpoint's registrations: its name in the default
// tenant, "tenant~name" in a hosted tenant (two tenants may both have 1001).
func (e *Endpoint) AOR() string { return tenancy.AOR(e.Tenant, e.Name) }

// Services is the set of services channels of the endpoint may use.
func (e *Endpoint) Services() tenancy.Service { return tenancy.AllServices &^ e.Denied }

// Tenant is a hosted tenant as the SIP side needs it.
type Tenant struct {
	ID string
	// Domain is the tenant's SIP domain: REGISTER and INVITE for it are
	// the tenant's, and it is the digest realm of the tenant's users.
	Domain string
}

// Directory is an immutable snapshot of the endpoints the node serves. A new
// configuration revision builds a new Directory and swaps it in.
type Directory struct {
	users    map[userKey]*Endpoint
	trunks   []*Endpoint
	byName   map[string]*Endpoint // trunks by name
	tenants  map[string]*Tenant
	byDomain map[string]*Tenant
	// natOverrides: some endpoint sets its own force_rport (the edge
	// then looks the endpoint up per request).
	natOverrides bool
}

type userKey struct{ tenant, name string }

// NewDirectory indexes endpoints of the default tenant (and of any tenant
// they name, without a domain of its own).
func NewDirectory(endpoints []*Endpoint) *Directory {
	return NewHostedDirectory(nil, endpoints)
}

// NewHostedDirectory indexes tenants and endpoints. A tenant's domain is
// matched case-insensitively. Trunks always belong to the default tenant.
func NewHostedDirectory(tenants []*Tenant, endpoints []*Endpoint) *Directory {
	d := &Directory{
		users:    make(map[userKey]*Endpoint, len(endpoints)),
		byName:   map[string]*Endpoint{},
		tenants:  map[string]*Tenant{},
		byDomain: map[string]*Tenant{},
	}
	for _, t := range tenants {
		d.tenants[t.ID] = t
		if t.Domain != "" && t.ID != tenancy.Default {
			d.byDomain[strings.ToLower(t.Domain)] = t
		}
	}
	for _, e := range endpoints {
		if e.ForceRport != nil {
			d.natOverrides = true
		}
		if e.Trunk {
			d.trunks = append(d.trunks, e)
			d.byName[e.Name] = e
			continue
		}
		d.users[userKey{tenancy.Of(e.Tenant), e.Name}] = e
	}
	return d
}

// User finds a user endpoint of the default tenant by name.
func (d *Directory) User(name string) (*Endpoint, bool) {
	return d.UserIn(tenancy.Default, name)
}

// UserIn finds a user endpoint of a tenant by name.
func (d *Directory) UserIn(tid, name string) (*Endpoint, bool) {
	e, ok := d.users[userKey{tenancy.Of(tid), name}]
	return e, ok
}

// Endpoint finds a user of the default tenant or a trunk by name.
func (d *Directory) Endpoint(name string) (*Endpoint, bool) {
	return d.EndpointIn(tenancy.Default, name)
}

// EndpointIn resolves a dial target for a channel of tenant: the tenant's
// own user of that name, else a trunk. Another tenant's users are never
// found (hosted mode: no tenant reaches another's users).
func (d *Directory) EndpointIn(tid, name string) (*Endpoint, bool) {
	if e, ok := d.users[userKey{tenancy.Of(tid), name}]; ok {
		return e, true
	}
	e, ok := d.byName[name]
	return e, ok
}

// Tenant returns a tenant by id (nil for one with no entry, such as the
// default tenant without limits).
func (d *Directory) Tenant(id string) *Tenant { return d.tenants[tenancy.Of(id)] }

// TenantForHost returns the tenant whose SIP domain is host, or the
// default tenant for any other host (an IP address, an unknown domain).
func (d *Directory) TenantForHost(host string) (string, bool) {
	if len(d.byDomain) == 0 || host == "" {
		return tenancy.Default, false
	}
	if t, ok := d.byDomain[strings.ToLower(host)]; ok {
		return t.ID, true
	}
	return tenancy.Default, false
}

// TrunkFor finds the first trunk whose match list contains addr
// (Asterisk's res_pjsip_endpoint_identifier_ip).
func (d *Directory) TrunkFor(addr netip.Addr) (*Endpoint, bool) {
	addr = addr.Unmap()
	for _, t := range d.trunks {
		for _, p := range t.Match {
			if p.Contains(addr) {
				return t, true
			}
		}
	}
	return nil, false
}

// Users returns every user endpoint of every tenant.
func (d *Directory) Users() []*Endpoint {
	out := make([]*Endpoint, 0, len(d.users))
	for _, e := range d.users {
		out = append(out, e)
	}
	return out
}

// Trunks returns the trunks in configuration order.
func (d *Directory) Trunks() []*Endpoint { return append([]*Endpoint(nil), d.trunks...) }
