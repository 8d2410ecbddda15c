package e2e

import (
	"bufio"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

// lastSecond is the last second (8000 samples) of pcm, or all of it.
func lastSecond(pcm []int16) []int16 {
	if len(pcm) > 8000 {
		return pcm[len(pcm)-8000:]
	}
	return pcm
}

// amiClient is a bare AMI client over TCP: it sends actions and reads
// messages ("Key: Value" lines up to a blank line) as an operator's tool
// would.
type amiClient struct {
	t *testing.T
	c net.Conn
	r *bufio.Reader
}

// dialAMIAt connects and logs in as user/secret.
func dialAMIAt(t *testing.T, addr, user, secret string) *amiClient {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	a := &amiClient{t: t, c: c, r: bufio.NewReader(c)}
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if l, err := a.r.ReadString('\n'); err != nil || !strings.HasPrefix(l, "Asterisk Call Manager/") {
		t.Fatalf("AMI banner %q %v", l, err)
	}
	if m := a.action("Action: Login", "Username: "+user, "Secret: "+secret); m["Response"] != "Success" {
		t.Fatalf("AMI login: %v", m)
	}
	return a
}

// send writes an action.
func (a *amiClient) send(lines ...string) {
	a.t.Helper()
	if _, err := io.WriteString(a.c, strings.Join(lines, "\r\n")+"\r\n\r\n"); err != nil {
		a.t.Fatal(err)
	}
}

// read returns the next message.
func (a *amiClient) read() map[string]string {
	a.t.Helper()
	_ = a.c.SetReadDeadline(time.Now().Add(10 * time.Second))
	m := map[string]string{}
	for {
		l, err := a.r.ReadString('\n')
		if err != nil {
			a.t.Fatalf("AMI read: %v (so far %v)", err, m)
		}
		l = strings.TrimRight(l, "\r\n")
		if l == "" {
			if len(m) == 0 {
				continue
			}
			return m
		}
		k, v, _ := strings.Cut(l, ": ")
		if _, dup := m[k]; !dup {
			m[k] = v
		}
	}
}

// action sends an action and returns its response, skipping events.
func (a *amiClient) action(lines ...string) map[string]string {
	a.t.Helper()
	a.send(lines...)
	for {
		if m := a.read(); m["Response"] != "" {
			return m
		}
	}
}

// list sends an action that answers with an event list and returns its
// items (the events named item), up to the list's end.
func (a *amiClient) list(item string, lines ...string) (map[string]string, []map[string]string) {
	a.t.Helper()
	resp := a.action(lines...)
	if resp["Response"] != "Success" {
		return resp, nil
	}
	var items []map[string]string
	for {
		m := a.read()
		switch {
		case m["EventList"] == "Complete":
			return resp, items
		case m["Event"] == item:
			items = append(items, m)
		}
	}
}

// waitEvent reads until an event of kind for which match is true (nil:
// any) arrives.
func (a *amiClient) waitEvent(kind string, match func(map[string]string) bool) map[string]string {
	a.t.Helper()
	for {
		m := a.read()
		if m["Event"] == kind && (match == nil || match(m)) {
			return m
		}
	}
}
