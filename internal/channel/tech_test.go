package channel

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"slices"
	"sync"
	"testing"

	"github.com/entvoice/entvoice/internal/events"
	"github.com/entvoice/entvoice/internal/media"
	"github.com/entvoice/entvoice/internal/q850"
	"github.com/entvoice/entvoice/internal/tenancy"
)

// nopDriver is a driver that does nothing (no signalling, no media).
type nopDriver struct{}

func (nopDriver) Indicate(Indication) error    { return nil }
func (nopDriver) Answer(context.Context) error { return nil }
func (nopDriver) Hangup(int)                   {}
func (nopDriver) Media() *media.Session        { return nil }

// recordingTech is a Technology that says what Resolve and Call saw and
// answers with what the test set.
type recordingTech struct {
	reg  *Registry
	dest Destination // returned by Resolve, with Resource filled in
	// resolveErr and callErr, when set, fail Resolve or Call.
	resolveErr, callErr error

	mu       sync.Mutex
	resolved []string // tenant/resource
	called   []Request
}

func (f *recordingTech) Resolve(tenant, resource string) (Destination, error) {
	f.mu.Lock()
	f.resolved = append(f.resolved, tenant+"/"+resource)
	f.mu.Unlock()
	if f.resolveErr != nil {
		return Destination{}, f.resolveErr
	}
	d := f.dest
	d.Resource = resource
	return d, nil
}

func (f *recordingTech) Call(_ context.Context, d Destination, r Request) (*Leg, error) {
	f.mu.Lock()
	f.called = append(f.called, r)
	f.mu.Unlock()
	if f.callErr != nil {
		return nil, f.callErr
	}
	ch := f.reg.New(Options{Tech: d.Tech, Endpoint: d.Resource, Direction: Outbound, Tenant: d.Tenant, Driver: nopDriver{}})
	return &Leg{Channel: ch, Events: make(chan Progress)}, nil
}

func (f *recordingTech) calls() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.called)
}

func quietLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// TestSplitDialString: Tech/resource, split at the first slash (the
// resource may carry its own options, Local/100@ctx/n).
func TestSplitDialString(t *testing.T) {
	for _, tc := range []struct {
		dial, tech, resource string
		bad                  bool
	}{
		{dial: "PJSIP/1001", tech: "PJSIP", resource: "1001"},
		{dial: "  PJSIP/1001 ", tech: "PJSIP", resource: "1001"},
		{dial: "PJSIP/555@carrier", tech: "PJSIP", resource: "555@carrier"},
		{dial: "Local/100@internal/n", tech: "Local", resource: "100@internal/n"},
		{dial: "PJSIP", bad: true},
		{dial: "PJSIP/", bad: true},
		{dial: "/1001", bad: true},
		{dial: "", bad: true},
	} {
		tech, res, err := SplitDialString(tc.dial)
		if tc.bad {
			if !errors.Is(err, ErrBadDialString) || CauseOf(err) != q850.ChanUnavailable {
				t.Errorf("SplitDialString(%q) = %q, %q, %v; want ErrBadDialString with cause 44", tc.dial, tech, res, err)
			}
			continue
		}
		if err != nil || tech != tc.tech || res != tc.resource {
			t.Errorf("SplitDialString(%q) = %q, %q, %v", tc.dial, tech, res, err)
		}
	}
}

// TestTechnologiesLookup: technologies are found by name or alias, in any
// case (dial strings written for chan_sip still work); Names lists them
// without aliases.
func TestTechnologiesLookup(t *testing.T) {
	techs := NewTechnologies(TechnologiesOptions{})
	pjsip, local := &recordingTech{}, &recordingTech{}
	techs.Register(pjsip, "PJSIP", "SIP")
	techs.Register(local, "Local")
	for _, tc := range []struct {
		name string
		want Technology
	}{
		{"PJSIP", pjsip}, {"pjsip", pjsip}, {"SIP", pjsip}, {"sip", pjsip}, {"Local", local}, {"LOCAL", local},
		{"IAX2", nil}, {"", nil},
	} {
		got, ok := techs.Lookup(tc.name)
		if ok != (tc.want != nil) || got != tc.want {
			t.Errorf("Lookup(%q) = %v, %v", tc.name, got, ok)
		}
	}
	if got := techs.Names(); !slices.Equal(got, []string{"Local", "PJSIP"}) {
		t.Errorf("Names() = %v", got)
	}
}

// TestRequestPolicy: Request resolves the resource, applies the tenant
// policy and only then calls the technology; what the policy refuses
// never reaches it.
func TestRequestPolicy(t *testing.T) {
	for _, tc := range []struct {
		name   string
		dial   string
		dest   Destination // what the technology resolves to
		parent *Options    // the calling channel; nil: an admin's Originate
		tenant string      // Request.Tenant
		max    map[string]int
		held   string // a leg of this tenant is up already
		// resolveErr fails the technology's Resolve.
		resolveErr error
		wantErr    error
		wantCause  int
		wantCalled bool
		// wantTenant is the tenant Resolve is asked about.
		wantTenant string
	}{
		{
			name: "a leg to a user is placed", dial: "Fake/1001",
			dest: Destination{Tech: "Fake", Tenant: "acme"}, tenant: "acme",
			wantCalled: true, wantTenant: "acme",
		},
		{
			name: "an alias reaches the technology", dial: "sip/1001",
			dest: Destination{Tech: "Fake", Tenant: "acme"}, tenant: "acme",
			wantCalled: true, wantTenant: "acme",
		},
		{
			name: "an unknown technology is cause 44, and nothing is resolved", dial: "IAX2/1001",
			wantErr: ErrNoTechnology, wantCause: q850.ChanUnavailable,
		},
		{
			name: "a dial string without a resource", dial: "Fake",
			wantErr: ErrBadDialString, wantCause: q850.ChanUnavailable,
		},
		{
			name: "the technology's own refusal keeps its cause", dial: "Fake/nobody", tenant: "acme",
			resolveErr: &RequestError{Cause: q850.SubscriberAbsent, Err: errors.New("no such endpoint")},
			wantCause:  q850.SubscriberAbsent, wantTenant: "acme",
		},
		{
			name: "the calling channel's tenant wins over Request.Tenant", dial: "Fake/1001",
			dest:   Destination{Tech: "Fake", Tenant: "acme"},
			parent: &Options{Tech: "T", Endpoint: "caller", Tenant: "acme"}, tenant: "other",
			wantCalled: true, wantTenant: "acme",
		},
		{
			name: "a caller without outbound cannot use a trunk", dial: "Fake/555@carrier",
			dest:    Destination{Tech: "Fake", Tenant: "acme", External: true, Number: "555"},
			parent:  &Options{Tech: "T", Endpoint: "caller", Tenant: "acme", Denied: tenancy.ServiceOutbound},
			wantErr: tenancy.ErrServiceOff, wantCause: q850.ChanUnavailable, wantTenant: "acme",
		},
		{
			name: "a caller without international cannot dial 00", dial: "Fake/0044123@carrier",
			dest:    Destination{Tech: "Fake", Tenant: "acme", External: true, Number: "0044123"},
			parent:  &Options{Tech: "T", Endpoint: "caller", Tenant: "acme", Denied: tenancy.ServiceInternational},
			wantErr: tenancy.ErrServiceOff, wantCause: q850.ChanUnavailable, wantTenant: "acme",
		},
		{
			name: "a caller without international may still dial a national number", dial: "Fake/0123@carrier",
			dest:       Destination{Tech: "Fake", Tenant: "acme", External: true, Number: "0123"},
			parent:     &Options{Tech: "T", Endpoint: "caller", Tenant: "acme", Denied: tenancy.ServiceInternational},
			wantCalled: true, wantTenant: "acme",
		},
		{
			name: "an admin's Originate (no calling channel) has every service", dial: "Fake/+44123@carrier",
			dest: Destination{Tech: "Fake", Tenant: "acme", External: true, Number: "+44123"}, tenant: "acme",
			wantCalled: true, wantTenant: "acme",
		},
		{
			name: "a tenant at its max_calls is congestion, cause 34", dial: "Fake/1001",
			dest: Destination{Tech: "Fake", Tenant: "acme"}, tenant: "acme",
			max: map[string]int{"acme": 1}, held: "acme",
			wantErr: tenancy.ErrCallLimit, wantCause: q850.Congestion, wantTenant: "acme",
		},
		{
			name: "the leg counts against the destination's tenant, not the caller's", dial: "Fake/1001",
			dest: Destination{Tech: "Fake", Tenant: "other"}, tenant: "acme",
			max: map[string]int{"acme": 1}, held: "acme",
			wantCalled: true, wantTenant: "acme",
		},
		{
			name: "a virtual leg (a Local channel's halves) is not counted", dial: "Fake/100@internal",
			dest: Destination{Tech: "Fake", Tenant: "acme", Virtual: true}, tenant: "acme",
			max: map[string]int{"acme": 1}, held: "acme",
			wantCalled: true, wantTenant: "acme",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			reg := NewRegistry("", events.New(), quietLog())
			limits := tenancy.NewLimits()
			limits.SetMax(tc.max)
			if tc.held != "" {
				if _, err := limits.Acquire(tc.held); err != nil {
					t.Fatal(err)
				}
			}
			fake := &recordingTech{reg: reg, dest: tc.dest, resolveErr: tc.resolveErr}
			techs := NewTechnologies(TechnologiesOptions{Limits: limits})
			techs.Register(fake, "Fake", "SIP")
			r := Request{Tenant: tc.tenant}
			if tc.parent != nil {
				r.Parent = reg.New(*tc.parent)
			}
			leg, err := techs.Request(context.Background(), tc.dial, r)
			if tc.wantCalled {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				if leg == nil || leg.Channel == nil {
					t.Fatal("no leg")
				}
			} else {
				if err == nil {
					t.Fatal("placed")
				}
				if tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
					t.Errorf("err %v, want %v", err, tc.wantErr)
				}
				if got := CauseOf(err); got != tc.wantCause {
					t.Errorf("cause %d, want %d", got, tc.wantCause)
				}
			}
			if called := fake.calls() > 0; called != tc.wantCalled {
				t.Errorf("technology called: %v, want %v", called, tc.wantCalled)
			}
			var wantResolved []string
			if tc.wantTenant != "" {
				_, res, _ := SplitDialString(tc.dial)
				wantResolved = []string{tc.wantTenant + "/" + res}
			}
			if !slices.Equal(fake.resolved, wantResolved) {
				t.Errorf("resolved %v, want %v", fake.resolved, wantResolved)
			}
		})
	}
}

// TestRequestCountsUntilHangup: a placed leg holds one of its tenant's
// max_calls until its channel hangs up, by either side; a leg the
// technology fails to call gives it back at once.
func TestRequestCountsUntilHangup(t *testing.T) {
	reg := NewRegistry("", events.New(), quietLog())
	limits := tenancy.NewLimits()
	limits.SetMax(map[string]int{"acme": 2})
	fake := &recordingTech{reg: reg, dest: Destination{Tech: "Fake", Tenant: "acme"}}
	techs := NewTechnologies(TechnologiesOptions{Limits: limits})
	techs.Register(fake, "Fake")
	ctx := context.Background()
	place := func() *Leg {
		t.Helper()
		leg, err := techs.Request(ctx, "Fake/1001", Request{Tenant: "acme"})
		if err != nil {
			t.Fatal(err)
		}
		return leg
	}
	a, b := place(), place()
	if n := limits.Count("acme"); n != 2 {
		t.Fatalf("count %d after two legs", n)
	}
	if _, err := techs.Request(ctx, "Fake/1001", Request{Tenant: "acme"}); !errors.Is(err, tenancy.ErrCallLimit) {
		t.Fatalf("third leg: %v", err)
	}
	a.Channel.Hangup(q850.NormalClearing)
	if n := limits.Count("acme"); n != 1 {
		t.Fatalf("count %d after one leg hung up", n)
	}
	a.Channel.Hangup(q850.NormalClearing) // again: given back once only
	b.Channel.RemoteHangup(q850.NormalClearing)
	if n := limits.Count("acme"); n != 0 {
		t.Fatalf("count %d after both legs hung up", n)
	}

	fake.callErr = &RequestError{Cause: q850.DestOutOfOrder, Err: errors.New("INVITE not sent")}
	if _, err := techs.Request(ctx, "Fake/1001", Request{Tenant: "acme"}); CauseOf(err) != q850.DestOutOfOrder {
		t.Fatalf("failed call: %v (cause %d)", err, CauseOf(err))
	}
	if n := limits.Count("acme"); n != 0 {
		t.Fatalf("a leg that was never called still counts: %d", n)
	}
}

// TestCauseOf: a request error names its cause; any other error is a
// channel that could not be had (44).
func TestCauseOf(t *testing.T) {
	wrapped := errors.Join(errors.New("context"), &RequestError{Cause: q850.UserBusy, Err: errors.New("busy")})
	if CauseOf(wrapped) != q850.UserBusy {
		t.Errorf("wrapped request error: cause %d", CauseOf(wrapped))
	}
	if CauseOf(errors.New("plain")) != q850.ChanUnavailable {
		t.Errorf("plain error: cause %d", CauseOf(errors.New("plain")))
	}
}
