package node

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"strconv"
	"time"

	"github.com/entvoice/entvoice/internal/channel"
	"github.com/entvoice/entvoice/internal/control"
	"github.com/entvoice/entvoice/internal/events"
	"github.com/entvoice/entvoice/internal/pbx"
	"github.com/entvoice/entvoice/internal/q850"
	"github.com/entvoice/entvoice/internal/tenancy"
)

// Registrations says who is registered on the node (its SIP server).
type Registrations interface {
	// Registered reports whether a user of the tenant has a contact here.
	Registered(tenant, user string) bool
	// PeerAddr is where other nodes call this one (invalid: nowhere).
	PeerAddr() netip.AddrPort
}

// Controller is the control.Controller of one node: its PBX, channels and
// channel technologies.
type Controller struct {
	pbx   *pbx.PBX
	reg   *channel.Registry
	techs *channel.Technologies
	sip   Registrations
	log   *slog.Logger

	// Conferences and Parking answer for the node's ConfBridge
	// conferences and parked calls (node.New gives them the services).
	control.Conferences
	control.Parking
}

// NewController returns the controller of a node.
func NewController(p *pbx.PBX, reg *channel.Registry, techs *channel.Technologies, sip Registrations, log *slog.Logger) *Controller {
	if log == nil {
		log = slog.Default()
	}
	return &Controller{pbx: p, reg: reg, techs: techs, sip: sip, log: log, Conferences: noConferences{}, Parking: noParking{}}
}

var _ control.Controller = (*Controller)(nil)

// visible says whether a tenant scope may see a channel: an admin ("")
// sees all, a tenant only its own (never the default tenant's).
func visible(scope, tenant string) bool { return scope == "" || scope == tenant }

func (l *Controller) find(tenant, name string) (*channel.Channel, error) {
	ch, ok := l.reg.Get(name)
	if !ok || !visible(tenant, ch.Tenant()) || ch.IsHungUp() {
		return nil, fmt.Errorf("%w: %s", control.ErrNoChannel, name)
	}
	return ch, nil
}

// Channels lists the live channels the tenant sees, oldest first.
func (l *Controller) Channels(_ context.Context, tenant string) ([]control.ChannelInfo, error) {
	var out []control.ChannelInfo
	now := time.Now()
	for _, ch := range l.reg.List() {
		if !visible(tenant, ch.Tenant()) {
			continue
		}
		app, data := ch.LastApp()
		ci := control.ChannelInfo{Snapshot: *ch.Snapshot(), Application: app, ApplicationData: data, Duration: now.Sub(ch.Created)}
		if p := ch.Peer(); p != nil {
			ci.BridgedChannel = p.Name
		}
		out = append(out, ci)
	}
	return out, nil
}

// Hangup hangs a channel up with cause (0: Normal Clearing).
func (l *Controller) Hangup(_ context.Context, tenant, name string, cause int) error {
	ch, err := l.find(tenant, name)
	if err != nil {
		return err
	}
	if cause <= 0 {
		cause = q850.NormalClearing
	}
	ch.Hangup(cause)
	return nil
}

// Redirect interrupts what a channel (and extra) is doing and sends it to
// a dialplan position (Asterisk's ast_async_goto).
func (l *Controller) Redirect(_ context.Context, tenant, name, extra, ctx, exten, priority string) error {
	ch, err := l.find(tenant, name)
	if err != nil {
		return err
	}
	var ech *channel.Channel
	if extra != "" {
		if ech, err = l.find(tenant, extra); err != nil {
			return err
		}
	}
	qualify := func(c *channel.Channel) (string, error) {
		if ctx == "" {
			return "", nil // AsyncGoto keeps the current context
		}
		q, ok := tenancy.Context(c.Tenant(), ctx)
		if !ok {
			return "", fmt.Errorf("%w: %s@%s", control.ErrNoExtension, exten, ctx)
		}
		return q, nil
	}
	qctx, err := qualify(ch)
	if err != nil {
		return err
	}
	if err := l.pbx.AsyncGoto(ch, qctx, exten, priority); err != nil {
		return fmt.Errorf("redirect %s: %w", name, err)
	}
	if ech != nil {
		if qctx, err = qualify(ech); err != nil {
			return err
		}
		if err := l.pbx.AsyncGoto(ech, qctx, exten, priority); err != nil {
			return fmt.Errorf("redirect %s: %w", extra, err)
		}
	}
	return nil
}

// GetVar reads a channel variable, or a global one when channel is ""
// (admins only: globals are node-wide).
func (l *Controller) GetVar(_ context.Context, tenant, name, variable string) (string, error) {
	if name == "" {
		if tenant != "" {
			return "", control.ErrNoChannel
		}
		if d := l.pbx.Dialplan(); d != nil {
			v, _ := d.Global(variable)
			return v, nil
		}
		return "", nil
	}
	ch, err := l.find(tenant, name)
	if err != nil {
		return "", err
	}
	v, _ := ch.GetVar(variable)
	return v, nil
}

// SetVar sets a channel variable, or a global one when channel is "".
func (l *Controller) SetVar(_ context.Context, tenant, name, variable, value string) error {
	if name == "" {
		if tenant != "" {
			return control.ErrNoChannel
		}
		if d := l.pbx.Dialplan(); d != nil {
			d.SetGlobal(variable, value)
		}
		return nil
	}
	ch, err := l.find(tenant, name)
	if err != nil {
		return err
	}
	ch.SetVar(variable, value)
	return nil
}

// Locate answers whether the user is registered on this node, with the
// address other nodes reach it on.
func (l *Controller) Locate(_ context.Context, tenant, user string) (control.Location, error) {
	if !l.sip.Registered(tenant, user) {
		return control.Location{}, fmt.Errorf("%w: %s", control.ErrNotRegistered, user)
	}
	loc := control.Location{Node: l.reg.SystemName()}
	if a := l.sip.PeerAddr(); a.IsValid() {
		loc.SIP = a.String()
	}
	return loc, nil
}

// Originate calls Channel (any technology: PJSIP/endpoint,
// PJSIP/exten@trunk, Local/exten@context); once it answers, the dialplan
// (Context, Exten, Priority) or Application(Data) runs on it in the
// background. It returns when the leg answered or failed, with the Reason
// of AMI's OriginateResponse, and publishes the Dial events Asterisk's
// dialing API does.
func (l *Controller) Originate(ctx context.Context, r control.OriginateRequest) (control.OriginateResult, error) {
	r.Tenant = tenancy.Of(r.Tenant)
	pri, err := l.originateTarget(&r)
	if err != nil {
		return control.OriginateResult{}, err
	}
	_, resource, err := channel.SplitDialString(r.Channel)
	if err != nil {
		return control.OriginateResult{}, fmt.Errorf("%w: %s", control.ErrBadChannel, r.Channel)
	}
	name, num := pbx.SplitCallerID(r.CallerID)
	leg, err := l.techs.Request(ctx, r.Channel, channel.Request{Tenant: r.Tenant, CallerNum: num, CallerName: name,
		AccountCode: r.Account, Variables: r.Variables})
	switch {
	case errors.Is(err, channel.ErrNoTechnology), errors.Is(err, channel.ErrBadDialString):
		return control.OriginateResult{}, fmt.Errorf("%w: %s", control.ErrBadChannel, r.Channel)
	case errors.Is(err, control.ErrNoExtension):
		return control.OriginateResult{}, err
	case err != nil:
		return control.OriginateResult{Reason: control.ReasonFailed}, fmt.Errorf("originate %s: %w", r.Channel, err)
	}
	ch := leg.Channel
	bus := l.reg.Bus()
	dial := func(kind events.Kind, status string) {
		if bus.HasSubscribers() {
			bus.Publish(events.Event{Kind: kind, Dest: ch.Snapshot(), DialString: resource, DialStatus: status, Tenant: ch.Tenant()})
		}
	}
	dial(events.DialBegin, "")
	timeout := r.Timeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	result := control.OriginateResult{Channel: ch.Name, UniqueID: ch.UniqueID}
	ringing := false
	fail := func(reason int, status string, cause int) (control.OriginateResult, error) {
		if !ch.IsHungUp() {
			ch.Hangup(cause)
		}
		dial(events.DialEnd, status)
		l.pbx.Destroy(ch)
		result.Reason = reason
		return result, fmt.Errorf("originate %s: %s", r.Channel, status)
	}
	for {
		select {
		case ev := <-leg.Events:
			switch ev.Kind {
			case channel.Ringing:
				ringing = true
				dial(events.DialState, "RINGING")
			case channel.EarlyMedia:
				dial(events.DialState, "PROGRESS")
			case channel.Failed:
				switch ev.Cause {
				case q850.UserBusy:
					return fail(control.ReasonBusy, "BUSY", 0)
				case q850.Congestion, q850.SwitchCongestion:
					return fail(control.ReasonCongestion, "CONGESTION", 0)
				case q850.NoAnswer, q850.NoUserResponse:
					return fail(control.ReasonRinging, "NOANSWER", 0)
				}
				return fail(control.ReasonHangup, "CHANUNAVAIL", 0)
			case channel.Answered:
				dial(events.DialEnd, "ANSWER")
				result.Reason = control.ReasonAnswered
				l.runTarget(ch, r, pri)
				return result, nil
			}
		case <-timer.C:
			if ringing {
				return fail(control.ReasonRinging, "NOANSWER", q850.NoAnswer)
			}
			return fail(control.ReasonFailed, "NOANSWER", q850.NoAnswer)
		case <-ctx.Done():
			return fail(control.ReasonFailed, "CANCEL", q850.NormalClearing)
		}
	}
}

// originateTarget checks what an originated channel will run once
// answered: a dialplan position of the caller's tenant (qualified in r,
// its priority resolved) or an application the node has.
func (l *Controller) originateTarget(r *control.OriginateRequest) (priority int, err error) {
	if r.Application != "" {
		if !l.pbx.HasApp(r.Application) {
			return 0, fmt.Errorf("%w: no application %s", control.ErrBadChannel, r.Application)
		}
		return 0, nil
	}
	// A tenant's contexts are namespaced: it names them bare and can
	// reach no other tenant's.
	qualified, ok := tenancy.Context(r.Tenant, r.Context)
	if !ok {
		return 0, fmt.Errorf("%w: %s@%s", control.ErrNoExtension, r.Exten, r.Context)
	}
	r.Context = qualified
	plan := l.pbx.Dialplan()
	if r.Priority == "" {
		r.Priority = "1"
	}
	n, err := strconv.Atoi(r.Priority)
	if err != nil && plan != nil {
		if n, ok = plan.FindLabel(r.Context, r.Exten, r.Priority); !ok {
			n = 0
		}
	}
	if plan == nil || n < 1 || !plan.Exists(r.Context, r.Exten, n) {
		return 0, fmt.Errorf("%w: %s@%s", control.ErrNoExtension, r.Exten, r.Context)
	}
	return n, nil
}

// runTarget runs the originate's dialplan position or application on the
// answered channel, in the background.
func (l *Controller) runTarget(ch *channel.Channel, r control.OriginateRequest, pri int) {
	if r.Application != "" {
		go l.pbx.HandleApp(ch, r.Application, r.Data)
		return
	}
	ch.SetLocation(r.Context, r.Exten, pri)
	go l.pbx.HandleCall(ch)
}
