package cdrstore

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/entvoice/entvoice/internal/cdr"
	"github.com/entvoice/entvoice/internal/store"
)

// SpoolFile is the fallback spool's name inside the store's DataDir.
const SpoolFile = "cdr-spool.jsonl"

var (
	// ErrClosed is returned by Write after Close.
	ErrClosed = errors.New("cdr: writer closed")
	// ErrSpooled marks a Write whose database transaction failed but whose
	// record was appended and fsynced to the spool: it is not lost and
	// ReplaySpool will insert it. The database error is wrapped as well.
	ErrSpooled = errors.New("cdr: database write failed, record spooled")
	// ErrInvalid marks a record Write refuses (no uniqueid or start time).
	ErrInvalid = errors.New("cdr: invalid record")
)

// WriterOptions tunes a Writer. Zero values take the defaults.
type WriterOptions struct {
	// QueueSize bounds the records waiting for the writer goroutine;
	// Write blocks (or fails with its context) when the queue is full.
	// Default 8192.
	QueueSize int
	// MaxBatch bounds the records committed in one transaction. Default 1024.
	MaxBatch int
	// CommitTimeout bounds one batch transaction; on expiry the batch is
	// spooled. Default 30 s.
	CommitTimeout time.Duration
	// Interval is the least time between the starts of two transactions
	// (group commit). A record arriving when the last transaction began
	// longer ago is committed at once, so a quiet node adds no latency;
	// under load the records of one Interval share a transaction. Each
	// transaction costs a begin, a commit and a WAL append of every page
	// it touches in the table and its indexes whatever the number of rows,
	// which made the CDR writer the largest single cost of a call at 200
	// calls a second with one transaction per 20 ms. The wait falls after
	// the call has ended (before its Hangup event), never on the SIP
	// path. Default 100 ms; negative disables (commit whatever is queued
	// as soon as the previous transaction ends).
	Interval time.Duration
	// SpoolPath overrides DataDir/cdr-spool.jsonl. With neither, the spool
	// is disabled and a database failure loses nothing only if the caller
	// acts on Write's error.
	SpoolPath string
	// OnCommit, when set, is handed the rows (with their ids, ascending)
	// of every transaction the writer commits, right after the commit, on
	// the writer's goroutine: it must not block. The distributed tier
	// ships a node's CDRs from there without reading them back.
	OnCommit func([]cdr.Row)
}

// Writer commits CDRs in groups: Write enqueues a record on a bounded
// queue and blocks until the transaction holding it commits; one goroutine
// takes everything queued (up to MaxBatch), upserts it in a single
// transaction and releases every waiter, so many concurrent calls share
// few transactions and the call path never touches the disk itself.
type Writer struct {
	st    *store.Store
	log   *slog.Logger
	opts  WriterOptions
	queue chan *request
	done  chan struct{}

	// mu guards closed and the close of queue against concurrent Writes;
	// Write holds it shared only while enqueueing.
	mu     sync.RWMutex
	closed bool

	spoolMu sync.Mutex // serialises spool appends and ReplaySpool

	records, batches, spooled, failed atomic.Int64

	hook func(batchLen int) // tests only; nil in production
	// stmts is used by the writer goroutine only.
	stmts stmtCache
}

type request struct {
	rec  cdr.Record
	errc chan error // buffered(1): the writer goroutine never blocks on it
}

// NewWriter starts a Writer on st. Call Close to flush and stop it.
func NewWriter(st *store.Store, logger *slog.Logger, opts WriterOptions) *Writer {
	return newWriterHook(st, logger, opts, nil)
}

// newWriterHook is NewWriter with a test hook called with each batch's size
// before it is committed.
func newWriterHook(st *store.Store, logger *slog.Logger, opts WriterOptions, hook func(int)) *Writer {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if opts.QueueSize <= 0 {
		opts.QueueSize = 8192
	}
	if opts.MaxBatch <= 0 {
		opts.MaxBatch = 1024
	}
	if opts.Interval == 0 {
		opts.Interval = 100 * time.Millisecond
	}
	if opts.CommitTimeout <= 0 {
		opts.CommitTimeout = 30 * time.Second
	}
	if opts.SpoolPath == "" && st.DataDir() != "" {
		opts.SpoolPath = filepath.Join(st.DataDir(), SpoolFile)
	}
	w := &Writer{
		st:    st,
		log:   logger,
		opts:  opts,
		queue: make(chan *request, opts.QueueSize),
		done:  make(chan struct{}),
		hook:  hook,
		stmts: stmtCache{},
	}
	go w.run()
	return w
}

// SpoolPath returns the fallback spool file ("" when disabled).
func (w *Writer) SpoolPath() string { return w.opts.SpoolPath }

// Write stores rec and returns once it is durable: committed to the
// database (nil), or, if the database failed, appended to the fsynced
// spool (an error matching ErrSpooled). Any other error means the record
// was not stored and the caller still owns it. If ctx ends while the record
// waits for its transaction, Write returns ctx's error but the record stays
// queued and will be committed or spooled.
//
// Empty Disposition and AMAFlags take Asterisk's defaults (NO ANSWER,
// DOCUMENTATION); times are kept in UTC to the microsecond.
func (w *Writer) Write(ctx context.Context, rec cdr.Record) error {
	rec.Normalize()
	if rec.UniqueID == "" {
		return fmt.Errorf("%w: empty uniqueid", ErrInvalid)
	}
	if rec.Start.IsZero() {
		return fmt.Errorf("%w: unset start time (uniqueid %s)", ErrInvalid, rec.UniqueID)
	}
	req := &request{rec: rec, errc: make(chan error, 1)}
	w.mu.RLock()
	if w.closed {
		w.mu.RUnlock()
		return ErrClosed
	}
	select {
	case w.queue <- req:
		w.mu.RUnlock()
	case <-ctx.Done():
		w.mu.RUnlock()
		return fmt.Errorf("cdr: enqueue: %w", ctx.Err())
	}
	select {
	case err := <-req.errc:
		return err
	case <-ctx.Done():
		return fmt.Errorf("cdr: record %s still queued: %w", rec.UniqueID, ctx.Err())
	}
}

// Close stops accepting records, commits everything already queued and
// stops the writer goroutine. If ctx ends first Close returns its error;
// the goroutine still drains the queue in the background.
func (w *Writer) Close(ctx context.Context) error {
	w.mu.Lock()
	if !w.closed {
		w.closed = true
		close(w.queue)
	}
	w.mu.Unlock()
	select {
	case <-w.done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("cdr: close: %w", ctx.Err())
	}
}

func (w *Writer) run() {
	defer close(w.done)
	defer w.stmts.close()
	batch := make([]*request, 0, w.opts.MaxBatch)
	recs := make([]*cdr.Record, 0, w.opts.MaxBatch)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	var last time.Time // start of the last transaction
	for {
		req, ok := <-w.queue
		if !ok {
			return
		}
		batch, ok = w.gather(append(batch[:0], req), last, timer)
		last = time.Now()
		if w.hook != nil {
			w.hook(len(batch))
		}
		recs = recs[:0]
		for _, r := range batch {
			recs = append(recs, &r.rec)
		}
		err := w.commit(recs)
		for i, r := range batch {
			r.errc <- err
			batch[i] = nil
		}
		if !ok {
			return
		}
	}
}

// gather adds queued requests to batch until Interval has passed since
// last (the start of the previous transaction) or MaxBatch is reached,
// then whatever is queued without waiting. It reports false when the
// queue was closed.
func (w *Writer) gather(batch []*request, last time.Time, timer *time.Timer) ([]*request, bool) {
	var due <-chan time.Time
	if wait := time.Until(last.Add(w.opts.Interval)); w.opts.Interval > 0 && wait > 0 {
		timer.Reset(wait)
		due = timer.C
		defer timer.Stop()
	}
	for len(batch) < w.opts.MaxBatch {
		select {
		case r, ok := <-w.queue:
			if !ok {
				return batch, false
			}
			batch = append(batch, r)
			continue
		default:
		}
		if due == nil {
			return batch, true
		}
		select {
		case r, ok := <-w.queue:
			if !ok {
				return batch, false
			}
			batch = append(batch, r)
		case <-due:
			due = nil
		}
	}
	return batch, true
}

// commit upserts one batch, falling back to the spool.
func (w *Writer) commit(recs []*cdr.Record) error {
	ctx, cancel := context.WithTimeout(context.Background(), w.opts.CommitTimeout)
	defer cancel()
	hook := w.opts.OnCommit
	var ids map[string]int64
	if hook != nil {
		ids = make(map[string]int64, len(recs))
	}
	dbErr := upsertTxCached(ctx, w.st, recs, w.stmts, ids)
	if dbErr == nil {
		w.records.Add(int64(len(recs)))
		w.batches.Add(1)
		if hook != nil {
			hook(committedRows(recs, ids))
		}
		return nil
	}
	if w.opts.SpoolPath == "" {
		w.failed.Add(int64(len(recs)))
		w.log.Error("cdr: database write failed and no spool configured", "records", len(recs), "err", dbErr)
		return dbErr
	}
	if err := w.spool(recs); err != nil {
		w.failed.Add(int64(len(recs)))
		w.log.Error("cdr: database write and spool both failed; records not stored",
			"records", len(recs), "err", dbErr, "spool_err", err)
		return errors.Join(dbErr, err)
	}
	w.spooled.Add(int64(len(recs)))
	w.log.Warn("cdr: database write failed; records spooled", "records", len(recs), "spool", w.opts.SpoolPath, "err", dbErr)
	return fmt.Errorf("%w: %w", ErrSpooled, dbErr)
}

// committedRows pairs the records of a transaction with their ids, once
// each (a uniqueid repeated in the batch was stored once, as its last
// record), in id order.
func committedRows(recs []*cdr.Record, ids map[string]int64) []cdr.Row {
	last := make(map[string]*cdr.Record, len(recs))
	for _, r := range recs {
		last[r.UniqueID] = r
	}
	rows := make([]cdr.Row, 0, len(last))
	for uid, r := range last {
		if id, ok := ids[uid]; ok {
			rows = append(rows, cdr.Row{ID: id, Record: *r})
		}
	}
	slices.SortFunc(rows, func(a, b cdr.Row) int { return cmp.Compare(a.ID, b.ID) })
	return rows
}

// Stats counts the writer's work since NewWriter.
type Stats struct {
	Records int64 // records committed to the database
	Batches int64 // transactions committed
	Spooled int64 // records written to the spool instead
	Failed  int64 // records neither committed nor spooled
}

// Stats returns the counters.
func (w *Writer) Stats() Stats {
	return Stats{
		Records: w.records.Load(), Batches: w.batches.Load(),
		Spooled: w.spooled.Load(), Failed: w.failed.Load(),
	}
}
