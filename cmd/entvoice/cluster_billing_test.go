//go:build !central

package main

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/entvoice/entvoice/internal/testpeer"
)

// TestClusterPrepaidThroughNode: billing lives at central, a node
// authorizes its trunk calls over the link. A prepaid user with 0.12 EUR
// (12 s at 0.60 EUR/min, billed 6/6) calls out through node A; central is
// killed mid-call: the call goes on and is cut at its 12 s all the same
// (the node holds the limit). While central is away the node refuses the
// prepaid user's next call (its account is known, its offline credit is
// zero) but lets a user without an account call. Central back: the CDRs
// arrive and are rated once, the balance is 0.00, the unbilled call is
// not charged.
func TestClusterPrepaidThroughNode(t *testing.T) {
	needSIPp(t)
	uas := testpeer.StartSIPp(t, testpeer.SIPpOptions{Scenario: "uas_answer", Calls: 3, Timeout: 120 * time.Second,
		Pcap: silencePcap(t, 20*time.Second)})
	c := newCentral(t)
	a := newNodeProcWith(t, "site-a", "127.0.0.2", "300ms", fmt.Sprintf("  - {name: carrier, host: %q, context: from-carrier}\n", uas.Addr()))
	a.start(t, "--join", c.hub, "--token", c.token(t, "site-a", "127.0.0.2/32"))
	a.p.waitLog(t, "linked to central", 1)

	for _, u := range []string{"1001", "1002"} {
		c.cli(t, "user", "create", u, "--password", "pw-"+u+"-secret", "--context", "internal", "--tenant", "default")
	}
	c.cli(t, "ext", "add", "--tenant", "default", "--context", "internal", "--exten", "_00X.", "--priority", "1", "--app", "Set", "--appdata", "BILLING_WARNING_SECONDS=6")
	c.cli(t, "ext", "add", "--tenant", "default", "--context", "internal", "--exten", "_00X.", "--priority", "2", "--app", "Dial", "--appdata", "PJSIP/${EXTEN}@carrier,20,g")
	c.cli(t, "ext", "add", "--tenant", "default", "--context", "internal", "--exten", "_00X.", "--priority", "3", "--app", "Set", "--appdata", "CDR(userfield)=${BILLING(status)}")
	c.cli(t, "billing", "set", "--tenant", "default", "--country-code", "33", "--national-prefix", "0", "--intl-prefix", "00")
	deck := filepath.Join(t.TempDir(), "deck.csv")
	if err := os.WriteFile(deck, []byte("prefix,description,rate_per_min,connect_fee,initial_s,increment_s,effective_from\n"+
		"33,France,0.60,0,6,6,2026-01-01\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	c.cli(t, "rate", "import", "--tenant", "default", deck)
	c.cli(t, "account", "set", "--tenant", "default", "--user", "1001", "--prepaid", "--currency", "EUR")
	c.cli(t, "account", "topup", "--tenant", "default", "--user", "1001", "0.12", "--idempotency-key", "first")
	a.register(t, "1001", "pw-1001-secret", 5*time.Second)

	// The call, with central killed 4 s in.
	rec := testpeer.RecordRTP(t)
	uac := testpeer.StartSIPp(t, testpeer.SIPpOptions{Target: a.sip, Scenario: "uac_call_until_bye", Service: "0033123456789", Calls: 1,
		AuthUser: "1001", AuthPass: "pw-1001-secret", Timeout: 60 * time.Second,
		Keys: map[string]string{"caller": "1001", "rtp_port": fmt.Sprint(rec.Port())}})
	if !rec.WaitPackets(50, 10*time.Second) {
		t.Fatalf("the call was not answered: %d packets", len(rec.Packets()))
	}
	time.Sleep(3 * time.Second)
	c.p.kill9()
	res := uac.Wait(40 * time.Second)
	if res == nil || res.ExitCode != 0 {
		t.Fatalf("the call did not end with the node's BYE: %+v", res)
	}
	pkts := rec.Packets()
	if lasted := pkts[len(pkts)-1].At.Sub(pkts[0].At); lasted < 11*time.Second || lasted > 14*time.Second {
		t.Errorf("with central gone mid-call the call lasted %v for 12 s of credit", lasted)
	}
	if w := energyBetween(pkts, pkts[0].At, 6*time.Second, 10*time.Second); w < 1000 {
		t.Errorf("no warning heard before the end (energy %.0f)", w)
	}

	// Central away: the prepaid user is refused, a user without account
	// calls (not charged).
	a.p.waitLog(t, "link to central down", 1)
	// (The node knows 1001 has an account from the grant of its first
	// call, and from the list of accounts it fetches every minute.)
	refused := testpeer.RunSIPp(t, testpeer.SIPpOptions{Target: a.sip, Scenario: "uac_expect_code", Service: "0033123456789", Calls: 1,
		AuthUser: "1001", AuthPass: "pw-1001-secret", Keys: map[string]string{"caller": "1001", "code": "403"}})
	if r := refused; r.ExitCode != 0 {
		t.Errorf("the prepaid user's call with central away was not refused with 403: exit %d", r.ExitCode)
	}
	a.register(t, "1002", "pw-1002-secret", 5*time.Second)
	unbilled := testpeer.StartSIPp(t, testpeer.SIPpOptions{Target: a.sip, Scenario: "uac_call_auth", Service: "0033123456789", Calls: 1,
		AuthUser: "1002", AuthPass: "pw-1002-secret", Timeout: 60 * time.Second, Keys: map[string]string{"caller": "1002", "hold_ms": "1000"}})
	if r := unbilled.Wait(30 * time.Second); r == nil || r.ExitCode != 0 {
		t.Errorf("the call of a user without account with central away: %+v", r)
	}

	// Central back: every CDR arrives and is rated once; the balance is 0.
	c.start(t)
	a.p.waitLog(t, "linked to central", 2)
	deadline := time.Now().Add(20 * time.Second)
	var acct map[string]any
	for {
		acct = nil
		c.apiCall(t, http.MethodGet, "/tenants/default/accounts/1001", "", &acct)
		if acct["balance_minor"] == 0.0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if acct["balance_minor"] != 0.0 {
		t.Fatalf("balance after the cut-off call: %+v", acct)
	}
	seen, total := c.cdrs(t)
	if total != 3 || len(seen) != 3 {
		t.Errorf("central holds %d CDRs (%d distinct), want the 3 calls once each", total, len(seen))
	}
}
