package api

import (
	"context"
	"errors"
	"io"
	"net"
	"net/url"
	"sync"
	"testing"

	"github.com/entvoice/entvoice/internal/store/storetest"
)

// tcpProxy forwards connections to a backend until cut, so a test can
// take the database away from under a running API.
type tcpProxy struct {
	ln      net.Listener
	backend string
	mu      sync.Mutex
	conns   []net.Conn
	wg      sync.WaitGroup
}

func newProxy(t *testing.T, backend string) *tcpProxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &tcpProxy{ln: ln, backend: backend}
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(p.cut)
	return p
}

func (p *tcpProxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		b, err := net.Dial("tcp", p.backend)
		if err != nil {
			_ = c.Close()
			continue
		}
		p.mu.Lock()
		p.conns = append(p.conns, c, b)
		p.mu.Unlock()
		p.wg.Add(2)
		go func() { defer p.wg.Done(); _, _ = io.Copy(b, c); _ = b.Close() }()
		go func() { defer p.wg.Done(); _, _ = io.Copy(c, b); _ = c.Close() }()
	}
}

// cut closes the listener and every connection: the database is gone.
func (p *tcpProxy) cut() {
	_ = p.ln.Close()
	p.mu.Lock()
	for _, c := range p.conns {
		_ = c.Close()
	}
	p.conns = nil
	p.mu.Unlock()
	p.wg.Wait()
}

// TestPostgresGoesAway cuts the network to PostgreSQL under a running
// API: requests get 503 problem+json instead of hanging or 500.
func TestPostgresGoesAway(t *testing.T) {
	opts := storetest.PostgresOptions(t)
	u, err := url.Parse(opts.DSN)
	if err != nil {
		t.Fatal(err)
	}
	proxy := newProxy(t, u.Host)
	u.Host = proxy.ln.Addr().String()
	opts.DSN = u.String()
	e := newEnv(t, opts)
	tok := e.tenantToken("acme", "acme.test")
	e.must(200, "GET", "/api/v1/tenants/acme", tok, nil)
	proxy.cut()
	for _, c := range []struct {
		method, path string
		body         any
	}{
		{"GET", "/api/v1/tenants/acme", nil},
		{"POST", "/api/v1/tenants/acme/users", map[string]any{"name": "1001", "password": "long-enough"}},
		{"GET", "/api/v1/cdrs/export", nil},
	} {
		r := e.must(503, c.method, c.path, tok, c.body)
		if p := r.problem(t); p.Type != typeUnavailable {
			t.Fatalf("%s %s: %+v", c.method, c.path, p)
		}
	}
	if !unavailable(context.DeadlineExceeded) && unavailable(errors.New("syntax error at or near")) {
		t.Fatal("unavailable() misclassifies")
	}
}
