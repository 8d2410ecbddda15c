package cluster

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/entvoice/entvoice/"

// deps lists what pkg compiles (go list -deps).
func deps(t *testing.T, pkg string) []string {
	t.Helper()
	out, err := exec.Command("go", "list", "-deps", module+pkg).Output()
	if err != nil {
		t.Fatalf("go list -deps %s: %v", pkg, err)
	}
	return strings.Fields(string(out))
}

// TestNodeSideImports: each side compiles only what it runs. A node (the
// link) compiles no hub (the registry SQL, central's intake), neither side
// of the protocol depends on the other, no cluster package compiles the
// SIP stack (a located peer is a control.Location), and the API knows the
// nodes through internal/control only.
func TestNodeSideImports(t *testing.T) {
	for _, c := range []struct {
		pkg       string
		forbidden []string
	}{
		{"internal/cluster/link", []string{"internal/cluster/hub", "internal/api", "internal/sipua"}},
		{"internal/cluster/hub", []string{"internal/cluster/link", "internal/api", "internal/sipua"}},
		{"internal/cluster/wire", []string{"internal/cluster/hub", "internal/cluster/link", "internal/cluster/pki", "internal/sipua"}},
		{"internal/cluster/pki", []string{"internal/cluster/hub", "internal/cluster/link", "internal/cluster/wire", "internal/sipua"}},
		{"internal/api", []string{"internal/cluster/"}},
	} {
		for _, d := range deps(t, c.pkg) {
			if slices.ContainsFunc(c.forbidden, func(f string) bool { return strings.HasPrefix(d, module+f) }) {
				t.Errorf("%s compiles %s", c.pkg, strings.TrimPrefix(d, module))
			}
		}
	}
}
