package api

import (
	"bufio"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/entvoice/entvoice/internal/cdr"
	"github.com/entvoice/entvoice/internal/cdrstore"
	"github.com/entvoice/entvoice/internal/provision"
)

type fieldErr struct{ field, msg string }

func fieldErrs(fe []fieldErr) error {
	if len(fe) == 0 {
		return nil
	}
	ve := &provision.ValidationError{}
	for _, f := range fe {
		ve.Errors = append(ve.Errors, provision.FieldError{Field: f.field, Message: f.msg})
	}
	return ve
}

var dispositions = []string{cdr.DispositionAnswered, cdr.DispositionNoAnswer, cdr.DispositionBusy, cdr.DispositionFailed, cdr.DispositionCongestion}

// cdrFilter reads the CDR query parameters; a tenant token is confined to
// its tenant (asking for another is 404).
func (a *API) cdrFilter(r *http.Request, p *principal, allowed ...string) (cdrstore.Filter, error) {
	var f cdrstore.Filter
	if err := checkQuery(r, append([]string{"tenant", "from", "to", "src", "dst", "disposition", "linkedid"}, allowed...)...); err != nil {
		return f, err
	}
	q := r.URL.Query()
	f.Tenant = q.Get("tenant")
	if !p.admin() {
		if f.Tenant != "" && f.Tenant != p.Tenant {
			return f, notFound("tenant %q not found", f.Tenant)
		}
		f.Tenant = p.Tenant
	}
	f.Src, f.Dst, f.LinkedID = q.Get("src"), q.Get("dst"), q.Get("linkedid")
	var fe []fieldErr
	if d := q.Get("disposition"); d != "" {
		ok := false
		for _, v := range dispositions {
			if v == d {
				ok = true
			}
		}
		if !ok {
			fe = append(fe, fieldErr{"disposition", "must be one of ANSWERED, NO ANSWER, BUSY, FAILED, CONGESTION"})
		}
		f.Disposition = d
	}
	for _, tf := range []struct {
		name string
		dst  *time.Time
	}{{"from", &f.From}, {"to", &f.To}} {
		if v := q.Get(tf.name); v != "" {
			t, err := time.Parse(time.RFC3339Nano, v)
			if err != nil {
				fe = append(fe, fieldErr{tf.name, "must be an RFC 3339 time such as 2026-01-31T00:00:00Z"})
			}
			*tf.dst = t
		}
	}
	if !f.From.IsZero() && !f.To.IsZero() && !f.To.After(f.From) {
		fe = append(fe, fieldErr{"to", "must be after from"})
	}
	if len(fe) > 0 {
		// Query parameters are the request's syntax: 400, not 422.
		p := badField(fe[0].field, "%s", fe[0].msg)
		for _, f := range fe[1:] {
			p.Errors = append(p.Errors, provision.FieldError{Field: f.field, Message: f.msg})
		}
		return f, p
	}
	return f, nil
}

func (a *API) listCDRs(w http.ResponseWriter, r *http.Request, p *principal) error {
	f, err := a.cdrFilter(r, p, "limit", "cursor")
	if err != nil {
		return err
	}
	if f.Limit, err = pageLimit(r); err != nil {
		return err
	}
	// A time range pages in (start, id) order, off the (tenant, start, id)
	// index; otherwise pages are in id order.
	f.ByStart = !f.From.IsZero() || !f.To.IsZero()
	if err := parseCDRCursor(r.URL.Query().Get("cursor"), &f); err != nil {
		return err
	}
	rows, next, err := cdrstore.List(r.Context(), a.st, f)
	if err != nil {
		return err
	}
	rated, err := a.withRatings(r, rows)
	if err != nil {
		return err
	}
	out := list[cdrRated]{Items: rated}
	if next != 0 {
		out.NextCursor = strconv.FormatInt(next, 10)
		if f.ByStart {
			out.NextCursor = "t" + strconv.FormatInt(rows[len(rows)-1].Start.UnixMicro(), 10) + "-" + out.NextCursor
		}
	}
	return writeJSON(w, http.StatusOK, out)
}

// exportCDRs streams Master.csv lines (cdr_csv.c's columns, times in UTC
// as usegmtime=yes) of every matching CDR.
func (a *API) exportCDRs(w http.ResponseWriter, r *http.Request, p *principal) error {
	f, err := a.cdrFilter(r, p, "billing")
	if err != nil {
		return err
	}
	withBilling := false
	if v := r.URL.Query().Get("billing"); v != "" {
		if withBilling, err = strconv.ParseBool(v); err != nil {
			return badField("billing", "must be true or false")
		}
	}
	// Fail before the first byte when the database is down.
	if _, _, err := cdrstore.List(r.Context(), a.st, cdrstore.Filter{Tenant: f.Tenant, Limit: 1}); err != nil {
		return err
	}
	f.ByStart = !f.From.IsZero() || !f.To.IsZero()
	if withBilling {
		return a.exportCDRsRated(w, r, f)
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="Master.csv"`)
	bw := bufio.NewWriterSize(w, 64<<10)
	if err := cdrstore.Export(r.Context(), a.st, bw, f, cdr.CSVOptions{UseGMT: true}); err != nil {
		// Headers are out: the truncated body is all that can signal it.
		a.log.Error("api: CDR export cut short", "err", err)
		return nil
	}
	_ = bw.Flush()
	return nil
}

// parseCDRCursor reads a next_cursor: "<id>" for id order,
// "t<start unix µs>-<id>" for (start, id) order.
func parseCDRCursor(v string, f *cdrstore.Filter) error {
	if v == "" {
		return nil
	}
	bad := badField("cursor", "is not a cursor this query returned (cursors of a time range are only valid with from/to)")
	if !f.ByStart {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			return bad
		}
		f.After = n
		return nil
	}
	us, id, ok := strings.Cut(strings.TrimPrefix(v, "t"), "-")
	if !ok || !strings.HasPrefix(v, "t") {
		return bad
	}
	u, err1 := strconv.ParseInt(us, 10, 64)
	n, err2 := strconv.ParseInt(id, 10, 64)
	if err1 != nil || err2 != nil || n < 0 {
		return bad
	}
	f.After, f.AfterStart = n, time.UnixMicro(u).UTC()
	return nil
}
