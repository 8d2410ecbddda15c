package api

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/entvoice/entvoice/internal/control"
	"github.com/entvoice/entvoice/internal/provision"
	"github.com/entvoice/entvoice/internal/queuelog"
)

// Call queues: realtime queues and members of a tenant (in force on the
// nodes through the change feed), their queue_log rows and statistics,
// and, on a node in the same process, their live state.

func (a *API) queueRoutes() {
	a.handle("GET", "/tenants/{tenant}/queues", a.listQueues)
	a.handle("POST", "/tenants/{tenant}/queues", a.createQueue)
	a.handle("GET", "/tenants/{tenant}/queues/{queue}", a.getQueue)
	a.handle("PATCH", "/tenants/{tenant}/queues/{queue}", a.patchQueue)
	a.handle("DELETE", "/tenants/{tenant}/queues/{queue}", a.deleteQueue)
	a.handle("GET", "/tenants/{tenant}/queues/{queue}/members", a.listQueueMembers)
	a.handle("POST", "/tenants/{tenant}/queues/{queue}/members", a.createQueueMember)
	a.handle("GET", "/tenants/{tenant}/queues/{queue}/members/{id}", a.getQueueMember)
	a.handle("PATCH", "/tenants/{tenant}/queues/{queue}/members/{id}", a.patchQueueMember)
	a.handle("DELETE", "/tenants/{tenant}/queues/{queue}/members/{id}", a.deleteQueueMember)
	a.handle("GET", "/tenants/{tenant}/queues/{queue}/stats", a.queueStats)
	a.handle("GET", "/tenants/{tenant}/queues/{queue}/status", a.queueStatus)
	a.handle("GET", "/tenants/{tenant}/queue-log", a.listQueueLog)
}

type queueCreate struct {
	Name   string            `json:"name"`
	Params map[string]string `json:"params"`
}

// queuePatch merges params: a key set to "" (or null) returns to its
// default.
type queuePatch struct {
	Params map[string]*string `json:"params"`
}

func (a *API) listQueues(w http.ResponseWriter, r *http.Request, p *principal) error {
	tid := r.PathValue("tenant")
	if err := a.scope(r, p, tid); err != nil {
		return err
	}
	if err := checkQuery(r); err != nil {
		return err
	}
	qs, err := a.repo.ListQueues(r.Context(), tid)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, list[provision.Queue]{Items: qs})
}

func (a *API) createQueue(w http.ResponseWriter, r *http.Request, p *principal) error {
	tid := r.PathValue("tenant")
	if err := a.scope(r, p, tid); err != nil {
		return err
	}
	var in queueCreate
	if err := decode(w, r, &in); err != nil {
		return err
	}
	q, err := a.repo.CreateQueue(r.Context(), provision.Queue{Tenant: tid, Name: in.Name, Params: in.Params})
	if err != nil {
		return err
	}
	w.Header().Set("Location", fmt.Sprintf("%s/tenants/%s/queues/%s", Prefix, url.PathEscape(tid), url.PathEscape(q.Name)))
	return writeJSON(w, http.StatusCreated, q)
}

func (a *API) getQueue(w http.ResponseWriter, r *http.Request, p *principal) error {
	tid := r.PathValue("tenant")
	if err := a.scope(r, p, tid); err != nil {
		return err
	}
	q, err := a.repo.GetQueue(r.Context(), tid, r.PathValue("queue"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, q)
}

func (a *API) patchQueue(w http.ResponseWriter, r *http.Request, p *principal) error {
	tid := r.PathValue("tenant")
	if err := a.scope(r, p, tid); err != nil {
		return err
	}
	var in queuePatch
	if err := decode(w, r, &in); err != nil {
		return err
	}
	q, err := a.repo.UpdateQueue(r.Context(), tid, r.PathValue("queue"), func(q *provision.Queue) error {
		for k, v := range in.Params {
			if v == nil || *v == "" {
				delete(q.Params, k)
				continue
			}
			q.Params[k] = *v
		}
		return nil
	})
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, q)
}

func (a *API) deleteQueue(w http.ResponseWriter, r *http.Request, p *principal) error {
	tid := r.PathValue("tenant")
	if err := a.scope(r, p, tid); err != nil {
		return err
	}
	if err := a.repo.DeleteQueue(r.Context(), tid, r.PathValue("queue")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

type memberCreate struct {
	Interface      string `json:"interface"`
	MemberName     string `json:"membername"`
	StateInterface string `json:"state_interface"`
	Penalty        int    `json:"penalty"`
	Paused         bool   `json:"paused"`
	Reason         string `json:"reason_paused"`
	Wrapuptime     int    `json:"wrapuptime"`
	RingInUse      *bool  `json:"ringinuse"`
}

type memberPatch struct {
	MemberName     *string `json:"membername"`
	StateInterface *string `json:"state_interface"`
	Penalty        *int    `json:"penalty"`
	Paused         *bool   `json:"paused"`
	Reason         *string `json:"reason_paused"`
	Wrapuptime     *int    `json:"wrapuptime"`
	RingInUse      *bool   `json:"ringinuse"`
}

func (a *API) listQueueMembers(w http.ResponseWriter, r *http.Request, p *principal) error {
	tid := r.PathValue("tenant")
	if err := a.scope(r, p, tid); err != nil {
		return err
	}
	if err := checkQuery(r); err != nil {
		return err
	}
	ms, err := a.repo.ListQueueMembers(r.Context(), tid, r.PathValue("queue"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, list[provision.QueueMember]{Items: ms})
}

func (a *API) createQueueMember(w http.ResponseWriter, r *http.Request, p *principal) error {
	tid := r.PathValue("tenant")
	if err := a.scope(r, p, tid); err != nil {
		return err
	}
	var in memberCreate
	if err := decode(w, r, &in); err != nil {
		return err
	}
	m, err := a.repo.AddQueueMember(r.Context(), provision.QueueMember{Tenant: tid, Queue: r.PathValue("queue"), Interface: in.Interface,
		MemberName: in.MemberName, StateInterface: in.StateInterface, Penalty: in.Penalty, Paused: in.Paused, Reason: in.Reason,
		Wrapuptime: in.Wrapuptime, RingInUse: in.RingInUse})
	if err != nil {
		return err
	}
	w.Header().Set("Location", fmt.Sprintf("%s/tenants/%s/queues/%s/members/%d", Prefix, url.PathEscape(tid), url.PathEscape(m.Queue), m.ID))
	return writeJSON(w, http.StatusCreated, m)
}

func (a *API) getQueueMember(w http.ResponseWriter, r *http.Request, p *principal) error {
	tid := r.PathValue("tenant")
	if err := a.scope(r, p, tid); err != nil {
		return err
	}
	id, err := pathID(r, "queue member")
	if err != nil {
		return err
	}
	m, err := a.repo.GetQueueMember(r.Context(), tid, r.PathValue("queue"), id)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, m)
}

func (a *API) patchQueueMember(w http.ResponseWriter, r *http.Request, p *principal) error {
	tid := r.PathValue("tenant")
	if err := a.scope(r, p, tid); err != nil {
		return err
	}
	id, err := pathID(r, "queue member")
	if err != nil {
		return err
	}
	var in memberPatch
	if err := decode(w, r, &in); err != nil {
		return err
	}
	m, err := a.repo.UpdateQueueMember(r.Context(), tid, r.PathValue("queue"), id, func(m *provision.QueueMember) error {
		setIf(&m.MemberName, in.MemberName)
		setIf(&m.StateInterface, in.StateInterface)
		setIf(&m.Penalty, in.Penalty)
		setIf(&m.Paused, in.Paused)
		setIf(&m.Reason, in.Reason)
		setIf(&m.Wrapuptime, in.Wrapuptime)
		if in.RingInUse != nil {
			m.RingInUse = in.RingInUse
		}
		return nil
	})
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, m)
}

func (a *API) deleteQueueMember(w http.ResponseWriter, r *http.Request, p *principal) error {
	tid := r.PathValue("tenant")
	if err := a.scope(r, p, tid); err != nil {
		return err
	}
	id, err := pathID(r, "queue member")
	if err != nil {
		return err
	}
	if err := a.repo.DeleteQueueMember(r.Context(), tid, r.PathValue("queue"), id); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// timeRange reads from and to (RFC 3339; default: the last 24 hours).
func timeRange(r *http.Request) (from, to time.Time, err error) {
	q := r.URL.Query()
	to = time.Now()
	from = to.Add(-24 * time.Hour)
	for _, tf := range []struct {
		name string
		dst  *time.Time
	}{{"from", &from}, {"to", &to}} {
		if v := q.Get(tf.name); v != "" {
			t, perr := time.Parse(time.RFC3339Nano, v)
			if perr != nil {
				return from, to, badField(tf.name, "must be an RFC 3339 time such as 2026-01-31T00:00:00Z")
			}
			*tf.dst = t
		}
	}
	if !to.After(from) {
		return from, to, badField("to", "must be after from")
	}
	return from, to, nil
}

// queueStats serves a queue's figures over a time range from queue_log:
// offered, answered, abandoned and other exits, service level (answered
// within service_level seconds, default the queue's servicelevel or 20),
// ASA and abandon rate.
func (a *API) queueStats(w http.ResponseWriter, r *http.Request, p *principal) error {
	tid := r.PathValue("tenant")
	if err := a.scope(r, p, tid); err != nil {
		return err
	}
	if err := checkQuery(r, "from", "to", "service_level"); err != nil {
		return err
	}
	from, to, err := timeRange(r)
	if err != nil {
		return err
	}
	name := r.PathValue("queue")
	sl := 20
	if q, err := a.repo.GetQueue(r.Context(), tid, name); err == nil {
		name = q.Name
		if v, err := strconv.Atoi(q.Params["servicelevel"]); err == nil && v > 0 {
			sl = v
		}
	}
	if v := r.URL.Query().Get("service_level"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return badField("service_level", "must be a number of seconds")
		}
		sl = n
	}
	st, err := queuelog.Query(r.Context(), a.st, tid, name, from, to, sl)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, st)
}

// queueStatus serves a queue's live state (its members, their device
// state and pause, its waiting callers) from the node of this process.
func (a *API) queueStatus(w http.ResponseWriter, r *http.Request, p *principal) error {
	tid := r.PathValue("tenant")
	if err := a.scope(r, p, tid); err != nil {
		return err
	}
	if a.opts.Queues == nil {
		return &problem{Type: typeUnavailable, Title: "Service Unavailable", Status: http.StatusServiceUnavailable,
			Detail: "no node runs in this process: live queue state is read from a node's AMI (QueueStatus)"}
	}
	for _, q := range a.opts.Queues.QueueStatus(tid, "") {
		if strings.EqualFold(q.Name, r.PathValue("queue")) {
			return writeJSON(w, http.StatusOK, statusJSON(q))
		}
	}
	return notFound("queue %q not found", r.PathValue("queue"))
}

// queueStatusJSON is a queue's live state.
type queueStatusJSON struct {
	Name      string            `json:"name"`
	Strategy  string            `json:"strategy"`
	Calls     int               `json:"calls"`
	Holdtime  int               `json:"holdtime"`
	TalkTime  int               `json:"talktime"`
	Completed int               `json:"completed"`
	Abandoned int               `json:"abandoned"`
	Members   []queueMemberJSON `json:"members"`
	Callers   []queueCallerJSON `json:"callers"`
}

type queueCallerJSON struct {
	Position     int    `json:"position"`
	Channel      string `json:"channel"`
	UniqueID     string `json:"uniqueid"`
	CallerIDNum  string `json:"calleridnum"`
	CallerIDName string `json:"calleridname"`
	Wait         int    `json:"wait_seconds"`
	Priority     int    `json:"priority"`
}

type queueMemberJSON struct {
	Interface  string     `json:"interface"`
	Name       string     `json:"membername"`
	Membership string     `json:"membership"`
	Penalty    int        `json:"penalty"`
	Status     int        `json:"status"`
	Paused     bool       `json:"paused"`
	Reason     string     `json:"reason_paused"`
	InCall     bool       `json:"in_call"`
	CallsTaken int        `json:"calls_taken"`
	LastCall   *time.Time `json:"last_call,omitempty"`
}

func statusJSON(q control.QueueStatus) queueStatusJSON {
	out := queueStatusJSON{Name: q.Name, Strategy: q.Strategy, Calls: q.Calls, Holdtime: q.Holdtime, TalkTime: q.TalkTime,
		Completed: q.Completed, Abandoned: q.Abandoned, Members: []queueMemberJSON{}, Callers: []queueCallerJSON{}}
	for _, c := range q.Callers {
		out.Callers = append(out.Callers, queueCallerJSON{Position: c.Position, Channel: c.Channel, UniqueID: c.UniqueID,
			CallerIDNum: c.CallerIDNum, CallerIDName: c.CallerIDName, Wait: int(c.Wait / time.Second), Priority: c.Priority})
	}
	for _, m := range q.Members {
		j := queueMemberJSON{Interface: m.Interface, Name: m.Name, Membership: m.Membership, Penalty: m.Penalty, Status: m.Status,
			Paused: m.Paused, Reason: m.PausedReason, InCall: m.InCall, CallsTaken: m.CallsTaken}
		if !m.LastCall.IsZero() {
			lc := m.LastCall.UTC()
			j.LastCall = &lc
		}
		out.Members = append(out.Members, j)
	}
	return out
}

// listQueueLog serves a tenant's queue_log rows in id order (queue=
// selects one queue).
func (a *API) listQueueLog(w http.ResponseWriter, r *http.Request, p *principal) error {
	tid := r.PathValue("tenant")
	if err := a.scope(r, p, tid); err != nil {
		return err
	}
	if err := checkQuery(r, "queue", "limit", "cursor"); err != nil {
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
	rows, err := queuelog.List(r.Context(), a.st, tid, r.URL.Query().Get("queue"), after, limit+1)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, page(rows, limit, func(e queuelog.Entry) string { return strconv.FormatInt(e.ID, 10) }))
}
