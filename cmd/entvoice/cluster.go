package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/entvoice/entvoice/internal/ami"
	"github.com/entvoice/entvoice/internal/api"
	"github.com/entvoice/entvoice/internal/astdb"
	"github.com/entvoice/entvoice/internal/cdr"
	"github.com/entvoice/entvoice/internal/central"
	"github.com/entvoice/entvoice/internal/cluster"
	"github.com/entvoice/entvoice/internal/config"
	"github.com/entvoice/entvoice/internal/control"
	"github.com/entvoice/entvoice/internal/events"
	"github.com/entvoice/entvoice/internal/node"
	"github.com/entvoice/entvoice/internal/sipua"
	"github.com/entvoice/entvoice/internal/store"
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
			if err := os.MkdirAll(cfg.DataDir, 0o755); err != nil {
				return &exitError{code: 2, err: fmt.Errorf("data_dir: %w", err)}
			}
			st, err := store.Open(ctx, store.Options{DSN: cfg.Database.DSN, DataDir: cfg.DataDir, Logger: log})
			if err != nil {
				return fmt.Errorf("open store: %w", err)
			}
			defer func() { _ = st.Close() }()
			// The API acts on live calls through the nodes' links and
			// manages nodes through the hub's registry.
			remote := cluster.NewRemote()
			bus := events.New()
			var ca *cluster.CA
			var nodesAPI api.Nodes
			if cfg.Cluster.Listen != "off" {
				if ca, err = cluster.LoadOrCreateCA(cfg.Cluster.CACert, cfg.Cluster.CAKey, cluster.ClusterDir(cfg.DataDir)); err != nil {
					return &exitError{code: 2, err: err}
				}
				nodesAPI = &cluster.Admin{Registry: cluster.NewRegistry(st), CA: ca, Remote: remote}
			}
			c, err := central.Start(ctx, central.Options{Config: cfg, Store: st, KnownApp: node.KnownApp(), Controller: remote,
				Nodes: nodesAPI, Logger: log, Stderr: cmd.ErrOrStderr()})
			if err != nil {
				return err
			}
			var hub *cluster.Hub
			if ca != nil {
				hb, _ := config.Duration("cluster.heartbeat", cfg.Cluster.Heartbeat)
				hub, err = cluster.StartHub(ctx, cluster.HubOptions{Store: st, Source: c.Repo, CA: ca, Listen: cfg.Cluster.Listen,
					ServerNames: cfg.Cluster.ServerNames, Heartbeat: hb, Remote: remote, Advertise: cfg.Cluster.Advertise,
					// Every node's events, for the cluster-wide AMI.
					Events: bus, Logger: log})
				if err != nil {
					c.Close(ctx)
					return err
				}
			}
			// One AMI for every node: their events, commands through the
			// links (Originate, Hangup, CoreShowChannels...).
			amiSrv, err := newClusterAMI(cfg, st, bus, remote, log)
			if err != nil {
				if hub != nil {
					hub.Close()
				}
				c.Close(ctx)
				return &exitError{code: 2, err: err}
			}
			if amiSrv != nil {
				if err := amiSrv.Start(ctx); err != nil {
					if hub != nil {
						hub.Close()
					}
					c.Close(ctx)
					return err
				}
				defer func() { _ = amiSrv.Close() }()
			}
			defer servePprof(log)()
			log.Info("entvoice central serving", "version", version, "api", cfg.HTTP.Listen, "cluster", cfg.Cluster.Listen, "data_dir", cfg.DataDir)
			<-ctx.Done()
			log.Info("shutting down")
			if hub != nil {
				hub.Close()
			}
			sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			c.Close(sctx)
			cancel()
			log.Info("stopped")
			return nil
		},
	}
	cmd.Flags().StringVarP(&cfgPath, "config", "c", "", "YAML configuration file (required)")
	_ = cmd.MarkFlagRequired("config")
	return cmd
}

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
				name, err := cluster.Join(ctx, cfg.DataDir, join, token, cfg.Cluster.Bind)
				if err != nil {
					log.Error("enrolment failed", "central", join, "err", err)
					return &exitError{code: exitDenied, err: err}
				}
				log.Info("enrolled", "node", name, "central", join)
				fmt.Fprintf(cmd.OutOrStdout(), "enrolled as node %s with %s\n", name, join)
			}
			// Calls between nodes: SIP over TLS with the node certificates.
			peerAddr, peering, err := cfg.PeerListen()
			if err != nil {
				return &exitError{code: 2, err: err}
			}
			var trust *cluster.PeerTrust
			var nodeOpts []node.Option
			if peering {
				if trust, err = cluster.NewPeerTrust(cfg.DataDir); err != nil {
					return &exitError{code: 2, err: err}
				}
				nodeOpts = append(nodeOpts, node.WithPeers(&sipua.PeerOptions{Addr: peerAddr, TLS: trust.TLSConfig()}))
			}
			n, err := node.New(ctx, cfg, log, nodeOpts...)
			if err != nil {
				return &exitError{code: 2, err: err}
			}
			hb, _ := config.Duration("cluster.heartbeat", cfg.Cluster.Heartbeat)
			link, err := cluster.NewLink(cluster.LinkOptions{DataDir: cfg.DataDir, Central: cfg.Cluster.Central, Store: n.Store,
				LocalAddr: cfg.Cluster.Bind, Heartbeat: hb, Version: version, Logger: log,
				// Central's commands (call list, originate, hangup) run on the
				// node's own controller; its events go up.
				Controller: n.Control, Events: n.Bus, Peers: trust, ReloadDialplan: n.ReloadDialplan})
			if err != nil {
				n.Shutdown(0)
				return &exitError{code: 2, err: err}
			}
			if peering {
				// A user not registered here is looked up on the others.
				n.SIP.SetPeerLocator(link)
			}
			// Committed CDRs go to the link as they are written: shipping
			// them needs no read back from the store, and the node's cdr
			// table needs none of central's reporting indexes.
			n.CDR.OnCommit(link.ShipCommitted)
			if err := cdr.UseAsShippingQueue(ctx, n.Store); err != nil {
				link.Close()
				n.Shutdown(0)
				return err
			}
			n.SetSource(link)
			// The link and the node run until Shutdown is over, not until
			// the signal: draining calls need their SIP transports, and
			// their CDRs the link.
			run, endRun := context.WithCancel(context.Background())
			defer endRun()
			link.Start(run)
			if err := n.Start(run); err != nil {
				link.Close()
				n.Shutdown(0)
				return err
			}
			peers := "off"
			if peering {
				peers = "tls:" + peerAddr.String()
			}
			defer servePprof(log)()
			log.Info("entvoice node serving", "version", version, "node", link.Name(), "sip", strings.Join(cfg.SIP.Listen, ","), "peers", peers, "data_dir", cfg.DataDir)
			<-ctx.Done()
			grace, _ := config.Duration("shutdown.grace", cfg.Shutdown.Grace)
			log.Info("shutting down", "grace", grace)
			n.Shutdown(grace)
			link.Close()
			log.Info("stopped")
			return nil
		},
	}
	cmd.Flags().StringVarP(&cfgPath, "config", "c", "", "YAML configuration file")
	cmd.Flags().StringVar(&join, "join", "", "central URL to enrol with (https://central:7443)")
	cmd.Flags().StringVar(&token, "token", "", "one-time node token (from entvoice node-token create)")

	var listCfg, revokeCfg string
	var asJSON bool
	list := &cobra.Command{
		Use:   "list",
		Short: "List enrolled nodes (on the central server's store)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withRegistry(listCfg, func(ctx context.Context, reg *cluster.Registry, _ *config.Config) error {
				nodes, err := reg.Nodes(ctx)
				if err != nil {
					return err
				}
				if asJSON {
					enc := json.NewEncoder(cmd.OutOrStdout())
					enc.SetIndent("", "  ")
					if nodes == nil {
						nodes = []cluster.NodeInfo{}
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
			return withRegistry(revokeCfg, func(ctx context.Context, reg *cluster.Registry, _ *config.Config) error {
				if err := reg.Revoke(ctx, args[0]); err != nil {
					if errors.Is(err, cluster.ErrNodeUnknown) {
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
	cmd.AddCommand(list, revoke)
	return cmd
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
			prefixes, err := cluster.ParseAllow(allow)
			if err != nil {
				return &exitError{code: 2, err: err}
			}
			return withRegistry(cfgPath, func(ctx context.Context, reg *cluster.Registry, cfg *config.Config) error {
				ca, err := cluster.LoadOrCreateCA(cfg.Cluster.CACert, cfg.Cluster.CAKey, cluster.ClusterDir(cfg.DataDir))
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

// newClusterAMI is central's AMI (the ami section, as on a node): every
// linked node's events, and actions through the links. Off (nil) when
// ami.listen is "off" or no user is configured.
func newClusterAMI(cfg *config.Config, st *store.Store, bus *events.Bus, ctl control.Controller, log *slog.Logger) (*ami.Server, error) {
	c := cfg.AMI
	if strings.EqualFold(c.Listen, "off") || len(c.Users) == 0 {
		return nil, nil
	}
	o, err := ami.OptionsFromConfig(cfg)
	if err != nil {
		return nil, err
	}
	o.Bus, o.Control, o.DB, o.Logger = bus, ctl, astdb.New(st), log
	return ami.New(o)
}

// withRegistry opens the central store named by a configuration file.
func withRegistry(cfgPath string, fn func(context.Context, *cluster.Registry, *config.Config) error) error {
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
	return fn(ctx, cluster.NewRegistry(st), cfg)
}
