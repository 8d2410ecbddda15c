package prompts

import (
	"fmt"
	"time"
)

// relative says the codes Q and q of say.c's date formats, relative to
// f.now (skipped when now is zero). en (ast_say_date_with_format_en) says
// Q and q alike, by distance in either direction: the date with the year
// beyond six months, month and day beyond a month, weekday, month and day
// beyond six days, the weekday beyond tomorrow, then tomorrow, today,
// yesterday. The other languages say "today" (Q only), "yesterday", the
// weekday within the last week (q only), else their date format.
func (f *dateFormatter) relative(c byte, depth int) error {
	if f.now.IsZero() {
		return nil
	}
	begToday := time.Date(f.now.Year(), f.now.Month(), f.now.Day(), 0, 0, 0, 0, f.now.Location()).Unix()
	t := f.t.Unix()
	const day = 86400
	if f.syn == synEN {
		switch {
		case begToday+15768000 < t:
			return f.run("BdY", depth+1)
		case begToday+2628000 < t:
			return f.run("Bd", depth+1)
		case begToday+day*6 < t:
			return f.run("ABd", depth+1)
		case begToday+2*day < t:
			return f.run("A", depth+1)
		case begToday+day < t:
			f.add("digits/tomorrow")
		case begToday < t:
			f.add("digits/today")
		case begToday-day < t:
			f.add("digits/yesterday")
		case begToday-day*6 < t:
			return f.run("A", depth+1)
		case begToday-2628000 < t:
			return f.run("ABd", depth+1)
		case begToday-15768000 < t:
			return f.run("Bd", depth+1)
		default:
			return f.run("BdY", depth+1)
		}
		return nil
	}
	var date string
	switch f.syn {
	case synES:
		date = "'digits/es-el' Ad 'digits/es-de' B 'digits/es-de' Y"
	case synFR, synDE:
		date = "AdBY"
	case synIT:
		date = "AdB"
	case synPT:
		date = "Ad 'digits/pt-de' B 'digits/pt-de' Y"
	}
	switch {
	case begToday < t:
		if c == 'Q' {
			f.add("digits/today")
		}
	case begToday-day < t:
		f.add("digits/yesterday")
	case c == 'q' && begToday-day*6 < t:
		return f.run("A", depth+1)
	default:
		return f.run(date, depth+1)
	}
	return nil
}

// weekday and month are the codes every language says alike.
func (f *dateFormatter) weekday() { f.add(fmt.Sprintf("digits/day-%d", int(f.t.Weekday()))) }
func (f *dateFormatter) month()   { f.add(fmt.Sprintf("digits/mon-%d", int(f.t.Month())-1)) }

// nextItem is say.c's next_item: the next format character after blanks.
func nextItem(rest string) byte {
	for i := 0; i < len(rest); i++ {
		if rest[i] != ' ' && rest[i] != '\t' {
			return rest[i]
		}
	}
	return 0
}

// codeDE is ast_say_date_with_format_de.
func (f *dateFormatter) codeDE(c byte, depth int) error {
	t := f.t
	switch c {
	case 'A', 'a':
		f.weekday()
	case 'B', 'b', 'h':
		f.month()
	case 'm', 'd', 'e': // ordinals, option "m"
		n := int(t.Month())
		if c != 'm' {
			n = t.Day()
		}
		names, err := SayEnumerationGender(int64(n), f.lang, "m")
		f.add(names...)
		return err
	case 'Y':
		var err error
		f.out, err = yearDE(f.out, t.Year(), f.lang)
		return err
	case 'I', 'l':
		switch h := t.Hour(); {
		case h == 0:
			f.add("digits/12")
		case h == 1:
			f.add("digits/1N")
		case h > 12:
			f.add(digit(int64(h - 12)))
		default:
			f.add(digit(int64(h)))
		}
		f.add("digits/oclock")
	case 'H', 'k':
		if t.Hour() == 1 {
			f.add("digits/1N")
		} else if err := f.number(t.Hour(), ""); err != nil {
			return err
		}
		f.add("digits/oclock")
	case 'M':
		// Minutes are feminine, and zero is said, only when seconds follow.
		seconds := nextItem(f.rest) == 'S'
		switch {
		case seconds:
			if err := f.number(t.Minute(), "f"); err != nil {
				return err
			}
			if t.Minute() == 1 {
				f.add("minute")
			} else {
				f.add("minutes")
			}
		case t.Minute() > 0:
			return f.number(t.Minute(), "")
		}
	case 'P', 'p':
		f.ampm()
	case 'S':
		f.add("digits/and")
		if err := f.number(t.Second(), "f"); err != nil {
			return err
		}
		if t.Second() == 1 {
			f.add("second")
		} else {
			f.add("seconds")
		}
	case 'R':
		return f.run("HM", depth+1)
	case 'T':
		return f.run("HMS", depth+1)
	}
	return nil
}

// codeIT is ast_say_date_with_format_it.
//
// Deviation: for years after 2000 say.c plays "duemila" then
// digits/<year-2000>, a file the Italian set has only for some numbers
// ("This works until the end of 2021"), and a missing file ends the whole
// format; entVoice says the rest of the year as an Italian number.
func (f *dateFormatter) codeIT(c byte, depth int) error {
	t := f.t
	switch c {
	case 'A', 'a':
		f.weekday()
	case 'B', 'b', 'h':
		f.month()
	case 'm':
		f.add(fmt.Sprintf("digits/h-%d", int(t.Month())))
	case 'd', 'e':
		if t.Day() == 1 { // "primo"
			f.add("digits/h-1")
			return nil
		}
		return f.number(t.Day(), "")
	case 'Y':
		y := t.Year() - 1900 // say.c's tm_year
		switch {
		case y > 99:
			f.add("digits/ore-2000")
			if y > 100 {
				return f.number(y-100, "")
			}
		case y < 1:
			// say.c is silent on 1900 and before.
		default:
			f.add("digits/ore-1900")
			if y <= 21 {
				f.add(digit(int64(y)))
			} else if f.add(digit(int64(y / 10 * 10))); y%10 != 0 {
				f.add(digit(int64(y % 10)))
			}
		}
	case 'I', 'l':
		switch h := t.Hour(); {
		case h == 0:
			f.add("digits/12")
		case h > 12:
			f.add(digit(int64(h - 12)))
		default:
			f.add(digit(int64(h)))
		}
	case 'H', 'k':
		switch h := t.Hour(); h {
		case 0:
			f.add("digits/ore-mezzanotte")
		case 1:
			f.add("digits/ore-una")
		default:
			return f.number(h, "")
		}
	case 'M':
		return f.number(t.Minute(), "")
	case 'P', 'p':
		if t.Hour() > 11 {
			f.add("digits/p-m")
		} else {
			f.add("digits/a-m")
		}
	case 'S':
		f.secondsSplit()
	case 'R':
		return f.run("HM", depth+1)
	case 'T':
		return f.run("HMS", depth+1)
	}
	return nil
}

// secondsSplit says seconds as the es, it and pt formats do: "oh N" below
// ten, single files to 20 and for round tens, else tens and units.
func (f *dateFormatter) secondsSplit() {
	switch s := f.t.Second(); {
	case s == 0:
		f.add("digits/0")
	case s < 10:
		f.add("digits/oh", digit(int64(s)))
	case s < 21 || s%10 == 0:
		f.add(digit(int64(s)))
	default:
		f.add(digit(int64(s/10*10)), digit(int64(s%10)))
	}
}

// codePT is ast_say_date_with_format_pt, with its pt_BR variants.
//
// Deviation: for H and k in Portugal Portuguese say.c first says the hour
// negated (a "minus" and the number) and then the hour again; entVoice
// says it once, as the second part does (tens and units, no gender).
func (f *dateFormatter) codePT(c byte, depth int) error {
	t := f.t
	h := t.Hour()
	switch c {
	case 'A', 'a':
		f.weekday()
	case 'B', 'b', 'h':
		f.month()
	case 'm':
		if f.br {
			return f.number(int(t.Month()), "")
		}
		f.add(fmt.Sprintf("digits/h-%d", int(t.Month())))
	case 'd', 'e':
		return f.number(t.Day(), "")
	case 'Y':
		return f.number(t.Year(), "")
	case 'I', 'l':
		switch {
		case h == 0:
			if c == 'I' {
				if f.br {
					f.add("digits/pt-a")
				} else {
					f.add("digits/pt-ah")
				}
			}
			f.add("digits/pt-meianoite")
		case h == 12:
			if c == 'I' {
				f.add("digits/pt-ao")
			}
			f.add("digits/pt-meiodia")
		default:
			if c == 'I' {
				switch {
				case f.br && h%12 != 1:
					f.add("digits/pt-as")
				case f.br:
					f.add("digits/pt-a")
				case h%12 != 1:
					f.add("digits/pt-ah", "digits/pt-sss")
				default:
					f.add("digits/pt-ah")
				}
			}
			return f.number(h%12, "f")
		}
	case 'H', 'k':
		if f.br {
			if err := f.number(h, "f"); err != nil {
				return err
			}
			if c == 'H' {
				if h > 1 {
					f.add("digits/hours")
				} else {
					f.add("digits/hour")
				}
			}
			return nil
		}
		switch {
		case h == 0:
			f.add("digits/0")
		case h > 20:
			f.add("digits/20", digit(int64(h-20)))
		default:
			f.add(digit(int64(h)))
		}
	case 'M':
		m := t.Minute()
		switch {
		case f.br:
			if err := f.number(m, ""); err != nil {
				return err
			}
			if m > 1 {
				f.add("minutes")
			} else {
				f.add("minute")
			}
		case m == 0:
			f.add("digits/pt-hora")
			if h != 1 {
				f.add("digits/pt-sss")
			}
		default:
			return f.number(m, "")
		}
	case 'P', 'p':
		switch {
		case f.br && h != 0 && h != 12:
			f.add("digits/pt-da")
			switch {
			case h < 12:
				f.add("digits/morning")
			case h < 18:
				f.add("digits/afternoon")
			default:
				f.add("digits/night")
			}
		case f.br:
		case h > 12:
			f.add("digits/p-m")
		case h > 0 && h < 12:
			f.add("digits/a-m")
		}
	case 'S':
		if !f.br {
			f.secondsSplit()
			return nil
		}
		if err := f.number(t.Second(), ""); err != nil {
			return err
		}
		if t.Second() > 1 {
			f.add("seconds")
		} else {
			f.add("second")
		}
	case 'R':
		return f.run("H 'digits/pt-e' M", depth+1)
	case 'T':
		return f.run("HMS", depth+1)
	}
	return nil
}
