package api

import (
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"

	"github.com/entvoice/entvoice/internal/provision"
)

// ---- Speech grammars of a tenant (docs/speech.md)
//
// PUT takes the JSGF text itself (text/plain, or any type but JSON) or
// {"body": "..."}; a grammar with a syntax error is refused with 422 and
// the line and column. The nodes get the grammars through the change feed.

func (a *API) grammarRoutes() {
	a.handle("GET", "/tenants/{tenant}/grammars", a.listGrammars)
	a.handle("GET", "/tenants/{tenant}/grammars/{name}", a.getGrammar)
	a.handle("PUT", "/tenants/{tenant}/grammars/{name}", a.putGrammar)
	a.handle("DELETE", "/tenants/{tenant}/grammars/{name}", a.deleteGrammar)
}

func (a *API) listGrammars(w http.ResponseWriter, r *http.Request, p *principal) error {
	tid := r.PathValue("tenant")
	if err := a.scope(r, p, tid); err != nil {
		return err
	}
	gs, err := a.repo.ListGrammars(r.Context(), tid)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, list[provision.Grammar]{Items: gs})
}

func (a *API) getGrammar(w http.ResponseWriter, r *http.Request, p *principal) error {
	tid := r.PathValue("tenant")
	if err := a.scope(r, p, tid); err != nil {
		return err
	}
	g, err := a.repo.GetGrammar(r.Context(), tid, r.PathValue("name"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, g)
}

func (a *API) putGrammar(w http.ResponseWriter, r *http.Request, p *principal) error {
	tid := r.PathValue("tenant")
	if err := a.scope(r, p, tid); err != nil {
		return err
	}
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, provision.MaxGrammarBytes+1024))
	if err != nil {
		return &problem{Status: http.StatusRequestEntityTooLarge, Type: typeTooLarge, Title: "Request Entity Too Large",
			Detail: fmt.Sprintf("a grammar is at most %d bytes", provision.MaxGrammarBytes)}
	}
	body := string(b)
	if ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); ct == "application/json" {
		var in struct {
			Body string `json:"body"`
		}
		if err := json.Unmarshal(b, &in); err != nil {
			return &problem{Status: http.StatusBadRequest, Type: typeBadRequest, Title: "Bad Request", Detail: "body: " + err.Error()}
		}
		body = in.Body
	}
	g, created, err := a.repo.PutGrammar(r.Context(), provision.Grammar{Tenant: tid, Name: r.PathValue("name"), Body: body})
	if err != nil {
		return err
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
		w.Header().Set("Location", Prefix+"/tenants/"+url.PathEscape(tid)+"/grammars/"+url.PathEscape(g.Name))
	}
	return writeJSON(w, status, g)
}

func (a *API) deleteGrammar(w http.ResponseWriter, r *http.Request, p *principal) error {
	tid := r.PathValue("tenant")
	if err := a.scope(r, p, tid); err != nil {
		return err
	}
	if err := a.repo.DeleteGrammar(r.Context(), tid, r.PathValue("name")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
