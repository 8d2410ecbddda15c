package media

import (
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"time"

	"github.com/pion/rtp"
)

// maxPayload bounds one outgoing RTP payload (well under a 1500-byte MTU).
const maxPayload = 1200

// silenceGap: a send gap longer than this is treated as silence, so the RTP
// timestamp jumps by the elapsed time and the marker bit is set on the next
// packet (RFC 3551 section 4.1, first packet of a talkspurt).
const silenceGap = 3 * FrameDuration

// sender is a session's outgoing RTP state. Sequence numbers and timestamps
// continue across Play, WriteFrame, SendDTMF and bridged packets.
type sender struct {
	mu       sync.Mutex
	ssrc     uint32
	seq      uint16
	nextTS   uint32
	lastTS   uint32
	lastSend int64 // monotonic ns of the last packet, 0 before the first
	// inEvent suppresses audio while a telephone-event is being sent
	// (RFC 4733 section 2.5.1.1 lets the sender stop audio).
	inEvent bool
	// fwdEvent maps a bridged peer's event (SSRC, timestamp) to ours.
	fwdEventKey   uint64
	fwdEventTS    uint32
	fwdEventValid bool

	hdr rtp.Header
	buf [12 + maxPayload]byte
}

func (t *sender) init(ssrc uint32, seq uint16, ts uint32) {
	t.ssrc, t.seq, t.nextTS = ssrc, seq, ts
}

// ErrNoTelephoneEvent is returned by SendDTMF when the peer did not
// negotiate telephone-event.
var ErrNoTelephoneEvent = errors.New("media: telephone-event not negotiated")

// target returns the destination and parameters when sending is allowed.
func (s *Session) target() (netip.AddrPort, *sessionParams, bool) {
	p := s.params.Load()
	d := s.dest.Load()
	if d == nil || !d.IsValid() || !p.neg.Direction.CanSend() || s.isClosing() {
		return netip.AddrPort{}, p, false
	}
	return *d, p, true
}

// eventStuck is how long audio stays suppressed by an event whose end was
// never sent (a bridged peer's end packets lost).
const eventStuck = 500 * time.Millisecond

// eventBlocksLocked reports whether audio must be held back for an event.
func (t *sender) eventBlocksLocked(now int64) bool {
	if t.inEvent && time.Duration(now-t.lastSend) > eventStuck {
		t.inEvent = false
	}
	return t.inEvent
}

// advanceLocked accounts for a gap since the last packet: after silence the
// timestamp advances by the missed frames and the marker bit is due.
func (t *sender) advanceLocked(now int64) (marker bool) {
	if t.lastSend == 0 {
		return true
	}
	gap := time.Duration(now - t.lastSend)
	if gap <= silenceGap {
		return false
	}
	missed := int64((gap+FrameDuration/2)/FrameDuration) - 1
	t.nextTS += uint32(missed * FrameSamples)
	return true
}

// writeLocked sends one packet with the payload already in t.buf[12:12+n].
func (s *Session) writeLocked(dest netip.AddrPort, pt uint8, marker bool, ts uint32, n int, now int64) error {
	t := &s.tx
	t.hdr = rtp.Header{Version: 2, Marker: marker, PayloadType: pt, SequenceNumber: t.seq, Timestamp: ts, SSRC: t.ssrc}
	hl, err := t.hdr.MarshalTo(t.buf[:12])
	if err != nil {
		return fmt.Errorf("media: marshal RTP header: %w", err)
	}
	t.seq++
	t.lastSend = now
	t.lastTS = ts
	pkt := t.buf[:hl+n]
	c := s.crypt.Load()
	if c == nil && s.webrtc.Load() != nil {
		return nil // a WebRTC stream sends nothing before DTLS keyed SRTP
	}
	if c != nil {
		out, err := c.txRTP.EncryptRTP(c.encBuf[:0], pkt, &t.hdr)
		if err != nil {
			return fmt.Errorf("media: SRTP encrypt: %w", err)
		}
		c.encBuf, pkt = out[:0], out
	}
	if s.isClosing() {
		// Close waits for the sender's lock before releasing the ports:
		// past this check none is sent on a released (or recycled) fd.
		return ErrSessionClosed
	}
	if raw := s.ports.send; raw != nil {
		err = raw.send(pkt, dest)
	} else {
		_, err = s.rtp.WriteToUDPAddrPort(pkt, dest)
	}
	if err != nil {
		if s.isClosing() {
			return ErrSessionClosed
		}
		return fmt.Errorf("media: send RTP to %s: %w", dest, err)
	}
	s.stats.packetsOut.Add(1)
	s.stats.bytesOut.Add(uint64(n))
	return nil
}

// WriteFrame encodes pcm (normally one 20 ms frame of 160 samples; at most
// 1200) with the negotiated codec and sends it at once, unpaced. Echo and
// PCM-level bridging use it. Nothing is sent (and nil returned) while on
// hold or before SetRemote.
func (s *Session) WriteFrame(pcm []int16) error {
	if s.isClosing() {
		return ErrSessionClosed
	}
	dest, p, ok := s.target()
	if !ok || len(pcm) == 0 {
		return nil
	}
	if !p.neg.Codec.IsG711() {
		return fmt.Errorf("media: cannot encode %s", p.neg.Codec.Name)
	}
	now := monotonicNow()
	t := &s.tx
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.eventBlocksLocked(now) {
		return nil
	}
	n := Encode(p.neg.Codec, t.buf[12:], pcm)
	return s.sendAudioLocked(dest, p.neg.Codec.PayloadType, n, n, now)
}

// sendAudioLocked stamps and sends the payload in t.buf[12:12+n] covering
// samples samples.
func (s *Session) sendAudioLocked(dest netip.AddrPort, pt uint8, n, samples int, now int64) error {
	t := &s.tx
	marker := t.advanceLocked(now)
	ts := t.nextTS
	t.nextTS += uint32(samples)
	return s.writeLocked(dest, pt, marker, ts, n, now)
}

// WriteEncoded sends a G.711 payload already encoded as codec c at once,
// unpaced, transcoding it when the session negotiated the other G.711 law.
// A mixer or broadcaster encodes a frame once and hands the same bytes to
// every session that hears it. Nothing is sent (and nil returned) while on
// hold or before SetRemote.
func (s *Session) WriteEncoded(c Codec, payload []byte) error {
	if s.isClosing() {
		return ErrSessionClosed
	}
	return s.sendEncoded(c, payload, monotonicNow())
}

// sendEncoded sends a G.711 payload encoded as codec c, transcoding to the
// negotiated codec if they differ. Used by the pacer (cached prompts) and
// the bridge (packets from the other leg).
func (s *Session) sendEncoded(c Codec, payload []byte, now int64) error {
	dest, p, ok := s.target()
	if !ok || len(payload) == 0 {
		return nil
	}
	t := &s.tx
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.eventBlocksLocked(now) {
		return nil
	}
	out := p.neg.Codec
	if len(payload) > maxPayload {
		payload = payload[:maxPayload]
	}
	n, err := Transcode(c, out, t.buf[12:], payload)
	if err != nil {
		return err
	}
	return s.sendAudioLocked(dest, out.PayloadType, n, n, now)
}

// beginEvent starts sending a telephone-event: audio is suppressed and the
// event's RTP timestamp is returned (RFC 4733 section 2.5.1.1).
func (s *Session) beginEvent(now int64) (ts uint32, marker bool) {
	t := &s.tx
	t.mu.Lock()
	defer t.mu.Unlock()
	marker = true // RFC 4733 2.5.1.1: M bit on the first packet of an event
	t.advanceLocked(now)
	t.inEvent = true
	return t.nextTS, marker
}

// sendEvent sends one telephone-event packet with timestamp ts.
func (s *Session) sendEvent(ts uint32, marker bool, ev telephoneEvent, now int64) error {
	dest, p, ok := s.target()
	if !ok || p.neg.DTMF == nil {
		return nil
	}
	t := &s.tx
	t.mu.Lock()
	defer t.mu.Unlock()
	n := ev.marshalTo(t.buf[12:])
	return s.writeLocked(dest, p.neg.DTMF.PayloadType, marker, ts, n, now)
}

// endEvent resumes audio after an event of duration samples started at ts.
func (s *Session) endEvent(ts uint32, duration uint16) {
	t := &s.tx
	t.mu.Lock()
	defer t.mu.Unlock()
	t.inEvent = false
	if end := ts + uint32(duration); int32(end-t.nextTS) > 0 {
		t.nextTS = end
	}
}

// forwardEvent relays a telephone-event packet received on a bridged leg,
// keeping one of our timestamps per source event.
func (s *Session) forwardEvent(srcSSRC, srcTS uint32, marker bool, payload []byte, now int64) error {
	dest, p, ok := s.target()
	if !ok || p.neg.DTMF == nil || len(payload) < 4 {
		return nil // the peer negotiated no telephone-event: dropped
	}
	ev, _ := parseTelephoneEvent(payload)
	t := &s.tx
	t.mu.Lock()
	defer t.mu.Unlock()
	key := uint64(srcSSRC)<<32 | uint64(srcTS)
	if !t.fwdEventValid || t.fwdEventKey != key {
		t.advanceLocked(now)
		t.fwdEventKey, t.fwdEventTS, t.fwdEventValid = key, t.nextTS, true
		marker = true
	}
	ts := t.fwdEventTS
	t.inEvent = !ev.End
	if ev.End {
		if end := ts + uint32(ev.Duration); int32(end-t.nextTS) > 0 {
			t.nextTS = end
		}
	}
	n := copy(t.buf[12:], payload[:4])
	return s.writeLocked(dest, p.neg.DTMF.PayloadType, marker, ts, n, now)
}

// senderInfo returns what an RTCP sender report needs.
func (s *Session) senderInfo() (ts uint32, lastSend int64) {
	t := &s.tx
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.lastTS, t.lastSend
}
