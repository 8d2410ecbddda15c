package media

import (
	"errors"
	"log/slog"
	"runtime"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// ErrPacerClosed is returned when scheduling on a closed Pacer.
var ErrPacerClosed = errors.New("media: pacer closed")

const (
	wheelSlots = 128 // 1 ms slots: a 128 ms horizon; later deadlines wait in place
	wheelMask  = wheelSlots - 1
	slotNs     = int64(time.Millisecond)
	// maxNapNs bounds one sleep while tasks exist, so tasks added by other
	// goroutines are picked up within a millisecond (the sleeping thread
	// cannot be woken early).
	maxNapNs = slotNs
	// startDelay is how far in the future a new task's first deadline is
	// put, so the pacer has absorbed it before it is due.
	startDelay = 2 * time.Millisecond
	// fifoPriority is the SCHED_FIFO priority tried for the pacer thread.
	fifoPriority = 10
)

// pacerTask is driven by the Pacer thread. tick runs at (or just after) its
// deadline and returns the next absolute deadline in monotonic nanoseconds;
// again=false ends the task. detached is called exactly once, on the pacer
// thread, when the task will never be ticked again (it finished, or the pacer
// closed). Both must be quick and never block: they run on the shared thread.
type pacerTask interface {
	tick(now int64) (next int64, again bool)
	detached()
}

type paceEntry struct {
	deadline int64
	task     pacerTask
}

// Pacer clocks every outgoing paced stream of the process from ONE goroutine
// locked to its OS thread. Deadlines are absolute CLOCK_MONOTONIC times kept
// in a wheel of 1 ms slots, and the thread sleeps with
// clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME) until the next one, so sleep
// error never accumulates: each stream computes its n-th deadline as
// start + n*20ms. This follows docs/design-notes.md ("Where the time
// goes": Go timers cannot pace RTP to sub-millisecond accuracy). SCHED_FIFO is attempted on that thread and
// silently skipped when not permitted.
type Pacer struct {
	logger *slog.Logger

	mu      sync.Mutex
	pending []paceEntry
	closed  bool

	wake chan struct{} // cap 1: new work while idle
	quit chan struct{}
	done chan struct{}

	// Owned by the loop goroutine.
	wheel    [wheelSlots][]paceEntry
	due      []paceEntry
	count    int
	lastTick int64
}

// NewPacer starts the pacing goroutine. Close stops it.
func NewPacer(logger *slog.Logger) *Pacer {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	p := &Pacer{
		logger: logger,
		wake:   make(chan struct{}, 1),
		quit:   make(chan struct{}),
		done:   make(chan struct{}),
	}
	started := make(chan struct{})
	go p.loop(started)
	<-started
	return p
}

// Close stops the pacer. Tasks still scheduled are detached (their Play
// calls return). Close waits for the goroutine to exit and is idempotent.
func (p *Pacer) Close() {
	p.mu.Lock()
	if !p.closed {
		p.closed = true
		close(p.quit)
	}
	p.mu.Unlock()
	<-p.done
}

// monotonicNow returns CLOCK_MONOTONIC in nanoseconds, the clock
// clock_nanosleep sleeps on.
func monotonicNow() int64 {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
		// CLOCK_MONOTONIC cannot fail on Linux; keep a sane fallback.
		return time.Now().UnixNano()
	}
	return ts.Nano()
}

// schedule adds task with its first deadline at first (monotonic ns).
func (p *Pacer) schedule(first int64, t pacerTask) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return ErrPacerClosed
	}
	p.pending = append(p.pending, paceEntry{deadline: first, task: t})
	select {
	case p.wake <- struct{}{}:
	default:
	}
	return nil
}

func (p *Pacer) loop(started chan<- struct{}) {
	// Never unlocked: when this goroutine exits its thread exits with it,
	// so the real-time priority never leaks to other goroutines.
	runtime.LockOSThread()
	defer close(p.done)
	attr := unix.SchedAttr{Policy: unix.SCHED_FIFO, Priority: fifoPriority}
	if err := unix.SchedSetAttr(0, &attr, 0); err != nil {
		p.logger.Debug("pacer: SCHED_FIFO not available", "err", err)
	} else {
		p.logger.Debug("pacer: running SCHED_FIFO", "priority", fifoPriority)
	}
	close(started)
	p.lastTick = monotonicNow() / slotNs
	var batch []paceEntry
	for {
		batch = p.absorb(batch[:0])
		if p.stopping() {
			p.detachAll()
			return
		}
		now := monotonicNow()
		p.fire(now)
		if p.count == 0 {
			select {
			case <-p.wake:
			case <-p.quit:
			}
			p.lastTick = monotonicNow() / slotNs
			continue
		}
		next, ok := p.nextDeadline(now)
		if !ok || next > now+maxNapNs {
			next = now + maxNapNs
		}
		next = next / slotNs * slotNs // wake at the start of the slot
		if next <= now {
			continue
		}
		ts := unix.NsecToTimespec(next)
		// EINTR just means we look at the wheel early.
		_ = unix.ClockNanosleep(unix.CLOCK_MONOTONIC, unix.TIMER_ABSTIME, &ts, nil)
	}
}

func (p *Pacer) stopping() bool {
	select {
	case <-p.quit:
		return true
	default:
		return false
	}
}

// absorb moves tasks added by other goroutines into the wheel.
func (p *Pacer) absorb(buf []paceEntry) []paceEntry {
	p.mu.Lock()
	buf = append(buf, p.pending...)
	clear(p.pending)
	p.pending = p.pending[:0]
	p.mu.Unlock()
	for _, e := range buf {
		p.insert(e)
	}
	clear(buf)
	return buf
}

// insert files e under its deadline's slot; a deadline already in the past
// goes into the current slot so it fires on the next pass.
func (p *Pacer) insert(e paceEntry) {
	t := e.deadline / slotNs
	if t < p.lastTick {
		t = p.lastTick
	}
	i := t & wheelMask
	p.wheel[i] = append(p.wheel[i], e)
	p.count++
}

// fire runs every task whose deadline falls in a slot that has begun,
// visiting the slots from the last visited tick up to now's tick.
func (p *Pacer) fire(now int64) {
	cur := now / slotNs
	from := p.lastTick
	if cur-from >= wheelSlots {
		from = cur - wheelSlots + 1
	}
	for t := from; t <= cur; t++ {
		i := t & wheelMask
		slot := p.wheel[i]
		if len(slot) == 0 {
			continue
		}
		// Keep not-yet-due entries in place; due ones are ticked and
		// re-inserted under their next deadline.
		keep := slot[:0]
		due := p.due[:0]
		for _, e := range slot {
			// A whole slot fires at its start: every stream's period is a
			// whole number of slots, so each keeps the same phase within
			// its slot and its gaps stay exact, while the thread wakes at
			// most once per slot rather than once per deadline.
			if e.deadline/slotNs <= cur {
				due = append(due, e)
			} else {
				keep = append(keep, e)
			}
		}
		clear(slot[len(keep):])
		p.wheel[i] = keep
		p.count -= len(due)
		p.lastTick = t
		for _, e := range due {
			next, again := e.task.tick(now)
			if !again {
				e.task.detached()
				continue
			}
			e.deadline = next
			p.insert(e)
		}
		clear(due)
		p.due = due[:0]
	}
	p.lastTick = cur
}

// nextDeadline finds the earliest deadline, scanning the wheel forward from
// now's slot. Entries more than a wheel turn ahead are considered too.
func (p *Pacer) nextDeadline(now int64) (int64, bool) {
	cur := now / slotNs
	best, found := int64(0), false
	for k := int64(0); k < wheelSlots; k++ {
		t := cur + k
		inSlot := false
		for _, e := range p.wheel[t&wheelMask] {
			if !found || e.deadline < best {
				best, found = e.deadline, true
			}
			if e.deadline/slotNs <= t {
				inSlot = true
			}
		}
		if inSlot {
			return best, true
		}
	}
	return best, found
}

func (p *Pacer) detachAll() {
	for i := range p.wheel {
		for _, e := range p.wheel[i] {
			e.task.detached()
		}
		p.wheel[i] = nil
	}
	p.count = 0
	p.mu.Lock()
	pend := p.pending
	p.pending = nil
	p.mu.Unlock()
	for _, e := range pend {
		e.task.detached()
	}
}

// MonotonicNow is CLOCK_MONOTONIC in nanoseconds: the clock of the Pacer's
// deadlines (ScheduleFunc).
func MonotonicNow() int64 { return monotonicNow() }

// funcTask adapts ScheduleFunc's functions to pacerTask.
type funcTask struct {
	tickFn   func(now int64) (int64, bool)
	detachFn func()
}

func (f *funcTask) tick(now int64) (int64, bool) { return f.tickFn(now) }

func (f *funcTask) detached() {
	if f.detachFn != nil {
		f.detachFn()
	}
}

// ScheduleFunc runs tick on the pacing thread at the absolute deadline
// first (MonotonicNow nanoseconds) and then at every deadline tick
// returns, until it returns again=false or the pacer closes; detached (may
// be nil) is then called once, on the pacing thread. Deadlines fire at the
// start of their 1 ms slot, so periods should be whole milliseconds. Both
// functions share the thread with every paced stream of the process: they
// must be quick and never block. Mixers and broadcasters use it to run a
// 20 ms cycle with the same timing as Play.
func (p *Pacer) ScheduleFunc(first int64, tick func(now int64) (next int64, again bool), detached func()) error {
	return p.schedule(first, &funcTask{tickFn: tick, detachFn: detached})
}
