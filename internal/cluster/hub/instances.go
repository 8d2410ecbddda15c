package hub

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"fmt"
	"net"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/status"

	"github.com/entvoice/entvoice/internal/cluster/pki"
	"github.com/entvoice/entvoice/internal/cluster/wire"
)

// Central instances sharing one database find each other in the
// central_instances table and forward commands for nodes linked to the
// other over their hubs (method Forward), authenticated with instance
// certificates from the shared CA. Nothing else is needed between them:
// configuration flows through the database (PostgreSQL LISTEN/NOTIFY wakes
// each instance's feed) and CDRs land in the shared table.

// instances is a hub's view of the other instances.
type instances struct {
	h    *Hub
	id   string
	addr string // what the others dial
	cert tls.Certificate

	mu    sync.Mutex
	conns map[string]*instanceConn // by instance id
}

type instanceConn struct {
	addr string
	conn *grpc.ClientConn
}

func newInstances(h *Hub, advertise string) (*instances, error) {
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		return nil, fmt.Errorf("cluster: %w", err)
	}
	id := hex.EncodeToString(b)
	cert, err := h.o.CA.InstanceCert(id)
	if err != nil {
		return nil, err
	}
	return &instances{h: h, id: id, addr: advertise, cert: cert, conns: map[string]*instanceConn{}}, nil
}

// advertised is the address other instances dial: cluster.advertise, else
// the listen address when it names an IP.
func advertised(advertise string, ln net.Addr) string {
	if advertise != "" {
		return advertise
	}
	if ta, ok := ln.(*net.TCPAddr); ok && !ta.IP.IsUnspecified() {
		return ta.String()
	}
	return ""
}

// beat records this instance as alive.
func (in *instances) beat(ctx context.Context) error {
	st := in.h.o.Store
	now := st.TimeArg(time.Now())
	res, err := st.DB().ExecContext(ctx, st.Rebind(`UPDATE central_instances SET addr = ?, seen = ? WHERE id = ?`), in.addr, now, in.id)
	if err != nil {
		return fmt.Errorf("cluster: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		if _, err := st.DB().ExecContext(ctx, st.Rebind(`INSERT INTO central_instances (id, addr, seen) VALUES (?, ?, ?)`), in.id, in.addr, now); err != nil {
			return fmt.Errorf("cluster: %w", err)
		}
	}
	return nil
}

// leave removes this instance's row and closes connections to the others.
func (in *instances) leave() {
	st := in.h.o.Store
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_, _ = st.DB().ExecContext(ctx, st.Rebind(`DELETE FROM central_instances WHERE id = ?`), in.id)
	in.mu.Lock()
	defer in.mu.Unlock()
	for id, c := range in.conns {
		_ = c.conn.Close()
		delete(in.conns, id)
	}
}

// peers are the other instances seen within three heartbeats.
func (in *instances) peers(ctx context.Context) []instancePeer {
	live, err := in.live(ctx)
	if err != nil {
		in.h.log.Warn("listing central instances", "err", err)
		return nil
	}
	var out []instancePeer
	for id, addr := range live {
		c, err := in.conn(id, addr)
		if err != nil {
			in.h.log.Warn("central instance unreachable", "instance", id, "addr", addr, "err", err)
			continue
		}
		out = append(out, &instanceClient{conn: c})
	}
	return out
}

// live is the other instances seen within three heartbeats with an
// address: id to address.
func (in *instances) live(ctx context.Context) (map[string]string, error) {
	st := in.h.o.Store
	since := st.TimeArg(time.Now().Add(-3 * in.h.o.Heartbeat))
	rows, err := st.DB().QueryContext(ctx, st.Rebind(`SELECT id, addr FROM central_instances WHERE id <> ? AND seen >= ? AND addr <> ''`), in.id, since)
	if err != nil {
		return nil, fmt.Errorf("cluster: %w", err)
	}
	defer func() { _ = rows.Close() }()
	out := map[string]string{}
	for rows.Next() {
		var id, addr string
		if err := rows.Scan(&id, &addr); err != nil {
			return nil, fmt.Errorf("cluster: %w", err)
		}
		out[id] = addr
	}
	return out, rows.Err()
}

func (in *instances) conn(id, addr string) (*grpc.ClientConn, error) {
	in.mu.Lock()
	defer in.mu.Unlock()
	if c := in.conns[id]; c != nil && c.addr == addr {
		return c.conn, nil
	}
	conn, err := grpc.NewClient("passthrough:///"+addr,
		grpc.WithTransportCredentials(credentials.NewTLS(pki.HubClientTLS(nil, in.h.o.CA.Pool(), []tls.Certificate{in.cert}))),
		wire.DialOption())
	if err != nil {
		return nil, err
	}
	if old := in.conns[id]; old != nil {
		_ = old.conn.Close()
	}
	in.conns[id] = &instanceConn{addr: addr, conn: conn}
	return conn, nil
}

type instanceClient struct{ conn *grpc.ClientConn }

func (c *instanceClient) forward(ctx context.Context, node string, cmd wire.Command) ([]wire.NodeReply, error) {
	rep, err := wire.Forward(ctx, c.conn, &wire.ForwardRequest{Node: node, Command: cmd})
	if err != nil {
		return nil, err
	}
	return rep.Replies, nil
}

// forward serves another instance's command for the nodes linked here. The
// caller must present an instance certificate of the cluster CA.
func (h *Hub) forward(ctx context.Context, req *wire.ForwardRequest) (*wire.ForwardReply, error) {
	if _, ok := instanceCaller(ctx); !ok {
		_, remote := peerAddr(ctx)
		h.log.Warn("forwarded command refused: caller is not a central instance", "remote", remote)
		return nil, status.Error(codes.PermissionDenied, "only central instances forward commands")
	}
	if h.o.Remote == nil {
		return &wire.ForwardReply{}, nil
	}
	return &wire.ForwardReply{Replies: h.o.Remote.runLocal(ctx, req.Node, req.Command)}, nil
}

// instanceCaller is the id of the central instance calling (the CN of its
// instance certificate, central:<id>), or false for anyone else.
func instanceCaller(ctx context.Context) (string, bool) {
	if c := peerCert(ctx); c != nil {
		return pki.InstanceID(c.Subject.CommonName)
	}
	return "", false
}
