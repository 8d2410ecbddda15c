package testpeer

import (
	"encoding/binary"
	"strings"
	"unicode"

	"github.com/pion/rtp"
)

// dtmfEvents maps DTMF characters to RFC 4733 §3.2 event codes.
const dtmfEvents = "0123456789*#ABCD"

// DTMFEventCode returns the RFC 4733 event code of a DTMF digit
// (0-9, *, #, A-D, case-insensitive) and whether it is one.
func DTMFEventCode(d rune) (uint8, bool) {
	i := strings.IndexRune(dtmfEvents, unicode.ToUpper(d))
	if i < 0 {
		return 0, false
	}
	return uint8(i), true
}

// TelephoneEvent is a decoded RFC 4733 §2.3 payload.
type TelephoneEvent struct {
	Event    uint8
	End      bool
	Volume   uint8
	Duration uint16
}

// Digit returns the DTMF character of the event, or 0 for non-DTMF events.
func (e TelephoneEvent) Digit() byte {
	if int(e.Event) < len(dtmfEvents) {
		return dtmfEvents[e.Event]
	}
	return 0
}

// ParseTelephoneEvent decodes a 4-byte RFC 4733 payload.
func ParseTelephoneEvent(payload []byte) (TelephoneEvent, bool) {
	if len(payload) < 4 {
		return TelephoneEvent{}, false
	}
	return TelephoneEvent{
		Event:    payload[0],
		End:      payload[1]&0x80 != 0,
		Volume:   payload[1] & 0x3f,
		Duration: binary.BigEndian.Uint16(payload[2:4]),
	}, true
}

func marshalTelephoneEvent(e TelephoneEvent) []byte {
	b := make([]byte, 4)
	b[0] = e.Event
	b[1] = e.Volume & 0x3f
	if e.End {
		b[1] |= 0x80
	}
	binary.BigEndian.PutUint16(b[2:], e.Duration)
	return b
}

// DTMFDigits returns the digits carried by RFC 4733 packets of payload type
// pt, in order. An event counts once per RTP timestamp (RFC 4733 §2.5.1.5:
// all packets of one event share the timestamp, and the end packet is sent
// three times), when a packet with the E bit arrives.
func DTMFDigits(pkts []rtp.Packet, pt uint8) string {
	var sb strings.Builder
	seen := map[uint32]bool{}
	for _, p := range pkts {
		if p.PayloadType != pt {
			continue
		}
		ev, ok := ParseTelephoneEvent(p.Payload)
		if !ok || !ev.End || seen[p.Timestamp] {
			continue
		}
		seen[p.Timestamp] = true
		if d := ev.Digit(); d != 0 {
			sb.WriteByte(d)
		}
	}
	return sb.String()
}

// DecodeAudio concatenates the decoded G.711 payloads of the packets whose
// payload type is codec, in the given order.
func DecodeAudio(pkts []rtp.Packet, codec Codec) []int16 {
	var out []int16
	for _, p := range pkts {
		if p.PayloadType == uint8(codec) {
			out = append(out, codec.Decode(p.Payload)...)
		}
	}
	return out
}
