// Package memory sets the Go runtime's memory policy for an entVoice
// process and hands the heap back to the operating system after a burst.
//
// The garbage collector runs when the heap has grown by GCPercent since
// the last collection (GOGC). A PBX's live heap is small (tens of MB), so
// at the default of 100 it collects many times a second under load, and
// that work was the largest runtime cost per call after scheduling. The
// Tuner lets a small heap grow by at least a fixed headroom (64 MB by
// default) before a collection, while a large one (a node holding 100,000
// registrations) keeps the runtime's proportional policy: RSS stays
// within twice the live heap where that matters, and collections are rare
// where the heap is small. A soft Limit (GOMEMLIMIT) bounds it all.
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
	// a collection (the Tuner's floor).
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

// Tuner raises the GC percentage while the live heap is small, so that the
// heap may always grow by Headroom bytes before a collection: percent =
// max(Floor, 100*Headroom/live), at most Ceiling.
type Tuner struct {
	// Headroom is the growth allowed past the live heap (bytes).
	Headroom int64
	// Floor is the least percentage (GOGC; default 100).
	Floor int
	// Ceiling bounds the percentage (default 1000).
	Ceiling int
	// Every is how often the live heap is looked at (default 500 ms);
	// the percentage changes only after a collection.
	Every time.Duration
	// Set applies a percentage (default debug.SetGCPercent).
	Set func(int) int
}

// percent is the percentage for a live heap of live bytes.
func (t *Tuner) percent(live uint64) int {
	p := t.Floor
	if live > 0 {
		p = max(p, int(min(uint64(t.Headroom)*100/live, uint64(t.Ceiling))))
	}
	return min(p, t.Ceiling)
}

// Run tunes until ctx ends.
func (t *Tuner) Run(ctx context.Context) {
	if t.Floor <= 0 {
		t.Floor = 100
	}
	if t.Ceiling <= 0 {
		t.Ceiling = 1000
	}
	if t.Every <= 0 {
		t.Every = 500 * time.Millisecond
	}
	if t.Set == nil {
		t.Set = debug.SetGCPercent
	}
	samples := []metrics.Sample{{Name: "/gc/cycles/total:gc-cycles"}, {Name: "/gc/heap/live:bytes"}}
	tick := time.NewTicker(t.Every)
	defer tick.Stop()
	var cycles uint64
	current := -1
	for {
		metrics.Read(samples)
		if c := samples[0].Value.Uint64(); c != cycles || current < 0 {
			cycles = c
			if p := t.percent(samples[1].Value.Uint64()); p != current {
				t.Set(p)
				current = p
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
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
