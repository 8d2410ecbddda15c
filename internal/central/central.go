// Package central is the central application server's side of a process:
// the REST API on the provisioning repository, and the PostgreSQL change
// notifications that keep the repository's change feed (the nodes'
// realtime Source) current across central instances. `entvoice serve` runs
// it beside a node in the same process: the node takes the repository as
// its provision.Source and the API acts on the node's calls through a
// control.Controller (internal/system composes them).
package central

import (
	"context"
	"io"
	"log/slog"
	"os"

	"github.com/entvoice/entvoice/internal/acl"
	"github.com/entvoice/entvoice/internal/api"
	"github.com/entvoice/entvoice/internal/billing"
	"github.com/entvoice/entvoice/internal/config"
	"github.com/entvoice/entvoice/internal/control"
	"github.com/entvoice/entvoice/internal/provision"
	"github.com/entvoice/entvoice/internal/store"
)

// Options configure a central server.
type Options struct {
	Config *config.Config
	Store  *store.Store
	// Repo is the provisioning repository on Store.
	Repo *provision.Repo
	// Billing rates CDRs and keeps accounts (the composition root starts
	// and stops it); the API serves decks, plans, accounts and ratings.
	Billing *billing.Service
	// Controller acts on live calls for the API; nil answers 503.
	Controller control.Controller
	// Nodes is the node hub's registry for the API; nil answers 503.
	Nodes api.Nodes
	// Queues are the call queues of the node in the same process, for
	// the API's live queue state; nil: none.
	Queues control.Queues
	// Voicemail is the node's voicemail messages for the API (serve);
	// nil answers 503.
	Voicemail api.Voicemail
	Logger    *slog.Logger
	// Stderr receives the first admin token when one is generated.
	Stderr io.Writer
	// Bans is the process's ban list, shared with SIP and AMI.
	Bans *acl.BanList
}

// Central is a running central server.
type Central struct {
	Repo *provision.Repo
	API  *api.Server // nil when http.listen is "off"
	log  *slog.Logger
	stop context.CancelFunc
	done chan struct{}
}

// Start serves the API.
func Start(ctx context.Context, o Options) (*Central, error) {
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	stderr := o.Stderr
	if stderr == nil {
		stderr = os.Stderr
	}
	repo := o.Repo
	c := &Central{Repo: repo, log: log, done: make(chan struct{})}
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
	apiOpts := api.Options{Store: o.Store, Provision: repo, Controller: o.Controller, Nodes: o.Nodes, Logger: log, Billing: o.Billing,
		Queues: o.Queues, Voicemail: o.Voicemail}
	if err := apiSecurity(&apiOpts, o.Config, o.Bans, log); err != nil {
		c.Close(ctx)
		return nil, err
	}
	var err error
	c.API, err = api.Start(ctx, apiOpts, o.Config.HTTP.Listen, os.Getenv, stderr)
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
}
