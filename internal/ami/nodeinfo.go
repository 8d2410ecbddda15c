package ami

import (
	"context"
	"time"

	"github.com/entvoice/entvoice/internal/dialplan"
)

// EndpointInfo is a SIP endpoint as the PJSIPShow* actions list it: one
// PJSIP endpoint with its AOR and auth of the same name (users), or an
// endpoint with an identify section and a static contact (trunks).
type EndpointInfo struct {
	Name      string
	Tenant    string
	Transport string
	Trunk     bool
	// Contacts are the registered contacts (users) or the trunk's host.
	Contacts []ContactInfo

	Context     string // the node's name ("acme~internal" for a hosted tenant)
	Language    string
	AccountCode string
	CallerName  string
	CallerNum   string
	Codecs      []string // Asterisk's format names, in preference order: "ulaw", "alaw"
	MaxContacts int
	// Realm is the digest realm of a user's auth ("" for trunks).
	Realm string
	// Match is a trunk's identify match list (addresses and networks).
	Match []string
	// Registration lifetimes in seconds (the registrar's, for every AOR).
	MinExpires, MaxExpires, DefaultExpires int
}

// ContactInfo is one contact of an AOR (a registration, or a trunk's
// static contact).
type ContactInfo struct {
	URI       string
	Expires   time.Time // zero for a static contact
	UserAgent string
	CallID    string
	ViaAddr   string
	ViaPort   int
	Static    bool
}

// URIs returns the URIs of the contacts.
func (e *EndpointInfo) URIs() []string {
	out := make([]string, 0, len(e.Contacts))
	for _, c := range e.Contacts {
		out = append(out, c.URI)
	}
	return out
}

// Hint is an `exten => X,hint,PJSIP/1001&PJSIP/1002` of the dialplan.
type Hint struct {
	Context, Exten string
	Devices        []string
}

// NodeInfo is what AMI reads from the node beside live channels: endpoints
// and registrations, hints, the dialplan, reload. The lead's node
// implements it (node.amiNode); nil (central's cluster-wide AMI) disables
// or empties the actions that need it.
type NodeInfo interface {
	// Endpoints lists the endpoints a tenant sees ("" sees all).
	Endpoints(tenant string) []EndpointInfo
	// Registered reports whether a tenant's endpoint ("" or "default":
	// the default tenant's) has a registered contact (or is a trunk,
	// which serves every tenant and is reachable with a host).
	Registered(tenant, endpoint string) bool
	// Hints lists the dialplan hints.
	Hints() []Hint
	// Dialplan is the dialplan in force (nil if none is loaded).
	Dialplan() *dialplan.Dialplan
	// ProcessedCalls counts the channels created since the node started
	// (Asterisk's ast_processed_calls), a tenant's own ("" all of them).
	ProcessedCalls(tenant string) int
	// Reload reloads a module ("" for all): "dialplan" or "pjsip".
	// ErrNoModule for an unknown one.
	Reload(ctx context.Context, module string) error
	// Version is the "core show version" line.
	Version() string
}
