package ami

import (
	"strconv"
	"strings"
	"time"

	"github.com/entvoice/entvoice/internal/events"
	"github.com/entvoice/entvoice/internal/q850"
	"github.com/entvoice/entvoice/internal/tenancy"
)

// eventClass is the class an event is sent under (the EVENT_FLAG_* of the
// Asterisk code that raises it).
func eventClass(k events.Kind) Class {
	if events.IsSecurity(k) {
		return ClassSecurity
	}
	switch k {
	case events.Newexten, events.VarSet:
		return ClassDialplan
	case events.CDR:
		return ClassCDR
	case events.PeerStatus, events.ContactStatus, events.FullyBooted:
		return ClassSystem
	case events.DTMFBegin, events.DTMFEnd:
		return ClassDTMF
	case events.UserEvent:
		return ClassUser
	case events.AGIExecStart, events.AGIExecEnd, events.AsyncAGIStart, events.AsyncAGIExec, events.AsyncAGIEnd:
		return ClassAGI
	}
	if isQueueEvent(k) {
		return ClassAgent // app_queue raises its events as EVENT_FLAG_AGENT
	}
	return ClassCall
}

// builder writes CRLF-framed header lines.
type builder struct{ b []byte }

func (w *builder) h(k, v string) {
	w.b = append(w.b, k...)
	w.b = append(w.b, ": "...)
	w.b = append(w.b, v...)
	w.b = append(w.b, '\r', '\n')
}

func (w *builder) line(l string) {
	w.b = append(w.b, l...)
	w.b = append(w.b, '\r', '\n')
}

func (w *builder) end() []byte {
	w.b = append(w.b, '\r', '\n')
	return w.b
}

func orUnknown(s string) string {
	if s == "" {
		return "<unknown>"
	}
	return s
}

// escapeC escapes a caller name as ast_escape_c does.
func escapeC(s string) string {
	if !strings.ContainsAny(s, "\a\b\f\n\r\t\v\\'\"?") {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		switch r {
		case '\a':
			b.WriteString(`\a`)
		case '\b':
			b.WriteString(`\b`)
		case '\f':
			b.WriteString(`\f`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		case '\v':
			b.WriteString(`\v`)
		case '\\', '\'', '"', '?':
			b.WriteByte('\\')
			b.WriteRune(r)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// clean keeps a value on one line: CR and LF would break the framing.
func clean(s string) string {
	if !strings.ContainsAny(s, "\r\n") {
		return s
	}
	return strings.NewReplacer("\r", " ", "\n", " ").Replace(s)
}

// channelBlock writes the standard channel block with a prefix ("" or
// "Dest"), as ast_manager_build_channel_state_string_prefix does.
func (w *builder) channelBlock(p string, s *events.Snapshot) {
	w.h(p+"Channel", s.Channel)
	w.h(p+"ChannelState", strconv.Itoa(s.State))
	w.h(p+"ChannelStateDesc", s.StateDesc)
	w.h(p+"CallerIDNum", orUnknown(clean(s.CallerIDNum)))
	w.h(p+"CallerIDName", orUnknown(escapeC(s.CallerIDName)))
	w.h(p+"ConnectedLineNum", orUnknown(clean(s.ConnectedLineNum)))
	w.h(p+"ConnectedLineName", orUnknown(escapeC(s.ConnectedLineNam)))
	w.h(p+"Language", s.Language)
	w.h(p+"AccountCode", clean(s.AccountCode))
	// A hosted tenant knows its contexts by their bare names (as in
	// ${CONTEXT}, the CDR and the Originate/Redirect actions), not the
	// node's namespaced "tenant~context".
	w.h(p+"Context", tenancy.BareContext(s.Tenant, s.Context))
	w.h(p+"Exten", clean(s.Exten))
	w.h(p+"Priority", strconv.Itoa(s.Priority))
	w.h(p+"Uniqueid", s.UniqueID)
	w.h(p+"Linkedid", s.LinkedID)
	// Asterisk 22 adds Tenantid only when the channel has a tenant id
	// set (ast_manager_build_channel_state_string_prefix); the default
	// tenant (static configuration) is a plain Asterisk's: none.
	if !tenancy.IsDefault(s.Tenant) {
		w.h(p+"Tenantid", s.Tenant)
	}
}

func (w *builder) bridgeBlock(b *events.Bridge) {
	if b == nil {
		return
	}
	w.h("BridgeUniqueid", b.UniqueID)
	w.h("BridgeType", b.Type)
	w.h("BridgeTechnology", b.Technology)
	w.h("BridgeCreator", b.Creator)
	w.h("BridgeName", b.Name)
	w.h("BridgeNumChannels", strconv.Itoa(b.NumChannels))
	w.h("BridgeVideoSourceMode", "none")
}

// timestamp formats a time as manager.c's Timestamp: seconds.microseconds.
func timestamp(t time.Time) string {
	us := t.UnixMicro()
	return strconv.FormatInt(us/1e6, 10) + "." + pad6(us%1e6)
}

func pad6(n int64) string {
	s := strconv.FormatInt(n, 10)
	return strings.Repeat("0", 6-len(s)) + s
}

// cdrOrder is cdr_manager.c's field order.
var cdrOrder = []string{"AccountCode", "Source", "Destination", "DestinationContext", "CallerID",
	"Channel", "DestinationChannel", "LastApplication", "LastData", "StartTime", "AnswerTime",
	"EndTime", "Duration", "BillableSeconds", "Disposition", "AMAFlags", "UniqueID", "UserField"}

// renderOpts are the server-wide parts of an event.
type renderOpts struct {
	timestamps bool   // timestampevents
	systemName string // asterisk.conf systemname
}

// render formats an event as __manager_event_sessions_va does: Event,
// Privilege, [Timestamp], [SystemName], body. ok is false for an event AMI
// does not show.
func render(e *events.Event, o renderOpts) (Class, []byte, bool) {
	c := eventClass(e.Kind)
	w := builder{b: make([]byte, 0, 512)}
	w.h("Event", string(e.Kind))
	w.h("Privilege", privilege(c))
	if o.timestamps {
		w.h("Timestamp", timestamp(e.Time))
	}
	if o.systemName != "" {
		w.h("SystemName", o.systemName)
	}
	ch := e.Channel
	block := func() {
		if ch != nil {
			w.channelBlock("", ch)
		}
	}
	dest := func() {
		if e.Dest != nil {
			w.channelBlock("Dest", e.Dest)
		}
	}
	switch e.Kind {
	case events.Newchannel, events.Newstate:
		block()
	case events.Newexten:
		block()
		if ch != nil {
			w.h("Extension", clean(ch.Exten))
		}
		w.h("Application", e.App)
		w.h("AppData", clean(e.AppData))
	case events.VarSet:
		if ch != nil {
			block()
		} else {
			w.h("Channel", "none")
			w.h("Uniqueid", "none")
		}
		w.h("Variable", clean(e.Variable))
		w.h("Value", clean(e.Value))
	case events.DialBegin:
		block()
		dest()
		w.h("DialString", clean(e.DialString))
	case events.DialState, events.DialEnd:
		block()
		dest()
		w.h("DialStatus", e.DialStatus)
	case events.BridgeCreate, events.BridgeDestroy:
		w.bridgeBlock(e.Bridge)
	case events.BridgeEnter, events.BridgeLeave:
		w.bridgeBlock(e.Bridge)
		block()
	case events.HangupRequest, events.SoftHangupRequest:
		block()
		if e.Cause != 0 {
			w.h("Cause", strconv.Itoa(e.Cause))
		}
	case events.Hold:
		// manager_channels.c channel_hold_cb.
		block()
		if e.MusicClass != "" {
			w.h("MusicClass", clean(e.MusicClass))
		}
	case events.Unhold:
		block()
	case events.ConfbridgeStart, events.ConfbridgeEnd, events.ConfbridgeRecord, events.ConfbridgeStopRecord,
		events.ConfbridgeJoin, events.ConfbridgeLeave, events.ConfbridgeTalking, events.ConfbridgeMute, events.ConfbridgeUnmute:
		w.confbridge(e)
	case events.ParkedCall, events.ParkedCallTimeOut, events.ParkedCallGiveUp, events.UnParkedCall:
		w.parked(e)
	case events.Pickup:
		// call_pickup_to_ami: the picker, then the target as Target.
		block()
		if e.Dest != nil {
			w.channelBlock("Target", e.Dest)
		}
	case events.Hangup:
		block()
		w.h("Cause", strconv.Itoa(e.Cause))
		w.h("Cause-txt", q850.Text(e.Cause))
	case events.DTMFBegin, events.DTMFEnd:
		block()
		w.h("Digit", string(e.Digit))
		if e.Kind == events.DTMFEnd {
			w.h("DurationMs", strconv.FormatInt(e.Duration.Milliseconds(), 10))
		}
		w.h("Direction", e.Direction)
	case events.CDR:
		for _, k := range cdrOrder {
			w.h(k, clean(e.Fields[k]))
		}
	case events.PeerStatus:
		w.h("ChannelType", "PJSIP")
		w.h("Peer", e.Peer)
		w.h("PeerStatus", e.Status)
		if e.Address != "" {
			w.h("Address", e.Address)
		}
	case events.ContactStatus:
		// res_pjsip's contact status: the AOR and endpoint are the
		// user's name.
		name := strings.TrimPrefix(e.Peer, "PJSIP/")
		w.h("URI", e.URI)
		w.h("ContactStatus", e.Status)
		w.h("AOR", name)
		w.h("EndpointName", name)
	case events.FullyBooted:
		w.h("Status", "Fully Booted")
	case events.MessageWaiting:
		w.messageWaiting(e)
	case events.AGIExecStart, events.AGIExecEnd:
		// The body in res_agi.c's JSON blob order.
		block()
		if a := e.AGI; a != nil {
			w.h("CommandId", clean(a.CommandID))
			w.h("Command", clean(a.Command))
			if e.Kind == events.AGIExecEnd {
				w.h("ResultCode", a.ResultCode)
				w.h("Result", clean(a.Result))
			}
		}
	case events.AsyncAGIStart, events.AsyncAGIExec, events.AsyncAGIEnd:
		// launch_asyncagi URL-encodes the environment and each reply.
		block()
		if a := e.AGI; a != nil {
			switch e.Kind {
			case events.AsyncAGIStart:
				w.h("Env", uriEncode([]byte(a.Env), asyncEncodeMax))
			case events.AsyncAGIExec:
				w.h("Result", uriEncode([]byte(a.Result), asyncEncodeMax))
				if a.CommandID != "" {
					w.h("CommandId", clean(a.CommandID))
				}
			}
		}
	case events.QueueCallerJoin, events.QueueCallerLeave, events.QueueCallerAbandon, events.AgentCalled,
		events.AgentRingNoAnswer, events.AgentConnect, events.AgentComplete, events.AgentDump, events.QueueMemberStatus,
		events.QueueMemberAdded, events.QueueMemberRemoved, events.QueueMemberPause, events.QueueMemberPenalty,
		events.QueueMemberRinginuse:
		renderQueue(&w, e)
	default:
		// Events the AMI server raised with their body ready (UserEvent,
		// security events, OriginateResponse, DeviceStateChange,
		// ExtensionStatus).
		for _, l := range e.Extra {
			w.line(clean(l))
		}
	}
	return c, w.end(), true
}

// asyncEncodeMax is AMI_BUF_SIZE: an AsyncAGI event's URL-encoded Env or
// Result is cut to fit it (launch_asyncagi).
const asyncEncodeMax = 2048

// uriEncode is ast_uri_encode with ast_uri_http: letters, digits and
// "-_.!~*'()" (RFC 2396 section 2.3) are kept, every other byte becomes
// %XX with upper-case hex; the result is cut, never inside an escape, to
// fit a buffer of max bytes with its NUL.
func uriEncode(s []byte, max int) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	b.Grow(len(s) * 2)
	for _, c := range s {
		keep := c >= '0' && c <= '9' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || strings.IndexByte("-_.!~*'()", c) >= 0
		if keep {
			if b.Len() >= max-1 {
				break
			}
			b.WriteByte(c)
			continue
		}
		if b.Len() >= max-3 {
			break
		}
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&15])
	}
	return b.String()
}

// confbridge writes a Confbridge* event's body as
// confbridge_publish_manager_event does: Conference, the bridge block,
// the channel block (participant events), then the event's own headers.
func (w *builder) confbridge(e *events.Event) {
	c := e.Conference
	if c == nil {
		return
	}
	w.h("Conference", clean(c.Name))
	w.bridgeBlock(e.Bridge)
	if e.Channel != nil {
		w.channelBlock("", e.Channel)
	}
	switch e.Kind {
	case events.ConfbridgeJoin:
		w.h("Admin", yesNo(c.Admin))
		w.h("Muted", yesNo(c.Muted))
	case events.ConfbridgeTalking:
		status := "off"
		if c.Talking {
			status = "on"
		}
		w.h("TalkingStatus", status)
		w.h("Admin", yesNo(c.Admin))
	case events.ConfbridgeLeave, events.ConfbridgeMute, events.ConfbridgeUnmute:
		w.h("Admin", yesNo(c.Admin))
	}
}

// parked writes a parking event's body as manager_build_parked_call_string
// does: the parkee's block, the retriever's (when there is one), then the
// parked call.
func (w *builder) parked(e *events.Event) {
	p := e.Parked
	if p == nil || e.Channel == nil {
		return
	}
	w.channelBlock("Parkee", e.Channel)
	if e.Dest != nil {
		w.channelBlock("Retriever", e.Dest)
	}
	w.h("ParkerDialString", clean(p.ParkerDialString))
	w.h("Parkinglot", clean(p.Lot))
	w.h("ParkingSpace", strconv.Itoa(p.Space))
	w.h("ParkingTimeout", strconv.Itoa(p.Timeout))
	w.h("ParkingDuration", strconv.Itoa(p.Duration))
}
