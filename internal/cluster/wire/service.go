package wire

import (
	"context"
	"encoding/json"

	"google.golang.org/grpc"
)

// The service is gRPC with a JSON codec handed to each call and to the
// server explicitly (grpc.ForceCodec, grpc.ForceServerCodec) rather than
// registered globally: no protoc in the build, no package-level state, and
// the messages of wire.go are the schema. docs/cluster.md says why.

const (
	serviceName   = "entvoice.cluster.v1.Hub"
	methodEnrol   = "/" + serviceName + "/Enrol"
	methodLink    = "/" + serviceName + "/Link"
	methodForward = "/" + serviceName + "/Forward"
	methodEvents  = "/" + serviceName + "/Events"
	maxMsgSize    = 64 << 20 // a snapshot of a large hosted system
)

type codec struct{}

func (codec) Marshal(v any) ([]byte, error)      { return json.Marshal(v) }
func (codec) Unmarshal(data []byte, v any) error { return json.Unmarshal(data, v) }
func (codec) Name() string                       { return "json" }

// Server is what the hub serves.
type Server interface {
	// Enrol signs a joining node's certificate for a one-time token.
	Enrol(ctx context.Context, req *EnrolRequest) (*EnrolReply, error)
	// Link is one node's stream: Up messages in, Down messages out.
	Link(stream grpc.ServerStream) error
	// Forward runs another central instance's command on nodes linked here.
	Forward(ctx context.Context, req *ForwardRequest) (*ForwardReply, error)
	// Events streams EventBatch messages to another central instance.
	Events(req *EventsRequest, stream grpc.ServerStream) error
}

// ServerOptions are the gRPC server options of the service: its codec and
// message size limit.
func ServerOptions() []grpc.ServerOption {
	return []grpc.ServerOption{grpc.ForceServerCodec(codec{}), grpc.MaxRecvMsgSize(maxMsgSize), grpc.MaxSendMsgSize(maxMsgSize)}
}

// DialOption sets the message size limit of a connection to a hub (the
// calls below set the codec).
func DialOption() grpc.DialOption {
	return grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(maxMsgSize), grpc.MaxCallSendMsgSize(maxMsgSize))
}

// Register serves srv on s.
func Register(s *grpc.Server, srv Server) { s.RegisterService(&serviceDesc, srv) }

// Enrol calls a hub's Enrol.
func Enrol(ctx context.Context, conn *grpc.ClientConn, req *EnrolRequest) (*EnrolReply, error) {
	var rep EnrolReply
	if err := conn.Invoke(ctx, methodEnrol, req, &rep, grpc.ForceCodec(codec{})); err != nil {
		return nil, err
	}
	return &rep, nil
}

// Forward calls a hub's Forward.
func Forward(ctx context.Context, conn *grpc.ClientConn, req *ForwardRequest) (*ForwardReply, error) {
	var rep ForwardReply
	if err := conn.Invoke(ctx, methodForward, req, &rep, grpc.ForceCodec(codec{})); err != nil {
		return nil, err
	}
	return &rep, nil
}

// OpenLink opens a node's Link stream to a hub: the node sends Up
// messages and receives Down messages on it.
func OpenLink(ctx context.Context, conn *grpc.ClientConn) (grpc.ClientStream, error) {
	return conn.NewStream(ctx, &serviceDesc.Streams[0], methodLink, grpc.ForceCodec(codec{}))
}

// SubscribeEvents opens a subscription to another instance's node events:
// EventBatch messages follow on the stream.
func SubscribeEvents(ctx context.Context, conn *grpc.ClientConn, req *EventsRequest) (grpc.ClientStream, error) {
	stream, err := conn.NewStream(ctx, &serviceDesc.Streams[1], methodEvents, grpc.ForceCodec(codec{}))
	if err != nil {
		return nil, err
	}
	if err := stream.SendMsg(req); err != nil {
		return nil, err
	}
	if err := stream.CloseSend(); err != nil {
		return nil, err
	}
	return stream, nil
}

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
	HandlerType: (*Server)(nil),
	Methods: []grpc.MethodDesc{{
		MethodName: "Enrol",
		Handler: func(srv any, ctx context.Context, dec func(any) error, _ grpc.UnaryServerInterceptor) (any, error) {
			req := new(EnrolRequest)
			if err := dec(req); err != nil {
				return nil, err
			}
			return srv.(Server).Enrol(ctx, req)
		},
	}, {
		MethodName: "Forward",
		Handler: func(srv any, ctx context.Context, dec func(any) error, _ grpc.UnaryServerInterceptor) (any, error) {
			req := new(ForwardRequest)
			if err := dec(req); err != nil {
				return nil, err
			}
			return srv.(Server).Forward(ctx, req)
		},
	}},
	Streams: []grpc.StreamDesc{{
		StreamName: "Link", ServerStreams: true, ClientStreams: true,
		Handler: func(srv any, stream grpc.ServerStream) error { return srv.(Server).Link(stream) },
	}, {
		StreamName: "Events", ServerStreams: true,
		Handler: func(srv any, stream grpc.ServerStream) error {
			req := new(EventsRequest)
			if err := stream.RecvMsg(req); err != nil {
				return err
			}
			return srv.(Server).Events(req, stream)
		},
	}},
}
