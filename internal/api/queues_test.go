package api

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/entvoice/entvoice/internal/provision"
	"github.com/entvoice/entvoice/internal/queuelog"
	"github.com/entvoice/entvoice/internal/store"
	"github.com/entvoice/entvoice/internal/store/storetest"
)

// TestQueues: queues and members through the API, with bad input named
// field by field, and the statistics computed from queue_log rows.
func TestQueues(t *testing.T) {
	storetest.Run(t, func(t *testing.T, opts store.Options) {
		e := newEnv(t, opts)
		tok := e.tenantToken("acme", "acme.test")
		var q provision.Queue
		e.must(201, "POST", "/api/v1/tenants/acme/queues", tok, map[string]any{"name": "Sales",
			"params": map[string]string{"strategy": "rrmemory", "wrapuptime": "5", "servicelevel": "30"}}).json(t, &q)
		if q.Params["strategy"] != "rrmemory" || q.Revision == 0 {
			t.Fatalf("created %+v", q)
		}
		if p := e.must(409, "POST", "/api/v1/tenants/acme/queues", tok, map[string]any{"name": "sales"}).problem(t); len(p.Errors) == 0 || p.Errors[0].Field != "name" {
			t.Errorf("a name differing in case: %+v", p)
		}
		p := e.must(422, "POST", "/api/v1/tenants/acme/queues", tok, map[string]any{"name": "bad|name",
			"params": map[string]string{"strategy": "roundabout", "timeout": "-3", "colour": "red"}}).problem(t)
		fields := map[string]bool{}
		for _, f := range p.Errors {
			fields[f.Field] = true
		}
		for _, want := range []string{"name", "params.strategy", "params.timeout", "params.colour"} {
			if !fields[want] {
				t.Errorf("422 does not name %s: %+v", want, p.Errors)
			}
		}
		var m provision.QueueMember
		e.must(201, "POST", "/api/v1/tenants/acme/queues/sales/members", tok, map[string]any{"interface": "PJSIP/1001", "membername": "Alice", "penalty": 1}).json(t, &m)
		e.must(409, "POST", "/api/v1/tenants/acme/queues/sales/members", tok, map[string]any{"interface": "pjsip/1001"}).problem(t)
		e.must(422, "POST", "/api/v1/tenants/acme/queues/sales/members", tok, map[string]any{"interface": "1002", "penalty": -1}).problem(t)
		e.must(404, "POST", "/api/v1/tenants/acme/queues/nosuch/members", tok, map[string]any{"interface": "PJSIP/1002"}).problem(t)
		var pm provision.QueueMember
		e.must(200, "PATCH", "/api/v1/tenants/acme/queues/sales/members/"+itoa64(m.ID), tok, map[string]any{"paused": true, "reason_paused": "lunch"}).json(t, &pm)
		if !pm.Paused || pm.Reason != "lunch" || pm.Interface != "PJSIP/1001" {
			t.Errorf("patched %+v", pm)
		}
		var pq provision.Queue
		e.must(200, "PATCH", "/api/v1/tenants/acme/queues/sales", tok, map[string]any{"params": map[string]any{"wrapuptime": nil, "maxlen": "10"}}).json(t, &pq)
		if _, ok := pq.Params["wrapuptime"]; ok || pq.Params["maxlen"] != "10" {
			t.Errorf("patched params %v", pq.Params)
		}
		e.must(422, "PATCH", "/api/v1/tenants/acme/queues/sales", tok, map[string]any{"params": map[string]any{"joinempty": "sometimes"}}).problem(t)
		e.must(503, "GET", "/api/v1/tenants/acme/queues/sales/status", tok, nil).problem(t)

		// Statistics from queue_log: 4 calls entered; 2 answered (after 10
		// and 40 s), one abandoned after 20 s, one timed out.
		w, err := queuelog.Open(queuelog.Options{Store: e.st})
		if err != nil {
			t.Fatal(err)
		}
		at := time.Now().Add(-time.Minute)
		row := func(id, ev string, data ...string) {
			w.Log(queuelog.Row{Time: at, Tenant: "acme", Queue: "Sales", CallID: id, Agent: "NONE", Event: ev, Data: data})
		}
		for _, id := range []string{"c1", "c2", "c3", "c4"} {
			row(id, "ENTERQUEUE", "", "5550100", "1")
		}
		row("c1", "CONNECT", "10", "x", "2")
		row("c1", "COMPLETECALLER", "10", "60", "1")
		row("c2", "CONNECT", "40", "x", "2")
		row("c2", "COMPLETEAGENT", "40", "120", "1")
		row("c3", "ABANDON", "1", "1", "20")
		row("c4", "EXITWITHTIMEOUT", "1", "1", "90")
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		var st queuelog.Stats
		e.must(200, "GET", "/api/v1/tenants/acme/queues/sales/stats", tok, nil).json(t, &st)
		if st.Entered != 4 || st.Answered != 2 || st.Abandoned != 1 || st.Timeout != 1 || st.ServiceLevel != 30 ||
			st.AnsweredInSL != 1 || st.ServiceLevelPct != 50 || st.ASA != 25 || st.AbandonRatePct != 25 || st.AvgTalk != 90 {
			t.Errorf("stats %+v", st)
		}
		e.must(200, "GET", "/api/v1/tenants/acme/queues/sales/stats?service_level=60", tok, nil).json(t, &st)
		if st.ServiceLevelPct != 100 {
			t.Errorf("service level at 60 s: %+v", st)
		}
		e.must(400, "GET", "/api/v1/tenants/acme/queues/sales/stats?from=yesterday", tok, nil).problem(t)
		var rows struct{ Items []queuelog.Entry }
		e.must(200, "GET", "/api/v1/tenants/acme/queue-log?queue=Sales&limit=3", tok, nil).json(t, &rows)
		if len(rows.Items) != 3 || rows.Items[0].Event != "ENTERQUEUE" {
			t.Errorf("queue-log page %+v", rows.Items)
		}
		e.must(204, "DELETE", "/api/v1/tenants/acme/queues/sales", tok, nil)
		if ms, err := e.repo.ListQueueMembers(context.Background(), "acme", "sales"); err == nil || len(ms) != 0 {
			t.Errorf("members after the queue's deletion: %v %v", ms, err)
		}
	})
}

func itoa64(n int64) string { return strconv.FormatInt(n, 10) }
