package dialplan

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Timing is a parsed Asterisk time spec "times,weekdays,mdays,months[,tz]"
// (main/pbx_timing.c ast_build_timing) as used by time-based includes,
// GotoIfTime and IFTIME. '|' is accepted as the old separator.
type Timing struct {
	minutes [24 * 60]bool
	dow     [7]bool  // 0 = Sunday
	mday    [32]bool // 1..31
	month   [12]bool // 0 = January
	loc     *time.Location
}

var (
	dayNames   = []string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"}
	monthNames = []string{"jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"}
)

// ParseTiming parses a time spec. Empty or "*" fields match everything.
func ParseTiming(spec string) (*Timing, error) {
	sep := ","
	if strings.Contains(spec, "|") {
		sep = "|"
	}
	f := strings.Split(spec, sep)
	for len(f) < 5 {
		f = append(f, "")
	}
	t := &Timing{}
	if err := t.parseTimes(strings.TrimSpace(f[0])); err != nil {
		return nil, err
	}
	if err := parseRanges(strings.TrimSpace(f[1]), t.dow[:], dayNames, 0, "day of week"); err != nil {
		return nil, err
	}
	if err := parseRanges(strings.TrimSpace(f[2]), t.mday[1:], nil, 1, "day of month"); err != nil {
		return nil, err
	}
	if err := parseRanges(strings.TrimSpace(f[3]), t.month[:], monthNames, 1, "month"); err != nil {
		return nil, err
	}
	if tz := strings.TrimSpace(f[4]); tz != "" {
		loc, err := time.LoadLocation(tz)
		if err != nil {
			return nil, fmt.Errorf("time zone %q: %w", tz, err)
		}
		t.loc = loc
	}
	return t, nil
}

// Match reports whether the spec matches t (ast_check_timing).
func (t *Timing) Match(now time.Time) bool {
	if t.loc != nil {
		now = now.In(t.loc)
	}
	return t.month[now.Month()-1] && t.mday[now.Day()] && t.dow[now.Weekday()] &&
		t.minutes[now.Hour()*60+now.Minute()]
}

func parseClock(s string) (int, error) {
	h, m, ok := strings.Cut(s, ":")
	if !ok {
		m = "0"
	}
	hh, err1 := strconv.Atoi(strings.TrimSpace(h))
	mm, err2 := strconv.Atoi(strings.TrimSpace(m))
	if err1 != nil || err2 != nil || hh < 0 || hh > 23 || mm < 0 || mm > 59 {
		return 0, fmt.Errorf("invalid time %q", s)
	}
	return hh*60 + mm, nil
}

// parseTimes fills the minute mask; "9:00-17:00" includes both ends and a
// range may wrap past midnight. Several ranges may be joined with '&'.
func (t *Timing) parseTimes(s string) error {
	if s == "" || s == "*" {
		for i := range t.minutes {
			t.minutes[i] = true
		}
		return nil
	}
	for part := range strings.SplitSeq(s, "&") {
		a, b, isRange := strings.Cut(part, "-")
		start, err := parseClock(a)
		if err != nil {
			return err
		}
		end := start
		if isRange {
			if end, err = parseClock(b); err != nil {
				return err
			}
		}
		for m := start; ; m = (m + 1) % len(t.minutes) {
			t.minutes[m] = true
			if m == end {
				break
			}
		}
	}
	return nil
}

// parseRanges fills mask from "a-b&c" where items are names (if names is
// set) or numbers starting at base. Ranges wrap around.
func parseRanges(s string, mask []bool, names []string, base int, what string) error {
	if s == "" || s == "*" {
		for i := range mask {
			mask[i] = true
		}
		return nil
	}
	index := func(v string) (int, error) {
		v = strings.ToLower(strings.TrimSpace(v))
		for i, n := range names {
			if v == n {
				return i, nil
			}
		}
		n, err := strconv.Atoi(v)
		if err != nil || n-base < 0 || n-base >= len(mask) {
			return 0, fmt.Errorf("invalid %s %q", what, v)
		}
		return n - base, nil
	}
	for part := range strings.SplitSeq(s, "&") {
		a, b, isRange := strings.Cut(part, "-")
		start, err := index(a)
		if err != nil {
			return err
		}
		end := start
		if isRange {
			if end, err = index(b); err != nil {
				return err
			}
		}
		for i := start; ; i = (i + 1) % len(mask) {
			mask[i] = true
			if i == end {
				break
			}
		}
	}
	return nil
}
