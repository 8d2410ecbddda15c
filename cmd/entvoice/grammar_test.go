package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestGrammarCLI: `entvoice grammar` against a served binary: put from a
// file, list, get with the text, a syntax error refused (exit 5, the line
// named), delete, then not found (exit 3).
func TestGrammarCLI(t *testing.T) {
	const admin = "admin-token-for-grammar-tests-0123456789"
	p := startServe(t, admin, "")
	p.mustCLI(t, "", "tenant", "create", "acme", "--name", "ACME", "--domain", "acme.example")
	dir := t.TempDir()
	good := filepath.Join(dir, "menu.gram")
	bad := filepath.Join(dir, "bad.gram")
	if err := os.WriteFile(good, []byte("#JSGF V1.0;\ngrammar menu;\npublic <m> = sales | support;\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bad, []byte("#JSGF V1.0;\ngrammar bad;\npublic <m> = sales | ;\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	p.mustCLI(t, "", "grammar", "put", "menu", good, "--tenant", "acme")
	if out := p.mustCLI(t, "", "grammar", "list", "--tenant", "acme"); !strings.Contains(out, "menu") {
		t.Errorf("list: %s", out)
	}
	if out := p.mustCLI(t, "", "grammar", "get", "menu", "--tenant", "acme", "-o", "json"); !strings.Contains(out, "sales | support") {
		t.Errorf("get: %s", out)
	}
	if _, e, code := p.cli(t, "", "grammar", "put", "bad", bad, "--tenant", "acme"); code != exitInvalid || !strings.Contains(e, "bad:3:") {
		t.Errorf("bad grammar: exit %d, %q; want %d naming line 3", code, e, exitInvalid)
	}
	p.mustCLI(t, "", "grammar", "delete", "menu", "--tenant", "acme")
	if _, _, code := p.cli(t, "", "grammar", "get", "menu", "--tenant", "acme"); code != exitNotFound {
		t.Errorf("get after delete: exit %d, want %d", code, exitNotFound)
	}
}
