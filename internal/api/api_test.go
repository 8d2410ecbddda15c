package api

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/entvoice/entvoice/internal/cdr"
	"github.com/entvoice/entvoice/internal/cdrstore"
	"github.com/entvoice/entvoice/internal/digest"
	"github.com/entvoice/entvoice/internal/provision"
	"github.com/entvoice/entvoice/internal/store"
	"github.com/entvoice/entvoice/internal/store/storetest"
)

func TestUsersCRUDPatchAndSecrets(t *testing.T) {
	storetest.Run(t, func(t *testing.T, opts store.Options) {
		e := newEnv(t, opts)
		tok := e.tenantToken("acme", "acme.example.com")
		const pw = "Pa55word-acme"
		var u provision.User
		r := e.must(201, "POST", "/api/v1/tenants/acme/users", tok, map[string]any{
			"name": "1001", "password": pw, "callerid": `"Alice" <1001>`, "codecs": []string{"pcma"},
			"permit": []string{"10.0.0.0/8"}, "services": map[string]bool{"recording": false}})
		r.json(t, &u)
		if r.header.Get("Location") != "/api/v1/tenants/acme/users/1001" {
			t.Errorf("Location = %q", r.header.Get("Location"))
		}
		ha1 := digest.HA1("MD5", "1001", "acme.example.com", pw)
		ha1s := digest.HA1("SHA-256", "1001", "acme.example.com", pw)
		for _, raw := range [][]byte{r.body, e.must(200, "GET", "/api/v1/tenants/acme/users/1001", tok, nil).body,
			e.must(200, "GET", "/api/v1/tenants/acme/users", tok, nil).body} {
			for _, secret := range []string{pw, ha1, ha1s, "ha1", "password"} {
				if bytes.Contains(raw, []byte(secret)) {
					t.Fatalf("response carries %q: %s", secret, raw)
				}
			}
		}
		if !u.Enabled || u.Context != "default" || u.MaxContacts != 5 || u.Realm != "acme.example.com" {
			t.Fatalf("defaults: %+v", u)
		}
		// PATCH changes only what is sent.
		var p provision.User
		e.must(200, "PATCH", "/api/v1/tenants/acme/users/1001", tok, map[string]any{"callerid": `"Al" <1001>`}).json(t, &p)
		if p.CallerID != `"Al" <1001>` || p.Context != u.Context || len(p.Codecs) != 1 || p.Codecs[0] != "pcma" ||
			len(p.Permit) != 1 || p.Services.Recording == nil || *p.Services.Recording || !p.Enabled || p.Revision <= u.Revision {
			t.Fatalf("PATCH callerid changed other fields: %+v", p)
		}
		stored, _ := e.repo.GetUser(context.Background(), "acme", "1001")
		if stored.HA1MD5 != ha1 {
			t.Fatal("PATCH without password changed the HA1")
		}
		// A field set to null in a PATCH is refused, naming it: absent
		// keeps a value, null is no way to say anything else.
		for _, field := range []string{"password", "context", "enabled", "codecs", "services"} {
			pr := e.must(400, "PATCH", "/api/v1/tenants/acme/users/1001", tok, map[string]any{field: nil, "language": "fr"}).problem(t)
			if len(pr.Errors) != 1 || pr.Errors[0].Field != field {
				t.Errorf("PATCH %s: null: problem %+v, want it to name the field", field, pr)
			}
		}
		if again, _ := e.repo.GetUser(context.Background(), "acme", "1001"); again.Language == "fr" || again.HA1MD5 != ha1 {
			t.Fatalf("a refused PATCH changed the user: %+v", again)
		}
		e.must(400, "PATCH", "/api/v1/tenants/acme", tok, map[string]any{"max_calls": nil})
		// services: null unsets, absent keeps.
		var sw provision.Switches
		e.must(200, "PATCH", "/api/v1/tenants/acme/users/1001/services", tok, map[string]any{"recording": nil, "agi": false}).json(t, &sw)
		if sw.Recording != nil || sw.AGI == nil || *sw.AGI {
			t.Fatalf("services after PATCH: %+v", sw)
		}
		sw = provision.Switches{}
		e.must(200, "PUT", "/api/v1/tenants/acme/users/1001/services", tok, map[string]any{"voicemail": true}).json(t, &sw)
		if sw.AGI != nil || sw.Voicemail == nil || !*sw.Voicemail {
			t.Fatalf("services after PUT: %+v", sw)
		}
		e.must(200, "PATCH", "/api/v1/tenants/acme/users/1001", tok, map[string]any{"password": "n3w-password"})
		stored, _ = e.repo.GetUser(context.Background(), "acme", "1001")
		if stored.HA1MD5 != digest.HA1("MD5", "1001", "acme.example.com", "n3w-password") {
			t.Fatal("PATCH password did not recompute the HA1")
		}
		e.must(200, "PATCH", "/api/v1/tenants/acme/services", tok, map[string]any{"international": false})
		e.must(204, "DELETE", "/api/v1/tenants/acme/users/1001", tok, nil)
		e.must(404, "GET", "/api/v1/tenants/acme/users/1001", tok, nil).problem(t)
	})
}

func TestProblemsAndValidation(t *testing.T) {
	storetest.Run(t, func(t *testing.T, opts store.Options) {
		e := newEnv(t, opts)
		tok := e.tenantToken("acme", "acme.test")
		// Unknown field: 400 naming it.
		p := e.must(400, "POST", "/api/v1/tenants/acme/users", tok, map[string]any{"name": "1001", "password": "long-enough", "secret": "x"}).problem(t)
		if len(p.Errors) != 1 || p.Errors[0].Field != "secret" {
			t.Fatalf("unknown field problem: %+v", p)
		}
		p = e.must(400, "PATCH", "/api/v1/tenants/acme", tok, map[string]any{"services": map[string]any{"fax": true}}).problem(t)
		if p.Errors[0].Field != "services.fax" {
			t.Fatalf("unknown service: %+v", p)
		}
		p = e.must(400, "POST", "/api/v1/tenants/acme/users", tok, map[string]any{"name": 1001}).problem(t)
		if p.Errors[0].Field != "name" {
			t.Fatalf("type error: %+v", p)
		}
		e.must(400, "POST", "/api/v1/tenants/acme/users", tok, `{"name":`, "Content-Type", "application/json").problem(t)
		e.must(415, "POST", "/api/v1/tenants/acme/users", tok, `name=1`, "Content-Type", "application/x-www-form-urlencoded").problem(t)
		// Every invalid field at once: 422.
		p = e.must(422, "POST", "/api/v1/tenants/acme/users", tok, map[string]any{"name": "a b", "password": "short",
			"codecs": []string{"opus"}, "permit": []string{"10.1.2.3/40"}, "max_contacts": 1000}).problem(t)
		got := map[string]string{}
		for _, f := range p.Errors {
			got[f.Field] = f.Message
		}
		for _, f := range []string{"name", "password", "codecs[0]", "permit[0]", "max_contacts"} {
			if got[f] == "" {
				t.Errorf("no error for %s: %+v", f, p.Errors)
			}
		}
		if !strings.Contains(got["permit[0]"], "bad CIDR") || !strings.Contains(got["codecs[0]"], "unknown codec") {
			t.Errorf("messages: %v", got)
		}
		e.must(201, "POST", "/api/v1/tenants/acme/users", tok, map[string]any{"name": "1001", "password": "long-enough"})
		p = e.must(409, "POST", "/api/v1/tenants/acme/users", tok, map[string]any{"name": "1001", "password": "long-enough"}).problem(t)
		if p.Errors[0].Field != "name" || !strings.Contains(p.Errors[0].Message, "already exists") {
			t.Fatalf("duplicate user: %+v", p)
		}
		p = e.must(422, "POST", "/api/v1/tenants/acme/extensions", tok, map[string]any{"context": "in", "exten": "_X[1", "priority": 1, "app": "Frobnicate"}).problem(t)
		got = map[string]string{}
		for _, f := range p.Errors {
			got[f.Field] = f.Message
		}
		if !strings.Contains(got["exten"], "bad pattern") || !strings.Contains(got["app"], "unknown application") {
			t.Fatalf("extension problems: %+v", p.Errors)
		}
		p = e.must(422, "POST", "/api/v1/tenants", e.admin, map[string]any{"id": "Bad_ID", "domain": "-x-.example", "status": "gone"}).problem(t)
		if len(p.Errors) != 3 {
			t.Fatalf("tenant problems: %+v", p.Errors)
		}
		// Auth.
		e.must(401, "GET", "/api/v1/tenants", "", nil).problem(t)
		r := e.must(401, "GET", "/api/v1/tenants", "evt_wrong", nil)
		r.problem(t)
		if r.header.Get("WWW-Authenticate") == "" {
			t.Error("401 without WWW-Authenticate")
		}
		e.must(403, "POST", "/api/v1/tenants", tok, map[string]any{"id": "mine"}).problem(t)
		e.must(403, "PATCH", "/api/v1/tenants/acme", tok, map[string]any{"max_calls": 1000}).problem(t)
		e.must(404, "GET", "/api/v1/nothing", tok, nil).problem(t)
		r = e.must(405, "PUT", "/api/v1/tenants/acme/users/1001", tok, map[string]any{})
		r.problem(t)
		if r.header.Get("Allow") != "GET, PATCH, DELETE" {
			t.Errorf("Allow = %q", r.header.Get("Allow"))
		}
		e.must(400, "GET", "/api/v1/tenants/acme/users?limit=0", tok, nil).problem(t)
		e.must(400, "GET", "/api/v1/tenants/acme/users?color=red", tok, nil).problem(t)
		e.must(400, "GET", "/api/v1/cdrs?from=yesterday", tok, nil).problem(t)
	})
}

func TestTenantIsolation(t *testing.T) {
	storetest.Run(t, func(t *testing.T, opts store.Options) {
		e := newEnv(t, opts)
		ctx := context.Background()
		ta := e.tenantToken("a", "a.test")
		tb := e.tenantToken("b", "b.test")
		e.must(201, "POST", "/api/v1/tenants/b/users", tb, map[string]any{"name": "1001", "password": "b-password"})
		e.must(201, "POST", "/api/v1/tenants/a/users", ta, map[string]any{"name": "1001", "password": "a-password"})
		var bx provision.Extension
		e.must(201, "POST", "/api/v1/tenants/b/extensions", tb, map[string]any{"context": "in", "exten": "1001", "priority": 1, "app": "Dial", "appdata": "PJSIP/1001"}).json(t, &bx)
		var bTok struct{ ID string }
		e.must(201, "POST", "/api/v1/tokens", tb, map[string]any{"name": "second"}).json(t, &bTok)
		e.must(201, "POST", "/api/v1/ami-users", tb, map[string]any{"name": "b-ami", "secret": "b-ami-secret"})
		var bm provision.QueueMember
		e.must(201, "POST", "/api/v1/tenants/b/queues", tb, map[string]any{"name": "bq", "params": map[string]string{"strategy": "rrmemory"}})
		e.must(201, "POST", "/api/v1/tenants/b/queues/bq/members", tb, map[string]any{"interface": "PJSIP/1001"}).json(t, &bm)
		qm := fmt.Sprint(bm.ID)
		e.ctl.add("PJSIP/b1-00000001", "b")
		e.ctl.add("PJSIP/a1-00000002", "a")
		x := fmt.Sprint(bx.ID)
		body := map[string]any{}
		cases := []struct{ method, path string }{
			{"GET", "/api/v1/tenants/b"}, {"PATCH", "/api/v1/tenants/b"}, {"DELETE", "/api/v1/tenants/b"},
			{"GET", "/api/v1/tenants/b/services"}, {"PUT", "/api/v1/tenants/b/services"}, {"PATCH", "/api/v1/tenants/b/services"},
			{"GET", "/api/v1/tenants/b/users"}, {"POST", "/api/v1/tenants/b/users"}, {"POST", "/api/v1/tenants/b/users/import"},
			{"GET", "/api/v1/tenants/b/users/1001"}, {"PATCH", "/api/v1/tenants/b/users/1001"}, {"DELETE", "/api/v1/tenants/b/users/1001"},
			{"GET", "/api/v1/tenants/b/users/1001/services"}, {"PUT", "/api/v1/tenants/b/users/1001/services"}, {"PATCH", "/api/v1/tenants/b/users/1001/services"},
			{"GET", "/api/v1/tenants/b/users/1001/location"},
			{"GET", "/api/v1/tenants/b/extensions"}, {"POST", "/api/v1/tenants/b/extensions"}, {"POST", "/api/v1/tenants/b/extensions/import"},
			{"GET", "/api/v1/tenants/b/extensions/" + x}, {"PATCH", "/api/v1/tenants/b/extensions/" + x}, {"DELETE", "/api/v1/tenants/b/extensions/" + x},
			// A's own tenant path with B's extension id.
			{"GET", "/api/v1/tenants/a/extensions/" + x}, {"PATCH", "/api/v1/tenants/a/extensions/" + x}, {"DELETE", "/api/v1/tenants/a/extensions/" + x},
			{"GET", "/api/v1/tokens/" + bTok.ID}, {"DELETE", "/api/v1/tokens/" + bTok.ID},
			{"GET", "/api/v1/ami-users/b-ami"}, {"PATCH", "/api/v1/ami-users/b-ami"}, {"DELETE", "/api/v1/ami-users/b-ami"},
			{"DELETE", "/api/v1/calls/" + url.PathEscape("PJSIP/b1-00000001")},
			{"GET", "/api/v1/calls?tenant=b"}, {"POST", "/api/v1/calls"},
			{"GET", "/api/v1/conferences?tenant=b"}, {"GET", "/api/v1/conferences/800/participants?tenant=b"},
			{"POST", "/api/v1/conferences/800/mute?tenant=b"}, {"POST", "/api/v1/conferences/800/unmute?tenant=b"},
			{"POST", "/api/v1/conferences/800/kick?tenant=b"},
			{"GET", "/api/v1/cdrs?tenant=b"}, {"GET", "/api/v1/cdrs/export?tenant=b"},
			// Billing.
			{"GET", "/api/v1/tenants/b/billing"}, {"PUT", "/api/v1/tenants/b/billing"},
			{"GET", "/api/v1/tenants/b/rate-decks"}, {"GET", "/api/v1/tenants/b/rate-decks/d"}, {"POST", "/api/v1/tenants/b/rate-decks/d/import"},
			{"GET", "/api/v1/tenants/b/rate-decks/d/versions/1/rates"},
			{"GET", "/api/v1/tenants/b/rate-plans"}, {"GET", "/api/v1/tenants/b/rate-plans/p"}, {"PUT", "/api/v1/tenants/b/rate-plans/p"}, {"DELETE", "/api/v1/tenants/b/rate-plans/p"},
			{"GET", "/api/v1/tenants/b/rate-assignments"}, {"PUT", "/api/v1/tenants/b/rate-assignments"}, {"DELETE", "/api/v1/tenants/b/rate-assignments"},
			{"GET", "/api/v1/tenants/b/accounts"}, {"GET", "/api/v1/tenants/b/accounts/1001"}, {"PUT", "/api/v1/tenants/b/accounts/1001"},
			{"POST", "/api/v1/tenants/b/accounts/1001/topups"}, {"POST", "/api/v1/tenants/b/accounts/1001/adjustments"},
			{"GET", "/api/v1/tenants/b/accounts/1001/journal"}, {"GET", "/api/v1/tenants/b/accounts/1001/statement"},
			{"GET", "/api/v1/tenants/b/ratings"}, {"POST", "/api/v1/tenants/b/rerates"},
			// Speech grammars.
			{"GET", "/api/v1/tenants/b/grammars"}, {"GET", "/api/v1/tenants/b/grammars/g"},
			{"PUT", "/api/v1/tenants/b/grammars/g"}, {"DELETE", "/api/v1/tenants/b/grammars/g"},
			// Call queues.
			{"GET", "/api/v1/tenants/b/queues"}, {"POST", "/api/v1/tenants/b/queues"},
			{"GET", "/api/v1/tenants/b/queues/bq"}, {"PATCH", "/api/v1/tenants/b/queues/bq"}, {"DELETE", "/api/v1/tenants/b/queues/bq"},
			{"GET", "/api/v1/tenants/b/queues/bq/members"}, {"POST", "/api/v1/tenants/b/queues/bq/members"},
			{"GET", "/api/v1/tenants/b/queues/bq/members/" + qm}, {"PATCH", "/api/v1/tenants/b/queues/bq/members/" + qm}, {"DELETE", "/api/v1/tenants/b/queues/bq/members/" + qm},
			{"GET", "/api/v1/tenants/a/queues/bq/members/" + qm}, {"DELETE", "/api/v1/tenants/a/queues/bq"},
			{"GET", "/api/v1/tenants/b/queues/bq/stats"}, {"GET", "/api/v1/tenants/b/queues/bq/status"}, {"GET", "/api/v1/tenants/b/queue-log"},
			// Voicemail.
			{"GET", "/api/v1/tenants/b/mailboxes"}, {"POST", "/api/v1/tenants/b/mailboxes"},
			{"GET", "/api/v1/tenants/b/mailboxes/1001"}, {"PATCH", "/api/v1/tenants/b/mailboxes/1001"}, {"DELETE", "/api/v1/tenants/b/mailboxes/1001"},
			{"GET", "/api/v1/tenants/b/mailboxes/1001/messages"}, {"GET", "/api/v1/tenants/b/mailboxes/1001/messages/m1"},
			{"GET", "/api/v1/tenants/b/mailboxes/1001/messages/m1/audio"}, {"DELETE", "/api/v1/tenants/b/mailboxes/1001/messages/m1"},
			// Nodes are the operator's: a tenant token sees none.
			{"POST", "/api/v1/nodes/site-a/revoke"}, {"POST", "/api/v1/nodes/site-a/reload"},
			// So are the bans SIP, AMI and the API share.
			{"DELETE", "/api/v1/security/bans/192.0.2.1"},
		}
		covered := map[string]bool{}
		for _, c := range cases {
			var b any
			switch {
			case c.method == "POST" && strings.HasSuffix(c.path, "/import"):
				b = "name,password\n2001,whatever-pw\n"
			case c.path == "/api/v1/calls":
				b = map[string]any{"tenant": "b", "channel": "PJSIP/1001", "application": "Echo"}
			case c.method != "GET" && c.method != "DELETE":
				b = body
			}
			var r resp
			if s, ok := b.(string); ok {
				r = e.do(c.method, c.path, ta, s, "Content-Type", "text/csv")
			} else {
				r = e.do(c.method, c.path, ta, b)
			}
			if r.status != 404 {
				t.Errorf("A's token: %s %s = %d, want 404: %s", c.method, c.path, r.status, r.body)
				continue
			}
			if p := r.problem(t); p.Type == typeNoRoute {
				t.Errorf("%s %s is not routed", c.method, c.path)
			}
			covered[c.method+" "+routeOf(e.api, c.method, c.path)] = true
		}
		// Every route that names a tenant's object is in the suite.
		for _, rt := range e.api.Routes() {
			if strings.Contains(rt.Pattern, "{") && !covered[rt.Method+" "+rt.Pattern] {
				t.Errorf("isolation suite misses %s %s", rt.Method, rt.Pattern)
			}
		}
		// Nothing of B changed, and lists show only A.
		if _, err := e.repo.GetUser(ctx, "b", "1001"); err != nil {
			t.Fatal(err)
		}
		if _, err := e.repo.GetExtension(ctx, "b", bx.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := e.repo.GetToken(ctx, bTok.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := e.repo.GetAMIUser(ctx, "b-ami"); err != nil {
			t.Fatal(err)
		}
		// A token for B, or an admin token, cannot be minted with A's token.
		e.must(404, "POST", "/api/v1/tokens", ta, map[string]any{"name": "x", "tenant": "b"}).problem(t)
		var mine tokenCreated
		e.must(201, "POST", "/api/v1/tokens", ta, map[string]any{"name": "x"}).json(t, &mine)
		if mine.Tenant != "a" || mine.Value == "" {
			t.Fatalf("A's new token %+v", mine)
		}
		if len(e.ctl.hungup) != 0 || len(e.ctl.original) != 0 {
			t.Fatalf("controller was reached: %v %v", e.ctl.hungup, e.ctl.original)
		}
		var tl list[provision.Tenant]
		e.must(200, "GET", "/api/v1/tenants", ta, nil).json(t, &tl)
		if len(tl.Items) != 1 || tl.Items[0].ID != "a" {
			t.Fatalf("A lists tenants %+v", tl.Items)
		}
		var kl list[provision.Token]
		e.must(200, "GET", "/api/v1/tokens", ta, nil).json(t, &kl)
		for _, k := range kl.Items {
			if k.Tenant != "a" {
				t.Fatalf("A lists token %+v", k)
			}
		}
		var cl list[call]
		e.must(200, "GET", "/api/v1/calls", ta, nil).json(t, &cl)
		if len(cl.Items) != 1 || cl.Items[0].Tenant != "a" {
			t.Fatalf("A lists calls %+v", cl.Items)
		}
		// CDRs: B's never show in A's list or export.
		base := time.Date(2026, 1, 1, 10, 0, 0, 0, time.UTC)
		var recs []cdr.Record
		for i := range 30 {
			ten := []string{"a", "b"}[i%2]
			recs = append(recs, cdr.Record{Tenant: ten, Src: "1001", Dst: "200" + fmt.Sprint(i%3), UniqueID: fmt.Sprintf("%s-%d", ten, i),
				Start: base.Add(time.Duration(i) * time.Minute), Disposition: cdr.DispositionAnswered, Channel: "PJSIP/" + ten})
		}
		if err := cdrstore.Insert(ctx, e.st, recs); err != nil {
			t.Fatal(err)
		}
		var seen []string
		cursor := ""
		for {
			var page list[cdr.Row]
			e.must(200, "GET", "/api/v1/cdrs?limit=4"+cursor, ta, nil).json(t, &page)
			for _, r := range page.Items {
				seen = append(seen, r.UniqueID)
			}
			if page.NextCursor == "" {
				break
			}
			cursor = "&cursor=" + page.NextCursor
		}
		if len(seen) != 15 {
			t.Fatalf("A's pages: %v", seen)
		}
		for _, u := range seen {
			if !strings.HasPrefix(u, "a-") {
				t.Fatalf("A's list has %s", u)
			}
		}
		csv := e.must(200, "GET", "/api/v1/cdrs/export", ta, nil)
		if strings.Count(string(csv.body), "\n") != 15 || strings.Contains(string(csv.body), `"b-`) || strings.Contains(string(csv.body), "PJSIP/b") {
			t.Fatalf("A's export:\n%s", csv.body)
		}
		if !strings.HasPrefix(csv.header.Get("Content-Type"), "text/csv") {
			t.Fatalf("export content type %q", csv.header.Get("Content-Type"))
		}
		// Filters: dst and time range, for the admin across tenants.
		var page list[cdr.Row]
		e.must(200, "GET", "/api/v1/cdrs?dst=2001&from="+base.Add(10*time.Minute).Format(time.RFC3339)+"&to="+base.Add(20*time.Minute).Format(time.RFC3339), e.admin, nil).json(t, &page)
		for _, r := range page.Items {
			if r.Dst != "2001" || r.Start.Before(base.Add(10*time.Minute)) || !r.Start.Before(base.Add(20*time.Minute)) {
				t.Fatalf("filtered row %+v", r)
			}
		}
		if len(page.Items) != 4 {
			t.Fatalf("admin filtered %d rows, want 4 (i=10,13,16,19)", len(page.Items))
		}
		// A time range pages in start order with its own cursor form.
		var starts []time.Time
		cursor = ""
		rng := "&from=" + base.Add(5*time.Minute).Format(time.RFC3339) + "&to=" + base.Add(25*time.Minute).Format(time.RFC3339)
		for {
			var page list[cdr.Row]
			e.must(200, "GET", "/api/v1/cdrs?limit=3"+rng+cursor, ta, nil).json(t, &page)
			for _, r := range page.Items {
				starts = append(starts, r.Start)
			}
			if page.NextCursor == "" {
				break
			}
			if !strings.HasPrefix(page.NextCursor, "t") {
				t.Fatalf("time-range cursor %q", page.NextCursor)
			}
			cursor = "&cursor=" + page.NextCursor
		}
		if len(starts) != 10 || !slices.IsSortedFunc(starts, time.Time.Compare) {
			t.Fatalf("A's time-range pages: %v", starts)
		}
		e.must(400, "GET", "/api/v1/cdrs?cursor=t123-4", ta, nil).problem(t)
	})
}

// routeOf finds the registered pattern serving path.
func routeOf(a *API, method, path string) string {
	path, _, _ = strings.Cut(path, "?")
	segs := strings.Split(path, "/")
next:
	for _, rt := range a.Routes() {
		pat := strings.Split(rt.Pattern, "/")
		if rt.Method != method || len(pat) != len(segs) {
			continue
		}
		for i := range pat {
			if !strings.HasPrefix(pat[i], "{") && pat[i] != segs[i] {
				continue next
			}
		}
		return rt.Pattern
	}
	return ""
}

func TestIdempotencyKey(t *testing.T) {
	storetest.Run(t, func(t *testing.T, opts store.Options) {
		e := newEnv(t, opts)
		tok := e.tenantToken("acme", "acme.test")
		body := map[string]any{"name": "1001", "password": "long-enough"}
		r1 := e.must(201, "POST", "/api/v1/tenants/acme/users", tok, body, "Idempotency-Key", "k-1")
		r2 := e.must(201, "POST", "/api/v1/tenants/acme/users", tok, body, "Idempotency-Key", "k-1")
		if !bytes.Equal(r1.body, r2.body) || r2.header.Get("Idempotent-Replayed") != "true" || r2.header.Get("Location") != r1.header.Get("Location") {
			t.Fatalf("replay differs:\n%s\n%s\n%v", r1.body, r2.body, r2.header)
		}
		p := e.must(422, "POST", "/api/v1/tenants/acme/users", tok, map[string]any{"name": "1002", "password": "long-enough"}, "Idempotency-Key", "k-1").problem(t)
		if p.Type != typeIdempotency {
			t.Fatalf("reuse with another body: %+v", p)
		}
		if us, _ := e.repo.ListUsers(context.Background(), "acme", 0, 0); len(us) != 1 {
			t.Fatalf("users after replays: %d", len(us))
		}
		// Keys are per token: the admin's k-1 is a new request.
		e.must(409, "POST", "/api/v1/tenants/acme/users", e.admin, body, "Idempotency-Key", "k-1").problem(t)
		// A stored 4xx replays too.
		r3 := e.must(409, "POST", "/api/v1/tenants/acme/users", tok, body, "Idempotency-Key", "k-2")
		r4 := e.must(409, "POST", "/api/v1/tenants/acme/users", tok, body, "Idempotency-Key", "k-2")
		if !bytes.Equal(r3.body, r4.body) {
			t.Fatal("stored problem not replayed")
		}
		// Without a key, the second create is a conflict.
		e.must(409, "POST", "/api/v1/tenants/acme/users", tok, body)
	})
}

func TestBulkImportAtomic(t *testing.T) {
	storetest.Run(t, func(t *testing.T, opts store.Options) {
		e := newEnv(t, opts)
		ctx := context.Background()
		tok := e.tenantToken("acme", "acme.test")
		rev0, _ := e.repo.Revision(ctx)
		bad := "name,password,codecs\n1001,good-password,pcmu\n1002,short,pcmu\n1003,good-password,opus\n1001,good-password,pcma\n"
		p := e.must(422, "POST", "/api/v1/tenants/acme/users/import", tok, bad, "Content-Type", "text/csv").problem(t)
		lines := map[int]bool{}
		for _, f := range p.Errors {
			lines[f.Line] = true
		}
		if !lines[3] || !lines[4] || !lines[5] || lines[2] {
			t.Fatalf("bad lines reported: %+v", p.Errors)
		}
		conf := "[in]\nexten => 100,1,Answer()\n same => n,Bogus()\nexten => _9[,1,NoOp()\n same => n,Playback(x)\n#include /etc/passwd\n"
		p = e.must(422, "POST", "/api/v1/tenants/acme/extensions/import", tok, conf, "Content-Type", "text/plain").problem(t)
		lines = map[int]bool{}
		for _, f := range p.Errors {
			lines[f.Line] = true
		}
		if !lines[3] || !lines[4] || !lines[6] {
			t.Fatalf("bad conf lines reported: %+v", p.Errors)
		}
		if rev, _ := e.repo.Revision(ctx); rev != rev0 {
			t.Fatalf("failed imports moved the revision")
		}
		if xs, _ := e.repo.ListExtensions(ctx, "acme", provision.ExtensionFilter{}); len(xs) != 0 {
			t.Fatalf("failed import stored %d rows", len(xs))
		}
		e.must(415, "POST", "/api/v1/tenants/acme/users/import", tok, "name,password\n", "Content-Type", "application/json").problem(t)
		var res provision.ImportResult
		e.must(200, "POST", "/api/v1/tenants/acme/users/import", tok, "name,password\n1001,good-password\n1002,good-password\n", "Content-Type", "text/csv").json(t, &res)
		if res.Users != 2 {
			t.Fatalf("import result %+v", res)
		}
		e.must(200, "POST", "/api/v1/tenants/acme/extensions/import", tok, "[in]\nexten => 100,1,Answer()\n same => n,Playback(hello)\n", "Content-Type", "text/plain").json(t, &res)
		e.must(200, "POST", "/api/v1/tenants/acme/extensions/import?replace=true", tok, "context,exten,priority,app,appdata\nin,200,1,Dial,PJSIP/200\n", "Content-Type", "text/csv").json(t, &res)
		if res.Deleted != 2 || res.Extensions != 1 {
			t.Fatalf("replace result %+v", res)
		}
		var xl list[provision.Extension]
		e.must(200, "GET", "/api/v1/tenants/acme/extensions?context=in", tok, nil).json(t, &xl)
		if len(xl.Items) != 1 || xl.Items[0].Exten != "200" {
			t.Fatalf("rows after replace %+v", xl.Items)
		}
	})
}

func TestOpenAPICoverage(t *testing.T) {
	e := newEnv(t, storetest.PostgresOptionsOrSQLite(t))
	var doc struct {
		OpenAPI string                                `json:"openapi"`
		Paths   map[string]map[string]json.RawMessage `json:"paths"`
	}
	e.must(200, "GET", "/api/v1/openapi.json", "", nil).json(t, &doc)
	if doc.OpenAPI != "3.1.0" {
		t.Fatalf("openapi = %q", doc.OpenAPI)
	}
	documented := map[string]bool{}
	for path, ops := range doc.Paths {
		for m := range ops {
			if m == "parameters" {
				continue
			}
			documented[strings.ToUpper(m)+" "+path] = true
		}
	}
	routed := map[string]bool{}
	for _, r := range e.api.Routes() {
		routed[r.Method+" "+r.Pattern] = true
		if !documented[r.Method+" "+r.Pattern] {
			t.Errorf("route %s %s is not in openapi.json", r.Method, r.Pattern)
		}
	}
	var keys []string
	for k := range documented {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if !routed[k] {
			t.Errorf("openapi.json documents %s, which is not routed", k)
		}
		// And the mux really serves it (not the no-route fallback).
		method, path, _ := strings.Cut(k, " ")
		path = regexp.MustCompile(`\{[^}]+\}`).ReplaceAllString(path, "x")
		r := e.do(method, path, e.admin, nil)
		if r.status == 405 {
			t.Errorf("%s: 405", k)
		}
		if strings.HasPrefix(r.header.Get("Content-Type"), "application/problem+json") {
			var p problem
			r.json(t, &p)
			if p.Type == typeNoRoute {
				t.Errorf("%s falls through to no-route", k)
			}
		}
	}
	if len(documented) < 30 {
		t.Fatalf("only %d operations documented", len(documented))
	}
}

func TestDatabaseDown(t *testing.T) {
	storetest.Run(t, func(t *testing.T, opts store.Options) {
		e := newEnv(t, opts)
		if err := e.st.Close(); err != nil {
			t.Fatal(err)
		}
		for _, c := range []struct{ method, path string }{{"GET", "/api/v1/tenants"}, {"POST", "/api/v1/tenants"}, {"GET", "/api/v1/cdrs"}} {
			r := e.must(503, c.method, c.path, e.admin, map[string]any{"id": "x"})
			r.problem(t)
			if r.header.Get("Retry-After") == "" {
				t.Errorf("%s %s: no Retry-After", c.method, c.path)
			}
		}
	})
}

func TestCallsThroughController(t *testing.T) {
	e := newEnv(t, storetest.PostgresOptionsOrSQLite(t))
	tok := e.tenantToken("acme", "acme.test")
	e.ctl.add("PJSIP/1001-00000001", "acme")
	var cl list[call]
	e.must(200, "GET", "/api/v1/calls", tok, nil).json(t, &cl)
	if len(cl.Items) != 1 || cl.Items[0].Channel != "PJSIP/1001-00000001" || cl.Items[0].DurationSeconds != 3 {
		t.Fatalf("calls %+v", cl.Items)
	}
	var o originated
	r := e.must(201, "POST", "/api/v1/calls", tok, map[string]any{"channel": "PJSIP/1001", "context": "in", "exten": "100"})
	r.json(t, &o)
	if o.Reason != 4 || e.ctl.original[0].Tenant != "acme" || e.ctl.original[0].Priority != "1" {
		t.Fatalf("originate %+v %+v", o, e.ctl.original)
	}
	p := e.must(409, "POST", "/api/v1/calls", tok, map[string]any{"channel": "PJSIP/busy", "application": "Echo"}).problem(t)
	if p.Reason == nil || *p.Reason != 5 {
		t.Fatalf("busy originate %+v", p)
	}
	e.must(422, "POST", "/api/v1/calls", tok, map[string]any{"channel": "PJSIP/1001"}).problem(t)
	e.must(204, "DELETE", "/api/v1/calls/"+url.PathEscape("PJSIP/1001-00000001"), tok, nil)
	e.must(404, "DELETE", "/api/v1/calls/"+url.PathEscape("PJSIP/1001-00000001"), tok, nil).problem(t)
}

func TestBootstrapAdminToken(t *testing.T) {
	st := storetest.Open(t, store.Options{DataDir: t.TempDir()})
	repo, err := provision.New(context.Background(), st, provision.Options{})
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{EnvAdminToken: "automation-token-0123456789"}
	var out bytes.Buffer
	created, err := Bootstrap(context.Background(), repo, func(k string) string { return env[k] }, &out, nil)
	if err != nil || !created || out.Len() != 0 {
		t.Fatalf("Bootstrap from env: %v %v %q", created, err, out.String())
	}
	tk, err := repo.LookupToken(context.Background(), "automation-token-0123456789")
	if err != nil || tk.Tenant != "" {
		t.Fatalf("admin token: %+v %v", tk, err)
	}
	var h string
	if err := st.DB().QueryRow("SELECT hash FROM api_tokens").Scan(&h); err != nil || h != provision.HashToken("automation-token-0123456789") {
		t.Fatalf("stored %q %v", h, err)
	}
	created, err = Bootstrap(context.Background(), repo, func(k string) string { return env[k] }, &out, nil)
	if err != nil || created {
		t.Fatalf("second Bootstrap created a token: %v", err)
	}
}

// TestIdempotencyAbandonedReservation: a key reserved by a request whose
// server died (no response stored) answers 409 and is freed once stale.
func TestIdempotencyAbandonedReservation(t *testing.T) {
	e := newEnv(t, storetest.PostgresOptionsOrSQLite(t))
	tok := e.tenantToken("acme", "acme.test")
	body := map[string]any{"name": "1001", "password": "long-enough"}
	e.must(201, "POST", "/api/v1/tenants/acme/users", tok, body, "Idempotency-Key", "k2")
	// Make it a reservation from 3 minutes ago that never got its response.
	reserved := time.Now().Add(-3 * time.Minute).Add(e.api.opts.IdempotencyTTL)
	var n int
	// A fresh reservation (a request still running) is kept.
	if _, err := e.st.DB().Exec("UPDATE idempotency_keys SET status = 0"); err != nil {
		t.Fatal(err)
	}
	e.must(409, "POST", "/api/v1/tenants/acme/users", tok, body, "Idempotency-Key", "k2").problem(t)
	if _ = e.st.DB().QueryRow("SELECT COUNT(*) FROM idempotency_keys").Scan(&n); n != 1 {
		t.Fatalf("fresh reservation freed: %d keys", n)
	}
	if _, err := e.st.DB().Exec(e.st.Rebind("UPDATE idempotency_keys SET status = 0, expires_at = ?"), e.st.TimeArg(reserved)); err != nil {
		t.Fatal(err)
	}
	e.must(409, "POST", "/api/v1/tenants/acme/users", tok, body, "Idempotency-Key", "k2").problem(t)
	_ = e.st.DB().QueryRow("SELECT COUNT(*) FROM idempotency_keys").Scan(&n)
	if n != 0 {
		t.Fatalf("stale reservation kept: %d keys", n)
	}
	// The retry runs afresh (and meets the user the first attempt made).
	e.must(409, "POST", "/api/v1/tenants/acme/users", tok, body, "Idempotency-Key", "k2").problem(t)
	_ = e.st.DB().QueryRow("SELECT status FROM idempotency_keys").Scan(&n)
	if n != 409 {
		t.Fatalf("retry stored status %d", n)
	}
}

// TestStartOnARealListener: Start bootstraps the admin token from the
// environment, serves on a real TCP port and shuts down cleanly; "off"
// starts nothing.
func TestStartOnARealListener(t *testing.T) {
	st := storetest.Open(t, store.Options{DataDir: t.TempDir()})
	repo, err := provision.New(context.Background(), st, provision.Options{})
	if err != nil {
		t.Fatal(err)
	}
	o := Options{Store: st, Provision: repo}
	if s, err := Start(context.Background(), o, "off", nil, nil); s != nil || err != nil {
		t.Fatalf("off: %v %v", s, err)
	}
	getenv := func(k string) string {
		if k == EnvAdminToken {
			return "start-admin-token-0123456789"
		}
		return ""
	}
	s, err := Start(context.Background(), o, "127.0.0.1:0", getenv, nil)
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("GET", "http://"+s.Addr().String()+"/api/v1/tenants", nil)
	req.Header.Set("Authorization", "Bearer start-admin-token-0123456789")
	cl := &http.Client{Timeout: 10 * time.Second}
	res, err := cl.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	_ = res.Body.Close()
	cl.CloseIdleConnections()
	if res.StatusCode != 200 || !strings.Contains(string(body), `"id":"default"`) {
		t.Fatalf("%d %s", res.StatusCode, body)
	}
	if _, err := Start(context.Background(), o, s.Addr().String(), getenv, nil); err == nil {
		t.Fatal("second Start on a bound port succeeded")
	}
	if err := s.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := s.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	var nilServer *Server
	if err := nilServer.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestPruneIdempotencyKeys(t *testing.T) {
	e := newEnv(t, storetest.PostgresOptionsOrSQLite(t))
	tok := e.tenantToken("acme", "acme.test")
	e.must(201, "POST", "/api/v1/tenants/acme/users", tok, map[string]any{"name": "1", "password": "long-enough"}, "Idempotency-Key", "old")
	e.must(201, "POST", "/api/v1/tenants/acme/users", tok, map[string]any{"name": "2", "password": "long-enough"}, "Idempotency-Key", "new")
	if _, err := e.st.DB().Exec(e.st.Rebind("UPDATE idempotency_keys SET expires_at = ? WHERE idem_key = 'old'"), e.st.TimeArg(time.Now().Add(-time.Second))); err != nil {
		t.Fatal(err)
	}
	if err := e.api.PruneIdempotencyKeys(context.Background()); err != nil {
		t.Fatal(err)
	}
	var keys []string
	rows, err := e.st.DB().Query("SELECT idem_key FROM idempotency_keys")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var k string
		_ = rows.Scan(&k)
		keys = append(keys, k)
	}
	_ = rows.Close()
	if len(keys) != 1 || keys[0] != "new" {
		t.Fatalf("keys after prune: %v", keys)
	}
	// An expired key is a new request again.
	e.must(201, "POST", "/api/v1/tenants/acme/users", tok, map[string]any{"name": "3", "password": "long-enough"}, "Idempotency-Key", "old")
}
