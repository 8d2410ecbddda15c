package testpeer

import "github.com/zaf/g711"

// Codec is a G.711 RTP payload type (RFC 3551 static assignments).
type Codec uint8

// G.711 static payload types (RFC 3551 §6, table 4).
const (
	PCMU Codec = 0
	PCMA Codec = 8
)

// String returns the SDP encoding name.
func (c Codec) String() string {
	switch c {
	case PCMU:
		return "PCMU"
	case PCMA:
		return "PCMA"
	}
	return "unknown"
}

// Encode encodes 16-bit linear samples with the codec (one byte per sample).
// An unknown codec encodes as PCMU.
func (c Codec) Encode(pcm []int16) []byte {
	out := make([]byte, len(pcm))
	for i, s := range pcm {
		if c == PCMA {
			out[i] = g711.EncodeAlawFrame(s)
		} else {
			out[i] = g711.EncodeUlawFrame(s)
		}
	}
	return out
}

// Decode decodes G.711 bytes to 16-bit linear samples.
func (c Codec) Decode(payload []byte) []int16 {
	out := make([]int16, len(payload))
	for i, b := range payload {
		if c == PCMA {
			out[i] = g711.DecodeAlawFrame(b)
		} else {
			out[i] = g711.DecodeUlawFrame(b)
		}
	}
	return out
}
