package sipua

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/emiago/sipgo/sip"
)

// Stream listeners (TCP, TLS, WS, WSS) seen through the edge: a banned
// address is refused at accept, one address holds at most MaxConnsPerIP
// connections, a connection silent for IdleTimeout is closed, and on TCP
// and TLS a message's headers must arrive within headerTimeout of its
// first byte (slowloris: a peer trickling bytes holds nothing for long).
// Oversized messages are sipgo's to refuse (sip.ParseMaxMessageLength).

// headerTimeout bounds the time from a message's first byte (or a new
// connection, its TLS handshake included) to the blank line ending its
// headers.
const headerTimeout = 20 * time.Second

type streamListener struct {
	net.Listener
	edge *edge
	// framed: the connection carries SIP messages as they are (TCP,
	// TLS), not inside WebSocket frames, so their headers can be timed.
	framed bool
	// tls, when set, makes the listener serve TLS over the guarded
	// connection (the handshake then falls under headerTimeout) and
	// remembers each client's verified certificate names.
	tls   *tls.Config
	certs *sync.Map // remote "ip:port" -> []string verified names
	// header bounds a message's (and a new connection's) time to its
	// headers' end (default headerTimeout).
	header time.Duration

	mu  sync.Mutex
	per map[netip.Addr]int
}

func (s *Server) streamListener(ln net.Listener, framed bool, tlsCfg *tls.Config) net.Listener {
	return &streamListener{Listener: ln, edge: s.edge, framed: framed, tls: tlsCfg, certs: &s.tlsNames, per: map[netip.Addr]int{}, header: headerTimeout}
}

func (l *streamListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		ap := addrPortOf(c.RemoteAddr())
		ip := ap.Addr().Unmap()
		if l.edge.guard.Banned(ip) {
			l.edge.banned.Add(1)
			_ = c.Close()
			continue
		}
		max := l.edge.opts.MaxConnsPerIP
		if max <= 0 {
			max = 64
		}
		l.mu.Lock()
		if l.per[ip] >= max {
			l.mu.Unlock()
			l.edge.refused.Add(1)
			l.edge.log.Warn("SIP connection refused: too many from one address", "remote", ip, "max_conns_per_ip", max)
			_ = c.Close()
			continue
		}
		l.per[ip]++
		l.mu.Unlock()
		idle := l.edge.opts.IdleTimeout
		if idle <= 0 {
			idle = 10 * time.Minute
		}
		g := &guardedConn{Conn: c, idle: idle, header: l.header, framed: l.framed, pendingSince: time.Now()}
		remote := c.RemoteAddr().String()
		g.release = func() {
			l.mu.Lock()
			if l.per[ip]--; l.per[ip] <= 0 {
				delete(l.per, ip)
			}
			l.mu.Unlock()
			l.certs.Delete(remote)
		}
		if l.tls == nil {
			return g, nil
		}
		cfg := l.tls.Clone()
		verify := cfg.VerifyConnection
		cfg.VerifyConnection = func(cs tls.ConnectionState) error {
			if verify != nil {
				if err := verify(cs); err != nil {
					return err
				}
			}
			if len(cs.VerifiedChains) > 0 {
				leaf := cs.PeerCertificates[0]
				l.certs.Store(remote, append([]string{leaf.Subject.CommonName}, leaf.DNSNames...))
			}
			return nil
		}
		// g reads the TLS connection's plaintext, so its deadlines bound
		// the handshake (a new connection is pending until its first
		// message's headers end) and it sees the messages' framing.
		g.Conn = tls.Server(c, cfg)
		return g, nil
	}
}

// addrPortOf is a net.Addr as an address and port.
func addrPortOf(a net.Addr) netip.AddrPort {
	switch v := a.(type) {
	case *net.TCPAddr:
		return v.AddrPort()
	case *net.UDPAddr:
		return v.AddrPort()
	}
	ap, _ := netip.ParseAddrPort(a.String())
	return ap
}

// guardedConn enforces the idle and message timeouts on reads.
type guardedConn struct {
	net.Conn
	idle    time.Duration
	header  time.Duration
	framed  bool
	release func()
	once    sync.Once

	mu           sync.Mutex
	pendingSince time.Time // a message (or the connection) began and has not ended
	f            framer
}

func (c *guardedConn) Read(p []byte) (int, error) {
	c.mu.Lock()
	deadline := time.Now().Add(c.idle)
	if c.framed && !c.pendingSince.IsZero() {
		if d := c.pendingSince.Add(c.header); d.Before(deadline) {
			deadline = d
		}
	}
	c.mu.Unlock()
	_ = c.Conn.SetReadDeadline(deadline)
	n, err := c.Conn.Read(p)
	if n > 0 && c.framed {
		c.mu.Lock()
		busy, ok := c.f.feed(p[:n])
		switch {
		case !busy:
			c.pendingSince = time.Time{}
		case c.pendingSince.IsZero():
			c.pendingSince = time.Now()
		}
		c.mu.Unlock()
		if !ok {
			// Headers past sipgo's limit: it would refuse the message
			// anyway; the connection cannot be resynchronised.
			_ = c.Close()
			return 0, io.EOF
		}
	}
	if err != nil && errors.Is(err, os.ErrDeadlineExceeded) {
		// A timeout ends the connection quietly (sipgo logs other
		// read errors as errors).
		_ = c.Close()
		return n, io.EOF
	}
	return n, err
}

func (c *guardedConn) Close() error {
	c.once.Do(func() {
		if c.release != nil {
			c.release()
		}
	})
	return c.Conn.Close()
}

// framer follows SIP messages on a stream (RFC 3261 section 18.3: headers
// up to a blank line, then Content-Length bytes of body) to know whether
// one is in progress; CRLF keep-alives between messages (RFC 5626 section
// 3.5.1) are not messages.
type framer struct {
	head     []byte // the headers so far
	bodyLeft int
	inHead   bool
}

// maxHead bounds a message's headers (sipgo's own message limit).
const maxHead = 65535

// feed takes the bytes read and reports whether a message is in progress
// after them, and false for ok when headers grew past maxHead.
func (f *framer) feed(b []byte) (busy, ok bool) {
	for len(b) > 0 {
		switch {
		case f.bodyLeft > 0:
			k := min(f.bodyLeft, len(b))
			f.bodyLeft -= k
			b = b[k:]
		case !f.inHead:
			i := 0
			for i < len(b) && (b[i] == '\r' || b[i] == '\n') {
				i++
			}
			b = b[i:]
			if len(b) > 0 {
				f.inHead, f.head = true, f.head[:0]
			}
		default:
			start := max(0, len(f.head)-3)
			f.head = append(f.head, b...)
			end := bytes.Index(f.head[start:], []byte("\r\n\r\n"))
			if end < 0 {
				if len(f.head) > maxHead {
					return true, false
				}
				return true, true
			}
			end += start + 4
			rest := f.head[end:]
			f.bodyLeft = contentLength(f.head[:end])
			f.inHead = false
			b = append([]byte(nil), rest...)
			f.head = f.head[:0]
		}
	}
	return f.inHead || f.bodyLeft > 0, true
}

// contentLength is the Content-Length (or l) of a message's headers, 0
// when absent or unreadable.
func contentLength(head []byte) int {
	for len(head) > 0 {
		line, rest, _ := cutLine(head)
		head = rest
		colon := bytes.IndexByte(line, ':')
		if colon <= 0 {
			continue
		}
		name := bytes.TrimRight(line[:colon], " \t")
		if !equalFold(name, "content-length") && !equalFold(name, "l") {
			continue
		}
		n := 0
		for _, c := range bytes.TrimSpace(line[colon+1:]) {
			if c < '0' || c > '9' || n > maxHead*16 {
				return 0
			}
			n = n*10 + int(c-'0')
		}
		return n
	}
	return 0
}

// serveStream listens on a TCP, TLS, WebSocket (RFC 7118) or secure
// WebSocket listener, each behind the edge.
func (s *Server) serveStream(ctx context.Context, l Listener) error {
	secure := l.Transport == "tls" || l.Transport == "wss"
	if secure && s.opts.TLS == nil {
		return fmt.Errorf("sipua: %s listener %s needs a TLS configuration", l.Transport, l.Addr)
	}
	raw, err := net.Listen("tcp", l.Addr.String())
	if err != nil {
		return fmt.Errorf("sipua: listen %s %s: %w", l.Transport, l.Addr, err)
	}
	var cfg *tls.Config
	if secure {
		cfg = s.opts.TLS
	}
	ln := s.streamListener(raw, l.Transport == "tcp" || l.Transport == "tls", cfg)
	serve := map[string]func(net.Listener) error{
		"tcp": s.srv.ServeTCP, "tls": s.srv.ServeTLS, "ws": s.srv.ServeWS, "wss": s.srv.ServeWSS,
	}[l.Transport]
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		// Serve always returns an error, the listener's close among them.
		if err := serve(ln); ctx.Err() == nil {
			s.log.Error("sip server stopped", "transport", l.Transport, "addr", l.Addr, "err", err)
		}
	}()
	context.AfterFunc(ctx, func() { _ = raw.Close() })
	return nil
}

// trunkCertOK checks a trunk's tls_verify: the request came over a TLS
// connection whose client certificate verified (against sip.tls_ca), with
// the trunk's tls_name among its names when one is set.
func (s *Server) trunkCertOK(t *Endpoint, req *sip.Request) bool {
	if !t.TLSVerify {
		return true
	}
	v, ok := s.tlsNames.Load(req.Source())
	if !ok {
		return false
	}
	if t.TLSName == "" {
		return true
	}
	for _, n := range v.([]string) {
		if strings.EqualFold(n, t.TLSName) {
			return true
		}
	}
	return false
}
