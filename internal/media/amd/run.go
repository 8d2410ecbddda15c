package amd

import (
	"context"
	"time"

	"github.com/entvoice/entvoice/internal/media"
)

// maxFrame is the longest frame handed to the analyser (60 ms); a packet
// with more audio is analysed in pieces of this size.
const maxFrame = 3 * media.FrameSamples

type rxFrame struct {
	n   int
	pcm [maxFrame]int16
}

// frameQueue holds up to this many frames between the session's reader and
// the analysis loop (a second of 20 ms frames).
const frameQueue = 50

// Run analyses what s receives until there is a verdict, with app_amd.c's
// loop: it waits up to p.MaxWait for each frame and counts a wait without
// audio towards the analysis time (NoFrame), and it gives NOTSURE once
// TotalAnalysisTime of real time has passed, even if frames stall. When ctx
// ends or the session closes (the channel hung up) the result is HANGUP
// with an empty cause and the error is ctx's error or
// media.ErrSessionClosed.
//
// Run owns s's sink while it runs (media.Session.SetSink) and clears it
// before returning. Anything played to the callee meanwhile (amd.conf's
// playback_file) is the caller's to start and stop.
func Run(ctx context.Context, s *media.Session, p Params) (Result, error) {
	frames := make(chan *rxFrame, frameQueue)
	free := make(chan *rxFrame, frameQueue)
	for range frameQueue {
		free <- new(rxFrame)
	}
	s.SetSink(func(pcm []int16) {
		for len(pcm) > 0 {
			var f *rxFrame
			select {
			case f = <-free:
			default:
				return // the loop is not keeping up: drop, never block the reader
			}
			f.n = copy(f.pcm[:], pcm)
			pcm = pcm[f.n:]
			frames <- f // never blocks: there are no more buffers than its room
		}
	})
	defer s.SetSink(nil)

	a := New(p)
	wait := p.MaxWait()
	start := time.Now()
	timer := time.NewTimer(wait)
	defer timer.Stop()
	total := time.Duration(p.TotalAnalysisTime) * time.Millisecond
	for {
		var (
			f   *rxFrame
			res Result
			ok  bool
		)
		select {
		case <-ctx.Done():
			return Result{Status: Hangup}, ctx.Err()
		case <-s.Done():
			return Result{Status: Hangup}, media.ErrSessionClosed
		case f = <-frames:
		case <-timer.C:
		}
		if time.Since(start) > total {
			return a.Expire(), nil
		}
		if f != nil {
			res, ok = a.Frame(f.pcm[:f.n])
			free <- f
		} else {
			res, ok = a.NoFrame(wait)
		}
		if ok {
			return res, nil
		}
		timer.Reset(wait) // Go 1.23+: no stale tick survives Reset
	}
}
