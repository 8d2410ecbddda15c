package api

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/entvoice/entvoice/internal/cdr"
	"github.com/entvoice/entvoice/internal/cdrstore"
	"github.com/entvoice/entvoice/internal/store"
	"github.com/entvoice/entvoice/internal/store/storetest"
)

const apiDeck = "prefix,description,rate_per_min,connect_fee,initial_s,increment_s,effective_from\r\n" +
	"33,France,0.012,0,60,60,2026-01-01\r\n336,France mobile,0.60,0,30,6,2026-01-01\r\n"

func TestBillingAPI(t *testing.T) {
	storetest.Run(t, func(t *testing.T, opts store.Options) {
		e := newEnv(t, opts)
		acme := e.tenantToken("acme", "acme.example")
		other := e.tenantToken("other", "other.example")
		csvHdr := []string{"Content-Type", "text/csv"}

		// A deck with two bad lines is refused whole, each line named.
		p := e.must(422, "POST", "/api/v1/tenants/acme/rate-decks/default/import", acme, apiDeck+"3x,bad,1,0,60,60,2026-01-01\r\n34,neg,-1,0,60,60,2026-01-01\r\n", csvHdr...).problem(t)
		if len(p.Errors) != 2 || p.Errors[0].Line != 4 || p.Errors[0].Field != "prefix" || p.Errors[1].Line != 5 || p.Errors[1].Field != "rate_per_min" {
			t.Fatalf("errors %+v", p.Errors)
		}
		e.must(415, "POST", "/api/v1/tenants/acme/rate-decks/default/import", acme, apiDeck)
		var imp struct {
			Deck        string `json:"deck"`
			Version     int    `json:"version"`
			Rates       int    `json:"rates"`
			PlanCreated bool   `json:"plan_created"`
			Currency    string `json:"currency"`
		}
		e.must(201, "POST", "/api/v1/tenants/acme/rate-decks/default/import", acme, apiDeck, csvHdr...).json(t, &imp)
		if imp.Version != 1 || imp.Rates != 2 || !imp.PlanCreated || imp.Currency != "EUR" {
			t.Fatalf("import %+v", imp)
		}
		// Another tenant sees none of it.
		e.must(404, "GET", "/api/v1/tenants/acme/rate-decks/default", other, nil)
		e.must(404, "PUT", "/api/v1/tenants/acme/accounts/1001", other, map[string]any{"kind": "prepaid"})

		e.must(422, "PUT", "/api/v1/tenants/acme/accounts/1001", acme, map[string]any{"kind": "prepaid", "currency": "EURO"}).problem(t)
		e.must(201, "PUT", "/api/v1/tenants/acme/accounts/1001", acme, map[string]any{"kind": "prepaid", "currency": "EUR"})
		p = e.must(400, "POST", "/api/v1/tenants/acme/accounts/1001/topups", acme, map[string]any{"amount": "10"}).problem(t)
		if p.Errors[0].Field != "Idempotency-Key" {
			t.Fatalf("%+v", p)
		}
		e.must(422, "POST", "/api/v1/tenants/acme/accounts/1001/topups", acme, map[string]any{"amount": "10.001"}, "Idempotency-Key", "bad")
		e.must(201, "POST", "/api/v1/tenants/acme/accounts/1001/topups", acme, map[string]any{"amount": 10.00}, "Idempotency-Key", "t1")
		r := e.must(201, "POST", "/api/v1/tenants/acme/accounts/1001/topups", acme, map[string]any{"amount": 10.00}, "Idempotency-Key", "t1")
		if r.header.Get("Idempotent-Replayed") != "true" {
			t.Fatal("replay not marked")
		}
		var acct struct {
			Balance      json.Number `json:"balance"`
			BalanceMinor int64       `json:"balance_minor"`
			Available    json.Number `json:"available"`
		}
		e.must(200, "GET", "/api/v1/tenants/acme/accounts/1001", acme, nil).json(t, &acct)
		if acct.Balance.String() != "10.00" || acct.BalanceMinor != 1000 {
			t.Fatalf("account %+v", acct)
		}

		// A call through the trunk is rated and debited.
		start := time.Date(2026, 2, 1, 10, 0, 0, 0, time.UTC)
		if err := cdrstore.Insert(context.Background(), e.st, []cdr.Record{{Tenant: "acme", UniqueID: "u1", Src: "1001", Dst: "+33612345678",
			Channel: "PJSIP/1001-00000001", DstChannel: "PJSIP/carrier-00000002", Start: start, Answer: start, End: start.Add(31 * time.Second),
			BillSec: 31, Duration: 31, Disposition: "ANSWERED"}}); err != nil {
			t.Fatal(err)
		}
		if _, err := e.api.opts.Billing.Rater.RunOnce(context.Background()); err != nil {
			t.Fatal(err)
		}
		var cdrs struct {
			Items []map[string]any `json:"items"`
		}
		e.must(200, "GET", "/api/v1/cdrs", acme, nil).json(t, &cdrs)
		c := cdrs.Items[0]
		if c["rated"] != true || c["cost"] != 0.36 || c["billsec_rated"] != 36.0 || c["currency"] != "EUR" || c["rate_prefix"] != "336" || c["billsec"] != 31.0 {
			t.Fatalf("cdr %+v", c)
		}
		e.must(200, "GET", "/api/v1/tenants/acme/accounts/1001", acme, nil).json(t, &acct)
		if acct.Balance.String() != "9.64" {
			t.Fatalf("balance %s", acct.Balance)
		}
		plain := string(e.must(200, "GET", "/api/v1/cdrs/export", acme, nil).body)
		rated := string(e.must(200, "GET", "/api/v1/cdrs/export?billing=true", acme, nil).body)
		if strings.Contains(plain, "0.36") || rated != strings.TrimSuffix(plain, "\n")+`,"0.36","EUR","36","336","rated"`+"\n" {
			t.Fatalf("export:\n%s\n%s", plain, rated)
		}

		from, to := "2026-02-01T00:00:00Z", "2026-03-01T00:00:00Z"
		html := e.must(200, "GET", "/api/v1/tenants/acme/accounts/1001/statement?from="+from+"&to="+to+"&format=html", acme, nil)
		if !strings.HasPrefix(html.header.Get("Content-Type"), "text/html") || !strings.Contains(string(html.body), "-0.36") {
			t.Fatalf("html %s", html.body)
		}
		csvb := e.must(200, "GET", "/api/v1/tenants/acme/accounts/1001/statement?from="+from+"&to="+to+"&format=csv", acme, nil)
		if !strings.Contains(string(csvb.body), "call,2026-02-01T10:00:00Z,u1,1001,33612345678,France mobile,336,31,36,-0.36,EUR,") {
			t.Fatalf("csv %s", csvb.body)
		}
		e.must(400, "GET", "/api/v1/tenants/acme/accounts/1001/statement?from="+to+"&to="+from, acme, nil).problem(t)
		var journal struct {
			Items []map[string]any `json:"items"`
		}
		e.must(200, "GET", "/api/v1/tenants/acme/accounts/1001/journal", acme, nil).json(t, &journal)
		if len(journal.Items) != 2 || journal.Items[1]["kind"] != "call" || journal.Items[1]["amount"] != -0.36 {
			t.Fatalf("journal %+v", journal.Items)
		}
		// Plans and assignments.
		e.must(200, "PUT", "/api/v1/tenants/acme/rate-plans/vip", acme, map[string]any{"rounding": "down", "decks": []map[string]any{{"deck": "default", "priority": 1}}})
		e.must(422, "PUT", "/api/v1/tenants/acme/rate-plans/bad", acme, map[string]any{"rounding": "nearest", "decks": []map[string]any{{"deck": "nope"}}})
		e.must(200, "PUT", "/api/v1/tenants/acme/rate-assignments", acme, map[string]any{"scope": "user", "subject": "1001", "plan": "vip"})
		e.must(409, "DELETE", "/api/v1/tenants/acme/rate-plans/vip", acme, nil)
		e.must(204, "DELETE", "/api/v1/tenants/acme/rate-assignments?scope=user&subject=1001", acme, nil)
		e.must(204, "DELETE", "/api/v1/tenants/acme/rate-plans/vip", acme, nil)
		var rr struct {
			Calls int `json:"calls"`
		}
		e.must(200, "POST", "/api/v1/tenants/acme/rerates", acme, map[string]any{"from": from, "to": to, "reason": "test"}).json(t, &rr)
		if rr.Calls != 1 {
			t.Fatalf("rerate %+v", rr)
		}
	})
}
