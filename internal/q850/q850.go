// Package q850 holds the ITU-T Q.850 hangup causes as Asterisk uses them
// (include/asterisk/causes.h): their text, their aliases in the dialplan,
// and their mapping to and from SIP responses. It is a leaf every layer may
// use: channels record a cause, SIP signals it, AMI prints it.
package q850

import (
	"strconv"
	"strings"
)

// Q.850 hangup causes used by the node (include/asterisk/causes.h).
const (
	Unallocated       = 1
	NoRoute           = 3
	NormalClearing    = 16
	UserBusy          = 17
	NoUserResponse    = 18
	NoAnswer          = 19
	SubscriberAbsent  = 20
	CallRejected      = 21
	AnsweredElsewhere = 26
	DestOutOfOrder    = 27
	InvalidNumber     = 28
	NormalUnspecified = 31
	Congestion        = 34
	NetworkOutOfOrder = 38
	TemporaryFailure  = 41
	SwitchCongestion  = 42
	ChanUnavailable   = 44
	NoSuchDriver      = 66
	FacilityNotSubscr = 50
	OutgoingBarred    = 52
	BearerNotAvail    = 58
	IncompatibleDest  = 88
	RecoverOnTimer    = 102
	ProtocolError     = 111
	Interworking      = 127
)

// causeText is ast_cause2str's table (main/channel.c causes[]).
var causeText = map[int]string{
	0:   "Unknown",
	1:   "Unallocated (unassigned) number",
	2:   "No route to specified transmit network",
	3:   "No route to destination",
	6:   "Channel unacceptable",
	7:   "Call awarded and being delivered in an established channel",
	16:  "Normal Clearing",
	17:  "User busy",
	18:  "No user responding",
	19:  "User alerting, no answer",
	20:  "Subscriber absent",
	21:  "Call Rejected",
	22:  "Number changed",
	23:  "Redirected to new destination",
	26:  "Answered elsewhere",
	27:  "Destination out of order",
	28:  "Invalid number format",
	29:  "Facility rejected",
	30:  "Response to STATus ENQuiry",
	31:  "Normal, unspecified",
	34:  "Circuit/channel congestion",
	38:  "Network out of order",
	41:  "Temporary failure",
	42:  "Switching equipment congestion",
	43:  "Access information discarded",
	44:  "Requested channel not available",
	50:  "Facility not subscribed",
	52:  "Outgoing call barred",
	54:  "Incoming call barred",
	57:  "Bearer capability not authorized",
	58:  "Bearer capability not available",
	65:  "Bearer capability not implemented",
	66:  "Channel not implemented",
	69:  "Facility not implemented",
	81:  "Invalid call reference value",
	88:  "Incompatible destination",
	95:  "Invalid message unspecified",
	96:  "Mandatory information element is missing",
	97:  "Message type nonexist.",
	98:  "Wrong message",
	99:  "Info. element nonexist or not implemented",
	100: "Invalid information element contents",
	101: "Message not compatible with call state",
	102: "Recover on timer expiry",
	111: "Protocol error, unspecified",
	127: "Interworking, unspecified",
}

// Text is the Cause-txt Asterisk prints for a cause code.
func Text(cause int) string {
	if t, ok := causeText[cause]; ok {
		return t
	}
	return "Unknown"
}

// Parse accepts a number or one of Asterisk's aliases (Hangup(BUSY)).
func Parse(s string) (int, bool) {
	s = strings.TrimSpace(s)
	if n, err := strconv.Atoi(s); err == nil && n >= 0 && n < 128 {
		return n, true
	}
	switch strings.ToUpper(s) {
	case "BUSY":
		return UserBusy, true
	case "CONGESTION":
		return Congestion, true
	case "NOANSWER":
		return NoAnswer, true
	case "FAILURE":
		return NetworkOutOfOrder, true
	case "UNREGISTERED":
		return SubscriberAbsent, true
	case "NORMAL", "NORMAL_CLEARING":
		return NormalClearing, true
	}
	return 0, false
}

// ToSIP maps a Q.850 cause to the SIP final response chan_pjsip sends
// when it hangs up an unanswered inbound channel (hangup_cause2sip; causes
// it has no code for, Normal Clearing among them, give 603 Decline).
func ToSIP(cause int) int {
	switch cause {
	case NormalClearing, 0:
		return 603
	case Unallocated, NoRoute:
		return 404
	case UserBusy:
		return 486
	case NoUserResponse:
		return 408
	case NoAnswer, SubscriberAbsent:
		return 480
	case CallRejected:
		return 403
	case 22:
		return 410
	case DestOutOfOrder:
		return 502
	case InvalidNumber:
		return 484
	case 29:
		return 501
	case NormalUnspecified:
		return 480
	case Congestion, SwitchCongestion, TemporaryFailure, NetworkOutOfOrder, ChanUnavailable:
		return 503
	case FacilityNotSubscr, OutgoingBarred:
		return 403
	case BearerNotAvail, IncompatibleDest:
		return 488
	case RecoverOnTimer:
		return 504
	}
	return 603
}

// FromSIP maps a SIP final response code to a Q.850 cause (RFC 3398
// section 8.2.6.1, as Asterisk's hangup_sip2cause).
func FromSIP(code int) int {
	switch code {
	case 401, 402, 403, 407:
		return CallRejected
	case 404, 485, 604:
		return Unallocated
	case 408:
		return NoUserResponse
	case 410:
		return 22
	case 480:
		return NoAnswer
	case 483:
		return NoUserResponse
	case 484:
		return InvalidNumber
	case 486, 600:
		return UserBusy
	case 487:
		return NormalClearing
	case 488, 606:
		return IncompatibleDest
	case 500:
		return TemporaryFailure
	case 501:
		return 29
	case 502:
		return DestOutOfOrder
	case 503:
		return Congestion
	case 504:
		return RecoverOnTimer
	case 603:
		return CallRejected
	}
	if code >= 400 && code < 500 {
		return Interworking
	}
	if code >= 500 {
		return Interworking
	}
	return NormalClearing
}
