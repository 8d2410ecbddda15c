package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	_ "net/http/pprof" // served only when ENTVOICE_PPROF is set
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/entvoice/entvoice/internal/ami"
	"github.com/entvoice/entvoice/internal/central"
	"github.com/entvoice/entvoice/internal/config"
	"github.com/entvoice/entvoice/internal/node"
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
			n, err := node.New(ctx, cfg, log)
			if err != nil {
				return &exitError{code: 2, err: err}
			}
			c, err := central.Start(ctx, central.Options{Config: cfg, Store: n.Store, KnownApp: n.PBX.HasApp, Controller: n.Control,
				Logger: log, Stderr: cmd.ErrOrStderr()})
			if err != nil {
				n.Shutdown(0)
				return err
			}
			n.SetSource(c.Repo)
			// AMI users from the store (the API's /ami-users) after the
			// static ami.users.
			n.SetAMIUsers(ami.StoreUsers{Repo: c.Repo})
			// The node runs until Shutdown is over, not until the signal:
			// while it drains, live calls still need the SIP transports
			// (their BYEs) and the realtime configuration.
			run, endRun := context.WithCancel(context.Background())
			defer endRun()
			if err := n.Start(run); err != nil {
				c.Close(ctx)
				n.Shutdown(0)
				return err
			}
			if demo {
				printDemo(cmd.OutOrStdout(), cfg)
			}
			defer servePprof(log)()
			log.Info("entvoice serving", "version", version, "sip", strings.Join(cfg.SIP.Listen, ","), "api", cfg.HTTP.Listen, "data_dir", cfg.DataDir)
			<-ctx.Done()
			grace, _ := config.Duration("shutdown.grace", cfg.Shutdown.Grace)
			log.Info("shutting down", "grace", grace)
			sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			c.Close(sctx)
			cancel()
			n.Shutdown(grace)
			log.Info("stopped")
			return nil
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
	return config.Demo(dataDir, plan), true, nil
}

func printDemo(w io.Writer, cfg *config.Config) {
	fmt.Fprintf(w, `
entVoice demo is running.
  SIP:        %s   (realm %q)
  Users:      1001/pass1001, 1002/pass1002, 1003/pass1003
  Call:       1001 <-> 1002 <-> 1003 by number
              500  demo IVR (press 1 or 2)
              600  echo test, 700 says your number
  Dialplan:   %s
  CDRs:       %s cdr export --data %s
  API:        http://%s/api/v1 (admin token: ENTVOICE_ADMIN_TOKEN, or printed above on first start)
Stop with Ctrl-C.
`, strings.Join(cfg.SIP.Listen, ", "), cfg.SIP.Realm, cfg.Dialplan, os.Args[0], cfg.DataDir, cfg.HTTP.Listen)
}

func newLogger(w io.Writer, c config.Log) *slog.Logger {
	var lvl slog.Level
	_ = lvl.UnmarshalText([]byte(c.Level))
	opts := &slog.HandlerOptions{Level: lvl}
	if c.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// servePprof serves net/http/pprof on ENTVOICE_PPROF's address when it is
// set: profiling for benchmarks and field diagnosis, on an address the
// operator chooses (keep it on loopback). The returned func stops it.
func servePprof(log *slog.Logger) (stop func()) {
	addr := os.Getenv("ENTVOICE_PPROF")
	if addr == "" {
		return func() {}
	}
	srv := &http.Server{Addr: addr, Handler: http.DefaultServeMux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Warn("pprof listener failed", "addr", addr, "err", err)
		}
	}()
	return func() { _ = srv.Close() }
}
