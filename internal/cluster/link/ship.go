package link

import (
	"context"
	"sync"
	"time"

	"github.com/entvoice/entvoice/internal/cdr"
	"github.com/entvoice/entvoice/internal/cdrstore"
	"github.com/entvoice/entvoice/internal/cluster/wire"
)

// CDR shipping: the node store's cdr table is the queue, its id the
// sequence (it increases in commit order). The link ships the rows after
// the last one central acked, in batches, up to wire.CDRWindow of them
// unacknowledged; central upserts each by uniqueid and acks it, so a
// batch resent after a lost ack changes nothing. docs/cluster.md, "CDRs,
// exactly once".

// How many CDRs go in one message, and how often the node store is looked
// at for new ones.
const (
	shipBatch = 500
	shipPoll  = 200 * time.Millisecond
)

// shipper is one session's CDR shipping state.
type shipper struct {
	sent     int64 // highest sequence sent in this session (or acked before it)
	inflight int   // batches sent and not yet acked
}

// shipCDRs sends the batches of CDRs after the last one sent while fewer
// than wire.CDRWindow are unacknowledged.
func (s *session) shipCDRs(ctx context.Context) error {
	l := s.l
	if l.o.Store == nil {
		return nil
	}
	for s.ship.inflight < wire.CDRWindow {
		rows := l.unshipped(ctx, max(s.ship.sent, l.acked.Load()))
		if len(rows) == 0 {
			return nil
		}
		batch := make([]wire.ShippedCDR, len(rows))
		for i, r := range rows {
			batch[i] = wire.ShippedCDR{Seq: r.ID, Record: r.Record}
		}
		if err := s.send(&wire.Up{CDRs: batch}); err != nil {
			return err
		}
		s.ship.sent = rows[len(rows)-1].ID
		s.ship.inflight++
	}
	return nil
}

// acked takes central's ack of the CDRs up to seq and ships more.
func (s *session) acked(ctx context.Context, seq int64) error {
	l := s.l
	if seq > l.acked.Load() {
		l.acked.Store(seq)
	}
	s.ship.inflight = max(0, s.ship.inflight-1)
	if seq >= s.ship.sent {
		s.ship.inflight = 0
	}
	return s.shipCDRs(ctx)
}

// unshipped is the next batch of CDRs after seq: from the writer's
// hand-off when it continues there, else read from the store (nil after a
// read error, logged: the next poll tries again).
func (l *Link) unshipped(ctx context.Context, seq int64) []cdr.Row {
	if rows, ok := l.tail.after(seq, shipBatch); ok {
		l.fromTail.Add(int64(len(rows)))
		return rows
	}
	rows, _, err := cdrstore.List(ctx, l.o.Store, cdrstore.Filter{After: seq, Limit: shipBatch})
	if err != nil {
		l.log.Warn("reading CDRs to ship", "err", err)
		return nil
	}
	return rows
}

// cdrHead is the node's highest CDR sequence.
func (l *Link) cdrHead(ctx context.Context) (int64, error) {
	if l.o.Store == nil {
		return 0, nil
	}
	var n int64
	err := l.o.Store.DB().QueryRowContext(ctx, "SELECT COALESCE(MAX(id), 0) FROM cdr").Scan(&n)
	return n, err
}

// ShipCommitted takes the rows the node's CDR writer just committed
// (cdrstore.WriterOptions.OnCommit) and ships them without reading them back from the
// store; it does not block.
func (l *Link) ShipCommitted(rows []cdr.Row) { l.tail.add(rows) }

// maxTail bounds the CDRs a link keeps in memory for shipping; past it the
// oldest are left to be read back from the store.
const maxTail = 4 * wire.CDRWindow * shipBatch

// cdrTail holds the CDRs the node's writer committed (cdrstore.WriterOptions.OnCommit)
// that the link has not shipped yet, so that shipping them needs no read
// back from the store. The store stays the record: whenever the tail does
// not continue exactly where shipping is (after a restart, a reconnect, a
// CDR replayed from the spool, an overflow) the link reads the store, as
// it always did.
//
// Shipping still runs on the link's poll (shipPoll), not on every commit:
// a batch per poll keeps central's intake to a few transactions a second
// (a commit every 20 ms each sent at once cost central more than the read
// back saved).
type cdrTail struct {
	mu   sync.Mutex
	rows []cdr.Row // ascending ids
}

// add appends committed rows (ascending; a row not after the last one, an
// update of an older CDR, is left to the store).
func (t *cdrTail) add(rows []cdr.Row) {
	t.mu.Lock()
	for _, r := range rows {
		if n := len(t.rows); n > 0 && r.ID <= t.rows[n-1].ID {
			continue
		}
		t.rows = append(t.rows, r)
	}
	if over := len(t.rows) - maxTail; over > 0 {
		t.rows = append(t.rows[:0:0], t.rows[over:]...)
	}
	t.mu.Unlock()
}

// after returns up to n rows following seq, when the tail continues
// exactly at seq+1; ok is false when the store must be read instead.
func (t *cdrTail) after(seq int64, n int) (rows []cdr.Row, ok bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	i := 0
	for i < len(t.rows) && t.rows[i].ID <= seq {
		i++
	}
	if i > 0 {
		t.rows = append(t.rows[:0:0], t.rows[i:]...)
	}
	if len(t.rows) == 0 || t.rows[0].ID != seq+1 {
		return nil, false
	}
	k := 1
	for k < len(t.rows) && k < n && t.rows[k].ID == t.rows[k-1].ID+1 {
		k++
	}
	return append([]cdr.Row(nil), t.rows[:k]...), true
}
