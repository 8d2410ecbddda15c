// Package queueconf reads call queue configuration in Asterisk's syntax:
// queues.conf (a [general] section, one section per queue with its
// parameters and "member =>" lines) and queuerules.conf (penaltychange
// rules), with app_queue.c's keys, values and defaults. A bad line is an
// error naming file:line, where Asterisk would log a warning and carry on
// with a default: a call centre's configuration that does not say what
// its author meant should not start.
//
// It is a leaf (it imports only astconf): the queue engine on a node and
// central's provisioning, which validates realtime queues with Set, both
// use it.
package queueconf

import (
	"fmt"
	"strconv"
	"strings"
)

// Strategy is a ring strategy (app_queue.c's QUEUE_STRATEGY_*).
type Strategy int

// Strategies.
const (
	RingAll Strategy = iota
	LeastRecent
	FewestCalls
	Random
	RRMemory
	Linear
	WRandom
	RROrdered
)

var strategyNames = []struct {
	s    Strategy
	name string
}{
	{RingAll, "ringall"}, {LeastRecent, "leastrecent"}, {FewestCalls, "fewestcalls"}, {Random, "random"},
	{RRMemory, "rrmemory"}, {RRMemory, "roundrobin"}, {Linear, "linear"}, {WRandom, "wrandom"}, {RROrdered, "rrordered"},
}

// String is the strategy's name (int2strat: roundrobin is rrmemory).
func (s Strategy) String() string {
	for _, n := range strategyNames {
		if n.s == s {
			return n.name
		}
	}
	return "<unknown>"
}

// ParseStrategy reads a strategy name, case-insensitively (strat2int).
func ParseStrategy(name string) (Strategy, error) {
	for _, n := range strategyNames {
		if strings.EqualFold(strings.TrimSpace(name), n.name) {
			return n.s, nil
		}
	}
	return 0, fmt.Errorf("unknown strategy %q (ringall, leastrecent, fewestcalls, random, rrmemory, rrordered, linear or wrandom)", name)
}

// Empty is a set of member conditions that count as "no member" for
// joinempty and leavewhenempty (app_queue.c's QUEUE_EMPTY_*).
type Empty uint

// Empty conditions.
const (
	EmptyPenalty Empty = 1 << iota
	EmptyPaused
	EmptyInUse
	EmptyRinging
	EmptyUnavailable
	EmptyInvalid
	EmptyUnknown
	EmptyWrapup
)

// ParseEmpty reads a joinempty (join true) or leavewhenempty value as
// parse_empty_options does: a comma list of conditions, loose, strict,
// or a yes/no of the historic form.
func ParseEmpty(value string, join bool) (Empty, error) {
	var e Empty
	for _, o := range strings.Split(value, ",") {
		o = strings.ToLower(strings.TrimSpace(o))
		switch {
		case o == "paused":
			e |= EmptyPaused
		case o == "penalty":
			e |= EmptyPenalty
		case o == "inuse":
			e |= EmptyInUse
		case o == "ringing":
			e |= EmptyRinging
		case o == "invalid":
			e |= EmptyInvalid
		case o == "wrapup":
			e |= EmptyWrapup
		case o == "unavailable":
			e |= EmptyUnavailable
		case o == "unknown":
			e |= EmptyUnknown
		case o == "loose":
			e = EmptyPenalty | EmptyInvalid
		case o == "strict":
			e = EmptyPenalty | EmptyInvalid | EmptyPaused | EmptyUnavailable
		case isFalse(o) && join, isTrue(o) && !join:
			e = EmptyPenalty | EmptyInvalid | EmptyPaused
		case isFalse(o) && !join, isTrue(o) && join:
			e = 0
		default:
			return 0, fmt.Errorf("unknown condition %q (paused, penalty, inuse, ringing, unavailable, invalid, unknown, wrapup, loose, strict, yes or no)", o)
		}
	}
	return e, nil
}

// Announce-holdtime and announce-position values.
const (
	HoldtimeNo     = 0
	HoldtimeAlways = 1
	HoldtimeOnce   = 2

	PositionYes      = 1
	PositionNo       = 2
	PositionMoreThan = 3
	PositionLimit    = 4
)

// AutoPause modes.
const (
	AutoPauseOff = 0
	AutoPauseOn  = 1
	AutoPauseAll = 2
)

// Defaults of app_queue.c.
const (
	DefaultRetry                = 5
	DefaultTimeout              = 15
	DefaultMinAnnounceFrequency = 15
	MaxPeriodicAnnouncements    = 10
)

// Params are one queue's parameters (struct call_queue's settings).
type Params struct {
	Strategy    Strategy
	MusicClass  string
	Announce    string // played to the member before bridging
	Context     string // exit context: a digit matching one of its extensions leaves the queue
	MemberGosub string
	DefaultRule string

	Timeout, Retry, Wrapuptime, Maxlen, Weight int
	ServiceLevel, MemberDelay                  int
	PenaltyMembersLimit                        int
	// TimeoutPriorityConf: the queue's timeout wins over Queue()'s
	// (timeoutpriority=conf); by default the application's does.
	TimeoutPriorityConf bool

	RingInUse, SetInterfaceVar, SetQueueVar, SetQueueEntryVar bool
	ReportHoldtime, TimeoutRestart, AnnounceToFirstUser       bool
	Autofill                                                  bool
	AutoPause, AutoPauseDelay                                 int
	AutoPauseBusy, AutoPauseUnavail                           bool
	LogRestrictedCallerID                                     bool

	JoinEmpty, LeaveWhenEmpty Empty

	AnnounceFrequency, MinAnnounceFrequency, AnnounceRoundSeconds int
	AnnounceHoldtime                                              int
	AnnouncePosition, AnnouncePositionLimit                       int
	AnnouncePositionOnlyUp                                        bool
	PeriodicAnnounce                                              []string
	PeriodicAnnounceFrequency, PeriodicAnnounceStartDelay         int
	RandomPeriodicAnnounce, RelativePeriodicAnnounce              bool

	// Sounds (queue-youarenext, ... ).
	SoundNext, SoundThereAre, SoundCalls, Quantity1, Quantity2 string
	SoundHoldtime, SoundMinutes, SoundMinute, SoundSeconds     string
	SoundThanks, SoundCallerAnnounce, SoundReportHold          string
}

// Defaults are init_queue's values; autofill is [general]'s.
func Defaults(g General) Params {
	return Params{
		Strategy: RingAll, Timeout: DefaultTimeout, Retry: DefaultRetry,
		MinAnnounceFrequency: DefaultMinAnnounceFrequency, AnnounceHoldtime: HoldtimeAlways,
		AnnouncePosition: PositionYes, AnnouncePositionLimit: 10, RingInUse: true, Autofill: g.Autofill,
		PeriodicAnnounceStartDelay: -1, LogRestrictedCallerID: true,
		PeriodicAnnounce: []string{"queue-periodic-announce"},
		SoundNext:        "queue-youarenext", SoundThereAre: "queue-thereare", SoundCalls: "queue-callswaiting",
		Quantity1: "queue-quantity1", Quantity2: "queue-quantity2", SoundHoldtime: "queue-holdtime",
		SoundMinutes: "queue-minutes", SoundMinute: "queue-minute", SoundSeconds: "queue-seconds",
		SoundThanks: "queue-thankyou", SoundReportHold: "queue-reporthold",
	}
}

// fields are the parameters that are a plain string, a number of 0 or
// more, or a boolean, by key.
func (p *Params) fields() (strs map[string]*string, ints map[string]*int, bools map[string]*bool) {
	strs = map[string]*string{"musicclass": &p.MusicClass, "music": &p.MusicClass, "musiconhold": &p.MusicClass,
		"announce": &p.Announce, "context": &p.Context, "membergosub": &p.MemberGosub, "defaultrule": &p.DefaultRule,
		"queue-youarenext": &p.SoundNext, "queue-thereare": &p.SoundThereAre, "queue-callswaiting": &p.SoundCalls,
		"queue-quantity1": &p.Quantity1, "queue-quantity2": &p.Quantity2, "queue-holdtime": &p.SoundHoldtime,
		"queue-minutes": &p.SoundMinutes, "queue-minute": &p.SoundMinute, "queue-seconds": &p.SoundSeconds,
		"queue-thankyou": &p.SoundThanks, "queue-callerannounce": &p.SoundCallerAnnounce, "queue-reporthold": &p.SoundReportHold}
	ints = map[string]*int{"timeout": &p.Timeout, "wrapuptime": &p.Wrapuptime, "maxlen": &p.Maxlen, "weight": &p.Weight,
		"servicelevel": &p.ServiceLevel, "memberdelay": &p.MemberDelay, "penaltymemberslimit": &p.PenaltyMembersLimit,
		"autopausedelay": &p.AutoPauseDelay, "announce-frequency": &p.AnnounceFrequency,
		"min-announce-frequency": &p.MinAnnounceFrequency, "announce-position-limit": &p.AnnouncePositionLimit,
		"periodic-announce-frequency": &p.PeriodicAnnounceFrequency}
	bools = map[string]*bool{"ringinuse": &p.RingInUse, "setinterfacevar": &p.SetInterfaceVar, "setqueuevar": &p.SetQueueVar,
		"setqueueentryvar": &p.SetQueueEntryVar, "reportholdtime": &p.ReportHoldtime, "timeoutrestart": &p.TimeoutRestart,
		"announce-to-first-user": &p.AnnounceToFirstUser, "autofill": &p.Autofill, "autopausebusy": &p.AutoPauseBusy,
		"autopauseunavail": &p.AutoPauseUnavail, "announce-position-only-up": &p.AnnouncePositionOnlyUp,
		"relative-periodic-announce": &p.RelativePeriodicAnnounce, "random-periodic-announce": &p.RandomPeriodicAnnounce,
		"log-restricted-caller-id": &p.LogRestrictedCallerID}
	return strs, ints, bools
}

// Set applies one parameter as queue_set_param does. Values Asterisk
// would log and replace with a default are errors here.
func (p *Params) Set(key, value string) error {
	key = strings.ReplaceAll(strings.ToLower(strings.TrimSpace(key)), "_", "-")
	value = strings.TrimSpace(value)
	strs, ints, bools := p.fields()
	if f, ok := strs[key]; ok {
		*f = value
		return nil
	}
	if f, ok := ints[key]; ok {
		n, err := nonNegative(key, value)
		if err == nil {
			*f = n
		}
		return err
	}
	if f, ok := bools[key]; ok {
		b, err := boolean(key, value)
		if err == nil {
			*f = b
		}
		return err
	}
	var err error
	switch key {
	case "monitor-format":
		// Recording queue calls (MixMonitor) is not supported; the key
		// is accepted so that a sample-derived file loads.
	case "retry":
		if p.Retry, err = nonNegative(key, value); err == nil && p.Retry == 0 {
			p.Retry = DefaultRetry // retry <= 0 is the default (queue_set_param)
		}
	case "periodic-announce-startdelay":
		p.PeriodicAnnounceStartDelay, err = atoi(key, value)
	case "announce-round-seconds":
		var n int
		if n, err = atoi(key, value); err == nil {
			switch n {
			case 0, 5, 10, 15, 20, 30:
				p.AnnounceRoundSeconds = n
			default:
				err = fmt.Errorf("%s: %d is not 0, 5, 10, 15, 20 or 30", key, n)
			}
		}
	case "autopause":
		switch {
		case value == "" || isFalse(value):
			p.AutoPause = AutoPauseOff
		case isTrue(value):
			p.AutoPause = AutoPauseOn
		case strings.EqualFold(value, "all"):
			p.AutoPause = AutoPauseAll
		default:
			err = fmt.Errorf("%s: %q is not yes, no or all", key, value)
		}
	case "announce-holdtime":
		switch {
		case strings.EqualFold(value, "once"):
			p.AnnounceHoldtime = HoldtimeOnce
		case isTrue(value):
			p.AnnounceHoldtime = HoldtimeAlways
		case isFalse(value):
			p.AnnounceHoldtime = HoldtimeNo
		default:
			err = fmt.Errorf("%s: %q is not yes, no or once", key, value)
		}
	case "announce-position":
		switch {
		case strings.EqualFold(value, "limit"):
			p.AnnouncePosition = PositionLimit
		case strings.EqualFold(value, "more"):
			p.AnnouncePosition = PositionMoreThan
		case isTrue(value):
			p.AnnouncePosition = PositionYes
		case isFalse(value):
			p.AnnouncePosition = PositionNo
		default:
			err = fmt.Errorf("%s: %q is not yes, no, limit or more", key, value)
		}
	case "periodic-announce":
		var list []string
		for _, f := range strings.FieldsFunc(value, func(r rune) bool { return r == ',' || r == '|' }) {
			if f = strings.TrimSpace(f); f != "" {
				list = append(list, f)
			}
		}
		if len(list) > MaxPeriodicAnnouncements {
			list = list[:MaxPeriodicAnnouncements]
		}
		p.PeriodicAnnounce = list
	case "strategy":
		p.Strategy, err = ParseStrategy(value)
		err = named(key, err)
	case "joinempty":
		p.JoinEmpty, err = ParseEmpty(value, true)
		err = named(key, err)
	case "leavewhenempty":
		p.LeaveWhenEmpty, err = ParseEmpty(value, false)
		err = named(key, err)
	case "timeoutpriority":
		p.TimeoutPriorityConf = strings.EqualFold(value, "conf")
		if !p.TimeoutPriorityConf && !strings.EqualFold(value, "app") {
			err = fmt.Errorf("%s: %q is not app or conf", key, value)
		}
	default:
		return fmt.Errorf("unknown queue parameter %q", key)
	}
	return err
}

// named prefixes an error with the key it is about.
func named(key string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s: %w", key, err)
}

func atoi(key, v string) (int, error) {
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil {
		return 0, fmt.Errorf("%s: %q is not an integer", key, v)
	}
	return n, nil
}

func nonNegative(key, v string) (int, error) {
	n, err := atoi(key, v)
	if err == nil && n < 0 {
		err = fmt.Errorf("%s: %d is negative", key, n)
	}
	return n, err
}

func boolean(key, v string) (bool, error) {
	switch {
	case isTrue(v):
		return true, nil
	case isFalse(v):
		return false, nil
	}
	return false, fmt.Errorf("%s: %q is not a boolean (yes or no)", key, v)
}

// isTrue and isFalse are ast_true and ast_false.
func isTrue(s string) bool {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "yes", "true", "y", "t", "1", "on":
		return true
	}
	return false
}

func isFalse(s string) bool {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "no", "false", "n", "f", "0", "off":
		return true
	}
	return false
}

// IsTrue is Asterisk's ast_true.
func IsTrue(s string) bool { return isTrue(s) }

// IsFalse is Asterisk's ast_false.
func IsFalse(s string) bool { return isFalse(s) }
