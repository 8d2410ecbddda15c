package ami

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/entvoice/entvoice/internal/events"
)

// testServer starts a server on a free loopback port with the given users
// (name -> user) and stops it at cleanup.
func testServer(t *testing.T, o Options) *Server {
	t.Helper()
	if o.Bus == nil {
		o.Bus = events.New()
	}
	if o.Listen == "" {
		o.Listen = "127.0.0.1:0"
	}
	if o.Users == nil {
		users, err := NewStaticUsers(defaultUsers)
		if err != nil {
			t.Fatal(err)
		}
		o.Users = users
	}
	s, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

var defaultUsers = []UserSpec{
	{Name: "admin", Secret: "secret", Read: "all", Write: "all", MultiLogin: true},
	{Name: "acme", Secret: "acmepw", Read: "all", Write: "all", Tenant: "acme", MultiLogin: true},
	{Name: "callonly", Secret: "pw", Read: "call", Write: "call", MultiLogin: true},
	{Name: "single", Secret: "pw", Read: "all", Write: "all"},
	{Name: "remote", Secret: "pw", Read: "all", Write: "all", Permit: []string{"10.0.0.0/8"}, MultiLogin: true},
}

type client struct {
	t *testing.T
	c net.Conn
	r *bufio.Reader
}

func dialAMI(t *testing.T, s *Server) *client {
	t.Helper()
	c, err := net.Dial("tcp", s.Addrs()[0].String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &client{t: t, c: c, r: bufio.NewReader(c)}
}

func (c *client) banner() string {
	c.t.Helper()
	_ = c.c.SetReadDeadline(time.Now().Add(10 * time.Second))
	l, err := c.r.ReadString('\n')
	if err != nil {
		c.t.Fatalf("banner: %v", err)
	}
	return l
}

// send writes an action from "Key: Value" lines.
func (c *client) send(lines ...string) {
	c.t.Helper()
	c.raw(strings.Join(lines, "\r\n") + "\r\n\r\n")
}

func (c *client) raw(s string) {
	c.t.Helper()
	if _, err := io.WriteString(c.c, s); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

// readMsg returns the next message with its CRLFs and final blank line.
func (c *client) readMsg() (string, error) {
	_ = c.c.SetReadDeadline(time.Now().Add(10 * time.Second))
	return c.readRaw()
}

// readRaw is readMsg under the deadline the caller set.
func (c *client) readRaw() (string, error) {
	var b strings.Builder
	for {
		l, err := c.r.ReadString('\n')
		b.WriteString(l)
		if err != nil {
			return b.String(), err
		}
		if l == "\r\n" {
			return b.String(), nil
		}
	}
}

func (c *client) read() string {
	c.t.Helper()
	m, err := c.readMsg()
	if err != nil {
		c.t.Fatalf("read: %v (got %q)", err, m)
	}
	return m
}

// until reads messages until one starts with prefix, returning it.
func (c *client) until(prefix string) string {
	c.t.Helper()
	for {
		m := c.read()
		if strings.HasPrefix(m, prefix) {
			return m
		}
	}
}

// closed reports whether the server closed the connection (EOF) within 10 s.
func (c *client) closed() bool {
	for {
		_, err := c.readMsg()
		if err != nil {
			var ne net.Error
			return !(errors.As(err, &ne) && ne.Timeout())
		}
	}
}

func (c *client) login(user, secret string) string {
	c.t.Helper()
	c.banner()
	c.send("Action: Login", "Username: "+user, "Secret: "+secret)
	return c.until("Response:")
}

func header(msg, key string) string {
	for _, l := range strings.Split(msg, "\r\n") {
		if v, ok := headerValue(l, key); ok {
			return v
		}
	}
	return ""
}
