package agi

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"github.com/entvoice/entvoice/internal/channel"
	"github.com/entvoice/entvoice/internal/control"
	"github.com/entvoice/entvoice/internal/events"
	"github.com/entvoice/entvoice/internal/pbx"
)

// AsyncAGI (res_agi.c launch_asyncagi): AGI(agi:async) publishes the
// environment block in an AsyncAGIStart event and then runs the commands
// that AMI clients queue with the AGI action, each answered by an
// AsyncAGIExec event, until ASYNCAGI BREAK, a failing command or a hangup
// (AsyncAGIEnd). The commands are the same implementations FastAGI and
// local scripts use: their reply lines are captured instead of written to
// a socket.

// asyncReplyMax is launch_asyncagi's buffer: a reply (or the environment
// block) is read in one read of at most AGI_BUF_SIZE bytes.
const asyncReplyMax = 1024

// ErrNotAsync is returned by QueueCommand for a channel that has never run
// AGI(agi:async): add_agi_cmd finds no AsyncAGI datastore on it.
var ErrNotAsync = errors.New("channel is not setup for Async AGI")

// asyncCmd is one queued command (res_agi.c struct agi_cmd).
type asyncCmd struct {
	line, id string
}

// asyncQueue is a channel's AsyncAGI command list, Asterisk's "AGI"
// datastore: made by the first AGI(agi:async) and kept until the channel
// is gone, so that commands queued between two AsyncAGI runs wait for the
// next one (as in Asterisk, which never removes the datastore early).
type asyncQueue struct {
	ch   *channel.Channel
	mu   sync.Mutex
	cmds []asyncCmd
	wake chan struct{} // buffered(1): a command was queued or the service closed
}

func (q *asyncQueue) push(c asyncCmd) {
	q.mu.Lock()
	q.cmds = append(q.cmds, c)
	q.mu.Unlock()
	q.signal()
}

func (q *asyncQueue) signal() {
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

func (q *asyncQueue) pop() (asyncCmd, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.cmds) == 0 {
		return asyncCmd{}, false
	}
	c := q.cmds[0]
	q.cmds[0] = asyncCmd{}
	q.cmds = q.cmds[1:]
	return c, true
}

// asyncQueueFor returns the channel's queue, making it on the first
// AsyncAGI run (add_to_agi). Queues of channels that have hung up since
// are dropped here, so the table holds live channels only without a
// goroutine per channel. It is nil once the service is closed.
func (a *AGI) asyncQueueFor(ch *channel.Channel) *asyncQueue {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closed {
		return nil
	}
	if q, ok := a.async[ch]; ok {
		return q
	}
	if a.async == nil {
		a.async = map[*channel.Channel]*asyncQueue{}
	}
	for c := range a.async {
		if c.IsHungUp() {
			delete(a.async, c)
		}
	}
	q := &asyncQueue{ch: ch, wake: make(chan struct{}, 1)}
	a.async[ch] = q
	return q
}

// QueueCommand adds an AGI command to the queue of a channel in AsyncAGI:
// the AMI AGI action (action_add_agi_cmd). scope is the caller's tenant
// ("" for an admin): a channel of another tenant is reported as missing,
// as the control package does. It returns the channel's name; the error
// wraps control.ErrNoChannel for a channel that does not exist (or is not
// visible), and is ErrNotAsync for one that never entered AsyncAGI.
// accepted, when not nil, runs once the command is accepted and before it
// can run: AMI writes its ack there, so that clients always read the ack
// before the command's AsyncAGIExec (Asterisk acks at once, and its
// channel polls the queue only every 100 ms).
func (a *AGI) QueueCommand(scope, name, command, commandID string, accepted func()) (string, error) {
	a.mu.Lock()
	var q *asyncQueue
	for c, cq := range a.async {
		if c.Name == name {
			q = cq
			break
		}
	}
	a.mu.Unlock()
	var ch *channel.Channel
	if q != nil {
		ch = q.ch
	} else if a.reg != nil {
		ch, _ = a.reg.Get(name)
	}
	if ch == nil || ch.IsHungUp() || (scope != "" && ch.Tenant() != scope) {
		return "", fmt.Errorf("%w: %s", control.ErrNoChannel, name)
	}
	if q == nil {
		return ch.Name, ErrNotAsync
	}
	if accepted != nil {
		accepted()
	}
	q.push(asyncCmd{line: command, id: commandID})
	return ch.Name, nil
}

// capped is what launch_asyncagi's single read of at most AGI_BUF_SIZE
// bytes sees of a reply.
func capped(b []byte) []byte {
	if len(b) > asyncReplyMax {
		return b[:asyncReplyMax]
	}
	return b
}

// runAsync is launch_asyncagi.
func (a *AGI) runAsync(e *pbx.Exec, log *slog.Logger, args []string) Result {
	q := a.asyncQueueFor(e.Ch)
	if q == nil {
		log.Warn("AGI refused: the node is shutting down", "script", args[0])
		return Failure
	}
	var out bytes.Buffer
	t := &transport{w: &out, async: q}
	if !a.track(t) {
		log.Warn("AGI refused: the node is shutting down", "script", args[0])
		return Failure
	}
	defer a.untrack(t)
	s := &session{a: a, e: e, log: log, t: t, softHangup: make(chan struct{})}
	res := s.asyncLoop(q, args, &out)
	if t.aborted.Load() {
		log.Warn("AsyncAGI session ended by the node's shutdown")
		res = Failure
	}
	return s.finish(res)
}

// asyncLoop publishes AsyncAGIStart, runs queued commands and publishes
// AsyncAGIEnd.
func (s *session) asyncLoop(q *asyncQueue, args []string, out *bytes.Buffer) Result {
	e := s.e
	// setup_env(chan, "async", ...): agi_request is "async", the AGI()
	// arguments after agi:async are agi_arg_N.
	envArgs := append([]string{"async"}, args[1:]...)
	env := s.a.envBlock(e, s.t, envArgs, false)
	e.Ch.Publish(events.Event{Kind: events.AsyncAGIStart, AGI: &events.AGI{Env: string(capped(env))}})
	defer e.Ch.Publish(events.Event{Kind: events.AsyncAGIEnd})
	for {
		switch {
		case s.t.aborted.Load():
			return Failure
		case e.Ch.IsHungUp() || s.softHung:
			// async_agi_read_frame: no frame from a hung-up channel.
			return Hangup
		case e.Ctx.Err() != nil:
			// An AMI Redirect (ast_async_goto) soft-hangs the channel up
			// for the goto: AsyncAGI ends as for a hangup and the
			// dialplan goes on at the new position.
			return Hangup
		}
		c, ok := q.pop()
		if !ok {
			select {
			case <-q.wake:
			case <-e.Ctx.Done():
			case <-e.Ch.Done():
			case <-s.softHangup:
			}
			continue
		}
		out.Reset()
		s.writeErr = nil
		res := s.safeHandle(c.line)
		e.Ch.Publish(events.Event{Kind: events.AsyncAGIExec, AGI: &events.AGI{Result: string(capped(out.Bytes())), CommandID: c.id}})
		hungup := e.Ch.IsHungUp() || s.softHung
		switch {
		case errors.Is(s.writeErr, errPanic):
			return Failure
		case res == resultFailure && !hungup:
			// A command that failed for another reason than a hangup
			// ends AsyncAGI with FAILURE (e.g. STREAM FILE of a missing
			// file).
			return Failure
		case res == resultAsyncBreak:
			return Success
		}
	}
}
