// Package central is the central application server's side of a process:
// the provisioning repository (and its change feed, the nodes' realtime
// Source), the REST API and, once wired, the cluster-wide AMI. `entvoice
// serve` runs it beside a node in the same process, joined in-process: the
// node takes the repository as its provision.Source and the API acts on
// the node's calls through a control.Controller.
package central

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/entvoice/entvoice/internal/api"
	"github.com/entvoice/entvoice/internal/billing"
	"github.com/entvoice/entvoice/internal/cdr"
	"github.com/entvoice/entvoice/internal/config"
	"github.com/entvoice/entvoice/internal/control"
	"github.com/entvoice/entvoice/internal/provision"
	"github.com/entvoice/entvoice/internal/store"
)

// Options configure a central server.
type Options struct {
	Config *config.Config
	Store  *store.Store
	// KnownApp says whether an extension row's application exists (the
	// node's PBX.HasApp in-process).
	KnownApp func(string) bool
	// Controller acts on live calls for the API; nil answers 503.
	Controller control.Controller
	// Nodes is the node hub's registry for the API; nil answers 503.
	Nodes  api.Nodes
	Logger *slog.Logger
	// Stderr receives the first admin token when one is generated.
	Stderr io.Writer
}

// Central is a running central server.
type Central struct {
	Repo *provision.Repo
	// Billing rates the CDRs stored here and keeps accounts (its Rater
	// runs until Close); the call path authorizes through
	// Billing.Authorizer.
	Billing *billing.Service
	API     *api.Server // nil when http.listen is "off"
	log     *slog.Logger
	stop    context.CancelFunc
	done    chan struct{}
}

// Start opens the provisioning repository and serves the API.
func Start(ctx context.Context, o Options) (*Central, error) {
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	stderr := o.Stderr
	if stderr == nil {
		stderr = os.Stderr
	}
	if err := cdr.EnsureReportIndexes(ctx, o.Store); err != nil {
		return nil, err
	}
	repo, err := provision.New(ctx, o.Store, provision.Options{KnownApp: o.KnownApp, Realm: o.Config.SIP.Realm, Logger: log})
	if err != nil {
		return nil, fmt.Errorf("provisioning: %w", err)
	}
	c := &Central{Repo: repo, log: log, done: make(chan struct{})}
	c.Billing = billing.New(billing.Options{Store: o.Store, Logger: log})
	c.Billing.Start()
	lctx, cancel := context.WithCancel(context.Background())
	c.stop = cancel
	if dsn := o.Config.Database.DSN; o.Store.Dialect() == store.Postgres && dsn != "" {
		// Writes made by other central instances wake this one's feed.
		go func() {
			defer close(c.done)
			if err := repo.ListenPostgres(lctx, dsn); err != nil && lctx.Err() == nil {
				log.Warn("PostgreSQL change notifications stopped; the feed still works for this process", "err", err)
			}
		}()
	} else {
		close(c.done)
	}
	c.API, err = api.Start(ctx, api.Options{Store: o.Store, Provision: repo, Controller: o.Controller, Nodes: o.Nodes, Logger: log, Billing: c.Billing},
		o.Config.HTTP.Listen, os.Getenv, stderr)
	if err != nil {
		c.Close(ctx)
		return nil, err
	}
	return c, nil
}

// Close stops the API (letting requests in flight finish until ctx ends)
// and the change notifications.
func (c *Central) Close(ctx context.Context) {
	if err := c.API.Shutdown(ctx); err != nil {
		c.log.Warn("API shutdown", "err", err)
	}
	c.stop()
	<-c.done
	c.Billing.Close()
}
