// Package events is the node's typed in-process event bus. Channels publish
// what happens to them; AMI, CDR, metrics and webhooks subscribe. Publishing
// never blocks the call path: each subscriber has a bounded queue and a
// subscriber that falls behind loses events (counted) rather than slowing
// calls down.
package events

import (
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Kind names an event; the names are Asterisk 22's AMI event names so the
// AMI server can map them one to one.
type Kind string

// Channel and dial events, in the vocabulary of Asterisk's stasis messages.
const (
	Newchannel       Kind = "Newchannel"
	Newstate         Kind = "Newstate"
	Newexten         Kind = "Newexten"
	VarSet           Kind = "VarSet"
	DialBegin        Kind = "DialBegin"
	DialEnd          Kind = "DialEnd"
	BridgeEnter      Kind = "BridgeEnter"
	BridgeLeave      Kind = "BridgeLeave"
	DTMFEnd          Kind = "DTMFEnd"
	HangupRequest    Kind = "HangupRequest"
	Hangup           Kind = "Hangup"
	CDR              Kind = "Cdr"
	PeerStatus       Kind = "PeerStatus"
	ContactStatus    Kind = "ContactStatus"
	FullyBooted      Kind = "FullyBooted"
	InvalidPassword  Kind = "InvalidPassword"
	SuccessfulAuth   Kind = "SuccessfulAuth"
	ChallengeSent    Kind = "ChallengeSent"
	RequestNotAllowd Kind = "RequestNotAllowed"

	SoftHangupRequest Kind = "SoftHangupRequest"
	DialState         Kind = "DialState"
	BridgeCreate      Kind = "BridgeCreate"
	BridgeDestroy     Kind = "BridgeDestroy"
	DTMFBegin         Kind = "DTMFBegin"
	DeviceStateChange Kind = "DeviceStateChange"
	ExtensionStatus   Kind = "ExtensionStatus"
	UserEvent         Kind = "UserEvent"
	// AGIExecStart and AGIExecEnd bracket each AGI command (res_agi.c
	// agi_handle_command); AGI carries Command and CommandID, and for
	// AGIExecEnd also ResultCode and Result.
	AGIExecStart      Kind = "AGIExecStart"
	AGIExecEnd        Kind = "AGIExecEnd"
	OriginateResponse Kind = "OriginateResponse"
	// AsyncAGIStart, AsyncAGIExec and AsyncAGIEnd bracket an AsyncAGI
	// session (res_agi.c launch_asyncagi); AGI carries Env on Start,
	// Result and CommandID on Exec.
	AsyncAGIStart Kind = "AsyncAGIStart"
	AsyncAGIExec  Kind = "AsyncAGIExec"
	AsyncAGIEnd   Kind = "AsyncAGIEnd"

	// Hold and Unhold: the far end of the channel put the call on hold or
	// took it off (ast_queue_hold); Hold carries MusicClass.
	Hold   Kind = "Hold"
	Unhold Kind = "Unhold"

	// Conferences (app_confbridge's confbridge_manager.c): Conference
	// names the conference and the participant's flags, Bridge is the
	// conference's bridge; Start, End, Record and StopRecord have no
	// Channel (Tenant scopes them).
	ConfbridgeStart      Kind = "ConfbridgeStart"
	ConfbridgeEnd        Kind = "ConfbridgeEnd"
	ConfbridgeJoin       Kind = "ConfbridgeJoin"
	ConfbridgeLeave      Kind = "ConfbridgeLeave"
	ConfbridgeTalking    Kind = "ConfbridgeTalking"
	ConfbridgeMute       Kind = "ConfbridgeMute"
	ConfbridgeUnmute     Kind = "ConfbridgeUnmute"
	ConfbridgeRecord     Kind = "ConfbridgeRecord"
	ConfbridgeStopRecord Kind = "ConfbridgeStopRecord"

	// Parking (res_parking's parking_manager.c): Channel is the parkee,
	// Dest the retriever of UnParkedCall, Parked the parked call.
	ParkedCall        Kind = "ParkedCall"
	ParkedCallTimeOut Kind = "ParkedCallTimeOut"
	ParkedCallGiveUp  Kind = "ParkedCallGiveUp"
	UnParkedCall      Kind = "UnParkedCall"

	// Pickup: Channel picked up the ringing Dest (main/pickup.c).
	Pickup Kind = "Pickup"
)

// Conference is the body of the Confbridge* events.
type Conference struct {
	Name    string
	Admin   bool
	Muted   bool // ConfbridgeJoin
	Talking bool // ConfbridgeTalking
}

// Parked is the parked-call body of the parking events
// (ast_parked_call_payload).
type Parked struct {
	ParkerDialString string
	Lot              string
	Space            int
	Timeout          int // seconds left before the call times out
	Duration         int // seconds parked so far
}

// Queue events (app_queue.c), with Queue set. The caller events carry the
// caller's channel; the agent events the caller's and, as Dest, the
// member's leg; the member events no channel (Tenant scopes them).
const (
	QueueCallerJoin      Kind = "QueueCallerJoin"
	QueueCallerLeave     Kind = "QueueCallerLeave"
	QueueCallerAbandon   Kind = "QueueCallerAbandon"
	AgentCalled          Kind = "AgentCalled"
	AgentRingNoAnswer    Kind = "AgentRingNoAnswer"
	AgentConnect         Kind = "AgentConnect"
	AgentComplete        Kind = "AgentComplete"
	AgentDump            Kind = "AgentDump"
	QueueMemberStatus    Kind = "QueueMemberStatus"
	QueueMemberAdded     Kind = "QueueMemberAdded"
	QueueMemberRemoved   Kind = "QueueMemberRemoved"
	QueueMemberPause     Kind = "QueueMemberPause"
	QueueMemberPenalty   Kind = "QueueMemberPenalty"
	QueueMemberRinginuse Kind = "QueueMemberRinginuse"
)

// Queue is the body of the queue events: the fields of app_queue.c's
// blobs (which fields a Kind shows, and in what order, is the AMI's
// business). Times are Unix seconds, durations seconds, except
// AgentRingNoAnswer's RingTime (milliseconds, as rna() reports it).
type Queue struct {
	Queue string
	// Caller events.
	Position, Count, OriginalPosition int
	HoldTime                          int
	// Agent events (and member events' Interface and MemberName).
	Interface, MemberName string
	RingTime, TalkTime    int
	Reason                string // AgentComplete: caller, agent or transfer
	// Member events.
	StateInterface, Membership     string
	Penalty, CallsTaken            int
	LastCall, LastPause, LoginTime int64
	InCall, Status, Paused         int
	PausedReason                   string
	Ringinuse, Wrapuptime          int
}

// Voicemail events.
const (
	// MessageWaiting is a mailbox's state after a change (manager_mwi.c):
	// Mailbox carries it, Channel the channel that changed it, if any.
	MessageWaiting Kind = "MessageWaiting"
)

// Bridge is the bridge block of Bridge* events (manager_bridges.c).
type Bridge struct {
	UniqueID    string
	Type        string // basic
	Technology  string // simple_bridge
	Creator     string // Dial
	Name        string
	NumChannels int
}

// AGI is the body of AGIExec* and AsyncAGI* events (res_agi.c).
type AGI struct {
	CommandID string
	Command   string // AGIExec*
	// ResultCode and Result: AGIExecEnd; Result alone (the reply lines
	// the script would have read): AsyncAGIExec.
	ResultCode string
	Result     string
	Env        string // AsyncAGIStart: the agi_* environment block
}

// Mailbox is the message-waiting state of one voicemail mailbox
// (Asterisk's ast_mwi_state): what MessageWaiting events, AMI's
// MailboxCount and SIP NOTIFYs of message-summary (RFC 3842) report.
type Mailbox struct {
	// Mailbox is "mailbox@context", the context as the mailbox's tenant
	// names it (Event.Tenant says which tenant).
	Mailbox string
	// New counts the messages not yet heard (INBOX and Urgent), Urgent
	// those of them marked urgent, Old the heard ones.
	New, Old, Urgent int
}

// Snapshot is the state of a channel when an event happened: the fields of
// Asterisk's standard channel block (manager_channels.c).
type Snapshot struct {
	Channel          string
	State            int
	StateDesc        string
	CallerIDNum      string
	CallerIDName     string
	ConnectedLineNum string
	ConnectedLineNam string
	Language         string
	AccountCode      string
	Context          string
	Exten            string
	Priority         int
	UniqueID         string
	LinkedID         string
	Tenant           string
}

// Event is one thing that happened. Fields irrelevant to a Kind are zero.
type Event struct {
	Kind    Kind
	Time    time.Time
	Channel *Snapshot // the channel the event is about
	Dest    *Snapshot // the other channel of two-channel events (DialBegin...)

	App, AppData string // Newexten
	Variable     string // VarSet
	Value        string
	DialString   string // DialBegin
	DialStatus   string // DialEnd
	Cause        int    // Hangup, HangupRequest
	Digit        rune   // DTMFEnd
	Duration     time.Duration
	Direction    string // DTMF: Received or Sent
	Peer         string // PeerStatus/ContactStatus: "PJSIP/1001"
	Status       string // PeerStatus (Reachable...), ContactStatus (Created, Removed...)
	URI          string // ContactStatus: the contact
	Address      string // remote address of security and contact events
	AGI          *AGI   // AGIExec*, AsyncAGI*
	Fields       map[string]string
	Bridge       *Bridge // Bridge* events
	MusicClass   string  // Hold: the class the holder suggests
	Conference   *Conference
	Parked       *Parked
	Queue        *Queue // queue events
	// Tenant scopes an event that has no Channel (PeerStatus, UserEvent...);
	// "" is the default tenant, seen by admins only.
	Tenant string
	// Extra holds "Key: Value" body lines, in order, for the events the
	// AMI server raises itself (UserEvent, OriginateResponse,
	// DeviceStateChange, ExtensionStatus, its security events).
	Extra []string
	// Mailbox is the mailbox state of MessageWaiting.
	Mailbox *Mailbox
}

// ExtraValue returns the value of the Extra line "key: value", or "".
func (e *Event) ExtraValue(key string) string {
	for _, l := range e.Extra {
		if k, v, ok := strings.Cut(l, ": "); ok && k == key {
			return v
		}
	}
	return ""
}

// TenantOf is the tenant an event belongs to: its channel's, or Tenant.
func (e *Event) TenantOf() string {
	if e.Channel != nil {
		return e.Channel.Tenant
	}
	return e.Tenant
}

// Bus fans events out to subscribers. The zero value is not usable; use New.
//
// It also counts demand: whether anyone wants the bus's events at all, so
// a producer elsewhere (a node sending its events up to central) can stop
// when nobody does. A Subscribe is demand; a SubscribePassive is not (a
// fan-out that only matters while its own consumers, who Want, exist).
type Bus struct {
	mu   sync.RWMutex
	subs map[*Subscription]struct{}

	wantMu  sync.Mutex
	wants   int
	changed chan struct{} // closed and replaced when demand starts or stops
}

// New returns an empty bus.
func New() *Bus { return &Bus{subs: map[*Subscription]struct{}{}, changed: make(chan struct{})} }

// Want records demand for the bus's events until release is called (once).
func (b *Bus) Want() (release func()) {
	b.addWant(1)
	var once sync.Once
	return func() { once.Do(func() { b.addWant(-1) }) }
}

func (b *Bus) addWant(d int) {
	b.wantMu.Lock()
	defer b.wantMu.Unlock()
	before := b.wants > 0
	b.wants += d
	if (b.wants > 0) != before {
		close(b.changed)
		b.changed = make(chan struct{})
	}
}

// Wanted reports whether anyone wants the bus's events, and a channel
// closed when that changes.
func (b *Bus) Wanted() (bool, <-chan struct{}) {
	b.wantMu.Lock()
	defer b.wantMu.Unlock()
	return b.wants > 0, b.changed
}

// Subscription receives events on C until Close. Every subscriber of an
// event gets the same *Event: it must not be modified.
type Subscription struct {
	C       chan *Event
	bus     *Bus
	dropped atomic.Uint64
	filter  func(*Event) bool
	once    sync.Once
	release func() // its demand
}

// Subscribe returns a subscription with a queue of size events. filter, if
// not nil, selects the events delivered. It counts as demand (Want) until
// Close.
func (b *Bus) Subscribe(size int, filter func(*Event) bool) *Subscription {
	s := b.SubscribePassive(size, filter)
	s.release = b.Want()
	return s
}

// SubscribePassive is Subscribe without demand.
func (b *Bus) SubscribePassive(size int, filter func(*Event) bool) *Subscription {
	s := &Subscription{C: make(chan *Event, size), bus: b, filter: filter, release: func() {}}
	b.mu.Lock()
	b.subs[s] = struct{}{}
	b.mu.Unlock()
	return s
}

// Dropped is how many events this subscriber lost because its queue was full.
func (s *Subscription) Dropped() uint64 { return s.dropped.Load() }

// Close unsubscribes and closes C.
func (s *Subscription) Close() {
	s.once.Do(func() {
		s.bus.mu.Lock()
		delete(s.bus.subs, s)
		s.bus.mu.Unlock()
		close(s.C)
		s.release()
	})
}

// Publish delivers e to every subscriber without blocking. The event is
// stored once and shared: a queue slot is a pointer, so a subscriber's
// queue of 65536 events costs 512 KB rather than the 20 MB of copies.
func (b *Bus) Publish(e Event) {
	if e.Time.IsZero() {
		e.Time = time.Now()
	}
	p := &e
	b.mu.RLock()
	defer b.mu.RUnlock()
	for s := range b.subs {
		if s.filter != nil && !s.filter(p) {
			continue
		}
		select {
		case s.C <- p:
		default:
			s.dropped.Add(1)
		}
	}
}

// HasSubscribers reports whether anyone listens, so publishers can skip
// building snapshots nobody reads.
func (b *Bus) HasSubscribers() bool {
	b.mu.RLock()
	defer b.mu.RUnlock()
	return len(b.subs) > 0
}
