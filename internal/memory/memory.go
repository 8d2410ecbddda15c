// Package memory sets the Go runtime's memory policy for an entVoice
// process and hands the heap back to the operating system after a burst.
//
// The garbage collector runs when the heap has grown by GCPercent since
// the last collection (GOGC). A PBX's live heap is small (tens of MB), so
// at the default of 100 it collects many times a second under load, and
// that work was the largest runtime cost per call after scheduling. A
// higher percentage collects less often for a larger heap under load; the
// Trimmer takes that heap back once the load is over, and a soft Limit
// (GOMEMLIMIT) bounds it whatever the percentage.
//
// After a burst the runtime keeps the pages it grew into: it returns them
// only as its background scavenger finds them free, and they are found
// free only by a collection, which an idle process does not run (the
// forced one comes every two minutes). Thirty seconds after 8,000 calls
// the process still had its peak RSS. The Trimmer notices that the
// process has gone quiet and then runs debug.FreeOSMemory a few times
// (a collection and a full scavenge), while the SIP transactions the
// burst left behind time out (64*T1 = 32 s, RFC 3261 section 17).
package memory

import (
	"context"
	"log/slog"
	"runtime/debug"
	"runtime/metrics"
	"time"
)

// Policy is the runtime memory policy. Zero fields leave the runtime's
// setting (including GOGC and GOMEMLIMIT from the environment) alone.
type Policy struct {
	// GCPercent is GOGC: how far the heap grows past the live heap before
	// a collection.
	GCPercent int
	// Limit is GOMEMLIMIT, in bytes: a soft limit on the memory the Go
	// runtime maps, which makes it collect harder as it nears.
	Limit int64
}

// Apply sets p on the runtime and returns a func that restores the
// previous settings (tests run several processes in one binary).
func Apply(p Policy) (restore func()) {
	prevGC, prevLimit := -2, int64(-1)
	if p.GCPercent != 0 {
		prevGC = debug.SetGCPercent(p.GCPercent)
	}
	if p.Limit > 0 {
		prevLimit = debug.SetMemoryLimit(p.Limit)
	}
	return func() {
		if prevGC != -2 {
			debug.SetGCPercent(prevGC)
		}
		if prevLimit >= 0 {
			debug.SetMemoryLimit(prevLimit)
		}
	}
}

// TrimOptions tune a Trimmer. Zero values take the defaults.
type TrimOptions struct {
	// Every is how often the Trimmer looks at the allocation rate
	// (default 5 s).
	Every time.Duration
	// QuietRate is the allocation rate, in bytes a second, under which
	// the process counts as quiet (default 2 MB/s: a call allocates about
	// 40 KB, so under 50 calls a second).
	QuietRate uint64
	// Rounds is how many times a quiet process is trimmed after a busy
	// period, one per Every (default 8: 40 s, past the 32 s that SIP
	// transactions outlive their call).
	Rounds int
	// Free returns memory to the OS (default debug.FreeOSMemory).
	Free func()
}

// Trimmer returns the heap to the operating system after a burst.
type Trimmer struct {
	o   TrimOptions
	log *slog.Logger
}

// NewTrimmer returns a Trimmer; Run runs it.
func NewTrimmer(log *slog.Logger, o TrimOptions) *Trimmer {
	if o.Every <= 0 {
		o.Every = 5 * time.Second
	}
	if o.QuietRate == 0 {
		o.QuietRate = 2 << 20
	}
	if o.Rounds <= 0 {
		o.Rounds = 8
	}
	if o.Free == nil {
		o.Free = debug.FreeOSMemory
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Trimmer{o: o, log: log}
}

// Run trims until ctx ends.
func (t *Trimmer) Run(ctx context.Context) {
	tick := time.NewTicker(t.o.Every)
	defer tick.Stop()
	samples := []metrics.Sample{{Name: "/gc/heap/allocs:bytes"}}
	metrics.Read(samples)
	last, lastAt := samples[0].Value.Uint64(), time.Now()
	state := newTrimState(t.o.Rounds)
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		metrics.Read(samples)
		now := time.Now()
		allocs := samples[0].Value.Uint64()
		rate := float64(allocs-last) / now.Sub(lastAt).Seconds()
		last, lastAt = allocs, now
		if state.next(rate < float64(t.o.QuietRate)) {
			start := time.Now()
			t.o.Free()
			t.log.Debug("memory: heap returned to the OS", "took", time.Since(start))
		}
	}
}

// trimState decides, one observation at a time, when to trim: in each of
// the first rounds quiet observations after a busy one.
type trimState struct {
	rounds int
	left   int
}

func newTrimState(rounds int) *trimState { return &trimState{rounds: rounds} }

// next takes whether the last interval was quiet and reports whether to
// trim now.
func (s *trimState) next(quiet bool) bool {
	if !quiet {
		s.left = s.rounds
		return false
	}
	if s.left == 0 {
		return false
	}
	s.left--
	return true
}
