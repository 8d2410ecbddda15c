package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/entvoice/entvoice/internal/cdr"
	"github.com/entvoice/entvoice/internal/digest"
	"github.com/entvoice/entvoice/internal/provision"
	"github.com/entvoice/entvoice/internal/provision/memfeed"
	"github.com/entvoice/entvoice/internal/testpeer"
)

// The hosted platform of these tests: tenants acme (acme.example) and beta
// (beta.example), each with users 1001 and 1002 and a context "internal"
// of its own, plus a static default tenant whose extensions.conf also has
// 1001. Realtime rows come from an in-memory provision.Source.

const hostedStaticUsers = `users:
  - {name: "1001", secret: static1001, context: phones}
`

const hostedStaticPlan = `[phones]
exten => 1001,1,Dial(PJSIP/1001,5)
exten => 600,1,Answer()
 same => n,Wait(1)
 same => n,Hangup()
`

// tenantRows is the realtime dialplan every tenant gets: _1XXX dials the
// tenant's own user, 2000 answers and waits, 2100 records a second and
// stores RECORD_STATUS in the CDR's userfield, 7000 dials 3003 (a user
// only beta has) and stores DIALSTATUS.
var tenantRows = []provision.Extension{
	{Context: "internal", Exten: "_1XXX", Priority: 1, App: "Dial", AppData: "PJSIP/${EXTEN},10"},
	{Context: "internal", Exten: "2000", Priority: 1, App: "Answer"},
	{Context: "internal", Exten: "2000", Priority: 2, App: "Wait", AppData: "20"},
	{Context: "internal", Exten: "2100", Priority: 1, App: "Answer"},
	{Context: "internal", Exten: "2100", Priority: 2, App: "Record", AppData: "rt-%d.wav,0,1,q"},
	{Context: "internal", Exten: "2100", Priority: 3, App: "Set", AppData: "CDR(userfield)=${RECORD_STATUS}"},
	{Context: "internal", Exten: "2100", Priority: 4, App: "Hangup"},
	{Context: "internal", Exten: "7000", Priority: 1, App: "Dial", AppData: "PJSIP/3003,3"},
	{Context: "internal", Exten: "7000", Priority: 2, App: "Set", AppData: "CDR(userfield)=${DIALSTATUS}"},
	{Context: "internal", Exten: "7000", Priority: 3, App: "Hangup"},
	{Context: "internal", Exten: "7001", Priority: 1, App: "Goto", AppData: "beta~internal,2000,1"},
}

type hosted struct {
	*testNode
	src *memfeed.Source
	ids map[string]int64 // "tenant/user" -> user id
}

func tenantUser(tenant, domain, name, pass string) provision.User {
	return provision.User{
		Tenant: tenant, Name: name, Context: "internal", Enabled: true,
		CallerID: fmt.Sprintf(`"%s %s" <%s>`, tenant, name, name),
		HA1MD5:   digest.HA1("MD5", name, domain, pass), HA1SHA256: digest.HA1("SHA-256", name, domain, pass),
	}
}

func startHosted(t *testing.T) *hosted {
	t.Helper()
	src := memfeed.New()
	h := &hosted{src: src, ids: map[string]int64{}}
	for _, tn := range []string{"acme", "beta"} {
		domain := tn + ".example"
		src.PutTenant(provision.Tenant{ID: tn, Name: tn, Domain: domain, Status: "active"})
		for _, u := range []string{"1001", "1002"} {
			id, _ := src.PutUser(tenantUser(tn, domain, u, tn+"-"+u))
			h.ids[tn+"/"+u] = id
		}
		for _, x := range tenantRows {
			x.Tenant = tn
			src.PutExtension(x)
		}
	}
	id, _ := src.PutUser(tenantUser("beta", "beta.example", "3003", "beta-3003"))
	h.ids["beta/3003"] = id
	h.testNode = startNode(t, nodeSpec{yaml: hostedStaticUsers, dialplan: hostedStaticPlan, source: src})
	if got, want := h.Revision(), src.Revision(); got != want {
		t.Fatalf("revision in force after start %d, want %d", got, want)
	}
	return h
}

// tenantPhone is a phone of a tenant user, registering in its domain.
func (h *hosted) tenantPhone(t *testing.T, tenant, user string, tone float64) *phone {
	t.Helper()
	p := h.phone(t, user, tenant+"-"+user, testpeer.PCMU, tone)
	p.domain = tenant + ".example"
	return p
}

// waitInForce waits for a revision to be in force on the node.
func (h *hosted) waitInForce(t *testing.T, rev int64) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := h.WaitRevision(ctx, rev); err != nil {
		t.Fatal(err)
	}
}

func cdrFor(rows []cdr.Record, src, dst string) (cdr.Record, bool) {
	var last cdr.Record
	found := false
	for _, r := range rows {
		if r.Src == src && r.Dst == dst && (!found || r.Sequence > last.Sequence) {
			last, found = r, true
		}
	}
	return last, found
}

// waitCDR waits for a CDR from src to dst and returns the latest one.
func waitCDR(t *testing.T, n *testNode, src, dst string) cdr.Record {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		if r, ok := cdrFor(n.cdrs(t, 0), src, dst); ok {
			return r
		}
		if time.Now().After(deadline) {
			t.Fatalf("no CDR %s -> %s", src, dst)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestHostedTenantsCallWithinTenant: two tenants both have 1001 and 1002
// in their own domains; each registers and calls within its tenant with
// audio both ways, the call rings the right tenant's phone only, and the
// CDR carries the tenant and the tenant's own context name.
func TestHostedTenantsCallWithinTenant(t *testing.T) {
	h := startHosted(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	phones := map[string]*phone{}
	tones := map[string]float64{"acme/1001": 500, "acme/1002": 700, "beta/1001": 900, "beta/1002": 1100}
	for k, tone := range tones {
		tn, u, _ := strings.Cut(k, "/")
		phones[k] = h.tenantPhone(t, tn, u, tone)
		phones[k].register(ctx)
	}
	if n := len(h.SIP.Registrar().Lookup("acme~1001")); n != 1 {
		t.Fatalf("acme 1001 bindings: %d", n)
	}
	if n := len(h.SIP.Registrar().Lookup("1001")); n != 0 {
		t.Fatalf("a tenant phone registered as the static 1001: %d bindings", n)
	}
	// A tenant phone with the static user's password is refused: the
	// realm and the users are the tenant's.
	wrong := h.phone(t, "1001", "static1001", testpeer.PCMU, 400)
	wrong.domain = "acme.example"
	if code := wrong.tryRegister(ctx, "static1001"); code == 200 {
		t.Fatal("static password accepted for acme's 1001")
	}

	for _, tn := range []string{"acme", "beta"} {
		caller, callee := phones[tn+"/1001"], phones[tn+"/1002"]
		c, code, err := caller.dial(ctx, "1002")
		if err != nil || code != 200 {
			t.Fatalf("%s: dial: code %d err %v", tn, code, err)
		}
		time.Sleep(2 * time.Second)
		if f, a := tones[tn+"/1002"], caller.heardTone(tones[tn+"/1002"]); a < 3000 {
			t.Errorf("%s: caller should hear the callee's %.0f Hz: %.0f", tn, f, a)
		}
		if f, a := tones[tn+"/1001"], callee.heardTone(tones[tn+"/1001"]); a < 3000 {
			t.Errorf("%s: callee should hear the caller's %.0f Hz: %.0f", tn, f, a)
		}
		c.hangup(ctx)
		h.waitIdle(t)
		callee.mu.Lock()
		from := callee.lastFrom
		callee.mu.Unlock()
		if from != tn+".example" {
			t.Errorf("%s: the callee was called from host %q, want its domain", tn, from)
		}
	}
	for k, p := range phones {
		want := 0
		if strings.HasSuffix(k, "/1002") {
			want = 1
		}
		if n := p.inviteCount(); n != want {
			t.Errorf("%s got %d INVITEs, want %d", k, n, want)
		}
	}
	rows := h.cdrs(t, 2)
	for _, tn := range []string{"acme", "beta"} {
		var r cdr.Record
		found := false
		for _, x := range rows {
			if x.Tenant == tn {
				r, found = x, true
			}
		}
		if !found {
			t.Fatalf("no CDR of tenant %s in %+v", tn, rows)
		}
		if r.Disposition != "ANSWERED" || r.Src != "1001" || r.Dst != "1002" || r.DContext != "internal" || !strings.HasPrefix(r.DstChannel, "PJSIP/1002-") {
			t.Errorf("%s CDR %+v", tn, r)
		}
	}
}

// TestHostedIsolation: acme's phone cannot reach beta's extensions or
// users: an extension only beta has is 404, Dial of a user only beta has
// is CHANUNAVAIL without an INVITE to it, and a Goto naming beta's context
// leads nowhere.
func TestHostedIsolation(t *testing.T) {
	h := startHosted(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	beta3003 := h.tenantPhone(t, "beta", "3003", 700)
	beta3003.register(ctx)
	acme := h.tenantPhone(t, "acme", "1001", 500)
	acme.register(ctx)
	_, rev := h.src.PutExtension(provision.Extension{Tenant: "beta", Context: "internal", Exten: "5555", Priority: 1, App: "Answer"})
	h.waitInForce(t, rev)

	if _, code, _ := acme.dial(ctx, "5555"); code != 404 {
		t.Errorf("acme dialling beta's 5555: %d, want 404", code)
	}
	if _, code, _ := acme.dial(ctx, "600"); code != 404 {
		t.Errorf("acme dialling the static default tenant's 600: %d, want 404", code)
	}
	if _, code, _ := acme.dial(ctx, "7000"); code == 200 {
		t.Error("7000 answered")
	}
	if _, code, _ := acme.dial(ctx, "7001"); code == 200 {
		t.Error("Goto(beta~internal,...) from acme answered")
	}
	h.waitIdle(t)
	if n := beta3003.inviteCount(); n != 0 {
		t.Errorf("beta's 3003 got %d INVITEs from acme", n)
	}
	if r := waitCDR(t, h.testNode, "1001", "7000"); r.UserField != "CHANUNAVAIL" || r.Tenant != "acme" {
		t.Errorf("7000 CDR %+v, want userfield CHANUNAVAIL", r)
	}
	// Beta's 3003 itself is reachable within beta.
	beta1001 := h.tenantPhone(t, "beta", "1001", 900)
	beta1001.register(ctx)
	c, code, err := beta1001.dial(ctx, "7000")
	if err != nil || code != 200 {
		t.Fatalf("beta dialling 7000: %d %v", code, err)
	}
	c.hangup(ctx)
	h.waitIdle(t)
	if n := beta3003.inviteCount(); n != 1 {
		t.Errorf("beta's 3003 got %d INVITEs, want 1", n)
	}
}

// TestRealtimeDisableUser: disabling a user drops its registration and
// refuses its next INVITE (403) once the change is in force; enabling it
// again lets it register. Deleting a user does the same.
func TestRealtimeDisableUser(t *testing.T) {
	h := startHosted(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	p := h.tenantPhone(t, "acme", "1002", 500)
	p.register(ctx)
	other := h.tenantPhone(t, "beta", "1002", 600)
	other.register(ctx)
	if c, code, err := p.dial(ctx, "2000"); err != nil || code != 200 {
		t.Fatalf("call before the change: %d %v", code, err)
	} else {
		c.hangup(ctx)
	}
	h.waitIdle(t)

	u, _ := h.src.User(h.ids["acme/1002"])
	u.Enabled = false
	changed := time.Now()
	h.src.PutUser(u)
	// Poll the registrar, as a client would see it (generous deadline;
	// the latency is measured by BenchmarkChangeInForce).
	for len(h.SIP.Registrar().Lookup("acme~1002")) != 0 {
		if time.Since(changed) > 10*time.Second {
			t.Fatal("registration of the disabled user still there")
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Logf("registration dropped %v after the change", time.Since(changed))
	if _, code, _ := p.dial(ctx, "2000"); code != 403 {
		t.Errorf("INVITE of the disabled user: %d, want 403", code)
	}
	if code := p.tryRegister(ctx, "acme-1002"); code != 403 {
		t.Errorf("REGISTER of the disabled user: %d, want 403", code)
	}
	if n := len(h.SIP.Registrar().Lookup("beta~1002")); n != 1 {
		t.Errorf("beta's 1002 lost its registration: %d bindings", n)
	}

	u.Enabled = true
	_, rev := h.src.PutUser(u)
	h.waitInForce(t, rev)
	p.register(ctx)

	// Suspending the tenant disables all its users.
	rev = h.src.PutTenant(provision.Tenant{ID: "acme", Name: "acme", Domain: "acme.example", Status: "suspended"})
	h.waitInForce(t, rev)
	if n := len(h.SIP.Registrar().Lookup("acme~1002")); n != 0 {
		t.Errorf("suspended tenant's user keeps %d bindings", n)
	}
	if _, code, _ := p.dial(ctx, "2000"); code != 403 {
		t.Errorf("INVITE of a suspended tenant's user: %d, want 403", code)
	}

	// Deleting a user: its INVITE is challenged as from an unknown
	// endpoint, whatever it answers (Asterisk's artificial endpoint).
	h.waitInForce(t, h.src.DeleteUser(h.ids["beta/1002"]))
	if n := len(h.SIP.Registrar().Lookup("beta~1002")); n != 0 {
		t.Errorf("deleted user keeps %d bindings", n)
	}
	if _, code, _ := other.dial(ctx, "2000"); code != 401 {
		t.Errorf("INVITE of a deleted user: %d, want 401", code)
	}
}

// TestRealtimeNewExtension: an extension added at runtime routes the next
// call; one deleted is 404 again.
func TestRealtimeNewExtension(t *testing.T) {
	h := startHosted(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	p := h.tenantPhone(t, "beta", "1001", 500)
	p.register(ctx)
	if _, code, _ := p.dial(ctx, "4000"); code != 404 {
		t.Fatalf("4000 before it exists: %d, want 404", code)
	}
	id1, _ := h.src.PutExtension(provision.Extension{Tenant: "beta", Context: "internal", Exten: "4000", Priority: 1, App: "Answer"})
	_, rev := h.src.PutExtension(provision.Extension{Tenant: "beta", Context: "internal", Exten: "4000", Priority: 2, App: "Wait", AppData: "10"})
	h.waitInForce(t, rev)
	c, code, err := p.dial(ctx, "4000")
	if err != nil || code != 200 {
		t.Fatalf("4000 after it was added: %d %v", code, err)
	}
	c.hangup(ctx)
	h.waitIdle(t)
	// Acme has no 4000: the row is beta's.
	a := h.tenantPhone(t, "acme", "1001", 500)
	a.register(ctx)
	if _, code, _ := a.dial(ctx, "4000"); code != 404 {
		t.Errorf("acme dialling beta's new 4000: %d, want 404", code)
	}
	h.waitInForce(t, h.src.DeleteExtension(id1))
	if _, code, _ := p.dial(ctx, "4000"); code != 404 {
		t.Errorf("4000 after its first priority was deleted: %d, want 404", code)
	}
}

// TestRealtimeRecordingSwitch: with the tenant's recording switched off,
// Record fails cleanly with RECORD_STATUS=ERROR; a user's switch turns it
// off for that user alone.
func TestRealtimeRecordingSwitch(t *testing.T) {
	h := startHosted(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	p := h.tenantPhone(t, "acme", "1001", 500)
	p.register(ctx)
	q := h.tenantPhone(t, "acme", "1002", 500)
	q.register(ctx)
	record := func(ph *phone) string {
		t.Helper()
		before := len(h.cdrs(t, 0))
		c, code, err := ph.dial(ctx, "2100")
		if err != nil || code != 200 {
			t.Fatalf("dial 2100: %d %v", code, err)
		}
		select {
		case <-c.done: // the node hangs up after Record
		case <-time.After(10 * time.Second):
			c.hangup(ctx)
		}
		c.stop()
		h.waitIdle(t)
		rows := h.cdrs(t, before+1)
		if len(rows) <= before {
			t.Fatal("no CDR")
		}
		r, ok := cdrFor(rows, ph.user, "2100")
		if !ok || r.Tenant != "acme" {
			t.Fatalf("no 2100 CDR of acme in %+v", rows)
		}
		return r.UserField
	}
	if got := record(p); got == "ERROR" || got == "" {
		t.Fatalf("RECORD_STATUS with recording on: %q", got)
	}
	off := false
	rev := h.src.PutTenant(provision.Tenant{ID: "acme", Name: "acme", Domain: "acme.example", Status: "active", Services: provision.Switches{Recording: &off}})
	h.waitInForce(t, rev)
	if got := record(p); got != "ERROR" {
		t.Errorf("RECORD_STATUS with the tenant's recording off: %q, want ERROR", got)
	}
	on := true
	h.src.PutTenant(provision.Tenant{ID: "acme", Name: "acme", Domain: "acme.example", Status: "active", Services: provision.Switches{Recording: &on}})
	u, _ := h.src.User(h.ids["acme/1002"])
	u.Services.Recording = &off
	_, rev = h.src.PutUser(u)
	h.waitInForce(t, rev)
	if got := record(q); got != "ERROR" {
		t.Errorf("RECORD_STATUS with the user's recording off: %q, want ERROR", got)
	}
	if got := record(p); got == "ERROR" {
		t.Errorf("another user's switch turned recording off for 1001")
	}
}

// TestHostedMaxCalls: a tenant at max_calls gets 503 for its next INVITE;
// other tenants are not limited, and the tenant can call again once its
// call ended.
func TestHostedMaxCalls(t *testing.T) {
	h := startHosted(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	h.waitInForce(t, h.src.PutTenant(provision.Tenant{ID: "beta", Name: "beta", Domain: "beta.example", Status: "active", MaxCalls: 1}))
	b1 := h.tenantPhone(t, "beta", "1001", 500)
	b1.register(ctx)
	b2 := h.tenantPhone(t, "beta", "1002", 500)
	b2.register(ctx)
	a1 := h.tenantPhone(t, "acme", "1001", 500)
	a1.register(ctx)
	a2 := h.tenantPhone(t, "acme", "1002", 500)
	a2.register(ctx)

	c, code, err := b1.dial(ctx, "2000")
	if err != nil || code != 200 {
		t.Fatalf("first beta call: %d %v", code, err)
	}
	if _, code, _ := b2.dial(ctx, "2000"); code != 503 {
		t.Errorf("beta's second call: %d, want 503", code)
	}
	ca, code, err := a1.dial(ctx, "2000")
	if err != nil || code != 200 {
		t.Fatalf("acme is not limited: %d %v", code, err)
	}
	cb, code, err := a2.dial(ctx, "2000")
	if err != nil || code != 200 {
		t.Fatalf("acme's second call: %d %v", code, err)
	}
	c.hangup(ctx)
	ca.hangup(ctx)
	cb.hangup(ctx)
	h.waitIdle(t)
	waitTenantIdle(t, h.testNode, "beta")
	c, code, err = b2.dial(ctx, "2000")
	if err != nil || code != 200 {
		t.Fatalf("beta after its call ended: %d %v", code, err)
	}
	c.hangup(ctx)
	h.waitIdle(t)
	waitTenantIdle(t, h.testNode, "beta")

	// A Dial leg past the limit: the caller's channel is beta's one call,
	// so the leg to 1002 is refused with CONGESTION and 1002 never rings.
	for p, x := range []provision.Extension{
		{Exten: "3000", App: "Dial", AppData: "PJSIP/1002,5"},
		{Exten: "3000", App: "Set", AppData: "CDR(userfield)=${DIALSTATUS}"},
		{Exten: "3000", App: "Hangup"},
	} {
		x.Tenant, x.Context, x.Priority = "beta", "internal", p+1
		_, rev := h.src.PutExtension(x)
		h.waitInForce(t, rev)
	}
	if _, code, _ := b1.dial(ctx, "3000"); code == 200 {
		t.Error("Dial past max_calls answered")
	}
	h.waitIdle(t)
	if r := waitCDR(t, h.testNode, "1001", "3000"); r.UserField != "CONGESTION" || r.Tenant != "beta" {
		t.Errorf("Dial past max_calls: CDR %+v, want DIALSTATUS CONGESTION", r)
	}
	if n := b2.inviteCount(); n != 0 {
		t.Errorf("beta's 1002 rang %d times past the limit", n)
	}
}

// waitTenantIdle waits until a tenant's call count is back to zero: a leg
// releases its count when its last SIP transaction is over, shortly after
// the channel is gone.
func waitTenantIdle(t *testing.T, n *testNode, tenant string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for n.SIP.TenantCalls(tenant) != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%s still counts %d calls", tenant, n.SIP.TenantCalls(tenant))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestRealtimeSIPpBeforeAndAfter: a real SIPp UAC, as a realtime user of
// the default tenant, is refused an extension that does not exist yet,
// completes a call once a realtime row adds it, and is refused (403) once
// its user is disabled.
func TestRealtimeSIPpBeforeAndAfter(t *testing.T) {
	src := memfeed.New()
	id, _ := src.PutUser(provision.User{Tenant: provision.DefaultTenant, Name: "2001", Context: "phones", Enabled: true,
		HA1MD5: digest.HA1("MD5", "2001", "entvoice", "pass2001"), HA1SHA256: digest.HA1("SHA-256", "2001", "entvoice", "pass2001")})
	n := startNode(t, nodeSpec{yaml: hostedStaticUsers, dialplan: hostedStaticPlan, source: src})
	expectRefused(t, n, "2001", "pass2001", "700", 404)

	wait := func(rev int64) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := n.WaitRevision(ctx, rev); err != nil {
			t.Fatal(err)
		}
	}
	src.PutExtension(provision.Extension{Context: "phones", Exten: "700", Priority: 1, App: "Answer"})
	src.PutExtension(provision.Extension{Context: "phones", Exten: "700", Priority: 2, App: "Wait", AppData: "5"})
	// A row that collides with extensions.conf is shadowed by it.
	_, rev := src.PutExtension(provision.Extension{Context: "phones", Exten: "600", Priority: 1, App: "Congestion"})
	wait(rev)
	for _, exten := range []string{"700", "600"} {
		res := testpeer.RunSIPp(t, testpeer.SIPpOptions{
			Target: n.Addr, Scenario: "uac_call_auth", Service: exten, Calls: 1,
			AuthUser: "2001", AuthPass: "pass2001", Keys: map[string]string{"caller": "2001", "hold_ms": "500"},
		})
		if res.ExitCode != 0 {
			t.Fatalf("SIPp call to %s after the change: exit %d", exten, res.ExitCode)
		}
	}
	n.waitIdle(t)
	r := waitCDR(t, n, "2001", "700")
	if r.Disposition != "ANSWERED" || r.Tenant != provision.DefaultTenant || r.DContext != "phones" {
		t.Errorf("CDR of the realtime call: %+v", r)
	}

	u, _ := src.User(id)
	u.Enabled = false
	_, rev = src.PutUser(u)
	wait(rev)
	expectRefused(t, n, "2001", "pass2001", "700", 403)
}

func (p *phone) inviteCount() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.invites
}

// TestHostedTrunkServices: a tenant's calls go out through the platform's
// static trunk only while its outbound service is on, and to international
// numbers (00...) only while international is on too; a refused Dial is
// CHANUNAVAIL and the trunk never sees an INVITE.
func TestHostedTrunkServices(t *testing.T) {
	carrier := newPhone(t, "127.0.0.1:9", "carrier", "", testpeer.PCMU, 300)
	src := memfeed.New()
	src.PutTenant(provision.Tenant{ID: "acme", Name: "acme", Domain: "acme.example", Status: "active"})
	uid, _ := src.PutUser(tenantUser("acme", "acme.example", "1001", "acme-1001"))
	for _, x := range []provision.Extension{
		{Context: "internal", Exten: "_9.", Priority: 1, App: "Dial", AppData: "PJSIP/${EXTEN:1}@carrier1,5"},
		{Context: "internal", Exten: "_9.", Priority: 2, App: "Set", AppData: "CDR(userfield)=${DIALSTATUS}"},
		{Context: "internal", Exten: "_9.", Priority: 3, App: "Hangup"},
	} {
		x.Tenant = "acme"
		src.PutExtension(x)
	}
	n := startNode(t, nodeSpec{yaml: fmt.Sprintf("trunks:\n  - {name: carrier1, host: \"127.0.0.1:%d\", context: from-trunk}\n", carrier.port),
		dialplan: "[from-trunk]\nexten => s,1,Hangup()\n", source: src})
	h := &hosted{testNode: n, src: src}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	p := h.tenantPhone(t, "acme", "1001", 500)
	p.register(ctx)

	dial := func(number string) (int, string) {
		t.Helper()
		c, code, err := p.dial(ctx, number)
		if err != nil {
			t.Fatalf("dial %s: %v", number, err)
		}
		if c != nil {
			c.hangup(ctx)
		}
		h.waitIdle(t)
		r := waitCDR(t, h.testNode, "1001", number)
		return code, r.UserField
	}
	if code, _ := dial("9555"); code != 200 {
		t.Fatalf("call through the trunk with every service on: %d", code)
	}
	if carrier.inviteCount() != 1 {
		t.Fatalf("carrier got %d INVITEs", carrier.inviteCount())
	}
	off := false
	h.waitInForce(t, src.PutTenant(provision.Tenant{ID: "acme", Name: "acme", Domain: "acme.example", Status: "active", Services: provision.Switches{Outbound: &off}}))
	if code, status := dial("9556"); code == 200 || status != "CHANUNAVAIL" {
		t.Errorf("outbound off: code %d DIALSTATUS %q, want CHANUNAVAIL", code, status)
	}
	h.waitInForce(t, src.PutTenant(provision.Tenant{ID: "acme", Name: "acme", Domain: "acme.example", Status: "active"}))
	u, _ := src.User(uid)
	u.Services.International = &off
	_, rev := src.PutUser(u)
	h.waitInForce(t, rev)
	if code, status := dial("900441234"); code == 200 || status != "CHANUNAVAIL" {
		t.Errorf("international off, 00 number: code %d DIALSTATUS %q, want CHANUNAVAIL", code, status)
	}
	if code, status := dial("9+441234"); code == 200 || status != "CHANUNAVAIL" {
		t.Errorf("international off, + number: code %d DIALSTATUS %q, want CHANUNAVAIL", code, status)
	}
	if code, _ := dial("9557"); code != 200 {
		t.Errorf("national call with international off: %d", code)
	}
	if carrier.inviteCount() != 2 {
		t.Errorf("carrier got %d INVITEs, want 2", carrier.inviteCount())
	}
}
