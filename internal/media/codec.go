package media

import (
	"fmt"
	"strings"
	"time"

	"github.com/zaf/g711"
)

const (
	// SampleRate is the narrowband telephony sample rate used throughout.
	SampleRate = 8000
	// FrameSamples is the number of samples in one 20 ms frame at 8 kHz.
	FrameSamples = 160
	// FrameDuration is the packetisation time we send with (a=ptime:20).
	FrameDuration = 20 * time.Millisecond
)

// Codec names a payload format as negotiated in SDP (RFC 3551 / RFC 4566 rtpmap).
type Codec struct {
	Name        string
	PayloadType uint8
	ClockRate   uint32
}

// Static payload types from RFC 3551 table 4 and the common default for
// telephone-event (RFC 4733 uses a dynamic type; 101 is the de facto default).
var (
	PCMU = Codec{Name: "PCMU", PayloadType: 0, ClockRate: 8000}
	PCMA = Codec{Name: "PCMA", PayloadType: 8, ClockRate: 8000}
	// DefaultTelephoneEvent is telephone-event/8000 on payload type 101.
	DefaultTelephoneEvent = Codec{Name: "telephone-event", PayloadType: 101, ClockRate: 8000}
)

// TelephoneEvent returns the RFC 4733 telephone-event codec on payload type pt.
func TelephoneEvent(pt uint8) Codec {
	return Codec{Name: "telephone-event", PayloadType: pt, ClockRate: 8000}
}

// String renders the codec as in an rtpmap attribute value, e.g. "0 PCMU/8000".
func (c Codec) String() string {
	return fmt.Sprintf("%d %s/%d", c.PayloadType, c.Name, c.ClockRate)
}

// Is reports whether c and o are the same payload format, ignoring the payload
// type number (names compare case-insensitively, RFC 4855 section 3).
func (c Codec) Is(o Codec) bool {
	return strings.EqualFold(c.Name, o.Name) && c.ClockRate == o.ClockRate
}

// IsTelephoneEvent reports whether c is RFC 4733 telephone-event.
func (c Codec) IsTelephoneEvent() bool {
	return strings.EqualFold(c.Name, "telephone-event")
}

// isULaw / isALaw classify a codec by name.
func (c Codec) isULaw() bool { return strings.EqualFold(c.Name, "PCMU") }
func (c Codec) isALaw() bool { return strings.EqualFold(c.Name, "PCMA") }

// IsG711 reports whether c is PCMU or PCMA, the codecs this package can
// encode and decode.
func (c Codec) IsG711() bool { return c.isULaw() || c.isALaw() }

// staticPayloadTypes maps RFC 3551 static audio payload types to their codec,
// used when an offer lists a static type without an rtpmap line.
var staticPayloadTypes = map[uint8]Codec{
	0:  PCMU,
	3:  {Name: "GSM", PayloadType: 3, ClockRate: 8000},
	4:  {Name: "G723", PayloadType: 4, ClockRate: 8000},
	5:  {Name: "DVI4", PayloadType: 5, ClockRate: 8000},
	6:  {Name: "DVI4", PayloadType: 6, ClockRate: 16000},
	7:  {Name: "LPC", PayloadType: 7, ClockRate: 8000},
	8:  PCMA,
	9:  {Name: "G722", PayloadType: 9, ClockRate: 8000},
	10: {Name: "L16", PayloadType: 10, ClockRate: 44100},
	11: {Name: "L16", PayloadType: 11, ClockRate: 44100},
	12: {Name: "QCELP", PayloadType: 12, ClockRate: 8000},
	13: {Name: "CN", PayloadType: 13, ClockRate: 8000},
	15: {Name: "G728", PayloadType: 15, ClockRate: 8000},
	18: {Name: "G729", PayloadType: 18, ClockRate: 8000},
}

// Encode encodes linear PCM samples into G.711 bytes in dst using codec c and
// returns the number of bytes written (min(len(dst), len(pcm))). It does not
// allocate. Non-G.711 codecs write nothing and return 0.
func Encode(c Codec, dst []byte, pcm []int16) int {
	n := min(len(dst), len(pcm))
	switch {
	case c.isULaw():
		for i := range n {
			dst[i] = g711.EncodeUlawFrame(pcm[i])
		}
	case c.isALaw():
		for i := range n {
			dst[i] = g711.EncodeAlawFrame(pcm[i])
		}
	default:
		return 0
	}
	return n
}

// Decode decodes G.711 bytes into linear PCM in dst and returns the number of
// samples written (min(len(dst), len(payload))). It does not allocate.
func Decode(c Codec, dst []int16, payload []byte) int {
	n := min(len(dst), len(payload))
	switch {
	case c.isULaw():
		for i := range n {
			dst[i] = g711.DecodeUlawFrame(payload[i])
		}
	case c.isALaw():
		for i := range n {
			dst[i] = g711.DecodeAlawFrame(payload[i])
		}
	default:
		return 0
	}
	return n
}

// Transcode converts G.711 payload src from codec from to codec to into dst
// (PCMU<->PCMA through the G.711 Appendix tables in zaf/g711), returning the
// number of bytes written. Equal codecs copy. Unsupported pairs return an error.
func Transcode(from, to Codec, dst, src []byte) (int, error) {
	n := min(len(dst), len(src))
	switch {
	case from.Is(to) && from.IsG711():
		return copy(dst, src[:n]), nil
	case from.isULaw() && to.isALaw():
		for i := range n {
			dst[i] = g711.Ulaw2AlawFrame(src[i])
		}
	case from.isALaw() && to.isULaw():
		for i := range n {
			dst[i] = g711.Alaw2UlawFrame(src[i])
		}
	default:
		return 0, fmt.Errorf("media: cannot transcode %s to %s", from.Name, to.Name)
	}
	return n, nil
}
