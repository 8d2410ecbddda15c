package queuelog

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/entvoice/entvoice/internal/store"
)

// Stats are a queue's figures over a time range, from its queue_log rows.
type Stats struct {
	Tenant string    `json:"tenant"`
	Queue  string    `json:"queue"`
	From   time.Time `json:"from"`
	To     time.Time `json:"to"`
	// ServiceLevel is the threshold, in seconds, ServiceLevelPct counts
	// answers within.
	ServiceLevel int `json:"service_level_seconds"`

	Entered   int `json:"entered"`   // ENTERQUEUE
	Answered  int `json:"answered"`  // CONNECT
	Abandoned int `json:"abandoned"` // ABANDON
	// Exits other than an answer or an abandon.
	Timeout  int `json:"exit_timeout"` // EXITWITHTIMEOUT
	Empty    int `json:"exit_empty"`   // EXITEMPTY
	Key      int `json:"exit_key"`     // EXITWITHKEY
	Withdraw int `json:"withdrawn"`    // WITHDRAW
	// AnsweredInSL: answered within ServiceLevel seconds.
	AnsweredInSL int `json:"answered_within_service_level"`
	// ServiceLevelPct: AnsweredInSL / Answered; ServiceLevelOfferedPct:
	// AnsweredInSL / (Answered + Abandoned + other exits).
	ServiceLevelPct        float64 `json:"service_level_pct"`
	ServiceLevelOfferedPct float64 `json:"service_level_offered_pct"`
	// ASA: average speed of answer (CONNECT's hold time), seconds.
	ASA float64 `json:"asa_seconds"`
	// AbandonRatePct: Abandoned / (Answered + Abandoned + other exits).
	AbandonRatePct float64 `json:"abandon_rate_pct"`
	// AvgAbandonWait: the abandoned callers' average wait, seconds.
	AvgAbandonWait float64 `json:"avg_abandon_wait_seconds"`
	// AvgTalk: COMPLETECALLER/COMPLETEAGENT talk time, seconds.
	AvgTalk float64 `json:"avg_talk_seconds"`
	// MaxWait: the longest hold time of an answered or abandoned call.
	MaxWait      int `json:"max_wait_seconds"`
	RingNoAnswer int `json:"ring_no_answer"`
}

// Query computes a queue's statistics over [from, to) from the store's
// queue_log rows.
func Query(ctx context.Context, st *store.Store, tenant, queue string, from, to time.Time, serviceLevel int) (Stats, error) {
	s := Stats{Tenant: tenant, Queue: queue, From: from.UTC(), To: to.UTC(), ServiceLevel: serviceLevel}
	rows, err := st.DB().QueryContext(ctx, st.Rebind(`SELECT event, data1, data2, data3 FROM queue_log
		WHERE tenant = ? AND queuename = ? AND time >= ? AND time < ? AND event IN
		('ENTERQUEUE','CONNECT','ABANDON','EXITWITHTIMEOUT','EXITEMPTY','EXITWITHKEY','WITHDRAW','COMPLETECALLER','COMPLETEAGENT','RINGNOANSWER')`),
		tenant, queue, st.TimeArg(from), st.TimeArg(to))
	if err != nil {
		return s, fmt.Errorf("queue_log: stats: %w", err)
	}
	defer func() { _ = rows.Close() }()
	var holdSum, abandonWait, talkSum float64
	talks := 0
	num := func(v string) int {
		n, _ := strconv.Atoi(v)
		return n
	}
	for rows.Next() {
		var ev, d1, d2, d3 string
		if err := rows.Scan(&ev, &d1, &d2, &d3); err != nil {
			return s, fmt.Errorf("queue_log: stats: %w", err)
		}
		switch ev {
		case "ENTERQUEUE":
			s.Entered++
		case "CONNECT":
			s.Answered++
			h := num(d1)
			holdSum += float64(h)
			if h <= serviceLevel {
				s.AnsweredInSL++
			}
			s.MaxWait = max(s.MaxWait, h)
		case "ABANDON":
			s.Abandoned++
			w := num(d3)
			abandonWait += float64(w)
			s.MaxWait = max(s.MaxWait, w)
		case "EXITWITHTIMEOUT":
			s.Timeout++
		case "EXITEMPTY":
			s.Empty++
		case "EXITWITHKEY":
			s.Key++
		case "WITHDRAW":
			s.Withdraw++
		case "COMPLETECALLER", "COMPLETEAGENT":
			talks++
			talkSum += float64(num(d2))
		case "RINGNOANSWER":
			s.RingNoAnswer++
		}
	}
	if err := rows.Err(); err != nil {
		return s, fmt.Errorf("queue_log: stats: %w", err)
	}
	ended := s.Answered + s.Abandoned + s.Timeout + s.Empty + s.Key + s.Withdraw
	s.ServiceLevelPct = pct(s.AnsweredInSL, s.Answered)
	s.ServiceLevelOfferedPct = pct(s.AnsweredInSL, ended)
	s.AbandonRatePct = pct(s.Abandoned, ended)
	if s.Answered > 0 {
		s.ASA = round1(holdSum / float64(s.Answered))
	}
	if s.Abandoned > 0 {
		s.AvgAbandonWait = round1(abandonWait / float64(s.Abandoned))
	}
	if talks > 0 {
		s.AvgTalk = round1(talkSum / float64(talks))
	}
	return s, nil
}

func pct(n, of int) float64 {
	if of == 0 {
		return 0
	}
	return round1(100 * float64(n) / float64(of))
}

func round1(f float64) float64 { return math.Round(f*10) / 10 }

// Entry is a stored row, as the API lists them.
type Entry struct {
	ID     int64     `json:"id"`
	Time   time.Time `json:"time"`
	Node   string    `json:"node,omitempty"`
	CallID string    `json:"callid"`
	Queue  string    `json:"queue"`
	Agent  string    `json:"agent"`
	Event  string    `json:"event"`
	Data   [5]string `json:"data"`
}

// List returns a tenant's rows (of one queue when queue is set) in id
// order after the cursor, at most limit.
func List(ctx context.Context, st *store.Store, tenant, queue string, after int64, limit int) ([]Entry, error) {
	q := "SELECT id, time, node, callid, queuename, agent, event, data1, data2, data3, data4, data5 FROM queue_log WHERE tenant = ? AND id > ?"
	args := []any{tenant, after}
	if queue != "" {
		q += " AND queuename = ?"
		args = append(args, queue)
	}
	q += " ORDER BY id LIMIT ?"
	args = append(args, limit)
	rows, err := st.DB().QueryContext(ctx, st.Rebind(q), args...)
	if err != nil {
		return nil, fmt.Errorf("queue_log: list: %w", err)
	}
	defer func() { _ = rows.Close() }()
	out := []Entry{}
	for rows.Next() {
		var e Entry
		var t store.NullTime
		if err := rows.Scan(&e.ID, &t, &e.Node, &e.CallID, &e.Queue, &e.Agent, &e.Event, &e.Data[0], &e.Data[1], &e.Data[2], &e.Data[3], &e.Data[4]); err != nil {
			return nil, fmt.Errorf("queue_log: list: %w", err)
		}
		e.Time = t.Time
		out = append(out, e)
	}
	return out, rows.Err()
}
