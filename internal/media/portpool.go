package media

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
)

// ErrNoPorts is returned by Allocate when every RTP port pair is in use or
// busy in the operating system.
var ErrNoPorts = errors.New("media: no free RTP port pair")

// PortPool hands out RTP/RTCP UDP socket pairs: RTP on an even port and RTCP
// on the next odd port (RFC 3550 section 11). Ports are tried round-robin so
// a just-released port is not reused at once (late packets of the previous
// call then do not reach the next one). It is safe for concurrent use.
type PortPool struct {
	ip       netip.Addr
	min, max int // even RTP ports in [min, max]; RTCP max+1 <= upper bound

	mu    sync.Mutex
	next  int
	inUse map[int]struct{}
}

// NewPortPool creates a pool of RTP ports in [min, max] on ip. min is rounded
// up to even; the last RTP port is the largest even p with p+1 <= max.
func NewPortPool(ip netip.Addr, min, max int) (*PortPool, error) {
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
	return &PortPool{ip: ip, min: min, max: last, next: min, inUse: map[int]struct{}{}}, nil
}

// Size returns the number of RTP port pairs in the pool.
func (p *PortPool) Size() int { return (p.max-p.min)/2 + 1 }

// InUse returns the number of pairs currently allocated.
func (p *PortPool) InUse() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.inUse)
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

// Allocate binds a fresh RTP/RTCP socket pair. Ports the operating system
// reports busy are skipped; ErrNoPorts is returned when the whole range has
// been tried.
func (p *PortPool) Allocate() (rtp, rtcp *net.UDPConn, err error) {
	busy := map[int]bool{}
	for {
		port, ok := p.reserve(busy)
		if !ok {
			return nil, nil, ErrNoPorts
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
		return rtp, rtcp, nil
	}
}

// Release closes a pair returned by Allocate and returns its port to the
// pool. Either connection may be nil; releasing twice is harmless.
func (p *PortPool) Release(rtp, rtcp *net.UDPConn) {
	if rtcp != nil {
		_ = rtcp.Close()
	}
	if rtp == nil {
		return
	}
	port := int(rtp.LocalAddr().(*net.UDPAddr).Port)
	_ = rtp.Close()
	p.unreserve(port)
}
