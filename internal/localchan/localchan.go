// Package localchan is the Local channel technology (Asterisk's
// core_local): Local/exten@context[/n] is a pair of channels joined back to
// back. ;1 is the channel the requester gets (Dial's or Originate's leg);
// ;2 runs the dialplan at exten@context. Ringing or answering ;2 rings or
// answers ;1, and hanging up either hangs up the other. Audio crosses the
// pair through two RTP sessions that send to each other, so bridges treat
// a Local channel like any other leg.
//
// Asterisk may optimise a Local pair away once both sides are bridged;
// entVoice never does, which is what the /n option asks for, so /n is
// accepted and changes nothing.
package localchan

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/entvoice/entvoice/internal/channel"
	"github.com/entvoice/entvoice/internal/control"
	"github.com/entvoice/entvoice/internal/media"
	"github.com/entvoice/entvoice/internal/q850"
	"github.com/entvoice/entvoice/internal/tenancy"
)

// Dialplan runs ;2.
type Dialplan interface {
	// Exists reports whether context/exten can start a call.
	Exists(context, exten string) bool
	// HandleCall runs the dialplan on a channel until it is gone.
	HandleCall(ch *channel.Channel)
}

// Tech is the Local channel technology.
type Tech struct {
	channels *channel.Registry
	plan     Dialplan
	// newMedia returns the two halves' RTP sessions, wired to each other.
	newMedia func() (*media.Session, *media.Session, error)
}

// New returns the Local technology of a node.
func New(channels *channel.Registry, plan Dialplan, newMedia func() (*media.Session, *media.Session, error)) *Tech {
	return &Tech{channels: channels, plan: plan, newMedia: newMedia}
}

var _ channel.Technology = (*Tech)(nil)

// parse splits exten@context[/options].
func parse(resource string) (exten, ctx string, err error) {
	dest, _, _ := strings.Cut(resource, "/")
	exten, ctx, ok := strings.Cut(dest, "@")
	if !ok || exten == "" || ctx == "" {
		return "", "", &channel.RequestError{Cause: q850.ChanUnavailable,
			Err: fmt.Errorf("%w: Local/%s (want exten@context)", channel.ErrBadDialString, resource)}
	}
	return exten, ctx, nil
}

// Resolve implements channel.Technology: the context is the caller's
// tenant's (a tenant reaches no other's), and the extension must exist
// (local_call's "No such extension/context").
func (t *Tech) Resolve(tid, resource string) (channel.Destination, error) {
	exten, ctx, err := parse(resource)
	if err != nil {
		return channel.Destination{}, err
	}
	qualified, ok := tenancy.Context(tid, ctx)
	if !ok || !t.plan.Exists(qualified, exten) {
		return channel.Destination{}, &channel.RequestError{Cause: q850.ChanUnavailable,
			Err: fmt.Errorf("%w: %s@%s", control.ErrNoExtension, exten, ctx)}
	}
	return channel.Destination{Tech: "Local", Resource: resource, Tenant: tenancy.Of(tid), Virtual: true}, nil
}

// Call implements channel.Technology: it creates ;1 and ;2 and starts the
// dialplan on ;2.
func (t *Tech) Call(_ context.Context, d channel.Destination, r channel.Request) (*channel.Leg, error) {
	exten, ctx, err := parse(d.Resource)
	if err != nil {
		return nil, err
	}
	ctx, _ = tenancy.Context(d.Tenant, ctx)
	m1, m2, err := t.newMedia()
	if err != nil {
		return nil, &channel.RequestError{Cause: q850.Congestion, Err: fmt.Errorf("local channel media: %w", err)}
	}
	dest, _, _ := strings.Cut(d.Resource, "/")
	linked := ""
	if r.Parent != nil {
		linked = r.Parent.LinkedID()
	}
	base := t.channels.NextName("Local", dest)
	pr := &pair{}
	h1 := &half{media: m1, pair: pr}
	h2 := &half{media: m2, pair: pr, ringing: make(chan struct{}), answered: make(chan struct{})}
	pr.one, pr.two = h1, h2
	ch1 := t.channels.New(channel.Options{Name: base + ";1", Tech: "Local", Endpoint: dest, Direction: channel.Outbound,
		LinkedID: linked, CallerNum: r.CallerNum, CallerName: r.CallerName, AccountCode: r.AccountCode, Tenant: d.Tenant,
		Driver: h1, State: channel.StateDown})
	if r.Parent != nil {
		ch1.InheritFrom(r.Parent)
	}
	for k, v := range r.Variables {
		ch1.SetVar(k, v)
	}
	ch2 := t.channels.New(channel.Options{Name: base + ";2", Tech: "Local", Endpoint: dest, Direction: channel.Inbound,
		LinkedID: ch1.LinkedID(), CallerNum: r.CallerNum, CallerName: r.CallerName, AccountCode: r.AccountCode,
		Tenant: d.Tenant, Context: ctx, Exten: exten, Driver: h2, State: channel.StateRing})
	// local_call copies every variable of ;1 to ;2: what ;1 inherited
	// (_X arrived as X, __X stayed) and what it was given (Originate's
	// variables) reach the dialplan behind the Local channel.
	ch2.CopyVarsFrom(ch1)
	h1.join(ch2)
	h2.join(ch1)
	events := make(chan channel.Progress, 4)
	go t.plan.HandleCall(ch2)
	go follow(ch1, ch2, pr, events)
	return &channel.Leg{Channel: ch1, Events: events}, nil
}

// follow reports ;2's progress as ;1's, until ;2 answers or ends.
//
// The two halves hang up on different goroutines (each half's driver
// hangs the other up), so ;1 and ;2 may both be gone by the time follow
// looks: which half hung up first (pair.first) decides what is reported,
// never the order in which select happens to see them. Likewise ;2 may
// ring, answer and end before follow looks: what happened is reported in
// the order it happened (ringing, then the answer or the failure).
func follow(ch1, ch2 *channel.Channel, pr *pair, out chan<- channel.Progress) {
	ringC := pr.two.ringing
	ringing := false
	rang := func() {
		if ringC == nil {
			return
		}
		select {
		case <-ringC:
			ringing, ringC = true, nil
			ch1.SetState(channel.StateRinging)
			out <- channel.Progress{Kind: channel.Ringing}
		default:
		}
	}
	answered := func() {
		ch1.SetState(channel.StateUp)
		out <- channel.Progress{Kind: channel.Answered}
	}
	ended := func() {
		rang()
		if first := pr.first.Load(); first == pr.one || first == nil && !ch2.HangupRequested() {
			// The requester gave up (Dial's timeout, a cancel, another
			// leg answered): ;2 goes with it, with ;1's cause.
			ch2.Hangup(ch1.HangupCause())
			out <- channel.Progress{Kind: channel.Failed, Cause: q850.NormalClearing}
			return
		}
		select {
		case <-pr.two.answered:
			// ;2 answered, then hung up: the answer came first.
			answered()
			return
		default:
		}
		// The dialplan ended without answering (and took ;1 with it):
		// report why, as __ast_request_and_dial does from the control
		// frames ;2 queued (busy, congestion) or from its Dial's outcome.
		out <- channel.Progress{Kind: channel.Failed, Cause: failureCause(ch2, ringing)}
	}
	for {
		select {
		case <-ringC:
			rang()
		case <-pr.two.answered:
			if pr.first.Load() == pr.one {
				ended() // the requester gave up: no answer reaches it
				return
			}
			rang()
			answered()
			return
		case <-ch2.Done():
			ended()
			return
		case <-ch1.Done():
			ended()
			return
		}
	}
}

// failureCause is why ;2 ended without answering.
func failureCause(ch2 *channel.Channel, ringing bool) int {
	status, _ := ch2.GetVar("DIALSTATUS")
	cause := ch2.HangupCause()
	if v, _ := ch2.GetVar("HANGUPCAUSE"); v != "" {
		if c, err := strconv.Atoi(v); err == nil && c != 0 {
			cause = c
		}
	}
	switch {
	case status == "BUSY" || cause == q850.UserBusy:
		return q850.UserBusy
	case status == "CONGESTION" || cause == q850.Congestion:
		return q850.Congestion
	case status == "NOANSWER" || ringing:
		return q850.NoAnswer
	}
	return q850.NormalClearing
}

// pair is what the two halves of a Local channel share.
type pair struct {
	one, two *half
	// first is the half whose channel was hung up first (nil: neither
	// yet, or only by RemoteHangup, which no half's far end sends).
	first atomic.Pointer[half]
}

// half drives one half of a Local channel.
type half struct {
	media *media.Session
	pair  *pair
	mu    sync.Mutex
	other *channel.Channel
	// On ;2: closed when its dialplan rings or answers.
	ringing, answered chan struct{}
	ringOnce, ansOnce sync.Once
	closeOnce         sync.Once
}

func (h *half) join(other *channel.Channel) {
	h.mu.Lock()
	h.other = other
	h.mu.Unlock()
}

func (h *half) Media() *media.Session { return h.media }

func (h *half) Indicate(ind channel.Indication) error {
	if ind == channel.IndicateRinging && h.ringing != nil {
		h.ringOnce.Do(func() { close(h.ringing) })
	}
	return nil
}

func (h *half) Answer(context.Context) error {
	if h.answered != nil {
		h.ansOnce.Do(func() { close(h.answered) })
	}
	return nil
}

func (h *half) Hangup(cause int) {
	h.pair.first.CompareAndSwap(nil, h)
	h.mu.Lock()
	o := h.other
	h.mu.Unlock()
	if o != nil {
		// Channel.Hangup is idempotent and calls us without its lock.
		go o.Hangup(cause)
	}
	h.closeOnce.Do(func() { h.media.Close() })
}
