package cdr

import (
	"bufio"
	"fmt"
	"io"
	"iter"
	"strconv"
	"strings"
	"time"
)

// CSVOptions selects how Master.csv dates are printed.
type CSVOptions struct {
	// UseGMT prints times in UTC (cdr.conf [csv] usegmtime=yes).
	UseGMT bool
	// Location is used when UseGMT is false; nil means time.Local, as
	// Asterisk prints in the server's local zone.
	Location *time.Location
}

func (o CSVOptions) loc() *time.Location {
	if o.UseGMT {
		return time.UTC
	}
	if o.Location != nil {
		return o.Location
	}
	return time.Local
}

// csvDateLayout is cdr_csv.c's DATE_FORMAT "%Y-%m-%d %T".
const csvDateLayout = "2006-01-02 15:04:05"

// AppendMasterCSV appends r as one Master.csv line, byte for byte as
// Asterisk 22's cdr/cdr_csv.c build_csv_record writes it with
// loguniqueid=yes, loguserfield=yes and newcdrcolumns=yes:
//
//	accountcode, src, dst, dcontext, clid, channel, dstchannel, lastapp,
//	lastdata, start, answer, end, duration, billsec, disposition, amaflags,
//	uniqueid, userfield, peeraccount, linkedid, sequence
//
// append_string always double-quotes and doubles an embedded '"';
// append_int prints "%d" unquoted; append_date writes an unset time
// (ast_tvzero) as an empty, unquoted field and otherwise the quoted
// "%Y-%m-%d %T" in local time or GMT; the trailing comma is replaced by
// "\n". Asterisk builds the line in a 1024-byte buffer and drops records
// that do not fit; entVoice writes them whole instead.
func AppendMasterCSV(dst []byte, r Record, opts CSVOptions) []byte {
	// Bytes are written as given (Asterisk does not re-encode), except that
	// a string ends at a NUL as a C string does; an empty disposition or AMA
	// flag prints as Asterisk's default (see normalize).
	if r.Disposition == "" {
		r.Disposition = DispositionNoAnswer
	}
	if r.AMAFlags == "" {
		r.AMAFlags = AMADocumentation
	}
	loc := opts.loc()
	for _, s := range []string{r.AccountCode, r.Src, r.Dst, r.DContext, r.CLID, r.Channel, r.DstChannel, r.LastApp, r.LastData} {
		dst = appendCSVString(dst, s)
	}
	for _, t := range []time.Time{r.Start, r.Answer, r.End} {
		if t.IsZero() {
			dst = append(dst, ',')
			continue
		}
		dst = append(dst, '"')
		dst = t.In(loc).AppendFormat(dst, csvDateLayout)
		dst = append(dst, '"', ',')
	}
	dst = strconv.AppendInt(dst, r.Duration, 10)
	dst = append(dst, ',')
	dst = strconv.AppendInt(dst, r.BillSec, 10)
	dst = append(dst, ',')
	for _, s := range []string{r.Disposition, r.AMAFlags, r.UniqueID, r.UserField, r.PeerAccount, r.LinkedID} {
		dst = appendCSVString(dst, s)
	}
	dst = strconv.AppendInt(dst, r.Sequence, 10)
	return append(dst, '\n')
}

// appendCSVString is cdr_csv.c append_string: quote, double '"', comma.
func appendCSVString(dst []byte, s string) []byte {
	if i := strings.IndexByte(s, 0); i >= 0 {
		s = s[:i]
	}
	dst = append(dst, '"')
	for {
		i := strings.IndexByte(s, '"')
		if i < 0 {
			break
		}
		dst = append(dst, s[:i+1]...)
		dst = append(dst, '"')
		s = s[i+1:]
	}
	dst = append(dst, s...)
	return append(dst, '"', ',')
}

// WriteMasterCSV writes recs as Master.csv lines (no header, as Asterisk).
func WriteMasterCSV(w io.Writer, recs []Record, opts CSVOptions) error {
	return WriteMasterCSVSeq(w, func(yield func(Record) bool) {
		for _, r := range recs {
			if !yield(r) {
				return
			}
		}
	}, opts)
}

// WriteMasterCSVSeq writes the records of seq as Master.csv lines.
func WriteMasterCSVSeq(w io.Writer, seq iter.Seq[Record], opts CSVOptions) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	var line []byte
	var err error
	seq(func(r Record) bool {
		line = AppendMasterCSV(line[:0], r, opts)
		_, err = bw.Write(line)
		return err == nil
	})
	if err != nil {
		return fmt.Errorf("cdr: write csv: %w", err)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("cdr: write csv: %w", err)
	}
	return nil
}
