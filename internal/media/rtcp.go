package media

import (
	"errors"
	"net"
	"net/netip"
	"os"
	"sync/atomic"
	"time"

	"github.com/pion/rtcp"
)

// rtcpInterval is the report interval: RFC 3550 section 6.2 recommends a
// 5 s minimum, which is also Asterisk's default rtcpinterval.
const rtcpInterval = 5 * time.Second

// ntpEpochOffset is the seconds between 1900 (NTP) and 1970 (Unix).
const ntpEpochOffset = 2208988800

func ntpTime(t time.Time) uint64 {
	secs := uint64(t.Unix()) + ntpEpochOffset
	frac := uint64(t.Nanosecond()) << 32 / uint64(time.Second)
	return secs<<32 | frac
}

// rtcpState is shared between the RTCP goroutine and the RTP reader.
type rtcpState struct {
	remoteSSRC atomic.Uint32
	extMaxSeq  atomic.Uint32
	// last SR from the peer: middle 32 bits of its NTP time and when it came
	lastSR   atomic.Uint32
	lastSRAt atomic.Int64
	// what the peer reported about our stream
	remoteLost   atomic.Uint32
	remoteJitter atomic.Uint32
	reportsIn    atomic.Uint64
	reportsOut   atomic.Uint64
}

// rtcpLoop reads the peer's RTCP and sends a report every rtcpInterval: an
// SR (RFC 3550 6.4.1) when we have sent RTP, else an RR (6.4.2), each with an
// SDES CNAME as a compound packet requires (6.1). The read deadline doubles
// as the report timer, so one goroutine does both.
func (s *Session) rtcpLoop() {
	defer s.wg.Done()
	buf := make([]byte, 1500)
	var peer netip.AddrPort // learned RTCP source (symmetric RTCP)
	next := time.Now().Add(rtcpInterval)
	for {
		_ = s.rtcp.SetReadDeadline(next)
		// Close sets a past deadline after marking the session closing:
		// checked after our own deadline, one of the two always wins.
		if s.isClosing() {
			return
		}
		n, src, err := s.rtcp.ReadFromUDPAddrPort(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) || s.isClosing() {
				return
			}
			if errors.Is(err, os.ErrDeadlineExceeded) {
				s.sendReport(peer)
				next = time.Now().Add(rtcpInterval)
			}
			continue
		}
		if s.handleRTCP(buf[:n]) {
			peer = netip.AddrPortFrom(src.Addr().Unmap(), src.Port())
		}
		if time.Now().After(next) {
			s.sendReport(peer)
			next = time.Now().Add(rtcpInterval)
		}
	}
}

func (s *Session) handleRTCP(b []byte) bool {
	if c := s.crypt.Load(); c != nil {
		out, err := c.rxRTCP.DecryptRTCP(nil, b, nil)
		if err != nil {
			s.stats.srtpDropped.Add(1)
			return false
		}
		b = out
	}
	pkts, err := rtcp.Unmarshal(b)
	if err != nil {
		return false
	}
	st := &s.rtcpState
	st.reportsIn.Add(1)
	var reports []rtcp.ReceptionReport
	for _, p := range pkts {
		switch r := p.(type) {
		case *rtcp.SenderReport:
			st.lastSR.Store(uint32(r.NTPTime >> 16))
			st.lastSRAt.Store(time.Now().UnixNano())
			reports = r.Reports
		case *rtcp.ReceiverReport:
			reports = r.Reports
		}
	}
	for _, rr := range reports {
		if rr.SSRC == s.tx.ssrc {
			st.remoteLost.Store(rr.TotalLost)
			st.remoteJitter.Store(rr.Jitter)
		}
	}
	return true
}

func (s *Session) sendReport(peer netip.AddrPort) {
	dest := peer
	w := s.webrtc.Load()
	if w != nil {
		// rtcp-mux: RTCP goes with the RTP, once it is keyed.
		if dest = s.Remote(); !dest.IsValid() || s.crypt.Load() == nil {
			return
		}
	}
	if !dest.IsValid() {
		r := s.Remote()
		if !r.IsValid() || r.Port() == 65535 {
			return
		}
		dest = netip.AddrPortFrom(r.Addr(), r.Port()+1)
	}
	st := &s.rtcpState
	var reports []rtcp.ReceptionReport
	if ssrc := st.remoteSSRC.Load(); ssrc != 0 {
		rr := rtcp.ReceptionReport{
			SSRC:               ssrc,
			TotalLost:          uint32(min(s.stats.lost.Load(), 1<<23-1)) & 0xffffff,
			LastSequenceNumber: st.extMaxSeq.Load(),
			Jitter:             s.stats.jitterUnits.Load(),
			LastSenderReport:   st.lastSR.Load(),
		}
		if at := st.lastSRAt.Load(); at != 0 {
			// DLSR in 1/65536 s units (RFC 3550 6.4.1).
			rr.Delay = uint32(time.Since(time.Unix(0, at)) * 65536 / time.Second)
		}
		reports = append(reports, rr)
	}
	var first rtcp.Packet
	out := s.stats.packetsOut.Load()
	if out > 0 {
		ts, last := s.senderInfo()
		now := time.Now()
		// Extrapolate the RTP timestamp to the report's NTP time.
		ts += uint32(time.Duration(monotonicNow()-last) * SampleRate / time.Second)
		first = &rtcp.SenderReport{
			SSRC: s.tx.ssrc, NTPTime: ntpTime(now), RTPTime: ts,
			PacketCount: uint32(out), OctetCount: uint32(s.stats.bytesOut.Load()),
			Reports: reports,
		}
	} else {
		first = &rtcp.ReceiverReport{SSRC: s.tx.ssrc, Reports: reports}
	}
	sdes := &rtcp.SourceDescription{Chunks: []rtcp.SourceDescriptionChunk{{
		Source: s.tx.ssrc,
		Items:  []rtcp.SourceDescriptionItem{{Type: rtcp.SDESCNAME, Text: "entvoice@" + s.local.String()}},
	}}}
	b, err := rtcp.Marshal([]rtcp.Packet{first, sdes})
	if err != nil {
		s.logger.Debug("media: marshal RTCP", "rtp", s.local, "err", err)
		return
	}
	if c := s.crypt.Load(); c != nil {
		c.rtcpMu.Lock()
		out, err := c.txRTCP.EncryptRTCP(c.rtcpBuf[:0], b, nil)
		if err == nil {
			b = append([]byte(nil), out...)
		}
		c.rtcpMu.Unlock()
		if err != nil {
			s.logger.Debug("media: SRTCP encrypt", "rtp", s.local, "err", err)
			return
		}
	}
	conn := s.rtcp
	if w != nil {
		conn = s.rtp
	}
	if _, err := conn.WriteToUDPAddrPort(b, dest); err == nil {
		st.reportsOut.Add(1)
	}
}
