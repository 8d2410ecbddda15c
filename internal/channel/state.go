// Package channel is the model dialplan applications act on: one leg of a
// call with its state, variables, caller ID, language, Asterisk-style name,
// uniqueid and linkedid. The technology side (a SIP leg) sits behind Driver;
// applications never touch SIP.
package channel

// State is a channel state with Asterisk's numbering (include/asterisk/channelstate.h),
// which AMI clients see as ChannelState.
type State int

// Channel states.
const (
	StateDown    State = 0
	StateRsrvd   State = 1
	StateOffHook State = 2
	StateDialing State = 3
	StateRing    State = 4
	StateRinging State = 5
	StateUp      State = 6
	StateBusy    State = 7
)

// String is Asterisk's ast_state2str text (ChannelStateDesc).
func (s State) String() string {
	switch s {
	case StateDown:
		return "Down"
	case StateRsrvd:
		return "Rsrvd"
	case StateOffHook:
		return "OffHook"
	case StateDialing:
		return "Dialing"
	case StateRing:
		return "Ring"
	case StateRinging:
		return "Ringing"
	case StateUp:
		return "Up"
	case StateBusy:
		return "Busy"
	}
	return "Unknown"
}
