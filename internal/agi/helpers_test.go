package agi

import (
	"bufio"
	"context"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/entvoice/entvoice/internal/apps"
	"github.com/entvoice/entvoice/internal/channel"
	"github.com/entvoice/entvoice/internal/dialplan"
	"github.com/entvoice/entvoice/internal/events"
	"github.com/entvoice/entvoice/internal/media"
	"github.com/entvoice/entvoice/internal/pbx"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func testLogger() *slog.Logger {
	if os.Getenv("AGI_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

// legDriver stands in for the SIP leg in the protocol tests (the e2e
// tests run AGI over real SIP calls): it records hangups and has no media,
// so the commands that need audio answer as on a channel without RTP.
type legDriver struct {
	mu       sync.Mutex
	hangups  int
	answered int
}

func (d *legDriver) Indicate(channel.Indication) error { return nil }
func (d *legDriver) Answer(context.Context) error {
	d.mu.Lock()
	d.answered++
	d.mu.Unlock()
	return nil
}
func (d *legDriver) Hangup(int) {
	d.mu.Lock()
	d.hangups++
	d.mu.Unlock()
}
func (d *legDriver) Media() *media.Session { return nil }

func (d *legDriver) hangupCount() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.hangups
}

// testPBX is a PBX with the applications and AGI registered.
type testPBX struct {
	*pbx.PBX
	reg *channel.Registry
	bus *events.Bus
	agi *AGI
}

func newTestPBX(t testing.TB, plan string, opts Options) *testPBX {
	t.Helper()
	d, err := dialplan.Parse("test.conf", strings.NewReader(plan))
	if err != nil {
		t.Fatal(err)
	}
	bus := events.New()
	reg := channel.NewRegistry("", bus, testLogger())
	p := pbx.New(pbx.Options{Channels: reg, Logger: testLogger()})
	recordings := t.TempDir()
	apps.Register(p, apps.Services{RecordingsDir: recordings})
	if opts.Logger == nil {
		opts.Logger = testLogger()
	}
	if opts.RecordingsDir == "" {
		opts.RecordingsDir = recordings
	}
	a := Register(p, opts)
	p.SetDialplan(d)
	return &testPBX{PBX: p, reg: reg, bus: bus, agi: a}
}

// call runs the dialplan for exten on a new channel and returns it once
// the dialplan is done.
func (p *testPBX) call(t testing.TB, exten string, tweak func(*channel.Options)) (*channel.Channel, *legDriver) {
	t.Helper()
	ch, d, done := p.start(exten, tweak)
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("dialplan did not finish")
	}
	return ch, d
}

func (p *testPBX) start(exten string, tweak func(*channel.Options)) (*channel.Channel, *legDriver, chan struct{}) {
	d := &legDriver{}
	o := channel.Options{Tech: "PJSIP", Endpoint: "alice", CallerNum: "1001", CallerName: "Alice",
		Context: "t", Exten: exten, Driver: d, State: channel.StateUp}
	if tweak != nil {
		tweak(&o)
	}
	d, _ = o.Driver.(*legDriver)
	ch := p.reg.New(o)
	done := make(chan struct{})
	go func() {
		defer close(done)
		p.HandleCall(ch)
	}()
	return ch, d, done
}

func agistatus(ch *channel.Channel) string {
	v, _ := ch.GetVar("AGISTATUS")
	return v
}

// fastAGI is a FastAGI server for one connection at a time: serve gets the
// connection after the environment block was read.
type fastAGI struct {
	ln   net.Listener
	wg   sync.WaitGroup
	addr string
}

func newFastAGI(t testing.TB, serve func(c *agiConn)) *fastAGI {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &fastAGI{ln: ln, addr: ln.Addr().String()}
	f.wg.Add(1)
	go func() {
		defer f.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			f.wg.Add(1)
			go func() {
				defer f.wg.Done()
				defer c.Close()
				ac := &agiConn{c: c, r: bufio.NewReader(c), t: t}
				c.SetDeadline(time.Now().Add(30 * time.Second))
				if !ac.readEnv() {
					return
				}
				serve(ac)
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		f.wg.Wait()
	})
	return f
}

// agiConn is the script's side of a FastAGI connection.
type agiConn struct {
	c   net.Conn
	r   *bufio.Reader
	t   testing.TB
	env []string
}

func (a *agiConn) readEnv() bool {
	for {
		l, err := a.r.ReadString('\n')
		if err != nil {
			return false
		}
		if l == "\n" {
			return true
		}
		a.env = append(a.env, strings.TrimSuffix(l, "\n"))
	}
}

// cmd sends a command and returns the reply line(s): a 520- usage reply
// up to its "520 " line, a 100 up to the 200 after it.
func (a *agiConn) cmd(line string) string {
	if _, err := a.c.Write([]byte(line + "\n")); err != nil {
		return "write error: " + err.Error()
	}
	return a.readReply()
}

func (a *agiConn) readReply() string {
	var out []string
	for {
		l, err := a.r.ReadString('\n')
		if err != nil {
			out = append(out, "read error: "+err.Error())
			return strings.Join(out, "")
		}
		out = append(out, l)
		if strings.HasPrefix(l, "520-") || strings.HasPrefix(l, "100 ") || (len(out) > 1 && !strings.HasPrefix(l, "520 ") && strings.HasPrefix(out[0], "520-")) {
			continue
		}
		return strings.Join(out, "")
	}
}

func (a *agiConn) line() string {
	l, err := a.r.ReadString('\n')
	if err != nil {
		return "read error: " + err.Error()
	}
	return l
}
