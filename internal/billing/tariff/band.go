package tariff

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// MinutesPerWeek is the resolution of bands: a band is a set of the
// 10,080 minutes of a week (Monday 00:00 is minute 0).
const MinutesPerWeek = 7 * 24 * 60

// Band is a time-of-day / day-of-week window in which a rate applies, in
// the deck's time zone. Its text form is
//
//	DAYS [HH:MM-HH:MM]   or   HH:MM-HH:MM
//
// where DAYS is "all" (or "*", "daily") or a comma-separated list of days
// and day ranges: "mon-fri", "sat,sun", "mon,wed-fri", "fri-mon" (ranges
// may wrap past Sunday). Without DAYS the hours apply every day; without
// hours the band covers the whole of each day. "24:00" ends a day. An end
// before (or equal to) its start wraps past midnight: "mon-fri
// 18:00-08:00" runs from 18:00 on each weekday to 08:00 the next morning,
// so Friday 18:00 to Saturday 08:00 is in it, and Monday 07:00 is not
// (that morning belongs to Sunday's evening, and Sunday is not listed).
//
// The zero Band (empty text) means "at all times": the row is the
// default for every minute no other band of its prefix covers.
type Band struct {
	text       string
	days       uint8  // bit d set: day d (0 Monday ... 6 Sunday)
	start, end uint16 // minutes of the day; start == end is never stored
	wrap       bool
}

var dayNames = []string{"mon", "tue", "wed", "thu", "fri", "sat", "sun"}

// ParseBand reads the text form of a band ("" is the zero Band).
func ParseBand(s string) (Band, error) {
	s = strings.ToLower(strings.Join(strings.Fields(s), " "))
	if s == "" {
		return Band{}, nil
	}
	b := Band{text: s}
	daysPart, hoursPart := s, ""
	if i := strings.IndexByte(s, ' '); i >= 0 {
		daysPart, hoursPart = s[:i], s[i+1:]
		if strings.Contains(hoursPart, " ") {
			return Band{}, fmt.Errorf("band %q: want DAYS HH:MM-HH:MM", s)
		}
	} else if strings.Contains(s, ":") {
		daysPart, hoursPart = "all", s
	}
	switch daysPart {
	case "all", "*", "daily":
		b.days = 0x7f
	default:
		for item := range strings.SplitSeq(daysPart, ",") {
			from, to, isRange := strings.Cut(item, "-")
			d1, ok1 := dayIndex(from)
			d2 := d1
			ok2 := true
			if isRange {
				d2, ok2 = dayIndex(to)
			}
			if !ok1 || !ok2 {
				return Band{}, fmt.Errorf("band %q: %q is not a day or day range (mon..sun, e.g. mon-fri)", s, item)
			}
			for d := d1; ; d = (d + 1) % 7 {
				b.days |= 1 << d
				if d == d2 {
					break
				}
			}
		}
	}
	if hoursPart == "" {
		b.start, b.end = 0, 24*60
		return b, nil
	}
	from, to, ok := strings.Cut(hoursPart, "-")
	if !ok {
		return Band{}, fmt.Errorf("band %q: hours must be HH:MM-HH:MM", s)
	}
	st, err1 := clock(from)
	en, err2 := clock(to)
	if err1 != nil || err2 != nil || st == 24*60 {
		return Band{}, fmt.Errorf("band %q: hours must be HH:MM-HH:MM from 00:00 to 24:00", s)
	}
	if st == en || (st == 0 && en == 24*60) {
		if st == en && st != 0 {
			return Band{}, fmt.Errorf("band %q: start and end are the same time (use 00:00-24:00 for a whole day)", s)
		}
		st, en = 0, 24*60
	}
	b.start, b.end = uint16(st), uint16(en)
	b.wrap = en < st
	return b, nil
}

func dayIndex(s string) (int, bool) {
	s = strings.TrimSpace(s)
	for i, n := range dayNames {
		if s == n || (len(s) > 3 && strings.HasPrefix(n, s[:3]) && strings.HasPrefix(longDay[i], s)) {
			return i, true
		}
	}
	return 0, false
}

var longDay = []string{"monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"}

func clock(s string) (int, error) {
	h, m, ok := strings.Cut(strings.TrimSpace(s), ":")
	if !ok || len(h) == 0 || len(h) > 2 || len(m) != 2 {
		return 0, fmt.Errorf("bad time %q", s)
	}
	hh, err1 := strconv.Atoi(h)
	mm, err2 := strconv.Atoi(m)
	if err1 != nil || err2 != nil || hh < 0 || mm < 0 || mm > 59 || hh > 24 || (hh == 24 && mm != 0) {
		return 0, fmt.Errorf("bad time %q", s)
	}
	return hh*60 + mm, nil
}

// IsZero says whether b is the "at all times" band.
func (b Band) IsZero() bool { return b.days == 0 }

// String returns the band's text as given (normalised to lower case).
func (b Band) String() string { return b.text }

// ContainsMinute says whether minute-of-week m (0 = Monday 00:00) is in b.
// The zero Band contains every minute.
func (b Band) ContainsMinute(m int) bool {
	if b.days == 0 {
		return true
	}
	day, min := m/(24*60), uint16(m%(24*60))
	if !b.wrap {
		return b.days&(1<<day) != 0 && min >= b.start && min < b.end
	}
	if b.days&(1<<day) != 0 && min >= b.start {
		return true
	}
	prev := (day + 6) % 7
	return b.days&(1<<prev) != 0 && min < b.end
}

// MinuteOfWeek returns t's minute of the week in loc (Monday 00:00 = 0).
func MinuteOfWeek(t time.Time, loc *time.Location) int {
	t = t.In(loc)
	wd := (int(t.Weekday()) + 6) % 7
	return wd*24*60 + t.Hour()*60 + t.Minute()
}

// weekMask is a bitmap of the minutes of a week.
type weekMask [MinutesPerWeek/64 + 1]uint64

func (b Band) mask() *weekMask {
	var w weekMask
	for m := range MinutesPerWeek {
		if b.ContainsMinute(m) {
			w[m/64] |= 1 << (m % 64)
		}
	}
	return &w
}

// firstCommon returns the first minute in both masks, or -1.
func (w *weekMask) firstCommon(o *weekMask) int {
	for i := range w {
		if x := w[i] & o[i]; x != 0 {
			for b := range 64 {
				if x&(1<<b) != 0 {
					return i*64 + b
				}
			}
		}
	}
	return -1
}

// firstGap returns the first minute of the week not in w, or -1.
func (w *weekMask) firstGap() int {
	for m := range MinutesPerWeek {
		if w[m/64]&(1<<(m%64)) == 0 {
			return m
		}
	}
	return -1
}

func (w *weekMask) or(o *weekMask) {
	for i := range w {
		w[i] |= o[i]
	}
}

// formatMinute prints a minute of the week as "Tue 18:00".
func formatMinute(m int) string {
	d := m / (24 * 60)
	r := m % (24 * 60)
	return fmt.Sprintf("%s %02d:%02d", strings.ToUpper(dayNames[d][:1])+dayNames[d][1:], r/60, r%60)
}
