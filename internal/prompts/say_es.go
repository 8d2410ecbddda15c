package prompts

import "strings"

// esMaxNumber is the bound of say.c's ast_say_number_full_es.
const esMaxNumber = 2147483640

// numberES follows say.c's ast_say_number_full_es (Mexican Spanish):
// 1-30 are single files (veintiuno...), 31-99 are "tens y units"
// (digits/and), 101-199 start with "ciento" (digits/100-and), 200-900 are
// single files, 1000-1999 is "mil ...", and millions use "un millón" /
// "N millones". gender "f"/"m" selects digits/1F / 1M for a final "one";
// without it digits/1 is used.
//
// Deviation: say.c plays digits/100 for exactly one hundred ("cien"), which
// the core Spanish set does not ship; digits/hundred ("cien") is used instead.
func numberES(out []string, n int64, gender string) ([]string, error) {
	return signed(out, n, esMaxNumber, func(out []string, n int64) []string { return positiveES(out, n, gender) })
}

func positiveES(out []string, n int64, gender string) []string {
	for n > 0 {
		switch {
		case n == 1:
			switch g := strings.ToLower(gender); {
			case strings.HasPrefix(g, "f"):
				out = append(out, "digits/1F")
			case strings.HasPrefix(g, "m"):
				out = append(out, "digits/1M")
			default:
				out = append(out, "digits/1")
			}
			n = 0
		case n < 31:
			out = append(out, digit(n))
			n = 0
		case n < 100:
			out = append(out, digit(n/10*10))
			if n %= 10; n != 0 {
				out = append(out, "digits/and")
			}
		case n == 100:
			out = append(out, "digits/hundred")
			n = 0
		case n < 200:
			out = append(out, "digits/100-and")
			n -= 100
		case n < 1000:
			out = append(out, digit(n/100*100))
			n %= 100
		case n < 2000:
			out = append(out, "digits/thousand")
			n %= 1000
		case n < 1_000_000:
			out = append(positiveES(out, n/1000, gender), "digits/thousand")
			n %= 1000
		default:
			if m := n / 1_000_000; m == 1 {
				out = append(positiveES(out, 1, "M"), "digits/million")
			} else {
				out = append(positiveES(out, m, gender), "digits/millions")
			}
			n %= 1_000_000
		}
	}
	return out
}
