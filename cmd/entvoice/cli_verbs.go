package main

import (
	"bytes"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/entvoice/entvoice/internal/apiclient"
)

// The API verbs: one cobra group per resource, each a thin layer over
// /api/v1 (see docs/api.md). Flags map to JSON fields one to one; update
// sends only the flags given, so the API's PATCH leaves the rest alone.

func newAPIVerbs() []*cobra.Command {
	return []*cobra.Command{newTenantCmd(), newUserCmd(), newExtCmd(), newServiceCmd(), newTokenCmd(), newAMIUserCmd(), newCallCmd(), newGrammarCmd(),
		newConferenceCmd(), newQueueCmd(), newMailboxCmd()}
}

// fieldFlag binds a flag to a JSON field of a create or update body.
type fieldFlag struct {
	flag, field, usage string
	kind               string // string, int, bool, list, map (name=value items)
}

func addFields(cmd *cobra.Command, fields []fieldFlag) {
	for _, f := range fields {
		switch f.kind {
		case "int":
			cmd.Flags().Int(f.flag, 0, f.usage)
		case "bool":
			cmd.Flags().Bool(f.flag, false, f.usage)
		case "list":
			cmd.Flags().StringSlice(f.flag, nil, f.usage+" (comma-separated)")
		case "map":
			cmd.Flags().StringArray(f.flag, nil, f.usage+" (repeat the flag)")
		default:
			cmd.Flags().String(f.flag, "", f.usage)
		}
	}
}

// body collects the flags the user set into a JSON object.
func body(cmd *cobra.Command, fields []fieldFlag) map[string]any {
	out := map[string]any{}
	for _, f := range fields {
		fl := cmd.Flags().Lookup(f.flag)
		if fl == nil || !fl.Changed {
			continue
		}
		switch f.kind {
		case "int":
			v, _ := cmd.Flags().GetInt(f.flag)
			out[f.field] = v
		case "bool":
			v, _ := cmd.Flags().GetBool(f.flag)
			out[f.field] = v
		case "list":
			v, _ := cmd.Flags().GetStringSlice(f.flag)
			if v == nil {
				v = []string{}
			}
			out[f.field] = v
		case "map":
			v, _ := cmd.Flags().GetStringArray(f.flag)
			if m, err := optionMap(v); err == nil {
				out[f.field] = m
			} else {
				out[f.field] = v // refused by the API, naming the field
			}
		default:
			out[f.field] = fl.Value.String()
		}
	}
	return out
}

// tenantFlag adds --tenant (env ENTVOICE_TENANT) and returns its reader.
func tenantFlag(cmd *cobra.Command) func() (string, error) {
	var t string
	cmd.PersistentFlags().StringVar(&t, "tenant", "", "tenant id (env ENTVOICE_TENANT)")
	return func() (string, error) {
		if t == "" {
			t = os.Getenv("ENTVOICE_TENANT")
		}
		if t == "" {
			return "", &exitError{code: exitUsage, err: fmt.Errorf("%s: --tenant is required (or set ENTVOICE_TENANT)", cmd.CommandPath())}
		}
		return t, nil
	}
}

func seg(s string) string { return url.PathEscape(s) }

// run makes a RunE that performs one request and prints its result.
func (f *apiFlags) run(build func(cmd *cobra.Command, args []string) (apiclient.Request, error), columns []string) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		req, err := build(cmd, args)
		if err != nil {
			return err
		}
		var out any
		if err := f.call(req, &out); err != nil {
			return err
		}
		if out == nil {
			return nil
		}
		return printResult(cmd.OutOrStdout(), f.output, out, columns)
	}
}

func listQuery(cmd *cobra.Command) url.Values {
	q := url.Values{}
	if v, _ := cmd.Flags().GetInt("limit"); v > 0 {
		q.Set("limit", strconv.Itoa(v))
	}
	if v, _ := cmd.Flags().GetString("cursor"); v != "" {
		q.Set("cursor", v)
	}
	return q
}

func addPaging(cmd *cobra.Command) {
	cmd.Flags().Int("limit", 0, "page size")
	cmd.Flags().String("cursor", "", "page cursor (next_cursor of the previous page)")
}

var tenantFields = []fieldFlag{
	{"name", "name", "display name", "string"},
	{"domain", "domain", "SIP domain phones register to", "string"},
	{"status", "status", "active or suspended", "string"},
	{"max-calls", "max_calls", "concurrent call limit (0: none)", "int"},
	{"max-users", "max_users", "SIP user limit (0: none)", "int"},
	{"language", "language", "prompt language (en, es, fr...)", "string"},
}

func newTenantCmd() *cobra.Command {
	var f apiFlags
	cmd := &cobra.Command{Use: "tenant", Short: "Manage tenants (hosted customers)"}
	f.register(cmd)
	cmd.AddCommand(f.crudVerbs(crud{
		noun: "tenant", arg: "ID", keyField: "id", fields: tenantFields,
		base: func() (string, error) { return "/tenants", nil },
		cols: []string{"id", "name", "domain", "status", "max_calls", "max_users", "language"},
	})...)
	return cmd
}

// crud describes a resource of the API for crudVerbs.
type crud struct {
	noun string // "tenant"
	arg  string // how the key argument is shown: "ID", "NAME"
	// keyField is the JSON field the create argument fills; "" makes the
	// create verb "add", without an argument (the server picks the key).
	keyField string
	fields   []fieldFlag
	// base returns the collection's path (it may need --tenant).
	base func() (string, error)
	cols []string
	// createFlags adds flags to create beyond fields; createBody, if set,
	// adds their values to the body.
	createFlags func(*cobra.Command)
	createBody  func(cmd *cobra.Command, body map[string]any)
	// listQuery adds query parameters to list.
	listQuery func(cmd *cobra.Command, q url.Values)
}

// crudVerbs builds list, get, create (or add), update and delete: the
// same five verbs for every resource, so they read and behave alike.
func (f *apiFlags) crudVerbs(c crud) []*cobra.Command {
	at := func(key string) (string, error) {
		p, err := c.base()
		if err != nil || key == "" {
			return p, err
		}
		return p + "/" + seg(key), nil
	}
	req := func(method string, withBody bool) func(*cobra.Command, []string) (apiclient.Request, error) {
		return func(cmd *cobra.Command, a []string) (apiclient.Request, error) {
			key := ""
			if len(a) > 0 {
				key = a[0]
			}
			p, err := at(key)
			r := apiclient.Request{Method: method, Path: p}
			if withBody {
				r.Body = body(cmd, c.fields)
			}
			return r, err
		}
	}
	one := cobra.ExactArgs(1)
	a := "a " + c.noun
	if strings.ContainsRune("AEIOUaeiou", rune(c.noun[0])) {
		a = "an " + c.noun
	}
	list := &cobra.Command{Use: "list", Short: "List " + c.noun + "s", Args: cobra.NoArgs,
		RunE: f.run(func(cmd *cobra.Command, _ []string) (apiclient.Request, error) {
			p, err := c.base()
			q := listQuery(cmd)
			if c.listQuery != nil {
				c.listQuery(cmd, q)
			}
			return apiclient.Request{Method: http.MethodGet, Path: p, Query: q}, err
		}, c.cols)}
	addPaging(list)
	create := &cobra.Command{Use: "create " + c.arg, Short: "Create " + a, Args: one,
		RunE: f.run(func(cmd *cobra.Command, a []string) (apiclient.Request, error) {
			p, err := c.base()
			b := body(cmd, c.fields)
			if c.keyField != "" {
				b[c.keyField] = a[0]
			}
			if c.createBody != nil {
				c.createBody(cmd, b)
			}
			return apiclient.Request{Method: http.MethodPost, Path: p, Body: b}, err
		}, c.cols)}
	if c.keyField == "" {
		create.Use, create.Short, create.Args = "add", "Add "+a, cobra.NoArgs
	}
	addFields(create, c.fields)
	if c.createFlags != nil {
		c.createFlags(create)
	}
	update := &cobra.Command{Use: "update " + c.arg, Short: "Change " + a + " (only the flags given)", Args: one,
		RunE: f.run(req(http.MethodPatch, true), c.cols)}
	addFields(update, c.fields)
	return []*cobra.Command{
		list,
		{Use: "get " + c.arg, Short: "Show " + a, Args: one, RunE: f.run(req(http.MethodGet, false), c.cols)},
		create,
		update,
		{Use: "delete " + c.arg, Short: "Delete " + a, Args: one, RunE: f.run(req(http.MethodDelete, false), c.cols)},
	}
}

var userFields = []fieldFlag{
	{"password", "password", "SIP password (stored only as digest HA1s)", "string"},
	{"context", "context", "dialplan context calls start in", "string"},
	{"callerid", "callerid", `caller ID, "Name" <number>`, "string"},
	{"language", "language", "prompt language", "string"},
	{"codecs", "codecs", "allowed codecs in order (pcmu, pcma)", "list"},
	{"permit", "permit", "CIDRs the user may connect from", "list"},
	{"deny", "deny", "CIDRs refused", "list"},
	{"max-contacts", "max_contacts", "simultaneous registrations", "int"},
	{"accountcode", "accountcode", "CDR account code", "string"},
	{"enabled", "enabled", "whether the user may register and call", "bool"},
	{"callgroup", "callgroup", "call groups, 1,3-5 (a phone in a matching pickup group answers its ringing calls with *8)", "string"},
	{"pickupgroup", "pickupgroup", "pickup groups, 1,3-5", "string"},
	{"named-callgroup", "named_callgroup", "named call groups, sales,support", "string"},
	{"named-pickupgroup", "named_pickupgroup", "named pickup groups", "string"},
}

func newUserCmd() *cobra.Command {
	var f apiFlags
	cmd := &cobra.Command{Use: "user", Short: "Manage SIP users of a tenant"}
	f.register(cmd)
	base := tenantPath(tenantFlag(cmd), "/users")
	cols := []string{"name", "tenant", "context", "callerid", "language", "enabled", "max_contacts"}
	cmd.AddCommand(f.crudVerbs(crud{noun: "user", arg: "NAME", keyField: "name", fields: userFields, base: base, cols: cols})...)
	switchTo := func(enabled bool) func(*cobra.Command, []string) (apiclient.Request, error) {
		return func(_ *cobra.Command, a []string) (apiclient.Request, error) {
			p, err := base()
			return apiclient.Request{Method: http.MethodPatch, Path: p + "/" + seg(a[0]), Body: map[string]any{"enabled": enabled}}, err
		}
	}
	cmd.AddCommand(
		&cobra.Command{Use: "disable NAME", Short: "Disable a user: drops its registrations, refuses its calls", Args: cobra.ExactArgs(1),
			RunE: f.run(switchTo(false), cols)},
		&cobra.Command{Use: "enable NAME", Short: "Enable a user", Args: cobra.ExactArgs(1), RunE: f.run(switchTo(true), cols)},
		f.importVerb("import FILE.csv", "Import users from CSV in one transaction (all or nothing)", base, nil))
	return cmd
}

// tenantPath returns the path of a collection inside the --tenant tenant.
func tenantPath(tenant func() (string, error), collection string) func() (string, error) {
	return func() (string, error) {
		t, err := tenant()
		return "/tenants/" + seg(t) + collection, err
	}
}

// importVerb posts a file to <collection>/import: CSV by its extension,
// else text/plain (extensions.conf). query may add parameters.
func (f *apiFlags) importVerb(use, short string, base func() (string, error), query func() url.Values) *cobra.Command {
	return &cobra.Command{Use: use, Short: short, Args: cobra.ExactArgs(1),
		RunE: f.run(func(_ *cobra.Command, a []string) (apiclient.Request, error) {
			p, err := base()
			if err != nil {
				return apiclient.Request{}, err
			}
			data, err := os.ReadFile(a[0])
			if err != nil {
				return apiclient.Request{}, &exitError{code: exitUsage, err: err}
			}
			ct := "text/plain"
			if strings.EqualFold(filepath.Ext(a[0]), ".csv") {
				ct = "text/csv"
			}
			r := apiclient.Request{Method: http.MethodPost, Path: p + "/import", Body: bytes.NewReader(data), ContentType: ct}
			if query != nil {
				r.Query = query()
			}
			return r, nil
		}, nil)}
}

var extFields = []fieldFlag{
	{"context", "context", "context (the tenant's own name for it)", "string"},
	{"exten", "exten", "extension or _pattern", "string"},
	{"priority", "priority", "priority", "int"},
	{"app", "app", "application, e.g. Dial", "string"},
	{"appdata", "appdata", "application arguments", "string"},
}

func newExtCmd() *cobra.Command {
	var f apiFlags
	cmd := &cobra.Command{Use: "ext", Short: "Manage a tenant's realtime dialplan (extensions table)"}
	f.register(cmd)
	base := tenantPath(tenantFlag(cmd), "/extensions")
	var context string
	verbs := f.crudVerbs(crud{noun: "extension row", arg: "ID", fields: extFields, base: base,
		cols: []string{"id", "context", "exten", "priority", "app", "appdata"},
		listQuery: func(_ *cobra.Command, q url.Values) {
			if context != "" {
				q.Set("context", context)
			}
		}})
	verbs[0].Flags().StringVar(&context, "context", "", "only this context")
	var replace bool
	imp := f.importVerb("import FILE", "Import an extensions.conf or a CSV file in one transaction (all or nothing)", base, func() url.Values {
		if replace {
			return url.Values{"replace": {"true"}}
		}
		return nil
	})
	imp.Flags().BoolVar(&replace, "replace", false, "replace the contexts the file defines instead of adding to them")
	cmd.AddCommand(append(verbs, imp)...)
	return cmd
}
func newServiceCmd() *cobra.Command {
	var f apiFlags
	cmd := &cobra.Command{Use: "service", Short: "Show or switch services (recording, voicemail, agi, speech, outbound, international)"}
	f.register(cmd)
	tenant := tenantFlag(cmd)
	var user string
	cmd.PersistentFlags().StringVar(&user, "user", "", "a user of the tenant (default: the tenant's own switches)")
	path := func() (string, error) {
		t, err := tenant()
		if err != nil {
			return "", err
		}
		p := "/tenants/" + seg(t)
		if user != "" {
			p += "/users/" + seg(user)
		}
		return p + "/services", nil
	}
	get := &cobra.Command{Use: "get", Short: "Show the switches", Args: cobra.NoArgs,
		RunE: f.run(func(*cobra.Command, []string) (apiclient.Request, error) {
			p, err := path()
			return apiclient.Request{Method: http.MethodGet, Path: p}, err
		}, nil)}
	set := &cobra.Command{Use: "set SERVICE=on|off|inherit...", Short: "Switch services on or off (inherit: follow the tenant)", Args: cobra.MinimumNArgs(1),
		RunE: f.run(func(_ *cobra.Command, a []string) (apiclient.Request, error) {
			p, err := path()
			if err != nil {
				return apiclient.Request{}, err
			}
			b := map[string]any{}
			for _, kv := range a {
				k, v, ok := strings.Cut(kv, "=")
				if !ok {
					return apiclient.Request{}, &exitError{code: exitUsage, err: fmt.Errorf("%q: want SERVICE=on|off|inherit", kv)}
				}
				switch strings.ToLower(v) {
				case "on", "true", "yes":
					b[k] = true
				case "off", "false", "no":
					b[k] = false
				case "inherit", "unset":
					b[k] = nil
				default:
					return apiclient.Request{}, &exitError{code: exitUsage, err: fmt.Errorf("%q: the value must be on, off or inherit", kv)}
				}
			}
			return apiclient.Request{Method: http.MethodPatch, Path: p, Body: b}, nil
		}, nil)}
	cmd.AddCommand(get, set)
	return cmd
}

func newTokenCmd() *cobra.Command {
	var f apiFlags
	cmd := &cobra.Command{Use: "token", Short: "Manage API tokens"}
	f.register(cmd)
	cols := []string{"id", "name", "tenant", "created_at", "last_used"}
	list := &cobra.Command{Use: "list", Short: "List tokens", Args: cobra.NoArgs,
		RunE: f.run(func(*cobra.Command, []string) (apiclient.Request, error) {
			return apiclient.Request{Method: http.MethodGet, Path: "/tokens"}, nil
		}, cols)}
	var tenant string
	create := &cobra.Command{Use: "create NAME", Short: "Create a token (its value is printed once)", Args: cobra.ExactArgs(1),
		RunE: f.run(func(_ *cobra.Command, a []string) (apiclient.Request, error) {
			b := map[string]any{"name": a[0]}
			if tenant != "" {
				b["tenant"] = tenant
			}
			return apiclient.Request{Method: http.MethodPost, Path: "/tokens", Body: b}, nil
		}, append([]string{"token"}, cols...))}
	create.Flags().StringVar(&tenant, "tenant", "", "scope the token to this tenant (default: admin)")
	del := &cobra.Command{Use: "delete ID", Short: "Revoke a token", Args: cobra.ExactArgs(1),
		RunE: f.run(func(_ *cobra.Command, a []string) (apiclient.Request, error) {
			return apiclient.Request{Method: http.MethodDelete, Path: "/tokens/" + seg(a[0])}, nil
		}, cols)}
	cmd.AddCommand(list, create, del)
	return cmd
}

var amiUserFields = []fieldFlag{
	{"secret", "secret", "AMI secret, at least 8 characters (stored sealed, never shown)", "string"},
	{"read", "read", "AMI classes the user reads (system,call,...,all)", "string"},
	{"write", "write", "AMI classes the user writes (call,originate,...,all)", "string"},
	{"permit", "permit", "CIDRs the user may log in from", "list"},
	{"deny", "deny", "CIDRs refused", "list"},
	{"allowmultiplelogin", "allowmultiplelogin", "whether the user may be logged in more than once (default true)", "bool"},
}

func newAMIUserCmd() *cobra.Command {
	var f apiFlags
	cmd := &cobra.Command{Use: "ami-user", Short: "Manage AMI (manager) users kept in the store"}
	f.register(cmd)
	var tenant string
	cmd.AddCommand(f.crudVerbs(crud{noun: "AMI user", arg: "NAME", keyField: "name", fields: amiUserFields,
		base: func() (string, error) { return "/ami-users", nil },
		cols: []string{"name", "tenant", "read", "write", "permit", "deny", "allowmultiplelogin"},
		createFlags: func(c *cobra.Command) {
			c.Flags().StringVar(&tenant, "tenant", "", "bind the user to this tenant's calls and events (default: a tenant token's own tenant; with an admin token, every tenant)")
		},
		createBody: func(_ *cobra.Command, b map[string]any) {
			if tenant != "" {
				b["tenant"] = tenant
			}
		}})...)
	return cmd
}

var originateFields = []fieldFlag{
	{"channel", "channel", "first leg: PJSIP/1001, PJSIP/number@trunk or Local/exten@context", "string"},
	{"context", "context", "dialplan context run once it answers", "string"},
	{"exten", "exten", "extension", "string"},
	{"priority", "priority", "priority (default 1)", "string"},
	{"app", "application", "application to run instead of the dialplan", "string"},
	{"data", "data", "application arguments", "string"},
	{"callerid", "callerid", `caller ID, "Name" <number>`, "string"},
	{"tenant", "tenant", "tenant of the call (admin tokens)", "string"},
}

func newCallCmd() *cobra.Command {
	var f apiFlags
	cmd := &cobra.Command{Use: "call", Short: "List, originate and hang up live calls"}
	f.register(cmd)
	cols := []string{"channel", "tenant", "state", "callerid_num", "context", "exten", "application", "duration_seconds"}
	list := &cobra.Command{Use: "list", Short: "List live channels", Args: cobra.NoArgs,
		RunE: f.run(func(*cobra.Command, []string) (apiclient.Request, error) {
			return apiclient.Request{Method: http.MethodGet, Path: "/calls"}, nil
		}, cols)}
	var timeout time.Duration
	orig := &cobra.Command{Use: "originate", Short: "Call a channel and connect it to an extension or application", Args: cobra.NoArgs,
		RunE: f.run(func(cmd *cobra.Command, _ []string) (apiclient.Request, error) {
			b := body(cmd, originateFields)
			if timeout > 0 {
				b["timeout_seconds"] = int(timeout.Seconds())
			}
			return apiclient.Request{Method: http.MethodPost, Path: "/calls", Body: b}, nil
		}, nil)}
	addFields(orig, originateFields)
	orig.Flags().DurationVar(&timeout, "timeout", 0, "how long the first leg may ring (default 30s)")
	hang := &cobra.Command{Use: "hangup CHANNEL", Short: "Hang up a channel by name", Args: cobra.ExactArgs(1),
		RunE: f.run(func(_ *cobra.Command, a []string) (apiclient.Request, error) {
			return apiclient.Request{Method: http.MethodDelete, Path: "/calls/" + seg(a[0])}, nil
		}, nil)}
	cmd.AddCommand(list, orig, hang)
	return cmd
}
