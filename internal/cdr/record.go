// Package cdr stores and exports call detail records with Asterisk 22's
// fields and semantics: a group-committing Writer with a durable fallback
// spool, cursor-paginated queries and a byte-exact Master.csv writer.
package cdr

import (
	"strings"
	"time"
	"unicode/utf8"
)

// Dispositions, as printed by ast_cdr_disp2str (main/cdr.c).
const (
	DispositionAnswered   = "ANSWERED"
	DispositionNoAnswer   = "NO ANSWER"
	DispositionBusy       = "BUSY"
	DispositionFailed     = "FAILED"
	DispositionCongestion = "CONGESTION"
)

// AMA flags, as printed by ast_channel_amaflags2string (main/channel.c).
// Asterisk's default for a channel is DOCUMENTATION.
const (
	AMAOmit          = "OMIT"
	AMABilling       = "BILLING"
	AMADocumentation = "DOCUMENTATION"
)

// Record is one CDR with every field of Asterisk 22's struct ast_cdr
// (main/cdr.c ast_cdr_format_var), plus the platform's Tenant and Node.
// A zero Answer or End means unset (Asterisk's ast_tvzero), stored as
// NULL and written to CSV as an empty field.
type Record struct {
	AccountCode string    `json:"accountcode"`
	Src         string    `json:"src"`
	Dst         string    `json:"dst"`
	DContext    string    `json:"dcontext"`
	CLID        string    `json:"clid"`
	Channel     string    `json:"channel"`
	DstChannel  string    `json:"dstchannel"`
	LastApp     string    `json:"lastapp"`
	LastData    string    `json:"lastdata"`
	Start       time.Time `json:"start"`
	Answer      time.Time `json:"answer"`
	End         time.Time `json:"end"`
	// Duration and BillSec are whole seconds; see Durations.
	Duration    int64  `json:"duration"`
	BillSec     int64  `json:"billsec"`
	Disposition string `json:"disposition"`
	AMAFlags    string `json:"amaflags"`
	UserField   string `json:"userfield"`
	UniqueID    string `json:"uniqueid"`
	LinkedID    string `json:"linkedid"`
	PeerAccount string `json:"peeraccount"`
	Sequence    int64  `json:"sequence"`
	Tenant      string `json:"tenant"`
	Node        string `json:"node"`
}

// Row is a stored Record with its monotonic id (the pagination cursor).
type Row struct {
	ID int64 `json:"id"`
	Record
}

// DispositionFromDialStatus maps a Dial() DIALSTATUS to a CDR disposition
// as main/cdr.c dial_status_to_disposition does with cdr.conf's default
// congestion=no: ANSWER→ANSWERED, BUSY→BUSY, NOANSWER and CANCEL→NO ANSWER,
// CONGESTION, CHANUNAVAIL and anything else→FAILED. The comparison is
// case-sensitive, as Asterisk's strcmp.
func DispositionFromDialStatus(s string) string {
	return DispositionFromDialStatusCongestion(s, false)
}

// DispositionFromDialStatusCongestion is DispositionFromDialStatus with
// cdr.conf's congestion option: when true, CONGESTION maps to CONGESTION.
func DispositionFromDialStatusCongestion(s string, congestion bool) string {
	switch s {
	case "ANSWER":
		return DispositionAnswered
	case "BUSY":
		return DispositionBusy
	case "CANCEL", "NOANSWER":
		return DispositionNoAnswer
	case "CONGESTION":
		if congestion {
			return DispositionCongestion
		}
		return DispositionFailed
	default:
		return DispositionFailed
	}
}

// Durations computes duration and billsec exactly as Asterisk 22 does in
// main/cdr.c (cdr_object_get_duration, cdr_object_get_billsec):
// the difference is first taken in milliseconds with ast_tvdiff_ms, which
// floors the microsecond part, then divided by 1000 with C integer division
// (truncation), so 2.999 s gives 2. billsec is 0 when answer is unset.
// With cdr.conf's initiatedseconds=yes, billsec is rounded up when the
// remainder is at least 500 ms (duration never is).
func Durations(start, answer, end time.Time, initiatedSeconds bool) (duration, billsec int64) {
	duration = tvdiffMS(end, start) / 1000
	if answer.IsZero() {
		return duration, 0
	}
	ms := tvdiffMS(end, answer)
	if initiatedSeconds && ms%1000 >= 500 {
		return duration, ms/1000 + 1
	}
	return duration, ms / 1000
}

// tvdiffMS is include/asterisk/time.h ast_tvdiff_ms on timevals (seconds
// and microseconds): (Δsec)*1000 + (1000000 + Δusec)/1000 - 1000.
func tvdiffMS(end, start time.Time) int64 {
	secDif := (end.Unix() - start.Unix()) * 1000
	usecDif := (1000000+int64(end.Nanosecond()/1000)-int64(start.Nanosecond()/1000))/1000 - 1000
	return secDif + usecDif
}

// Normalize fills Asterisk's defaults and makes strings storable on every
// engine: a string ends at its first NUL byte (a C string would), invalid
// UTF-8 is replaced (PostgreSQL rejects it), times are UTC microseconds.
func (r *Record) Normalize() {
	for _, p := range []*string{&r.AccountCode, &r.Src, &r.Dst, &r.DContext, &r.CLID, &r.Channel,
		&r.DstChannel, &r.LastApp, &r.LastData, &r.Disposition, &r.AMAFlags, &r.UserField,
		&r.UniqueID, &r.LinkedID, &r.PeerAccount, &r.Tenant, &r.Node} {
		*p = cleanString(*p)
	}
	if r.Disposition == "" {
		// ast_cdr_disp2str(AST_CDR_NULL) prints "NO ANSWER".
		r.Disposition = DispositionNoAnswer
	}
	if r.AMAFlags == "" {
		r.AMAFlags = AMADocumentation
	}
	r.Start = utcMicro(r.Start)
	r.Answer = utcMicro(r.Answer)
	r.End = utcMicro(r.End)
}

func cleanString(s string) string {
	if i := strings.IndexByte(s, 0); i >= 0 {
		s = s[:i]
	}
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	return s
}

func utcMicro(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return t.UTC().Truncate(time.Microsecond)
}
