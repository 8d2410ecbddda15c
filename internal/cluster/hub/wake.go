package hub

import "sync"

// wakeSet tells its subscribers that something changed: each has a
// channel of capacity one, so wake-ups coalesce and wake never blocks.
// The zero value is ready to use.
type wakeSet struct {
	mu   sync.Mutex
	subs map[chan struct{}]struct{}
}

// add subscribes; stop unsubscribes.
func (w *wakeSet) add() (ch chan struct{}, stop func()) {
	ch = make(chan struct{}, 1)
	w.mu.Lock()
	if w.subs == nil {
		w.subs = map[chan struct{}]struct{}{}
	}
	w.subs[ch] = struct{}{}
	w.mu.Unlock()
	return ch, func() {
		w.mu.Lock()
		delete(w.subs, ch)
		w.mu.Unlock()
	}
}

// wake signals every subscriber.
func (w *wakeSet) wake() {
	w.mu.Lock()
	defer w.mu.Unlock()
	for ch := range w.subs {
		poke(ch)
	}
}

// poke signals ch unless a signal is already pending.
func poke(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}
