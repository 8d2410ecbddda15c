package testpeer

import (
	"bufio"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
)

// Test ports are drawn at random from [portLow, portHigh): above entVoice's
// default RTP range (10000-20000, docs/config.md) and below Linux's default
// ephemeral range (32768-60999), so the kernel never hands them out to other
// sockets between the check and the peer's bind. A candidate is used only
// after binding it succeeded.
//
// Wide blocks (a node's RTP range) come from the top of that range and
// everything else from below: a node binds and keeps RTP ports of its
// block at any time (its pool reuses released pairs), which must never be
// a port another test just found free for a listener.
const (
	portLow   = 21000
	blockLow  = 27000
	portHigh  = 32700
	wideBlock = 16
	attempts  = 500
)

// FreeUDPPort returns a UDP port on 127.0.0.1 (and the wildcard address)
// that is free right now.
func FreeUDPPort(t testing.TB) int {
	t.Helper()
	return freePorts(t, 1, 1, true, false)[0]
}

// FreeTCPPort returns a TCP port that is free right now.
func FreeTCPPort(t testing.TB) int {
	t.Helper()
	return freePorts(t, 1, 1, false, true)[0]
}

// FreePorts returns n distinct ports, each free for both UDP and TCP.
func FreePorts(t testing.TB, n int) []int {
	t.Helper()
	return freePorts(t, n, 1, true, true)
}

// FreePortBlock returns the first port of a run of n consecutive UDP ports
// that are all free, starting at an even port (RTP convention, RFC 3550
// §11). SIPp's media port needs such a block: it binds -mp and -mp+2.
func FreePortBlock(t testing.TB, n int) int {
	t.Helper()
	return freePorts(t, 1, n, true, false)[0]
}

// freePorts finds count ports p (each the start of a block of width
// consecutive ports) that are free for the requested protocols. The probe
// sockets are all held until the search is over so that the ports returned
// are distinct, then closed.
func freePorts(t testing.TB, count, width int, udp, tcp bool) []int {
	t.Helper()
	var held []interface{ Close() error }
	defer func() {
		for _, c := range held {
			_ = c.Close()
		}
	}()
	var out []int
	for range attempts {
		if len(out) == count {
			break
		}
		lo, hi := portLow, blockLow
		if width >= wideBlock {
			lo, hi = blockLow, portHigh
		}
		base := lo + rand.IntN((hi-lo-width)/2)*2
		var block []interface{ Close() error }
		ok := true
		for p := base; p < base+width && ok; p++ {
			if udp {
				c, err := net.ListenPacket("udp4", fmt.Sprintf("0.0.0.0:%d", p))
				if err != nil {
					ok = false
					break
				}
				block = append(block, c)
			}
			if tcp {
				l, err := net.Listen("tcp4", fmt.Sprintf("0.0.0.0:%d", p))
				if err != nil {
					ok = false
					break
				}
				block = append(block, l)
			}
		}
		held = append(held, block...)
		if ok {
			out = append(out, base)
		}
	}
	if len(out) < count {
		t.Fatalf("testpeer: could not find %d free port block(s) of %d", count, width)
	}
	return out
}

// PortInUse reports whether a socket of the given protocol ("udp" or "tcp")
// is bound to port, by reading /proc/net (so it never disturbs the owner).
// TCP sockets count only when listening.
func PortInUse(proto string, port int) bool {
	for _, file := range []string{"/proc/net/" + proto, "/proc/net/" + proto + "6"} {
		if portInProcFile(file, proto == "tcp", port) {
			return true
		}
	}
	return false
}

func portInProcFile(path string, listenOnly bool, port int) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer func() { _ = f.Close() }()
	sc := bufio.NewScanner(f)
	sc.Scan() // header
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 4 {
			continue
		}
		i := strings.LastIndexByte(fields[1], ':')
		if i < 0 {
			continue
		}
		p, err := strconv.ParseUint(fields[1][i+1:], 16, 16)
		if err != nil || int(p) != port {
			continue
		}
		// st 0A = TCP_LISTEN.
		if listenOnly && fields[3] != "0A" {
			continue
		}
		return true
	}
	return false
}
