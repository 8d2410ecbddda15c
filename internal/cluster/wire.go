package cluster

import (
	"context"
	"encoding/json"
	"time"

	"google.golang.org/grpc"

	"github.com/entvoice/entvoice/internal/cdr"
	"github.com/entvoice/entvoice/internal/events"
	"github.com/entvoice/entvoice/internal/provision"
)

// The link is gRPC with a JSON codec handed to each call and to the server
// explicitly (grpc.ForceCodec, grpc.ForceServerCodec) rather than
// registered globally: no protoc in the build, no package-level state, and
// the messages below are the schema. docs/cluster.md says why.

const (
	serviceName   = "entvoice.cluster.v1.Hub"
	methodEnrol   = "/" + serviceName + "/Enrol"
	methodLink    = "/" + serviceName + "/Link"
	methodForward = "/" + serviceName + "/Forward"
	methodEvents  = "/" + serviceName + "/Events"
	maxMsgSize    = 64 << 20 // a snapshot of a large hosted system
	protoVersion  = 1
)

type jsonCodec struct{}

func (jsonCodec) Marshal(v any) ([]byte, error)      { return json.Marshal(v) }
func (jsonCodec) Unmarshal(data []byte, v any) error { return json.Unmarshal(data, v) }
func (jsonCodec) Name() string                       { return "json" }

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
	Events []wireEvent `json:"events,omitempty"`
	// Renew asks for a new certificate (renew.go); RenewAck says the node
	// has stored the one with this serial (hex).
	Renew    *RenewRequest `json:"renew,omitempty"`
	RenewAck string        `json:"renew_ack,omitempty"`
	// Locate asks where a user is registered (a call from this node to a
	// user registered on another).
	Locate *LocateRequest `json:"locate,omitempty"`
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
	// renewed to), for the node's PeerTrust.
	Peers map[string][]string `json:"peers,omitempty"`
}

// ShippedCDR is one node CDR with its node-local sequence (the node
// store's cdr id, increasing in commit order).
type ShippedCDR struct {
	Seq    int64      `json:"seq"`
	Record cdr.Record `json:"record"`
}

// Down is a message from central to a node.
type Down struct {
	Welcome   *Welcome      `json:"welcome,omitempty"`
	Snapshot  *wireSnapshot `json:"snapshot,omitempty"`
	Changes   []wireChange  `json:"changes,omitempty"`
	CDRAck    int64         `json:"cdr_ack,omitempty"`
	Heartbeat *Heartbeat    `json:"heartbeat,omitempty"`
	Command   *Command      `json:"command,omitempty"`
	Located   *LocateReply  `json:"located,omitempty"`
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

// wireUser carries the digest HA1s that provision.User keeps out of JSON
// (they must reach the node's registrar; the password never exists).
type wireUser struct {
	provision.User
	MD5    string `json:"ha1_md5"`
	SHA256 string `json:"ha1_sha256"`
}

func toWireUser(u provision.User) wireUser {
	return wireUser{User: u, MD5: u.HA1MD5, SHA256: u.HA1SHA256}
}

func (w wireUser) user() provision.User {
	u := w.User
	u.HA1MD5, u.HA1SHA256 = w.MD5, w.SHA256
	return u
}

// wireSnapshot is a provision.Snapshot without AMI users: AMI is served
// by central, so their secrets never leave it.
type wireSnapshot struct {
	Revision   int64                 `json:"revision"`
	Tenants    []provision.Tenant    `json:"tenants"`
	Users      []wireUser            `json:"users"`
	Extensions []provision.Extension `json:"extensions"`
}

func toWireSnapshot(s *provision.Snapshot) *wireSnapshot {
	w := &wireSnapshot{Revision: s.Revision, Tenants: s.Tenants, Extensions: s.Extensions}
	w.Users = make([]wireUser, len(s.Users))
	for i, u := range s.Users {
		w.Users[i] = toWireUser(u)
	}
	return w
}

func (w *wireSnapshot) snapshot() *provision.Snapshot {
	s := &provision.Snapshot{Revision: w.Revision, Tenants: w.Tenants, Extensions: w.Extensions}
	s.Users = make([]provision.User, len(w.Users))
	for i, u := range w.Users {
		s.Users[i] = u.user()
	}
	return s
}

// wireChange is a provision.Change; an AMI user change travels with its
// key only, to move the node's revision.
type wireChange struct {
	Revision  int64                `json:"revision"`
	Entity    provision.Entity     `json:"entity"`
	Deleted   bool                 `json:"deleted,omitempty"`
	Tenant    *provision.Tenant    `json:"tenant,omitempty"`
	User      *wireUser            `json:"user,omitempty"`
	Extension *provision.Extension `json:"extension,omitempty"`
}

func toWireChange(c provision.Change) wireChange {
	w := wireChange{Revision: c.Revision, Entity: c.Entity, Deleted: c.Deleted, Tenant: c.Tenant, Extension: c.Extension}
	if c.User != nil {
		u := toWireUser(*c.User)
		w.User = &u
	}
	return w
}

func (w wireChange) change() provision.Change {
	c := provision.Change{Revision: w.Revision, Entity: w.Entity, Deleted: w.Deleted, Tenant: w.Tenant, Extension: w.Extension}
	if w.User != nil {
		u := w.User.user()
		c.User = &u
	}
	return c
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

// RenewRequest is a linked node's CSR for a fresh key (renew.go).
type RenewRequest struct {
	CSR []byte `json:"csr"` // DER PKCS #10
}

// Renewal answers a RenewRequest: the signed certificate, or why not.
type Renewal struct {
	Cert []byte `json:"cert,omitempty"` // DER
	Err  string `json:"err,omitempty"`
}

// EventsRequest opens another central instance's subscription to the
// events of the nodes linked here (peerevents.go).
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

// hubServer is what the service handlers call.
type hubServer interface {
	enrol(ctx context.Context, req *EnrolRequest) (*EnrolReply, error)
	link(stream grpc.ServerStream) error
	forward(ctx context.Context, req *ForwardRequest) (*ForwardReply, error)
	events(req *EventsRequest, stream grpc.ServerStream) error
}

var linkStreamDesc = grpc.StreamDesc{StreamName: "Link", ServerStreams: true, ClientStreams: true}

// serviceDesc is the hand-written equivalent of what protoc-gen-go-grpc
// would generate for:
//
//	service Hub {
//	  rpc Enrol(EnrolRequest) returns (EnrolReply);
//	  rpc Link(stream Up) returns (stream Down);
//	  rpc Forward(ForwardRequest) returns (ForwardReply); // instance to instance
//	  rpc Events(EventsRequest) returns (stream EventBatch); // instance to instance
//	}
var serviceDesc = grpc.ServiceDesc{
	ServiceName: serviceName,
	HandlerType: (*hubServer)(nil),
	Methods: []grpc.MethodDesc{{
		MethodName: "Enrol",
		Handler: func(srv any, ctx context.Context, dec func(any) error, _ grpc.UnaryServerInterceptor) (any, error) {
			req := new(EnrolRequest)
			if err := dec(req); err != nil {
				return nil, err
			}
			return srv.(hubServer).enrol(ctx, req)
		},
	}, {
		MethodName: "Forward",
		Handler: func(srv any, ctx context.Context, dec func(any) error, _ grpc.UnaryServerInterceptor) (any, error) {
			req := new(ForwardRequest)
			if err := dec(req); err != nil {
				return nil, err
			}
			return srv.(hubServer).forward(ctx, req)
		},
	}},
	Streams: []grpc.StreamDesc{{
		StreamName: "Link", ServerStreams: true, ClientStreams: true,
		Handler: func(srv any, stream grpc.ServerStream) error { return srv.(hubServer).link(stream) },
	}, {
		StreamName: "Events", ServerStreams: true,
		Handler: func(srv any, stream grpc.ServerStream) error {
			req := new(EventsRequest)
			if err := stream.RecvMsg(req); err != nil {
				return err
			}
			return srv.(hubServer).events(req, stream)
		},
	}},
}
