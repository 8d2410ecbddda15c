package tariff

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/entvoice/entvoice/internal/billing/money"
)

// Columns of a deck CSV. The first seven are required (the issue's
// contract); the others are optional.
var (
	RequiredColumns = []string{"prefix", "description", "rate_per_min", "connect_fee", "initial_s", "increment_s", "effective_from"}
	OptionalColumns = []string{"min_charge", "band", "effective_to", "currency"}
)

// LineError is one bad field of an import, by CSV line (1 is the header).
type LineError struct {
	Line    int    `json:"line"`
	Field   string `json:"field"`
	Message string `json:"message"`
}

// ImportError lists every bad line of a refused import.
type ImportError struct {
	Errors []LineError
	// More counts the errors beyond the MaxErrors listed.
	More int
}

func (e *ImportError) Error() string {
	if len(e.Errors) == 1 && e.More == 0 {
		f := e.Errors[0]
		return fmt.Sprintf("line %d: %s: %s", f.Line, f.Field, f.Message)
	}
	return fmt.Sprintf("%d bad lines or fields", len(e.Errors)+e.More)
}

// MaxErrors is how many errors an import lists before counting the rest.
const MaxErrors = 1000

// ParseOptions configures ParseCSV.
type ParseOptions struct {
	// Currency is the deck's; a currency column must repeat it.
	Currency money.Currency
	// Location reads dates without an offset and interprets bands
	// (default UTC).
	Location *time.Location
}

type errList struct {
	errs []LineError
	more int
}

func (l *errList) add(line int, field, format string, args ...any) {
	if len(l.errs) >= MaxErrors {
		l.more++
		return
	}
	l.errs = append(l.errs, LineError{Line: line, Field: field, Message: fmt.Sprintf(format, args...)})
}

// ParseCSV reads a deck: a header row naming the columns (any order,
// case-insensitive; RequiredColumns must be there, OptionalColumns may)
// and one rate per line. A UTF-8 byte-order mark, CRLF line ends and
// quoted fields are accepted. It is all or nothing: on any error it
// returns an *ImportError naming every bad line and field (up to
// MaxErrors) and no rates. The rates come back validated (see Validate)
// and sorted for NewIndex.
func ParseCSV(r io.Reader, o ParseOptions) ([]Rate, error) {
	if o.Location == nil {
		o.Location = time.UTC
	}
	if o.Currency.IsZero() {
		return nil, errors.New("tariff: the deck has no currency")
	}
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("tariff: read: %w", err)
	}
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	cr := csv.NewReader(bytes.NewReader(data))
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = true
	var el errList
	header, err := cr.Read()
	if err != nil {
		if errors.Is(err, io.EOF) {
			return nil, &ImportError{Errors: []LineError{{Line: 1, Field: "header", Message: "the file is empty: want a header row " + strings.Join(RequiredColumns, ",")}}}
		}
		return nil, &ImportError{Errors: []LineError{{Line: 1, Field: "header", Message: err.Error()}}}
	}
	col := map[string]int{}
	for i, h := range header {
		name := strings.ToLower(strings.TrimSpace(h))
		if !slices.Contains(RequiredColumns, name) && !slices.Contains(OptionalColumns, name) {
			el.add(1, "header", "unknown column %q (columns: %s, optional %s)", h, strings.Join(RequiredColumns, ","), strings.Join(OptionalColumns, ","))
			continue
		}
		if _, dup := col[name]; dup {
			el.add(1, "header", "column %q appears twice", name)
		}
		col[name] = i
	}
	for _, c := range RequiredColumns {
		if _, ok := col[c]; !ok {
			el.add(1, "header", "missing column %q", c)
		}
	}
	if len(el.errs) > 0 {
		return nil, &ImportError{Errors: el.errs, More: el.more}
	}
	get := func(rec []string, name string) string {
		i, ok := col[name]
		if !ok || i >= len(rec) {
			return ""
		}
		return strings.TrimSpace(rec[i])
	}
	rates := make([]Rate, 0, bytes.Count(data, []byte{'\n'}))
	bands := map[string]Band{}
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		line, _ := cr.FieldPos(0)
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				el.add(pe.StartLine, "csv", "%v", pe.Err)
				if pe.Err == csv.ErrQuote || pe.Err == csv.ErrBareQuote {
					continue
				}
			}
			return nil, &ImportError{Errors: append(el.errs, LineError{Line: line, Field: "csv", Message: err.Error()}), More: el.more}
		}
		if len(rec) == 1 && strings.TrimSpace(rec[0]) == "" {
			continue // blank line
		}
		if len(rec) != len(header) {
			el.add(line, "csv", "%d fields, the header has %d", len(rec), len(header))
			continue
		}
		rt := Rate{Line: line, Description: get(rec, "description")}
		bad := len(el.errs) + el.more
		p := strings.TrimPrefix(get(rec, "prefix"), "+")
		switch {
		case p == "":
			el.add(line, "prefix", "empty")
		case !allDigits(p):
			el.add(line, "prefix", "%q is not a prefix of digits (E.164, country code first)", get(rec, "prefix"))
		case len(p) > MaxDigits:
			el.add(line, "prefix", "%q is longer than %d digits", p, MaxDigits)
		}
		rt.Prefix = p
		if len(rt.Description) > 200 {
			el.add(line, "description", "longer than 200 characters")
		}
		price := func(field string, dst *int64, optional bool) {
			v := get(rec, field)
			if v == "" && optional {
				return
			}
			n, err := money.ParseNanos(v)
			if err != nil {
				el.add(line, field, "%v", err)
				return
			}
			*dst = n
		}
		price("rate_per_min", &rt.PerMinute, false)
		price("connect_fee", &rt.Connect, true)
		price("min_charge", &rt.MinCharge, true)
		block := func(field string, dst *int32, minV int) {
			v := get(rec, field)
			n, err := strconv.Atoi(v)
			if err != nil || n < minV || n > MaxBlockSeconds {
				el.add(line, field, "%q: want whole seconds from %d to %d", v, minV, MaxBlockSeconds)
				return
			}
			*dst = int32(n)
		}
		block("initial_s", &rt.Initial, 0)
		block("increment_s", &rt.Increment, 1)
		if v := get(rec, "effective_from"); v != "" {
			t, err := ParseDate(v, o.Location)
			if err != nil {
				el.add(line, "effective_from", "%v", err)
			}
			rt.From = t
		}
		if v := get(rec, "effective_to"); v != "" {
			t, err := ParseDate(v, o.Location)
			if err != nil {
				el.add(line, "effective_to", "%v", err)
			} else if !t.After(rt.From) {
				el.add(line, "effective_to", "%s is not after effective_from", v)
			}
			rt.To = t
		}
		if v := get(rec, "band"); v != "" {
			b, ok := bands[v]
			if !ok {
				var err error
				if b, err = ParseBand(v); err != nil {
					el.add(line, "band", "%v", err)
				}
				bands[v] = b
			}
			rt.Band = b
		}
		if v := get(rec, "currency"); v != "" {
			c, err := money.ParseCurrency(v)
			switch {
			case err != nil:
				el.add(line, "currency", "%v", err)
			case c != o.Currency:
				el.add(line, "currency", "%s: the deck is in %s", c.Code(), o.Currency.Code())
			}
		}
		if len(el.errs)+el.more == bad {
			rates = append(rates, rt)
		}
	}
	if len(rates) == 0 && len(el.errs) == 0 {
		el.add(2, "csv", "no rates: the file has a header and no rows")
	}
	vl := Validate(rates)
	for _, e := range vl {
		el.add(e.Line, e.Field, "%s", e.Message)
	}
	if len(el.errs) > 0 {
		slices.SortStableFunc(el.errs, func(a, b LineError) int { return a.Line - b.Line })
		return nil, &ImportError{Errors: el.errs, More: el.more}
	}
	return rates, nil
}

// ParseDate reads an effective date: "2026-01-31" (midnight), "2026-01-31
// 08:00", "2026-01-31 08:00:00" or the same with a 'T', in loc; or RFC
// 3339 with an offset ("2026-01-31T08:00:00Z").
func ParseDate(s string, loc *time.Location) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	for _, layout := range []string{"2006-01-02", "2006-01-02 15:04", "2006-01-02 15:04:05", "2006-01-02T15:04", "2006-01-02T15:04:05"} {
		if t, err := time.ParseInLocation(layout, s, loc); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is not a date (want 2026-01-31, 2026-01-31 08:00 or RFC 3339)", s)
}

// Validate checks the rows of one deck version together, sorting them by
// prefix, start and band (the order NewIndex wants), and returns what is
// wrong:
//
//   - two rows of a prefix whose effective periods overlap without being
//     the same period (a row without effective_to ends where the next
//     effective_from of its prefix starts);
//   - two rows of a prefix, period and band (a duplicate);
//   - two bands of a prefix and period that share a minute of the week;
//   - bands of a prefix and period that leave minutes of the week
//     uncovered when no row of that prefix and period is without band.
func Validate(rates []Rate) []LineError {
	slices.SortFunc(rates, func(a, b Rate) int {
		if c := cmpPrefix(a.Prefix, b.Prefix); c != 0 {
			return c
		}
		if c := a.From.Compare(b.From); c != 0 {
			return c
		}
		return strings.Compare(a.Band.text, b.Band.text)
	})
	var out []LineError
	masks := map[string]*weekMask{}
	maskOf := func(b Band) *weekMask {
		m, ok := masks[b.text]
		if !ok {
			m = b.mask()
			masks[b.text] = m
		}
		return m
	}
	for i := 0; i < len(rates); {
		j := i + 1
		for j < len(rates) && rates[j].Prefix == rates[i].Prefix {
			j++
		}
		out = validatePrefix(rates[i:j], maskOf, out)
		i = j
	}
	return out
}

func cmpPrefix(a, b string) int {
	if len(a) != len(b) {
		return len(a) - len(b)
	}
	return strings.Compare(a, b)
}

// periodEnd is a row's end: To, or the next later From of its prefix.
func periodEnd(rows []Rate, i int) time.Time {
	if !rows[i].To.IsZero() {
		return rows[i].To
	}
	for k := i + 1; k < len(rows); k++ {
		if rows[k].From.After(rows[i].From) {
			return rows[k].From
		}
	}
	return time.Time{}
}

func validatePrefix(rows []Rate, maskOf func(Band) *weekMask, out []LineError) []LineError {
	if len(rows) == 1 && rows[0].Band.IsZero() {
		return out
	}
	ends := make([]time.Time, len(rows))
	for i := range rows {
		ends[i] = periodEnd(rows, i)
	}
	date := func(t time.Time) string {
		if t.IsZero() {
			return "the start"
		}
		return t.Format("2006-01-02 15:04 MST")
	}
	// Periods in From order: each must start at or after the furthest end
	// of the periods before it, unless it is the very same period.
	furthest := -1
	for i := range rows {
		if furthest >= 0 {
			f := rows[furthest]
			same := f.From.Equal(rows[i].From) && ends[furthest].Equal(ends[i])
			if !same && (ends[furthest].IsZero() || ends[furthest].After(rows[i].From)) {
				out = append(out, LineError{Line: rows[i].Line, Field: "effective_from",
					Message: fmt.Sprintf("prefix %s: effective range from %s overlaps the range of line %d (from %s)", rows[i].Prefix, date(rows[i].From), f.Line, date(f.From))})
			}
		}
		if furthest < 0 || ends[i].IsZero() || (!ends[furthest].IsZero() && ends[i].After(ends[furthest])) {
			furthest = i
		}
	}
	// Rows of one period: bands.
	for i := 0; i < len(rows); {
		j := i + 1
		for j < len(rows) && rows[j].From.Equal(rows[i].From) && ends[j].Equal(ends[i]) {
			j++
		}
		if j-i > 1 || !rows[i].Band.IsZero() {
			out = validateBands(rows[i:j], maskOf, date(rows[i].From), out)
		}
		i = j
	}
	return out
}

func validateBands(rows []Rate, maskOf func(Band) *weekMask, from string, out []LineError) []LineError {
	var cover weekMask
	hasDefault := false
	seen := map[string]int{}
	for k := range rows {
		r := &rows[k]
		if l, dup := seen[r.Band.text]; dup {
			b := r.Band.text
			if b == "" {
				b = "(none)"
			}
			out = append(out, LineError{Line: r.Line, Field: "prefix",
				Message: fmt.Sprintf("duplicate prefix %s for band %s from %s (line %d)", r.Prefix, b, from, l)})
			continue
		}
		seen[r.Band.text] = r.Line
		if r.Band.IsZero() {
			hasDefault = true
			continue
		}
		m := maskOf(r.Band)
		if at := cover.firstCommon(m); at >= 0 {
			other := 0
			for q := range k {
				if !rows[q].Band.IsZero() && rows[q].Band.ContainsMinute(at) {
					other = rows[q].Line
					break
				}
			}
			out = append(out, LineError{Line: r.Line, Field: "band",
				Message: fmt.Sprintf("prefix %s: band %q overlaps the band of line %d at %s", r.Prefix, r.Band.text, other, formatMinute(at))})
			continue
		}
		cover.or(m)
	}
	if !hasDefault {
		if gap := cover.firstGap(); gap >= 0 {
			out = append(out, LineError{Line: rows[0].Line, Field: "band",
				Message: fmt.Sprintf("prefix %s from %s: the bands leave %s uncovered and no row of the prefix is without band", rows[0].Prefix, from, formatMinute(gap))})
		}
	}
	return out
}
