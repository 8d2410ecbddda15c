package queueconf

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/entvoice/entvoice/internal/astconf"
)

// Rule is one penaltychange line of queuerules.conf: at Time seconds
// into the caller's wait, QUEUE_MAX_PENALTY, QUEUE_MIN_PENALTY and
// QUEUE_RAISE_PENALTY change, absolutely or relatively (app_queue.c's
// struct penalty_rule).
type Rule struct {
	Time                                    int
	MaxValue, MinValue, RaiseValue          int
	MaxRelative, MinRelative, RaiseRelative bool
	RaiseRespectMin                         bool
	File                                    string
	Line                                    int
}

// Rules are the rule lists of queuerules.conf by lower-case name, each
// sorted by time.
type Rules map[string][]Rule

// Get returns the rules of a list (case-insensitive) and whether it
// exists.
func (r Rules) Get(name string) ([]Rule, bool) {
	l, ok := r[strings.ToLower(name)]
	return l, ok
}

// Names lists the rule lists, sorted.
func (r Rules) Names() []string {
	out := make([]string, 0, len(r))
	for n := range r {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// ParseRules reads queuerules.conf text.
func ParseRules(name, text string) (Rules, error) {
	secs, err := astconf.Parse(name, strings.NewReader(text))
	if err != nil {
		return nil, err
	}
	return buildRules(secs)
}

// ParseRulesFile reads a queuerules.conf file.
func ParseRulesFile(path string) (Rules, error) {
	secs, err := astconf.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return buildRules(secs)
}

func buildRules(secs []*astconf.Section) (Rules, error) {
	out := Rules{}
	for _, s := range secs {
		if s.Template {
			continue
		}
		if strings.EqualFold(s.Name, "general") {
			for _, v := range s.Vars {
				if !strings.EqualFold(v.Name, "realtime_rules") {
					return nil, v.Errorf("unknown [general] key %q", v.Name)
				}
				if on, err := v.Bool(); err != nil {
					return nil, err
				} else if on {
					return nil, v.Errorf("realtime_rules: rules come from this file only")
				}
			}
			continue
		}
		name := strings.ToLower(s.Name)
		if _, dup := out[name]; dup {
			return nil, s.Errorf("rule list [%s] defined twice", s.Name)
		}
		list := []Rule{}
		for _, v := range s.Vars {
			if !strings.EqualFold(v.Name, "penaltychange") {
				return nil, v.Errorf("rule list [%s]: unknown key %q (penaltychange)", s.Name, v.Name)
			}
			r, err := ParsePenaltyChange(v.Value)
			if err != nil {
				return nil, v.Errorf("rule list [%s]: penaltychange: %v", s.Name, err)
			}
			r.File, r.Line = v.File, v.Line
			list = append(list, r)
		}
		// insert_penaltychange keeps each list sorted by time, a later
		// line of the same time after the earlier.
		sort.SliceStable(list, func(i, j int) bool { return list[i].Time < list[j].Time })
		out[name] = list
	}
	return out, nil
}

// ParsePenaltyChange reads "time,max[,min[,raise]]" (insert_penaltychange):
// a value with a sign, or an empty one, is relative (empty: no change).
func ParsePenaltyChange(value string) (Rule, error) {
	var r Rule
	parts := strings.Split(value, ",")
	if len(parts) < 2 || len(parts) > 4 {
		return r, fmt.Errorf("%q is not time,max[,min[,raise]]", value)
	}
	t, err := strconv.Atoi(strings.TrimSpace(parts[0]))
	if err != nil || t < 0 {
		return r, fmt.Errorf("time %q is not a number of seconds", parts[0])
	}
	r.Time = t
	num := func(what, s string) (int, bool, error) {
		s = strings.TrimSpace(s)
		if s == "" {
			return 0, true, nil
		}
		rel := s[0] == '+' || s[0] == '-'
		n, err := strconv.Atoi(s)
		if err != nil {
			return 0, false, fmt.Errorf("%s %q is not an integer", what, s)
		}
		return n, rel, nil
	}
	if r.MaxValue, r.MaxRelative, err = num("max", parts[1]); err != nil {
		return r, err
	}
	r.MinRelative = true
	if len(parts) > 2 {
		if r.MinValue, r.MinRelative, err = num("min", parts[2]); err != nil {
			return r, err
		}
	}
	r.RaiseRelative = true
	if len(parts) > 3 {
		s := strings.TrimSpace(parts[3])
		if strings.HasPrefix(s, "r") {
			r.RaiseRespectMin = true
			s = s[1:]
		}
		if r.RaiseValue, r.RaiseRelative, err = num("raise", s); err != nil {
			return r, err
		}
	}
	return r, nil
}
