package control

import (
	"errors"
	"time"
)

// Errors of Queues, as app_queue.c's RES_* codes.
var (
	ErrNoQueue      = errors.New("no such queue")           // RES_NOSUCHQUEUE
	ErrMemberExists = errors.New("member already there")    // RES_EXISTS on add
	ErrNoMember     = errors.New("member not there")        // RES_EXISTS on remove, not found on pause
	ErrNotDynamic   = errors.New("member not dynamic")      // RES_NOT_DYNAMIC
	ErrNoCaller     = errors.New("caller not in the queue") // RES_NOT_CALLER
	ErrWithdrawing  = errors.New("withdraw already requested")
)

// Queues are a node's call queues as AMI's queue actions and the API use
// them (the queue engine implements it). Every method takes the caller's
// tenant scope, as Controller's do: "" is an admin, who names a hosted
// tenant's queue "tenant~name"; a tenant sees only its own queues.
type Queues interface {
	// QueueStatus lists the queues visible in scope (one when queue is
	// set), with their members and waiting callers.
	QueueStatus(scope, queue string) []QueueStatus
	AddMember(scope, queue string, m QueueMemberSpec) error
	RemoveMember(scope, queue, iface string) error
	// PauseMember pauses or unpauses a member of one queue, or of every
	// queue it is in when queue is "".
	PauseMember(scope, queue, iface, reason string, paused bool) error
	SetPenalty(scope, queue, iface string, penalty int) error
	SetRingInUse(scope, queue, iface string, ringinuse bool) error
	// Log writes a custom queue_log row (QueueLog).
	Log(scope, queue, callid, agent, event, data string) error
	// ResetStats clears the statistics of one queue, or all ("").
	ResetStats(scope, queue string) error
	// Rules lists queuerules.conf's rule lists (one when name is set).
	Rules(name string) []QueueRuleList
	// WithdrawCaller asks a waiting caller to leave with QUEUESTATUS
	// WITHDRAW; ChangeCallerPriority changes a caller's priority.
	WithdrawCaller(scope, queue, channel, info string) error
	ChangeCallerPriority(scope, queue, channel string, priority int, immediate bool) error
}

// QueueMemberSpec is a member to add (AddQueueMember, QueueAdd).
type QueueMemberSpec struct {
	Interface      string
	MemberName     string
	StateInterface string
	Penalty        int
	Paused         bool
	Reason         string
	Wrapuptime     int
	// Source names who added it in queue_log's callid column: MANAGER,
	// CLI, REALTIME or a channel's uniqueid.
	Source string
}

// QueueStatus is one queue with its members and callers (QueueStatus's
// QueueParams, QueueMember and QueueEntry events).
type QueueStatus struct {
	Name                         string // as the scope names it
	Tenant                       string
	Max                          int
	Strategy                     string
	Calls                        int
	Holdtime                     int // average, seconds
	TalkTime                     int
	Completed, Abandoned         int
	CompletedInSL, AbandonedInSL int
	ServiceLevel                 int
	Weight                       int
	Members                      []QueueMemberStatus
	Callers                      []QueueCallerStatus
}

// QueueMemberStatus is one member of a queue.
type QueueMemberStatus struct {
	Name           string
	Interface      string
	StateInterface string
	Membership     string // static, dynamic or realtime
	Penalty        int
	CallsTaken     int
	LastCall       time.Time
	LastPause      time.Time
	LoginTime      time.Time
	InCall         bool
	Status         int // Asterisk's ast_device_state
	Paused         bool
	PausedReason   string
	RingInUse      bool
	Wrapuptime     int
}

// QueueCallerStatus is one waiting caller.
type QueueCallerStatus struct {
	Position          int
	Channel           string
	UniqueID          string
	CallerIDNum       string
	CallerIDName      string
	ConnectedLineNum  string
	ConnectedLineName string
	Wait              time.Duration
	Priority          int
}

// QueueRuleList is one rule list of queuerules.conf.
type QueueRuleList struct {
	Name  string
	Rules []QueueRule
}

// QueueRule is one penaltychange: a relative value is added to the
// caller's penalty limit, an absolute one replaces it.
type QueueRule struct {
	Time                     int
	MaxValue, MinValue       int
	MaxRelative, MinRelative bool
}
