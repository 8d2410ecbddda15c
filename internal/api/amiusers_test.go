package api

import (
	"bytes"
	"context"
	"testing"

	"github.com/entvoice/entvoice/internal/provision"
	"github.com/entvoice/entvoice/internal/store"
	"github.com/entvoice/entvoice/internal/store/storetest"
)

// TestAMIUsers: AMI users through the API on both stores. An admin
// manages every AMI user, a tenant token only its tenant's (its creations
// are bound to it, another tenant's users are not found); secrets are
// stored sealed and never returned; PATCH without a secret keeps it.
func TestAMIUsers(t *testing.T) {
	storetest.Run(t, func(t *testing.T, opts store.Options) {
		e := newEnv(t, opts)
		ctx := context.Background()
		acme := e.tenantToken("acme", "acme.example.com")
		beta := e.tenantToken("beta", "beta.example.com")
		const adminPW, acmePW = "admin-ami-secret", "acme-ami-secret"

		var ops provision.AMIUser
		r := e.must(201, "POST", "/api/v1/ami-users", e.admin, map[string]any{"name": "ops", "secret": adminPW, "read": "all", "write": "call,originate"})
		r.json(t, &ops)
		if r.header.Get("Location") != "/api/v1/ami-users/ops" || ops.Tenant != "" || !ops.AllowMultipleLogin || ops.Write != "call,originate" {
			t.Fatalf("created %+v at %q", ops, r.header.Get("Location"))
		}
		// A tenant token's user is bound to its tenant, whatever it sends.
		var mgr provision.AMIUser
		e.must(201, "POST", "/api/v1/ami-users", acme, map[string]any{"name": "acme-mgr", "secret": acmePW, "read": "call",
			"permit": []string{"10.0.0.0/8"}, "allowmultiplelogin": false}).json(t, &mgr)
		if mgr.Tenant != "acme" || mgr.AllowMultipleLogin || len(mgr.Permit) != 1 {
			t.Fatalf("tenant's AMI user %+v", mgr)
		}
		e.must(404, "POST", "/api/v1/ami-users", acme, map[string]any{"name": "x", "secret": acmePW, "tenant": "beta"}).problem(t)
		e.must(201, "POST", "/api/v1/ami-users", e.admin, map[string]any{"name": "beta-mgr", "secret": "beta-ami-secret", "tenant": "beta", "read": "all"})
		e.must(422, "POST", "/api/v1/ami-users", e.admin, map[string]any{"name": "y", "secret": adminPW, "tenant": "nosuch"}).problem(t)

		// Bad input: a clear problem naming the field.
		for _, tc := range []struct {
			body   map[string]any
			status int
			field  string
		}{
			{map[string]any{"name": "short", "secret": "x"}, 422, "secret"},
			{map[string]any{"name": "bad class", "secret": adminPW}, 422, "name"},
			{map[string]any{"name": "c", "secret": adminPW, "read": "call,everything"}, 422, "read"},
			{map[string]any{"name": "c", "secret": adminPW, "permit": []string{"10.0.0.300/8"}}, 422, "permit[0]"},
			{map[string]any{"name": "ops", "secret": adminPW}, 409, "name"},
			{map[string]any{"name": "c", "secret": adminPW, "bogus": 1}, 400, ""},
		} {
			p := e.must(tc.status, "POST", "/api/v1/ami-users", e.admin, tc.body).problem(t)
			if tc.field != "" && (len(p.Errors) == 0 || p.Errors[0].Field != tc.field) {
				t.Errorf("%v: problem %+v, want field %s", tc.body, p, tc.field)
			}
		}

		// Secrets never come back.
		var all, acmes, betas list[provision.AMIUser]
		raws := [][]byte{r.body, e.must(200, "GET", "/api/v1/ami-users", e.admin, nil).body,
			e.must(200, "GET", "/api/v1/ami-users/acme-mgr", acme, nil).body}
		e.must(200, "GET", "/api/v1/ami-users", e.admin, nil).json(t, &all)
		e.must(200, "GET", "/api/v1/ami-users", acme, nil).json(t, &acmes)
		e.must(200, "GET", "/api/v1/ami-users", beta, nil).json(t, &betas)
		for _, raw := range raws {
			for _, s := range []string{adminPW, acmePW, "secret"} {
				if bytes.Contains(raw, []byte(s)) {
					t.Fatalf("response carries %q: %s", s, raw)
				}
			}
		}
		if len(all.Items) != 3 || len(acmes.Items) != 1 || acmes.Items[0].Name != "acme-mgr" || len(betas.Items) != 1 || betas.Items[0].Name != "beta-mgr" {
			t.Fatalf("lists: admin %+v acme %+v beta %+v", all.Items, acmes.Items, betas.Items)
		}

		// Another tenant's (or an admin's) AMI user is not found for a
		// tenant token, whatever the method.
		for _, name := range []string{"ops", "beta-mgr", "nosuch"} {
			e.must(404, "GET", "/api/v1/ami-users/"+name, acme, nil).problem(t)
			e.must(404, "PATCH", "/api/v1/ami-users/"+name, acme, map[string]any{"read": "all"}).problem(t)
			e.must(404, "DELETE", "/api/v1/ami-users/"+name, acme, nil).problem(t)
		}
		if u, _ := e.repo.GetAMIUser(ctx, "beta-mgr"); u.Read != "all" {
			t.Fatalf("beta's user changed by acme: %+v", u)
		}

		// PATCH changes only what is sent; without a secret the stored
		// one stays, with one it is replaced.
		var p provision.AMIUser
		e.must(200, "PATCH", "/api/v1/ami-users/acme-mgr", acme, map[string]any{"write": "originate"}).json(t, &p)
		if p.Write != "originate" || p.Read != "call" || p.Tenant != "acme" || len(p.Permit) != 1 || p.AllowMultipleLogin || p.Revision <= mgr.Revision {
			t.Fatalf("PATCH write changed other fields: %+v", p)
		}
		if u, err := e.repo.GetAMIUser(ctx, "acme-mgr"); err != nil || u.Secret != acmePW {
			t.Fatalf("secret after PATCH without one: %v", err)
		}
		e.must(422, "PATCH", "/api/v1/ami-users/acme-mgr", acme, map[string]any{"secret": ""}).problem(t)
		e.must(422, "PATCH", "/api/v1/ami-users/acme-mgr", acme, map[string]any{"read": "nope"}).problem(t)
		e.must(400, "PATCH", "/api/v1/ami-users/acme-mgr", acme, map[string]any{"tenant": "beta"}).problem(t)
		e.must(200, "PATCH", "/api/v1/ami-users/acme-mgr", acme, map[string]any{"secret": "new-acme-secret", "permit": []string{}})
		if u, _ := e.repo.GetAMIUser(ctx, "acme-mgr"); u.Secret != "new-acme-secret" || len(u.Permit) != 0 {
			t.Fatalf("after PATCH secret: %+v", u)
		}
		var sealed string
		if err := e.st.DB().QueryRow("SELECT secret_sealed FROM ami_users WHERE name = 'acme-mgr'").Scan(&sealed); err != nil || bytes.Contains([]byte(sealed), []byte("new-acme-secret")) {
			t.Fatalf("secret stored in clear: %v", err)
		}

		e.must(204, "DELETE", "/api/v1/ami-users/acme-mgr", acme, nil)
		e.must(404, "GET", "/api/v1/ami-users/acme-mgr", e.admin, nil).problem(t)
		e.must(204, "DELETE", "/api/v1/ami-users/beta-mgr", e.admin, nil)
		e.must(401, "GET", "/api/v1/ami-users", "", nil).problem(t)
	})
}
