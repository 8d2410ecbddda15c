package media

import (
	"errors"
	"net"
	"net/netip"
	"time"

	"github.com/pion/rtp"
)

// eventTimeout ends a received telephone-event whose end packets were all
// lost (RFC 4733 section 2.5.2.2 leaves the timeout to the receiver).
const eventTimeout = time.Second

// receiver is the reader goroutine's private state.
type receiver struct {
	generation uint64
	// symmetric RTP learning (RFC 4961 / comedia)
	latched    bool
	learnFrom  netip.AddrPort
	learnCount int

	// RFC 3550 A.1 sequence accounting for the audio SSRC
	seqInit     bool
	ssrc        uint32
	baseSeq     uint32
	maxSeq      uint16
	cycles      uint32
	received    int64
	transitInit bool
	lastTransit int32
	jitter      float64 // timestamp units, RFC 3550 A.8

	events eventDetector
	pcm    [1500]int16
	pkt    rtp.Packet
	dec    [1500]byte // a decrypted SRTP packet
	hdr    rtp.Header
}

func (s *Session) readLoop() {
	defer s.wg.Done()
	var rx receiver
	buf := make([]byte, 1500)
	for {
		n, src, err := s.rtp.ReadFromUDPAddrPort(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) || s.isClosing() {
				return
			}
			s.logger.Debug("media: RTP read", "rtp", s.local, "err", err)
			continue
		}
		s.handlePacket(&rx, buf[:n], netip.AddrPortFrom(src.Addr().Unmap(), src.Port()), time.Now())
	}
}

func (s *Session) handlePacket(rx *receiver, b []byte, src netip.AddrPort, now time.Time) {
	if w := s.webrtc.Load(); w != nil {
		if s.demux(w, b, src) {
			return
		}
		if s.crypt.Load() == nil {
			s.stats.dropped.Add(1) // before DTLS keyed SRTP nothing is accepted
			return
		}
		if pt := b[1] & 0x7f; pt >= 64 && pt <= 95 {
			// rtcp-mux: RTCP types 200-204 show as payload types
			// 72-76 (RFC 5761 section 4).
			s.handleRTCP(b)
			return
		}
	}
	p := s.params.Load()
	if p.generation != rx.generation {
		rx.generation = p.generation
		rx.latched, rx.learnCount = false, 0
	}
	if c := s.crypt.Load(); c != nil {
		out, err := c.rxRTP.DecryptRTP(rx.dec[:0], b, &rx.hdr)
		if err != nil {
			// Forged, replayed or keyed otherwise: dropped before
			// anything (symmetric RTP learning included) sees it.
			s.stats.srtpDropped.Add(1)
			s.stats.dropped.Add(1)
			return
		}
		b = out
	}
	if err := rx.pkt.Unmarshal(b); err != nil || rx.pkt.Version != 2 {
		s.stats.dropped.Add(1)
		return
	}
	if !s.acceptSource(rx, src) {
		s.stats.dropped.Add(1)
		return
	}
	pkt := &rx.pkt
	if s.stats.packetsIn.Add(1) == 1 {
		close(s.mediaIn)
	}
	s.stats.bytesIn.Add(uint64(len(pkt.Payload)))
	neg := p.neg
	if neg.DTMF != nil && pkt.PayloadType == neg.DTMF.PayloadType ||
		neg.DTMF == nil && pkt.PayloadType == DefaultTelephoneEvent.PayloadType {
		s.handleEvent(rx, pkt, neg, now)
		return
	}
	codec, ok := rxCodec(neg, pkt.PayloadType)
	if !ok {
		s.stats.dropped.Add(1) // comfort noise, unnegotiated types
		return
	}
	s.trackSequence(rx, pkt, codec.ClockRate, now)
	if d, ok := rx.events.stale(now, eventTimeout, 0); ok {
		s.emitDigit(d)
	}
	mono := monotonicNow()
	if leg := s.fwd.Load(); leg != nil {
		_ = leg.peer.sendEncoded(codec, pkt.Payload, mono)
	}
	if sink := s.currentSink(); sink != nil {
		pl := pkt.Payload
		for len(pl) > 0 {
			n := Decode(codec, rx.pcm[:], pl)
			if n == 0 {
				break
			}
			sink(rx.pcm[:n])
			pl = pl[n:]
		}
	}
}

// rxCodec maps an incoming payload type to a decodable codec: the
// negotiated one, or the static PCMU/PCMA types (a peer may switch among
// the codecs it offered).
func rxCodec(neg Negotiated, pt uint8) (Codec, bool) {
	if pt == neg.Codec.PayloadType && neg.Codec.IsG711() {
		return neg.Codec, true
	}
	switch pt {
	case PCMU.PayloadType:
		return PCMU, true
	case PCMA.PayloadType:
		return PCMA, true
	}
	return Codec{}, false
}

// acceptSource implements symmetric RTP (RFC 4961, Asterisk comedia): once
// learnPackets consecutive packets arrive from a source other than the
// signalled address, we send there instead. After the source is known
// (signalled and confirmed, or learned) packets from other addresses are
// dropped, like Asterisk's strictrtp; SetRemote restarts learning.
func (s *Session) acceptSource(rx *receiver, src netip.AddrPort) bool {
	cur := s.Remote()
	if src == cur {
		rx.latched = true
		rx.learnCount = 0
		return true
	}
	if rx.latched {
		return false
	}
	if src == rx.learnFrom {
		rx.learnCount++
	} else {
		rx.learnFrom, rx.learnCount = src, 1
	}
	if rx.learnCount >= learnPackets {
		learned := src // a copy: taking src's address would put every packet's source on the heap
		s.dest.Store(&learned)
		rx.latched = true
		s.logger.Debug("media: symmetric RTP latched", "rtp", s.local, "from", cur.String(), "to", src.String())
	}
	return true
}

// trackSequence keeps RFC 3550 A.1 loss accounting and A.8 jitter for the
// audio stream only (events may use their own SSRC and sequence space).
func (s *Session) trackSequence(rx *receiver, pkt *rtp.Packet, clock uint32, now time.Time) {
	seq := pkt.SequenceNumber
	if !rx.seqInit || pkt.SSRC != rx.ssrc {
		rx.seqInit, rx.ssrc = true, pkt.SSRC
		rx.baseSeq, rx.maxSeq, rx.cycles, rx.received = uint32(seq), seq, 0, 0
		rx.transitInit, rx.jitter = false, 0
		s.stats.clockRate.Store(clock)
	}
	const maxDropout, maxMisorder = 3000, 100
	delta := seq - rx.maxSeq
	switch {
	case delta < maxDropout:
		if seq < rx.maxSeq {
			rx.cycles += 1 << 16 // wrapped
		}
		rx.maxSeq = seq
	case delta <= 1<<16-maxMisorder:
		// A big jump: the sender restarted; start counting afresh.
		rx.baseSeq, rx.maxSeq, rx.cycles, rx.received = uint32(seq), seq, 0, 0
	default:
		// duplicate or reordered packet: counted as received below
	}
	rx.received++
	s.rtcpState.remoteSSRC.Store(pkt.SSRC)
	s.rtcpState.extMaxSeq.Store(rx.cycles + uint32(rx.maxSeq))
	expected := int64(rx.cycles) + int64(rx.maxSeq) - int64(rx.baseSeq) + 1
	s.stats.lost.Store(expected - rx.received)

	// A.8: transit = arrival (timestamp units) - RTP timestamp.
	arrival := int32(uint32(monotonicNow() / int64(time.Second/time.Duration(clock))))
	transit := arrival - int32(pkt.Timestamp)
	if rx.transitInit {
		d := float64(transit - rx.lastTransit)
		if d < 0 {
			d = -d
		}
		rx.jitter += (d - rx.jitter) / 16
		s.stats.jitterUnits.Store(uint32(rx.jitter))
	}
	rx.transitInit, rx.lastTransit = true, transit
}

func (s *Session) handleEvent(rx *receiver, pkt *rtp.Packet, neg Negotiated, now time.Time) {
	ev, ok := parseTelephoneEvent(pkt.Payload)
	if !ok {
		s.stats.dropped.Add(1)
		return
	}
	if leg := s.fwd.Load(); leg != nil {
		_ = leg.peer.forwardEvent(pkt.SSRC, pkt.Timestamp, pkt.Marker, pkt.Payload, monotonicNow())
	}
	clock := uint32(SampleRate)
	if neg.DTMF != nil && neg.DTMF.ClockRate != 0 {
		clock = neg.DTMF.ClockRate
	}
	rx.events.feed(pkt.SSRC, pkt.Timestamp, pkt.Marker, ev, now, clock, s)
}

func (s *Session) emitDigit(d DTMF) {
	s.stats.dtmfIn.Add(1)
	s.logger.Debug("media: DTMF received", "rtp", s.local, "digit", string(d.Digit), "duration", d.Duration)
	s.deliverDTMF(d)
}
