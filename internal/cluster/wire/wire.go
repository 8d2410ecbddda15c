// Package wire is what central's hub and its nodes say to each other: the
// messages of the gRPC service entvoice.cluster.v1.Hub, their JSON codec
// and the hand-written service descriptor (service.go), the provisioning
// data as it travels (config.go) and the compact form of bus events
// (event.go). Both sides import it; it imports neither. The messages are
// the schema: a field is added with omitempty and is never renamed, so
// nodes and centrals of neighbouring versions understand each other.
// docs/cluster.md describes the protocol.
package wire

import (
	"time"

	"github.com/entvoice/entvoice/internal/cdr"
	"github.com/entvoice/entvoice/internal/control"
	"github.com/entvoice/entvoice/internal/events"
)

// Protocol is the version a node announces in its Hello.
const Protocol = 1

// EnrolRequest is a joining node's one call before it has a certificate.
type EnrolRequest struct {
	TokenID string `json:"token_id"`
	Secret  string `json:"secret"`
	CSR     []byte `json:"csr"` // DER PKCS #10
}

// EnrolReply carries the node's certificate and the CA's.
type EnrolReply struct {
	Name string `json:"name"`
	Cert []byte `json:"cert"` // DER
	CA   []byte `json:"ca"`   // DER
}

// Up is a message from a node to central on the link stream.
type Up struct {
	Hello     *Hello       `json:"hello,omitempty"`
	Heartbeat *Heartbeat   `json:"heartbeat,omitempty"`
	CDRs      []ShippedCDR `json:"cdrs,omitempty"`
	// Resync asks for a fresh snapshot (the node compacts its replica).
	Resync bool `json:"resync,omitempty"`
	// Reply answers a Command.
	Reply *Reply `json:"reply,omitempty"`
	// Events are the node's bus events, live (not replayed after an
	// outage, as AMI does not replay), without their zero fields.
	Events []Event `json:"events,omitempty"`
	// Renew asks for a new certificate; RenewAck says the node has stored
	// the one with this serial (hex).
	Renew    *RenewRequest `json:"renew,omitempty"`
	RenewAck string        `json:"renew_ack,omitempty"`
	// Locate asks where a user is registered (a call from this node to a
	// user registered on another).
	Locate *LocateRequest `json:"locate,omitempty"`
	// Charge asks central's billing to authorize or settle a call leg,
	// or for the list of billed accounts.
	Charge *ChargeRequest `json:"charge,omitempty"`
}

// Operations of a ChargeRequest.
const (
	ChargeAuthorize = "authorize"
	ChargeSettle    = "settle"
	ChargeAccounts  = "accounts"
)

// ChargeRequest is a node's question to central's billing: authorize a
// leg that leaves through a trunk, settle one, or list the accounts.
type ChargeRequest struct {
	ID uint64 `json:"id"`
	Op string `json:"op"`
	// Authorize.
	Tenant      string `json:"tenant,omitempty"`
	User        string `json:"user,omitempty"`
	AccountCode string `json:"accountcode,omitempty"`
	Trunk       string `json:"trunk,omitempty"`
	Number      string `json:"number,omitempty"`
	UniqueID    string `json:"uniqueid,omitempty"`
	// Settle.
	Grant   uint64 `json:"grant,omitempty"`
	Billsec int64  `json:"billsec,omitempty"`
}

// ChargeReply answers a ChargeRequest: a grant and its limit, a cost, the
// accounts, or why not.
type ChargeReply struct {
	ID      uint64 `json:"id"`
	Grant   uint64 `json:"grant,omitempty"`
	LimitMS int64  `json:"limit_ms,omitempty"`
	// Account is the account that pays a granted leg.
	Account *control.BilledAccount `json:"account,omitempty"`
	// NotCharged: billing does not apply to the caller.
	NotCharged bool `json:"not_charged,omitempty"`
	// Denied is billing's cause for a refusal, with Detail.
	Denied   string                  `json:"denied,omitempty"`
	Detail   string                  `json:"detail,omitempty"`
	Cost     string                  `json:"cost,omitempty"`
	Currency string                  `json:"currency,omitempty"`
	Accounts []control.BilledAccount `json:"accounts,omitempty"`
	Err      string                  `json:"err,omitempty"`
}

// LocateRequest asks central which other node has a user registered.
type LocateRequest struct {
	ID     uint64 `json:"id"`
	Tenant string `json:"tenant"`
	User   string `json:"user"`
}

// LocateReply answers a LocateRequest: the node and its peer SIP address,
// or Err.
type LocateReply struct {
	ID   uint64 `json:"id"`
	Node string `json:"node,omitempty"`
	SIP  string `json:"sip,omitempty"`
	Err  string `json:"err,omitempty"`
}

// Hello opens a link: the revision the node holds (0: none).
type Hello struct {
	Protocol int    `json:"protocol"`
	Version  string `json:"version"`
	Revision int64  `json:"revision"`
	// CDRHead is the node's highest local CDR sequence (for the log).
	CDRHead int64 `json:"cdr_head"`
}

// Heartbeat keeps a link alive; Time lets each side report clock skew.
type Heartbeat struct {
	Revision int64     `json:"revision"`
	Time     time.Time `json:"time"`
	// Peers (central to node) are the enrolled, unrevoked nodes and
	// their certificate serials (the current one first, then one being
	// renewed to), for the node's check of the nodes that call it. Central
	// sends them in a heartbeat of its own as soon as they change (an
	// enrolment, a revocation, a renewal); nil leaves the node's list as
	// it is.
	Peers map[string][]string `json:"peers,omitempty"`
}

// CDRWindow is how many CDR batches a node sends ahead of central's acks.
// Central handles a stream's messages in order, so acks come back in order
// and each covers its batch and those before it.
const CDRWindow = 4

// ShippedCDR is one node CDR with its node-local sequence (the node
// store's cdr id, increasing in commit order).
type ShippedCDR struct {
	Seq    int64      `json:"seq"`
	Record cdr.Record `json:"record"`
}

// Down is a message from central to a node.
type Down struct {
	Welcome   *Welcome     `json:"welcome,omitempty"`
	Snapshot  *Snapshot    `json:"snapshot,omitempty"`
	Changes   []Change     `json:"changes,omitempty"`
	CDRAck    int64        `json:"cdr_ack,omitempty"`
	Heartbeat *Heartbeat   `json:"heartbeat,omitempty"`
	Command   *Command     `json:"command,omitempty"`
	Located   *LocateReply `json:"located,omitempty"`
	Charged   *ChargeReply `json:"charged,omitempty"`
	// Events switches the node's events going up on or off.
	Events  *bool    `json:"events,omitempty"`
	Renewal *Renewal `json:"renewal,omitempty"`
}

// Welcome answers Hello: where the node's CDR shipping resumes.
type Welcome struct {
	Node     string    `json:"node"`
	CDRAcked int64     `json:"cdr_acked"`
	Time     time.Time `json:"time"`
	// Peers as in Heartbeat.
	Peers map[string][]string `json:"peers,omitempty"`
	// EventsOff: nobody at central wants the node's events now (no AMI
	// session, no other instance subscribed); the node keeps them until a
	// Down.Events says otherwise.
	EventsOff bool `json:"events_off,omitempty"`
}

// Command operations.
const (
	OpChannels  = "channels"
	OpOriginate = "originate"
	OpHangup    = "hangup"
	OpRedirect  = "redirect"
	OpGetVar    = "getvar"
	OpSetVar    = "setvar"
	OpLocate    = "locate"
	OpReload    = "reload"
)

// Command is one control request for a node: central's control.Controller
// over the links sends it, the node's own controller runs it.
type Command struct {
	ID        uint64                    `json:"id"`
	Op        string                    `json:"op"`
	Tenant    string                    `json:"tenant,omitempty"`
	Channel   string                    `json:"channel,omitempty"`
	Extra     string                    `json:"extra,omitempty"`
	Context   string                    `json:"context,omitempty"`
	Exten     string                    `json:"exten,omitempty"`
	Priority  string                    `json:"priority,omitempty"`
	Name      string                    `json:"name,omitempty"`
	Value     string                    `json:"value,omitempty"`
	Cause     int                       `json:"cause,omitempty"`
	Originate *control.OriginateRequest `json:"originate,omitempty"`
}

// Reply answers a Command.
type Reply struct {
	ID        uint64                   `json:"id"`
	Channels  []control.ChannelInfo    `json:"channels,omitempty"`
	Originate *control.OriginateResult `json:"originate,omitempty"`
	Location  *control.Location        `json:"location,omitempty"`
	Value     string                   `json:"value,omitempty"`
	Err       string                   `json:"err,omitempty"`
	// NoChannel marks an Err that is control.ErrNoChannel.
	NoChannel bool `json:"no_channel,omitempty"`
	// NotRegistered marks an Err that is control.ErrNotRegistered.
	NotRegistered bool `json:"not_registered,omitempty"`
}

// ForwardRequest is a command another central instance forwards to the
// nodes linked here: Node, or every linked node when empty.
type ForwardRequest struct {
	Node    string  `json:"node,omitempty"`
	Command Command `json:"command"`
}

// ForwardReply carries each node's reply.
type ForwardReply struct {
	Replies []NodeReply `json:"replies"`
}

// NodeReply is one node's answer to a forwarded command.
type NodeReply struct {
	Node  string `json:"node"`
	Reply *Reply `json:"reply,omitempty"`
	// Err is a failure to reach the node (not linked, link lost).
	Err       string `json:"err,omitempty"`
	NotLinked bool   `json:"not_linked,omitempty"`
}

// RenewRequest is a linked node's CSR for a fresh key.
type RenewRequest struct {
	CSR []byte `json:"csr"` // DER PKCS #10
}

// Renewal answers a RenewRequest: the signed certificate, or why not.
type Renewal struct {
	Cert []byte `json:"cert,omitempty"` // DER
	Err  string `json:"err,omitempty"`
}

// EventsRequest opens another central instance's subscription to the
// events of the nodes linked here.
type EventsRequest struct {
	// Heartbeat is the subscriber's (nanoseconds): the hub sends an empty
	// batch at least this often, as the subscriber drops a stream silent
	// for three.
	Heartbeat time.Duration `json:"heartbeat,omitempty"`
}

// EventBatch is a batch of those events.
type EventBatch struct {
	Events []events.Event `json:"events"`
}
