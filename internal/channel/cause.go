package channel

import (
	"strconv"
	"strings"
)

// Q.850 hangup causes used by the node (include/asterisk/causes.h).
const (
	CauseUnallocated       = 1
	CauseNoRoute           = 3
	CauseNormalClearing    = 16
	CauseUserBusy          = 17
	CauseNoUserResponse    = 18
	CauseNoAnswer          = 19
	CauseSubscriberAbsent  = 20
	CauseCallRejected      = 21
	CauseAnsweredElsewhere = 26
	CauseDestOutOfOrder    = 27
	CauseInvalidNumber     = 28
	CauseNormalUnspecified = 31
	CauseCongestion        = 34
	CauseNetworkOutOfOrder = 38
	CauseTemporaryFailure  = 41
	CauseSwitchCongestion  = 42
	CauseChanUnavailable   = 44
	CauseFacilityNotSubscr = 50
	CauseOutgoingBarred    = 52
	CauseBearerNotAvail    = 58
	CauseIncompatibleDest  = 88
	CauseRecoverOnTimer    = 102
	CauseProtocolError     = 111
	CauseInterworking      = 127
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

// CauseText is the Cause-txt Asterisk prints for a cause code.
func CauseText(cause int) string {
	if t, ok := causeText[cause]; ok {
		return t
	}
	return "Unknown"
}

// ParseCause accepts a number or one of Asterisk's aliases (Hangup(BUSY)).
func ParseCause(s string) (int, bool) {
	s = strings.TrimSpace(s)
	if n, err := strconv.Atoi(s); err == nil && n >= 0 && n < 128 {
		return n, true
	}
	switch strings.ToUpper(s) {
	case "BUSY":
		return CauseUserBusy, true
	case "CONGESTION":
		return CauseCongestion, true
	case "NOANSWER":
		return CauseNoAnswer, true
	case "FAILURE":
		return CauseNetworkOutOfOrder, true
	case "UNREGISTERED":
		return CauseSubscriberAbsent, true
	case "NORMAL", "NORMAL_CLEARING":
		return CauseNormalClearing, true
	}
	return 0, false
}

// CauseToSIP maps a Q.850 cause to the SIP final response chan_pjsip sends
// when it hangs up an unanswered inbound channel (hangup_cause2sip; causes
// it has no code for, Normal Clearing among them, give 603 Decline).
func CauseToSIP(cause int) int {
	switch cause {
	case CauseNormalClearing, 0:
		return 603
	case CauseUnallocated, CauseNoRoute:
		return 404
	case CauseUserBusy:
		return 486
	case CauseNoUserResponse:
		return 408
	case CauseNoAnswer, CauseSubscriberAbsent:
		return 480
	case CauseCallRejected:
		return 403
	case 22:
		return 410
	case CauseDestOutOfOrder:
		return 502
	case CauseInvalidNumber:
		return 484
	case 29:
		return 501
	case CauseNormalUnspecified:
		return 480
	case CauseCongestion, CauseSwitchCongestion, CauseTemporaryFailure, CauseNetworkOutOfOrder, CauseChanUnavailable:
		return 503
	case CauseFacilityNotSubscr, CauseOutgoingBarred:
		return 403
	case CauseBearerNotAvail, CauseIncompatibleDest:
		return 488
	case CauseRecoverOnTimer:
		return 504
	}
	return 603
}

// SIPToCause maps a SIP final response code to a Q.850 cause (RFC 3398
// section 8.2.6.1, as Asterisk's hangup_sip2cause).
func SIPToCause(code int) int {
	switch code {
	case 401, 402, 403, 407:
		return CauseCallRejected
	case 404, 485, 604:
		return CauseUnallocated
	case 408:
		return CauseNoUserResponse
	case 410:
		return 22
	case 480:
		return CauseNoAnswer
	case 483:
		return CauseNoUserResponse
	case 484:
		return CauseInvalidNumber
	case 486, 600:
		return CauseUserBusy
	case 487:
		return CauseNormalClearing
	case 488, 606:
		return CauseIncompatibleDest
	case 500:
		return CauseTemporaryFailure
	case 501:
		return 29
	case 502:
		return CauseDestOutOfOrder
	case 503:
		return CauseCongestion
	case 504:
		return CauseRecoverOnTimer
	case 603:
		return CauseCallRejected
	}
	if code >= 400 && code < 500 {
		return CauseInterworking
	}
	if code >= 500 {
		return CauseInterworking
	}
	return CauseNormalClearing
}
