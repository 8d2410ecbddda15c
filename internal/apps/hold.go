package apps

import (
	"github.com/entvoice/entvoice/internal/channel"
	"github.com/entvoice/entvoice/internal/media"
)

// bridgeMedia is the media of a two-party bridge, which a hold pauses.
// While one party holds the call, the other hears music on hold in the
// class the holder suggests (Asterisk's bridge writes the holder's
// AST_CONTROL_HOLD to the peer, whose channel driver answers it with
// ast_moh_start; the peer's own CHANNEL(musicclass) comes first there),
// and nothing is relayed either way; when the hold ends the party hears
// the call again. Announcements pause it too (pause and resume).
type bridgeMedia struct {
	ap     *Apps
	a, b   *channel.Channel
	sa, sb *media.Session
	stop   func() // the media bridge, nil while none runs

	paused       bool
	heldA, heldB bool
	// musicA and musicB: the party hears music on hold because the
	// other holds.
	musicA, musicB bool
	waitA, waitB   <-chan struct{} // the next hold change of a and b
}

func newBridgeMedia(ap *Apps, a, b *channel.Channel, sa, sb *media.Session) *bridgeMedia {
	m := &bridgeMedia{ap: ap, a: a, b: b, sa: sa, sb: sb}
	m.update()
	return m
}

// holdA and holdB are closed when a party's hold state changes; the
// bridge's loop calls update then.
func (m *bridgeMedia) holdA() <-chan struct{} { return m.waitA }
func (m *bridgeMedia) holdB() <-chan struct{} { return m.waitB }

// update applies the parties' hold states: music to whoever is held by
// the other, the media bridge while nobody holds.
func (m *bridgeMedia) update() {
	var classA, classB string
	m.heldA, classA, m.waitA = m.a.Held()
	m.heldB, classB, m.waitB = m.b.Held()
	m.music(m.b, m.sb, &m.musicB, m.heldA, classA)
	m.music(m.a, m.sa, &m.musicA, m.heldB, classB)
	m.apply()
}

// music starts or stops ch's music on hold.
func (m *bridgeMedia) music(ch *channel.Channel, s *media.Session, playing *bool, want bool, class string) {
	switch {
	case want && !*playing:
		m.unbridge()
		if err := m.ap.startMOHOn(ch, s, class); err != nil {
			ch.Log().Warn("cannot play music on hold to the held party", "class", class, "err", err)
		}
		*playing = true
	case !want && *playing:
		m.ap.StopMOH(ch)
		*playing = false
	}
}

func (m *bridgeMedia) apply() {
	if m.paused || m.heldA || m.heldB {
		m.unbridge()
		return
	}
	if m.stop == nil {
		m.stop = media.Bridge(m.sa, m.sb)
	}
}

func (m *bridgeMedia) unbridge() {
	if m.stop != nil {
		m.stop()
		m.stop = nil
	}
}

// pause stops relaying (and any music) while an announcement plays to the
// parties; resume restores what the hold states call for.
func (m *bridgeMedia) pause() {
	m.paused = true
	m.unbridge()
	m.music(m.b, m.sb, &m.musicB, false, "")
	m.music(m.a, m.sa, &m.musicA, false, "")
}

func (m *bridgeMedia) resume() {
	m.paused = false
	m.update()
}

// close ends the bridge's media: no relaying, no music started by it.
func (m *bridgeMedia) close() {
	m.paused = true
	m.unbridge()
	m.music(m.b, m.sb, &m.musicB, false, "")
	m.music(m.a, m.sa, &m.musicA, false, "")
}
