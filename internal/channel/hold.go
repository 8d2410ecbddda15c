package channel

import "github.com/entvoice/entvoice/internal/events"

// defaultHoldClass is the music class a holder suggests when its channel
// has none: chan_pjsip queues AST_CONTROL_HOLD with the endpoint's
// moh_suggest, whose default is "default".
const defaultHoldClass = "default"

// holdState is whether the far end of a channel holds the call.
type holdState struct {
	held    bool
	class   string
	changed chan struct{} // closed and replaced on every change
}

// RemoteHold records that the far end put the call on hold (on) or took
// it off hold, as a technology driver learns it (PJSIP: a re-INVITE or
// UPDATE offering sendonly or inactive, or c=0.0.0.0, RFC 3264 section
// 8.4). It publishes Hold (with the music class the holder suggests: its
// CHANNEL(musicclass), else "default") or Unhold, as ast_queue_hold and
// ast_queue_unhold do, and wakes whoever waits on Held's channel (the
// bridge the channel is in, which plays music on hold to the other party).
// A repeated state changes nothing.
func (c *Channel) RemoteHold(on bool) {
	c.mu.Lock()
	if c.hold.held == on {
		c.mu.Unlock()
		return
	}
	c.hold.held = on
	c.hold.class = ""
	if on {
		c.hold.class = c.musicClass
		if c.hold.class == "" {
			c.hold.class = defaultHoldClass
		}
	}
	if c.hold.changed != nil {
		close(c.hold.changed)
		c.hold.changed = nil
	}
	class := c.hold.class
	c.mu.Unlock()
	if on {
		c.publish(events.Event{Kind: events.Hold, MusicClass: class})
	} else {
		c.publish(events.Event{Kind: events.Unhold})
	}
}

// Held reports whether the far end holds the call, the music class it
// suggests while it does, and a channel closed at the next change.
func (c *Channel) Held() (held bool, class string, changed <-chan struct{}) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.hold.changed == nil {
		c.hold.changed = make(chan struct{})
	}
	return c.hold.held, c.hold.class, c.hold.changed
}
