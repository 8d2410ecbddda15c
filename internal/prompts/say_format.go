package prompts

import (
	"fmt"
	"strings"
	"time"
)

// SayDateWithFormat returns the sound names of say.c's
// ast_say_date_with_format_{en,es,fr,de,it,pt} (SayUnixTime, AGI SAY
// DATETIME). Supported codes: 'literal sound name', A a (weekday), B b h
// (month), m (month number), d e (day), Y (year), I l (12-hour), H k
// (24-hour), M N (minutes), P p (AM/PM), S (seconds), R (HM), T (HMS);
// spaces and tabs are ignored. Q and q (relative to "now") are skipped
// here (SayDateWithFormatAt says them), and unknown codes are skipped, as
// say.c skips unknown codes. The fields of t are used as they are:
// convert t to the wanted zone first.
func SayDateWithFormat(t time.Time, language, format string) ([]string, error) {
	return SayDateWithFormatAt(t, time.Time{}, language, format)
}

// SayDateWithFormatAt is SayDateWithFormat with the current time, so the
// codes Q ("today", "yesterday" or the date) and q ("" for today,
// "yesterday", the weekday within a week, or the date) are said as say.c
// says them; a zero now skips them. Days are counted from the start of
// now's day in now's location.
func SayDateWithFormatAt(t, now time.Time, language, format string) ([]string, error) {
	f := dateFormatter{t: t, now: now, lang: language, syn: syntaxOf(language)}
	switch f.syn {
	case synENGB:
		f.syn = synEN
	case synPTBR:
		f.syn, f.br = synPT, true
	}
	if err := f.run(format, 0); err != nil {
		return nil, fmt.Errorf("say date %q (%s): %w", format, language, err)
	}
	return f.out, nil
}

type dateFormatter struct {
	t, now time.Time
	lang   string
	syn    syntax
	br     bool // pt_BR, which say.c's Portuguese format treats apart
	out    []string
	rest   string // the format after the current code (for de's M)
}

func (f *dateFormatter) add(names ...string) { f.out = append(f.out, names...) }

func (f *dateFormatter) number(n int, gender string) error {
	var err error
	f.out, err = appendNumber(f.out, int64(n), f.lang, gender)
	return err
}

// run interprets format; depth bounds the R/T recursion.
func (f *dateFormatter) run(format string, depth int) error {
	if depth > 2 {
		return nil
	}
	for i := 0; i < len(format); i++ {
		c := format[i]
		if c == '\'' {
			end := strings.IndexByte(format[i+1:], '\'')
			if end < 0 {
				end = len(format) - i - 1
			}
			if name := format[i+1 : i+1+end]; name != "" {
				f.add(name)
			}
			i += end + 1
			continue
		}
		f.rest = format[i+1:]
		if err := f.code(c, depth); err != nil {
			return err
		}
	}
	return nil
}

func (f *dateFormatter) code(c byte, depth int) error {
	if c == 'Q' || c == 'q' {
		return f.relative(c, depth)
	}
	switch f.syn {
	case synDE:
		return f.codeDE(c, depth)
	case synIT:
		return f.codeIT(c, depth)
	case synPT:
		return f.codePT(c, depth)
	}
	t := f.t
	switch c {
	case 'A', 'a':
		f.add(fmt.Sprintf("digits/day-%d", int(t.Weekday())))
	case 'B', 'b', 'h':
		f.add(fmt.Sprintf("digits/mon-%d", int(t.Month())-1))
	case 'm':
		if f.syn == synEN {
			names, err := SayEnumeration(int64(t.Month()), f.lang)
			f.add(names...)
			return err
		}
		f.add(fmt.Sprintf("digits/h-%d", int(t.Month())))
	case 'd', 'e':
		return f.day()
	case 'Y':
		return f.year()
	case 'I', 'l':
		f.hour12()
	case 'H', 'k':
		return f.hour24(c)
	case 'M', 'N':
		return f.minute(c)
	case 'P', 'p':
		f.ampm()
	case 'S':
		return f.second()
	case 'R':
		switch f.syn {
		case synES:
			// say.c uses "H 'digits/y' M"; the Spanish set has no
			// digits/y, so its digits/and ("y") is used.
			return f.run("H 'digits/and' M", depth+1)
		default:
			return f.run("HM", depth+1)
		}
	case 'T':
		return f.run("HMS", depth+1)
	}
	return nil
}

func (f *dateFormatter) day() error {
	d := f.t.Day()
	switch f.syn {
	case synEN: // "First - Thirtyfirst"
		names, err := SayEnumeration(int64(d), f.lang)
		f.add(names...)
		return err
	case synFR: // "premier", then cardinal numbers
		if d == 1 {
			f.add("digits/h-1")
			return nil
		}
	}
	return f.number(d, "")
}

func (f *dateFormatter) year() error {
	y := f.t.Year()
	switch f.syn {
	case synES:
		return f.number(y, "")
	case synFR:
		switch {
		case y >= 2000:
			f.add("digits/2", "digits/thousand")
			if y > 2000 {
				return f.number(y-2000, "")
			}
		case y > 1900:
			f.add("digits/thousand", "digits/9", "digits/hundred")
			return f.number(y-1900, "")
		}
		return nil // say.c is silent on 1900 and before
	}
	switch {
	case y >= 2000:
		return f.number(y, "")
	case y > 1900:
		f.add("digits/19")
		if y <= 1909 {
			f.add("digits/oh")
		}
		return f.number(y-1900, "")
	}
	return nil
}

func (f *dateFormatter) hour12() {
	h := f.t.Hour()
	switch {
	case h == 0:
		h = 12
	case h > 12:
		h -= 12
	}
	if f.syn == synES && h == 1 {
		f.add("digits/1F") // "la una"
	} else {
		f.add(digit(int64(h)))
	}
	if f.syn == synFR {
		f.add("digits/oclock")
	}
}

func (f *dateFormatter) hour24(c byte) error {
	h := f.t.Hour()
	switch f.syn {
	case synES:
		return f.number(h, "")
	case synFR:
		if err := f.number(h, ""); err != nil {
			return err
		}
		f.add("digits/oclock")
		return nil
	}
	if (c == 'H' && h < 10) || (c == 'k' && h == 0) {
		f.add("digits/oh")
	}
	if h > 20 {
		f.add("digits/20")
		h -= 20
	}
	if h != 0 {
		f.add(digit(int64(h)))
	}
	return nil
}

func (f *dateFormatter) minute(c byte) error {
	m := f.t.Minute()
	switch f.syn {
	case synES:
		if c == 'N' {
			return nil // not a Spanish code in say.c
		}
		return f.number(m, "")
	case synFR:
		if c == 'N' || m == 0 {
			return nil
		}
		return f.number(m, "")
	}
	switch {
	case m == 0 && c == 'M':
		f.add("digits/oclock")
	case m == 0:
		f.add("digits/hundred")
	case m < 10:
		f.add("digits/oh", digit(int64(m)))
	default:
		return f.number(m, "")
	}
	return nil
}

func (f *dateFormatter) ampm() {
	h := f.t.Hour()
	if f.syn == synES {
		switch {
		case h > 18:
			f.add("digits/p-m")
		case h > 12:
			f.add("digits/afternoon")
		case h > 0:
			f.add("digits/a-m")
		}
		return
	}
	if h > 11 {
		f.add("digits/p-m")
	} else {
		f.add("digits/a-m")
	}
}

func (f *dateFormatter) second() error {
	s := f.t.Second()
	switch f.syn {
	case synFR:
		if err := f.number(s, ""); err != nil {
			return err
		}
		f.add("second")
		return nil
	case synES:
		switch {
		case s == 0:
			f.add("digits/0")
		case s < 10:
			f.add("digits/oh", digit(int64(s)))
		case s < 21 || s%10 == 0:
			f.add(digit(int64(s)))
		default:
			f.add(digit(int64(s/10*10)), digit(int64(s%10)))
		}
		return nil
	}
	switch {
	case s == 0:
		f.add("digits/0")
	case s < 10:
		f.add("digits/oh", digit(int64(s)))
	default:
		return f.number(s, "")
	}
	return nil
}
