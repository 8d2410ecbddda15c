package api

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/entvoice/entvoice/internal/provision"
)

// principal is who a request acts as.
type principal struct {
	TokenID string
	Tenant  string // "" for an admin
}

func (p *principal) admin() bool { return p.Tenant == "" }

// authenticate resolves the request's bearer token (RFC 6750 §2.1).
func (a *API) authenticate(r *http.Request) (*principal, error) {
	h := r.Header.Get("Authorization")
	scheme, tok, ok := strings.Cut(h, " ")
	if h == "" || !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(tok) == "" {
		return nil, &problem{Type: typeAuth, Title: "Unauthorized", Status: http.StatusUnauthorized,
			Detail: "send an API token as Authorization: Bearer <token>"}
	}
	t, err := a.repo.LookupToken(r.Context(), strings.TrimSpace(tok))
	if errors.Is(err, provision.ErrNotFound) {
		return nil, &problem{Type: typeAuth, Title: "Unauthorized", Status: http.StatusUnauthorized,
			Detail: "the bearer token is not valid (revoked or mistyped)"}
	}
	if err != nil {
		return nil, err
	}
	a.touch(r.Context(), t.ID)
	return &principal{TokenID: t.ID, Tenant: t.Tenant}, nil
}

// touch records a token's use at most once a minute, so reads do not turn
// into a write each.
func (a *API) touch(ctx context.Context, id string) {
	now := time.Now()
	a.mu.Lock()
	last, seen := a.used[id]
	if seen && now.Sub(last) < time.Minute {
		a.mu.Unlock()
		return
	}
	a.used[id] = now
	a.mu.Unlock()
	if err := a.repo.TouchToken(ctx, id, now); err != nil {
		a.log.Debug("api: token use not recorded", "err", err)
	}
}

// scope checks that p may see tenant and that it exists; another tenant's
// objects are reported as not found (never as forbidden, which would
// confirm they exist).
func (a *API) scope(r *http.Request, p *principal, tenant string) error {
	if !p.admin() && p.Tenant != tenant {
		return notFound("tenant %q not found", tenant)
	}
	if _, err := a.repo.GetTenant(r.Context(), tenant); err != nil {
		return err
	}
	return nil
}

// EnvAdminToken names the environment variable with the first admin
// token's value.
const EnvAdminToken = "ENTVOICE_ADMIN_TOKEN"

// Bootstrap creates the first admin token when the token table is empty:
// the value of ENTVOICE_ADMIN_TOKEN (getenv) when set, else a random one
// that is written once to out (the value is never stored, only its
// SHA-256). It returns whether a token was created. entvoice serve calls
// it at start.
func Bootstrap(ctx context.Context, repo *provision.Repo, getenv func(string) string, out io.Writer, log *slog.Logger) (bool, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	n, err := repo.CountTokens(ctx)
	if err != nil {
		return false, err
	}
	if n > 0 {
		return false, nil
	}
	value := ""
	if getenv != nil {
		value = strings.TrimSpace(getenv(EnvAdminToken))
	}
	fromEnv := value != ""
	if fromEnv && len(value) < 16 {
		return false, fmt.Errorf("api: %s must be at least 16 characters", EnvAdminToken)
	}
	t, value, err := repo.CreateToken(ctx, provision.Token{Name: "admin (first start)"}, value)
	if err != nil {
		return false, err
	}
	if fromEnv {
		log.Info("api: created the admin token from "+EnvAdminToken, "id", t.ID)
		return true, nil
	}
	log.Info("api: created an admin token; its value is shown once", "id", t.ID)
	if out != nil {
		_, _ = fmt.Fprintf(out, "entvoice: admin API token (shown once, store it now): %s\n", value)
	}
	return true, nil
}
