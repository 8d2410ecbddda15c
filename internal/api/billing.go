package api

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/entvoice/entvoice/internal/billing"
	"github.com/entvoice/entvoice/internal/billing/money"
	"github.com/entvoice/entvoice/internal/billing/tariff"
	"github.com/entvoice/entvoice/internal/cdr"
	"github.com/entvoice/entvoice/internal/cdrstore"
	"github.com/entvoice/entvoice/internal/provision"
)

// Billing endpoints: rate decks, plans, assignments, accounts, journal,
// statements, re-rates (internal/billing). Amounts are JSON numbers
// written with exactly the currency's decimals ("12.30" EUR is 12.30, 5
// JPY is 5): read them as decimals, or use the *_minor integer fields.
// Amounts sent may be JSON numbers or strings; they are read exactly
// from their text, never through a float.

func (a *API) billingRoutes() {
	a.handle("GET", "/tenants/{tenant}/billing", a.getBillingSettings)
	a.handle("PUT", "/tenants/{tenant}/billing", a.putBillingSettings)
	a.handle("GET", "/tenants/{tenant}/rate-decks", a.listDecks)
	a.handle("GET", "/tenants/{tenant}/rate-decks/{deck}", a.getDeck)
	a.handle("POST", "/tenants/{tenant}/rate-decks/{deck}/import", a.importDeck)
	a.handle("GET", "/tenants/{tenant}/rate-decks/{deck}/versions/{version}/rates", a.listDeckRates)
	a.handle("GET", "/tenants/{tenant}/rate-plans", a.listPlans)
	a.handle("GET", "/tenants/{tenant}/rate-plans/{plan}", a.getPlan)
	a.handle("PUT", "/tenants/{tenant}/rate-plans/{plan}", a.putPlan)
	a.handle("DELETE", "/tenants/{tenant}/rate-plans/{plan}", a.deletePlan)
	a.handle("GET", "/tenants/{tenant}/rate-assignments", a.listAssignments)
	a.handle("PUT", "/tenants/{tenant}/rate-assignments", a.putAssignment)
	a.handle("DELETE", "/tenants/{tenant}/rate-assignments", a.deleteAssignment)
	a.handle("GET", "/tenants/{tenant}/accounts", a.listAccounts)
	a.handle("GET", "/tenants/{tenant}/accounts/{account}", a.getAccount)
	a.handle("PUT", "/tenants/{tenant}/accounts/{account}", a.putAccount)
	a.handle("POST", "/tenants/{tenant}/accounts/{account}/topups", a.postCredit(billing.KindTopUp))
	a.handle("POST", "/tenants/{tenant}/accounts/{account}/adjustments", a.postCredit(billing.KindAdjustment))
	a.handle("GET", "/tenants/{tenant}/accounts/{account}/journal", a.getJournal)
	a.handle("GET", "/tenants/{tenant}/accounts/{account}/statement", a.getStatement)
	a.handle("GET", "/tenants/{tenant}/ratings", a.listRatings)
	a.handle("POST", "/tenants/{tenant}/rerates", a.postRerate)
}

// billingScope checks the tenant like scope and that billing is wired.
func (a *API) billingScope(r *http.Request, p *principal) (*billing.Service, string, error) {
	tid := r.PathValue("tenant")
	if err := a.scope(r, p, tid); err != nil {
		return nil, tid, err
	}
	if a.opts.Billing == nil {
		return nil, tid, &problem{Type: typeUnavailable, Title: "Service Unavailable", Status: http.StatusServiceUnavailable,
			Detail: "billing is not running in this process"}
	}
	return a.opts.Billing, tid, nil
}

// billingProblem maps billing's errors to problems.
func billingProblem(err error) error {
	var ie *billing.InputError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &ie):
		ve := &provision.ValidationError{}
		for _, e := range ie.Errors {
			ve.Errors = append(ve.Errors, provision.FieldError{Field: e.Field, Message: e.Message, Line: e.Line})
		}
		if ie.More > 0 {
			ve.Errors = append(ve.Errors, provision.FieldError{Field: "import", Message: fmt.Sprintf("%d more errors not listed", ie.More)})
		}
		return ve
	case errors.Is(err, billing.ErrNotFound):
		return notFound("%s", strings.TrimSuffix(err.Error(), ": "+billing.ErrNotFound.Error())+" not found")
	case errors.Is(err, billing.ErrConflict):
		return &problem{Type: typeConflict, Title: "Conflict", Status: http.StatusConflict, Detail: strings.TrimSuffix(err.Error(), ": "+billing.ErrConflict.Error())}
	}
	return err
}

// amount is an exact decimal amount in JSON: a number literal or a string.
type amount string

func (m *amount) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*m = amount(s)
		return nil
	}
	var n json.Number
	if err := json.Unmarshal(b, &n); err != nil {
		return fmt.Errorf("an amount is a number or a decimal string")
	}
	*m = amount(n.String())
	return nil
}

func money2json(minor int64, c money.Currency) json.Number {
	return json.Number(money.FormatAmount(minor, c))
}

// ---- settings

type settingsJSON struct {
	Currency            string    `json:"currency"`
	TimeZone            string    `json:"timezone"`
	CountryCode         string    `json:"country_code"`
	NationalPrefix      string    `json:"national_prefix"`
	InternationalPrefix string    `json:"international_prefix"`
	AccessCode          string    `json:"access_code"`
	UpdatedAt           time.Time `json:"updated_at,omitzero"`
}

func settingsOut(s billing.Settings) settingsJSON {
	return settingsJSON{Currency: s.Currency.Code(), TimeZone: s.TimeZone, CountryCode: s.CountryCode, NationalPrefix: s.NationalPrefix,
		InternationalPrefix: s.InternationalPrefix, AccessCode: s.AccessCode, UpdatedAt: s.UpdatedAt}
}

func (a *API) getBillingSettings(w http.ResponseWriter, r *http.Request, p *principal) error {
	svc, tid, err := a.billingScope(r, p)
	if err != nil {
		return err
	}
	s, err := svc.Repo.GetSettings(r.Context(), tid)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, settingsOut(s))
}

func (a *API) putBillingSettings(w http.ResponseWriter, r *http.Request, p *principal) error {
	svc, tid, err := a.billingScope(r, p)
	if err != nil {
		return err
	}
	var in settingsJSON
	if err := decode(w, r, &in); err != nil {
		return err
	}
	s := billing.Settings{Tenant: tid, TimeZone: in.TimeZone}
	s.CountryCode, s.NationalPrefix, s.InternationalPrefix, s.AccessCode = in.CountryCode, in.NationalPrefix, in.InternationalPrefix, in.AccessCode
	if in.Currency != "" {
		if s.Currency, err = money.ParseCurrency(in.Currency); err != nil {
			return badFieldValidation("currency", err.Error())
		}
	}
	out, err := svc.PutSettings(r.Context(), s)
	if err != nil {
		return billingProblem(err)
	}
	return writeJSON(w, http.StatusOK, settingsOut(out))
}

func badFieldValidation(field, msg string) error {
	return &provision.ValidationError{Errors: []provision.FieldError{{Field: field, Message: msg}}}
}

// ---- decks

func (a *API) listDecks(w http.ResponseWriter, r *http.Request, p *principal) error {
	svc, tid, err := a.billingScope(r, p)
	if err != nil {
		return err
	}
	if err := checkQuery(r); err != nil {
		return err
	}
	ds, err := svc.Repo.ListDecks(r.Context(), tid)
	if err != nil {
		return err
	}
	if ds == nil {
		ds = []billing.Deck{}
	}
	return writeJSON(w, http.StatusOK, list[billing.Deck]{Items: ds})
}

func (a *API) getDeck(w http.ResponseWriter, r *http.Request, p *principal) error {
	svc, tid, err := a.billingScope(r, p)
	if err != nil {
		return err
	}
	d, err := svc.Repo.GetDeck(r.Context(), tid, r.PathValue("deck"))
	if err != nil {
		return billingProblem(err)
	}
	return writeJSON(w, http.StatusOK, d)
}

// maxDeckBytes bounds a deck import body: a million prefixes with
// descriptions fit.
const maxDeckBytes = 256 << 20

func (a *API) importDeck(w http.ResponseWriter, r *http.Request, p *principal) error {
	svc, tid, err := a.billingScope(r, p)
	if err != nil {
		return err
	}
	if err := checkQuery(r, "currency", "effective_from", "note"); err != nil {
		return err
	}
	q := r.URL.Query()
	req := billing.ImportRequest{Tenant: tid, Deck: r.PathValue("deck"), Note: q.Get("note")}
	if v := q.Get("currency"); v != "" {
		if req.Currency, err = money.ParseCurrency(v); err != nil {
			return badField("currency", "%v", err)
		}
	}
	if v := q.Get("effective_from"); v != "" {
		if req.EffectiveFrom, err = time.Parse(time.RFC3339, v); err != nil {
			return badField("effective_from", "must be an RFC 3339 time such as 2026-02-01T00:00:00Z")
		}
	}
	ct := r.Header.Get("Content-Type")
	if !strings.HasPrefix(ct, "text/csv") {
		return &problem{Type: typeBadRequest, Title: "Unsupported Media Type", Status: http.StatusUnsupportedMediaType,
			Detail: fmt.Sprintf("Content-Type %q: a rate deck is text/csv with a header row of %s (optional %s)", ct,
				strings.Join(tariff.RequiredColumns, ","), strings.Join(tariff.OptionalColumns, ","))}
	}
	req.CSV = http.MaxBytesReader(w, r.Body, maxDeckBytes)
	res, err := svc.ImportDeck(r.Context(), req)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return &problem{Type: typeTooLarge, Title: "Content Too Large", Status: http.StatusRequestEntityTooLarge, Detail: fmt.Sprintf("a deck is at most %d bytes", maxDeckBytes)}
		}
		return billingProblem(err)
	}
	w.Header().Set("Location", fmt.Sprintf("%s/tenants/%s/rate-decks/%s", Prefix, url.PathEscape(tid), url.PathEscape(res.Deck)))
	return writeJSON(w, http.StatusCreated, struct {
		billing.ImportResult
		Seconds float64 `json:"seconds"`
	}{res, res.Took.Seconds()})
}

type rateJSON struct {
	ID            int64       `json:"id"`
	Prefix        string      `json:"prefix"`
	Description   string      `json:"description"`
	RatePerMin    json.Number `json:"rate_per_min"`
	ConnectFee    json.Number `json:"connect_fee"`
	MinCharge     json.Number `json:"min_charge"`
	Initial       int32       `json:"initial_s"`
	Increment     int32       `json:"increment_s"`
	EffectiveFrom *time.Time  `json:"effective_from,omitempty"`
	EffectiveTo   *time.Time  `json:"effective_to,omitempty"`
	Band          string      `json:"band,omitempty"`
}

func (a *API) listDeckRates(w http.ResponseWriter, r *http.Request, p *principal) error {
	svc, tid, err := a.billingScope(r, p)
	if err != nil {
		return err
	}
	if err := checkQuery(r, "prefix", "limit", "cursor"); err != nil {
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
	d, err := svc.Repo.GetDeck(r.Context(), tid, r.PathValue("deck"))
	if err != nil {
		return billingProblem(err)
	}
	n, err := strconv.Atoi(r.PathValue("version"))
	var vid int64
	for _, v := range d.Versions {
		if v.Version == n {
			vid = v.ID
		}
	}
	if err != nil || vid == 0 {
		return notFound("version %q of deck %s not found", r.PathValue("version"), d.Name)
	}
	rates, err := svc.Repo.ListRates(r.Context(), vid, r.URL.Query().Get("prefix"), after, limit+1)
	if err != nil {
		return err
	}
	out := make([]rateJSON, 0, len(rates))
	for _, rt := range rates {
		j := rateJSON{ID: rt.ID, Prefix: rt.Prefix, Description: rt.Description, RatePerMin: json.Number(money.FormatNanos(rt.PerMinute)),
			ConnectFee: json.Number(money.FormatNanos(rt.Connect)), MinCharge: json.Number(money.FormatNanos(rt.MinCharge)),
			Initial: rt.Initial, Increment: rt.Increment, Band: rt.Band.String()}
		if !rt.From.IsZero() {
			f := rt.From
			j.EffectiveFrom = &f
		}
		if !rt.To.IsZero() {
			t := rt.To
			j.EffectiveTo = &t
		}
		out = append(out, j)
	}
	return writeJSON(w, http.StatusOK, page(out, limit, func(x rateJSON) string { return strconv.FormatInt(x.ID, 10) }))
}

// ---- plans and assignments

type planIn struct {
	Currency string             `json:"currency"`
	Rounding string             `json:"rounding"`
	Decks    []billing.PlanDeck `json:"decks"`
}

func (a *API) listPlans(w http.ResponseWriter, r *http.Request, p *principal) error {
	svc, tid, err := a.billingScope(r, p)
	if err != nil {
		return err
	}
	ps, err := svc.Repo.ListPlans(r.Context(), tid)
	if err != nil {
		return err
	}
	if ps == nil {
		ps = []billing.Plan{}
	}
	return writeJSON(w, http.StatusOK, list[billing.Plan]{Items: ps})
}

func (a *API) getPlan(w http.ResponseWriter, r *http.Request, p *principal) error {
	svc, tid, err := a.billingScope(r, p)
	if err != nil {
		return err
	}
	pl, err := svc.Repo.GetPlan(r.Context(), tid, r.PathValue("plan"))
	if err != nil {
		return billingProblem(err)
	}
	return writeJSON(w, http.StatusOK, pl)
}

func (a *API) putPlan(w http.ResponseWriter, r *http.Request, p *principal) error {
	svc, tid, err := a.billingScope(r, p)
	if err != nil {
		return err
	}
	var in planIn
	if err := decode(w, r, &in); err != nil {
		return err
	}
	pl := billing.Plan{Tenant: tid, Name: r.PathValue("plan"), Decks: in.Decks}
	if pl.Rounding, err = money.ParseRounding(in.Rounding); err != nil {
		return badFieldValidation("rounding", err.Error())
	}
	if in.Currency != "" {
		if pl.Currency, err = money.ParseCurrency(in.Currency); err != nil {
			return badFieldValidation("currency", err.Error())
		}
	}
	out, err := svc.PutPlan(r.Context(), pl)
	if err != nil {
		return billingProblem(err)
	}
	return writeJSON(w, http.StatusOK, out)
}

func (a *API) deletePlan(w http.ResponseWriter, r *http.Request, p *principal) error {
	svc, tid, err := a.billingScope(r, p)
	if err != nil {
		return err
	}
	if err := svc.DeletePlan(r.Context(), tid, r.PathValue("plan")); err != nil {
		return billingProblem(err)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (a *API) listAssignments(w http.ResponseWriter, r *http.Request, p *principal) error {
	svc, tid, err := a.billingScope(r, p)
	if err != nil {
		return err
	}
	as, err := svc.Repo.ListAssignments(r.Context(), tid)
	if err != nil {
		return err
	}
	if as == nil {
		as = []billing.Assignment{}
	}
	return writeJSON(w, http.StatusOK, list[billing.Assignment]{Items: as})
}

func (a *API) putAssignment(w http.ResponseWriter, r *http.Request, p *principal) error {
	svc, tid, err := a.billingScope(r, p)
	if err != nil {
		return err
	}
	var in struct {
		Scope   string `json:"scope"`
		Subject string `json:"subject"`
		Plan    string `json:"plan"`
	}
	if err := decode(w, r, &in); err != nil {
		return err
	}
	out, err := svc.PutAssignment(r.Context(), billing.Assignment{Tenant: tid, Scope: in.Scope, Subject: in.Subject, Plan: in.Plan})
	if err != nil {
		return billingProblem(err)
	}
	return writeJSON(w, http.StatusOK, out)
}

func (a *API) deleteAssignment(w http.ResponseWriter, r *http.Request, p *principal) error {
	svc, tid, err := a.billingScope(r, p)
	if err != nil {
		return err
	}
	if err := checkQuery(r, "scope", "subject"); err != nil {
		return err
	}
	q := r.URL.Query()
	if err := svc.DeleteAssignment(r.Context(), tid, q.Get("scope"), q.Get("subject")); err != nil {
		return billingProblem(err)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// ---- accounts

type accountJSON struct {
	Tenant       string      `json:"tenant"`
	Name         string      `json:"name"`
	Kind         string      `json:"kind"`
	Currency     string      `json:"currency"`
	Balance      json.Number `json:"balance"`
	BalanceMinor int64       `json:"balance_minor"`
	CreditLimit  json.Number `json:"credit_limit"`
	OfflineCap   json.Number `json:"offline_cap"`
	Reserved     json.Number `json:"reserved,omitempty"`
	Pending      json.Number `json:"pending,omitempty"`
	Available    json.Number `json:"available,omitempty"`
	CreatedAt    time.Time   `json:"created_at"`
	UpdatedAt    time.Time   `json:"updated_at"`
}

func accountOut(ac billing.Account, b *billing.Balance) accountJSON {
	c := ac.Currency
	j := accountJSON{Tenant: ac.Tenant, Name: ac.Name, Kind: ac.Kind, Currency: c.Code(), Balance: money2json(ac.Balance, c), BalanceMinor: ac.Balance,
		CreditLimit: money2json(ac.CreditLimit, c), OfflineCap: money2json(ac.OfflineCap, c), CreatedAt: ac.CreatedAt, UpdatedAt: ac.UpdatedAt}
	if b != nil {
		j.Reserved, j.Pending, j.Available = money2json(b.Reserved, c), money2json(b.Pending, c), money2json(b.Available, c)
	}
	return j
}

func (a *API) listAccounts(w http.ResponseWriter, r *http.Request, p *principal) error {
	svc, tid, err := a.billingScope(r, p)
	if err != nil {
		return err
	}
	if err := checkQuery(r, "limit", "cursor"); err != nil {
		return err
	}
	limit, err := pageLimit(r)
	if err != nil {
		return err
	}
	as, err := svc.Repo.ListAccounts(r.Context(), tid, r.URL.Query().Get("cursor"), limit+1)
	if err != nil {
		return err
	}
	out := make([]accountJSON, 0, len(as))
	for _, ac := range as {
		out = append(out, accountOut(ac, nil))
	}
	return writeJSON(w, http.StatusOK, page(out, limit, func(x accountJSON) string { return x.Name }))
}

func (a *API) getAccount(w http.ResponseWriter, r *http.Request, p *principal) error {
	svc, tid, err := a.billingScope(r, p)
	if err != nil {
		return err
	}
	b, err := svc.AccountBalance(r.Context(), tid, r.PathValue("account"))
	if err != nil {
		return billingProblem(err)
	}
	return writeJSON(w, http.StatusOK, accountOut(b.Account, &b))
}

func (a *API) putAccount(w http.ResponseWriter, r *http.Request, p *principal) error {
	svc, tid, err := a.billingScope(r, p)
	if err != nil {
		return err
	}
	var in struct {
		Kind        string  `json:"kind"`
		Currency    string  `json:"currency"`
		CreditLimit *amount `json:"credit_limit"`
		OfflineCap  *amount `json:"offline_cap"`
	}
	if err := decode(w, r, &in); err != nil {
		return err
	}
	name := r.PathValue("account")
	ac := billing.Account{Tenant: tid, Name: name, Kind: in.Kind}
	old, oerr := svc.Repo.GetAccount(r.Context(), tid, name)
	if oerr == nil {
		ac.Currency, ac.CreditLimit, ac.OfflineCap = old.Currency, old.CreditLimit, old.OfflineCap
		if ac.Kind == "" {
			ac.Kind = old.Kind
		}
	} else if !errors.Is(oerr, billing.ErrNotFound) {
		return oerr
	}
	var fe []provision.FieldError
	if in.Currency != "" {
		if ac.Currency, err = money.ParseCurrency(in.Currency); err != nil {
			fe = append(fe, provision.FieldError{Field: "currency", Message: err.Error()})
		}
	}
	if ac.Currency.IsZero() {
		s, err := svc.Repo.GetSettings(r.Context(), tid)
		if err != nil {
			return err
		}
		ac.Currency = s.Currency
	}
	for _, f := range []struct {
		name string
		in   *amount
		dst  *int64
	}{{"credit_limit", in.CreditLimit, &ac.CreditLimit}, {"offline_cap", in.OfflineCap, &ac.OfflineCap}} {
		if f.in == nil {
			continue
		}
		v, err := money.ParseAmount(string(*f.in), ac.Currency, false)
		if err != nil {
			fe = append(fe, provision.FieldError{Field: f.name, Message: err.Error()})
		}
		*f.dst = v
	}
	if ac.Kind == billing.Prepaid && in.CreditLimit == nil {
		ac.CreditLimit = 0
	}
	if len(fe) > 0 {
		return &provision.ValidationError{Errors: fe}
	}
	out, created, err := svc.PutAccount(r.Context(), ac)
	if err != nil {
		return billingProblem(err)
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
		w.Header().Set("Location", fmt.Sprintf("%s/tenants/%s/accounts/%s", Prefix, url.PathEscape(tid), url.PathEscape(name)))
	}
	return writeJSON(w, status, accountOut(out, nil))
}

type entryJSON struct {
	ID          int64       `json:"id"`
	Kind        string      `json:"kind"`
	Ref         string      `json:"ref"`
	Amount      json.Number `json:"amount"`
	AmountMinor int64       `json:"amount_minor"`
	Currency    string      `json:"currency"`
	Note        string      `json:"note,omitempty"`
	EffectiveAt time.Time   `json:"effective_at"`
	CreatedAt   time.Time   `json:"created_at"`
}

func entryOut(e billing.Entry, c money.Currency) entryJSON {
	return entryJSON{ID: e.ID, Kind: e.Kind, Ref: e.Ref, Amount: money2json(e.Amount, c), AmountMinor: e.Amount, Currency: c.Code(), Note: e.Note,
		EffectiveAt: e.EffectiveAt, CreatedAt: e.CreatedAt}
}

// postCredit is a top-up or an adjustment. The Idempotency-Key header is
// required: the journal keeps it for good (not only the API's 24 h), so
// a replay is never applied twice.
func (a *API) postCredit(kind string) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request, p *principal) error {
		svc, tid, err := a.billingScope(r, p)
		if err != nil {
			return err
		}
		var in struct {
			Amount amount `json:"amount"`
			Note   string `json:"note"`
		}
		if err := decode(w, r, &in); err != nil {
			return err
		}
		key := r.Header.Get("Idempotency-Key")
		if key == "" {
			return badField("Idempotency-Key", "a %s needs an Idempotency-Key header (any unique string; a retry sends the same)", kind)
		}
		ac, err := svc.Repo.GetAccount(r.Context(), tid, r.PathValue("account"))
		if err != nil {
			return billingProblem(err)
		}
		v, err := money.ParseAmount(string(in.Amount), ac.Currency, kind == billing.KindAdjustment)
		if err != nil {
			return badFieldValidation("amount", fmt.Sprintf("%v (%s has %d decimals)", err, ac.Currency, ac.Currency.Exponent()))
		}
		e, replayed, err := svc.Post(r.Context(), tid, ac.Name, billing.Credit{Kind: kind, Key: key, Amount: v, Note: in.Note})
		if err != nil {
			return billingProblem(err)
		}
		b, err := svc.AccountBalance(r.Context(), tid, ac.Name)
		if err != nil {
			return err
		}
		status := http.StatusCreated
		if replayed {
			status = http.StatusOK
			w.Header().Set("Idempotent-Replayed", "true")
		}
		return writeJSON(w, status, struct {
			Entry   entryJSON   `json:"entry"`
			Account accountJSON `json:"account"`
		}{entryOut(e, ac.Currency), accountOut(b.Account, &b)})
	}
}

func (a *API) getJournal(w http.ResponseWriter, r *http.Request, p *principal) error {
	svc, tid, err := a.billingScope(r, p)
	if err != nil {
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
	ac, err := svc.Repo.GetAccount(r.Context(), tid, r.PathValue("account"))
	if err != nil {
		return billingProblem(err)
	}
	es, err := svc.Repo.Journal(r.Context(), ac.ID, after, limit+1)
	if err != nil {
		return err
	}
	out := make([]entryJSON, 0, len(es))
	for _, e := range es {
		out = append(out, entryOut(e, ac.Currency))
	}
	return writeJSON(w, http.StatusOK, page(out, limit, func(x entryJSON) string { return strconv.FormatInt(x.ID, 10) }))
}

func timeParams(r *http.Request) (from, to time.Time, err error) {
	q := r.URL.Query()
	var fe []provision.FieldError
	for _, f := range []struct {
		name string
		dst  *time.Time
	}{{"from", &from}, {"to", &to}} {
		v := q.Get(f.name)
		if v == "" {
			fe = append(fe, provision.FieldError{Field: f.name, Message: "required (RFC 3339, e.g. 2026-02-01T00:00:00Z)"})
			continue
		}
		t, perr := time.Parse(time.RFC3339Nano, v)
		if perr != nil {
			fe = append(fe, provision.FieldError{Field: f.name, Message: "must be an RFC 3339 time such as 2026-02-01T00:00:00Z"})
		}
		*f.dst = t
	}
	if len(fe) == 0 && !to.After(from) {
		fe = append(fe, provision.FieldError{Field: "to", Message: "must be after from"})
	}
	if len(fe) > 0 {
		p := badField(fe[0].Field, "%s", fe[0].Message)
		p.Errors = fe
		return from, to, p
	}
	return from, to, nil
}

// getStatement renders an account's statement: ?format=json (default),
// csv or html.
func (a *API) getStatement(w http.ResponseWriter, r *http.Request, p *principal) error {
	svc, tid, err := a.billingScope(r, p)
	if err != nil {
		return err
	}
	if err := checkQuery(r, "from", "to", "format"); err != nil {
		return err
	}
	from, to, err := timeParams(r)
	if err != nil {
		return err
	}
	format := r.URL.Query().Get("format")
	if format != "" && format != "json" && format != "csv" && format != "html" {
		return badField("format", "must be json, csv or html")
	}
	st, err := svc.Statement(r.Context(), tid, r.PathValue("account"), from, to)
	if err != nil {
		return billingProblem(err)
	}
	var buf bytes.Buffer
	switch format {
	case "csv":
		if err := st.WriteCSV(&buf); err != nil {
			return err
		}
		w.Header().Set("Content-Type", "text/csv; charset=utf-8")
		w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="statement-%s-%s.csv"`, safeFile(st.Account), from.UTC().Format("20060102")))
	case "html":
		if err := st.WriteHTML(&buf); err != nil {
			return err
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'")
	default:
		return writeJSON(w, http.StatusOK, st)
	}
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write(buf.Bytes())
	return nil
}

func safeFile(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' {
			return r
		}
		return '_'
	}, s)
}

func (a *API) listRatings(w http.ResponseWriter, r *http.Request, p *principal) error {
	svc, tid, err := a.billingScope(r, p)
	if err != nil {
		return err
	}
	if err := checkQuery(r, "status", "from", "to", "limit", "cursor"); err != nil {
		return err
	}
	limit, err := pageLimit(r)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	status := q.Get("status")
	if status != "" && status != billing.StatusRated && status != billing.StatusUnrated && status != billing.StatusUnbilled {
		return badField("status", "must be rated, unrated or unbilled")
	}
	var from, to, afterStart time.Time
	for _, f := range []struct {
		n string
		d *time.Time
	}{{"from", &from}, {"to", &to}} {
		if v := q.Get(f.n); v != "" {
			if *f.d, err = time.Parse(time.RFC3339Nano, v); err != nil {
				return badField(f.n, "must be an RFC 3339 time")
			}
		}
	}
	afterUID := ""
	if c := q.Get("cursor"); c != "" {
		us, uid, ok := strings.Cut(c, "~")
		n, perr := strconv.ParseInt(us, 10, 64)
		if !ok || perr != nil {
			return badField("cursor", "is not a cursor this endpoint returned")
		}
		afterStart, afterUID = time.UnixMicro(n).UTC(), uid
	}
	rs, err := svc.Repo.ListRatings(r.Context(), tid, status, from, to, afterStart, afterUID, limit+1)
	if err != nil {
		return err
	}
	if rs == nil {
		rs = []billing.Rating{}
	}
	return writeJSON(w, http.StatusOK, page(rs, limit, func(x billing.Rating) string {
		return strconv.FormatInt(x.Start.UnixMicro(), 10) + "~" + x.UniqueID
	}))
}

func (a *API) postRerate(w http.ResponseWriter, r *http.Request, p *principal) error {
	svc, tid, err := a.billingScope(r, p)
	if err != nil {
		return err
	}
	var in struct {
		From    time.Time `json:"from"`
		To      time.Time `json:"to"`
		Account string    `json:"account"`
		Reason  string    `json:"reason"`
	}
	if err := decode(w, r, &in); err != nil {
		return err
	}
	res, err := svc.Rerate(r.Context(), billing.RerateRequest{Tenant: tid, Account: in.Account, From: in.From, To: in.To, Reason: in.Reason})
	if err != nil {
		return billingProblem(err)
	}
	return writeJSON(w, http.StatusOK, res)
}

// ---- CDRs

// cdrRated is a CDR with its rating (added fields only: the Asterisk
// fields keep their names and values).
type cdrRated struct {
	cdr.Row
	Rated        bool         `json:"rated"`
	RatingStatus string       `json:"rating_status,omitempty"`
	Cost         *json.Number `json:"cost"`
	CostMinor    *int64       `json:"cost_minor,omitempty"`
	Currency     string       `json:"currency,omitempty"`
	BillsecRated *int64       `json:"billsec_rated"`
	RatePrefix   string       `json:"rate_prefix,omitempty"`
	RateReason   string       `json:"rating_reason,omitempty"`
}

// withRatings adds each CDR's rating: rated is true once it was priced
// (status rated); unrated and unbilled CDRs say why in rating_reason;
// a CDR not yet seen by the rater has rated false and no status.
func (a *API) withRatings(r *http.Request, rows []cdr.Row) ([]cdrRated, error) {
	out := make([]cdrRated, len(rows))
	uids := make([]string, len(rows))
	for i := range rows {
		out[i].Row = rows[i]
		uids[i] = rows[i].UniqueID
	}
	if a.opts.Billing == nil || len(rows) == 0 {
		return out, nil
	}
	rts, err := a.opts.Billing.Ratings(r.Context(), uids)
	if err != nil {
		return nil, err
	}
	for i := range out {
		rt, ok := rts[out[i].UniqueID]
		if !ok {
			continue
		}
		o := &out[i]
		o.RatingStatus, o.RateReason, o.RatePrefix = rt.Status, rt.Reason, rt.Prefix
		if rt.Status != billing.StatusRated {
			continue
		}
		o.Rated = true
		cur, err := money.ParseCurrency(rt.Currency)
		if err != nil {
			continue
		}
		c, cm, b := money2json(rt.Cost, cur), rt.Cost, rt.Billable
		o.Cost, o.CostMinor, o.BillsecRated, o.Currency = &c, &cm, &b, cur.Code()
	}
	return out, nil
}

// exportCDRsRated is /cdrs/export?billing=true: each Master.csv line
// with five quoted columns added at its end: cost, currency,
// billsec_rated, rate_prefix and the rating status.
func (a *API) exportCDRsRated(w http.ResponseWriter, r *http.Request, f cdrstore.Filter) error {
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="Master.csv"`)
	bw := bufio.NewWriterSize(w, 64<<10)
	defer bw.Flush()
	f.Limit = cdrstore.MaxLimit
	var line []byte
	for {
		rows, next, err := cdrstore.List(r.Context(), a.st, f)
		if err != nil {
			a.log.Error("api: CDR export cut short", "err", err)
			return nil
		}
		rated, err := a.withRatings(r, rows)
		if err != nil {
			a.log.Error("api: CDR export cut short", "err", err)
			return nil
		}
		for i := range rated {
			line = cdr.AppendMasterCSV(line[:0], rated[i].Record, cdr.CSVOptions{UseGMT: true})
			line = bytes.TrimSuffix(line, []byte("\n"))
			o := &rated[i]
			cost, bs := "", ""
			if o.Cost != nil {
				cost, bs = o.Cost.String(), strconv.FormatInt(*o.BillsecRated, 10)
			}
			for _, v := range []string{cost, o.Currency, bs, o.RatePrefix, o.RatingStatus} {
				line = append(line, ',', '"')
				line = append(line, strings.ReplaceAll(v, `"`, `""`)...)
				line = append(line, '"')
			}
			line = append(line, '\n')
			_, _ = bw.Write(line)
		}
		if next == 0 {
			return nil
		}
		f.After, f.AfterStart = next, rows[len(rows)-1].Start
	}
}
