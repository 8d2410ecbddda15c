package ami

import (
	"errors"
	"regexp"
	"strings"
)

// Event filters of a session, as the Filter action adds them (manager.c
// manager_add_filter, should_send_event). A filter is "legacy" (a regular
// expression over the whole event, "!" in front to exclude) or "advanced"
// (MatchCriteria: action(include|exclude), name(Event), header(Header),
// method(regex|exact|starts_with|ends_with|contains|none)).

// Filter match methods (FILTER_MATCH_*).
const (
	matchNone = iota
	matchRegex
	matchExact
	matchStartsWith
	matchEndsWith
	matchContains
)

type eventFilter struct {
	exclude bool
	name    string // event name, matched exactly ("" any)
	header  string // "Header:" to test instead of the whole event
	method  int
	re      *regexp.Regexp
	text    string
}

// filterSet is a session's filters; it is replaced, never changed, once
// published.
type filterSet struct {
	include, exclude []*eventFilter
}

// Filter errors, with the texts action_filter answers.
var (
	errFilterFormat  = errors.New("Filter was formatted incorrectly.  Check the syntax of the filter given.") //lint:ignore ST1005 the AMI reply text
	errFilterCompile = errors.New("Filter did not compile.  Check the syntax of the filter given.")           //lint:ignore ST1005 the AMI reply text
)

// parseFilter reads a filter as manager_add_filter does: criteria is
// "eventfilter" or "eventfilter(options)", pattern the filter's value.
func parseFilter(criteria, pattern string) (*eventFilter, error) {
	f := &eventFilter{method: matchRegex}
	if criteria == "" {
		return nil, errFilterFormat
	}
	if strings.HasPrefix(pattern, "!") {
		f.exclude = true
		pattern = pattern[1:]
	}
	open := strings.IndexByte(criteria, '(')
	if open < 0 && pattern == "" {
		return nil, errFilterFormat
	}
	if open >= 0 {
		if err := f.parseOptions(criteria[open+1:], pattern); err != nil {
			return nil, err
		}
	}
	if pattern == "" {
		return f, nil
	}
	if f.method != matchRegex {
		f.text = pattern
		return f, nil
	}
	// POSIX extended regex without REG_NEWLINE: "." also matches the
	// line ends of the event.
	re, err := regexp.Compile("(?s)" + pattern)
	if err != nil {
		return nil, errFilterCompile
	}
	f.re = re
	return f, nil
}

// parseOptions reads the advanced options "action(..),name(..),...)".
func (f *eventFilter) parseOptions(opts, pattern string) error {
	f.method = matchNone
	opts = strings.TrimSpace(opts)
	if opts == "" || !strings.HasSuffix(opts, ")") {
		return errFilterFormat
	}
	arg := func(opt string) (string, bool) {
		i := strings.IndexByte(opt, '(')
		if i < 0 {
			return "", false
		}
		v := strings.TrimSpace(opt[i+1:])
		return v, v != ""
	}
	var found, named, headed bool
	// strtok_r(" ,)"): the closing parentheses end the tokens.
	for _, opt := range strings.FieldsFunc(opts, func(r rune) bool { return r == ' ' || r == ',' || r == ')' }) {
		v, ok := arg(opt)
		if !ok {
			return errFilterFormat
		}
		switch {
		case strings.HasPrefix(opt, "action"):
			switch v {
			case "include":
				f.exclude = false
			case "exclude":
				f.exclude = true
			default:
				return errFilterFormat
			}
		case strings.HasPrefix(opt, "name"):
			f.name, named = v, true
		case strings.HasPrefix(opt, "header"):
			if !strings.HasSuffix(v, ":") {
				v += ":"
			}
			f.header, headed = v, true
		case strings.HasPrefix(opt, "method"):
			m, ok := map[string]int{"regex": matchRegex, "exact": matchExact, "starts_with": matchStartsWith,
				"ends_with": matchEndsWith, "contains": matchContains, "none": matchNone}[v]
			if !ok {
				return errFilterFormat
			}
			f.method = m
		default:
			return errFilterFormat
		}
		found = true
	}
	switch {
	case !found,
		pattern == "" && f.method != matchNone,
		pattern != "" && f.method == matchNone,
		!named && !headed && f.method == matchNone:
		return errFilterFormat
	}
	return nil
}

func (f *eventFilter) matchData(s string) bool {
	switch f.method {
	case matchRegex:
		return f.re.MatchString(s)
	case matchStartsWith:
		return strings.HasPrefix(s, f.text)
	case matchEndsWith:
		return strings.HasSuffix(s, f.text)
	case matchContains:
		return strings.Contains(s, f.text)
	case matchExact:
		return s == f.text
	}
	return true
}

// match tests one event (filter_cmp_fn): its name, then the whole text or
// each line starting with the header (case-sensitive, blanks after it
// skipped, empty values ignored).
func (f *eventFilter) match(name string, msg []byte) bool {
	if f.name != "" && f.name != name {
		return false
	}
	if f.header == "" {
		return f.matchData(string(msg))
	}
	for _, l := range strings.Split(string(msg), "\n") {
		l = strings.TrimSuffix(l, "\r")
		if !strings.HasPrefix(l, f.header) {
			continue
		}
		v := strings.TrimLeft(l[len(f.header):], " \t")
		if v != "" && f.matchData(v) {
			return true
		}
	}
	return false
}

func anyMatch(fs []*eventFilter, name string, msg []byte) bool {
	for _, f := range fs {
		if f.match(name, msg) {
			return true
		}
	}
	return false
}

// pass is should_send_event: with include filters only the events one
// includes pass; with exclude filters only, those none excludes; with
// both, those included and not excluded.
func (fs *filterSet) pass(name string, msg []byte) bool {
	if fs == nil || len(fs.include) == 0 && len(fs.exclude) == 0 {
		return true
	}
	if len(fs.include) > 0 && !anyMatch(fs.include, name, msg) {
		return false
	}
	return !anyMatch(fs.exclude, name, msg)
}

// with returns the set with f added.
func (fs *filterSet) with(f *eventFilter) *filterSet {
	next := &filterSet{}
	if fs != nil {
		next.include, next.exclude = fs.include, fs.exclude
	}
	if f.exclude {
		next.exclude = append(next.exclude[:len(next.exclude):len(next.exclude)], f)
	} else {
		next.include = append(next.include[:len(next.include):len(next.include)], f)
	}
	return next
}

// filterAction is action_filter: Operation Add only.
func (ss *session) filterAction(m *Message) bool {
	if !strings.EqualFold(m.Get("Operation"), "Add") {
		ss.reply(errorResponse(m, "Unknown operation"))
		return true
	}
	criteria := "eventfilter"
	if mc := m.Get("MatchCriteria"); mc != "" {
		criteria += "(" + mc + ")"
	}
	f, err := parseFilter(criteria, m.Get("Filter"))
	if err != nil {
		ss.reply(errorResponse(m, err.Error()))
		return true
	}
	ss.qmu.Lock()
	ss.filters.Store(ss.filters.Load().with(f))
	ss.qmu.Unlock()
	ss.reply(ack(m, "Success"))
	return true
}
