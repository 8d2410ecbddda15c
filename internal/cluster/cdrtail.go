package cluster

import (
	"sync"

	"github.com/entvoice/entvoice/internal/cdr"
)

// maxTail bounds the CDRs a link keeps in memory for shipping; past it the
// oldest are left to be read back from the store.
const maxTail = 4 * shipWindow * shipBatch

// cdrTail holds the CDRs the node's writer committed (cdrstore.Writer.OnCommit)
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

func newCDRTail() *cdrTail { return &cdrTail{} }

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
