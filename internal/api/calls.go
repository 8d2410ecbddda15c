package api

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/entvoice/entvoice/internal/control"
)

// call is a live channel as the API lists it.
type call struct {
	Channel         string `json:"channel"`
	UniqueID        string `json:"uniqueid"`
	LinkedID        string `json:"linkedid"`
	Tenant          string `json:"tenant"`
	State           int    `json:"state"`
	StateDesc       string `json:"state_desc"`
	CallerIDNum     string `json:"callerid_num"`
	CallerIDName    string `json:"callerid_name"`
	ConnectedNum    string `json:"connected_num"`
	ConnectedName   string `json:"connected_name"`
	Language        string `json:"language"`
	AccountCode     string `json:"accountcode"`
	Context         string `json:"context"`
	Exten           string `json:"exten"`
	Priority        int    `json:"priority"`
	Application     string `json:"application"`
	ApplicationData string `json:"application_data"`
	DurationSeconds int64  `json:"duration_seconds"`
	BridgedChannel  string `json:"bridged_channel,omitempty"`
	BridgeID        string `json:"bridge_id,omitempty"`
}

func toCall(c control.ChannelInfo) call {
	return call{Channel: c.Channel, UniqueID: c.UniqueID, LinkedID: c.LinkedID, Tenant: c.Tenant, State: c.State,
		StateDesc: c.StateDesc, CallerIDNum: c.CallerIDNum, CallerIDName: c.CallerIDName, ConnectedNum: c.ConnectedLineNum,
		ConnectedName: c.ConnectedLineNam, Language: c.Language, AccountCode: c.AccountCode, Context: c.Context,
		Exten: c.Exten, Priority: c.Priority, Application: c.Application, ApplicationData: c.ApplicationData,
		DurationSeconds: int64(c.Duration / time.Second), BridgedChannel: c.BridgedChannel, BridgeID: c.BridgeID}
}

func (a *API) controller() (control.Controller, error) {
	if a.ctl == nil {
		return nil, &problem{Type: typeUnavailable, Title: "Service Unavailable", Status: http.StatusServiceUnavailable,
			Detail: "no PBX node is attached to this server"}
	}
	return a.ctl, nil
}

// callScope is the tenant a calls request acts in: the token's, or for an
// admin the ?tenant= given (empty: every tenant).
func (a *API) callScope(r *http.Request, p *principal, asked string) (string, error) {
	if p.admin() {
		if asked != "" {
			if _, err := a.repo.GetTenant(r.Context(), asked); err != nil {
				return "", err
			}
		}
		return asked, nil
	}
	if asked != "" && asked != p.Tenant {
		return "", notFound("tenant %q not found", asked)
	}
	return p.Tenant, nil
}

func (a *API) listCalls(w http.ResponseWriter, r *http.Request, p *principal) error {
	if err := checkQuery(r, "tenant"); err != nil {
		return err
	}
	ctl, err := a.controller()
	if err != nil {
		return err
	}
	scope, err := a.callScope(r, p, r.URL.Query().Get("tenant"))
	if err != nil {
		return err
	}
	chans, err := ctl.Channels(r.Context(), scope)
	if err != nil {
		return err
	}
	out := list[call]{Items: make([]call, 0, len(chans))}
	for _, c := range chans {
		out.Items = append(out.Items, toCall(c))
	}
	return writeJSON(w, http.StatusOK, out)
}

type originateIn struct {
	Tenant         string            `json:"tenant"`
	Channel        string            `json:"channel"`
	Context        string            `json:"context"`
	Exten          string            `json:"exten"`
	Priority       string            `json:"priority"`
	Application    string            `json:"application"`
	Data           string            `json:"data"`
	TimeoutSeconds int               `json:"timeout_seconds"`
	CallerID       string            `json:"callerid"`
	Account        string            `json:"account"`
	Variables      map[string]string `json:"variables"`
	ChannelID      string            `json:"channel_id"`
	// Node (entvoice server): the node to originate on; empty: for
	// PJSIP/user the node the user is registered on, else the only one.
	Node string `json:"node"`
}

// originated is the first leg of an answered originate.
type originated struct {
	Reason   int    `json:"reason"`
	Channel  string `json:"channel"`
	UniqueID string `json:"uniqueid"`
}

// reasonText names AMI OriginateResponse reasons (main/manager.c).
var reasonText = map[int]string{0: "failed", 1: "no answer", 3: "ringing", 4: "answered", 5: "busy", 8: "congestion"}

func (a *API) originate(w http.ResponseWriter, r *http.Request, p *principal) error {
	var in originateIn
	if err := decode(w, r, &in); err != nil {
		return err
	}
	ctl, err := a.controller()
	if err != nil {
		return err
	}
	scope, err := a.callScope(r, p, in.Tenant)
	if err != nil {
		return err
	}
	var fe []fieldErr
	if in.Channel == "" || !strings.Contains(in.Channel, "/") {
		fe = append(fe, fieldErr{"channel", "is required: a dial string such as PJSIP/1001"})
	}
	hasExten := in.Exten != "" || in.Context != ""
	if hasExten == (in.Application != "") {
		fe = append(fe, fieldErr{"application", "give either context and exten (with priority) or application (with data)"})
	}
	if hasExten && (in.Context == "" || in.Exten == "") {
		fe = append(fe, fieldErr{"exten", "context and exten go together"})
	}
	if in.TimeoutSeconds < 0 || in.TimeoutSeconds > 600 {
		fe = append(fe, fieldErr{"timeout_seconds", "must be 0 (default 30) to 600"})
	}
	if err := fieldErrs(fe); err != nil {
		return err
	}
	prio := in.Priority
	if hasExten && prio == "" {
		prio = "1"
	}
	res, err := ctl.Originate(r.Context(), control.OriginateRequest{Tenant: scope, Channel: in.Channel, Context: in.Context,
		Exten: in.Exten, Priority: prio, Application: in.Application, Data: in.Data,
		Timeout: time.Duration(in.TimeoutSeconds) * time.Second, CallerID: in.CallerID, Account: in.Account,
		Variables: in.Variables, ChannelID: in.ChannelID, Node: in.Node})
	if err != nil {
		return err
	}
	if res.Reason != 4 {
		reason := res.Reason
		return &problem{Type: typeOriginate, Title: "Originate Failed", Status: http.StatusConflict, Reason: &reason,
			Detail: fmt.Sprintf("the first leg %s was not answered: %s (reason %d)", in.Channel, reasonText[res.Reason], res.Reason)}
	}
	if res.Channel != "" {
		w.Header().Set("Location", Prefix+"/calls/"+url.PathEscape(res.Channel))
	}
	return writeJSON(w, http.StatusCreated, originated(res))
}

func (a *API) hangup(w http.ResponseWriter, r *http.Request, p *principal) error {
	if err := checkQuery(r, "cause"); err != nil {
		return err
	}
	ctl, err := a.controller()
	if err != nil {
		return err
	}
	cause := 16 // AST_CAUSE_NORMAL_CLEARING, AMI Hangup's default
	if v := r.URL.Query().Get("cause"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > 127 {
			return badField("cause", "must be a Q.850 cause from 0 to 127")
		}
		cause = n
	}
	if err := ctl.Hangup(r.Context(), p.Tenant, r.PathValue("channel"), cause); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
