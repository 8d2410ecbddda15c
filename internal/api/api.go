// Package api is entVoice's REST API under /api/v1: tenants, SIP users,
// realtime extensions (with bulk import), service switches, API tokens,
// AMI users, live calls and CDRs, described by the OpenAPI 3.1 document it serves at
// /api/v1/openapi.json.
//
// Conventions: bearer tokens (RFC 6750) scoped to one tenant or admin; a
// tenant token sees only its tenant, and another tenant's objects answer
// 404. Errors are application/problem+json (RFC 9457). PATCH changes only
// the fields sent (RFC 7396 merge semantics for objects). POST accepts an
// Idempotency-Key (draft-ietf-httpapi-idempotency-key-header). Unknown
// JSON fields are refused with 400.
package api

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/entvoice/entvoice/internal/acl"
	"github.com/entvoice/entvoice/internal/billing"
	"github.com/entvoice/entvoice/internal/control"
	"github.com/entvoice/entvoice/internal/provision"
	"github.com/entvoice/entvoice/internal/store"
)

// Prefix is the API's path prefix.
const Prefix = "/api/v1"

// Options configures New.
type Options struct {
	Store     *store.Store
	Provision *provision.Repo
	// Controller acts on live calls; nil answers the calls endpoints with 503.
	Controller control.Controller
	Logger     *slog.Logger
	// IdempotencyTTL is how long a stored POST response is replayed
	// (default 24 h).
	IdempotencyTTL time.Duration
	// MaxImportBytes bounds a bulk import body (default 64 MiB).
	MaxImportBytes int64
	// Nodes is the node registry of the distributed tier; nil answers
	// the nodes endpoints with 503.
	Nodes Nodes
	// Billing rates CDRs and keeps accounts (billing.go); nil answers the
	// billing endpoints with 503 and lists CDRs without ratings.
	Billing *billing.Service
	// Queues are the call queues of a node in the same process (live
	// state, queues.go); nil answers their status with 503.
	Queues control.Queues
	// Voicemail is the node's messages (mailboxes.go); nil answers the
	// messages endpoints with 503.
	Voicemail Voicemail

	// Security edge (security.go). Guard bans addresses that send bad
	// tokens, on the ban list SIP and AMI share (nil: the API's own);
	// Audit records every change (nil: none); TLS serves HTTPS, with
	// Strict-Transport-Security max-age HSTS.
	Guard *acl.Guard
	Audit *Audit
	TLS   *tls.Config
	HSTS  time.Duration
}

// API is the REST API's handler.
type API struct {
	opts  Options
	st    *store.Store
	repo  *provision.Repo
	ctl   control.Controller
	log   *slog.Logger
	mux   *http.ServeMux
	spec  []byte
	mu    sync.Mutex
	used  map[string]time.Time // token id -> last recorded use
	route []Route
}

// Route is one registered method and path pattern.
type Route struct {
	Method  string
	Pattern string // e.g. /api/v1/tenants/{tenant}
}

// New builds the API handler.
func New(o Options) (*API, error) {
	if o.Store == nil || o.Provision == nil {
		return nil, errors.New("api: Store and Provision are required")
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.IdempotencyTTL <= 0 {
		o.IdempotencyTTL = 24 * time.Hour
	}
	if o.MaxImportBytes <= 0 {
		o.MaxImportBytes = 64 << 20
	}
	if o.Guard == nil {
		o.Guard = acl.NewGuard(acl.GuardOptions{Service: "API", MaxAuthFailures: 10})
	}
	spec, err := openAPIJSON()
	if err != nil {
		return nil, err
	}
	a := &API{opts: o, st: o.Store, repo: o.Provision, ctl: o.Controller, log: o.Logger,
		mux: http.NewServeMux(), spec: spec, used: map[string]time.Time{}}
	a.routes()
	return a, nil
}

// ServeHTTP implements http.Handler.
func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	a.mux.ServeHTTP(w, r)
}

// Routes returns the registered routes (for the OpenAPI coverage test and
// documentation tools).
func (a *API) Routes() []Route { return append([]Route(nil), a.route...) }

// handlerFunc is an API handler: it writes a success response itself or
// returns an error that becomes a problem+json response.
type handlerFunc func(w http.ResponseWriter, r *http.Request, p *principal) error

// handle registers an authenticated route.
func (a *API) handle(method, path string, h handlerFunc) {
	a.route = append(a.route, Route{Method: method, Pattern: Prefix + path})
	a.mux.HandleFunc(method+" "+Prefix+path, func(w http.ResponseWriter, r *http.Request) {
		if a.refuseBanned(w, r) {
			return
		}
		p, err := a.authenticate(r)
		if err != nil {
			var pr *problem
			if errors.As(err, &pr) && pr.Status == http.StatusUnauthorized {
				a.authFailed(r, r.Header.Get("Authorization") != "")
			}
			a.fail(w, r, err)
			return
		}
		a.audited(w, r, p, func(w http.ResponseWriter) {
			if method == http.MethodPost && r.Header.Get("Idempotency-Key") != "" {
				a.idempotent(w, r, p, h)
				return
			}
			if err := h(w, r, p); err != nil {
				a.fail(w, r, err)
			}
		})
	})
}

func (a *API) routes() {
	a.route = append(a.route, Route{Method: http.MethodGet, Pattern: Prefix + "/openapi.json"})
	a.mux.HandleFunc("GET "+Prefix+"/openapi.json", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(a.spec)
	})
	a.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if allow := a.allowed(r.URL.EscapedPath()); len(allow) > 0 {
			w.Header().Set("Allow", strings.Join(allow, ", "))
			a.fail(w, r, &problem{Status: http.StatusMethodNotAllowed, Type: typeNoRoute, Title: "Method Not Allowed",
				Detail: fmt.Sprintf("%s does not take %s (it takes %s)", r.URL.Path, r.Method, strings.Join(allow, ", "))})
			return
		}
		a.fail(w, r, &problem{Status: http.StatusNotFound, Type: typeNoRoute, Title: "Not Found",
			Detail: fmt.Sprintf("no API route for %s %s (see %s/openapi.json)", r.Method, r.URL.Path, Prefix)})
	})

	a.handle("GET", "/tenants", a.listTenants)
	a.handle("POST", "/tenants", a.createTenant)
	a.handle("GET", "/tenants/{tenant}", a.getTenant)
	a.handle("PATCH", "/tenants/{tenant}", a.patchTenant)
	a.handle("DELETE", "/tenants/{tenant}", a.deleteTenant)

	a.handle("GET", "/tenants/{tenant}/services", a.getTenantServices)
	a.handle("PUT", "/tenants/{tenant}/services", a.putTenantServices)
	a.handle("PATCH", "/tenants/{tenant}/services", a.patchTenantServices)

	a.handle("GET", "/tenants/{tenant}/users", a.listUsers)
	a.handle("POST", "/tenants/{tenant}/users", a.createUser)
	a.handle("POST", "/tenants/{tenant}/users/import", a.importUsers)
	a.handle("GET", "/tenants/{tenant}/users/{user}", a.getUser)
	a.handle("PATCH", "/tenants/{tenant}/users/{user}", a.patchUser)
	a.handle("DELETE", "/tenants/{tenant}/users/{user}", a.deleteUser)
	a.handle("GET", "/tenants/{tenant}/users/{user}/services", a.getUserServices)
	a.handle("GET", "/tenants/{tenant}/users/{user}/location", a.getUserLocation)
	a.handle("PUT", "/tenants/{tenant}/users/{user}/services", a.putUserServices)
	a.handle("PATCH", "/tenants/{tenant}/users/{user}/services", a.patchUserServices)

	a.handle("GET", "/tenants/{tenant}/extensions", a.listExtensions)
	a.handle("POST", "/tenants/{tenant}/extensions", a.createExtension)
	a.handle("POST", "/tenants/{tenant}/extensions/import", a.importExtensions)
	a.handle("GET", "/tenants/{tenant}/extensions/{id}", a.getExtension)
	a.handle("PATCH", "/tenants/{tenant}/extensions/{id}", a.patchExtension)
	a.handle("DELETE", "/tenants/{tenant}/extensions/{id}", a.deleteExtension)

	a.handle("GET", "/tokens", a.listTokens)
	a.handle("POST", "/tokens", a.createToken)
	a.handle("GET", "/tokens/{id}", a.getToken)
	a.handle("DELETE", "/tokens/{id}", a.deleteToken)

	a.handle("GET", "/ami-users", a.listAMIUsers)
	a.handle("POST", "/ami-users", a.createAMIUser)
	a.handle("GET", "/ami-users/{name}", a.getAMIUser)
	a.handle("PATCH", "/ami-users/{name}", a.patchAMIUser)
	a.handle("DELETE", "/ami-users/{name}", a.deleteAMIUser)

	a.handle("GET", "/calls", a.listCalls)
	a.handle("POST", "/calls", a.originate)
	a.handle("DELETE", "/calls/{channel}", a.hangup)

	// Unified communications: conferences.
	a.conferenceRoutes()

	a.handle("GET", "/nodes", a.listNodes)
	a.handle("POST", "/nodes/{node}/revoke", a.revokeNode)
	a.handle("POST", "/nodes/{node}/reload", a.reloadNode)
	a.handle("POST", "/node-tokens", a.createNodeToken)

	a.handle("GET", "/cdrs", a.listCDRs)
	a.handle("GET", "/cdrs/export", a.exportCDRs)

	a.billingRoutes()
	a.grammarRoutes()
	a.queueRoutes()
	a.mailboxRoutes()

	// The security edge: bans and counters shared with SIP and AMI, the
	// audit log (security.go).
	a.handle("GET", "/security", a.getSecurity)
	a.handle("GET", "/security/bans", a.listBans)
	a.handle("POST", "/security/bans", a.addBan)
	a.handle("DELETE", "/security/bans", a.clearBans)
	a.handle("DELETE", "/security/bans/{address}", a.removeBan)
	a.handle("DELETE", "/security/counters", a.resetCounters)
	a.handle("GET", "/audit", a.listAudit)
}

// allowed lists the methods routed for an (escaped) path, for 405's Allow.
func (a *API) allowed(path string) []string {
	segs := strings.Split(path, "/")
	var out []string
next:
	for _, rt := range a.route {
		pat := strings.Split(rt.Pattern, "/")
		if len(pat) != len(segs) {
			continue
		}
		for i := range pat {
			if !strings.HasPrefix(pat[i], "{") && pat[i] != segs[i] {
				continue next
			}
		}
		if !slices.Contains(out, rt.Method) {
			out = append(out, rt.Method)
		}
	}
	return out
}

// Server serves an API on a TCP listener.
type Server struct {
	srv  *http.Server
	ln   net.Listener
	log  *slog.Logger
	wg   sync.WaitGroup
	api  *API          // set by Start: expired idempotency keys are pruned hourly
	stop chan struct{} // closed by Shutdown
	once sync.Once
}

// pruneEvery is how often Start's server deletes expired idempotency keys.
const pruneEvery = time.Hour

// Listen binds addr ("IP:PORT"; "off" returns nil, nil) and returns a
// Server ready to Start.
func Listen(addr string, h http.Handler, log *slog.Logger) (*Server, error) {
	if addr == "off" {
		return nil, nil
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("api: listen %s: %w", addr, err)
	}
	return &Server{ln: ln, log: log, stop: make(chan struct{}), srv: &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}}, nil
}

// Addr returns the bound address.
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// Start serves in the background until Shutdown.
func (s *Server) Start() {
	s.log.Info("api: listening", "addr", s.ln.Addr().String())
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		if err := s.srv.Serve(s.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("api: serve failed", "err", err)
		}
	}()
	if s.api == nil {
		return
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		t := time.NewTicker(pruneEvery)
		defer t.Stop()
		for {
			select {
			case <-s.stop:
				return
			case <-t.C:
				ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
				if err := s.api.PruneIdempotencyKeys(ctx); err != nil {
					s.log.Warn("api: pruning idempotency keys failed", "err", err)
				}
				cancel()
			}
		}
	}()
}

// Shutdown stops accepting requests and waits for those in flight until
// ctx ends, then closes the rest.
func (s *Server) Shutdown(ctx context.Context) error {
	if s == nil {
		return nil
	}
	s.once.Do(func() { close(s.stop) })
	err := s.srv.Shutdown(ctx)
	if err != nil {
		_ = s.srv.Close()
	}
	_ = s.ln.Close() // when Start was never called
	s.wg.Wait()
	if err != nil {
		return fmt.Errorf("api: shutdown: %w", err)
	}
	return nil
}

// Start is what a serving process runs: it creates the first admin token
// when there is none (see Bootstrap; a random value is written to
// stderr), builds the API and serves it on listen ("off": no server, nil
// returned). Stop it with Shutdown, which is nil-safe.
func Start(ctx context.Context, o Options, listen string, getenv func(string) string, stderr io.Writer) (*Server, error) {
	if listen == "off" {
		return nil, nil
	}
	if _, err := Bootstrap(ctx, o.Provision, getenv, stderr, o.Logger); err != nil {
		return nil, fmt.Errorf("api: first admin token: %w", err)
	}
	a, err := New(o)
	if err != nil {
		return nil, err
	}
	s, err := Listen(listen, a, o.Logger)
	if err != nil {
		return nil, err
	}
	if o.TLS != nil {
		// HTTPS: the same listener, TLS on top; answers carry HSTS.
		s.ln = tls.NewListener(s.ln, o.TLS)
		s.srv.Handler = hsts(a, o.HSTS)
	}
	s.api = a
	s.Start()
	return s, nil
}
