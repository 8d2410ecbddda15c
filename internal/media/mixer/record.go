package mixer

import (
	"sync"
	"sync/atomic"
)

// FrameWriter receives the recording, 20 ms of 8 kHz linear PCM per call
// (media.WAVWriter is one).
type FrameWriter interface {
	Write(pcm []int16) error
}

// recordQueue is how many frames may wait for the writer (2 s) before
// frames are dropped rather than stalling the mixer.
const recordQueue = 100

// Recording writes a room's mix (every talker and room prompt, through the
// limiter: what a listener who says nothing hears) on a goroutine of its
// own, one frame per tick including silence, so the file keeps the
// conference's timeline. The pacing thread never waits for the disk: when
// the writer falls more than two seconds behind, frames are dropped and
// counted.
type Recording struct {
	room    *Room
	frames  chan [frame]int16
	done    chan struct{}
	once    sync.Once
	err     error
	dropped atomic.Uint64
}

// Record starts recording the room's mix to w until Recording.Stop or the
// room closes. One recording at a time (ErrRecording).
func (r *Room) Record(w FrameWriter) (*Recording, error) {
	rec := &Recording{room: r, frames: make(chan [frame]int16, recordQueue), done: make(chan struct{})}
	r.mu.Lock()
	defer r.mu.Unlock()
	switch {
	case r.closed:
		return nil, ErrRoomClosed
	case r.rec != nil:
		return nil, ErrRecording
	}
	r.rec = rec
	go rec.write(w)
	return rec, nil
}

func (rec *Recording) write(w FrameWriter) {
	defer close(rec.done)
	for f := range rec.frames {
		if rec.err != nil {
			continue // keep draining so the mixer never blocks
		}
		rec.err = w.Write(f[:])
	}
}

// add queues this tick's mix (under Room.mu).
func (rec *Recording) add(sc *scratch) {
	var f [frame]int16
	if sc.active > 0 || sc.playing {
		for i, x := range sc.sum {
			f[i] = limit(x)
		}
	}
	select {
	case rec.frames <- f:
	default:
		rec.dropped.Add(1)
	}
}

// endLocked stops feeding the writer (under Room.mu).
func (rec *Recording) endLocked() { rec.once.Do(func() { close(rec.frames) }) }

// Stop ends the recording, waits until every queued frame is written and
// returns the writer's first error. It does not close the writer. It is
// idempotent.
func (rec *Recording) Stop() error {
	r := rec.room
	r.mu.Lock()
	if r.rec == rec {
		r.rec = nil
	}
	rec.endLocked()
	r.mu.Unlock()
	<-rec.done
	return rec.err
}

// Dropped counts frames lost because the writer was too slow.
func (rec *Recording) Dropped() uint64 { return rec.dropped.Load() }
