package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/entvoice/entvoice/internal/cluster/hub"
	"github.com/entvoice/entvoice/internal/cluster/pki"
	"github.com/entvoice/entvoice/internal/config"
	"github.com/entvoice/entvoice/internal/control"
	"github.com/entvoice/entvoice/internal/store"
	"github.com/entvoice/entvoice/internal/system"
)

// newServer is `entvoice server`: the central application server (API,
// provisioning, CDR intake) and the node hub, without a node.
func newServer() *cobra.Command {
	var cfgPath string
	cmd := &cobra.Command{
		Use:   "server",
		Short: "Run the central server: API, provisioning and the node hub (nodes run `entvoice node`)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := config.Load(cfgPath)
			if err != nil {
				return &exitError{code: 2, err: err}
			}
			log := newLogger(cmd.ErrOrStderr(), cfg.Log)
			ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
			defer stop()
			p, err := system.Server(ctx, cfg, system.Options{Logger: log, Stderr: cmd.ErrOrStderr(), Version: version})
			if err != nil {
				return &exitError{code: 2, err: err}
			}
			return runProcess(ctx, p, cfg, log, func() {
				log.Info("entvoice central serving", "version", version, "api", cfg.HTTP.Listen, "cluster", cfg.Cluster.Listen, "data_dir", cfg.DataDir)
			})
		},
	}
	cmd.Flags().StringVarP(&cfgPath, "config", "c", "", "YAML configuration file (required)")
	_ = cmd.MarkFlagRequired("config")
	return cmd
}

// nodeAdmin are the central-side `node list|revoke`, on central's store.
func nodeAdmin() []*cobra.Command {
	var listCfg, revokeCfg string
	var asJSON bool
	list := &cobra.Command{
		Use:   "list",
		Short: "List enrolled nodes (on the central server's store)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withRegistry(listCfg, func(ctx context.Context, reg *hub.Registry, _ *config.Config) error {
				nodes, err := reg.Nodes(ctx)
				if err != nil {
					return err
				}
				if asJSON {
					enc := json.NewEncoder(cmd.OutOrStdout())
					enc.SetIndent("", "  ")
					if nodes == nil {
						nodes = []control.NodeInfo{}
					}
					return enc.Encode(nodes)
				}
				tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "NAME\tSTATE\tALLOW\tLAST SEEN\tADDRESS\tREVISION\tCDR ACKED\tSERIAL")
				for _, n := range nodes {
					state := "enrolled"
					switch {
					case n.Revoked:
						state = "revoked"
					case n.NextSerial != "":
						state = "renewing" // a renewed certificate not yet confirmed by the node
					}
					seen := "never"
					if !n.LastSeen.IsZero() {
						seen = n.LastSeen.Format(time.RFC3339)
					}
					allow := make([]string, len(n.Allow))
					for i, p := range n.Allow {
						allow[i] = p.String()
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%d\t%s\n", n.Name, state, strings.Join(allow, ","), seen, n.LastAddr, n.Revision, n.CDRAcked, n.Serial)
				}
				return tw.Flush()
			})
		},
	}
	list.Flags().StringVarP(&listCfg, "config", "c", "", "the central server's YAML configuration (required)")
	list.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	revoke := &cobra.Command{
		Use:   "revoke NAME",
		Short: "Revoke a node's certificate: its link is refused and cut (on the central server's store)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withRegistry(revokeCfg, func(ctx context.Context, reg *hub.Registry, _ *config.Config) error {
				if err := reg.Revoke(ctx, args[0]); err != nil {
					if errors.Is(err, control.ErrNodeUnknown) {
						return &exitError{code: exitNotFound, err: err}
					}
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "node %s revoked\n", args[0])
				return nil
			})
		},
	}
	revoke.Flags().StringVarP(&revokeCfg, "config", "c", "", "the central server's YAML configuration (required)")
	return []*cobra.Command{list, revoke}
}

// newNodeToken is `entvoice node-token create`.
func newNodeToken() *cobra.Command {
	cmd := &cobra.Command{Use: "node-token", Short: "One-time node enrolment tokens (on the central server's store)"}
	var cfgPath, name, ttl string
	var allow []string
	create := &cobra.Command{
		Use:   "create",
		Short: "Create a one-time enrolment token for a node; it is printed once",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			d, err := time.ParseDuration(ttl)
			if err != nil || d <= 0 {
				return &exitError{code: 2, err: fmt.Errorf("--ttl %q: want a positive Go duration such as 24h", ttl)}
			}
			prefixes, err := control.ParseAllow(allow)
			if err != nil {
				return &exitError{code: 2, err: err}
			}
			return withRegistry(cfgPath, func(ctx context.Context, reg *hub.Registry, cfg *config.Config) error {
				ca, err := pki.LoadOrCreateCA(cfg.Cluster.CACert, cfg.Cluster.CAKey, pki.Dir(cfg.DataDir))
				if err != nil {
					return err
				}
				tok, err := reg.CreateToken(ctx, ca, name, prefixes, d)
				if err != nil {
					return &exitError{code: 2, err: err}
				}
				fmt.Fprintln(cmd.OutOrStdout(), tok.String())
				fmt.Fprintf(cmd.ErrOrStderr(), "token for node %s, usable once from %s until %s; it is not shown again\n",
					name, strings.Join(allow, ","), time.Now().Add(d).UTC().Format(time.RFC3339))
				return nil
			})
		},
	}
	create.Flags().StringVarP(&cfgPath, "config", "c", "", "the central server's YAML configuration (required)")
	create.Flags().StringVar(&name, "name", "", "node name (a-z, 0-9, -)")
	create.Flags().StringSliceVar(&allow, "allow", nil, "CIDR the node may connect from (repeat or comma-separate)")
	create.Flags().StringVar(&ttl, "ttl", "24h", "how long the token stays usable")
	_ = create.MarkFlagRequired("name")
	_ = create.MarkFlagRequired("allow")
	cmd.AddCommand(create)
	return cmd
}

// withRegistry opens the central store named by a configuration file.
func withRegistry(cfgPath string, fn func(context.Context, *hub.Registry, *config.Config) error) error {
	if cfgPath == "" {
		return &exitError{code: 2, err: errors.New("--config (the central server's configuration) is required")}
	}
	cfg, err := config.Load(cfgPath)
	if err != nil {
		return &exitError{code: 2, err: err}
	}
	ctx := context.Background()
	if err := os.MkdirAll(cfg.DataDir, 0o755); err != nil {
		return fmt.Errorf("data_dir: %w", err)
	}
	st, err := store.Open(ctx, store.Options{DSN: cfg.Database.DSN, DataDir: cfg.DataDir})
	if err != nil {
		return fmt.Errorf("open store: %w", err)
	}
	defer func() { _ = st.Close() }()
	return fn(ctx, hub.NewRegistry(st), cfg)
}
