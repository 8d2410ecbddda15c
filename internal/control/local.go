package control

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/entvoice/entvoice/internal/channel"
	"github.com/entvoice/entvoice/internal/dialplan"
	"github.com/entvoice/entvoice/internal/events"
	"github.com/entvoice/entvoice/internal/media"
	"github.com/entvoice/entvoice/internal/pbx"
	"github.com/entvoice/entvoice/internal/sipua"
)

// Dialer places outbound SIP legs (the node's *sipua.Server).
type Dialer interface {
	Call(ctx context.Context, t sipua.Target, o sipua.CallOptions) (*sipua.Outbound, error)
	Directory() *sipua.Directory
	// MediaPair returns two RTP sessions wired to each other (Local
	// channels).
	MediaPair() (*media.Session, *media.Session, error)
	// Registered reports whether a user of the tenant has a contact here.
	Registered(tenant, user string) bool
	// PeerAddr is where other nodes call this one (invalid: nowhere).
	PeerAddr() netip.AddrPort
}

// Local is the Controller of one node: its PBX, channel registry and SIP
// server.
type Local struct {
	pbx  *pbx.PBX
	reg  *channel.Registry
	sip  Dialer
	log  *slog.Logger
	boot time.Time
}

// NewLocal returns the controller of a node.
func NewLocal(p *pbx.PBX, reg *channel.Registry, sip Dialer, log *slog.Logger) *Local {
	if log == nil {
		log = slog.Default()
	}
	return &Local{pbx: p, reg: reg, sip: sip, log: log, boot: time.Now()}
}

var _ Controller = (*Local)(nil)

// visible says whether a tenant scope may see a channel: an admin ("")
// sees all, a tenant only its own (never the default tenant's).
func visible(scope, tenant string) bool { return scope == "" || scope == tenant }

func (l *Local) find(tenant, name string) (*channel.Channel, error) {
	ch, ok := l.reg.Get(name)
	if !ok || !visible(tenant, ch.Tenant()) || ch.IsHungUp() {
		return nil, fmt.Errorf("%w: %s", ErrNoChannel, name)
	}
	return ch, nil
}

// Channels lists the live channels the tenant sees, oldest first.
func (l *Local) Channels(_ context.Context, tenant string) ([]ChannelInfo, error) {
	var out []ChannelInfo
	now := time.Now()
	for _, ch := range l.reg.List() {
		if !visible(tenant, ch.Tenant()) {
			continue
		}
		app, data := ch.LastApp()
		ci := ChannelInfo{Snapshot: *ch.Snapshot(), Application: app, ApplicationData: data, Duration: now.Sub(ch.Created)}
		if p := ch.Peer(); p != nil {
			ci.BridgedChannel = p.Name
		}
		out = append(out, ci)
	}
	return out, nil
}

// Hangup hangs a channel up with cause (0: Normal Clearing).
func (l *Local) Hangup(_ context.Context, tenant, name string, cause int) error {
	ch, err := l.find(tenant, name)
	if err != nil {
		return err
	}
	if cause <= 0 {
		cause = channel.CauseNormalClearing
	}
	ch.Hangup(cause)
	return nil
}

// Redirect interrupts what a channel (and extra) is doing and sends it to
// a dialplan position (Asterisk's ast_async_goto).
func (l *Local) Redirect(_ context.Context, tenant, name, extra, ctx, exten, priority string) error {
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
		q, ok := dialplan.TenantContext(c.Tenant(), ctx)
		if !ok {
			return "", fmt.Errorf("%w: %s@%s", ErrNoExtension, exten, ctx)
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
func (l *Local) GetVar(_ context.Context, tenant, name, variable string) (string, error) {
	if name == "" {
		if tenant != "" {
			return "", ErrNoChannel
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
func (l *Local) SetVar(_ context.Context, tenant, name, variable, value string) error {
	if name == "" {
		if tenant != "" {
			return ErrNoChannel
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
func (l *Local) Locate(_ context.Context, tenant, user string) (Location, error) {
	if !l.sip.Registered(tenant, user) {
		return Location{}, fmt.Errorf("%w: %s", ErrNotRegistered, user)
	}
	loc := Location{Node: l.reg.SystemName()}
	if a := l.sip.PeerAddr(); a.IsValid() {
		loc.SIP = a.String()
	}
	return loc, nil
}

// Reasons of OriginateResponse (the AST_CONTROL_* value
// __ast_request_and_dial ends with).
const (
	ReasonFailed     = 0
	ReasonHangup     = 1
	ReasonRinging    = 3
	ReasonAnswered   = 4
	ReasonBusy       = 5
	ReasonCongestion = 8
)

// Originate calls Channel; once it answers, the dialplan (Context, Exten,
// Priority) or Application(Data) runs on it in the background. It returns
// when the leg answered or failed. Supported dial strings: PJSIP/endpoint
// and PJSIP/exten@trunk (SIP/ is taken as PJSIP/).
func (l *Local) Originate(ctx context.Context, r OriginateRequest) (OriginateResult, error) {
	tech, res, ok := strings.Cut(strings.TrimSpace(r.Channel), "/")
	isLocal := strings.EqualFold(tech, "Local")
	if !ok || res == "" || !(isLocal || strings.EqualFold(tech, "PJSIP") || strings.EqualFold(tech, "SIP")) {
		return OriginateResult{}, fmt.Errorf("%w: %s", ErrBadChannel, r.Channel)
	}
	if r.Tenant == "" {
		r.Tenant = sipua.DefaultTenant
	}
	var pri int
	if r.Application == "" {
		// A tenant's contexts are namespaced: it names them bare and
		// can reach no other tenant's.
		qualified, ok := dialplan.TenantContext(r.Tenant, r.Context)
		if !ok {
			return OriginateResult{}, fmt.Errorf("%w: %s@%s", ErrNoExtension, r.Exten, r.Context)
		}
		r.Context = qualified
		plan := l.pbx.Dialplan()
		if r.Priority == "" {
			r.Priority = "1"
		}
		n, err := strconv.Atoi(r.Priority)
		if err != nil && plan != nil {
			n, ok = plan.FindLabel(r.Context, r.Exten, r.Priority)
			if !ok {
				n = 0
			}
		}
		if plan == nil || n < 1 || !plan.Exists(r.Context, r.Exten, n) {
			return OriginateResult{}, fmt.Errorf("%w: %s@%s", ErrNoExtension, r.Exten, r.Context)
		}
		pri = n
	} else if !l.pbx.HasApp(r.Application) {
		return OriginateResult{}, fmt.Errorf("%w: no application %s", ErrBadChannel, r.Application)
	}
	if isLocal {
		return l.originateLocal(ctx, r, res, pri)
	}
	// sipua.Call resolves the endpoint within the call's tenant (its own
	// users, then the platform's shared trunks).
	target := sipua.ParseTarget(res)
	name, num := pbx.SplitCallerID(r.CallerID)
	out, err := l.sip.Call(ctx, target, sipua.CallOptions{CallerNum: num, CallerName: name, Tenant: r.Tenant})
	if err != nil {
		return OriginateResult{Reason: ReasonFailed}, fmt.Errorf("originate %s: %w", r.Channel, err)
	}
	ch := out.Channel
	for k, v := range r.Variables {
		ch.SetVar(k, v)
	}
	if r.Account != "" {
		ch.SetAccountCode(r.Account)
	}
	bus := l.reg.Bus()
	dial := func(kind events.Kind, status string) {
		if bus.HasSubscribers() {
			bus.Publish(events.Event{Kind: kind, Dest: ch.Snapshot(), DialString: res, DialStatus: status, Tenant: ch.Tenant()})
		}
	}
	dial(events.DialBegin, "")
	timeout := r.Timeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	result := OriginateResult{Channel: ch.Name, UniqueID: ch.UniqueID}
	ringing := false
	fail := func(reason int, status string, cause int) (OriginateResult, error) {
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
		case ev := <-out.Events:
			switch ev.Kind {
			case sipua.LegRinging:
				ringing = true
				dial(events.DialState, "RINGING")
			case sipua.LegProgress:
				dial(events.DialState, "PROGRESS")
			case sipua.LegFailed:
				switch ev.Cause {
				case channel.CauseUserBusy:
					return fail(ReasonBusy, "BUSY", 0)
				case channel.CauseCongestion, channel.CauseSwitchCongestion:
					return fail(ReasonCongestion, "CONGESTION", 0)
				case channel.CauseNoAnswer, channel.CauseNoUserResponse:
					return fail(ReasonRinging, "NOANSWER", 0)
				}
				return fail(ReasonHangup, "CHANUNAVAIL", 0)
			case sipua.LegAnswered:
				dial(events.DialEnd, "ANSWER")
				result.Reason = ReasonAnswered
				l.runTarget(ch, r, pri)
				return result, nil
			}
		case <-timer.C:
			if ringing {
				return fail(ReasonRinging, "NOANSWER", channel.CauseNoAnswer)
			}
			return fail(ReasonFailed, "NOANSWER", channel.CauseNoAnswer)
		case <-ctx.Done():
			return fail(ReasonFailed, "CANCEL", channel.CauseNormalClearing)
		}
	}
}

// runTarget runs the originate's dialplan position or application on the
// answered channel, in the background.
func (l *Local) runTarget(ch *channel.Channel, r OriginateRequest, pri int) {
	if r.Application != "" {
		go l.pbx.HandleApp(ch, r.Application, r.Data)
		return
	}
	ch.SetLocation(r.Context, r.Exten, pri)
	go l.pbx.HandleCall(ch)
}
