package main

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/entvoice/entvoice/internal/apiclient"
)

// entvoice queue: a tenant's call queues and their members over the API
// (/tenants/{tenant}/queues), their statistics and live state.

var queueCols = []string{"name", "params"}

var memberCols = []string{"id", "interface", "membername", "penalty", "paused", "reason_paused", "wrapuptime"}

// paramFlags are queues.conf keys with a flag of their own; --set takes
// any key.
var paramFlags = []struct{ flag, key, usage string }{
	{"strategy", "strategy", "ringall, leastrecent, fewestcalls, random, rrmemory, rrordered, linear or wrandom"},
	{"timeout", "timeout", "seconds a member rings before the next try"},
	{"retry", "retry", "seconds between tries"},
	{"wrapuptime", "wrapuptime", "seconds a member rests after a call"},
	{"maxlen", "maxlen", "most callers waiting (0: no limit)"},
	{"musicclass", "musicclass", "music on hold class"},
	{"announce-frequency", "announce-frequency", "seconds between position announcements (0: none)"},
}

func addParamFlags(cmd *cobra.Command) {
	for _, p := range paramFlags {
		cmd.Flags().String(p.flag, "", p.usage)
	}
	cmd.Flags().StringArray("set", nil, "queues.conf parameter key=value (repeatable)")
}

// params collects the parameter flags given; unset keys go as null (back
// to their default).
func params(cmd *cobra.Command, withNull bool) (map[string]any, error) {
	out := map[string]any{}
	for _, p := range paramFlags {
		if fl := cmd.Flags().Lookup(p.flag); fl != nil && fl.Changed {
			out[p.key] = fl.Value.String()
		}
	}
	sets, _ := cmd.Flags().GetStringArray("set")
	for _, s := range sets {
		k, v, ok := strings.Cut(s, "=")
		if !ok || strings.TrimSpace(k) == "" {
			return nil, &exitError{code: exitUsage, err: fmt.Errorf("--set %q: want key=value", s)}
		}
		out[strings.TrimSpace(k)] = strings.TrimSpace(v)
	}
	if withNull {
		unset, _ := cmd.Flags().GetStringArray("unset")
		for _, k := range unset {
			out[k] = nil
		}
	}
	return out, nil
}

func newQueueCmd() *cobra.Command {
	var f apiFlags
	cmd := &cobra.Command{Use: "queue", Short: "Manage a tenant's call queues, their members, statistics and live state"}
	f.register(cmd)
	tenant := tenantFlag(cmd)
	base := tenantPath(tenant, "/queues")
	at := func(name string, rest ...string) (string, error) {
		p, err := base()
		p += "/" + seg(name)
		for _, r := range rest {
			p += "/" + r
		}
		return p, err
	}
	list := &cobra.Command{Use: "list", Short: "List queues", Args: cobra.NoArgs,
		RunE: f.run(func(*cobra.Command, []string) (apiclient.Request, error) {
			p, err := base()
			return apiclient.Request{Method: http.MethodGet, Path: p}, err
		}, queueCols)}
	get := &cobra.Command{Use: "get NAME", Short: "Show a queue", Args: cobra.ExactArgs(1),
		RunE: f.run(func(_ *cobra.Command, a []string) (apiclient.Request, error) {
			p, err := at(a[0])
			return apiclient.Request{Method: http.MethodGet, Path: p}, err
		}, queueCols)}
	create := &cobra.Command{Use: "create NAME", Short: "Create a queue (in force on the nodes within a second)", Args: cobra.ExactArgs(1),
		RunE: f.run(func(cmd *cobra.Command, a []string) (apiclient.Request, error) {
			p, err := base()
			if err != nil {
				return apiclient.Request{}, err
			}
			ps, err := params(cmd, false)
			return apiclient.Request{Method: http.MethodPost, Path: p, Body: map[string]any{"name": a[0], "params": ps}}, err
		}, queueCols)}
	addParamFlags(create)
	update := &cobra.Command{Use: "update NAME", Short: "Change queue parameters (only the flags given; --unset returns a key to its default)", Args: cobra.ExactArgs(1),
		RunE: f.run(func(cmd *cobra.Command, a []string) (apiclient.Request, error) {
			p, err := at(a[0])
			if err != nil {
				return apiclient.Request{}, err
			}
			ps, err := params(cmd, true)
			return apiclient.Request{Method: http.MethodPatch, Path: p, Body: map[string]any{"params": ps}}, err
		}, queueCols)}
	addParamFlags(update)
	update.Flags().StringArray("unset", nil, "parameter to return to its default (repeatable)")
	del := &cobra.Command{Use: "delete NAME", Short: "Delete a queue and its members", Args: cobra.ExactArgs(1),
		RunE: f.run(func(_ *cobra.Command, a []string) (apiclient.Request, error) {
			p, err := at(a[0])
			return apiclient.Request{Method: http.MethodDelete, Path: p}, err
		}, nil)}
	stats := &cobra.Command{Use: "stats NAME", Short: "Statistics from queue_log: service level, ASA, abandon rate", Args: cobra.ExactArgs(1),
		RunE: f.run(func(cmd *cobra.Command, a []string) (apiclient.Request, error) {
			p, err := at(a[0], "stats")
			q := url.Values{}
			for _, k := range []string{"from", "to"} {
				if v, _ := cmd.Flags().GetString(k); v != "" {
					q.Set(k, v)
				}
			}
			if v, _ := cmd.Flags().GetInt("service-level"); v > 0 {
				q.Set("service_level", strconv.Itoa(v))
			}
			return apiclient.Request{Method: http.MethodGet, Path: p, Query: q}, err
		}, nil)}
	stats.Flags().String("from", "", "start, RFC 3339 (default: 24 hours ago)")
	stats.Flags().String("to", "", "end, RFC 3339 (default: now)")
	stats.Flags().Int("service-level", 0, "answered within this many seconds counts for the service level (default: the queue's servicelevel, else 20)")
	status := &cobra.Command{Use: "status NAME", Short: "Live state: members (device state, pause) and waiting callers (entvoice serve)", Args: cobra.ExactArgs(1),
		RunE: f.run(func(_ *cobra.Command, a []string) (apiclient.Request, error) {
			p, err := at(a[0], "status")
			return apiclient.Request{Method: http.MethodGet, Path: p}, err
		}, nil)}
	qlog := &cobra.Command{Use: "log", Short: "queue_log rows (of one queue with --queue)", Args: cobra.NoArgs,
		RunE: f.run(func(cmd *cobra.Command, _ []string) (apiclient.Request, error) {
			t, err := tenant()
			q := listQuery(cmd)
			if v, _ := cmd.Flags().GetString("queue"); v != "" {
				q.Set("queue", v)
			}
			return apiclient.Request{Method: http.MethodGet, Path: "/tenants/" + seg(t) + "/queue-log", Query: q}, err
		}, []string{"time", "callid", "queue", "agent", "event", "data"})}
	addPaging(qlog)
	qlog.Flags().String("queue", "", "only this queue")
	cmd.AddCommand(list, get, create, update, del, stats, status, qlog, f.memberCmd(at))
	return cmd
}

// memberCmd is "queue member": members named by their interface (the
// CLI finds the member's id).
func (f *apiFlags) memberCmd(at func(string, ...string) (string, error)) *cobra.Command {
	cmd := &cobra.Command{Use: "member", Short: "Manage a queue's members (realtime: in force on every node)"}
	// find returns the path of the member of queue with interface iface.
	find := func(queue, iface string) (string, error) {
		p, err := at(queue, "members")
		if err != nil {
			return "", err
		}
		var out struct {
			Items []struct {
				ID        int64  `json:"id"`
				Interface string `json:"interface"`
			} `json:"items"`
		}
		if err := f.call(apiclient.Request{Method: http.MethodGet, Path: p}, &out); err != nil {
			return "", err
		}
		for _, m := range out.Items {
			if strings.EqualFold(m.Interface, iface) {
				return p + "/" + strconv.FormatInt(m.ID, 10), nil
			}
		}
		return "", &exitError{code: exitNotFound, err: fmt.Errorf("%s is not a member of queue %s", iface, queue)}
	}
	patch := func(use, short string, nargs int, b func(cmd *cobra.Command, a []string) (map[string]any, error)) *cobra.Command {
		return &cobra.Command{Use: use, Short: short, Args: cobra.ExactArgs(nargs),
			RunE: f.run(func(cmd *cobra.Command, a []string) (apiclient.Request, error) {
				p, err := find(a[0], a[1])
				if err != nil {
					return apiclient.Request{}, err
				}
				body, err := b(cmd, a)
				return apiclient.Request{Method: http.MethodPatch, Path: p, Body: body}, err
			}, memberCols)}
	}
	list := &cobra.Command{Use: "list QUEUE", Short: "List a queue's members", Args: cobra.ExactArgs(1),
		RunE: f.run(func(_ *cobra.Command, a []string) (apiclient.Request, error) {
			p, err := at(a[0], "members")
			return apiclient.Request{Method: http.MethodGet, Path: p}, err
		}, memberCols)}
	add := &cobra.Command{Use: "add QUEUE INTERFACE", Short: "Add a member (PJSIP/1001, or Local/1001@agents)", Args: cobra.ExactArgs(2),
		RunE: f.run(func(cmd *cobra.Command, a []string) (apiclient.Request, error) {
			p, err := at(a[0], "members")
			b := body(cmd, memberFields)
			b["interface"] = a[1]
			return apiclient.Request{Method: http.MethodPost, Path: p, Body: b}, err
		}, memberCols)}
	addFields(add, memberFields)
	remove := &cobra.Command{Use: "remove QUEUE INTERFACE", Short: "Remove a member", Args: cobra.ExactArgs(2),
		RunE: f.run(func(_ *cobra.Command, a []string) (apiclient.Request, error) {
			p, err := find(a[0], a[1])
			return apiclient.Request{Method: http.MethodDelete, Path: p}, err
		}, nil)}
	pause := patch("pause QUEUE INTERFACE", "Pause a member (no calls until unpaused)", 2, func(cmd *cobra.Command, _ []string) (map[string]any, error) {
		r, _ := cmd.Flags().GetString("reason")
		return map[string]any{"paused": true, "reason_paused": r}, nil
	})
	pause.Flags().String("reason", "", "reason, shown in queue_log and QueueMemberPause")
	unpause := patch("unpause QUEUE INTERFACE", "Unpause a member", 2, func(*cobra.Command, []string) (map[string]any, error) {
		return map[string]any{"paused": false}, nil
	})
	update := patch("update QUEUE INTERFACE", "Change a member (only the flags given)", 2, func(cmd *cobra.Command, _ []string) (map[string]any, error) {
		return body(cmd, memberFields), nil
	})
	addFields(update, memberFields)
	cmd.AddCommand(list, add, remove, pause, unpause, update)
	return cmd
}

var memberFields = []fieldFlag{
	{"name", "membername", "member name (queue_log's agent column)", "string"},
	{"penalty", "penalty", "penalty (lower rings first)", "int"},
	{"state-interface", "state_interface", "device whose state is the member's", "string"},
	{"wrapuptime", "wrapuptime", "the member's own wrap-up seconds", "int"},
	{"paused", "paused", "paused", "bool"},
	{"reason", "reason_paused", "pause reason", "string"},
}
