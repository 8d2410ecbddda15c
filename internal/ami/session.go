package ami

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/entvoice/entvoice/internal/events"
)

// session is one AMI connection.
type session struct {
	srv        *Server
	wantEvents func() // releases its demand for events (Bus.Want), once
	conn       net.Conn
	remote     netip.AddrPort
	id         uint64
	start      time.Time
	tls        bool

	out      chan []byte
	done     chan struct{} // closed when the session ends
	stopOnce sync.Once

	authed     atomic.Bool
	qmu        sync.Mutex   // orders the login replies before the first event
	sendEvents atomic.Int64 // Class
	// Set at login, before authed; read-only after.
	user   User
	tenant string

	challenge string // reader goroutine only

	// filters are the session's event filters (the Filter action).
	filters atomic.Pointer[filterSet]
	// wait is the WaitEvent in progress, guarded by qmu.
	wait *waitState
}

func newSession(s *Server, c net.Conn, ra netip.AddrPort) *session {
	ss := &session{srv: s, conn: c, remote: ra, id: s.nextID.Add(1), start: time.Now(),
		out: make(chan []byte, s.o.QueueSize), done: make(chan struct{})}
	ss.out <- []byte(Banner)
	return ss
}

func (ss *session) username() string {
	if !ss.authed.Load() {
		return ""
	}
	return ss.user.Name
}

// stop ends the session: the connection is closed, both loops return.
func (ss *session) stop() {
	ss.stopOnce.Do(func() {
		close(ss.done)
		_ = ss.conn.Close()
	})
}

// reply queues a response, waiting for room: responses are never dropped.
func (ss *session) reply(b []byte) {
	select {
	case ss.out <- b:
	case <-ss.done:
	}
}

// deliver queues an event that the session's classes let through, if its
// filters pass it; while a WaitEvent is pending, the event ends the wait
// (even one the filters then drop, as the alert pipe wakes Asterisk's
// session) and is held until the action's response is written.
func (ss *session) deliver(name string, msg []byte) {
	ss.qmu.Lock()
	defer ss.qmu.Unlock()
	w := ss.wait
	if w != nil {
		w.wakeOnce.Do(func() { close(w.wake) })
	}
	if !ss.filters.Load().pass(name, msg) {
		return
	}
	if w != nil {
		w.held = append(w.held, msg)
		return
	}
	ss.pushLocked(msg)
}

// pushLocked queues an event without waiting (qmu held). A full queue
// means the client stopped reading: it is disconnected, so it never slows
// the node or the other sessions.
func (ss *session) pushLocked(b []byte) {
	select {
	case ss.out <- b:
		ss.srv.Delivered.Add(1)
	default:
		select {
		case <-ss.done:
			return
		default:
		}
		ss.srv.Kicked.Add(1)
		ss.srv.log.Warn("AMI client does not read its events, disconnecting", "user", ss.user.Name, "remote", ss.remote, "queue", cap(ss.out))
		ss.stop()
	}
}

func (ss *session) writeLoop() {
	defer ss.srv.wg.Done()
	bw := bufio.NewWriterSize(ss.conn, 32<<10)
	linger := time.NewTimer(time.Hour)
	linger.Stop()
	var lastFlush time.Time
	write := func(b []byte) bool {
		if _, err := bw.Write(b); err != nil {
			ss.writeFailed(err)
			return false
		}
		return true
	}
	for {
		var b []byte
		select {
		case b = <-ss.out:
		case <-ss.done:
			return
		}
		_ = ss.conn.SetWriteDeadline(time.Now().Add(ss.srv.o.WriteTimeout))
		if !write(b) {
			return
		}
		// A response goes out in a write of its own, as Asterisk writes
		// each message: some clients (asterisk-ami-client) swap their
		// parser after the Login response and drop what came in the same
		// read. Events are written at most once per WriteLinger: an event
		// after a quiet spell goes at once, under load the ones that
		// follow are gathered into one write. The system calls, not the
		// formatting, are the cost of fan-out.
		if wait := ss.srv.o.WriteLinger - time.Since(lastFlush); b[0] != 'R' && wait > 0 {
			linger.Reset(wait)
		collect:
			for {
				select {
				case b = <-ss.out:
					if !write(b) {
						linger.Stop()
						return
					}
					if b[0] == 'R' {
						break collect
					}
				case <-linger.C:
					break collect
				case <-ss.done:
					linger.Stop()
					return
				}
			}
			linger.Stop()
		} else if b[0] != 'R' {
			// Quiet before: write what is queued now.
		more:
			for i := 0; i < 256; i++ {
				select {
				case b = <-ss.out:
					if !write(b) {
						return
					}
				default:
					break more
				}
			}
		}
		if err := bw.Flush(); err != nil {
			ss.writeFailed(err)
			return
		}
		lastFlush = time.Now()
	}
}

func (ss *session) writeFailed(err error) {
	select {
	case <-ss.done:
	default:
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			ss.srv.log.Warn("AMI client stopped reading, disconnecting", "user", ss.user.Name, "remote", ss.remote)
		} else {
			ss.srv.log.Debug("AMI write failed", "remote", ss.remote, "err", err)
		}
	}
	ss.stop()
}

// closeAfterWrite waits until what is queued has been written (or a short
// while), then ends the session: Logoff's Goodbye and failed logins must
// reach the client before the close.
func (ss *session) closeAfterWrite() {
	deadline := time.Now().Add(ss.srv.o.WriteTimeout)
	for len(ss.out) > 0 && time.Now().Before(deadline) {
		select {
		case <-ss.done:
			return
		case <-time.After(2 * time.Millisecond):
		}
	}
	// The writer may still hold the last message: give it a moment.
	time.Sleep(5 * time.Millisecond)
	ss.stop()
}

func (ss *session) readLoop() {
	defer ss.srv.wg.Done()
	defer func() {
		ss.srv.forget(ss)
		if !ss.authed.Load() {
			ss.srv.unauth.Add(-1)
		} else {
			ss.srv.removeSession(ss)
			ss.srv.log.Info("manager logged off", "user", ss.user.Name, "remote", ss.remote)
		}
		ss.stop()
	}()
	// authtimeout: the connection must log in within the time.
	_ = ss.conn.SetReadDeadline(ss.start.Add(ss.srv.o.AuthTimeout))
	r := NewReader(ss.conn)
	for {
		m, err := r.ReadMessage()
		if err != nil && !errors.Is(err, ErrLineTooLong) && !errors.Is(err, ErrTooManyHeaders) {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() && !ss.authed.Load() {
				ss.srv.log.Info("client failed to authenticate in time", "remote", ss.remote, "authtimeout", ss.srv.o.AuthTimeout)
			} else if err != io.EOF && !errors.Is(err, net.ErrClosed) {
				ss.srv.log.Debug("AMI read ended", "remote", ss.remote, "err", err)
			}
			return
		}
		if err != nil {
			// Asterisk answers and keeps the connection.
			ss.reply(errorResponse(&m, err.Error()))
			continue
		}
		if !ss.handle(&m) {
			return
		}
	}
}

// handle runs one action; false ends the session (Logoff, failed login).
func (ss *session) handle(m *Message) bool {
	action := m.GetNonEmpty("Action")
	if action == "" {
		ss.reply(errorResponse(m, "Missing action in request"))
		return true
	}
	if ss.srv.closed.Load() {
		ss.reply(errorResponse(m, "Asterisk is shutting down"))
		return true
	}
	// Anything the client sends ends a WaitEvent (the poll on its socket).
	ss.endWait()
	name := strings.ToLower(action)
	if !ss.authed.Load() && name != "login" && name != "logoff" && name != "challenge" {
		ss.reply(errorResponse(m, "Permission denied"))
		return true
	}
	a, ok := ss.srv.actions[name]
	if !ok {
		// manager.c: report_req_bad_format, then the error.
		ss.securityEvent(events.Security{Kind: events.RequestBadFormat, AccountID: ss.user.Name, RequestType: action})
		ss.reply(errorResponse(m, "Invalid/unknown command: "+action+". Use Action: ListCommands to show available commands."))
		return true
	}
	if a.authority != 0 && ss.user.Write&a.authority == 0 {
		ss.reply(errorResponse(m, "Permission denied"))
		ss.securityEvent(events.Security{Kind: events.RequestNotAllowd, AccountID: ss.user.Name, RequestType: action})
		return true
	}
	return a.fn(ss, m)
}
