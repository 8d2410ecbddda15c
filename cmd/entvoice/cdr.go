package main

import (
	"bufio"
	"context"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/entvoice/entvoice/internal/cdr"
	"github.com/entvoice/entvoice/internal/config"
	"github.com/entvoice/entvoice/internal/store"
)

func newCDR() *cobra.Command {
	cmd := &cobra.Command{Use: "cdr", Short: "Call detail records"}
	var dataDir, cfgPath, format string
	var gmt bool
	export := &cobra.Command{
		Use:   "export",
		Short: "Print CDRs in Asterisk's Master.csv format",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if format != "csv" {
				return &exitError{code: 2, err: fmt.Errorf("--format %q: only csv is supported", format)}
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
			if err := cdr.Export(ctx, st, w, cdr.Filter{}, cdr.CSVOptions{UseGMT: gmt}); err != nil {
				return err
			}
			return w.Flush()
		},
	}
	export.Flags().StringVar(&dataDir, "data", "", "data directory (default ./data)")
	export.Flags().StringVarP(&cfgPath, "config", "c", "", "read data_dir from this configuration file")
	export.Flags().StringVar(&format, "format", "csv", "output format (csv)")
	export.Flags().BoolVar(&gmt, "gmt", false, "print times in UTC (cdr.conf usegmtime)")
	cmd.AddCommand(export)
	return cmd
}
