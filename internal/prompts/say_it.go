package prompts

import "math"

// itCompounds are the 21-98 numbers the Italian set records whole because
// the unit starts with a vowel ("ventuno", "ventotto"), as say.c's
// ast_say_number_full_it lists them.
func itCompound(n int64) bool {
	return n >= 21 && n <= 98 && (n%10 == 1 || n%10 == 8)
}

// numberIT follows say.c's ast_say_number_full_it: 1-20 and the compounds
// ending in 1 and 8 are single files, other tens are "tens units", 100-199
// start with "cento" (digits/hundred), N hundred is "N" + "hundred", 1000-1999
// is "mille" (digits/thousand), 2000 and more "N mila" (digits/thousands),
// one million is "un milione" (digits/million), more "N milioni"
// (digits/millions); say.c refuses 10^9 and above. There is no gender.
func numberIT(out []string, n int64) ([]string, error) {
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
	return positiveIT(out, n), nil
}

func positiveIT(out []string, n int64) []string {
	for n > 0 {
		switch {
		case n < 20 || itCompound(n):
			out = append(out, digit(n))
			n = 0
		case n < 100:
			out = append(out, digit(n/10*10))
			n %= 10
		case n < 1000:
			if h := n / 100; h > 1 {
				out = append(out, digit(h), "digits/hundred")
			} else {
				out = append(out, "digits/hundred")
			}
			n %= 100
		case n < 1_000_000:
			if th := n / 1000; th > 1 {
				out = append(positiveIT(out, th), "digits/thousands")
			} else {
				out = append(out, "digits/thousand")
			}
			n %= 1000
		default:
			if m := n / 1_000_000; m > 1 {
				out = append(positiveIT(out, m), "digits/millions")
			} else {
				out = append(out, "digits/million")
			}
			n %= 1_000_000
		}
	}
	return out
}
