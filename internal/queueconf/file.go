package queueconf

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/entvoice/entvoice/internal/astconf"
)

// General is queues.conf's [general] section (queue_set_global_params).
type General struct {
	PersistentMembers      bool
	Autofill               bool
	SharedLastCall         bool
	NegativePenaltyInvalid bool
	LogMembernameAsAgent   bool
	// ForceLongestWaitingCaller: 0 no, 1 yes, 2 prio.
	ForceLongestWaitingCaller int
	LogUnpauseOnReasonChange  bool
	LogCallerIDName           bool
}

// Member is a member line: "member => interface[,penalty[,membername
// [,state_interface[,ringinuse[,wrapuptime[,paused]]]]]]"
// (reload_single_member).
type Member struct {
	Interface      string
	Penalty        int
	MemberName     string // default: the interface
	StateInterface string // default: the interface
	// RingInUse is the member's own ringinuse (nil: the queue's).
	RingInUse  *bool
	Wrapuptime int
	Paused     bool
	// Reason is a paused member's reason (realtime's reason_paused).
	Reason string
	File   string
	Line   int
}

// Queue is one queue of a queues.conf.
type Queue struct {
	Name    string
	Params  Params
	Members []Member
	File    string
	Line    int
}

// File is a parsed queues.conf.
type File struct {
	General General
	Queues  []Queue
	// Warnings name accepted lines that have no effect (recording keys).
	Warnings []string
}

// Parse reads queues.conf text; name is used in errors. Queue names are
// case-insensitive (queue_cmp_cb); a queue defined twice is an error.
func Parse(name string, text string) (*File, error) {
	secs, err := astconf.Parse(name, strings.NewReader(text))
	if err != nil {
		return nil, err
	}
	return build(secs)
}

// ParseFile reads a queues.conf file and the files it includes.
func ParseFile(path string) (*File, error) {
	secs, err := astconf.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return build(secs)
}

func build(secs []*astconf.Section) (*File, error) {
	f := &File{}
	for _, s := range secs {
		if strings.EqualFold(s.Name, "general") && !s.Template {
			if err := f.general(s); err != nil {
				return nil, err
			}
		}
	}
	seen := map[string]*astconf.Section{}
	for _, s := range secs {
		if s.Template || strings.EqualFold(s.Name, "general") {
			continue
		}
		if prev, dup := seen[strings.ToLower(s.Name)]; dup {
			return nil, s.Errorf("queue [%s] already defined at %s:%d", s.Name, prev.File, prev.Line)
		}
		seen[strings.ToLower(s.Name)] = s
		if err := ValidName(s.Name); err != nil {
			return nil, s.Errorf("%v", err)
		}
		q := Queue{Name: s.Name, Params: Defaults(f.General), File: s.File, Line: s.Line}
		// The strategy first, as reload_single_queue reads it before the
		// other parameters; then the rest in order; members last.
		for _, v := range s.Vars {
			if strings.EqualFold(v.Name, "member") {
				continue
			}
			if strings.EqualFold(v.Name, "monitor-format") || strings.EqualFold(v.Name, "monitor-type") {
				f.Warnings = append(f.Warnings, fmt.Sprintf("%s: %s is ignored: queue calls are not recorded", v.Pos(), v.Name))
			}
			if err := q.Params.Set(v.Name, v.Value); err != nil {
				return nil, v.Errorf("queue [%s]: %v", s.Name, err)
			}
		}
		ifaces := map[string]int{}
		for _, v := range s.Vars {
			if !strings.EqualFold(v.Name, "member") {
				continue
			}
			m, err := ParseMember(v.Value)
			if err != nil {
				return nil, v.Errorf("queue [%s]: member: %v", s.Name, err)
			}
			m.File, m.Line = v.File, v.Line
			if i, dup := ifaces[strings.ToLower(m.Interface)]; dup {
				// A second line for an interface replaces the first
				// (reload_single_member), keeping its place.
				q.Members[i] = m
				continue
			}
			ifaces[strings.ToLower(m.Interface)] = len(q.Members)
			q.Members = append(q.Members, m)
		}
		f.Queues = append(f.Queues, q)
	}
	return f, nil
}

func (f *File) general(s *astconf.Section) error {
	for _, v := range s.Vars {
		var err error
		switch strings.ToLower(v.Name) {
		case "persistentmembers":
			f.General.PersistentMembers, err = v.Bool()
		case "autofill":
			f.General.Autofill, err = v.Bool()
		case "monitor-type":
			// Only MixMonitor exists in Asterisk 22; entVoice records no
			// queue calls. Accepted for the sample's sake.
		case "shared_lastcall":
			f.General.SharedLastCall, err = v.Bool()
		case "negative_penalty_invalid":
			f.General.NegativePenaltyInvalid, err = v.Bool()
		case "log_membername_as_agent":
			f.General.LogMembernameAsAgent, err = v.Bool()
		case "force_longest_waiting_caller":
			switch {
			case strings.EqualFold(v.Value, "prio"):
				f.General.ForceLongestWaitingCaller = 2
			case isTrue(v.Value):
				f.General.ForceLongestWaitingCaller = 1
			case isFalse(v.Value):
				f.General.ForceLongestWaitingCaller = 0
			default:
				err = v.Errorf("force_longest_waiting_caller: %q is not yes, no or prio", v.Value)
			}
		case "log_unpause_on_reason_change":
			f.General.LogUnpauseOnReasonChange, err = v.Bool()
		case "log-caller-id-name":
			f.General.LogCallerIDName, err = v.Bool()
		case "updatecdr", "keepstats", "log-restricted-caller-id":
			// Older or per-queue keys Asterisk 22 ignores in [general].
		default:
			err = v.Errorf("unknown [general] key %q", v.Name)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// ParseMember reads the value of a member line (or AddQueueMember's
// arguments in the same order).
func ParseMember(value string) (Member, error) {
	parts := strings.Split(value, ",")
	get := func(i int) string {
		if i < len(parts) {
			return strings.TrimSpace(parts[i])
		}
		return ""
	}
	m := Member{Interface: get(0)}
	if err := ValidInterface(m.Interface); err != nil {
		return m, err
	}
	if s := get(1); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			return m, fmt.Errorf("penalty %q is not an integer", s)
		}
		m.Penalty = max(n, 0) // a negative penalty is 0 (reload_single_member)
	}
	m.MemberName = get(2)
	if m.MemberName == "" {
		m.MemberName = m.Interface
	}
	m.StateInterface = get(3)
	if m.StateInterface == "" {
		m.StateInterface = m.Interface
	}
	if s := get(4); s != "" {
		switch {
		case isTrue(s):
			b := true
			m.RingInUse = &b
		case isFalse(s):
			b := false
			m.RingInUse = &b
		default:
			return m, fmt.Errorf("ringinuse %q is not a boolean", s)
		}
	}
	if s := get(5); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			return m, fmt.Errorf("wrapuptime %q is not an integer", s)
		}
		m.Wrapuptime = max(n, 0)
	}
	if s := get(6); s != "" {
		switch {
		case isTrue(s):
			m.Paused = true
		case isFalse(s):
		default:
			return m, fmt.Errorf("paused %q is not a boolean", s)
		}
	}
	if len(parts) > 7 {
		return m, fmt.Errorf("too many fields (interface,penalty,membername,state_interface,ringinuse,wrapuptime,paused)")
	}
	return m, nil
}

// ValidInterface checks a member interface: Tech/resource, one line.
func ValidInterface(iface string) error {
	tech, res, ok := strings.Cut(iface, "/")
	if !ok || tech == "" || res == "" {
		return fmt.Errorf("interface %q is not Tech/resource", iface)
	}
	if strings.ContainsAny(iface, "\r\n|,") {
		return fmt.Errorf("interface %q contains a line break, '|' or ','", iface)
	}
	return nil
}

// ValidName checks a queue name: what queue_log and AMI can carry.
func ValidName(name string) error {
	if name == "" || len(name) > 128 {
		return fmt.Errorf("queue name %q must have 1 to 128 characters", name)
	}
	if strings.ContainsAny(name, "\r\n|,~[]") || strings.TrimSpace(name) != name {
		return fmt.Errorf("queue name %q contains a line break, '|', ',', '~', brackets or outer spaces", name)
	}
	return nil
}

// Names lists a file's queue names, sorted.
func (f *File) Names() []string {
	out := make([]string, 0, len(f.Queues))
	for _, q := range f.Queues {
		out = append(out, q.Name)
	}
	sort.Strings(out)
	return out
}
