//go:build !central

package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/entvoice/entvoice/internal/cluster/link"
	"github.com/entvoice/entvoice/internal/config"
	"github.com/entvoice/entvoice/internal/system"
)

// nodeCommands are the commands that run a PBX or its engines: serve,
// node and speech.
func nodeCommands() []*cobra.Command { return []*cobra.Command{newServe(), newNode(), newSpeech()} }

// newNode is `entvoice node`: a PBX node fed by the central server over
// the link, and the central-side `node list|revoke`.
func newNode() *cobra.Command {
	var cfgPath, join, token string
	cmd := &cobra.Command{
		Use:   "node",
		Short: "Run a PBX node bound to a central server (--join URL --token T enrols it first)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if cfgPath == "" {
				return &exitError{code: 2, err: errors.New("--config is required")}
			}
			cfg, err := config.Load(cfgPath)
			if err != nil {
				return &exitError{code: 2, err: err}
			}
			log := newLogger(cmd.ErrOrStderr(), cfg.Log)
			ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
			defer stop()
			if (join == "") != (token == "") {
				return &exitError{code: 2, err: errors.New("--join and --token go together")}
			}
			if join != "" {
				name, err := link.Join(ctx, cfg.DataDir, join, token, cfg.Cluster.Bind)
				if err != nil {
					log.Error("enrolment failed", "central", join, "err", err)
					return &exitError{code: exitDenied, err: err}
				}
				log.Info("enrolled", "node", name, "central", join)
				fmt.Fprintf(cmd.OutOrStdout(), "enrolled as node %s with %s\n", name, join)
			}
			p, err := system.Node(ctx, cfg, system.Options{Logger: log, Stderr: cmd.ErrOrStderr(), Version: version})
			if err != nil {
				return &exitError{code: 2, err: err}
			}
			return runProcess(ctx, p, cfg, log, func() {
				peers := "off"
				if addr, ok := cfg.PeerListen(); ok {
					peers = "tls:" + addr.String()
				}
				log.Info("entvoice node serving", "version", version, "sip", strings.Join(cfg.SIP.Listen, ","), "peers", peers, "data_dir", cfg.DataDir)
			})
		},
	}
	cmd.Flags().StringVarP(&cfgPath, "config", "c", "", "YAML configuration file")
	cmd.Flags().StringVar(&join, "join", "", "central URL to enrol with (https://central:7443)")
	cmd.Flags().StringVar(&token, "token", "", "one-time node token (from entvoice node-token create)")
	cmd.AddCommand(nodeAdmin()...)
	return cmd
}
