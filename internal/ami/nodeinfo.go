package ami

import "context"

// EndpointInfo is a SIP endpoint as PJSIPShowEndpoints lists it.
type EndpointInfo struct {
	Name      string
	Tenant    string
	Transport string
	Trunk     bool
	Contacts  []string // registered contact URIs (users) or the trunk's host
}

// Hint is an `exten => X,hint,PJSIP/1001&PJSIP/1002` of the dialplan.
type Hint struct {
	Context, Exten string
	Devices        []string
}

// NodeInfo is what AMI reads from the node beside live channels: endpoints
// and registrations, hints, reload. The lead's node (control.Local)
// implements it; nil disables the actions and events that need it.
type NodeInfo interface {
	// Endpoints lists the endpoints a tenant sees ("" sees all).
	Endpoints(tenant string) []EndpointInfo
	// Registered reports whether an endpoint has a registered contact
	// (or is a trunk, which is always reachable).
	Registered(endpoint string) bool
	// Hints lists the dialplan hints.
	Hints() []Hint
	// Reload reloads a module ("" for all): "dialplan" or "pjsip".
	// ErrNoModule for an unknown one.
	Reload(ctx context.Context, module string) error
	// Version is the "core show version" line.
	Version() string
}
