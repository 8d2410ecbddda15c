package mixer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"

	"github.com/entvoice/entvoice/internal/media"
)

// player is a Source being mixed in, read one frame per tick on the pacing
// thread (under Room.mu).
type player struct {
	src  media.Source
	buf  [frame]int16
	eof  bool
	once sync.Once
	done chan struct{}
	err  error
}

func newPlayer(src media.Source) *player {
	return &player{src: src, done: make(chan struct{})}
}

// read fills buf with the next frame (padded with silence) and reports
// whether there was audio.
func (pl *player) read() bool {
	if pl.eof {
		return false
	}
	n, err := pl.src.ReadFrame(pl.buf[:])
	n = max(0, min(n, frame))
	clear(pl.buf[n:])
	switch {
	case errors.Is(err, io.EOF):
		pl.eof = true
		pl.finish(nil)
	case err != nil:
		pl.eof = true
		pl.finish(fmt.Errorf("mixer: play source: %w", err))
	}
	return n > 0
}

func (pl *player) ended() bool { return pl.eof }

func (pl *player) finish(err error) {
	pl.once.Do(func() {
		pl.err = err
		pl.eof = true
		close(pl.done)
	})
}

// wait blocks until the player finishes or ctx ends; remove takes the
// player out of its list (under the room lock) so that the tick no longer
// reads the source once wait returns.
func (pl *player) wait(ctx context.Context, remove func()) error {
	select {
	case <-pl.done:
		return pl.err
	case <-ctx.Done():
		remove()
		return ctx.Err()
	}
}

func removePlayer(list []*player, pl *player) []*player {
	if i := slices.Index(list, pl); i >= 0 {
		return slices.Delete(list, i, i+1)
	}
	return list
}
