package ami_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/entvoice/entvoice/internal/provision"
	"github.com/entvoice/entvoice/internal/testpeer"
)

// The hosted tenants of these tests, provisioned in the node's store as
// `entvoice serve` does: acme (acme.example) and beta (beta.example), each
// with a SIP user 2001 (password "<tenant>-2001"), realtime extension rows
// of its own in contexts "originate" and "ivr" (the same names as the
// static extensions.conf's, which a tenant can never reach) and an AMI
// user named after it (secret "<tenant>-ami-pw") bound to it; 2001@ivr is a
// hint on the tenant's own PJSIP/2001.
const acmePW = "acme-ami-pw"

var tenantRows = []provision.Extension{
	{Context: "originate", Exten: "100", Priority: 1, App: "Answer"},
	{Context: "originate", Exten: "100", Priority: 2, App: "Wait", AppData: "30"},
	{Context: "originate", Exten: "100", Priority: 3, App: "Hangup"},
	{Context: "originate", Exten: "200", Priority: 1, App: "Set", AppData: "REDIRECTED=${TENANT_MARK}"},
	{Context: "originate", Exten: "200", Priority: 2, App: "Wait", AppData: "30"},
	{Context: "ivr", Exten: "100", Priority: 1, App: "Answer"},
	{Context: "ivr", Exten: "100", Priority: 2, App: "Wait", AppData: "10"},
	{Context: "ivr", Exten: "100", Priority: 3, App: "Hangup"},
	{Context: "ivr", Exten: "2001", Priority: -1, App: "PJSIP/2001"}, // hint
	{Context: "originate", Exten: "400", Priority: 1, App: "AGI", AppData: "agi:async"},
	{Context: "originate", Exten: "400", Priority: 2, App: "Set", AppData: "AFTER=${TENANT_MARK}"},
	{Context: "originate", Exten: "400", Priority: 3, App: "Wait", AppData: "30"},
}

func provisionTenants(ctx context.Context, r *provision.Repo) error {
	for _, tn := range []string{"acme", "beta"} {
		if _, err := r.CreateTenant(ctx, provision.Tenant{ID: tn, Name: tn, Domain: tn + ".example"}); err != nil {
			return err
		}
		if _, err := r.CreateUser(ctx, provision.User{Tenant: tn, Name: "2001", Context: "ivr", Enabled: true}, tn+"-2001"); err != nil {
			return err
		}
		for _, x := range tenantRows {
			x.Tenant = tn
			x.AppData = strings.ReplaceAll(x.AppData, "${TENANT_MARK}", tn)
			if _, err := r.CreateExtension(ctx, x); err != nil {
				return fmt.Errorf("%s row %+v: %w", tn, x, err)
			}
		}
		if _, err := r.PutAMIUser(ctx, provision.AMIUser{Name: tn, Tenant: tn, Secret: tn + "-ami-pw",
			Read: "all", Write: "all", AllowMultipleLogin: true}); err != nil {
			return err
		}
	}
	return nil
}

// startHostedWithUAS is startWithUAS with the hosted tenants above.
func startHostedWithUAS(t *testing.T) (*amiNode, *testpeer.SIPpProc) {
	t.Helper()
	testpeer.SIPpPath(t)
	uas := testpeer.StartSIPp(t, testpeer.SIPpOptions{Scenario: "uas", Timeout: 90 * time.Second})
	n := startAMINodeWith(t, fmt.Sprintf(`users:
  - {name: "1001", secret: pw, context: originate}
trunks:
  - {name: carrier, host: "%s", context: originate}
`, uas.Addr()), originatePlan, provisionTenants)
	return n, uas
}

// originate starts a call through the carrier trunk on c and returns the
// channel from its OriginateResponse.
func originate(t *testing.T, c *rawClient, id, exten string) string {
	t.Helper()
	c.send("Action: Originate", "ActionID: "+id, "Channel: PJSIP/"+exten+"@carrier", "Context: originate",
		"Exten: 100", "Priority: 1", "Async: yes")
	for {
		m := c.until("Event: OriginateResponse")
		if hdr(m, "ActionID") == id {
			if hdr(m, "Response") != "Success" {
				t.Fatalf("originate %s: %q", id, m)
			}
			return hdr(m, "Channel")
		}
	}
}

// TestTenantScope: an AMI user of hosted tenant acme (from the store)
// sees and acts on acme's calls only: the default tenant's calls (admin
// originates) and beta's are invisible to it and out of its reach; it
// originates and redirects into acme's own (realtime) contexts, never the
// static ones of the same name; an admin sees every call.
func TestTenantScope(t *testing.T) {
	n, _ := startHostedWithUAS(t)
	admin := dialRaw(t, n.AMIAddr, "admin", "secret")
	acme := dialRaw(t, n.AMIAddr, "acme", acmePW)
	beta := dialRaw(t, n.AMIAddr, "beta", "beta-ami-pw")

	mine := originate(t, acme, "a1", "700")
	theirs := originate(t, admin, "d1", "701")
	betas := originate(t, beta, "b1", "702")

	// What acme read so far must never name another tenant's channel.
	acme.send("Action: CoreShowChannels", "ActionID: l")
	msgs := acme.untilFn(func(m string) bool { return strings.HasPrefix(m, "Event: CoreShowChannelsComplete") })
	var listed []string
	for _, m := range msgs {
		if strings.Contains(m, theirs) || strings.Contains(m, betas) {
			t.Errorf("acme's AMI user saw another tenant's channel: %q", m)
		}
		if strings.HasPrefix(m, "Event: CoreShowChannel\r\n") {
			listed = append(listed, hdr(m, "Channel"))
			// The tenant's context by its own name, with its tenant.
			if hdr(m, "Tenantid") != "acme" || hdr(m, "Context") != "originate" {
				t.Errorf("tenant channel: %q", m)
			}
		}
		if strings.HasPrefix(m, "Event: Newchannel") && hdr(m, "Channel") == mine && hdr(m, "Tenantid") != "acme" {
			t.Errorf("Newchannel %q", m)
		}
	}
	if len(listed) != 1 || listed[0] != mine {
		t.Errorf("acme lists %v, want [%s]", listed, mine)
	}
	if m := msgs[len(msgs)-1]; hdr(m, "ListItems") != "1" {
		t.Errorf("acme list complete %q", m)
	}
	admin.send("Action: CoreShowChannels")
	msgs = admin.untilFn(func(m string) bool { return strings.HasPrefix(m, "Event: CoreShowChannelsComplete") })
	if m := msgs[len(msgs)-1]; hdr(m, "ListItems") != "3" {
		t.Errorf("admin sees %s channels, want 3", hdr(m, "ListItems"))
	}
	for _, m := range msgs {
		if !strings.HasPrefix(m, "Event: CoreShowChannel\r\n") {
			continue
		}
		if hdr(m, "Channel") == theirs && strings.Contains(m, "Tenantid") {
			t.Errorf("the default tenant's channel has a Tenantid: %q", m)
		}
		if hdr(m, "Channel") == betas && hdr(m, "Tenantid") != "beta" {
			t.Errorf("beta's channel: %q", m)
		}
	}

	// acme cannot touch the other calls, nor reach the static contexts
	// (the static [originate] has 300; acme's has not) or the default
	// tenant's users.
	for _, other := range []string{theirs, betas} {
		for _, tc := range []struct {
			lines []string
			want  string
		}{
			{[]string{"Action: Hangup", "Channel: " + other}, "Response: Error\r\nMessage: No such channel\r\n\r\n"},
			{[]string{"Action: Redirect", "Channel: " + other, "Context: originate", "Exten: 200", "Priority: 1"}, "Response: Error\r\nMessage: Channel does not exist: " + other + "\r\n\r\n"},
			{[]string{"Action: Getvar", "Channel: " + other, "Variable: X"}, "Response: Error\r\nMessage: No such channel\r\n\r\n"},
			{[]string{"Action: Setvar", "Channel: " + other, "Variable: X", "Value: 1"}, "Response: Error\r\nMessage: No such channel\r\n\r\n"},
			{[]string{"Action: Status", "Channel: " + other}, "Response: Error\r\nMessage: No such channel\r\n\r\n"},
		} {
			acme.send(tc.lines...)
			if m := acme.until("Response:"); m != tc.want {
				t.Errorf("%v: %q, want %q", tc.lines, m, tc.want)
			}
		}
	}
	for _, tc := range []struct {
		lines []string
		want  string
	}{
		{[]string{"Action: Getvar", "Variable: GLOBALSECRET"}, "Response: Error\r\nMessage: No such channel\r\n\r\n"},
		{[]string{"Action: Originate", "Channel: PJSIP/1001", "Context: originate", "Exten: 100", "Priority: 1"}, "Response: Error\r\nMessage: Originate failed\r\n\r\n"},
		{[]string{"Action: Originate", "Channel: PJSIP/703@carrier", "Context: originate", "Exten: 300", "Priority: 1"}, "Response: Error\r\nMessage: Extension does not exist.\r\n\r\n"},
		{[]string{"Action: Originate", "Channel: PJSIP/703@carrier", "Context: beta~originate", "Exten: 100", "Priority: 1"}, "Response: Error\r\nMessage: Extension does not exist.\r\n\r\n"},
		{[]string{"Action: Redirect", "Channel: " + mine, "Context: originate", "Exten: 300", "Priority: 1"}, "Response: Error\r\nMessage: Redirect failed\r\n\r\n"},
		{[]string{"Action: Redirect", "Channel: " + mine, "Context: beta~originate", "Exten: 200", "Priority: 1"}, "Response: Error\r\nMessage: Redirect failed\r\n\r\n"},
		{[]string{"Action: DBPut", "Family: f", "Key: k", "Val: v"}, "Response: Error\r\nMessage: Permission denied\r\n\r\n"},
	} {
		acme.send(tc.lines...)
		if m := acme.until("Response:"); m != tc.want {
			t.Errorf("%v: %q, want %q", tc.lines, m, tc.want)
		}
	}
	// acme redirects its own call into its own 200, which sets
	// REDIRECTED=acme (the static 200 would set "yes").
	acme.send("Action: Redirect", "Channel: "+mine, "Context: originate", "Exten: 200", "Priority: 1")
	if m := acme.until("Response:"); m != "Response: Success\r\nMessage: Redirect successful\r\n\r\n" {
		t.Errorf("redirect of its own call: %q", m)
	}
	m := acme.untilFn(func(m string) bool {
		return strings.HasPrefix(m, "Event: VarSet") && hdr(m, "Channel") == mine && hdr(m, "Variable") == "REDIRECTED"
	})
	if v := m[len(m)-1]; hdr(v, "Value") != "acme" || hdr(v, "Context") != "originate" || hdr(v, "Exten") != "200" {
		t.Errorf("after the redirect: %q", v)
	}
	// A regex hangup matches acme's own call only.
	acme.send("Action: Hangup", "Channel: /carrier/")
	if m := acme.until("Response:"); m != "Response: Success\r\nEventList: start\r\nMessage: Channels hung up will follow\r\n\r\n" {
		t.Errorf("regex hangup: %q", m)
	}
	var hung []string
	for {
		m := acme.read()
		if strings.HasPrefix(m, "Event: ChannelHungup") {
			hung = append(hung, hdr(m, "Channel"))
		}
		if strings.HasPrefix(m, "Event: ChannelsHungupListComplete") {
			break
		}
	}
	if len(hung) != 1 || hung[0] != mine {
		t.Errorf("acme's /carrier/ hangup hit %v, want [%s]", hung, mine)
	}
	// acme gets its call's Cdr and Hangup, and never an event of the
	// other calls, which the admin now hangs up.
	acme.untilFn(func(m string) bool { return strings.HasPrefix(m, "Event: Hangup\r\n") && hdr(m, "Channel") == mine })
	for _, other := range []string{theirs, betas} {
		admin.send("Action: Hangup", "Channel: "+other)
		admin.untilFn(func(m string) bool { return strings.HasPrefix(m, "Event: Hangup\r\n") && hdr(m, "Channel") == other })
	}
	acme.send("Action: Ping", "ActionID: end")
	for _, m := range acme.untilFn(func(m string) bool { return hdr(m, "ActionID") == "end" }) {
		if strings.Contains(m, theirs) || strings.Contains(m, betas) {
			t.Errorf("acme's AMI user saw %q", m)
		}
	}
	// beta saw its own call end, and nothing of acme's.
	for _, m := range beta.untilFn(func(m string) bool { return strings.HasPrefix(m, "Event: Hangup\r\n") && hdr(m, "Channel") == betas }) {
		if strings.Contains(m, mine) || strings.Contains(m, theirs) {
			t.Errorf("beta's AMI user saw %q", m)
		}
	}
	n.waitIdle(t)
}
