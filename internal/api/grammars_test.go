package api

import (
	"context"
	"strings"
	"testing"

	"github.com/entvoice/entvoice/internal/provision"
	"github.com/entvoice/entvoice/internal/store"
	"github.com/entvoice/entvoice/internal/store/storetest"
)

// TestGrammars: a tenant's speech grammars through the API on both
// stores: PUT creates (201) then replaces (200), as JSGF text or JSON; a
// syntax error is 422 naming line and column; the change feed carries
// every write (the nodes' source); DELETE, then 404.
func TestGrammars(t *testing.T) {
	storetest.Run(t, func(t *testing.T, opts store.Options) {
		e := newEnv(t, opts)
		ctx := context.Background()
		acme := e.tenantToken("acme", "acme.example.com")
		const menu = "#JSGF V1.0;\ngrammar menu;\npublic <m> = sales | support;\n"
		var g provision.Grammar
		r := e.must(201, "PUT", "/api/v1/tenants/acme/grammars/menu", acme, menu, "Content-Type", "text/plain")
		r.json(t, &g)
		if g.Tenant != "acme" || g.Name != "menu" || g.Body != menu || r.header.Get("Location") != "/api/v1/tenants/acme/grammars/menu" {
			t.Fatalf("created %+v at %q", g, r.header.Get("Location"))
		}
		e.must(200, "PUT", "/api/v1/tenants/acme/grammars/menu", acme, map[string]any{"body": strings.Replace(menu, "support", "billing", 1)})
		e.must(200, "GET", "/api/v1/tenants/acme/grammars/menu", acme, nil).json(t, &g)
		if !strings.Contains(g.Body, "billing") {
			t.Errorf("replaced body %q", g.Body)
		}
		p := e.must(422, "PUT", "/api/v1/tenants/acme/grammars/bad", acme, "#JSGF V1.0;\ngrammar bad;\npublic <m> = ( sales | support ;\n").problem(t)
		if !strings.Contains(p.Detail, "bad:3:") {
			t.Errorf("syntax error %q does not name line 3", p.Detail)
		}
		e.must(422, "PUT", "/api/v1/tenants/acme/grammars/no%20spaces", acme, menu)
		var l struct{ Items []provision.Grammar }
		e.must(200, "GET", "/api/v1/tenants/acme/grammars", acme, nil).json(t, &l)
		if len(l.Items) != 1 || l.Items[0].Name != "menu" {
			t.Errorf("list %+v", l.Items)
		}
		snap, err := e.repo.Snapshot(ctx)
		if err != nil || len(snap.Grammars) != 1 {
			t.Fatalf("snapshot grammars %+v %v", snap, err)
		}
		e.must(204, "DELETE", "/api/v1/tenants/acme/grammars/menu", acme, nil)
		e.must(404, "GET", "/api/v1/tenants/acme/grammars/menu", acme, nil)
		e.must(404, "DELETE", "/api/v1/tenants/acme/grammars/menu", acme, nil)
		changes, err := e.repo.Changes(ctx, snap.Revision-1, 100)
		if err != nil {
			t.Fatal(err)
		}
		var kinds []string
		for _, c := range changes {
			if c.Entity == provision.EntityGrammar {
				kinds = append(kinds, c.Grammar.Name+map[bool]string{true: "-", false: "+"}[c.Deleted])
			}
		}
		if strings.Join(kinds, " ") != "menu+ menu-" {
			t.Errorf("change feed %v, want the replace and the delete", kinds)
		}
	})
}
