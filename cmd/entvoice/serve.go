//go:build !central

package main

import (
	"context"
	"fmt"
	"io"
	_ "net/http/pprof" // served only when ENTVOICE_PPROF is set
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/entvoice/entvoice/internal/config"
	"github.com/entvoice/entvoice/internal/system"
)

func newServe() *cobra.Command {
	var cfgPath, dataDir string
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the all-in-one PBX (without --config: a demo on 127.0.0.1)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, demo, err := loadConfig(cfgPath, dataDir)
			if err != nil {
				return &exitError{code: 2, err: err}
			}
			log := newLogger(cmd.ErrOrStderr(), cfg.Log)
			ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
			defer stop()
			p, err := system.Serve(ctx, cfg, system.Options{Logger: log, Stderr: cmd.ErrOrStderr(), Version: version})
			if err != nil {
				return &exitError{code: 2, err: err}
			}
			return runProcess(ctx, p, cfg, log, func() {
				if demo {
					printDemo(cmd.OutOrStdout(), cfg)
				}
				log.Info("entvoice serving", "version", version, "sip", strings.Join(cfg.SIP.Listen, ","), "api", cfg.HTTP.Listen, "data_dir", cfg.DataDir)
			})
		},
	}
	cmd.Flags().StringVarP(&cfgPath, "config", "c", "", "YAML configuration file")
	cmd.Flags().StringVar(&dataDir, "data", "", "data directory for the demo (default ./data)")
	return cmd
}

// loadConfig reads the configuration file, or builds the demo.
func loadConfig(path, dataDir string) (*config.Config, bool, error) {
	if path != "" {
		cfg, err := config.Load(path)
		return cfg, false, err
	}
	if dataDir == "" {
		dataDir = "./data"
	}
	if err := os.MkdirAll(dataDir, 0o755); err != nil {
		return nil, false, fmt.Errorf("data dir: %w", err)
	}
	plan := filepath.Join(dataDir, config.DemoFileName)
	if err := os.WriteFile(plan, []byte(config.DemoDialplan), 0o644); err != nil {
		return nil, false, fmt.Errorf("write demo dialplan: %w", err)
	}
	vm := filepath.Join(dataDir, config.DemoVoicemailFileName)
	if err := os.WriteFile(vm, []byte(config.DemoVoicemail), 0o644); err != nil {
		return nil, false, fmt.Errorf("write demo voicemail.conf: %w", err)
	}
	return config.Demo(dataDir, plan, config.WithDemoVoicemail(vm)), true, nil
}

func printDemo(w io.Writer, cfg *config.Config) {
	fmt.Fprintf(w, `
entVoice demo is running.
  SIP:        %s   (realm %q)
  Users:      1001/pass1001, 1002/pass1002, 1003/pass1003
  Call:       1001 <-> 1002 <-> 1003 by number
              500  demo IVR (press 1 or 2)
              600  echo test, 610 says your number
              800  conference room; 700 parks you (#700 in a call
                   parks the other party), 701-720 pick parked calls
                   up; *8 answers a phone ringing in the group
              810  speech IVR ("English"/"Spanish", then "sales")
              *97  your voicemail (no answer or busy: callers leave one)
  Dialplan:   %s
  CDRs:       %s cdr export --data %s
  API:        http://%s/api/v1 (admin token: ENTVOICE_ADMIN_TOKEN, or printed above on first start)
Stop with Ctrl-C.
`, strings.Join(cfg.SIP.Listen, ", "), cfg.SIP.Realm, cfg.Dialplan, os.Args[0], cfg.DataDir, cfg.HTTP.Listen)
}
