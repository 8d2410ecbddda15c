package api

import (
	"errors"
	"net/http"

	"github.com/entvoice/entvoice/internal/control"
)

// The conferences of the node the API runs beside (`entvoice serve`):
// app_confbridge's ConfbridgeListRooms, ConfbridgeList, ConfbridgeMute,
// ConfbridgeUnmute and ConfbridgeKick over HTTP. A tenant token sees its
// own conferences; an admin names a hosted tenant's "tenant~name" or
// passes ?tenant=.

// conferenceAction is the body of mute, unmute and kick.
type conferenceAction struct {
	// Channel is a participant's channel name (mute: or its leading
	// part), "all", or "participants" (everyone but the admins).
	Channel string `json:"channel"`
}

// conferences is the node's Conferences, or a problem when the API runs
// beside none (entvoice server: conferences live on the nodes).
func (a *API) conferences() (control.Conferences, error) {
	if c, ok := a.ctl.(control.Conferences); ok {
		return c, nil
	}
	return nil, &problem{Type: typeUnavailable, Title: "Service Unavailable", Status: http.StatusServiceUnavailable,
		Detail: "this server runs no conferences (they are on the PBX nodes)"}
}

// conferenceScope checks a conference request's query and returns the
// node's Conferences and the caller's tenant scope.
func (a *API) conferenceScope(r *http.Request, p *principal) (control.Conferences, string, error) {
	if err := checkQuery(r, "tenant"); err != nil {
		return nil, "", err
	}
	scope, err := a.callScope(r, p, r.URL.Query().Get("tenant"))
	if err != nil {
		return nil, "", err
	}
	c, err := a.conferences()
	return c, scope, err
}

// conferenceProblem turns a Conferences error into a problem.
func conferenceProblem(err error) error {
	switch {
	case errors.Is(err, control.ErrNoConferences), errors.Is(err, control.ErrNoConference):
		return notFound("no such conference")
	case errors.Is(err, control.ErrNoParticipant):
		return notFound("no such participant in the conference")
	}
	return err
}

func (a *API) listConferences(w http.ResponseWriter, r *http.Request, p *principal) error {
	c, scope, err := a.conferenceScope(r, p)
	if err != nil {
		return err
	}
	rooms, err := c.ConferenceRooms(r.Context(), scope)
	if err != nil && !errors.Is(err, control.ErrNoConferences) {
		return err
	}
	out := list[control.ConferenceInfo]{Items: append([]control.ConferenceInfo{}, rooms...)}
	return writeJSON(w, http.StatusOK, out)
}

func (a *API) listParticipants(w http.ResponseWriter, r *http.Request, p *principal) error {
	c, scope, err := a.conferenceScope(r, p)
	if err != nil {
		return err
	}
	parts, err := c.ConferenceParticipants(r.Context(), scope, r.PathValue("name"))
	if err != nil {
		return conferenceProblem(err)
	}
	type item struct {
		Channel      string `json:"channel"`
		UniqueID     string `json:"uniqueid"`
		CallerIDNum  string `json:"callerid_num"`
		CallerIDName string `json:"callerid_name"`
		Admin        bool   `json:"admin"`
		Marked       bool   `json:"marked"`
		WaitMarked   bool   `json:"wait_marked"`
		EndMarked    bool   `json:"end_marked"`
		Waiting      bool   `json:"waiting"`
		Muted        bool   `json:"muted"`
		Talking      bool   `json:"talking"`
		Seconds      int64  `json:"answered_seconds"`
	}
	out := list[item]{Items: make([]item, 0, len(parts))}
	for _, x := range parts {
		out.Items = append(out.Items, item{Channel: x.Channel, UniqueID: x.UniqueID, CallerIDNum: x.CallerIDNum,
			CallerIDName: x.CallerIDName, Admin: x.Admin, Marked: x.Marked, WaitMarked: x.WaitMarked, EndMarked: x.EndMarked,
			Waiting: x.Waiting, Muted: x.Muted, Talking: x.Talking, Seconds: int64(x.AnsweredTime.Seconds())})
	}
	return writeJSON(w, http.StatusOK, out)
}

// conferenceAct runs mute, unmute or kick on the participants the body
// names.
func (a *API) conferenceAct(act func(c control.Conferences, r *http.Request, scope, name, channel string) error) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request, p *principal) error {
		c, scope, err := a.conferenceScope(r, p)
		if err != nil {
			return err
		}
		var in conferenceAction
		if err := decode(w, r, &in); err != nil {
			return err
		}
		if in.Channel == "" {
			return badField("channel", "is required: a participant's channel name, all, or participants")
		}
		if err := act(c, r, scope, r.PathValue("name"), in.Channel); err != nil {
			return conferenceProblem(err)
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
	}
}

func (a *API) conferenceRoutes() {
	a.handle("GET", "/conferences", a.listConferences)
	a.handle("GET", "/conferences/{name}/participants", a.listParticipants)
	a.handle("POST", "/conferences/{name}/mute", a.conferenceAct(func(c control.Conferences, r *http.Request, scope, name, ch string) error {
		return c.ConferenceMute(r.Context(), scope, name, ch, true)
	}))
	a.handle("POST", "/conferences/{name}/unmute", a.conferenceAct(func(c control.Conferences, r *http.Request, scope, name, ch string) error {
		return c.ConferenceMute(r.Context(), scope, name, ch, false)
	}))
	a.handle("POST", "/conferences/{name}/kick", a.conferenceAct(func(c control.Conferences, r *http.Request, scope, name, ch string) error {
		return c.ConferenceKick(r.Context(), scope, name, ch)
	}))
}
