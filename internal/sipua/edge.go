package sipua

import (
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync/atomic"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/entvoice/entvoice/internal/acl"
)

// The edge is what every request meets first (Kamailio's pike and
// secfilter, built in): the ban list shared with AMI and the API, token
// buckets per source and method, scanner fingerprints, and Asterisk's
// force_rport. On UDP it reads the raw datagram before sipgo parses it, so
// a flood costs a read and a map lookup per packet; on stream transports
// it sees each request right after sipgo parsed it, and its listeners
// refuse banned sources at accept.

// EdgeOptions configure the edge (Options.Edge).
type EdgeOptions struct {
	// ForceRport answers requests to their source port as if their top
	// Via carried rport (RFC 3581 section 4), unless the endpoint says
	// otherwise (Endpoint.ForceRport); Asterisk's default is on.
	ForceRport bool
	// ScannerUserAgents are lower-case User-Agent substrings of scanners:
	// their requests are dropped unanswered; BanScanners bans the source.
	ScannerUserAgents []string
	BanScanners       bool
	// MaxConnsPerIP and IdleTimeout bound stream connections (defaults
	// 64 and 10 minutes).
	MaxConnsPerIP int
	IdleTimeout   time.Duration
}

type edge struct {
	opts  EdgeOptions
	guard *acl.Guard
	dir   *atomic.Pointer[Directory]
	log   *slog.Logger

	banned, flood, scanner, refused *atomic.Uint64
}

func newEdge(o EdgeOptions, guard *acl.Guard, dir *atomic.Pointer[Directory], log *slog.Logger) *edge {
	for i, s := range o.ScannerUserAgents {
		o.ScannerUserAgents[i] = strings.ToLower(s)
	}
	b := guard.Bans()
	return &edge{opts: o, guard: guard, dir: dir, log: log,
		banned: b.Counter("sip.dropped_banned"), flood: b.Counter("sip.dropped_rate"),
		scanner: b.Counter("sip.dropped_scanner"), refused: b.Counter("sip.refused_connections")}
}

// methodName gives a request's method as a constant string (no
// allocation per datagram); others are "OTHER" and fall in the "*" bucket.
func methodName(b []byte) string {
	switch string(b) {
	case "INVITE":
		return "INVITE"
	case "ACK":
		return "ACK"
	case "BYE":
		return "BYE"
	case "CANCEL":
		return "CANCEL"
	case "REGISTER":
		return "REGISTER"
	case "OPTIONS":
		return "OPTIONS"
	case "INFO":
		return "INFO"
	case "UPDATE":
		return "UPDATE"
	case "SUBSCRIBE":
		return "SUBSCRIBE"
	case "NOTIFY":
		return "NOTIFY"
	case "MESSAGE":
		return "MESSAGE"
	case "PRACK":
		return "PRACK"
	case "REFER":
		return "REFER"
	case "PUBLISH":
		return "PUBLISH"
	}
	return "OTHER"
}

// admitSource applies the ban list and the rate buckets to a request from
// ip; trunks (identified by address, like trusted carriers) are bound by
// the overall rate only, not the per-method ones.
func (e *edge) admitSource(ip netip.Addr, method string) bool {
	if e.guard.Banned(ip) {
		e.banned.Add(1)
		return false
	}
	if _, trunk := e.dir.Load().TrunkFor(ip); trunk {
		method = ""
	}
	if !e.guard.AllowMethod(ip, method) {
		e.flood.Add(1)
		if e.guard.Banned(ip) {
			e.log.Warn("source banned for flooding", "source", ip, "method", method)
		}
		return false
	}
	return true
}

// isScanner reports a scanner's User-Agent and bans its source.
func (e *edge) isScanner(ua []byte, ip netip.Addr) bool {
	if len(ua) == 0 {
		return false
	}
	for _, s := range e.opts.ScannerUserAgents {
		if containsFold(ua, s) {
			e.scanner.Add(1)
			if e.opts.BanScanners && e.guard.Ban(ip, "scanner") {
				e.log.Warn("SIP scanner dropped and banned", "source", ip, "user_agent", string(ua))
			} else {
				e.log.Debug("SIP scanner dropped", "source", ip, "user_agent", string(ua))
			}
			return true
		}
	}
	return false
}

// datagram inspects one UDP datagram p[:n] from src before sipgo parses
// it. It reports whether to pass it on, and its length, which grows when
// force_rport adds ";rport" to the top Via (p must have the room).
func (e *edge) datagram(p []byte, n int, src netip.AddrPort) (int, bool) {
	ip := src.Addr().Unmap()
	msg := p[:n]
	if n <= 4 && len(strings.Trim(string(msg), "\r\n")) == 0 {
		return n, true // RFC 5626 keep-alive
	}
	h := scanHead(msg)
	if !h.request {
		// Responses to our own requests: only a ban stops them.
		if e.guard.Banned(ip) {
			e.banned.Add(1)
			return n, false
		}
		return n, true
	}
	if !e.admitSource(ip, methodName(h.method)) || e.isScanner(h.userAgent, ip) {
		return n, false
	}
	if h.viaEnd > 0 && e.forceRport(ip, h.from) {
		if at := rportInsert(msg, h.viaStart, h.viaEnd); at >= 0 && n+len(rportParam) <= len(p) {
			copy(p[at+len(rportParam):n+len(rportParam)], p[at:n])
			copy(p[at:], rportParam)
			n += len(rportParam)
		}
	}
	return n, true
}

const rportParam = ";rport"

// forceRport decides force_rport for a request from ip whose From value
// is from: the endpoint's own setting when the directory has endpoints
// that override the default (a trunk by its address, a user by the From
// user, as identification goes), else the default.
func (e *edge) forceRport(ip netip.Addr, from []byte) bool {
	d := e.dir.Load()
	if !d.natOverrides {
		return e.opts.ForceRport
	}
	if t, ok := d.TrunkFor(ip); ok && t.ForceRport != nil {
		return *t.ForceRport
	}
	if user, host := uriUserHost(from); user != nil {
		tid, _ := d.TenantForHost(string(host))
		if u, ok := d.UserIn(tid, string(user)); ok && u.ForceRport != nil {
			return *u.ForceRport
		}
	}
	return e.opts.ForceRport
}

// admit applies the edge to a request sipgo parsed from a stream
// transport (TCP, TLS, WebSocket); UDP requests met it before parsing.
func (e *edge) admit(req *sip.Request) bool {
	if transportOf(req) == "udp" {
		return true
	}
	ip := source(req).Addr()
	if !e.admitSource(ip, methodName([]byte(req.Method))) {
		return false
	}
	if ua := req.GetHeader("User-Agent"); ua != nil && e.isScanner([]byte(ua.Value()), ip) {
		return false
	}
	return true
}

// edgeConn is a UDP listener seen through the edge; it also discards
// datagrams once the server is closing, so that sipgo starts no
// transaction while its layers close.
type edgeConn struct {
	net.PacketConn
	edge    *edge
	closing *atomic.Bool
}

func (c *edgeConn) ReadFrom(p []byte) (int, net.Addr, error) {
	for {
		n, addr, err := c.PacketConn.ReadFrom(p)
		if err != nil {
			return n, addr, err
		}
		if c.closing.Load() {
			continue
		}
		ua, ok := addr.(*net.UDPAddr)
		if !ok {
			continue
		}
		if n, ok = c.edge.datagram(p, n, ua.AddrPort()); ok {
			return n, addr, nil
		}
	}
}
