//go:build !central

package system

import (
	"context"
	"fmt"
	"time"

	"github.com/entvoice/entvoice/internal/billing"
	"github.com/entvoice/entvoice/internal/cdrstore"
	"github.com/entvoice/entvoice/internal/cluster/link"
	"github.com/entvoice/entvoice/internal/config"
	"github.com/entvoice/entvoice/internal/node"
	"github.com/entvoice/entvoice/internal/provision"
	"github.com/entvoice/entvoice/internal/sipua"
)

// Serve builds `entvoice serve`: central and one node in one process. The
// node takes central's repository as its realtime Source (the interface
// the node link implements for `entvoice node`, so realtime is one code
// path) and the store's AMI users after the static ones; the API acts on
// the node's calls.
func Serve(ctx context.Context, cfg *config.Config, o Options) (*Process, error) {
	p := newProcess(cfg, o)
	if err := p.openStore(ctx); err != nil {
		return p.fail(err)
	}
	if err := p.openRepo(ctx); err != nil {
		return p.fail(err)
	}
	amiOpts, err := AMIOptions(cfg, StoreAMIUsers(p.Repo))
	if err != nil {
		return p.fail(err)
	}
	n, err := p.newNode(ctx, node.Options{Source: p.Repo, AMI: amiOpts, Charging: billing.NewCharging(p.Billing)})
	if err != nil {
		return p.fail(err)
	}
	if err := p.startCentral(ctx, n.Control, nil, n.Queues, n.Voicemail, o.Stderr); err != nil {
		return p.fail(err)
	}
	return p, nil
}

// Node builds `entvoice node`: a site's PBX fed by central over its link
// (configuration down, CDRs and events up, central's commands run on the
// node's calls), calling the other nodes' users over SIP on mutual TLS.
// The node must have enrolled (link.Join).
func Node(ctx context.Context, cfg *config.Config, o Options) (*Process, error) {
	p := newProcess(cfg, o)
	if err := p.openStore(ctx); err != nil {
		return p.fail(err)
	}
	// Calls between nodes: SIP over TLS with the node certificates.
	var trust *link.PeerTrust
	var peers *sipua.PeerOptions
	if addr, ok := cfg.PeerListen(); ok {
		var err error
		if trust, err = link.NewPeerTrust(cfg.DataDir); err != nil {
			return p.fail(err)
		}
		peers = &sipua.PeerOptions{Addr: addr, TLS: trust.TLSConfig()}
	}
	// The node's cdr table is a shipping queue: central keeps the
	// reporting indexes.
	if err := cdrstore.UseAsShippingQueue(ctx, p.Store); err != nil {
		return p.fail(err)
	}
	amiOpts, err := AMIOptions(cfg, nil)
	if err != nil {
		return p.fail(err)
	}
	// The link first: the node is built on its replica (the realtime
	// Source), ships its committed CDRs through it (no read back from the
	// store) and locates users of other nodes with it; the link serves the
	// node it is started with.
	nodeLink, err := link.New(link.Options{DataDir: cfg.DataDir, Central: cfg.Cluster.Central, Store: p.Store,
		LocalAddr: cfg.Cluster.Bind, Heartbeat: cfg.Cluster.Heartbeat.Duration, Version: o.Version, Logger: p.log, Peers: trust})
	if err != nil {
		return p.fail(err)
	}
	if peers != nil {
		peers.Locator = nodeLink
	}
	n, err := p.newNode(ctx, node.Options{Source: nodeLink, AMI: amiOpts, Peers: peers, OnCDRCommit: nodeLink.ShipCommitted,
		// Trunk legs are authorized by central's billing over the link.
		Charging: nodeLink})
	if err != nil {
		return p.fail(err)
	}
	// The link starts before the node (the node's realtime waits for its
	// replica) and closes after it: draining calls ship their CDRs. It runs
	// central's commands on the node's controller and sends its events up.
	p.starts = append([]func(context.Context) error{func(ctx context.Context) error {
		nodeLink.Start(ctx, link.Node{Controller: n.Control, Events: n.Bus, ReloadDialplan: n.ReloadDialplan})
		return nil
	}}, p.starts...)
	p.stops = append([]func(time.Duration){func(time.Duration) { nodeLink.Close() }}, p.stops...)
	p.log.Info("entvoice node built", "node", nodeLink.Name())
	return p, nil
}

// newNode builds the process's node on its store: started by Start,
// drained and flushed by Stop.
func (p *Process) newNode(ctx context.Context, o node.Options) (*node.Node, error) {
	o.Store, o.Logger, o.Bans = p.Store, p.log, p.Bans
	if o.AMI != nil {
		o.AMI.Bans = p.Bans
	}
	n, err := node.New(ctx, p.cfg, o)
	if err != nil {
		return nil, fmt.Errorf("node: %w", err)
	}
	p.Node = n
	p.onStart(n.Start)
	p.onStop(n.Shutdown)
	return n, nil
}

// Standalone builds a node with no central: its static configuration,
// optionally fed by src (a test's or a tool's provisioning feed), with its
// own store and the static AMI users. Tests and benchmarks run nodes this
// way.
func Standalone(ctx context.Context, cfg *config.Config, o Options, src provision.Source) (*Process, error) {
	p := newProcess(cfg, o)
	if err := p.openStore(ctx); err != nil {
		return p.fail(err)
	}
	amiOpts, err := AMIOptions(cfg, nil)
	if err != nil {
		return p.fail(err)
	}
	if _, err := p.newNode(ctx, node.Options{Source: src, AMI: amiOpts}); err != nil {
		return p.fail(err)
	}
	return p, nil
}
