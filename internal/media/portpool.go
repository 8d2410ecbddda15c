package media

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// ErrNoPorts is returned by Allocate when every RTP port pair is in use or
// busy in the operating system.
var ErrNoPorts = errors.New("media: no free RTP port pair")

// PoolOptions tune a PortPool's reuse of released pairs. Zero values take
// the defaults.
type PoolOptions struct {
	// Keep is how many released pairs stay bound for the next calls
	// (default 1024; negative: none, every pair is closed on release).
	// Binding and closing two sockets were 7% of a call's CPU at 200 calls
	// a second (socket, bind, epoll registration, close: each a system
	// call, each a chance for the runtime to hand its thread off).
	Keep int
	// Quarantine is how long a released pair rests before it is handed out
	// again (default 2 s), so that the last packets of the call it served
	// do not reach the next one. A pair that received anything while it
	// rested is closed instead of reused: its old peer is still sending.
	Quarantine time.Duration
	// PollSend sends RTP through the RTP port's net.UDPConn. By default
	// it goes through a second socket on the port that Go's poller does
	// not watch (rawsend.go): a third less CPU per packet sent.
	PollSend bool
	// Logger reports a kernel that refuses the second socket (once).
	Logger *slog.Logger
	// MaxIdle closes released pairs nobody took for this long (default
	// 10 s), so a burst does not leave its sockets bound: the pool's
	// range is the node's, but another program may want a port of it.
	MaxIdle time.Duration
}

// PortPool hands out RTP/RTCP UDP socket pairs: RTP on an even port and RTCP
// on the next odd port (RFC 3550 section 11). Fresh ports are tried
// round-robin so a just-released port is not bound again at once; released
// pairs are kept bound and reused oldest first after a quarantine (see
// PoolOptions). It is safe for concurrent use.
type PortPool struct {
	ip       netip.Addr
	min, max int // even RTP ports in [min, max]; RTCP max+1 <= upper bound
	o        PoolOptions

	mu        sync.Mutex
	next      int
	inUse     map[int]struct{} // allocated or resting in idle
	idle      []idlePair       // released pairs, oldest first
	resting   map[int]bool     // ports in idle
	janitor   *time.Timer      // closes pairs past MaxIdle while any rest
	log       *slog.Logger
	warnedRaw atomic.Bool
	closed    bool
}

// Pair is an RTP/RTCP socket pair handed out by a PortPool: RTP on an
// even port, RTCP on the next.
type Pair struct {
	RTP, RTCP *net.UDPConn
	// send sends RTP from the RTP port outside Go's poller (rawsend.go);
	// nil where the kernel refused one: RTP.Write does the job.
	send *rawSender
	port int
}

// close closes the pair's sockets.
func (pr *Pair) close() {
	pr.send.close()
	closePair(pr.RTP, pr.RTCP)
}

// idlePair is a released pair resting before reuse.
type idlePair struct {
	*Pair
	since time.Time
}

// NewPortPool creates a pool of RTP ports in [min, max] on ip. min is rounded
// up to even; the last RTP port is the largest even p with p+1 <= max.
func NewPortPool(ip netip.Addr, min, max int, o PoolOptions) (*PortPool, error) {
	if !ip.IsValid() {
		return nil, errors.New("media: port pool needs a valid IP address")
	}
	if min%2 != 0 {
		min++
	}
	last := max - 1
	if last%2 != 0 {
		last--
	}
	if min < 1 || max > 65535 || last < min {
		return nil, fmt.Errorf("media: invalid RTP port range %d-%d", min, max)
	}
	if o.Keep == 0 {
		o.Keep = 1024
	}
	if o.Quarantine <= 0 {
		o.Quarantine = 2 * time.Second
	}
	if o.MaxIdle <= 0 {
		o.MaxIdle = 10 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return &PortPool{ip: ip, min: min, max: last, o: o, log: o.Logger, next: min, inUse: map[int]struct{}{}, resting: map[int]bool{}}, nil
}

// Size returns the number of RTP port pairs in the pool.
func (p *PortPool) Size() int { return (p.max-p.min)/2 + 1 }

// InUse returns the number of pairs allocated and not released.
func (p *PortPool) InUse() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.inUse) - len(p.idle)
}

// Idle returns the number of released pairs kept bound for reuse.
func (p *PortPool) Idle() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.idle)
}

// IP returns the address the pool binds to.
func (p *PortPool) IP() netip.Addr { return p.ip }

// reserve picks the next free RTP port round-robin and marks it in use.
func (p *PortPool) reserve(skip map[int]bool) (int, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := p.Size()
	for range n {
		port := p.next
		p.next += 2
		if p.next > p.max {
			p.next = p.min
		}
		if _, used := p.inUse[port]; used || skip[port] {
			continue
		}
		p.inUse[port] = struct{}{}
		return port, true
	}
	return 0, false
}

func (p *PortPool) unreserve(port int) {
	p.mu.Lock()
	delete(p.inUse, port)
	p.mu.Unlock()
}

// takeIdle pops the oldest resting pair if it has rested long enough (or
// at all, with force), and closes pairs idle past MaxIdle.
func (p *PortPool) takeIdle(now time.Time, force bool) (idlePair, bool) {
	p.mu.Lock()
	expired := p.expiredLocked(now)
	var pair idlePair
	ok := len(p.idle) > 0 && (force || now.Sub(p.idle[0].since) >= p.o.Quarantine)
	if ok {
		pair = p.idle[0]
		p.idle[0] = idlePair{}
		p.idle = p.idle[1:]
		delete(p.resting, pair.port)
	}
	p.mu.Unlock()
	for _, e := range expired {
		e.close()
	}
	return pair, ok
}

// Allocate returns an RTP/RTCP socket pair: a rested released one when
// there is one, else a freshly bound one. Ports the operating system
// reports busy are skipped; ErrNoPorts is returned when the whole range has
// been tried.
func (p *PortPool) Allocate() (*Pair, error) {
	for {
		pair, ok := p.takeIdle(time.Now(), false)
		if !ok {
			break
		}
		if p.reuse(pair) {
			return pair.Pair, nil
		}
	}
	busy := map[int]bool{}
	for {
		port, ok := p.reserve(busy)
		if !ok {
			// The range is taken: rather a pair still resting than none.
			if pair, ok := p.takeIdle(time.Now(), true); ok {
				if p.reuse(pair) {
					return pair.Pair, nil
				}
				continue
			}
			return nil, ErrNoPorts
		}
		// Bind outside the lock: the port is ours in the pool while we try.
		rtp, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(p.ip, uint16(port))))
		if err != nil {
			p.unreserve(port)
			busy[port] = true
			continue
		}
		rtcp, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(p.ip, uint16(port+1))))
		if err != nil {
			_ = rtp.Close()
			p.unreserve(port)
			busy[port] = true
			continue
		}
		pair := &Pair{RTP: rtp, RTCP: rtcp, port: port}
		if !p.o.PollSend {
			if pair.send, err = newRawSender(rtp); err != nil && !p.warnedRaw.Swap(true) {
				p.log.Info("media: RTP sent through Go's poller: the kernel refused a second socket on the port", "err", err)
			}
		}
		return pair, nil
	}
}

// reuse readies a rested pair for a new call: it must have received
// nothing while it rested (else it is closed and its port freed), and its
// read deadlines are cleared.
func (p *PortPool) reuse(pair idlePair) bool {
	if drain(pair.RTP) || drain(pair.RTCP) {
		pair.close()
		p.unreserve(pair.port)
		return false
	}
	_ = pair.RTP.SetReadDeadline(time.Time{})
	_ = pair.RTCP.SetReadDeadline(time.Time{})
	return true
}

// drain empties c's receive queue without blocking and reports whether
// there was anything in it.
func drain(c *net.UDPConn) (had bool) {
	rc, err := c.SyscallConn()
	if err != nil {
		return true
	}
	var buf [1]byte
	_ = rc.Read(func(fd uintptr) bool {
		for {
			// MSG_TRUNC: the datagram is dropped whatever its size.
			if _, _, err := syscall.Recvfrom(int(fd), buf[:], syscall.MSG_DONTWAIT|syscall.MSG_TRUNC); err != nil {
				return true
			}
			had = true
		}
	})
	return had
}

// Release takes back a pair returned by Allocate, once nothing reads from
// it any more. It is kept bound for reuse (the caller must not close it)
// while fewer than Keep pairs rest, else closed and its port freed.
// Releasing twice is harmless.
func (p *PortPool) Release(pair *Pair) {
	if pair == nil {
		return
	}
	p.mu.Lock()
	if p.resting[pair.port] {
		p.mu.Unlock()
		return
	}
	_, ours := p.inUse[pair.port]
	keep := ours && !p.closed && len(p.idle) < p.o.Keep
	if keep {
		p.idle = append(p.idle, idlePair{Pair: pair, since: time.Now()})
		p.resting[pair.port] = true
		if p.janitor == nil {
			p.janitor = time.AfterFunc(p.o.MaxIdle, p.expire)
		}
	}
	p.mu.Unlock()
	if !keep {
		pair.close()
		p.unreserve(pair.port)
	}
}

// expiredLocked takes the pairs idle past MaxIdle out of the pool, for the
// caller to close once unlocked.
func (p *PortPool) expiredLocked(now time.Time) []idlePair {
	var expired []idlePair
	for len(p.idle) > 0 && now.Sub(p.idle[0].since) > p.o.MaxIdle {
		expired = append(expired, p.idle[0])
		delete(p.inUse, p.idle[0].port)
		delete(p.resting, p.idle[0].port)
		p.idle[0] = idlePair{}
		p.idle = p.idle[1:]
	}
	return expired
}

// expire is the janitor: it closes the pairs idle past MaxIdle when no
// call comes to do it, and comes back while any rest.
func (p *PortPool) expire() {
	p.mu.Lock()
	expired := p.expiredLocked(time.Now())
	p.janitor = nil
	if len(p.idle) > 0 && !p.closed {
		p.janitor = time.AfterFunc(max(p.o.MaxIdle-time.Since(p.idle[0].since), 0)+time.Millisecond, p.expire)
	}
	p.mu.Unlock()
	for _, e := range expired {
		e.close()
	}
}

func closePair(rtp, rtcp *net.UDPConn) {
	if rtcp != nil {
		_ = rtcp.Close()
	}
	if rtp != nil {
		_ = rtp.Close()
	}
}

// Close closes the resting pairs; pairs released later are closed at
// once.
func (p *PortPool) Close() {
	p.mu.Lock()
	idle := p.idle
	p.idle = nil
	for _, e := range idle {
		delete(p.inUse, e.port)
		delete(p.resting, e.port)
	}
	p.closed = true
	if p.janitor != nil {
		p.janitor.Stop()
		p.janitor = nil
	}
	p.mu.Unlock()
	for _, e := range idle {
		e.close()
	}
}
