package sipua

import (
	"net/netip"

	"github.com/entvoice/entvoice/internal/acl"
	"github.com/entvoice/entvoice/internal/media"
	"github.com/entvoice/entvoice/internal/sipauth"
)

// Endpoint is a SIP user (digest-authenticated, registers) or a trunk
// (identified by source address), as PJSIP endpoints are.
type Endpoint struct {
	Name        string
	Trunk       bool
	Enabled     bool
	Tenant      string
	Credentials sipauth.Credentials
	ACL         *acl.List // nil: any source
	MaxContacts int
	Context     string
	Language    string
	AccountCode string
	CallerNum   string
	CallerName  string
	Codecs      []media.Codec

	// Trunks only.
	Match     []netip.Prefix
	Host      netip.AddrPort
	Transport string
}

// Directory is an immutable snapshot of the endpoints the node serves. A new
// configuration revision builds a new Directory and swaps it in.
type Directory struct {
	users  map[string]*Endpoint
	trunks []*Endpoint
	byName map[string]*Endpoint
}

// NewDirectory indexes endpoints.
func NewDirectory(endpoints []*Endpoint) *Directory {
	d := &Directory{users: map[string]*Endpoint{}, byName: map[string]*Endpoint{}}
	for _, e := range endpoints {
		d.byName[e.Name] = e
		if e.Trunk {
			d.trunks = append(d.trunks, e)
		} else {
			d.users[e.Name] = e
		}
	}
	return d
}

// User finds a user endpoint by name.
func (d *Directory) User(name string) (*Endpoint, bool) {
	e, ok := d.users[name]
	return e, ok
}

// Endpoint finds a user or trunk by name.
func (d *Directory) Endpoint(name string) (*Endpoint, bool) {
	e, ok := d.byName[name]
	return e, ok
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

// Users returns every user endpoint.
func (d *Directory) Users() []*Endpoint {
	out := make([]*Endpoint, 0, len(d.users))
	for _, e := range d.users {
		out = append(out, e)
	}
	return out
}

// Trunks returns the trunks in configuration order.
func (d *Directory) Trunks() []*Endpoint { return append([]*Endpoint(nil), d.trunks...) }
