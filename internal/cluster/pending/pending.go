// Package pending matches replies to requests sent over a stream: a
// request gets an id, the reply naming that id is handed to the one
// waiting for it. Central's commands to a node (internal/cluster/hub) and
// a node's locate questions to central (internal/cluster/link) use it.
package pending

import (
	"context"
	"errors"
	"sync"
)

// ErrGone is a request whose stream ended before the reply came.
var ErrGone = errors.New("the link ended before the reply")

// Table holds the requests waiting for a reply of type T. The zero value
// is ready to use.
type Table[T any] struct {
	mu      sync.Mutex
	last    uint64
	waiting map[uint64]chan T
}

// Request is one request waiting in a Table.
type Request[T any] struct {
	// ID is what the reply names.
	ID    uint64
	t     *Table[T]
	reply chan T
}

// Open registers a request. Its owner calls Close when done with it,
// answered or not.
func (t *Table[T]) Open() *Request[T] {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.waiting == nil {
		t.waiting = map[uint64]chan T{}
	}
	t.last++
	r := &Request[T]{ID: t.last, t: t, reply: make(chan T, 1)}
	t.waiting[r.ID] = r.reply
	return r
}

// Deliver hands a reply to the request with that id; it reports false
// when none waits for it (answered already, given up, or never asked).
func (t *Table[T]) Deliver(id uint64, v T) bool {
	t.mu.Lock()
	ch := t.waiting[id]
	delete(t.waiting, id)
	t.mu.Unlock()
	if ch == nil {
		return false
	}
	ch <- v // buffered, and delivered at most once
	return true
}

// Wait returns the reply, or ctx's error when it ends first (a timeout is
// a context deadline), or ErrGone when gone is closed first (the stream
// the request went out on ended).
func (r *Request[T]) Wait(ctx context.Context, gone <-chan struct{}) (T, error) {
	var zero T
	select {
	case v := <-r.reply:
		return v, nil
	case <-gone:
		return zero, ErrGone
	case <-ctx.Done():
		return zero, ctx.Err()
	}
}

// Close forgets the request: a reply that comes later is dropped.
func (r *Request[T]) Close() {
	r.t.mu.Lock()
	delete(r.t.waiting, r.ID)
	r.t.mu.Unlock()
}
