// Package queuelog keeps Asterisk's queue_log: the flat file a node
// writes in data_dir/queue_log ("epoch|callid|queue|agent|EVENT|data",
// main/logger.c ast_queue_log) and the same rows in the store's
// queue_log table (time, callid, queuename, agent, event, data1..data5,
// as Asterisk's realtime queue_log), from which the API computes queue
// statistics. Writing never blocks the caller: rows are queued and
// written in order by one goroutine, the store's in batches of one
// transaction.
package queuelog

import (
	"bufio"
	"context"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/entvoice/entvoice/internal/store"
)

// Row is one queue_log row.
type Row struct {
	Time time.Time
	// Tenant owns the queue ("default" for the static configuration's).
	Tenant string
	Queue  string
	CallID string
	Agent  string
	Event  string
	Data   []string
}

// Line is the row as the flat file has it. A hosted tenant's queue is
// named tenant~queue there, as its contexts are on the node.
func (r Row) Line() string {
	q := r.Queue
	if r.Tenant != "" && r.Tenant != "default" && q != "NONE" {
		q = r.Tenant + "~" + q
	}
	return strconv.FormatInt(r.Time.Unix(), 10) + "|" + oneLine(r.CallID) + "|" + oneLine(q) + "|" + oneLine(r.Agent) + "|" +
		oneLine(r.Event) + "|" + oneLine(strings.Join(r.Data, "|"))
}

func oneLine(s string) string {
	if !strings.ContainsAny(s, "\r\n") {
		return s
	}
	return strings.NewReplacer("\r", " ", "\n", " ").Replace(s)
}

// Options configure a Writer.
type Options struct {
	// Path is the flat file ("": none).
	Path string
	// Store receives the rows ("nil": none).
	Store *store.Store
	// Node names the node in the store's rows.
	Node   string
	Logger *slog.Logger
	// Batch bounds the rows of one store transaction (default 500).
	Batch int
}

// Writer writes queue_log rows.
type Writer struct {
	o    Options
	log  *slog.Logger
	file *os.File
	buf  *bufio.Writer

	mu      sync.Mutex
	pending []Row
	queued  uint64 // rows queued since Open
	written uint64 // rows written
	// progress is closed and replaced each time rows are written.
	progress chan struct{}
	wake     chan struct{}
	closed   bool
	done     chan struct{}
}

// Open opens the file (appending, as Asterisk does) and starts the writer;
// "QUEUESTART" is written first, as logger.c does when it opens the file.
func Open(o Options) (*Writer, error) {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Batch <= 0 {
		o.Batch = 500
	}
	w := &Writer{o: o, log: o.Logger.With("component", "queue_log"), wake: make(chan struct{}, 1), done: make(chan struct{}), progress: make(chan struct{})}
	if o.Path != "" {
		f, err := os.OpenFile(o.Path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			return nil, fmt.Errorf("queue_log: %w", err)
		}
		w.file, w.buf = f, bufio.NewWriterSize(f, 64<<10)
	}
	go w.run()
	w.Log(Row{Time: time.Now(), Tenant: "default", Queue: "NONE", CallID: "NONE", Agent: "NONE", Event: "QUEUESTART", Data: []string{""}})
	return w, nil
}

// Log queues a row; it never blocks.
func (w *Writer) Log(r Row) {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		w.log.Warn("queue_log row after close, dropped", "event", r.Event, "queue", r.Queue)
		return
	}
	w.pending = append(w.pending, r)
	w.queued++
	w.mu.Unlock()
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// Flush waits until every row queued so far is written (tests, reports).
func (w *Writer) Flush(ctx context.Context) error {
	w.mu.Lock()
	target := w.queued
	w.mu.Unlock()
	for {
		w.mu.Lock()
		done, ch := w.written >= target, w.progress
		w.mu.Unlock()
		if done {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Close writes what is queued and stops.
func (w *Writer) Close() error {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return nil
	}
	w.closed = true
	w.mu.Unlock()
	close(w.wake)
	<-w.done
	if w.file != nil {
		return w.file.Close()
	}
	return nil
}

func (w *Writer) run() {
	defer close(w.done)
	for {
		_, open := <-w.wake
		for {
			w.mu.Lock()
			batch := w.pending
			w.pending = nil
			w.mu.Unlock()
			if len(batch) == 0 {
				break
			}
			w.write(batch)
			w.mu.Lock()
			w.written += uint64(len(batch))
			close(w.progress)
			w.progress = make(chan struct{})
			w.mu.Unlock()
		}
		if !open {
			return
		}
	}
}

// write puts a batch in the file (flushed, as Asterisk fflushes each
// row) and in the store.
func (w *Writer) write(batch []Row) {
	if w.buf != nil {
		for _, r := range batch {
			w.buf.WriteString(r.Line())
			w.buf.WriteByte('\n')
		}
		if err := w.buf.Flush(); err != nil {
			w.log.Error("queue_log file write failed", "err", err)
		}
	}
	if w.o.Store == nil {
		return
	}
	for len(batch) > 0 {
		n := min(len(batch), w.o.Batch)
		if err := w.insert(batch[:n]); err != nil {
			w.log.Error("queue_log rows not stored", "rows", n, "err", err)
		}
		batch = batch[n:]
	}
}

func (w *Writer) insert(rows []Row) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st := w.o.Store
	tx, err := st.DB().BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback() }()
	stmt, err := tx.PrepareContext(ctx, st.Rebind("INSERT INTO queue_log (tenant, node, time, callid, queuename, agent, event, data1, data2, data3, data4, data5) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"))
	if err != nil {
		return err
	}
	defer func() { _ = stmt.Close() }()
	for _, r := range rows {
		d := DataFields(r.Data)
		tenant := r.Tenant
		if tenant == "" {
			tenant = "default"
		}
		if _, err := stmt.ExecContext(ctx, tenant, w.o.Node, st.TimeArg(r.Time), r.CallID, r.Queue, r.Agent, r.Event, d[0], d[1], d[2], d[3], d[4]); err != nil {
			return err
		}
	}
	return tx.Commit()
}

// DataFields splits a row's data into data1..data5 as Asterisk's adaptive
// realtime queue_log does (the fifth keeps the rest).
func DataFields(data []string) [5]string {
	parts := strings.Split(strings.Join(data, "|"), "|")
	var d [5]string
	for i := range d {
		if i < len(parts) {
			d[i] = parts[i]
		}
	}
	if len(parts) > 5 {
		d[4] = strings.Join(parts[4:], "|")
	}
	return d
}
