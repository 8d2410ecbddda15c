package tenancy

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
)

// Service is one switchable feature a tenant or user may be denied
// (hosted mode's service switches). Applications consult the channel before
// using one: Record checks ServiceRecording, AGI checks ServiceAGI; Admit
// checks ServiceOutbound and ServiceInternational before a trunk leg.
type Service uint32

// Services that can be switched off per tenant and per user.
const (
	ServiceRecording Service = 1 << iota
	ServiceVoicemail
	ServiceAGI
	ServiceSpeech
	ServiceOutbound
	ServiceInternational
)

// AllServices is every service switched on: static users and the default
// tenant.
const AllServices = ServiceRecording | ServiceVoicemail | ServiceAGI | ServiceSpeech | ServiceOutbound | ServiceInternational

// String names a service as the API and logs do.
func (s Service) String() string {
	switch s {
	case ServiceRecording:
		return "recording"
	case ServiceVoicemail:
		return "voicemail"
	case ServiceAGI:
		return "agi"
	case ServiceSpeech:
		return "speech"
	case ServiceOutbound:
		return "outbound"
	case ServiceInternational:
		return "international"
	}
	return "unknown"
}

// Has reports whether every service in want is in s.
func (s Service) Has(want Service) bool { return s&want == want }

// Errors of Admit and Limits.Acquire.
var (
	// ErrServiceOff: the calling party's tenant or user has the service a
	// leg needs switched off (outbound, or international for a number
	// starting with 00 or +). Dial reports CHANUNAVAIL.
	ErrServiceOff = errors.New("service switched off")
	// ErrCallLimit: the tenant is at its max_calls. Dial reports
	// CONGESTION, an INVITE gets 503.
	ErrCallLimit = errors.New("tenant at its limit of concurrent calls")
)

// IsInternational reports whether a dialled number is international: it
// starts with the international prefix 00 or with +.
func IsInternational(number string) bool {
	return strings.HasPrefix(number, "+") || strings.HasPrefix(number, "00")
}

// Leg describes a call leg about to be placed, as the policy sees it.
type Leg struct {
	// Tenant is the tenant the leg counts against: the called user's for
	// a leg to a user, the caller's for a leg through a trunk.
	Tenant string
	// External is a leg that leaves the platform through a trunk.
	External bool
	// Number is the number dialled on an external leg.
	Number string
	// Caller is the calling party's service set (AllServices when the
	// leg is placed by an administrator: AMI or API Originate).
	Caller Service
}

// Admit applies the service switches to a leg: an external leg needs the
// outbound service, and an international number the international one.
func Admit(l Leg) error {
	if !l.External {
		return nil
	}
	if !l.Caller.Has(ServiceOutbound) {
		return fmt.Errorf("%w: outbound calls", ErrServiceOff)
	}
	if IsInternational(l.Number) && !l.Caller.Has(ServiceInternational) {
		return fmt.Errorf("%w: international call to %s", ErrServiceOff, l.Number)
	}
	return nil
}

// Limits counts each tenant's live call legs against its max_calls. The
// limits come from the tenants' configuration (SetMax on every realtime
// change); counting goes on across changes.
type Limits struct {
	max atomic.Pointer[map[string]int]

	mu sync.Mutex
	n  map[string]int
}

// NewLimits returns limits with no tenant limited.
func NewLimits() *Limits { return &Limits{n: map[string]int{}} }

// SetMax replaces the limits: tenant id -> max concurrent legs (absent or
// <= 0: unlimited). The map is not modified afterwards.
func (l *Limits) SetMax(max map[string]int) { l.max.Store(&max) }

// Max is a tenant's limit (0: none).
func (l *Limits) Max(tenant string) int {
	if m := l.max.Load(); m != nil {
		return (*m)[Of(tenant)]
	}
	return 0
}

// Acquire counts one more leg of tenant unless it is at its limit; the
// release func gives the leg back and may be called more than once.
func (l *Limits) Acquire(tenant string) (release func(), err error) {
	tenant = Of(tenant)
	limit := l.Max(tenant)
	l.mu.Lock()
	if limit > 0 && l.n[tenant] >= limit {
		l.mu.Unlock()
		return nil, fmt.Errorf("%w: %s (max_calls %d)", ErrCallLimit, tenant, limit)
	}
	l.n[tenant]++
	l.mu.Unlock()
	var once sync.Once
	return func() { once.Do(func() { l.release(tenant) }) }, nil
}

func (l *Limits) release(tenant string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.n[tenant] <= 1 {
		delete(l.n, tenant)
		return
	}
	l.n[tenant]--
}

// Count is the number of live legs of a tenant.
func (l *Limits) Count(tenant string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.n[Of(tenant)]
}
