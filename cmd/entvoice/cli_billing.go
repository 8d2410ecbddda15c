package main

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/entvoice/entvoice/internal/apiclient"
)

// Billing verbs (internal/billing through /api/v1/tenants/{t}/...): rate
// decks, plans, accounts and their money, statements. See docs/billing.md.

// runExact is apiFlags.run keeping JSON numbers as written (json.Number):
// amounts print with their currency's decimals ("10.50"), never through
// a float.
func (f *apiFlags) runExact(build func(cmd *cobra.Command, args []string) (apiclient.Request, error), columns []string) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		req, err := build(cmd, args)
		if err != nil {
			return err
		}
		var raw []byte
		if err := f.call(req, &raw); err != nil {
			return err
		}
		out, err := decodeExact(raw)
		if err != nil || out == nil {
			return err
		}
		return printResult(cmd.OutOrStdout(), f.output, out, columns)
	}
}

func decodeExact(raw []byte) (any, error) {
	if len(bytes.TrimSpace(raw)) == 0 {
		return nil, nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var out any
	if err := dec.Decode(&out); err != nil {
		return nil, fmt.Errorf("decode response: %w", err)
	}
	return out, nil
}

func newBillingVerbs() []*cobra.Command {
	return []*cobra.Command{newRateCmd(), newPlanCmd(), newAccountCmd(), newBillingCmd()}
}

func newRateCmd() *cobra.Command {
	var f apiFlags
	cmd := &cobra.Command{Use: "rate", Short: "Rate decks: import, list, show; re-rate; unrated CDRs"}
	f.register(cmd)
	tenant := tenantFlag(cmd)
	var deck, currency, from, note string
	imp := &cobra.Command{Use: "import FILE.csv", Short: "Import a rate deck CSV as the deck's next version (all or nothing)", Args: cobra.ExactArgs(1),
		Long: `Import a rate deck. The header is prefix,description,rate_per_min,connect_fee,initial_s,increment_s,effective_from
(optional min_charge, band, effective_to, currency). Every bad line is reported; nothing is stored unless all are good.
The first import into a tenant without plans also creates plan "default" with this deck and assigns it to the tenant.`,
		RunE: f.runExact(func(_ *cobra.Command, a []string) (apiclient.Request, error) {
			t, err := tenant()
			if err != nil {
				return apiclient.Request{}, err
			}
			data, err := os.ReadFile(a[0])
			if err != nil {
				return apiclient.Request{}, &exitError{code: exitUsage, err: err}
			}
			q := url.Values{}
			for k, v := range map[string]string{"currency": currency, "effective_from": from, "note": note} {
				if v != "" {
					q.Set(k, v)
				}
			}
			return apiclient.Request{Method: http.MethodPost, Path: "/tenants/" + seg(t) + "/rate-decks/" + seg(deck) + "/import", Query: q,
				Body: bytes.NewReader(data), ContentType: "text/csv"}, nil
		}, nil)}
	imp.Flags().StringVar(&deck, "deck", "default", "deck name")
	imp.Flags().StringVar(&currency, "currency", "", "currency of a new deck (default: the tenant's billing currency)")
	imp.Flags().StringVar(&from, "effective-from", "", "RFC 3339 time the version takes over (default: its earliest effective_from)")
	imp.Flags().StringVar(&note, "note", "", "note kept with the version")
	list := &cobra.Command{Use: "list", Short: "List decks", Args: cobra.NoArgs,
		RunE: f.runExact(func(*cobra.Command, []string) (apiclient.Request, error) {
			t, err := tenant()
			return apiclient.Request{Method: http.MethodGet, Path: "/tenants/" + seg(t) + "/rate-decks"}, err
		}, []string{"name", "currency", "versions"})}
	show := &cobra.Command{Use: "show [DECK]", Short: "Show a deck and its versions (default deck: default)", Args: cobra.MaximumNArgs(1),
		RunE: f.runExact(func(_ *cobra.Command, a []string) (apiclient.Request, error) {
			t, err := tenant()
			d := "default"
			if len(a) > 0 {
				d = a[0]
			}
			return apiclient.Request{Method: http.MethodGet, Path: "/tenants/" + seg(t) + "/rate-decks/" + seg(d)}, err
		}, nil)}
	var version int
	var prefix string
	rates := &cobra.Command{Use: "rates [DECK]", Short: "List the rows of a deck version", Args: cobra.MaximumNArgs(1),
		RunE: f.runExact(func(cmd *cobra.Command, a []string) (apiclient.Request, error) {
			t, err := tenant()
			d := "default"
			if len(a) > 0 {
				d = a[0]
			}
			q := listQuery(cmd)
			if prefix != "" {
				q.Set("prefix", prefix)
			}
			return apiclient.Request{Method: http.MethodGet, Path: fmt.Sprintf("/tenants/%s/rate-decks/%s/versions/%d/rates", seg(t), seg(d), version), Query: q}, err
		}, []string{"prefix", "description", "rate_per_min", "connect_fee", "initial_s", "increment_s", "min_charge", "band", "effective_from"})}
	rates.Flags().IntVar(&version, "version", 1, "deck version")
	rates.Flags().StringVar(&prefix, "prefix", "", "only prefixes starting with this")
	addPaging(rates)
	var rrFrom, rrTo, rrAccount, rrReason string
	rerate := &cobra.Command{Use: "rerate", Short: "Rate a period's CDRs again after a deck correction (writes adjusting entries)", Args: cobra.NoArgs,
		RunE: f.runExact(func(*cobra.Command, []string) (apiclient.Request, error) {
			t, err := tenant()
			return apiclient.Request{Method: http.MethodPost, Path: "/tenants/" + seg(t) + "/rerates",
				Body: map[string]any{"from": rrFrom, "to": rrTo, "account": rrAccount, "reason": rrReason}}, err
		}, nil)}
	rerate.Flags().StringVar(&rrFrom, "from", "", "calls started at or after (RFC 3339)")
	rerate.Flags().StringVar(&rrTo, "to", "", "calls started before (RFC 3339)")
	rerate.Flags().StringVar(&rrAccount, "account", "", "only this account's calls")
	rerate.Flags().StringVar(&rrReason, "reason", "", "why (kept in the re-rate log)")
	var status string
	ratings := &cobra.Command{Use: "ratings", Short: "List rating rows (e.g. --status unrated: CDRs that found no rate)", Args: cobra.NoArgs,
		RunE: f.runExact(func(cmd *cobra.Command, _ []string) (apiclient.Request, error) {
			t, err := tenant()
			q := listQuery(cmd)
			if status != "" {
				q.Set("status", status)
			}
			return apiclient.Request{Method: http.MethodGet, Path: "/tenants/" + seg(t) + "/ratings", Query: q}, err
		}, []string{"start", "uniqueid", "account", "status", "number", "prefix", "billable", "cost", "currency", "reason"})}
	ratings.Flags().StringVar(&status, "status", "", "rated, unrated or unbilled")
	addPaging(ratings)
	cmd.AddCommand(imp, list, show, rates, rerate, ratings)
	return cmd
}

func newPlanCmd() *cobra.Command {
	var f apiFlags
	cmd := &cobra.Command{Use: "plan", Short: "Rate plans (decks in priority order) and their assignment to the tenant, users and trunks"}
	f.register(cmd)
	tenant := tenantFlag(cmd)
	base := tenantPath(tenant, "/rate-plans")
	cols := []string{"name", "currency", "rounding", "decks"}
	var decks []string
	var rounding, currency string
	set := &cobra.Command{Use: "set NAME", Short: "Create or replace a plan: --deck a,b (tried in that order)", Args: cobra.ExactArgs(1),
		RunE: f.runExact(func(_ *cobra.Command, a []string) (apiclient.Request, error) {
			p, err := base()
			var ds []map[string]any
			for i, d := range decks {
				ds = append(ds, map[string]any{"deck": d, "priority": i + 1})
			}
			b := map[string]any{"decks": ds, "rounding": rounding}
			if currency != "" {
				b["currency"] = currency
			}
			return apiclient.Request{Method: http.MethodPut, Path: p + "/" + seg(a[0]), Body: b}, err
		}, cols)}
	set.Flags().StringSliceVar(&decks, "deck", nil, "decks in priority order (the first with a matching prefix rates the call)")
	set.Flags().StringVar(&rounding, "rounding", "half-up", "half-up, half-even, up or down (applied once per call)")
	set.Flags().StringVar(&currency, "currency", "", "plan currency (default: the tenant's)")
	list := &cobra.Command{Use: "list", Short: "List plans", Args: cobra.NoArgs,
		RunE: f.runExact(func(*cobra.Command, []string) (apiclient.Request, error) {
			p, err := base()
			return apiclient.Request{Method: http.MethodGet, Path: p}, err
		}, cols)}
	get := &cobra.Command{Use: "get NAME", Short: "Show a plan", Args: cobra.ExactArgs(1),
		RunE: f.runExact(func(_ *cobra.Command, a []string) (apiclient.Request, error) {
			p, err := base()
			return apiclient.Request{Method: http.MethodGet, Path: p + "/" + seg(a[0])}, err
		}, cols)}
	del := &cobra.Command{Use: "delete NAME", Short: "Delete an unassigned plan", Args: cobra.ExactArgs(1),
		RunE: f.runExact(func(_ *cobra.Command, a []string) (apiclient.Request, error) {
			p, err := base()
			return apiclient.Request{Method: http.MethodDelete, Path: p + "/" + seg(a[0])}, err
		}, cols)}
	var user, trunk string
	scope := func() (string, string) {
		switch {
		case user != "":
			return "user", user
		case trunk != "":
			return "trunk", trunk
		}
		return "tenant", ""
	}
	assign := &cobra.Command{Use: "assign NAME", Short: "Assign a plan to the tenant, or --user U, or --trunk T (most specific wins)", Args: cobra.ExactArgs(1),
		RunE: f.runExact(func(_ *cobra.Command, a []string) (apiclient.Request, error) {
			t, err := tenant()
			s, subj := scope()
			return apiclient.Request{Method: http.MethodPut, Path: "/tenants/" + seg(t) + "/rate-assignments", Body: map[string]any{"scope": s, "subject": subj, "plan": a[0]}}, err
		}, nil)}
	unassign := &cobra.Command{Use: "unassign", Short: "Remove the tenant's, --user's or --trunk's assignment", Args: cobra.NoArgs,
		RunE: f.runExact(func(*cobra.Command, []string) (apiclient.Request, error) {
			t, err := tenant()
			s, subj := scope()
			return apiclient.Request{Method: http.MethodDelete, Path: "/tenants/" + seg(t) + "/rate-assignments", Query: url.Values{"scope": {s}, "subject": {subj}}}, err
		}, nil)}
	assignments := &cobra.Command{Use: "assignments", Short: "List assignments", Args: cobra.NoArgs,
		RunE: f.runExact(func(*cobra.Command, []string) (apiclient.Request, error) {
			t, err := tenant()
			return apiclient.Request{Method: http.MethodGet, Path: "/tenants/" + seg(t) + "/rate-assignments"}, err
		}, []string{"scope", "subject", "plan", "updated_at"})}
	for _, c := range []*cobra.Command{assign, unassign} {
		c.Flags().StringVar(&user, "user", "", "a user of the tenant")
		c.Flags().StringVar(&trunk, "trunk", "", "a trunk (the endpoint calls leave by)")
	}
	cmd.AddCommand(set, list, get, del, assign, unassign, assignments)
	return cmd
}

// newIdempotencyKey makes a fresh key for one CLI invocation.
func newIdempotencyKey() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return "cli-" + hex.EncodeToString(b[:])
}

func newAccountCmd() *cobra.Command {
	var f apiFlags
	cmd := &cobra.Command{Use: "account", Short: "Billing accounts: prepaid or postpaid balances, top-ups, statements"}
	f.register(cmd)
	tenant := tenantFlag(cmd)
	var user string
	cmd.PersistentFlags().StringVar(&user, "user", "", "the account (a SIP user's name, or an account code)")
	path := func() (string, error) {
		t, err := tenant()
		if err != nil {
			return "", err
		}
		if user == "" {
			return "", &exitError{code: exitUsage, err: fmt.Errorf("--user is required")}
		}
		return "/tenants/" + seg(t) + "/accounts/" + seg(user), nil
	}
	cols := []string{"name", "kind", "currency", "balance", "credit_limit", "offline_cap", "available"}
	var prepaid, postpaid bool
	var currency, creditLimit, offlineCap string
	set := &cobra.Command{Use: "set", Short: "Create or change an account: --prepaid or --postpaid [--credit-limit X], --currency", Args: cobra.NoArgs,
		RunE: f.runExact(func(cmd *cobra.Command, _ []string) (apiclient.Request, error) {
			p, err := path()
			b := map[string]any{}
			switch {
			case prepaid && postpaid:
				return apiclient.Request{}, &exitError{code: exitUsage, err: fmt.Errorf("--prepaid or --postpaid, not both")}
			case prepaid:
				b["kind"] = "prepaid"
			case postpaid:
				b["kind"] = "postpaid"
			}
			if currency != "" {
				b["currency"] = currency
			}
			if cmd.Flags().Changed("credit-limit") {
				b["credit_limit"] = creditLimit
			}
			if cmd.Flags().Changed("offline-cap") {
				b["offline_cap"] = offlineCap
			}
			return apiclient.Request{Method: http.MethodPut, Path: p, Body: b}, err
		}, cols)}
	set.Flags().BoolVar(&prepaid, "prepaid", false, "prepaid: calls stop when the balance reaches zero")
	set.Flags().BoolVar(&postpaid, "postpaid", false, "postpaid: the balance may go down to -credit-limit")
	set.Flags().StringVar(&currency, "currency", "", "ISO 4217 currency (default: the tenant's)")
	set.Flags().StringVar(&creditLimit, "credit-limit", "", "postpaid credit limit (decimal)")
	set.Flags().StringVar(&offlineCap, "offline-cap", "", "what a node may let the account spend while central is away (decimal; default 0)")
	show := &cobra.Command{Use: "show", Short: "Show an account and its balance", Args: cobra.NoArgs,
		RunE: f.runExact(func(*cobra.Command, []string) (apiclient.Request, error) {
			p, err := path()
			return apiclient.Request{Method: http.MethodGet, Path: p}, err
		}, cols)}
	var key, note string
	credit := func(kind, use, short string) *cobra.Command {
		c := &cobra.Command{Use: use, Short: short, Args: cobra.ExactArgs(1),
			RunE: func(cmd *cobra.Command, a []string) error {
				p, err := path()
				if err != nil {
					return err
				}
				k := key
				if k == "" {
					k = newIdempotencyKey()
				}
				var raw []byte
				req := apiclient.Request{Method: http.MethodPost, Path: p + "/" + kind, Body: map[string]any{"amount": a[0], "note": note},
					Header: http.Header{"Idempotency-Key": {k}}}
				if err := f.call(req, &raw); err != nil {
					return err
				}
				v, err := decodeExact(raw)
				if err != nil {
					return err
				}
				out, _ := v.(map[string]any)
				if f.output == "json" {
					return printResult(cmd.OutOrStdout(), "json", out, nil)
				}
				acct, _ := out["account"].(map[string]any)
				fmt.Fprintf(cmd.OutOrStdout(), "%s %s %s %s: balance %s %s (idempotency key %s)\n", strings.TrimSuffix(kind, "s"), a[0], cell(acct["currency"]),
					cell(acct["name"]), cell(acct["balance"]), cell(acct["currency"]), k)
				return nil
			}}
		c.Flags().StringVar(&key, "idempotency-key", "", "key making a retry safe: the same key is applied once (default: a new random key)")
		c.Flags().StringVar(&note, "note", "", "note kept in the journal")
		return c
	}
	topup := credit("topups", "topup AMOUNT", "Add money to an account (e.g. 10 or 10.50)")
	adjust := credit("adjustments", "adjust AMOUNT", "Correct a balance by a signed amount (e.g. -1.20)")
	list := &cobra.Command{Use: "list", Short: "List accounts", Args: cobra.NoArgs,
		RunE: f.runExact(func(cmd *cobra.Command, _ []string) (apiclient.Request, error) {
			t, err := tenant()
			return apiclient.Request{Method: http.MethodGet, Path: "/tenants/" + seg(t) + "/accounts", Query: listQuery(cmd)}, err
		}, []string{"name", "kind", "currency", "balance", "credit_limit"})}
	addPaging(list)
	journal := &cobra.Command{Use: "journal", Short: "List an account's journal (top-ups, adjustments, calls, re-rates)", Args: cobra.NoArgs,
		RunE: f.runExact(func(cmd *cobra.Command, _ []string) (apiclient.Request, error) {
			p, err := path()
			return apiclient.Request{Method: http.MethodGet, Path: p + "/journal", Query: listQuery(cmd)}, err
		}, []string{"id", "effective_at", "kind", "ref", "amount", "currency", "note"})}
	addPaging(journal)
	var from, to, format, outFile string
	statement := &cobra.Command{Use: "statement", Short: "An account's statement for --from/--to as csv, html or json", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			p, err := path()
			if err != nil {
				return err
			}
			var out []byte
			if err := f.call(apiclient.Request{Method: http.MethodGet, Path: p + "/statement", Query: url.Values{"from": {from}, "to": {to}, "format": {format}}}, &out); err != nil {
				return err
			}
			if outFile != "" {
				return os.WriteFile(outFile, out, 0o644)
			}
			_, err = cmd.OutOrStdout().Write(out)
			return err
		}}
	statement.Flags().StringVar(&from, "from", "", "period start (RFC 3339)")
	statement.Flags().StringVar(&to, "to", "", "period end, exclusive (RFC 3339)")
	statement.Flags().StringVar(&format, "format", "csv", "csv, html or json")
	statement.Flags().StringVar(&outFile, "out", "", "write to this file instead of stdout")
	cmd.AddCommand(set, show, topup, adjust, list, journal, statement)
	return cmd
}

var billingSettingFields = []fieldFlag{
	{"currency", "currency", "ISO 4217 currency of new decks and accounts", "string"},
	{"timezone", "timezone", "IANA time zone of bands and of dates without offset", "string"},
	{"country-code", "country_code", "the tenant's country code (33, 1, 44...)", "string"},
	{"national-prefix", "national_prefix", "national (trunk) prefix, replaced by the country code (0)", "string"},
	{"intl-prefix", "international_prefix", "international prefix (00, 011)", "string"},
	{"access-code", "access_code", "outside-line code stripped first (9)", "string"},
}

func newBillingCmd() *cobra.Command {
	var f apiFlags
	cmd := &cobra.Command{Use: "billing", Short: "A tenant's billing settings: currency, time zone, dialling rules (E.164 normalisation)"}
	f.register(cmd)
	tenant := tenantFlag(cmd)
	base := func() (string, error) {
		t, err := tenant()
		return "/tenants/" + seg(t) + "/billing", err
	}
	get := &cobra.Command{Use: "get", Short: "Show the settings", Args: cobra.NoArgs,
		RunE: f.runExact(func(*cobra.Command, []string) (apiclient.Request, error) {
			p, err := base()
			return apiclient.Request{Method: http.MethodGet, Path: p}, err
		}, nil)}
	set := &cobra.Command{Use: "set", Short: "Change settings (flags not given keep their value)", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			p, err := base()
			if err != nil {
				return err
			}
			cur := map[string]any{}
			if err := f.call(apiclient.Request{Method: http.MethodGet, Path: p}, &cur); err != nil {
				return err
			}
			delete(cur, "updated_at")
			for k, v := range body(cmd, billingSettingFields) {
				cur[k] = v
			}
			var raw []byte
			if err := f.call(apiclient.Request{Method: http.MethodPut, Path: p, Body: cur}, &raw); err != nil {
				return err
			}
			out, err := decodeExact(raw)
			if err != nil {
				return err
			}
			return printResult(cmd.OutOrStdout(), f.output, out, nil)
		}}
	addFields(set, billingSettingFields)
	cmd.AddCommand(get, set)
	return cmd
}
