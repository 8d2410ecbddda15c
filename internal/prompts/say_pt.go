package prompts

import (
	"math"
	"strings"
	"time"
)

// numberPT follows say.c's ast_say_number_full_pt: 1-19 single files (1F
// and 2F for the feminine "uma", "duas"), tens + "e" (digits/pt-e) + units,
// "cem" (digits/100) alone, "cento" (digits/100E) for 101-199, hundreds
// as digits/200..900 (digits/200F... feminine), "mil" (digits/1000) with
// "N mil" from 2000, "um milhão" (digits/1000000) and "N milhões"
// (digits/1000000S); "e" joins the last group when it is below 100 or a
// round hundred. say.c refuses 10^9 and above.
//
// Deviation: for a feminine number of 2000 and more, say.c recurses on
// the thousands multiplied by -1 (its gender sign), which says "minus";
// entVoice says the thousands in the feminine ("duas mil").
func numberPT(out []string, n int64, gender string) ([]string, error) {
	if n >= 1_000_000_000 || n < math.MinInt32 {
		return nil, ErrNumberTooBig
	}
	if n == 0 {
		return append(out, "digits/0"), nil
	}
	if n < 0 {
		out = append(out, "digits/minus")
		if n == math.MinInt32 {
			return out, nil
		}
		n = -n
	}
	return positivePT(out, n, strings.HasPrefix(strings.ToLower(gender), "f")), nil
}

func positivePT(out []string, n int64, female bool) []string {
	for n > 0 {
		and := false
		switch {
		case n < 20:
			if (n == 1 || n == 2) && female {
				out = append(out, digit(n)+"F")
			} else {
				out = append(out, digit(n))
			}
			n = 0
		case n < 100:
			out = append(out, digit(n/10*10))
			and = n%10 != 0
			n %= 10
		case n < 1000:
			switch {
			case n == 100:
				out = append(out, "digits/100")
			case n < 200:
				out = append(out, "digits/100E")
			default:
				h := digit(n / 100 * 100)
				if female {
					h += "F"
				}
				out = append(out, h)
				and = n%100 != 0
			}
			n %= 100
		case n < 1_000_000:
			if n > 1999 {
				out = positivePT(out, n/1000, female)
			}
			out = append(out, "digits/1000")
			r := n % 1000
			and = r != 0 && (r < 100 || r%100 == 0)
			n = r
		default:
			out = positivePT(out, n/1_000_000, false)
			if n < 2_000_000 {
				out = append(out, "digits/1000000")
			} else {
				out = append(out, "digits/1000000S")
			}
			th, r := n/1000%1000, n%1000
			and = n%1_000_000 != 0 &&
				((th == 0 && (r < 100 || r%100 == 0)) || // no thousands
					(r == 0 && (th < 100 || th%100 == 0))) // no hundreds and below
			n %= 1_000_000
		}
		if and {
			out = append(out, "digits/pt-e")
		}
	}
	return out
}

// timePT is ast_say_time_pt: the hour in the feminine, then "e" and the
// minutes, or "hora" (digits/pt-hora) with the plural "s" (digits/pt-sss)
// on the hour.
func timePT(t time.Time, language string) ([]string, error) {
	out, err := appendNumber(nil, int64(t.Hour()), language, "f")
	if err != nil {
		return nil, err
	}
	if t.Minute() != 0 {
		out = append(out, "digits/pt-e")
		return appendNumber(out, int64(t.Minute()), language, "")
	}
	out = append(out, "digits/pt-hora")
	if t.Hour() != 1 {
		out = append(out, "digits/pt-sss")
	}
	return out, nil
}

// timePTBR is ast_say_time_pt_BR: the hour in the feminine, "horas"
// (digits/hours) above 1 and "hora" (digits/hour) for 0 and 1, as say.c
// tests, then "e", the minutes and "minuto"/"minutos".
func timePTBR(t time.Time, language string) ([]string, error) {
	out, err := appendNumber(nil, int64(t.Hour()), language, "f")
	if err != nil {
		return nil, err
	}
	if t.Hour() > 1 {
		out = append(out, "digits/hours")
	} else {
		out = append(out, "digits/hour")
	}
	if m := t.Minute(); m != 0 {
		out = append(out, "digits/pt-e")
		if out, err = appendNumber(out, int64(m), language, ""); err != nil {
			return nil, err
		}
		if m > 1 {
			out = append(out, "minutes")
		} else {
			out = append(out, "minute")
		}
	}
	return out, nil
}
