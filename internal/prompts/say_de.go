package prompts

import (
	"math"
	"strconv"
	"strings"
	"time"
)

// numberDE follows say.c's ast_say_number_full_de: 1-19 single files
// ("digits/1" is "eins"), 21-99 as "N-and" + tens ("einundzwanzig":
// digits/1-and digits/20), "hundert" alone for 100, "ein hundert"
// (digits/1N) inside larger numbers, "tausend"/"ein tausend" likewise,
// "eine Million" (digits/1F digits/million) and "N Millionen"
// (digits/millions), "eine Milliarde"/"N Milliarden" (digits/milliard,
// digits/milliards). gender "f" makes a lone 1 "eine" (digits/1F). say.c
// works on a C int: numbers beyond INT_MAX are refused; INT_MIN says only
// "minus", as say.c cannot negate it.
func numberDE(out []string, n int64, gender string) ([]string, error) {
	if n > math.MaxInt32 || n < math.MinInt32 {
		return nil, ErrNumberTooBig
	}
	if n == 0 {
		return append(out, "digits/0"), nil // ast_say_digits_full(0)
	}
	if n == math.MinInt32 {
		return append(out, "digits/minus"), nil
	}
	if n < 0 {
		out = append(out, "digits/minus")
		n = -n
	}
	return positiveDE(out, n, strings.HasPrefix(strings.ToLower(gender), "f")), nil
}

func positiveDE(out []string, n int64, female bool) []string {
	t := false // say.c's t: a thousand or larger group was said
	for n > 0 {
		switch {
		case n == 1 && female:
			out = append(out, "digits/1F")
			n = 0
		case n < 20:
			out = append(out, digit(n))
			n = 0
		case n < 100:
			if ones := n % 10; ones != 0 {
				out = append(out, "digits/"+strconv.FormatInt(ones, 10)+"-and")
				n -= ones
			} else {
				out = append(out, digit(n))
				n = 0
			}
		case n == 100 && !t:
			out = append(out, "digits/hundred")
			n = 0
		case n < 1000:
			h := n / 100
			n %= 100
			if h == 1 {
				out = append(out, "digits/1N")
			} else {
				out = append(out, digit(h))
			}
			out = append(out, "digits/hundred")
		case n == 1000 && !t:
			out = append(out, "digits/thousand")
			n = 0
		case n < 1_000_000:
			th := n / 1000
			n %= 1000
			t = true
			if th == 1 {
				out = append(out, "digits/1N", "digits/thousand")
			} else {
				// say.c recurses with a fresh t, so 100000 is "hundert tausend".
				out = append(positiveDE(out, th, female), "digits/thousand")
			}
		case n < 1_000_000_000:
			m := n / 1_000_000
			n %= 1_000_000
			t = true
			if m == 1 {
				out = append(out, "digits/1F", "digits/million")
			} else {
				out = append(positiveDE(out, m, female), "digits/millions")
			}
		default:
			b := n / 1_000_000_000
			n %= 1_000_000_000
			t = true
			if b == 1 {
				out = append(out, "digits/1F", "digits/milliard")
			} else {
				out = append(positiveDE(out, b, female), "digits/milliards")
			}
		}
	}
	return out
}

// enumerationDE follows say.c's ast_say_enumeration_full_de: ordinals
// digits/h-N with the gender suffix ("" masculine, "F", "N"), "and"
// (digits/and) between a hundred or larger group and a final part below
// 100, and h-hundred/h-thousand/h-million/h-milliard when the number ends
// on that group. INT_MAX is "der letzte" (digits/h-last).
func enumerationDE(out []string, n int64, gender string) ([]string, error) {
	g := ""
	switch strings.ToLower(gender + " ")[0] {
	case 'f':
		g = "F"
	case 'n':
		g = "N"
	}
	if n > math.MaxInt32 || n < math.MinInt32 {
		return nil, ErrNumberTooBig
	}
	if n == 0 {
		return append(out, "digits/0"), nil
	}
	t := false
	for n != 0 {
		switch {
		case n < 0:
			out = append(out, "digits/minus")
			if n == math.MinInt32 {
				return out, nil
			}
			n = -n
		case n < 100 && t:
			out = append(out, "digits/and")
			t = false
		case n < 20:
			out = append(out, "digits/h-"+strconv.FormatInt(n, 10)+g)
			n = 0
		case n < 100:
			if ones := n % 10; ones != 0 {
				out = append(out, "digits/"+strconv.FormatInt(ones, 10)+"-and")
				n -= ones
			} else {
				out = append(out, "digits/h-"+strconv.FormatInt(n, 10)+g)
				n = 0
			}
		case n == 100 && !t:
			out = append(out, "digits/h-hundred"+g)
			n = 0
		case n < 1000:
			h := n / 100
			n %= 100
			if h == 1 {
				out = append(out, "digits/1N")
			} else {
				out = append(out, digit(h))
			}
			if n != 0 {
				out = append(out, "digits/hundred")
			} else {
				out = append(out, "digits/h-hundred"+g)
			}
			t = true
		case n < 1_000_000:
			th := n / 1000
			n %= 1000
			switch {
			case th == 1 && n != 0:
				out = append(out, "digits/1N", "digits/thousand")
			case th == 1 && t:
				out = append(out, "digits/1N", "digits/h-thousand"+g)
			case th == 1:
				out = append(out, "digits/h-thousand"+g)
			default:
				out = positiveDE(out, th, g == "F")
				if n != 0 {
					out = append(out, "digits/thousand")
				} else {
					out = append(out, "digits/h-thousand"+g)
				}
			}
			t = true
		case n < 1_000_000_000:
			out = enumerationGroupDE(out, &n, 1_000_000, "million", "millions", g)
			t = true
		case n < math.MaxInt32:
			out = enumerationGroupDE(out, &n, 1_000_000_000, "milliard", "milliards", g)
			t = true
		default: // INT_MAX
			out = append(out, "digits/h-last"+g)
			n = 0
		}
	}
	return out, nil
}

// enumerationGroupDE says the millions or milliards of an ordinal.
func enumerationGroupDE(out []string, n *int64, unit int64, one, many, g string) []string {
	k := *n / unit
	*n %= unit
	switch {
	case k == 1 && *n != 0:
		return append(out, "digits/1F", "digits/"+one)
	case k == 1:
		return append(out, "digits/1N", "digits/h-"+one+g)
	}
	out = positiveDE(out, k, g == "F")
	if *n != 0 {
		return append(out, "digits/"+many)
	}
	return append(out, "digits/h-"+one+g)
}

// yearDE says a year as ast_say_date_de and the German 'Y' format code:
// 2000 and later as a number, 1100-1999 as "neunzehn hundert ..."
// (digits/19 digits/hundred + the rest), earlier years not at all.
func yearDE(out []string, y int, language string) ([]string, error) {
	switch {
	case y > 1999:
		return appendNumber(out, int64(y), language, "")
	case y < 1100:
		return out, nil
	}
	out = append(out, digit(int64(y/100)), "digits/hundred")
	if y%100 != 0 {
		return appendNumber(out, int64(y%100), language, "")
	}
	return out, nil
}

// timeDE is ast_say_time_de: the hour (neuter option, which the German
// numbers treat as masculine), "Uhr" (digits/oclock), then the minutes in
// the feminine when not zero.
func timeDE(t time.Time, language string) ([]string, error) {
	out, err := appendNumber(nil, int64(t.Hour()), language, "n")
	if err != nil {
		return nil, err
	}
	out = append(out, "digits/oclock")
	if t.Minute() > 0 {
		return appendNumber(out, int64(t.Minute()), language, "f")
	}
	return out, nil
}
