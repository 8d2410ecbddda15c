// Package provision is the realtime provisioning model: tenants, SIP users,
// realtime extensions, service switches, API tokens and AMI users, their
// validation, their storage in the central store and the change feed that
// carries every write to the nodes by revision (Asterisk's realtime
// architecture, pushed rather than queried per call).
package provision

import (
	"context"
	"errors"
	"time"
)

// ErrResync is returned by Source.Changes when the revision asked for is
// older than the retained change feed: the node must take a new Snapshot.
var ErrResync = errors.New("provision: change feed no longer holds that revision; take a new snapshot")

// DefaultTenant is the tenant of static YAML users and extensions.conf, and
// of realtime rows created without one. It has no SIP domain of its own:
// requests for any domain that no tenant claims route to it.
const DefaultTenant = "default"

// Switches are the service switches of a tenant or a user. A nil field is
// "not set": a user inherits its tenant's value, a tenant's unset value is
// on. A service is usable on a call only when both tenant and user allow it.
type Switches struct {
	Recording     *bool `json:"recording,omitempty"`
	Voicemail     *bool `json:"voicemail,omitempty"`
	AGI           *bool `json:"agi,omitempty"`
	Speech        *bool `json:"speech,omitempty"`
	Outbound      *bool `json:"outbound,omitempty"`
	International *bool `json:"international,omitempty"`
}

// Tenant is one hosted customer.
type Tenant struct {
	// ID is the tenant's short name ([a-z0-9-]{1,32}), its key everywhere.
	ID   string `json:"id"`
	Name string `json:"name"`
	// Domain is the SIP domain REGISTER and INVITE requests are routed by
	// (the Request-URI host, else the To host).
	Domain string `json:"domain"`
	// Status is "active" or "suspended" (a suspended tenant's users cannot
	// register or call).
	Status   string `json:"status"`
	MaxCalls int    `json:"max_calls"` // 0: unlimited
	MaxUsers int    `json:"max_users"` // 0: unlimited
	Language string `json:"language"`
	// Services are the tenant's switches.
	Services  Switches  `json:"services"`
	Revision  int64     `json:"revision"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// User is a realtime SIP user (an ARA ps_endpoints + ps_auths + ps_aors row
// in one). Only digest HA1s are stored; the password never is.
type User struct {
	ID     int64  `json:"id"`
	Tenant string `json:"tenant"`
	Name   string `json:"name"` // SIP user part, unique within the tenant
	// Realm is the digest realm the HA1s were computed for, fixed when the
	// password was set (the tenant's SIP domain in hosted mode, else the
	// node's sip.realm): HA1 = H(user:realm:password), RFC 7616 §3.4.2.
	Realm       string    `json:"realm"`
	HA1MD5      string    `json:"-"`
	HA1SHA256   string    `json:"-"`
	Context     string    `json:"context"`
	CallerID    string    `json:"callerid"` // "Name" <num>
	Language    string    `json:"language"`
	Codecs      []string  `json:"codecs"`
	Permit      []string  `json:"permit"`
	Deny        []string  `json:"deny"`
	MaxContacts int       `json:"max_contacts"`
	AccountCode string    `json:"accountcode"`
	Enabled     bool      `json:"enabled"`
	Services    Switches  `json:"services"`
	Revision    int64     `json:"revision"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`

	// CallGroup and PickupGroup ("1,3-5"), NamedCallGroup and
	// NamedPickupGroup ("sales,support"): pjsip.conf's call_group,
	// pickup_group and their named forms, for pickup (*8, Pickup()).
	CallGroup        string `json:"callgroup"`
	PickupGroup      string `json:"pickupgroup"`
	NamedCallGroup   string `json:"named_callgroup"`
	NamedPickupGroup string `json:"named_pickupgroup"`
}

// Extension is one row of Asterisk's realtime extensions table, scoped by
// tenant. Context is the tenant's own name for it; the node namespaces it.
type Extension struct {
	ID       int64  `json:"id"`
	Tenant   string `json:"tenant"`
	Context  string `json:"context"`
	Exten    string `json:"exten"`
	Priority int    `json:"priority"`
	// Label is the priority's optional label (extensions.conf's
	// "n(label)"); the realtime table of Asterisk has none.
	Label    string `json:"label,omitempty"`
	App      string `json:"app"`
	AppData  string `json:"appdata"`
	Revision int64  `json:"revision"`
}

// Token is an API bearer token. Only its SHA-256 is stored; the value is
// shown once, when it is created.
type Token struct {
	ID        string     `json:"id"`
	Name      string     `json:"name"`
	Tenant    string     `json:"tenant,omitempty"` // empty: admin
	Hash      string     `json:"-"`
	CreatedAt time.Time  `json:"created_at"`
	LastUsed  *time.Time `json:"last_used,omitempty"`
}

// AMIUser is a realtime manager.conf user. AMI's MD5 challenge login needs
// the secret itself, so it is stored sealed (never in clear, never returned).
type AMIUser struct {
	Name               string   `json:"name"`
	Tenant             string   `json:"tenant,omitempty"` // empty: sees every tenant
	Secret             string   `json:"-"`                // clear text, in memory only
	Read               string   `json:"read"`
	Write              string   `json:"write"`
	Permit             []string `json:"permit"`
	Deny               []string `json:"deny"`
	AllowMultipleLogin bool     `json:"allowmultiplelogin"`
	Revision           int64    `json:"revision"`
}

// Snapshot is everything a node needs, as of Revision.
type Snapshot struct {
	Revision   int64
	Tenants    []Tenant
	Users      []User
	Extensions []Extension
	AMIUsers   []AMIUser
	Grammars   []Grammar // speech grammars (grammars.go)
	// Call queues (queues.go).
	Queues       []Queue
	QueueMembers []QueueMember
	Mailboxes    []Mailbox
}

// Entity names what a Change is about.
type Entity string

// Entities of the change feed.
const (
	EntityTenant    Entity = "tenant"
	EntityUser      Entity = "user"
	EntityExtension Entity = "extension"
	EntityAMIUser   Entity = "ami_user"
)

// Change is one entry of the change feed: a write of one object at
// Revision. Deleted changes carry only the key fields.
type Change struct {
	Revision  int64
	Entity    Entity
	Deleted   bool
	Tenant    *Tenant
	User      *User
	Extension *Extension
	AMIUser   *AMIUser
	Grammar   *Grammar
	// Call queues (queues.go).
	Queue       *Queue
	QueueMember *QueueMember
	Mailbox     *Mailbox
}

// Source is where a node's realtime configuration comes from: the store
// in-process (entvoice serve) or the node link (entvoice node). Nodes take
// a Snapshot once and then apply Changes after the revision they hold.
type Source interface {
	Snapshot(ctx context.Context) (*Snapshot, error)
	// Changes returns the changes after revision since, in order, at most
	// limit of them. When since is older than the retained feed, it
	// returns ErrResync and the node takes a new Snapshot.
	Changes(ctx context.Context, since int64, limit int) ([]Change, error)
	// Notify returns a channel that receives a value whenever the revision
	// moves (coalesced: one value may stand for many changes).
	Notify() <-chan struct{}
}
