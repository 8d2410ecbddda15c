package control

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/entvoice/entvoice/internal/channel"
	"github.com/entvoice/entvoice/internal/dialplan"
	"github.com/entvoice/entvoice/internal/media"
	"github.com/entvoice/entvoice/internal/pbx"
)

// localHalf drives one half of a Local channel (chan_local): ;1 is the
// originated channel, ;2 runs the dialplan at exten@context. Answering or
// ringing ;2 answers or rings ;1; hanging up either hangs up the other.
// Audio goes through a pair of RTP sessions sending to each other.
type localHalf struct {
	media *media.Session
	mu    sync.Mutex
	other *channel.Channel
	// On ;2: told when the dialplan rings or answers.
	ringing, answered chan struct{}
	ringOnce, ansOnce sync.Once
	closeOnce         sync.Once
}

func (h *localHalf) Media() *media.Session { return h.media }

func (h *localHalf) Indicate(ind channel.Indication) error {
	if ind == channel.IndicateRinging && h.ringing != nil {
		h.ringOnce.Do(func() { close(h.ringing) })
	}
	return nil
}

func (h *localHalf) Answer(context.Context) error {
	if h.answered != nil {
		h.ansOnce.Do(func() { close(h.answered) })
	}
	return nil
}

func (h *localHalf) Hangup(cause int) {
	h.mu.Lock()
	o := h.other
	h.mu.Unlock()
	if o != nil {
		// Channel.Hangup is idempotent and calls us without its lock.
		go o.Hangup(cause)
	}
	h.closeOnce.Do(func() { h.media.Close() })
}

// originateLocal originates Local/exten@context[/n]: ;2 runs that
// dialplan; when it answers, ;1 is up and runs the originate's target.
func (l *Local) originateLocal(ctx context.Context, r OriginateRequest, res string, pri int) (OriginateResult, error) {
	dest, _, _ := strings.Cut(res, "/") // /n (no optimisation) is what we do anyway
	exten, lctx, ok := strings.Cut(dest, "@")
	if !ok || exten == "" || lctx == "" {
		return OriginateResult{}, fmt.Errorf("%w: %s", ErrBadChannel, r.Channel)
	}
	lctx, ok = dialplan.TenantContext(r.Tenant, lctx)
	if plan := l.pbx.Dialplan(); !ok || plan == nil || !plan.Exists(lctx, exten, 1) {
		return OriginateResult{}, fmt.Errorf("%w: %s@%s", ErrNoExtension, exten, lctx)
	}
	m1, m2, err := l.sip.MediaPair()
	if err != nil {
		return OriginateResult{}, err
	}
	name, num := pbx.SplitCallerID(r.CallerID)
	base := l.reg.NextName("Local", dest)
	h1 := &localHalf{media: m1}
	h2 := &localHalf{media: m2, ringing: make(chan struct{}), answered: make(chan struct{})}
	ch1 := l.reg.New(channel.Options{Name: base + ";1", Tech: "Local", Endpoint: dest, Direction: channel.Outbound,
		CallerNum: num, CallerName: name, AccountCode: r.Account, Tenant: r.Tenant, Driver: h1, State: channel.StateDown})
	ch2 := l.reg.New(channel.Options{Name: base + ";2", Tech: "Local", Endpoint: dest, Direction: channel.Inbound,
		LinkedID: ch1.LinkedID(), CallerNum: num, CallerName: name, AccountCode: r.Account, Tenant: r.Tenant,
		Context: lctx, Exten: exten, Driver: h2, State: channel.StateRing})
	h1.mu.Lock()
	h1.other = ch2
	h1.mu.Unlock()
	h2.mu.Lock()
	h2.other = ch1
	h2.mu.Unlock()
	for k, v := range r.Variables {
		ch1.SetVar(k, v)
		// Inheritable variables reach the dialplan half too.
		if strings.HasPrefix(k, "_") {
			ch2.SetVar(k, v)
		}
	}
	go l.pbx.HandleCall(ch2)

	timeout := r.Timeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	result := OriginateResult{Channel: ch1.Name, UniqueID: ch1.UniqueID}
	ringing := false
	ringC := h2.ringing
	fail := func(reason int, cause int) (OriginateResult, error) {
		ch1.Hangup(cause)
		l.pbx.Destroy(ch1)
		result.Reason = reason
		return result, fmt.Errorf("originate %s: reason %d", r.Channel, reason)
	}
	for {
		select {
		case <-ringC:
			ringing, ringC = true, nil
			ch1.SetState(channel.StateRinging)
		case <-h2.answered:
			ch1.SetState(channel.StateUp)
			result.Reason = ReasonAnswered
			l.runTarget(ch1, r, pri)
			return result, nil
		case <-ch2.Done():
			// The dialplan ended without answering: report why, as
			// __ast_request_and_dial does from the control frames.
			st, _ := ch2.GetVar("DIALSTATUS")
			cause := ch2.HangupCause()
			if c, err := strconv.Atoi(getVar(ch2, "HANGUPCAUSE")); err == nil && c != 0 {
				cause = c
			}
			switch {
			case st == "BUSY" || cause == channel.CauseUserBusy:
				return fail(ReasonBusy, channel.CauseUserBusy)
			case st == "CONGESTION" || cause == channel.CauseCongestion:
				return fail(ReasonCongestion, channel.CauseCongestion)
			case st == "NOANSWER" || ringing:
				return fail(ReasonRinging, channel.CauseNoAnswer)
			}
			return fail(ReasonHangup, channel.CauseNormalClearing)
		case <-timer.C:
			ch2.Hangup(channel.CauseNoAnswer)
			if ringing {
				return fail(ReasonRinging, channel.CauseNoAnswer)
			}
			return fail(ReasonFailed, channel.CauseNoAnswer)
		case <-ctx.Done():
			ch2.Hangup(channel.CauseNormalClearing)
			return fail(ReasonFailed, channel.CauseNormalClearing)
		}
	}
}

func getVar(ch *channel.Channel, name string) string {
	v, _ := ch.GetVar(name)
	return v
}
