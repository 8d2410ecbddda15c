package billing

import (
	"context"
	"encoding/csv"
	"fmt"
	"html/template"
	"io"
	"slices"
	"strconv"
	"time"

	"github.com/entvoice/entvoice/internal/billing/money"
	"github.com/entvoice/entvoice/internal/store"
)

// MaxStatementCalls bounds the call lines of one statement; a longer
// period must be split.
const MaxStatementCalls = 200_000

// Statement is an account's period [From, To): its opening balance,
// every call charged (a line each, with the amount debited), totals per
// destination group (the rate's description), the other journal entries
// (top-ups, adjustments, re-rates) and the closing balance. Closing =
// Opening + the sum of every line, to the minor unit: lines are journal
// entries by their effective time (a call's is its start).
type Statement struct {
	Tenant    string           `json:"tenant"`
	Account   string           `json:"account"`
	Kind      string           `json:"kind"`
	Currency  money.Currency   `json:"currency"`
	From      time.Time        `json:"from"`
	To        time.Time        `json:"to"`
	Generated time.Time        `json:"generated"`
	Opening   int64            `json:"opening"`
	Closing   int64            `json:"closing"`
	Calls     []StatementCall  `json:"calls"`
	Groups    []StatementGroup `json:"groups"`
	Entries   []Entry          `json:"entries"`
	// CallsTotal is the sum of the call lines (negative: charges);
	// EntriesTotal the sum of the other entries.
	CallsTotal   int64 `json:"calls_total"`
	EntriesTotal int64 `json:"entries_total"`
}

// StatementCall is one charged call.
type StatementCall struct {
	Start       time.Time `json:"start"`
	UniqueID    string    `json:"uniqueid"`
	Src         string    `json:"src"`
	Number      string    `json:"number"`
	Description string    `json:"description"`
	Prefix      string    `json:"prefix"`
	BillSec     int64     `json:"billsec"`
	Billable    int64     `json:"billable"`
	Amount      int64     `json:"amount"`
}

// StatementGroup totals the calls of one destination group.
type StatementGroup struct {
	Description string `json:"description"`
	Calls       int64  `json:"calls"`
	Billable    int64  `json:"billable"`
	Amount      int64  `json:"amount"`
}

// Statement builds an account's statement for [from, to).
func (s *Service) Statement(ctx context.Context, tenant, account string, from, to time.Time) (*Statement, error) {
	if from.IsZero() || to.IsZero() || !to.After(from) {
		return nil, invalid("to", "a statement needs from and to, to after from")
	}
	r := s.Repo
	acct, err := r.GetAccount(ctx, tenant, account)
	if err != nil {
		return nil, err
	}
	st := &Statement{Tenant: tenant, Account: account, Kind: acct.Kind, Currency: acct.Currency, From: from.UTC(), To: to.UTC(), Generated: time.Now().UTC()}
	sum := func(cond string, t time.Time) (int64, error) {
		var v int64
		err := r.db.QueryRowContext(ctx, r.q(`SELECT COALESCE(SUM(amount), 0) FROM billing_journal WHERE account_id = ? AND effective_at `+cond+` ?`),
			acct.ID, r.st.TimeArg(t)).Scan(&v)
		return v, err
	}
	if st.Opening, err = sum("<", from); err != nil {
		return nil, fmt.Errorf("billing: statement: %w", err)
	}
	if st.Closing, err = sum("<", to); err != nil {
		return nil, fmt.Errorf("billing: statement: %w", err)
	}
	// Charged calls: their debit with the rating's and CDR's details.
	rows, err := r.db.QueryContext(ctx, r.q(`SELECT j.effective_at, j.ref, j.amount, COALESCE(c.src, ''), COALESCE(b.number, ''), COALESCE(b.description, ''),
		COALESCE(b.prefix, ''), COALESCE(b.billsec, 0), COALESCE(b.billable, 0)
		FROM billing_journal j LEFT JOIN billing_ratings b ON b.uniqueid = j.ref LEFT JOIN cdr c ON c.uniqueid = j.ref
		WHERE j.account_id = ? AND j.kind = 'call' AND j.effective_at >= ? AND j.effective_at < ? ORDER BY j.effective_at, j.id LIMIT ?`),
		acct.ID, r.st.TimeArg(from), r.st.TimeArg(to), MaxStatementCalls+1)
	if err != nil {
		return nil, fmt.Errorf("billing: statement calls: %w", err)
	}
	groups := map[string]*StatementGroup{}
	for rows.Next() {
		var c StatementCall
		var at store.NullTime
		if err := rows.Scan(&at, &c.UniqueID, &c.Amount, &c.Src, &c.Number, &c.Description, &c.Prefix, &c.BillSec, &c.Billable); err != nil {
			rows.Close()
			return nil, fmt.Errorf("billing: statement calls: %w", err)
		}
		c.Start = at.Time
		st.Calls = append(st.Calls, c)
		st.CallsTotal += c.Amount
		g := groups[c.Description]
		if g == nil {
			g = &StatementGroup{Description: c.Description}
			groups[c.Description] = g
		}
		g.Calls++
		g.Billable += c.Billable
		g.Amount += c.Amount
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("billing: statement calls: %w", err)
	}
	if len(st.Calls) > MaxStatementCalls {
		return nil, invalid("to", "more than %d calls in the period; ask for a shorter one", MaxStatementCalls)
	}
	for _, g := range groups {
		st.Groups = append(st.Groups, *g)
	}
	slices.SortFunc(st.Groups, func(a, b StatementGroup) int {
		if a.Amount != b.Amount {
			if a.Amount < b.Amount {
				return -1
			}
			return 1
		}
		if a.Description < b.Description {
			return -1
		}
		return 1
	})
	erows, err := r.db.QueryContext(ctx, r.q(`SELECT id, kind, ref, amount, note, effective_at, created_at FROM billing_journal
		WHERE account_id = ? AND kind <> 'call' AND effective_at >= ? AND effective_at < ? ORDER BY effective_at, id`),
		acct.ID, r.st.TimeArg(from), r.st.TimeArg(to))
	if err != nil {
		return nil, fmt.Errorf("billing: statement entries: %w", err)
	}
	defer erows.Close()
	for erows.Next() {
		e := Entry{AccountID: acct.ID}
		var eff, created store.NullTime
		if err := erows.Scan(&e.ID, &e.Kind, &e.Ref, &e.Amount, &e.Note, &eff, &created); err != nil {
			return nil, fmt.Errorf("billing: statement entries: %w", err)
		}
		e.EffectiveAt, e.CreatedAt = eff.Time, created.Time
		st.Entries = append(st.Entries, e)
		st.EntriesTotal += e.Amount
	}
	if err := erows.Err(); err != nil {
		return nil, err
	}
	if st.Opening+st.CallsTotal+st.EntriesTotal != st.Closing {
		return nil, fmt.Errorf("billing: statement of %s/%s does not balance (opening %d + calls %d + entries %d != closing %d)",
			tenant, account, st.Opening, st.CallsTotal, st.EntriesTotal, st.Closing)
	}
	return st, nil
}

// StatementCSVHeader is the header of a statement CSV.
var StatementCSVHeader = []string{"record", "time", "uniqueid", "src", "number", "destination", "prefix", "billsec", "billable_s", "amount", "currency", "note"}

// WriteCSV writes the statement as one CSV table: a row per record
// (opening, call, topup/adjustment/rerate, group, closing); amount is
// signed as in the journal (charges negative), in the currency's
// decimals; times are RFC 3339 UTC.
func (st *Statement) WriteCSV(w io.Writer) error {
	cw := csv.NewWriter(w)
	amt := func(v int64) string { return money.FormatAmount(v, st.Currency) }
	cur := st.Currency.Code()
	ts := func(t time.Time) string { return t.UTC().Format(time.RFC3339) }
	recs := [][]string{StatementCSVHeader,
		{"opening", ts(st.From), "", "", "", "", "", "", "", amt(st.Opening), cur, st.Tenant + "/" + st.Account}}
	for _, c := range st.Calls {
		recs = append(recs, []string{"call", ts(c.Start), c.UniqueID, c.Src, c.Number, c.Description, c.Prefix, strconv.FormatInt(c.BillSec, 10),
			strconv.FormatInt(c.Billable, 10), amt(c.Amount), cur, ""})
	}
	for _, e := range st.Entries {
		recs = append(recs, []string{e.Kind, ts(e.EffectiveAt), e.Ref, "", "", "", "", "", "", amt(e.Amount), cur, e.Note})
	}
	for _, g := range st.Groups {
		recs = append(recs, []string{"group", "", "", "", "", g.Description, "", strconv.FormatInt(g.Calls, 10), strconv.FormatInt(g.Billable, 10), amt(g.Amount), cur, ""})
	}
	recs = append(recs, []string{"closing", ts(st.To), "", "", "", "", "", "", "", amt(st.Closing), cur, ""})
	for _, r := range recs {
		for i, f := range r {
			r[i] = csvSafe(f)
		}
	}
	if err := cw.WriteAll(recs); err != nil {
		return fmt.Errorf("billing: statement csv: %w", err)
	}
	return nil
}

// csvSafe defuses spreadsheet formulas in text taken from CDRs.
func csvSafe(s string) string {
	if s != "" && (s[0] == '=' || s[0] == '@' || s[0] == '\t' || s[0] == '\r') {
		return "'" + s
	}
	return s
}

var statementHTML = template.Must(template.New("statement").Funcs(template.FuncMap{
	"amt":  func(v int64, c money.Currency) string { return money.FormatAmount(v, c) },
	"time": func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05") },
	"date": func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04") },
}).Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Statement {{.Tenant}}/{{.Account}}</title>
<style>
body{font-family:sans-serif;margin:2em;color:#111}table{border-collapse:collapse;width:100%;margin:1em 0}
th,td{border-bottom:1px solid #ccc;padding:.25em .5em;text-align:left}td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}
@media print{body{margin:0}h1{font-size:1.2em}}
</style></head><body>
<h1>Statement</h1>
<p>Account <strong>{{.Account}}</strong> ({{.Kind}}) of tenant <strong>{{.Tenant}}</strong>, {{.Currency}}<br>
Period {{date .From}} to {{date .To}} UTC; generated {{time .Generated}} UTC</p>
<table><tr><th>Opening balance</th><td class="n">{{amt .Opening .Currency}}</td></tr>
<tr><th>Calls ({{len .Calls}})</th><td class="n">{{amt .CallsTotal .Currency}}</td></tr>
<tr><th>Top-ups, adjustments, re-rates</th><td class="n">{{amt .EntriesTotal .Currency}}</td></tr>
<tr><th>Closing balance</th><td class="n"><strong>{{amt .Closing .Currency}}</strong></td></tr></table>
<h2>By destination</h2>
<table><tr><th>Destination</th><th class="n">Calls</th><th class="n">Billed seconds</th><th class="n">Amount</th></tr>
{{range .Groups}}<tr><td>{{.Description}}</td><td class="n">{{.Calls}}</td><td class="n">{{.Billable}}</td><td class="n">{{amt .Amount $.Currency}}</td></tr>
{{end}}</table>
{{if .Entries}}<h2>Top-ups and adjustments</h2>
<table><tr><th>Time</th><th>Kind</th><th>Reference</th><th>Note</th><th class="n">Amount</th></tr>
{{range .Entries}}<tr><td>{{time .EffectiveAt}}</td><td>{{.Kind}}</td><td>{{.Ref}}</td><td>{{.Note}}</td><td class="n">{{amt .Amount $.Currency}}</td></tr>
{{end}}</table>{{end}}
<h2>Calls</h2>
<table><tr><th>Start (UTC)</th><th>From</th><th>Number</th><th>Destination</th><th class="n">Seconds</th><th class="n">Billed</th><th class="n">Amount</th></tr>
{{range .Calls}}<tr><td>{{time .Start}}</td><td>{{.Src}}</td><td>{{.Number}}</td><td>{{.Description}}</td><td class="n">{{.BillSec}}</td><td class="n">{{.Billable}}</td><td class="n">{{amt .Amount $.Currency}}</td></tr>
{{end}}</table>
</body></html>
`))

// WriteHTML writes the statement as a printable HTML page (every value
// escaped by html/template).
func (st *Statement) WriteHTML(w io.Writer) error {
	if err := statementHTML.Execute(w, st); err != nil {
		return fmt.Errorf("billing: statement html: %w", err)
	}
	return nil
}
