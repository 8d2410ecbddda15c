package agi

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/entvoice/entvoice/internal/events"
	"github.com/entvoice/entvoice/internal/pbx"
	"github.com/entvoice/entvoice/internal/speech"
)

// Reply texts of res_agi.c agi_handle_command.
const (
	msgInvalid    = "510 Invalid or unknown command\n"
	msgDead       = "511 Command Not Permitted on a dead channel or intercept routine\n"
	msgNoUsage    = "520 Invalid command syntax.  Proper usage not available.\n"
	msgUsageStart = "520-Invalid command syntax.  Proper usage follows:\n"
	msgUsageEnd   = "520 End of proper usage.\n"
)

// Protocol errors that end a session with AGISTATUS=FAILURE.
var (
	errLineTooLong = fmt.Errorf("command line longer than %d bytes", MaxLine)
	errPartialLine = errors.New("peer closed the connection in the middle of a command line")
	errGarbage     = errors.New("binary data on the command stream")
)

// session is one AGI run on a channel (run_agi).
type session struct {
	a        *AGI
	e        *pbx.Exec
	log      *slog.Logger
	t        *transport
	enhanced bool

	buf      []byte // reply being built
	writeErr error

	// softHangup is set by the HANGUP command: the channel is hung up
	// from the dialplan's point of view, but the BYE goes out only when
	// the script has finished, as in Asterisk (ast_softhangup, then the
	// channel is destroyed after AGI() returns).
	softHangup chan struct{}
	softHung   bool
	dead       bool

	// Dialplan position changes requested by SET CONTEXT/EXTENSION/PRIORITY.
	moved       bool
	newPriority int // 0: the step after the AGI() priority

	eagi     chan []int16 // EAGI audio frames to write to fd 3
	eagiStop chan struct{}
	eagiEnd  chan struct{}

	autoHangup *time.Timer // SET AUTOHANGUP

	speech *speech.Recognizer // SPEECH CREATE's object (agi->speech)

	lr          *lineReader
	cmdStart    time.Time // when the running command started
	peerChecked bool      // the running command's peer check is done
}

// errPeerGone is a script that closed while its command was running: it
// never gets the reply, and the session fails.
var errPeerGone = errors.New("the script closed the connection while its command ran")

// longCommand is how long a command must have run before its reply is
// preceded by a check that the script is still there.
const longCommand = 20 * time.Millisecond

// run is agi_exec_full + run_agi.
func (a *AGI) run(e *pbx.Exec, log *slog.Logger, args []string, enhanced, dead bool) Result {
	// The connect is bounded by the connect timeout, not by the call: AGI
	// in the h extension runs on a channel that is already hung up.
	if hasPrefixFold(args[0], "agi:async") {
		if enhanced {
			// launch_asyncagi refuses EAGI.
			log.Warn("Async AGI does not support Enhanced AGI yet")
			return Failure
		}
		return a.runAsync(e, log, args)
	}
	t, err := a.launch(context.WithoutCancel(e.Ctx), log, args, enhanced, e.Ch.Tenant())
	if err != nil {
		if errors.Is(err, errNotFound) {
			log.Warn("AGI script not found", "script", args[0], "err", err)
			return NotFound
		}
		log.Warn("AGI failed to start", "script", args[0], "err", err)
		return Failure
	}
	if !a.track(t) {
		log.Warn("AGI refused: the node is shutting down", "script", args[0])
		_ = t.close(0)
		return Failure
	}
	defer a.untrack(t)
	s := &session{a: a, e: e, log: log, t: t, enhanced: enhanced, dead: dead, softHangup: make(chan struct{})}
	res := s.loop(args)
	if t.aborted.Load() {
		log.Warn("AGI session ended by the node's shutdown", "script", args[0])
		res = Failure
	}
	return s.finish(res)
}

// finish applies what the commands asked for once the session is over:
// the hangup of HANGUP, the dialplan position of SET CONTEXT/EXTENSION/
// PRIORITY.
func (s *session) finish(res Result) Result {
	e, log := s.e, s.log
	if s.softHung && !e.Ch.IsHungUp() {
		// The script hung the channel up: now that it is done, the BYE,
		// with the cause EXEC Hangup(cause) recorded, else 16.
		e.Ch.Hangup(0)
	}
	if s.moved && res != Hangup {
		c, x, p := e.Ch.Location()
		if s.newPriority > 0 {
			p = s.newPriority
		} else {
			p++
		}
		if err := e.Goto(c, x, strconv.Itoa(p)); err != nil {
			log.Warn("AGI: cannot continue at the position set by the script", "err", err)
		}
	}
	return res
}

// lineReader reads the script's command lines in the session goroutine.
// A read may be interrupted by a deadline (the caller hung up, the idle
// timeout): the part of a line read so far is kept for the next call.
type lineReader struct {
	br      *bufio.Reader
	partial []byte
}

// next returns one line with its "\n". A read error between lines (EOF,
// or a reset from a peer that closed with our HANGUP line unread) is
// io.EOF: the script ended normally, as fgets returning nothing does in
// run_agi. A peer that goes away in the middle of a line is
// errPartialLine. A deadline returns os.ErrDeadlineExceeded.
func (lr *lineReader) next() ([]byte, error) {
	for {
		frag, err := lr.br.ReadSlice('\n')
		if err == nil {
			if lr.partial == nil {
				return frag, nil
			}
			line := append(lr.partial, frag...)
			lr.partial = nil
			if len(line) > MaxLine {
				return nil, errLineTooLong
			}
			return line, nil
		}
		lr.partial = append(lr.partial, frag...)
		if len(lr.partial) > MaxLine {
			return nil, errLineTooLong
		}
		switch {
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case errors.Is(err, os.ErrDeadlineExceeded):
			return nil, err
		case len(lr.partial) > 0:
			return nil, errPartialLine
		default:
			return nil, io.EOF
		}
	}
}

// clean strips the line end and checks for binary data: control
// characters other than tab (and a carriage return before the newline,
// which clients on other systems send) are not AGI.
func clean(line []byte) ([]byte, error) {
	line = bytes.TrimSuffix(line, []byte{'\n'})
	line = bytes.TrimSuffix(line, []byte{'\r'})
	for _, c := range line {
		if (c < 0x20 && c != '\t') || c == 0x7f {
			return nil, errGarbage
		}
	}
	return line, nil
}

func (s *session) loop(args []string) Result {
	e, t := s.e, s.t
	s.write(s.a.envBlock(e, t, args, s.enhanced))
	sighup := true
	if v, ok := e.Ch.GetVar("AGISIGHUP"); ok && isFalse(v) {
		sighup = false
	}
	exitOnHangup := false
	if v, ok := e.Ch.GetVar("AGIEXITONHANGUP"); ok && isTrue(v) {
		exitOnHangup = true
	}
	if s.enhanced {
		s.startEAGI()
	}
	defer s.destroySpeech()

	lr := &lineReader{br: bufio.NewReaderSize(t.r, 4096)}
	s.lr = lr
	// A hangup interrupts a read that waits for the script.
	stopWatch := context.AfterFunc(e.Ctx, func() { _ = t.setReadDeadline(time.Unix(1, 0)) })
	defer stopWatch()
	idle := s.a.opts.IdleTimeout
	status := Success
	needHup := false
loop:
	for !s.ending() {
		if needHup {
			needHup = false
			s.dead = true
			if sighup {
				if t.fast {
					s.write([]byte("HANGUP\n"))
				} else {
					t.sighup()
				}
			}
			if exitOnHangup {
				break
			}
		}
		// The deadline is set before the hangup check, so a hangup after
		// the check always interrupts the read below.
		var deadline time.Time
		if idle > 0 {
			deadline = time.Now().Add(idle)
		}
		_ = t.setReadDeadline(deadline)
		if !s.dead && (e.Ch.IsHungUp() || s.softHung) {
			needHup = true
			if status == Success {
				status = Hangup
			}
			continue
		}
		raw, err := lr.next()
		if err != nil {
			switch {
			case errors.Is(err, os.ErrDeadlineExceeded):
				if !s.dead && e.Ch.IsHungUp() {
					continue
				}
				if idle > 0 && !time.Now().Before(deadline) {
					s.log.Warn("AGI script idle too long, ending the session", "script", args[0], "idle_timeout", idle)
					status = Failure
					break loop
				}
				continue
			case errors.Is(err, io.EOF):
				// The script closed: "AGI Script completed".
				break loop
			}
			s.log.Warn("AGI session ends: bad input from the script", "script", args[0], "err", err)
			status = Failure
			break loop
		}
		line, err := clean(raw)
		if err != nil {
			s.log.Warn("AGI session ends: bad input from the script", "script", args[0], "err", err)
			status = Failure
			break loop
		}
		if len(line) >= 7 && strings.EqualFold(string(line[:7]), "failure") {
			// A local script that could not be executed.
			status = Failure
			break loop
		}
		if s.safeHandle(string(line)) == resultFailure {
			if s.dead || !e.Ch.IsHungUp() {
				status = Failure
			}
		}
		if s.enhanced {
			s.restoreEAGISink()
		}
	}
	switch {
	case s.ending() && status == Success:
		s.log.Warn("AGI session ends", "script", args[0], "err", s.writeErr)
		status = Failure
	case s.writeErr != nil:
		// ast_agi_send's errors do not end run_agi: the read that follows
		// sees the script gone.
		s.log.Debug("AGI: cannot write to the script", "script", args[0], "err", s.writeErr)
	}
	if sighup {
		if t.fast {
			s.write([]byte("HANGUP\n"))
		} else {
			t.sighup()
		}
	}
	s.stopEAGI()
	if s.autoHangup != nil && (s.softHung || e.Ch.IsHungUp()) {
		s.autoHangup.Stop()
	}
	exitErr := t.close(2 * time.Second)
	if exitErr != nil && status == Success && !t.fast {
		// A script exiting non-zero makes AGISTATUS FAILURE.
		s.log.Warn("AGI script failed", "script", args[0], "err", exitErr)
		status = Failure
	}
	return status
}

// isTrue and isFalse are Asterisk's ast_true and ast_false.
func isTrue(v string) bool {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "yes", "true", "y", "t", "1", "on":
		return true
	}
	return false
}

func isFalse(v string) bool {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "no", "false", "n", "f", "0", "off":
		return true
	}
	return false
}

// write sends bytes to the script; after the first error nothing more is
// written (the session then ends at its next read).
func (s *session) write(b []byte) {
	if s.writeErr != nil {
		return
	}
	if !s.peerChecked && s.lr != nil && time.Since(s.cmdStart) >= longCommand {
		s.peerChecked = true
		if s.peerGone() {
			s.writeErr = errPeerGone
			return
		}
	}
	if s.t.conn != nil {
		// A peer that stops reading must not hold the channel forever.
		_ = s.t.conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
	}
	_, s.writeErr = s.t.w.Write(b)
}

// peerGone reports whether the script closed its end while a long
// command ran (a pending EOF, without waiting). Data it sent ahead stays
// buffered for the next read.
func (s *session) peerGone() bool {
	if s.lr.partial != nil || s.lr.br.Buffered() > 0 {
		return false
	}
	// A deadline already past fails the read before it is tried: give
	// the pending EOF a moment to be read.
	_ = s.t.setReadDeadline(time.Now().Add(2 * time.Millisecond))
	_, err := s.lr.br.Peek(1)
	_ = s.t.setReadDeadline(time.Time{})
	return err != nil && !errors.Is(err, os.ErrDeadlineExceeded)
}

// reply sends "200 result=<res>[ rest]\n".
func (s *session) reply(res string, rest ...string) {
	b := append(s.buf[:0], "200 result="...)
	b = append(b, res...)
	for _, r := range rest {
		b = append(b, ' ')
		b = append(b, r...)
	}
	b = append(b, '\n')
	s.buf = b
	s.write(b)
}

func (s *session) replyInt(n int, rest ...string) { s.reply(strconv.Itoa(n), rest...) }

// cmdResult is what a handler returns (res_agi.c RESULT_*).
type cmdResult int

const (
	resultSuccess cmdResult = iota
	resultShowUsage
	resultFailure
	// resultAsyncBreak is ASYNCAGI BREAK (res_agi.c ASYNC_AGI_BREAK):
	// AsyncAGI ends; AGI and FastAGI sessions go on.
	resultAsyncBreak
)

// ending reports whether the session must end (with FAILURE).
func (s *session) ending() bool {
	return errors.Is(s.writeErr, errPeerGone) || errors.Is(s.writeErr, errPanic)
}

// errPanic ends a session whose command panicked.
var errPanic = errors.New("AGI command panicked")

// safeHandle runs a command; a panic in it (or in an application EXEC
// ran) is logged and ends the session with FAILURE instead of taking the
// node down, as net/http does for a handler.
func (s *session) safeHandle(line string) (res cmdResult) {
	defer func() {
		if r := recover(); r != nil {
			s.log.Error("AGI command panicked", "command", line, "panic", r, "stack", string(debug.Stack()))
			s.writeErr = errPanic
			res = resultFailure
		}
	}()
	return s.handle(line)
}

// handle runs one command line (agi_handle_command).
func (s *session) handle(line string) cmdResult {
	s.cmdStart, s.peerChecked = time.Now(), false
	argv := ParseArgs(line)
	c := findCommand(argv)
	bus := s.e.PBX.Channels().Bus()
	publish := bus != nil && bus.HasSubscribers()
	var id string
	if publish {
		id = strconv.FormatInt(int64(rand.Int32()), 10)
		// The body in res_agi.c's JSON blob order: CommandId, Command.
		s.e.Ch.Publish(events.Event{Kind: events.AGIExecStart, AGI: &events.AGI{CommandID: id, Command: line}})
	}
	end := func(code int, result string) {
		if publish {
			s.e.Ch.Publish(events.Event{Kind: events.AGIExecEnd,
				AGI: &events.AGI{CommandID: id, Command: line, ResultCode: strconv.Itoa(code), Result: result}})
		}
	}
	if c == nil {
		s.write([]byte(msgInvalid))
		end(510, "Invalid or unknown command")
		return resultSuccess
	}
	if s.dead && !c.dead {
		s.write([]byte(msgDead))
		end(511, "Command Not Permitted on a dead channel or intercept routine")
		return resultSuccess
	}
	res := c.handler(s, argv)
	switch res {
	case resultShowUsage:
		end(520, "Usage")
		if c.usage == "" {
			s.write([]byte(msgNoUsage))
		} else {
			s.write([]byte(msgUsageStart + c.usage + "\n" + msgUsageEnd))
		}
		return resultSuccess
	case resultFailure:
		end(-1, "Failure")
	default:
		end(200, "Success")
	}
	return res
}
