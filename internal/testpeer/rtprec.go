package testpeer

import (
	"errors"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/pion/rtp"
)

// RecordedPacket is one RTP packet received by an RTPRecorder.
type RecordedPacket struct {
	At     time.Time
	From   netip.AddrPort
	Packet rtp.Packet
}

// RTPRecorder is a minimal RTP receiver for tests: it listens on a UDP port
// of 127.0.0.1 and keeps every datagram that parses as RTP with its arrival
// time.
type RTPRecorder struct {
	conn *net.UDPConn
	done chan struct{}

	mu      sync.Mutex
	packets []RecordedPacket
	notify  chan struct{} // closed and replaced on every packet
}

// RecordRTP starts an RTPRecorder on a free port of 127.0.0.1; it is
// closed at t.Cleanup.
func RecordRTP(t testing.TB) *RTPRecorder {
	t.Helper()
	return RecordRTPOn(t, 0)
}

// RecordRTPOn is RecordRTP on a given port (0 = any free port).
func RecordRTPOn(t testing.TB, port int) *RTPRecorder {
	t.Helper()
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port})
	if err != nil {
		t.Fatalf("testpeer: rtp recorder: %v", err)
	}
	r := &RTPRecorder{conn: conn, done: make(chan struct{}), notify: make(chan struct{})}
	go r.loop()
	t.Cleanup(r.Close)
	return r
}

func (r *RTPRecorder) loop() {
	defer close(r.done)
	buf := make([]byte, 2048)
	for {
		n, from, err := r.conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		at := time.Now()
		var p rtp.Packet
		if err := p.Unmarshal(append([]byte(nil), buf[:n]...)); err != nil || p.Version != 2 {
			continue
		}
		r.mu.Lock()
		r.packets = append(r.packets, RecordedPacket{At: at, From: from, Packet: p})
		close(r.notify)
		r.notify = make(chan struct{})
		r.mu.Unlock()
	}
}

// Port is the UDP port the recorder listens on.
func (r *RTPRecorder) Port() int { return int(r.Addr().Port()) }

// Addr is the recorder's address.
func (r *RTPRecorder) Addr() netip.AddrPort {
	return r.conn.LocalAddr().(*net.UDPAddr).AddrPort()
}

// Close stops the recorder and waits for its goroutine; safe to repeat.
func (r *RTPRecorder) Close() {
	_ = r.conn.Close()
	<-r.done
}

// Packets returns a copy of the packets received so far, in arrival order.
func (r *RTPRecorder) Packets() []RecordedPacket {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]RecordedPacket(nil), r.packets...)
}

// RTP returns the received RTP packets in arrival order.
func (r *RTPRecorder) RTP() []rtp.Packet {
	ps := r.Packets()
	out := make([]rtp.Packet, len(ps))
	for i, p := range ps {
		out[i] = p.Packet
	}
	return out
}

// WaitPackets waits until at least n packets arrived or timeout passed and
// reports whether they did.
func (r *RTPRecorder) WaitPackets(n int, timeout time.Duration) bool {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		r.mu.Lock()
		got, ch := len(r.packets), r.notify
		r.mu.Unlock()
		if got >= n {
			return true
		}
		select {
		case <-ch:
		case <-deadline.C:
			return false
		}
	}
}

// WaitQuiet waits until no packet arrived for quiet (or timeout passed) and
// reports whether the stream went quiet.
func (r *RTPRecorder) WaitQuiet(quiet, timeout time.Duration) bool {
	end := time.Now().Add(timeout)
	for time.Now().Before(end) {
		r.mu.Lock()
		var last time.Time
		if len(r.packets) > 0 {
			last = r.packets[len(r.packets)-1].At
		}
		r.mu.Unlock()
		if !last.IsZero() && time.Since(last) >= quiet {
			return true
		}
		time.Sleep(quiet / 4)
	}
	return false
}

// PCM decodes, in arrival order, the payloads of the packets of the given
// G.711 codec.
func (r *RTPRecorder) PCM(codec Codec) []int16 { return DecodeAudio(r.RTP(), codec) }

// Digits returns the RFC 4733 digits received with payload type pt.
func (r *RTPRecorder) Digits(pt uint8) string { return DTMFDigits(r.RTP(), pt) }

// Gaps returns the inter-arrival times of the packets with payload type pt.
func (r *RTPRecorder) Gaps(pt uint8) []time.Duration {
	var out []time.Duration
	var prev time.Time
	for _, p := range r.Packets() {
		if p.Packet.PayloadType != pt {
			continue
		}
		if !prev.IsZero() {
			out = append(out, p.At.Sub(prev))
		}
		prev = p.At
	}
	return out
}
