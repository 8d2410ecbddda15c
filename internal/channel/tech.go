package channel

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/entvoice/entvoice/internal/control"
	"github.com/entvoice/entvoice/internal/q850"
	"github.com/entvoice/entvoice/internal/tenancy"
)

// Technology is a channel driver, Asterisk's ast_channel_tech: it turns a
// resource ("1001", "555@carrier", "100@internal/n") into an outbound
// channel and calls it. Dial, Originate, AGI and queues request legs only
// through Technologies, so a new kind of channel is a new Technology, not
// a new case in each of them.
//
// Placing a leg is two steps, as ast_request and ast_call are: Resolve says
// what the resource reaches without placing anything (the tenant policy
// decides on that), then Call creates the channel and starts calling.
type Technology interface {
	// Resolve finds what resource reaches for a caller of tenant. An
	// error is a *RequestError, or wraps one, naming the Q.850 cause.
	Resolve(tenant, resource string) (Destination, error)
	// Call creates the outbound channel of d and starts calling it; it
	// returns once the call is under way, with progress on the
	// Outbound's Events.
	Call(ctx context.Context, d Destination, r Request) (*Leg, error)
}

// Destination is what a resource reaches, as the tenant policy needs it.
type Destination struct {
	Tech     string // the technology's name ("PJSIP", "Local")
	Resource string // as given to Resolve
	// Tenant owns the leg and counts it against its max_calls: the called
	// user's tenant, or the caller's for a leg through a trunk.
	Tenant string
	// External is a leg that leaves the platform (a trunk).
	External bool
	// Number is the number dialled on an external leg, Via the endpoint
	// (trunk) it leaves by.
	Number, Via string
	// Virtual is a leg that is no call of its own (the halves of a Local
	// channel): it is not counted against max_calls, the legs it places
	// are.
	Virtual bool
}

// Request describes the calling side of a leg.
type Request struct {
	// Parent is the calling channel (linkedid, variable inheritance,
	// service switches); nil for Originate.
	Parent *Channel
	// Tenant is the caller's tenant (Parent's when Parent is set).
	Tenant     string
	CallerNum  string
	CallerName string
	// AccountCode, when set, is the new channel's CDR account code.
	AccountCode string
	// Variables are set on the new channel before it is called (AMI
	// Originate's Variable headers); the inheritable ones (_X, __X) reach
	// whatever the channel runs, as Asterisk's would.
	Variables map[string]string
}

// ProgressKind is a step of an outbound leg.
type ProgressKind int

// Progress of an outbound leg.
const (
	Ringing ProgressKind = iota
	// EarlyMedia is progress with media (a SIP 183): the caller may hear
	// the callee's channel before it answers.
	EarlyMedia
	Answered
	Failed
)

// Progress reports a step of an outbound leg. Answered and Failed are the
// last one.
type Progress struct {
	Kind  ProgressKind
	Cause int // Q.850 cause of Failed
	Code  int // the technology's own code of Failed (a SIP status), 0 if none
}

// Leg is an outbound channel being called, with its progress.
type Leg struct {
	Channel *Channel
	Events  <-chan Progress
	// Grant is the leg's authorization by billing (nil when the leg is
	// not charged): its Limit bounds the answered call; it is settled
	// when the leg hangs up, or earlier by whoever knows the billable
	// time better (Dial).
	Grant control.Grant
}

// RequestError is a leg that could not be requested, with the Q.850 cause
// ast_request would report (Dial turns it into DIALSTATUS).
type RequestError struct {
	Cause int
	Err   error
}

func (e *RequestError) Error() string { return e.Err.Error() }
func (e *RequestError) Unwrap() error { return e.Err }

// CauseOf is the Q.850 cause of a request error: its RequestError's, or
// q850.ChanUnavailable.
func CauseOf(err error) int {
	var re *RequestError
	if errors.As(err, &re) {
		return re.Cause
	}
	return q850.ChanUnavailable
}

// Errors of Technologies.Request.
var (
	// ErrNoTechnology is a dial string whose technology is not known
	// (Asterisk's "No such channel type", cause 66).
	ErrNoTechnology = errors.New("no such channel technology")
	// ErrBadDialString is a dial string that is not Tech/resource.
	ErrBadDialString = errors.New("bad dial string")
)

// Technologies is the registry of channel drivers by name. It applies the
// tenant policy to every leg, whatever its technology, before the leg is
// placed: service switches, max_calls, and billing's authorization of a
// leg that leaves the platform. It is built once and read concurrently.
type Technologies struct {
	byName map[string]Technology
	names  []string
	o      TechnologiesOptions
}

// TechnologiesOptions are the policies a registry applies.
type TechnologiesOptions struct {
	// Limits counts legs against the tenants' max_calls (nil: none).
	Limits *tenancy.Limits
	// Charging authorizes legs that leave the platform against the
	// caller's balance (nil: no billing). Legs placed without a calling
	// channel (Originate) are not authorized: their CDRs are rated
	// afterwards like any other.
	Charging control.Charging
}

// NewTechnologies returns an empty registry applying o.
func NewTechnologies(o TechnologiesOptions) *Technologies {
	return &Technologies{byName: map[string]Technology{}, o: o}
}

// Register adds a technology under name and aliases (case-insensitive:
// PJSIP answers for SIP too, as dial strings written for chan_sip still
// work). Register before the registry is used.
func (t *Technologies) Register(tech Technology, name string, aliases ...string) {
	for _, n := range append([]string{name}, aliases...) {
		t.byName[strings.ToLower(n)] = tech
	}
	t.names = append(t.names, name)
	sort.Strings(t.names)
}

// Names lists the registered technologies (without aliases).
func (t *Technologies) Names() []string { return append([]string(nil), t.names...) }

// Lookup finds a technology by name or alias.
func (t *Technologies) Lookup(name string) (Technology, bool) {
	tech, ok := t.byName[strings.ToLower(name)]
	return tech, ok
}

// SplitDialString splits "Tech/resource".
func SplitDialString(dial string) (tech, resource string, err error) {
	tech, resource, ok := strings.Cut(strings.TrimSpace(dial), "/")
	if !ok || tech == "" || resource == "" {
		return "", "", &RequestError{Cause: q850.ChanUnavailable, Err: fmt.Errorf("%w: %q", ErrBadDialString, dial)}
	}
	return tech, resource, nil
}

// Request places a leg to dial ("Tech/resource"): it resolves the
// resource, applies the tenant policy (service switches, the tenant's
// max_calls, then billing for a leg that leaves the platform) and calls
// it. The tenant's count is given back, and billing settled, when the new
// channel hangs up.
func (t *Technologies) Request(ctx context.Context, dial string, r Request) (*Leg, error) {
	name, resource, err := SplitDialString(dial)
	if err != nil {
		return nil, err
	}
	tech, ok := t.Lookup(name)
	if !ok {
		return nil, &RequestError{Cause: q850.ChanUnavailable, Err: fmt.Errorf("%w: %s", ErrNoTechnology, name)}
	}
	if r.Parent != nil {
		r.Tenant = r.Parent.Tenant()
	}
	d, err := tech.Resolve(r.Tenant, resource)
	if err != nil {
		return nil, err
	}
	caller := tenancy.AllServices
	if r.Parent != nil {
		caller = r.Parent.Services()
	}
	if err := tenancy.Admit(tenancy.Leg{Tenant: d.Tenant, External: d.External, Number: d.Number, Caller: caller}); err != nil {
		return nil, &RequestError{Cause: q850.ChanUnavailable, Err: err}
	}
	release := func() {}
	if t.o.Limits != nil && !d.Virtual {
		if release, err = t.o.Limits.Acquire(d.Tenant); err != nil {
			return nil, &RequestError{Cause: q850.Congestion, Err: err}
		}
	}
	grant, err := t.authorize(ctx, d, r)
	if err != nil {
		release()
		return nil, err
	}
	out, err := tech.Call(ctx, d, r)
	if err != nil {
		release()
		if grant != nil {
			settle(grant, 0)
		}
		return nil, err
	}
	out.Grant = grant
	out.Channel.OnHangup(release)
	if grant != nil {
		ch := out.Channel
		ch.OnHangup(func() { go settle(grant, BillableSeconds(ch.AnsweredAt(), time.Now())) })
	}
	return out, nil
}

// authorize has billing authorize a leg that leaves the platform from a
// calling channel; nil when the leg is not charged.
func (t *Technologies) authorize(ctx context.Context, d Destination, r Request) (control.Grant, error) {
	if t.o.Charging == nil || !d.External || r.Parent == nil {
		return nil, nil
	}
	p := r.Parent
	g, err := t.o.Charging.Authorize(ctx, control.ChargeRequest{Tenant: tenancy.Of(p.Tenant()), User: p.Endpoint,
		AccountCode: p.AccountCode(), Trunk: d.Via, Number: d.Number, UniqueID: p.UniqueID})
	var denied *control.ChargeDenied
	switch {
	case errors.Is(err, control.ErrNotCharged):
		return nil, nil
	case errors.As(err, &denied):
		return nil, &RequestError{Cause: q850.CallRejected, Err: err}
	case err != nil:
		// Billing cannot be asked: a prepaid caller is not let spend
		// what cannot be checked.
		return nil, &RequestError{Cause: q850.TemporaryFailure, Err: fmt.Errorf("billing: %w", err)}
	}
	return g, nil
}

// settle reports a leg's billable seconds to billing; a failure is the
// Rater's to repair (the CDR is rated and debited whatever happens here).
func settle(g control.Grant, billsec int64) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, _ = g.Settle(ctx, billsec)
}

// BillableSeconds is the billable time of a leg answered at answered and
// ended at end, rounded to the nearest second as a CDR's billsec (0 when
// it was never answered).
func BillableSeconds(answered, end time.Time) int64 {
	if answered.IsZero() || !end.After(answered) {
		return 0
	}
	return int64((end.Sub(answered) + 500*time.Millisecond) / time.Second)
}
