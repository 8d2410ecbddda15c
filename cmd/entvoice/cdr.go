package main

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"net/url"
	"os"

	"github.com/spf13/cobra"

	"github.com/entvoice/entvoice/internal/apiclient"
	"github.com/entvoice/entvoice/internal/cdr"
	"github.com/entvoice/entvoice/internal/cdrstore"
	"github.com/entvoice/entvoice/internal/config"
	"github.com/entvoice/entvoice/internal/store"
)

// cdrFilters are the CDR query's filters, as flags.
var cdrFilters = []fieldFlag{
	{"tenant", "tenant", "only this tenant's CDRs (admin tokens)", "string"},
	{"from", "from", "start at or after (RFC 3339)", "string"},
	{"to", "to", "start before (RFC 3339)", "string"},
	{"src", "src", "source (caller) number", "string"},
	{"dst", "dst", "destination extension", "string"},
	{"disposition", "disposition", "ANSWERED, NO ANSWER, BUSY, FAILED, CONGESTION", "string"},
}

func newCDR() *cobra.Command {
	cmd := &cobra.Command{Use: "cdr", Short: "Call detail records"}
	var f apiFlags
	f.register(cmd)
	list := &cobra.Command{Use: "list", Short: "List CDRs through the API, newest first", Args: cobra.NoArgs,
		RunE: f.runExact(func(cmd *cobra.Command, _ []string) (apiclient.Request, error) {
			return apiclient.Request{Method: http.MethodGet, Path: "/cdrs", Query: cdrQuery(cmd)}, nil
		}, []string{"start", "tenant", "src", "dst", "disposition", "duration", "billsec", "channel", "uniqueid", "cost", "currency"})}
	addFields(list, cdrFilters)
	addPaging(list)

	var dataDir, cfgPath, format string
	var gmt bool
	export := &cobra.Command{
		Use:   "export",
		Short: "Print CDRs in Asterisk's Master.csv format (from the API with --server/--token, else from a data directory)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if format != "csv" {
				return &exitError{code: 2, err: fmt.Errorf("--format %q: only csv is supported", format)}
			}
			if dataDir == "" && cfgPath == "" && (f.token != "" || os.Getenv("ENTVOICE_TOKEN") != "") {
				// The API exports times in UTC (cdr.conf usegmtime=yes):
				// its callers may be in any time zone.
				q := cdrQuery(cmd)
				var out []byte
				if err := f.call(apiclient.Request{Method: http.MethodGet, Path: "/cdrs/export", Query: q}, &out); err != nil {
					return err
				}
				_, err := cmd.OutOrStdout().Write(out)
				return err
			}
			if flagsChanged(cmd, "tenant", "from", "to", "src", "dst", "disposition") {
				return &exitError{code: 2, err: fmt.Errorf("filters need the API: pass --token (or set ENTVOICE_TOKEN)")}
			}
			dir := dataDir
			if cfgPath != "" {
				cfg, err := config.Load(cfgPath)
				if err != nil {
					return &exitError{code: 2, err: err}
				}
				dir = cfg.DataDir
			}
			if dir == "" {
				dir = "./data"
			}
			if _, err := os.Stat(dir); err != nil {
				return &exitError{code: 2, err: fmt.Errorf("data directory %s: %w", dir, err)}
			}
			ctx := context.Background()
			st, err := store.Open(ctx, store.Options{DataDir: dir})
			if err != nil {
				return err
			}
			defer st.Close()
			w := bufio.NewWriter(cmd.OutOrStdout())
			if err := cdrstore.Export(ctx, st, w, cdrstore.Filter{}, cdr.CSVOptions{UseGMT: gmt}); err != nil {
				return err
			}
			return w.Flush()
		},
	}
	export.Flags().StringVar(&dataDir, "data", "", "data directory (default ./data)")
	export.Flags().StringVarP(&cfgPath, "config", "c", "", "read data_dir from this configuration file")
	export.Flags().StringVar(&format, "format", "csv", "output format (csv)")
	export.Flags().BoolVar(&gmt, "gmt", false, "print times in UTC (cdr.conf usegmtime)")
	addFields(export, cdrFilters)
	cmd.AddCommand(list, export)
	return cmd
}

func cdrQuery(cmd *cobra.Command) url.Values {
	q := url.Values{}
	if cmd.Flags().Lookup("limit") != nil {
		q = listQuery(cmd)
	}
	for k, v := range body(cmd, cdrFilters) {
		q.Set(k, fmt.Sprint(v))
	}
	return q
}

func flagsChanged(cmd *cobra.Command, names ...string) bool {
	for _, n := range names {
		if fl := cmd.Flags().Lookup(n); fl != nil && fl.Changed {
			return true
		}
	}
	return false
}
