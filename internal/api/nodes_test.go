package api

import (
	"strings"
	"testing"
	"time"

	"github.com/entvoice/entvoice/internal/cluster/pki"
	"github.com/entvoice/entvoice/internal/control"
	"github.com/entvoice/entvoice/internal/store"
)

func TestNodesAPI(t *testing.T) {
	e := newEnv(t, store.Options{DataDir: t.TempDir()})
	var list struct {
		Items []control.NodeInfo `json:"items"`
	}
	e.must(200, "GET", "/api/v1/nodes", e.admin, nil).json(t, &list)
	if list.Items == nil || len(list.Items) != 0 {
		t.Fatalf("nodes before any enrolment: %+v", list.Items)
	}
	var tok struct {
		Name      string    `json:"name"`
		Token     string    `json:"token"`
		ExpiresAt time.Time `json:"expires_at"`
	}
	e.must(201, "POST", "/api/v1/node-tokens", e.admin, map[string]any{"name": "site-a", "allow": []string{"10.1.2.0/24"}, "ttl": "2h"}).json(t, &tok)
	if _, err := pki.ParseToken(tok.Token); err != nil || tok.Name != "site-a" || time.Until(tok.ExpiresAt) < time.Hour {
		t.Fatalf("node token: %+v %v", tok, err)
	}
	for _, bad := range []map[string]any{
		{"name": "site-a", "allow": []string{"10.1.2.0/33"}},
		{"name": "site-a"},
		{"name": "Site_A", "allow": []string{"10.1.2.0/24"}},
		{"name": "site-a", "allow": []string{"10.1.2.0/24"}, "ttl": "-1h"},
	} {
		p := e.must(400, "POST", "/api/v1/node-tokens", e.admin, bad).problem(t)
		if len(p.Errors) != 1 {
			t.Errorf("%v: %+v", bad, p)
		}
	}
	e.must(404, "POST", "/api/v1/nodes/site-a/revoke", e.admin, nil).problem(t)
	e.must(404, "POST", "/api/v1/nodes/site-a/reload", e.admin, nil).problem(t)
	if p := e.must(400, "POST", "/api/v1/nodes/site-a/reload?module=pjsip", e.admin, nil).problem(t); len(p.Errors) != 1 || p.Errors[0].Field != "module" {
		t.Errorf("reload of an unknown module: %+v", p)
	}
	ta := e.tenantToken("a", "a.test")
	if p := e.must(403, "GET", "/api/v1/nodes", ta, nil).problem(t); !strings.Contains(p.Detail, "admin") {
		t.Errorf("tenant listing nodes: %+v", p)
	}
	e.must(403, "POST", "/api/v1/node-tokens", ta, map[string]any{"name": "x", "allow": []string{"10.0.0.0/8"}}).problem(t)

	// Without a hub: 503.
	a, err := New(Options{Store: e.st, Provision: e.repo})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.nodes(&principal{}); err == nil || toProblem(err).Status != 503 {
		t.Fatalf("nodes without a hub = %v", err)
	}
}
