package api

import (
	"net/http"
	"net/url"

	"github.com/entvoice/entvoice/internal/provision"
)

// ---- AMI users (manager.conf users kept in the store)
//
// An admin token manages every AMI user; a tenant token only its tenant's,
// and the users it creates are bound to its tenant. Secrets are written,
// never returned (provision.AMIUser has no JSON secret).

type amiUserCreate struct {
	Name   string   `json:"name"`
	Tenant string   `json:"tenant"`
	Secret string   `json:"secret"`
	Read   string   `json:"read"`
	Write  string   `json:"write"`
	Permit []string `json:"permit"`
	Deny   []string `json:"deny"`
	// AllowMultipleLogin defaults to true, as manager.conf's
	// allowmultiplelogin.
	AllowMultipleLogin *bool `json:"allowmultiplelogin"`
}

type amiUserPatch struct {
	Secret             *string   `json:"secret"`
	Read               *string   `json:"read"`
	Write              *string   `json:"write"`
	Permit             *[]string `json:"permit"`
	Deny               *[]string `json:"deny"`
	AllowMultipleLogin *bool     `json:"allowmultiplelogin"`
}

func (a *API) listAMIUsers(w http.ResponseWriter, r *http.Request, p *principal) error {
	if err := checkQuery(r); err != nil {
		return err
	}
	us, err := a.repo.ListAMIUsers(r.Context(), p.Tenant, p.admin())
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, list[provision.AMIUser]{Items: us})
}

func (a *API) createAMIUser(w http.ResponseWriter, r *http.Request, p *principal) error {
	var in amiUserCreate
	if err := decode(w, r, &in); err != nil {
		return err
	}
	if err := a.ownerTenant(r, p, &in.Tenant); err != nil {
		return err
	}
	u := provision.AMIUser{Name: in.Name, Tenant: in.Tenant, Secret: in.Secret, Read: in.Read, Write: in.Write,
		Permit: in.Permit, Deny: in.Deny, AllowMultipleLogin: in.AllowMultipleLogin == nil || *in.AllowMultipleLogin}
	u, err := a.repo.CreateAMIUser(r.Context(), u)
	if err != nil {
		return err
	}
	w.Header().Set("Location", Prefix+"/ami-users/"+url.PathEscape(u.Name))
	return writeJSON(w, http.StatusCreated, u)
}

// visibleAMIUser returns the AMI user of the path if p may see it; another
// tenant's user is not found.
func (a *API) visibleAMIUser(r *http.Request, p *principal) (provision.AMIUser, error) {
	name := r.PathValue("name")
	u, err := a.repo.GetAMIUser(r.Context(), name)
	if err != nil {
		return u, err
	}
	if !p.admin() && u.Tenant != p.Tenant {
		return provision.AMIUser{}, notFound("AMI user %q not found", name)
	}
	return u, nil
}

func (a *API) getAMIUser(w http.ResponseWriter, r *http.Request, p *principal) error {
	u, err := a.visibleAMIUser(r, p)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, u)
}

func (a *API) patchAMIUser(w http.ResponseWriter, r *http.Request, p *principal) error {
	u, err := a.visibleAMIUser(r, p)
	if err != nil {
		return err
	}
	var in amiUserPatch
	if err := decode(w, r, &in); err != nil {
		return err
	}
	if in.Secret != nil && *in.Secret == "" {
		return &provision.ValidationError{Errors: []provision.FieldError{{Field: "secret", Message: "must not be empty (leave it out to keep the secret)"}}}
	}
	// An empty Secret keeps the stored (sealed) one.
	u.Secret = ""
	setIf(&u.Secret, in.Secret)
	setIf(&u.Read, in.Read)
	setIf(&u.Write, in.Write)
	setIf(&u.Permit, in.Permit)
	setIf(&u.Deny, in.Deny)
	setIf(&u.AllowMultipleLogin, in.AllowMultipleLogin)
	if u, err = a.repo.PutAMIUser(r.Context(), u); err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, u)
}

func (a *API) deleteAMIUser(w http.ResponseWriter, r *http.Request, p *principal) error {
	u, err := a.visibleAMIUser(r, p)
	if err != nil {
		return err
	}
	if err := a.repo.DeleteAMIUser(r.Context(), u.Name); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
