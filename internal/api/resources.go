package api

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"

	"github.com/entvoice/entvoice/internal/provision"
)

// Page sizes of list endpoints.
const (
	defaultPage = 100
	maxPage     = 1000
)

// list is a page of a collection; NextCursor is empty on the last page.
type list[T any] struct {
	Items      []T    `json:"items"`
	NextCursor string `json:"next_cursor,omitempty"`
}

// page makes a page of at most limit items from up to limit+1 fetched: the
// extra one only says there is a next page, which starts after the last
// item shown (its cursor).
func page[T any](items []T, limit int, cursor func(T) string) list[T] {
	out := list[T]{Items: items}
	if len(items) > limit {
		out.Items = items[:limit]
		out.NextCursor = cursor(items[limit-1])
	}
	return out
}

func pageLimit(r *http.Request) (int, error) {
	v := r.URL.Query().Get("limit")
	if v == "" {
		return defaultPage, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > maxPage {
		return 0, badField("limit", "must be a number from 1 to %d", maxPage)
	}
	return n, nil
}

func cursorID(r *http.Request) (int64, error) {
	v := r.URL.Query().Get("cursor")
	if v == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 {
		return 0, badField("cursor", "is not a cursor this endpoint returned")
	}
	return n, nil
}

// checkQuery refuses query parameters an endpoint does not know.
func checkQuery(r *http.Request, allowed ...string) error {
	for k := range r.URL.Query() {
		ok := false
		for _, a := range allowed {
			if k == a {
				ok = true
				break
			}
		}
		if !ok {
			return badField(k, "unknown query parameter (want one of %s)", strings.Join(allowed, ", "))
		}
	}
	return nil
}

// switchPatch is a PATCH of service switches: true or false sets a
// switch, null unsets it (inherit), an absent key leaves it alone.
type switchPatch map[string]*bool

func (*switchPatch) nullsUnset() {}

var switchNames = []string{"recording", "voicemail", "agi", "speech", "outbound", "international"}

func switchField(s *provision.Switches, name string) **bool {
	switch name {
	case "recording":
		return &s.Recording
	case "voicemail":
		return &s.Voicemail
	case "agi":
		return &s.AGI
	case "speech":
		return &s.Speech
	case "outbound":
		return &s.Outbound
	case "international":
		return &s.International
	}
	return nil
}

func (p switchPatch) check(prefix string) error {
	keys := make([]string, 0, len(p))
	for k := range p {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if switchField(&provision.Switches{}, k) == nil {
			return badField(prefix+k, "unknown service (want one of %s)", strings.Join(switchNames, ", "))
		}
	}
	return nil
}

func (p switchPatch) apply(s *provision.Switches) {
	for k, v := range p {
		if f := switchField(s, k); f != nil {
			*f = v
		}
	}
}

// ---- tenants

type tenantCreate struct {
	ID       string             `json:"id"`
	Name     string             `json:"name"`
	Domain   string             `json:"domain"`
	Status   string             `json:"status"`
	MaxCalls int                `json:"max_calls"`
	MaxUsers int                `json:"max_users"`
	Language string             `json:"language"`
	Services provision.Switches `json:"services"`
}

type tenantPatch struct {
	Name     *string     `json:"name"`
	Domain   *string     `json:"domain"`
	Status   *string     `json:"status"`
	MaxCalls *int        `json:"max_calls"`
	MaxUsers *int        `json:"max_users"`
	Language *string     `json:"language"`
	Services switchPatch `json:"services"`
}

func (a *API) listTenants(w http.ResponseWriter, r *http.Request, p *principal) error {
	if err := checkQuery(r, "limit", "cursor"); err != nil {
		return err
	}
	limit, err := pageLimit(r)
	if err != nil {
		return err
	}
	if !p.admin() {
		t, err := a.repo.GetTenant(r.Context(), p.Tenant)
		if err != nil {
			return err
		}
		return writeJSON(w, http.StatusOK, list[provision.Tenant]{Items: []provision.Tenant{t}})
	}
	ts, err := a.repo.ListTenants(r.Context(), r.URL.Query().Get("cursor"), limit+1)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, page(ts, limit, func(t provision.Tenant) string { return t.ID }))
}

func (a *API) createTenant(w http.ResponseWriter, r *http.Request, p *principal) error {
	if !p.admin() {
		return forbidden("only an admin token may create tenants")
	}
	var in tenantCreate
	if err := decode(w, r, &in); err != nil {
		return err
	}
	t, err := a.repo.CreateTenant(r.Context(), provision.Tenant{ID: in.ID, Name: in.Name, Domain: in.Domain, Status: in.Status,
		MaxCalls: in.MaxCalls, MaxUsers: in.MaxUsers, Language: in.Language, Services: in.Services})
	if err != nil {
		return err
	}
	w.Header().Set("Location", Prefix+"/tenants/"+url.PathEscape(t.ID))
	return writeJSON(w, http.StatusCreated, t)
}

func (a *API) getTenant(w http.ResponseWriter, r *http.Request, p *principal) error {
	id := r.PathValue("tenant")
	if !p.admin() && p.Tenant != id {
		return notFound("tenant %q not found", id)
	}
	t, err := a.repo.GetTenant(r.Context(), id)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, t)
}

// patchTenant: a tenant token may change its tenant's name, language and
// services; status, limits and domain are the platform's (admin only).
func (a *API) patchTenant(w http.ResponseWriter, r *http.Request, p *principal) error {
	id := r.PathValue("tenant")
	if err := a.scope(r, p, id); err != nil {
		return err
	}
	var in tenantPatch
	if err := decode(w, r, &in); err != nil {
		return err
	}
	if err := in.Services.check("services."); err != nil {
		return err
	}
	if !p.admin() {
		for name, set := range map[string]bool{"domain": in.Domain != nil, "status": in.Status != nil, "max_calls": in.MaxCalls != nil, "max_users": in.MaxUsers != nil} {
			if set {
				return forbidden("%s can only be changed with an admin token", name)
			}
		}
	}
	t, err := a.repo.UpdateTenant(r.Context(), id, func(t *provision.Tenant) error {
		setIf(&t.Name, in.Name)
		setIf(&t.Domain, in.Domain)
		setIf(&t.Status, in.Status)
		setIf(&t.MaxCalls, in.MaxCalls)
		setIf(&t.MaxUsers, in.MaxUsers)
		setIf(&t.Language, in.Language)
		in.Services.apply(&t.Services)
		return nil
	})
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, t)
}

func setIf[T any](dst *T, v *T) {
	if v != nil {
		*dst = *v
	}
}

func (a *API) deleteTenant(w http.ResponseWriter, r *http.Request, p *principal) error {
	id := r.PathValue("tenant")
	if !p.admin() {
		if p.Tenant != id {
			return notFound("tenant %q not found", id)
		}
		return forbidden("only an admin token may delete tenants")
	}
	if err := a.repo.DeleteTenant(r.Context(), id); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// ---- services

// switchesUpdate applies fn to the stored switches of the request's
// tenant or user and writes the result.
type switchesUpdate func(w http.ResponseWriter, r *http.Request, p *principal, fn func(*provision.Switches)) error

// putSwitches replaces every switch (absent ones become unset).
func putSwitches(w http.ResponseWriter, r *http.Request, p *principal, update switchesUpdate) error {
	var in provision.Switches
	if err := decode(w, r, &in); err != nil {
		return err
	}
	return update(w, r, p, func(s *provision.Switches) { *s = in })
}

// patchSwitches changes only the switches sent (null unsets one).
func patchSwitches(w http.ResponseWriter, r *http.Request, p *principal, update switchesUpdate) error {
	var in switchPatch
	if err := decode(w, r, &in); err != nil {
		return err
	}
	if err := in.check(""); err != nil {
		return err
	}
	return update(w, r, p, in.apply)
}

func (a *API) getTenantServices(w http.ResponseWriter, r *http.Request, p *principal) error {
	id := r.PathValue("tenant")
	if !p.admin() && p.Tenant != id {
		return notFound("tenant %q not found", id)
	}
	t, err := a.repo.GetTenant(r.Context(), id)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, t.Services)
}

func (a *API) putTenantServices(w http.ResponseWriter, r *http.Request, p *principal) error {
	return putSwitches(w, r, p, a.updateTenantServices)
}

func (a *API) patchTenantServices(w http.ResponseWriter, r *http.Request, p *principal) error {
	return patchSwitches(w, r, p, a.updateTenantServices)
}

func (a *API) updateTenantServices(w http.ResponseWriter, r *http.Request, p *principal, fn func(*provision.Switches)) error {
	id := r.PathValue("tenant")
	if err := a.scope(r, p, id); err != nil {
		return err
	}
	t, err := a.repo.UpdateTenant(r.Context(), id, func(t *provision.Tenant) error { fn(&t.Services); return nil })
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, t.Services)
}

func (a *API) getUserServices(w http.ResponseWriter, r *http.Request, p *principal) error {
	tid := r.PathValue("tenant")
	if err := a.scope(r, p, tid); err != nil {
		return err
	}
	u, err := a.repo.GetUser(r.Context(), tid, r.PathValue("user"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, u.Services)
}

// getUserLocation says which node the user is registered on (over the
// cluster: the node that has a contact for it), 404 when none.
func (a *API) getUserLocation(w http.ResponseWriter, r *http.Request, p *principal) error {
	tid := r.PathValue("tenant")
	if err := a.scope(r, p, tid); err != nil {
		return err
	}
	u, err := a.repo.GetUser(r.Context(), tid, r.PathValue("user"))
	if err != nil {
		return err
	}
	ctl, err := a.controller()
	if err != nil {
		return err
	}
	loc, err := ctl.Locate(r.Context(), tid, u.Name)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, loc)
}

func (a *API) putUserServices(w http.ResponseWriter, r *http.Request, p *principal) error {
	return putSwitches(w, r, p, a.updateUserServices)
}

func (a *API) patchUserServices(w http.ResponseWriter, r *http.Request, p *principal) error {
	return patchSwitches(w, r, p, a.updateUserServices)
}

func (a *API) updateUserServices(w http.ResponseWriter, r *http.Request, p *principal, fn func(*provision.Switches)) error {
	tid := r.PathValue("tenant")
	if err := a.scope(r, p, tid); err != nil {
		return err
	}
	u, err := a.repo.UpdateUser(r.Context(), tid, r.PathValue("user"), nil, func(u *provision.User) error { fn(&u.Services); return nil })
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, u.Services)
}

// ---- users

type userCreate struct {
	Name        string             `json:"name"`
	Password    string             `json:"password"`
	Context     string             `json:"context"`
	CallerID    string             `json:"callerid"`
	Language    string             `json:"language"`
	Codecs      []string           `json:"codecs"`
	Permit      []string           `json:"permit"`
	Deny        []string           `json:"deny"`
	MaxContacts int                `json:"max_contacts"`
	AccountCode string             `json:"accountcode"`
	Enabled     *bool              `json:"enabled"`
	Services    provision.Switches `json:"services"`
	// Call and pickup groups (pickup, *8).
	CallGroup        string `json:"callgroup"`
	PickupGroup      string `json:"pickupgroup"`
	NamedCallGroup   string `json:"named_callgroup"`
	NamedPickupGroup string `json:"named_pickupgroup"`
}

type userPatch struct {
	Password    *string     `json:"password"`
	Context     *string     `json:"context"`
	CallerID    *string     `json:"callerid"`
	Language    *string     `json:"language"`
	Codecs      *[]string   `json:"codecs"`
	Permit      *[]string   `json:"permit"`
	Deny        *[]string   `json:"deny"`
	MaxContacts *int        `json:"max_contacts"`
	AccountCode *string     `json:"accountcode"`
	Enabled     *bool       `json:"enabled"`
	Services    switchPatch `json:"services"`
	// Call and pickup groups (pickup, *8).
	CallGroup        *string `json:"callgroup"`
	PickupGroup      *string `json:"pickupgroup"`
	NamedCallGroup   *string `json:"named_callgroup"`
	NamedPickupGroup *string `json:"named_pickupgroup"`
}

func (a *API) listUsers(w http.ResponseWriter, r *http.Request, p *principal) error {
	return listByID(a, w, r, p, a.repo.ListUsers, func(x provision.User) int64 { return x.ID })
}

// listByID serves a tenant's collection paged by id (?limit=&cursor=):
// list returns up to limit items with ids above after.
func listByID[T any](a *API, w http.ResponseWriter, r *http.Request, p *principal,
	list func(ctx context.Context, tid string, after int64, limit int) ([]T, error), id func(T) int64) error {
	tid := r.PathValue("tenant")
	if err := a.scope(r, p, tid); err != nil {
		return err
	}
	if err := checkQuery(r, "limit", "cursor"); err != nil {
		return err
	}
	limit, err := pageLimit(r)
	if err != nil {
		return err
	}
	after, err := cursorID(r)
	if err != nil {
		return err
	}
	items, err := list(r.Context(), tid, after, limit+1)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, page(items, limit, func(x T) string { return strconv.FormatInt(id(x), 10) }))
}

func (a *API) createUser(w http.ResponseWriter, r *http.Request, p *principal) error {
	tid := r.PathValue("tenant")
	if err := a.scope(r, p, tid); err != nil {
		return err
	}
	var in userCreate
	if err := decode(w, r, &in); err != nil {
		return err
	}
	enabled := in.Enabled == nil || *in.Enabled
	u, err := a.repo.CreateUser(r.Context(), provision.User{Tenant: tid, Name: in.Name, Context: in.Context, CallerID: in.CallerID,
		Language: in.Language, Codecs: in.Codecs, Permit: in.Permit, Deny: in.Deny, MaxContacts: in.MaxContacts,
		AccountCode: in.AccountCode, Enabled: enabled, Services: in.Services,
		CallGroup: in.CallGroup, PickupGroup: in.PickupGroup, NamedCallGroup: in.NamedCallGroup, NamedPickupGroup: in.NamedPickupGroup}, in.Password)
	if err != nil {
		return err
	}
	w.Header().Set("Location", Prefix+"/tenants/"+url.PathEscape(tid)+"/users/"+url.PathEscape(u.Name))
	return writeJSON(w, http.StatusCreated, u)
}

func (a *API) getUser(w http.ResponseWriter, r *http.Request, p *principal) error {
	tid := r.PathValue("tenant")
	if err := a.scope(r, p, tid); err != nil {
		return err
	}
	u, err := a.repo.GetUser(r.Context(), tid, r.PathValue("user"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, u)
}

func (a *API) patchUser(w http.ResponseWriter, r *http.Request, p *principal) error {
	tid := r.PathValue("tenant")
	if err := a.scope(r, p, tid); err != nil {
		return err
	}
	var in userPatch
	if err := decode(w, r, &in); err != nil {
		return err
	}
	if err := in.Services.check("services."); err != nil {
		return err
	}
	u, err := a.repo.UpdateUser(r.Context(), tid, r.PathValue("user"), in.Password, func(u *provision.User) error {
		setIf(&u.Context, in.Context)
		setIf(&u.CallerID, in.CallerID)
		setIf(&u.Language, in.Language)
		setIf(&u.Codecs, in.Codecs)
		setIf(&u.Permit, in.Permit)
		setIf(&u.Deny, in.Deny)
		setIf(&u.MaxContacts, in.MaxContacts)
		setIf(&u.AccountCode, in.AccountCode)
		setIf(&u.Enabled, in.Enabled)
		setIf(&u.CallGroup, in.CallGroup)
		setIf(&u.PickupGroup, in.PickupGroup)
		setIf(&u.NamedCallGroup, in.NamedCallGroup)
		setIf(&u.NamedPickupGroup, in.NamedPickupGroup)
		in.Services.apply(&u.Services)
		return nil
	})
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, u)
}

func (a *API) deleteUser(w http.ResponseWriter, r *http.Request, p *principal) error {
	tid := r.PathValue("tenant")
	if err := a.scope(r, p, tid); err != nil {
		return err
	}
	if err := a.repo.DeleteUser(r.Context(), tid, r.PathValue("user")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// isImport reports a bulk import request (which may be large).
func isImport(r *http.Request) bool { return strings.HasSuffix(r.URL.Path, "/import") }

func (a *API) readImport(w http.ResponseWriter, r *http.Request) ([]byte, string, error) {
	ct, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil {
		ct = ""
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, a.opts.MaxImportBytes))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, "", &problem{Type: typeTooLarge, Title: "Content Too Large", Status: http.StatusRequestEntityTooLarge, Detail: fmt.Sprintf("an import is at most %d bytes", a.opts.MaxImportBytes)}
		}
		return nil, "", err
	}
	return body, ct, nil
}

func (a *API) importUsers(w http.ResponseWriter, r *http.Request, p *principal) error {
	tid := r.PathValue("tenant")
	if err := a.scope(r, p, tid); err != nil {
		return err
	}
	if err := checkQuery(r); err != nil {
		return err
	}
	body, ct, err := a.readImport(w, r)
	if err != nil {
		return err
	}
	if ct != "text/csv" {
		return &problem{Type: typeBadRequest, Title: "Unsupported Media Type", Status: http.StatusUnsupportedMediaType,
			Detail: fmt.Sprintf("Content-Type %q: a users import is text/csv with a header row of %s", ct, strings.Join(provision.UserCSVColumns, ","))}
	}
	users, err := provision.ParseUsersCSV(bytes.NewReader(body))
	if err != nil {
		return err
	}
	res, err := a.repo.Import(r.Context(), provision.Batch{Tenant: tid, Users: users})
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, res)
}

// ---- extensions

type extCreate struct {
	Context  string `json:"context"`
	Exten    string `json:"exten"`
	Priority int    `json:"priority"`
	Label    string `json:"label"`
	App      string `json:"app"`
	AppData  string `json:"appdata"`
}

type extPatch struct {
	Context  *string `json:"context"`
	Exten    *string `json:"exten"`
	Priority *int    `json:"priority"`
	Label    *string `json:"label"`
	App      *string `json:"app"`
	AppData  *string `json:"appdata"`
}

// pathID is the {id} of the path; what names the resource in the 404.
func pathID(r *http.Request, what string) (int64, error) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		return 0, notFound("%s %q not found", what, r.PathValue("id"))
	}
	return id, nil
}

func (a *API) listExtensions(w http.ResponseWriter, r *http.Request, p *principal) error {
	tid := r.PathValue("tenant")
	if err := a.scope(r, p, tid); err != nil {
		return err
	}
	if err := checkQuery(r, "limit", "cursor", "context", "exten"); err != nil {
		return err
	}
	limit, err := pageLimit(r)
	if err != nil {
		return err
	}
	after, err := cursorID(r)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	xs, err := a.repo.ListExtensions(r.Context(), tid, provision.ExtensionFilter{Context: q.Get("context"), Exten: q.Get("exten"), After: after, Limit: limit + 1})
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, page(xs, limit, func(x provision.Extension) string { return strconv.FormatInt(x.ID, 10) }))
}

func (a *API) createExtension(w http.ResponseWriter, r *http.Request, p *principal) error {
	tid := r.PathValue("tenant")
	if err := a.scope(r, p, tid); err != nil {
		return err
	}
	var in extCreate
	if err := decode(w, r, &in); err != nil {
		return err
	}
	x, err := a.repo.CreateExtension(r.Context(), provision.Extension{Tenant: tid, Context: in.Context, Exten: in.Exten,
		Priority: in.Priority, Label: in.Label, App: in.App, AppData: in.AppData})
	if err != nil {
		return err
	}
	w.Header().Set("Location", fmt.Sprintf("%s/tenants/%s/extensions/%d", Prefix, url.PathEscape(tid), x.ID))
	return writeJSON(w, http.StatusCreated, x)
}

func (a *API) getExtension(w http.ResponseWriter, r *http.Request, p *principal) error {
	tid := r.PathValue("tenant")
	if err := a.scope(r, p, tid); err != nil {
		return err
	}
	id, err := pathID(r, "extension")
	if err != nil {
		return err
	}
	x, err := a.repo.GetExtension(r.Context(), tid, id)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, x)
}

func (a *API) patchExtension(w http.ResponseWriter, r *http.Request, p *principal) error {
	tid := r.PathValue("tenant")
	if err := a.scope(r, p, tid); err != nil {
		return err
	}
	id, err := pathID(r, "extension")
	if err != nil {
		return err
	}
	var in extPatch
	if err := decode(w, r, &in); err != nil {
		return err
	}
	x, err := a.repo.UpdateExtension(r.Context(), tid, id, func(x *provision.Extension) error {
		setIf(&x.Context, in.Context)
		setIf(&x.Exten, in.Exten)
		setIf(&x.Priority, in.Priority)
		setIf(&x.Label, in.Label)
		setIf(&x.App, in.App)
		setIf(&x.AppData, in.AppData)
		return nil
	})
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, x)
}

func (a *API) deleteExtension(w http.ResponseWriter, r *http.Request, p *principal) error {
	tid := r.PathValue("tenant")
	if err := a.scope(r, p, tid); err != nil {
		return err
	}
	id, err := pathID(r, "extension")
	if err != nil {
		return err
	}
	if err := a.repo.DeleteExtension(r.Context(), tid, id); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// importExtensions takes extensions.conf text (text/plain) or a CSV of
// realtime rows (text/csv); ?replace=true replaces the rows of every
// context the import has.
func (a *API) importExtensions(w http.ResponseWriter, r *http.Request, p *principal) error {
	tid := r.PathValue("tenant")
	if err := a.scope(r, p, tid); err != nil {
		return err
	}
	if err := checkQuery(r, "replace"); err != nil {
		return err
	}
	replace := false
	if v := r.URL.Query().Get("replace"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return badField("replace", "must be true or false")
		}
		replace = b
	}
	body, ct, err := a.readImport(w, r)
	if err != nil {
		return err
	}
	b := provision.Batch{Tenant: tid, ReplaceContexts: replace}
	switch ct {
	case "text/csv":
		if b.Extensions, err = provision.ParseExtensionsCSV(bytes.NewReader(body)); err != nil {
			return err
		}
	case "text/plain":
		var perr error
		b.Extensions, perr = provision.ParseExtensionsConf("import", body)
		var ve *provision.ValidationError
		if errors.As(perr, &ve) {
			b.Errors = ve.Errors
		} else if perr != nil {
			return perr
		}
	default:
		return &problem{Type: typeBadRequest, Title: "Unsupported Media Type", Status: http.StatusUnsupportedMediaType,
			Detail: fmt.Sprintf("Content-Type %q: an extensions import is text/plain (extensions.conf) or text/csv (%s)", ct, strings.Join(provision.ExtensionCSVColumns, ","))}
	}
	res, err := a.repo.Import(r.Context(), b)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, res)
}

// ---- tokens

type tokenCreate struct {
	Name   string `json:"name"`
	Tenant string `json:"tenant"`
}

// tokenCreated is a new token with its value, shown this once.
type tokenCreated struct {
	provision.Token
	Value string `json:"token"`
}

func (a *API) listTokens(w http.ResponseWriter, r *http.Request, p *principal) error {
	if err := checkQuery(r); err != nil {
		return err
	}
	ts, err := a.repo.ListTokens(r.Context(), p.Tenant, p.admin())
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, list[provision.Token]{Items: ts})
}

// ownerTenant settles the tenant a new token or AMI user belongs to: a
// tenant token's own (another is 404), an admin's choice ("" for global)
// which must exist.
func (a *API) ownerTenant(r *http.Request, p *principal, tenant *string) error {
	if !p.admin() {
		if *tenant == "" {
			*tenant = p.Tenant
		}
		if *tenant != p.Tenant {
			return notFound("tenant %q not found", *tenant)
		}
	}
	if *tenant == "" {
		return nil
	}
	if _, err := a.repo.GetTenant(r.Context(), *tenant); err != nil {
		if errors.Is(err, provision.ErrNotFound) {
			return &provision.ValidationError{Errors: []provision.FieldError{{Field: "tenant", Message: fmt.Sprintf("tenant %q does not exist", *tenant)}}}
		}
		return err
	}
	return nil
}

func (a *API) createToken(w http.ResponseWriter, r *http.Request, p *principal) error {
	var in tokenCreate
	if err := decode(w, r, &in); err != nil {
		return err
	}
	if err := a.ownerTenant(r, p, &in.Tenant); err != nil {
		return err
	}
	t, value, err := a.repo.CreateToken(r.Context(), provision.Token{Name: in.Name, Tenant: in.Tenant}, "")
	if err != nil {
		return err
	}
	w.Header().Set("Location", Prefix+"/tokens/"+t.ID)
	return writeJSON(w, http.StatusCreated, tokenCreated{Token: t, Value: value})
}

func (a *API) visibleToken(r *http.Request, p *principal) (provision.Token, error) {
	t, err := a.repo.GetToken(r.Context(), r.PathValue("id"))
	if err != nil {
		return t, err
	}
	if !p.admin() && t.Tenant != p.Tenant {
		return t, notFound("token %q not found", r.PathValue("id"))
	}
	return t, nil
}

func (a *API) getToken(w http.ResponseWriter, r *http.Request, p *principal) error {
	t, err := a.visibleToken(r, p)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, t)
}

func (a *API) deleteToken(w http.ResponseWriter, r *http.Request, p *principal) error {
	t, err := a.visibleToken(r, p)
	if err != nil {
		return err
	}
	if err := a.repo.DeleteToken(r.Context(), t.ID); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
