package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestBillingCLI drives the billing verbs against a served binary: a
// deck imported with `rate import` (a bad file refused with each line
// named), a prepaid account, a top-up replayed with the same key applied
// once, the balance shown, a statement.
func TestBillingCLI(t *testing.T) {
	const admin = "admin-token-for-billing-tests-0123456789"
	p := startServe(t, admin, "")
	p.mustCLI(t, "", "tenant", "create", "acme", "--name", "ACME", "--domain", "acme.example")
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.csv")
	good := filepath.Join(dir, "deck.csv")
	hdr := "prefix,description,rate_per_min,connect_fee,initial_s,increment_s,effective_from\n"
	if err := os.WriteFile(bad, []byte(hdr+"33,France,0.01,0,60,60,2026-01-01\n3x,Bad,0.01,0,60,60,2026-01-01\n34,Spain,0.01,0,60,0,2026-01-01\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(good, []byte(hdr+"33,France,0.012,0,60,60,2026-01-01\n336,France mobile,0.60,0,30,6,2026-01-01\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, e, code := p.cli(t, "", "rate", "import", "--tenant", "acme", bad)
	if code != exitInvalid || !strings.Contains(e, "line 3: prefix") || !strings.Contains(e, "line 4: increment_s") {
		t.Fatalf("bad deck: exit %d: %s", code, e)
	}
	var imp map[string]any
	if err := json.Unmarshal([]byte(p.mustCLI(t, "", "rate", "import", "--tenant", "acme", good, "-o", "json")), &imp); err != nil || imp["rates"] != 2.0 || imp["plan_created"] != true {
		t.Fatalf("import: %v %+v", err, imp)
	}
	p.mustCLI(t, "", "account", "set", "--tenant", "acme", "--user", "1001", "--prepaid", "--currency", "EUR")
	for range 2 {
		p.mustCLI(t, "", "account", "topup", "--tenant", "acme", "--user", "1001", "10.50", "--idempotency-key", "pay-42")
	}
	out := p.mustCLI(t, "", "account", "show", "--tenant", "acme", "--user", "1001")
	if !strings.Contains(out, "balance:") || !strings.Contains(out, "10.50") {
		t.Fatalf("account show:\n%s", out)
	}
	var acct map[string]any
	if err := json.Unmarshal([]byte(p.mustCLI(t, "", "account", "show", "--tenant", "acme", "--user", "1001", "-o", "json")), &acct); err != nil ||
		acct["balance"] != 10.5 || acct["balance_minor"] != 1050.0 || acct["kind"] != "prepaid" {
		t.Fatalf("account json: %v %+v", err, acct)
	}
	if _, e, code := p.cli(t, "", "account", "topup", "--tenant", "acme", "--user", "1001", "1.234"); code != exitInvalid || !strings.Contains(e, "decimals") {
		t.Fatalf("3-decimal EUR top-up: exit %d %s", code, e)
	}
	st := p.mustCLI(t, "", "account", "statement", "--tenant", "acme", "--user", "1001", "--from", "2026-01-01T00:00:00Z", "--to", "2099-01-01T00:00:00Z")
	if !strings.Contains(st, "topup,") || !strings.Contains(st, "closing,2099-01-01T00:00:00Z,,,,,,,,10.50,EUR") {
		t.Fatalf("statement:\n%s", st)
	}
	if out := p.mustCLI(t, "", "plan", "list", "--tenant", "acme"); !strings.Contains(out, "default") {
		t.Fatalf("plan list:\n%s", out)
	}
}
