package tenancy

import (
	"errors"
	"testing"
)

// TestAdmit: the service switches decide on legs that leave the platform
// only; a leg to a user of the platform needs no service.
func TestAdmit(t *testing.T) {
	noIntl := AllServices &^ ServiceInternational
	noOut := AllServices &^ ServiceOutbound
	for _, tc := range []struct {
		name string
		leg  Leg
		want error
	}{
		{"a leg to a user needs no service at all", Leg{Tenant: "acme", Caller: 0}, nil},
		{"a leg to a user ignores the number", Leg{Tenant: "acme", Number: "0044123", Caller: 0}, nil},
		{"an external leg with outbound on", Leg{Tenant: "acme", External: true, Number: "5551234", Caller: AllServices}, nil},
		{"an external leg with outbound off", Leg{Tenant: "acme", External: true, Number: "5551234", Caller: noOut}, ErrServiceOff},
		{"outbound off refuses even a trunk leg without a number", Leg{External: true, Caller: noOut}, ErrServiceOff},
		{"a national number needs no international service", Leg{External: true, Number: "0123456", Caller: noIntl}, nil},
		{"00 is the international prefix", Leg{External: true, Number: "0044123", Caller: noIntl}, ErrServiceOff},
		{"+ is international", Leg{External: true, Number: "+44123", Caller: noIntl}, ErrServiceOff},
		{"international with the service on", Leg{External: true, Number: "+44123", Caller: AllServices}, nil},
		{"international needs outbound too", Leg{External: true, Number: "+44123", Caller: ServiceInternational}, ErrServiceOff},
		{"other switches do not matter to calls", Leg{External: true, Number: "+44123", Caller: ServiceOutbound | ServiceInternational}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := Admit(tc.leg)
			if tc.want == nil && err != nil || tc.want != nil && !errors.Is(err, tc.want) {
				t.Fatalf("Admit(%+v) = %v, want %v", tc.leg, err, tc.want)
			}
		})
	}
}

// TestLimitsAcquire: a tenant may hold up to its max_calls legs; no limit
// (absent, 0, negative) is unlimited, and tenants count apart.
func TestLimitsAcquire(t *testing.T) {
	for _, tc := range []struct {
		name    string
		max     map[string]int
		held    map[string]int // legs already held, by tenant
		tenant  string         // the one more leg
		wantErr bool
	}{
		{"under the limit", map[string]int{"acme": 2}, map[string]int{"acme": 1}, "acme", false},
		{"at the limit", map[string]int{"acme": 2}, map[string]int{"acme": 2}, "acme", true},
		{"limit 0 is unlimited", map[string]int{"acme": 0}, map[string]int{"acme": 50}, "acme", false},
		{"a negative limit is unlimited", map[string]int{"acme": -1}, map[string]int{"acme": 50}, "acme", false},
		{"a tenant without an entry is unlimited", map[string]int{"other": 1}, map[string]int{"acme": 50}, "acme", false},
		{"no limits set at all", nil, map[string]int{"acme": 50}, "acme", false},
		{"another tenant's legs do not count", map[string]int{"acme": 1}, map[string]int{"other": 5}, "acme", false},
		{"'' and 'default' are one tenant", map[string]int{"default": 1}, map[string]int{"": 1}, "default", true},
		{"the default tenant's limit applies to ''", map[string]int{"default": 1}, map[string]int{"default": 1}, "", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := NewLimits()
			if tc.max != nil {
				l.SetMax(tc.max)
			}
			for tenant, n := range tc.held {
				for range n {
					if _, err := l.Acquire(tenant); err != nil {
						t.Fatalf("setup: %v", err)
					}
				}
			}
			before := l.Count(tc.tenant)
			release, err := l.Acquire(tc.tenant)
			if tc.wantErr {
				if !errors.Is(err, ErrCallLimit) {
					t.Fatalf("err %v, want ErrCallLimit", err)
				}
				if l.Count(tc.tenant) != before {
					t.Fatalf("a refused leg was counted: %d -> %d", before, l.Count(tc.tenant))
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if l.Count(tc.tenant) != before+1 {
				t.Fatalf("count %d -> %d", before, l.Count(tc.tenant))
			}
			release()
			if l.Count(tc.tenant) != before {
				t.Fatalf("after release %d, want %d", l.Count(tc.tenant), before)
			}
		})
	}
}

// TestLimitsRelease: a release gives back one leg however often it is
// called (a channel may be hung up from both sides), and counting goes on
// across a change of limits.
func TestLimitsRelease(t *testing.T) {
	l := NewLimits()
	l.SetMax(map[string]int{"acme": 2})
	r1, err := l.Acquire("acme")
	if err != nil {
		t.Fatal(err)
	}
	r2, err := l.Acquire("acme")
	if err != nil {
		t.Fatal(err)
	}
	r1()
	r1()
	r1()
	if n := l.Count("acme"); n != 1 {
		t.Fatalf("count after releasing one leg three times: %d, want 1", n)
	}
	// The limit is lowered while a leg is up: that leg stays, new ones
	// wait until the count is under the new limit.
	l.SetMax(map[string]int{"acme": 1})
	if l.Max("acme") != 1 {
		t.Fatalf("max %d", l.Max("acme"))
	}
	if _, err := l.Acquire("acme"); !errors.Is(err, ErrCallLimit) {
		t.Fatalf("acquire at the lowered limit: %v", err)
	}
	r2()
	if n := l.Count("acme"); n != 0 {
		t.Fatalf("count %d, want 0", n)
	}
	if _, err := l.Acquire("acme"); err != nil {
		t.Fatalf("acquire after the release: %v", err)
	}
}

// TestContext: a hosted tenant's context names are namespaced, so no
// tenant can name another's, and the default tenant cannot name any
// tenant's.
func TestContext(t *testing.T) {
	for _, tc := range []struct {
		name, tenant, ctx string
		want              string
		ok                bool
	}{
		{"the default tenant's contexts are not namespaced", "", "internal", "internal", true},
		{"'default' is the default tenant", "default", "internal", "internal", true},
		{"the default tenant cannot name a tenant's context", "", "acme~internal", "", false},
		{"a tenant's bare name is its own", "acme", "internal", "acme~internal", true},
		{"a name that already carries the tenant is kept", "acme", "acme~internal", "acme~internal", true},
		{"another tenant's name is qualified into nowhere", "acme", "other~internal", "acme~other~internal", true},
		{"a prefix of the tenant's id is not the tenant", "acme", "acm~internal", "acme~acm~internal", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := Context(tc.tenant, tc.ctx)
			if ok != tc.ok || ok && got != tc.want {
				t.Fatalf("Context(%q, %q) = %q, %v; want %q, %v", tc.tenant, tc.ctx, got, ok, tc.want, tc.ok)
			}
		})
	}
}

// TestNames: the names a tenant knows (bare contexts, user names) and the
// node's names (qualified contexts, AOR keys) convert both ways.
func TestNames(t *testing.T) {
	for _, tc := range []struct {
		tenant, node, bare string
	}{
		{"", "internal", "internal"},
		{"default", "internal", "internal"},
		{"acme", "acme~internal", "internal"},
		{"acme", "other~internal", "other~internal"}, // not its own: shown as is
	} {
		if got := BareContext(tc.tenant, tc.node); got != tc.bare {
			t.Errorf("BareContext(%q, %q) = %q, want %q", tc.tenant, tc.node, got, tc.bare)
		}
	}
	for _, tc := range []struct {
		tenant, user, aor, splitTenant string
	}{
		{"", "1001", "1001", Default},
		{"default", "1001", "1001", Default},
		{"acme", "1001", "acme~1001", "acme"},
	} {
		if got := AOR(tc.tenant, tc.user); got != tc.aor {
			t.Errorf("AOR(%q, %q) = %q, want %q", tc.tenant, tc.user, got, tc.aor)
		}
		if tid, u := SplitAOR(tc.aor); tid != tc.splitTenant || u != tc.user {
			t.Errorf("SplitAOR(%q) = %q, %q", tc.aor, tid, u)
		}
	}
	if Of("") != Default || Of("acme") != "acme" || !IsDefault("") || !IsDefault(Default) || IsDefault("acme") {
		t.Error("Of/IsDefault do not treat \"\" as the default tenant")
	}
}
