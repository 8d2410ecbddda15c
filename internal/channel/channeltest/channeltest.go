// Package channeltest is a channel technology for the tests of what
// places legs through channel.Technologies (Dial, Originate): each leg
// progresses as the test tells it (ringing, early media, answer,
// failure) and reports how the requester hung it up. It sits where the
// real drivers (sipua, localchan) do, so a failing test points at the
// piece above them rather than at SIP.
package channeltest

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/entvoice/entvoice/internal/channel"
	"github.com/entvoice/entvoice/internal/media"
	"github.com/entvoice/entvoice/internal/q850"
	"github.com/entvoice/entvoice/internal/tenancy"
)

// Tech is a channel.Technology whose legs the test drives. Register it
// in a channel.Technologies; Next hands each leg placed to the test.
type Tech struct {
	// Name is the technology's name in destinations and channel names.
	Name string
	// Channels is the registry the legs' channels are created in.
	Channels *channel.Registry
	// Reach, when set, says what a resource reaches (Resolve). By
	// default "number@trunk" is an external leg of the caller's tenant
	// dialling number, and anything else a user of the caller's tenant.
	Reach func(tenant, resource string) (channel.Destination, error)
	// Media, when set, gives each leg an RTP session and the session of
	// its far end (the callee's phone), which send to each other; they
	// are the test's to close (at cleanup). Without it legs have no
	// media.
	Media func() (leg, far *media.Session, err error)
	// CallError, when set, fails Call for the destinations it returns an
	// error for (an INVITE that could not be sent).
	CallError func(d channel.Destination) error

	once   sync.Once
	legs   chan *Leg
	mu     sync.Mutex
	called []string
}

var _ channel.Technology = (*Tech)(nil)

func (f *Tech) init() {
	f.once.Do(func() { f.legs = make(chan *Leg, 64) })
}

// Resolve implements channel.Technology.
func (f *Tech) Resolve(tenant, resource string) (channel.Destination, error) {
	if f.Reach != nil {
		return f.Reach(tenant, resource)
	}
	d := channel.Destination{Tech: f.Name, Resource: resource, Tenant: tenancy.Of(tenant)}
	if number, _, ok := strings.Cut(resource, "@"); ok {
		d.External, d.Number = true, number
	}
	return d, nil
}

// Call implements channel.Technology: it creates the leg's channel, as a
// driver does (caller ID, linkedid, inherited and given variables), and
// hands the leg to Next.
func (f *Tech) Call(_ context.Context, d channel.Destination, r channel.Request) (*channel.Leg, error) {
	f.init()
	f.mu.Lock()
	f.called = append(f.called, d.Resource)
	f.mu.Unlock()
	if f.CallError != nil {
		if err := f.CallError(d); err != nil {
			return nil, err
		}
	}
	l := &Leg{Resource: d.Resource, Request: r, events: make(chan channel.Progress, 16), hungUp: make(chan int, 1)}
	if f.Media != nil {
		var err error
		if l.media, l.Far, err = f.Media(); err != nil {
			return nil, &channel.RequestError{Cause: q850.Congestion, Err: err}
		}
	}
	linked := ""
	if r.Parent != nil {
		linked = r.Parent.LinkedID()
	}
	l.Channel = f.Channels.New(channel.Options{Tech: f.Name, Endpoint: d.Resource, Direction: channel.Outbound,
		LinkedID: linked, CallerNum: r.CallerNum, CallerName: r.CallerName, AccountCode: r.AccountCode,
		Tenant: d.Tenant, Driver: driver{l}, State: channel.StateDown})
	if r.Parent != nil {
		l.Channel.InheritFrom(r.Parent)
	}
	for k, v := range r.Variables {
		l.Channel.SetVar(k, v)
	}
	f.legs <- l
	return &channel.Leg{Channel: l.Channel, Events: l.events}, nil
}

// Next waits for the next leg placed (10 s at most).
func (f *Tech) Next(t testing.TB) *Leg {
	t.Helper()
	f.init()
	select {
	case l := <-f.legs:
		return l
	case <-time.After(10 * time.Second):
		t.Fatalf("no %s leg was placed", f.Name)
		return nil
	}
}

// Called lists the resources Call was asked for, in order.
func (f *Tech) Called() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.called...)
}

// Leg is one leg placed through a Tech.
type Leg struct {
	Resource string
	Channel  *channel.Channel
	// Request is what the requester asked for (caller ID, parent...).
	Request channel.Request
	// Far is the far end's RTP session (nil without Tech.Media): what
	// the callee's phone sends and hears.
	Far *media.Session

	media  *media.Session
	events chan channel.Progress
	hungUp chan int

	mu    sync.Mutex
	final bool // Answered or Failed was reported
}

// Ring reports ringing (a SIP 180).
func (l *Leg) Ring() {
	l.Channel.SetState(channel.StateRinging)
	l.emit(channel.Progress{Kind: channel.Ringing}, false)
}

// EarlyMedia reports progress with media (a SIP 183 with SDP).
func (l *Leg) EarlyMedia() { l.emit(channel.Progress{Kind: channel.EarlyMedia}, false) }

// Answer reports the callee's answer (a SIP 200).
func (l *Leg) Answer() {
	l.Channel.SetState(channel.StateUp)
	l.emit(channel.Progress{Kind: channel.Answered}, true)
}

// Fail reports that the leg failed with a Q.850 cause and the
// technology's code (a SIP final response), as a driver does: the
// channel is gone with that cause first.
func (l *Leg) Fail(cause, code int) {
	l.Channel.RemoteHangup(cause)
	l.emit(channel.Progress{Kind: channel.Failed, Cause: cause, Code: code}, true)
}

// HangUp is the callee hanging up an answered leg (a BYE).
func (l *Leg) HangUp(cause int) { l.Channel.RemoteHangup(cause) }

// WaitHungUp waits until the requester hangs the leg up (CANCEL or BYE)
// and returns the cause it gave.
func (l *Leg) WaitHungUp(t testing.TB) int {
	t.Helper()
	select {
	case c := <-l.hungUp:
		l.hungUp <- c // later calls see it too
		return c
	case <-time.After(10 * time.Second):
		t.Fatalf("%s was never hung up", l.Channel.Name)
		return 0
	}
}

// HungUpWith returns the cause the requester hung the leg up with, or
// 0 if it has not.
func (l *Leg) HungUpWith() int {
	select {
	case c := <-l.hungUp:
		l.hungUp <- c
		return c
	default:
		return 0
	}
}

func (l *Leg) emit(p channel.Progress, final bool) {
	l.mu.Lock()
	if l.final {
		l.mu.Unlock()
		return
	}
	l.final = final
	l.mu.Unlock()
	l.events <- p
}

// driver is the leg's channel.Driver.
type driver struct{ l *Leg }

// Indicate implements channel.Driver (an outbound leg indicates nothing).
func (driver) Indicate(channel.Indication) error { return nil }

// Answer implements channel.Driver.
func (driver) Answer(context.Context) error { return nil }

// Hangup implements channel.Driver: it records the cause and, on a leg
// still being called, reports it failed as a cancelled call does.
func (d driver) Hangup(cause int) {
	select {
	case d.l.hungUp <- cause:
	default:
	}
	d.l.emit(channel.Progress{Kind: channel.Failed, Cause: q850.NormalClearing}, true)
}

// Media implements channel.Driver.
func (d driver) Media() *media.Session { return d.l.media }
