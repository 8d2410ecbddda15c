package api

import (
	"context"
	"errors"
	"net/http"
	"net/netip"
	"time"

	"github.com/entvoice/entvoice/internal/control"
)

// Nodes is the distributed tier's node registry as the API uses it
// (hub.Admin of internal/cluster/hub on `entvoice server`; nil elsewhere: 503).
type Nodes interface {
	Nodes(ctx context.Context) ([]control.NodeInfo, error)
	Revoke(ctx context.Context, name string) error
	CreateNodeToken(ctx context.Context, name string, allow []netip.Prefix, ttl time.Duration) (token string, expires time.Time, err error)
	// Reload makes a linked node reload a module ("" or "dialplan").
	Reload(ctx context.Context, node, module string) error
}

func (a *API) nodes(p *principal) (Nodes, error) {
	if !p.admin() {
		return nil, forbidden("nodes are managed with an admin token")
	}
	if a.opts.Nodes == nil {
		return nil, &problem{Type: typeUnavailable, Title: "Service Unavailable", Status: http.StatusServiceUnavailable,
			Detail: "this server runs no node hub (entvoice server with cluster.listen runs one)"}
	}
	return a.opts.Nodes, nil
}

func (a *API) listNodes(w http.ResponseWriter, r *http.Request, p *principal) error {
	n, err := a.nodes(p)
	if err != nil {
		return err
	}
	if err := checkQuery(r); err != nil {
		return err
	}
	list, err := n.Nodes(r.Context())
	if err != nil {
		return err
	}
	if list == nil {
		list = []control.NodeInfo{}
	}
	return writeJSON(w, http.StatusOK, map[string]any{"items": list})
}

func (a *API) revokeNode(w http.ResponseWriter, r *http.Request, p *principal) error {
	if !p.admin() {
		// As for another tenant's objects: not found, not forbidden.
		return notFound("node %q not found", r.PathValue("node"))
	}
	n, err := a.nodes(p)
	if err != nil {
		return err
	}
	name := r.PathValue("node")
	if err := n.Revoke(r.Context(), name); err != nil {
		if errors.Is(err, control.ErrNodeUnknown) {
			return notFound("node %q not found", name)
		}
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

type nodeTokenCreate struct {
	Name  string   `json:"name"`
	Allow []string `json:"allow"`
	TTL   string   `json:"ttl"`
}

func (a *API) createNodeToken(w http.ResponseWriter, r *http.Request, p *principal) error {
	n, err := a.nodes(p)
	if err != nil {
		return err
	}
	var in nodeTokenCreate
	if err := decode(w, r, &in); err != nil {
		return err
	}
	ttl := 24 * time.Hour
	if in.TTL != "" {
		if ttl, err = time.ParseDuration(in.TTL); err != nil || ttl <= 0 {
			return badField("ttl", "want a positive Go duration such as 24h")
		}
	}
	allow, err := control.ParseAllow(in.Allow)
	if err != nil {
		return badField("allow", "%v", err)
	}
	tok, exp, err := n.CreateNodeToken(r.Context(), in.Name, allow, ttl)
	if err != nil {
		if errors.Is(err, control.ErrBadNodeName) {
			return badField("name", "%v", err)
		}
		return err
	}
	return writeJSON(w, http.StatusCreated, map[string]any{"name": in.Name, "token": tok, "expires_at": exp})
}

// reloadNode makes a linked node reload its extensions.conf (?module=
// dialplan, the default; Asterisk's "dialplan reload"), under its realtime
// rows. A file with errors is refused by the node and its running plan
// kept: 502 with the node's message.
func (a *API) reloadNode(w http.ResponseWriter, r *http.Request, p *principal) error {
	if !p.admin() {
		return notFound("node %q not found", r.PathValue("node"))
	}
	n, err := a.nodes(p)
	if err != nil {
		return err
	}
	if err := checkQuery(r, "module"); err != nil {
		return err
	}
	module := r.URL.Query().Get("module")
	if !control.ReloadsDialplan(module) {
		return badField("module", "only dialplan (extensions.conf) reloads")
	}
	name := r.PathValue("node")
	if err := n.Reload(r.Context(), name, module); err != nil {
		if errors.Is(err, control.ErrNodeUnknown) {
			return notFound("node %q not found", name)
		}
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]string{"node": name, "module": "dialplan", "status": "reloaded"})
}
