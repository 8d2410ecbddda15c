package apps

import (
	"errors"
	"strings"

	"github.com/entvoice/entvoice/internal/channel"
	"github.com/entvoice/entvoice/internal/pbx"
)

// What applications that hold a caller and connect it later (queues) use
// of this package, beside StartMOH and StopMOH.

// BridgeOptions are the DTMF features each side of a Bridge may use.
type BridgeOptions struct {
	// CalleeTransfer and CallerTransfer: # and an extension of the
	// caller's context blind-transfers the other side (t, T).
	CalleeTransfer, CallerTransfer bool
	// CalleeHangup and CallerHangup: * hangs up (h, H).
	CalleeHangup, CallerHangup bool
}

// BridgeResult tells how a Bridge ended.
type BridgeResult struct {
	// PeerHungUp: the callee hung up (or pressed * with CalleeHangup).
	PeerHungUp bool
	// CallerDisconnect: the caller pressed * (CallerHangup); the callee
	// has been hung up and the caller should be.
	CallerDisconnect bool
	// CallerTo: the callee sent the caller to this extension of the
	// caller's context; CalleeTo: the caller sent the callee there.
	CallerTo, CalleeTo string
}

// Bridge connects an answered caller (e) and an answered peer, as Dial's
// bridge does (Bridge events, anchored media), until one hangs up or a
// feature ends it. It returns channel.ErrHangup when the caller hung up;
// the peer is then hung up. The peer is not destroyed: the caller of
// Bridge decides what becomes of it (a transferred callee runs dialplan).
func (ap *Apps) Bridge(e *pbx.Exec, peer *channel.Channel, o BridgeOptions) (BridgeResult, error) {
	r, err := ap.bridge(e, peer, features{calleeTransfer: o.CalleeTransfer, callerTransfer: o.CallerTransfer,
		calleeHangup: o.CalleeHangup, callerHangup: o.CallerHangup}, nil)
	return BridgeResult{PeerHungUp: r.peerHungUp, CallerDisconnect: r.callerDisconnect, CallerTo: r.callerTo, CalleeTo: r.calleeTo}, err
}

// PlayFile plays one sound to e's channel in its language, as app_queue's
// play_file: a sound that does not exist is skipped; a digit of escape
// stops it and is returned; channel.ErrHangup when the channel hangs up.
// It stops the channel's music on hold first, as every prompt does.
func (ap *Apps) PlayFile(e *pbx.Exec, name, escape string) (rune, error) {
	if strings.TrimSpace(name) == "" {
		return 0, nil
	}
	d, err := ap.streamFile(e, strings.TrimSpace(name), escape)
	if errors.Is(err, errNotFound) {
		return 0, nil
	}
	return d, err
}

// PlayFiles plays sounds in order with PlayFile until a digit of escape.
func (ap *Apps) PlayFiles(e *pbx.Exec, names []string, escape string) (rune, error) {
	for _, n := range names {
		d, err := ap.PlayFile(e, n, escape)
		if err != nil || d != 0 {
			return d, err
		}
	}
	return 0, nil
}
