package media

import (
	"errors"
	"fmt"
	"net"
	"net/netip"

	"golang.org/x/sys/unix"
)

// rawSender sends RTP from a session's port through a second socket bound to
// that port (SO_REUSEPORT) that Go's network poller does not watch.
//
// Every datagram a socket sends is accounted against its send buffer until
// the kernel frees it (at once on loopback, at transmit completion on a
// NIC), and freeing it runs the socket's write-space callback, which wakes
// whatever waits on the socket. Go's poller waits on every socket for
// writability (epoll EPOLLOUT, edge-triggered), so each RTP packet sent
// through a net.UDPConn woke the poller for nothing: a third of the CPU of
// 400 playbacks went to that. A socket nobody waits on skips it.
//
// A classic BPF program on the port's reuseport group sends every incoming
// datagram to the group's first socket, the session's net.UDPConn, so the
// raw sender never receives (SO_ATTACH_REUSEPORT_CBPF, socket(7)).
type rawSender struct {
	fd     int
	family int
	dest   netip.AddrPort // the destination sa was built for
	sa     unix.Sockaddr
}

// shareRTPPort lets a rawSender join rtp's port. rtp is bound without
// SO_REUSEPORT, so the bind fails as usual when anything holds the port
// (another entVoice on the same range included); the option is set only
// once the port is ours, and the steering program makes rtp, the group's
// first socket, the only one that receives.
func shareRTPPort(rtp *net.UDPConn) error {
	rc, err := rtp.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	if err := rc.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEPORT, 1)
	}); err != nil {
		return err
	}
	return serr
}

// newRawSender opens a rawSender on rtp's address and port.
func newRawSender(rtp *net.UDPConn) (*rawSender, error) {
	if err := shareRTPPort(rtp); err != nil {
		return nil, err
	}
	local := rtp.LocalAddr().(*net.UDPAddr).AddrPort()
	family, sa := unix.AF_INET, unix.Sockaddr(nil)
	if a := local.Addr().Unmap(); a.Is4() {
		sa = &unix.SockaddrInet4{Port: int(local.Port()), Addr: a.As4()}
	} else {
		family = unix.AF_INET6
		sa = &unix.SockaddrInet6{Port: int(local.Port()), Addr: a.As16()}
	}
	fd, err := unix.Socket(family, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	// The steering program returns index 0, the group's first socket:
	// rtp. Attached once the rawSender has joined (a datagram arriving in
	// between may be lost; nothing has been offered on the port yet).
	prog := []unix.SockFilter{{Code: unix.BPF_RET | unix.BPF_K, K: 0}}
	err = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEPORT, 1)
	if err == nil {
		err = unix.Bind(fd, sa)
	}
	if err == nil {
		err = unix.SetsockoptSockFprog(fd, unix.SOL_SOCKET, unix.SO_ATTACH_REUSEPORT_CBPF, &unix.SockFprog{Len: uint16(len(prog)), Filter: &prog[0]})
	}
	if err != nil {
		_ = unix.Close(fd)
		return nil, err
	}
	return &rawSender{fd: fd, family: family}, nil
}

// send sends b to dest. A full send buffer drops the packet, as a full
// NIC queue would (the pacer never blocks).
func (x *rawSender) send(b []byte, dest netip.AddrPort) error {
	if dest != x.dest || x.sa == nil {
		if a := dest.Addr().Unmap(); x.family == unix.AF_INET {
			if !a.Is4() {
				return fmt.Errorf("media: IPv6 destination %s from an IPv4 port", dest)
			}
			x.sa = &unix.SockaddrInet4{Port: int(dest.Port()), Addr: a.As4()}
		} else {
			x.sa = &unix.SockaddrInet6{Port: int(dest.Port()), Addr: dest.Addr().As16()}
		}
		x.dest = dest
	}
	for {
		err := unix.Sendto(x.fd, b, 0, x.sa)
		if !errors.Is(err, unix.EINTR) {
			if errors.Is(err, unix.EAGAIN) {
				return nil
			}
			return err
		}
	}
}

func (x *rawSender) close() {
	if x != nil {
		_ = unix.Close(x.fd)
	}
}
