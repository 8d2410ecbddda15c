package media

import "sync"

// bridgeLeg makes a session's reader relay what it receives to peer.
type bridgeLeg struct {
	peer *Session
}

// Bridge anchors media between two legs: RTP audio received on a is sent on
// b and vice versa, each leg keeping its own SSRC, sequence numbers and
// timestamps. When the negotiated codecs are equal the payload is copied
// without decoding; PCMU<->PCMA is transcoded with the G.711 tables.
// RFC 4733 telephone-events are relayed with the peer's negotiated
// telephone-event payload type, or dropped when the peer has none.
//
// DTMF: a bridged leg still detects the digits it receives, and they still
// appear on that leg's own DTMF() channel (Dial's feature codes need them).
// The digits are also relayed to the other leg as events, so features that
// must swallow a digit have to do so above this layer.
//
// While bridged, each leg's sink is cleared (no decoding cost); stop puts
// back the sinks the legs had and ends the relaying. A sink set on a leg
// after Bridge also receives that leg's decoded audio. Stop is idempotent.
// Bridging a session that is already bridged replaces its previous peer.
func Bridge(a, b *Session) (stop func()) {
	prevSinkA, prevSinkB := a.sink.Swap(nil), b.sink.Swap(nil)
	prevFwdA := a.fwd.Swap(&bridgeLeg{peer: b})
	prevFwdB := b.fwd.Swap(&bridgeLeg{peer: a})
	var once sync.Once
	return func() {
		once.Do(func() {
			a.fwd.Store(prevFwdA)
			b.fwd.Store(prevFwdB)
			a.sink.Store(prevSinkA)
			b.sink.Store(prevSinkB)
		})
	}
}
