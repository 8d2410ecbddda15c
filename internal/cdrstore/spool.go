package cdrstore

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/entvoice/entvoice/internal/cdr"
)

// The spool is a JSON-lines file of Records that could not be committed.
// Each append is fsynced before Write reports the record stored; a line
// torn by a crash is ended with "\n" before the next append so it cannot
// swallow a good record, and is set aside by ReplaySpool.

// spool appends recs to the spool file and fsyncs it.
func (w *Writer) spool(recs []*cdr.Record) error {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf) // Encode ends each value with "\n"
	for _, r := range recs {
		if err := enc.Encode(r); err != nil {
			return fmt.Errorf("cdr: spool encode: %w", err)
		}
	}
	w.spoolMu.Lock()
	defer w.spoolMu.Unlock()
	path := w.opts.SpoolPath
	_, statErr := os.Stat(path)
	created := errors.Is(statErr, os.ErrNotExist)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o640)
	if err != nil {
		return fmt.Errorf("cdr: open spool: %w", err)
	}
	defer func() { _ = f.Close() }()
	if fi, err := f.Stat(); err == nil && fi.Size() > 0 {
		last := make([]byte, 1)
		if _, err := f.ReadAt(last, fi.Size()-1); err == nil && last[0] != '\n' {
			if _, err := f.Write([]byte{'\n'}); err != nil {
				return fmt.Errorf("cdr: spool: %w", err)
			}
		}
	}
	if _, err := f.Write(buf.Bytes()); err != nil {
		return fmt.Errorf("cdr: spool write: %w", err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("cdr: spool sync: %w", err)
	}
	if created {
		syncDir(filepath.Dir(path))
	}
	return nil
}

// syncDir makes a new file's directory entry durable; best effort.
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		_ = d.Close()
	}
}

// ReplaySpool inserts every spooled record into the database (upsert by
// uniqueid, so replaying twice is harmless) and then truncates the spool.
// Call it at start, before taking traffic; it is safe beside Write. Lines
// that do not parse (a torn append) are moved to the spool path plus
// ".bad" rather than dropped. It returns the number of records inserted.
// On a database error the spool is left intact.
func (w *Writer) ReplaySpool(ctx context.Context) (int, error) {
	path := w.opts.SpoolPath
	if path == "" {
		return 0, nil
	}
	w.spoolMu.Lock()
	defer w.spoolMu.Unlock()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("cdr: open spool: %w", err)
	}
	defer func() { _ = f.Close() }()

	var recs []*cdr.Record
	var bad [][]byte
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64<<10), 16<<20)
	for sc.Scan() {
		line := sc.Bytes()
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		var r cdr.Record
		if err := json.Unmarshal(line, &r); err != nil || r.UniqueID == "" || r.Start.IsZero() {
			bad = append(bad, append([]byte(nil), line...))
			continue
		}
		r.Normalize()
		recs = append(recs, &r)
	}
	if err := sc.Err(); err != nil {
		return 0, fmt.Errorf("cdr: read spool: %w", err)
	}
	for i := 0; i < len(recs); i += w.opts.MaxBatch {
		if err := upsertTx(ctx, w.st, recs[i:min(i+w.opts.MaxBatch, len(recs))]); err != nil {
			return 0, fmt.Errorf("cdr: replay spool: %w", err)
		}
	}
	if len(bad) > 0 {
		if err := appendLines(path+".bad", bad); err != nil {
			return 0, err
		}
		w.log.Warn("cdr: unparsable spool lines set aside", "lines", len(bad), "file", path+".bad")
	}
	if err := f.Truncate(0); err != nil {
		return 0, fmt.Errorf("cdr: truncate spool: %w", err)
	}
	if err := f.Sync(); err != nil {
		return 0, fmt.Errorf("cdr: sync spool: %w", err)
	}
	if len(recs) > 0 {
		w.log.Info("cdr: spool replayed", "records", len(recs))
	}
	return len(recs), nil
}

func appendLines(path string, lines [][]byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o640)
	if err != nil {
		return fmt.Errorf("cdr: open %s: %w", path, err)
	}
	defer func() { _ = f.Close() }()
	bw := bufio.NewWriter(f)
	for _, l := range lines {
		_, _ = bw.Write(l)
		_ = bw.WriteByte('\n')
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("cdr: write %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("cdr: sync %s: %w", path, err)
	}
	return nil
}
