package main

import (
	"bytes"
	"fmt"
	"net/http"
	"os"

	"github.com/spf13/cobra"

	"github.com/entvoice/entvoice/internal/apiclient"
)

// newGrammarCmd is `entvoice grammar`: a tenant's speech grammars kept in
// the store, which its dialplan loads by name with
// SpeechLoadGrammar(name,NAME) (docs/speech.md).
func newGrammarCmd() *cobra.Command {
	var f apiFlags
	cmd := &cobra.Command{Use: "grammar", Short: "Manage a tenant's speech grammars (JSGF) kept in the store"}
	f.register(cmd)
	tenant := tenantFlag(cmd)
	path := func(name string) (string, error) {
		t, err := tenant()
		if err != nil {
			return "", err
		}
		p := "/tenants/" + seg(t) + "/grammars"
		if name != "" {
			p += "/" + seg(name)
		}
		return p, nil
	}
	cols := []string{"name", "tenant", "revision", "updated_at"}
	list := &cobra.Command{Use: "list", Short: "List the tenant's grammars", Args: cobra.NoArgs,
		RunE: f.run(func(*cobra.Command, []string) (apiclient.Request, error) {
			p, err := path("")
			return apiclient.Request{Method: http.MethodGet, Path: p}, err
		}, cols)}
	get := &cobra.Command{Use: "get NAME", Short: "Show a grammar and its text", Args: cobra.ExactArgs(1),
		RunE: f.run(func(_ *cobra.Command, a []string) (apiclient.Request, error) {
			p, err := path(a[0])
			return apiclient.Request{Method: http.MethodGet, Path: p}, err
		}, append(cols, "body"))}
	put := &cobra.Command{Use: "put NAME FILE", Short: "Create or replace a grammar from a JSGF file (- for standard input); syntax errors name the line",
		Args: cobra.ExactArgs(2),
		RunE: f.run(func(cmd *cobra.Command, a []string) (apiclient.Request, error) {
			p, err := path(a[0])
			if err != nil {
				return apiclient.Request{}, err
			}
			var b []byte
			if a[1] == "-" {
				var buf bytes.Buffer
				_, err = buf.ReadFrom(cmd.InOrStdin())
				b = buf.Bytes()
			} else {
				b, err = os.ReadFile(a[1])
			}
			if err != nil {
				return apiclient.Request{}, &exitError{code: exitUsage, err: fmt.Errorf("grammar file: %w", err)}
			}
			return apiclient.Request{Method: http.MethodPut, Path: p, Body: bytes.NewReader(b), ContentType: "text/plain"}, nil
		}, cols)}
	del := &cobra.Command{Use: "delete NAME", Short: "Delete a grammar", Args: cobra.ExactArgs(1),
		RunE: f.run(func(_ *cobra.Command, a []string) (apiclient.Request, error) {
			p, err := path(a[0])
			return apiclient.Request{Method: http.MethodDelete, Path: p}, err
		}, nil)}
	cmd.AddCommand(list, get, put, del)
	return cmd
}
