package ami

import (
	"strings"
	"testing"

	"github.com/entvoice/entvoice/internal/events"
)

// TestRenderUnifiedCommunications: the conference, parking, pickup and
// hold events with Asterisk 22's fields in its order.
func TestRenderUnifiedCommunications(t *testing.T) {
	ch := &events.Snapshot{Channel: "PJSIP/1001-00000001", State: 6, StateDesc: "Up", CallerIDNum: "1001", CallerIDName: "Alice",
		Language: "en", Context: "conf", Exten: "800", Priority: 1, UniqueID: "1.1", LinkedID: "1.1"}
	other := &events.Snapshot{Channel: "PJSIP/1002-00000002", State: 5, StateDesc: "Ringing", CallerIDNum: "1002", Language: "en",
		UniqueID: "1.2", LinkedID: "1.1"}
	bridge := &events.Bridge{UniqueID: "b-1", Type: "base", Technology: "softmix", Creator: "ConfBridge", Name: "800", NumChannels: 2}
	block := func(p string, s *events.Snapshot) string {
		w := builder{}
		w.channelBlock(p, s)
		return string(w.b)
	}
	bridgeText := "BridgeUniqueid: b-1\r\nBridgeType: base\r\nBridgeTechnology: softmix\r\nBridgeCreator: ConfBridge\r\nBridgeName: 800\r\nBridgeNumChannels: 2\r\nBridgeVideoSourceMode: none\r\n"
	for _, c := range []struct {
		e    events.Event
		want string
	}{
		{events.Event{Kind: events.ConfbridgeJoin, Channel: ch, Bridge: bridge, Conference: &events.Conference{Name: "800", Muted: true}},
			"Conference: 800\r\n" + bridgeText + block("", ch) + "Admin: No\r\nMuted: Yes\r\n"},
		{events.Event{Kind: events.ConfbridgeTalking, Channel: ch, Bridge: bridge, Conference: &events.Conference{Name: "800", Admin: true, Talking: true}},
			"Conference: 800\r\n" + bridgeText + block("", ch) + "TalkingStatus: on\r\nAdmin: Yes\r\n"},
		{events.Event{Kind: events.ConfbridgeEnd, Bridge: bridge, Conference: &events.Conference{Name: "800"}},
			"Conference: 800\r\n" + bridgeText},
		{events.Event{Kind: events.UnParkedCall, Channel: ch, Dest: other, Parked: &events.Parked{ParkerDialString: "PJSIP/1001", Lot: "default", Space: 701, Timeout: 40, Duration: 5}},
			block("Parkee", ch) + block("Retriever", other) + "ParkerDialString: PJSIP/1001\r\nParkinglot: default\r\nParkingSpace: 701\r\nParkingTimeout: 40\r\nParkingDuration: 5\r\n"},
		{events.Event{Kind: events.Pickup, Channel: ch, Dest: other}, block("", ch) + block("Target", other)},
		{events.Event{Kind: events.Hold, Channel: ch, MusicClass: "default"}, block("", ch) + "MusicClass: default\r\n"},
		{events.Event{Kind: events.Unhold, Channel: ch}, block("", ch)},
	} {
		class, b, ok := render(&c.e, renderOpts{})
		if !ok || class != ClassCall {
			t.Errorf("%s: class %v ok %v", c.e.Kind, class, ok)
		}
		want := "Event: " + string(c.e.Kind) + "\r\nPrivilege: call,all\r\n" + c.want + "\r\n"
		if string(b) != want {
			t.Errorf("%s:\n%s\nwant\n%s", c.e.Kind, strings.ReplaceAll(string(b), "\r\n", "|\n"), strings.ReplaceAll(want, "\r\n", "|\n"))
		}
	}
}
