package media

import (
	"encoding/binary"
	"time"
)

// DTMF is one received or injected digit.
type DTMF struct {
	Digit    rune
	Duration time.Duration
	// Source is "rfc4733" for RTP telephone-events or "info" for digits
	// the SIP layer injected from SIP INFO.
	Source string
}

// DTMF sources.
const (
	DTMFSourceRFC4733 = "rfc4733"
	DTMFSourceInfo    = "info"
)

// eventDigits maps RFC 4733 section 3.2 event codes 0-16 to digits ('!' is
// hook flash, as Asterisk names it).
const eventDigits = "0123456789*#ABCD!"

// EventCode returns the RFC 4733 event code of a DTMF digit.
func EventCode(d rune) (uint8, bool) {
	switch {
	case d >= '0' && d <= '9':
		return uint8(d - '0'), true
	case d == '*':
		return 10, true
	case d == '#':
		return 11, true
	case d >= 'A' && d <= 'D':
		return uint8(d-'A') + 12, true
	case d >= 'a' && d <= 'd':
		return uint8(d-'a') + 12, true
	case d == '!':
		return 16, true
	}
	return 0, false
}

// EventDigit returns the digit for an RFC 4733 event code.
func EventDigit(code uint8) (rune, bool) {
	if int(code) >= len(eventDigits) {
		return 0, false
	}
	return rune(eventDigits[code]), true
}

// telephoneEvent is the RFC 4733 section 2.3 payload:
// event(8) | E(1) R(1) volume(6) | duration(16).
type telephoneEvent struct {
	Event    uint8
	End      bool
	Volume   uint8
	Duration uint16
}

func (e telephoneEvent) marshalTo(b []byte) int {
	b[0] = e.Event
	b[1] = e.Volume & 0x3f
	if e.End {
		b[1] |= 0x80
	}
	binary.BigEndian.PutUint16(b[2:4], e.Duration)
	return 4
}

func parseTelephoneEvent(b []byte) (telephoneEvent, bool) {
	if len(b) < 4 {
		return telephoneEvent{}, false
	}
	return telephoneEvent{
		Event:    b[0],
		End:      b[1]&0x80 != 0,
		Volume:   b[1] & 0x3f,
		Duration: binary.BigEndian.Uint16(b[2:4]),
	}, true
}

// replayGap is how long after an event ended a non-end packet with the same
// SSRC and timestamp is taken as a new press rather than a late or
// reordered packet. SIPp replays its bundled dtmf_2833_*.pcap files verbatim,
// so pressing the same key twice repeats SSRC, sequence and timestamp.
const replayGap = 250 * time.Millisecond

// eventDetector turns RFC 4733 packets into one digit per event (section
// 2.5.2): an event is identified by its SSRC and RTP timestamp; retransmitted
// end packets and duplicates are ignored. Events use their own SSRC and
// sequence space if the sender wants; audio statistics never see them.
// It is owned by the session's reader goroutine.
type eventDetector struct {
	active   bool
	ssrc     uint32
	ts       uint32
	code     uint8
	ended    bool
	endedAt  time.Time
	duration uint16
	updated  time.Time
}

// digitSink is told of digits as they begin and end, in that order.
type digitSink interface {
	beginDigit(d rune)
	emitDigit(d DTMF)
}

// feed processes one telephone-event packet and tells sink of the digits
// it begins (RFC 4733 section 2.5.2.1: an event's first packet, whatever
// the receiver saw before) and ends.
func (d *eventDetector) feed(ssrc, ts uint32, marker bool, ev telephoneEvent, now time.Time, clock uint32, sink digitSink) {
	if int(ev.Event) >= len(eventDigits) {
		return // tones and other non-DTMF events (RFC 4734)
	}
	same := d.active && d.ssrc == ssrc && d.ts == ts && d.code == ev.Event
	if same && d.ended {
		if ev.End || (!marker && now.Sub(d.endedAt) < replayGap) {
			return // retransmitted end, or a straggler
		}
		same = false // the same recording played again: a new press
	}
	if !same {
		// A new event; one still running lost its end packets (RFC 4733
		// 2.5.2.2 lets the receiver end it), so it ends now.
		if d.active && !d.ended {
			sink.emitDigit(d.digit(clock))
		}
		*d = eventDetector{active: true, ssrc: ssrc, ts: ts, code: ev.Event}
		if r, ok := EventDigit(ev.Event); ok {
			sink.beginDigit(r)
		}
	}
	d.updated = now
	if ev.Duration > d.duration {
		d.duration = ev.Duration
	}
	if ev.End {
		d.ended, d.endedAt = true, now
		sink.emitDigit(d.digit(clock))
	}
}

// stale reports a digit whose end packets never came once nothing was heard
// of it for timeout.
func (d *eventDetector) stale(now time.Time, timeout time.Duration, clock uint32) (DTMF, bool) {
	if !d.active || d.ended || now.Sub(d.updated) < timeout {
		return DTMF{}, false
	}
	d.ended, d.endedAt = true, now
	return d.digit(clock), true
}

func (d *eventDetector) digit(clock uint32) DTMF {
	r, ok := EventDigit(d.code)
	if !ok {
		r = '?'
	}
	if clock == 0 {
		clock = SampleRate
	}
	return DTMF{
		Digit:    r,
		Duration: time.Duration(d.duration) * time.Second / time.Duration(clock),
		Source:   DTMFSourceRFC4733,
	}
}
