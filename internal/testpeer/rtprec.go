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

	// Answer: what to send back to the first packet's source.
	reply     []byte // encoded audio
	replyPT   uint8
	replying  bool
	replyStop chan struct{}
	replyDone chan struct{}
	closeOnce sync.Once
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
	r := &RTPRecorder{conn: conn, done: make(chan struct{}), notify: make(chan struct{}), replyStop: make(chan struct{}), replyDone: make(chan struct{})}
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
		if r.reply != nil && !r.replying {
			r.replying = true
			go r.sendReply(from)
		}
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

// Answer makes the recorder a phone's media end: from the first packet it
// receives, it sends pcm (20 ms packets, paced in real time) back to that
// packet's source from its own socket, as a phone using symmetric RTP
// (RFC 4961) does, so the far end keeps sending to the recorder. Call it
// before the call starts.
func (r *RTPRecorder) Answer(codec Codec, pcm []int16) {
	r.mu.Lock()
	r.reply, r.replyPT = codec.Encode(pcm), uint8(codec)
	r.mu.Unlock()
}

// SendTo makes the recorder a phone that speaks first: it sends pcm (20 ms
// packets, paced in real time) to to from its own socket, in the
// background, until the audio ends or the recorder closes. Use it instead
// of Answer, once: an echo that only answers needs someone to start.
func (r *RTPRecorder) SendTo(to netip.AddrPort, codec Codec, pcm []int16) {
	r.mu.Lock()
	if r.replying {
		r.mu.Unlock()
		return
	}
	r.reply, r.replyPT, r.replying = codec.Encode(pcm), uint8(codec), true
	r.mu.Unlock()
	go r.sendReply(to)
}

func (r *RTPRecorder) sendReply(to netip.AddrPort) {
	defer close(r.replyDone)
	r.mu.Lock()
	audio, pt := r.reply, r.replyPT
	r.mu.Unlock()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for i := 0; (i+1)*160 <= len(audio); i++ {
		pkt := rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: pt, SequenceNumber: uint16(i), Timestamp: uint32(i * 160), SSRC: 0x5eed1e55, Marker: i == 0},
			Payload: audio[i*160 : (i+1)*160]}
		b, err := pkt.Marshal()
		if err != nil {
			return
		}
		if _, err := r.conn.WriteToUDPAddrPort(b, to); err != nil {
			return
		}
		select {
		case <-tick.C:
		case <-r.replyStop:
			return
		}
	}
}

// Close stops the recorder and waits for its goroutines; safe to repeat.
func (r *RTPRecorder) Close() {
	r.closeOnce.Do(func() { close(r.replyStop) })
	_ = r.conn.Close()
	<-r.done
	r.mu.Lock()
	replying := r.replying
	r.mu.Unlock()
	if replying {
		<-r.replyDone
	}
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
