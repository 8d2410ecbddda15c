package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/entvoice/entvoice/internal/apiclient"
)

// Exit codes of the API verbs (tenant, user, ext, service, token, call,
// cdr), so scripts can tell what went wrong without parsing messages.
const (
	exitOK          = 0
	exitFailure     = 1 // anything else
	exitUsage       = 2 // bad flags or arguments, bad configuration
	exitNotFound    = 3 // 404: no such object (or not in your tenant)
	exitDenied      = 4 // 401/403: missing, wrong or under-privileged token
	exitInvalid     = 5 // 400/409/422: the request was refused; the message says why
	exitUnavailable = 6 // server unreachable or 503
)

// apiFlags are the flags every API verb takes.
type apiFlags struct {
	server, token, output string
}

func (f *apiFlags) register(cmd *cobra.Command) {
	cmd.PersistentFlags().StringVar(&f.server, "server", "", "API server URL (env ENTVOICE_SERVER, default http://127.0.0.1:8080)")
	cmd.PersistentFlags().StringVar(&f.token, "token", "", "API bearer token (env ENTVOICE_TOKEN)")
	cmd.PersistentFlags().StringVarP(&f.output, "output", "o", "table", "output format: table or json")
}

func (f *apiFlags) client() (*apiclient.Client, error) {
	server := f.server
	if server == "" {
		server = os.Getenv("ENTVOICE_SERVER")
	}
	if server == "" {
		server = "http://127.0.0.1:8080"
	}
	if !strings.Contains(server, "://") {
		server = "http://" + server
	}
	token := f.token
	if token == "" {
		token = os.Getenv("ENTVOICE_TOKEN")
	}
	if token == "" {
		return nil, &exitError{code: exitDenied, err: errors.New("no API token: pass --token or set ENTVOICE_TOKEN (serve prints the admin token on first start)")}
	}
	if f.output != "table" && f.output != "json" {
		return nil, &exitError{code: exitUsage, err: fmt.Errorf("-o %q: want table or json", f.output)}
	}
	c := apiclient.New(server, token)
	// HTTPS with a certificate no system CA signed (the self-signed
	// one made on first start): ENTVOICE_CACERT names it.
	if ca := os.Getenv("ENTVOICE_CACERT"); ca != "" {
		b, err := os.ReadFile(ca)
		if err != nil {
			return nil, &exitError{code: exitUsage, err: fmt.Errorf("ENTVOICE_CACERT: %w", err)}
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(b) {
			return nil, &exitError{code: exitUsage, err: fmt.Errorf("ENTVOICE_CACERT %s: no PEM certificate", ca)}
		}
		c.HTTP.Transport = &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}
	}
	return c, nil
}

// call runs one API request under a timeout and maps failures to exit codes.
func (f *apiFlags) call(r apiclient.Request, out any) error {
	c, err := f.client()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	return apiError(c.Do(ctx, r, out))
}

// apiError turns a client error into an exitError with the matching code.
func apiError(err error) error {
	if err == nil {
		return nil
	}
	var p *apiclient.Problem
	if errors.As(err, &p) {
		code := exitFailure
		switch {
		case p.Status == http.StatusNotFound:
			code = exitNotFound
		case p.Status == http.StatusUnauthorized || p.Status == http.StatusForbidden:
			code = exitDenied
		case p.Status == http.StatusServiceUnavailable:
			code = exitUnavailable
		case p.Status >= 400 && p.Status < 500:
			code = exitInvalid
		}
		return &exitError{code: code, err: err}
	}
	if errors.Is(err, apiclient.ErrUnreachable) {
		return &exitError{code: exitUnavailable, err: err}
	}
	return err
}

// printResult writes v (decoded JSON: an object, a list, or an object with
// an "items" list) as JSON or as a table of the given columns.
func printResult(w io.Writer, format string, v any, columns []string) error {
	if format == "json" {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	}
	var rows []map[string]any
	switch t := v.(type) {
	case []any:
		for _, r := range t {
			if m, ok := r.(map[string]any); ok {
				rows = append(rows, m)
			}
		}
	case map[string]any:
		if items, ok := t["items"].([]any); ok {
			return printResult(w, format, items, columns)
		}
		// One object: key/value lines.
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		keys := make([]string, 0, len(t))
		for k := range t {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			fmt.Fprintf(tw, "%s:\t%s\n", k, cell(t[k]))
		}
		return tw.Flush()
	default:
		_, err := fmt.Fprintln(w, cell(v))
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, strings.ToUpper(strings.Join(columns, "\t")))
	for _, r := range rows {
		vals := make([]string, len(columns))
		for i, c := range columns {
			vals[i] = cell(r[c])
		}
		fmt.Fprintln(tw, strings.Join(vals, "\t"))
	}
	return tw.Flush()
}

func cell(v any) string {
	switch t := v.(type) {
	case nil:
		return ""
	case string:
		return t
	case float64:
		if t == float64(int64(t)) {
			return fmt.Sprint(int64(t))
		}
		return fmt.Sprint(t)
	case bool:
		if t {
			return "yes"
		}
		return "no"
	case []any:
		parts := make([]string, len(t))
		for i, x := range t {
			parts[i] = cell(x)
		}
		return strings.Join(parts, ",")
	case map[string]any:
		b, _ := json.Marshal(t)
		return string(b)
	}
	return fmt.Sprint(v)
}
