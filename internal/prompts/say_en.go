package prompts

import (
	"math"
	"strconv"
)

// digit returns the sound name "digits/<n>".
func digit(n int64) string { return "digits/" + strconv.FormatInt(n, 10) }

// numberEN follows say.c's get_number_str_en (the default syntax): 1-19,
// tens, "N hundred", then thousand/million/billion groups said recursively,
// with no "and". say.c works on a C int and refuses INT_MAX and above.
func numberEN(out []string, n int64) ([]string, error) {
	return signed(out, n, math.MaxInt32, positiveEN)
}

func positiveEN(out []string, n int64) []string {
	for n > 0 {
		switch {
		case n < 20:
			out = append(out, digit(n))
			n = 0
		case n < 100:
			out = append(out, digit(n/10*10))
			n %= 10
		case n < 1000:
			out = append(out, digit(n/100), "digits/hundred")
			n %= 100
		case n < 1_000_000:
			out = append(positiveEN(out, n/1000), "digits/thousand")
			n %= 1000
		case n < 1_000_000_000:
			out = append(positiveEN(out, n/1_000_000), "digits/million")
			n %= 1_000_000
		default:
			out = append(positiveEN(out, n/1_000_000_000), "digits/billion")
			n %= 1_000_000_000
		}
	}
	return out
}

// numberENGB follows say.c's ast_say_number_full_en_GB: as English but with
// "and" (vm-and) after "hundred" and before a final group below 100, and no
// billions (refused from 10^9).
func numberENGB(out []string, n int64) ([]string, error) {
	return signed(out, n, 1_000_000_000, positiveENGB)
}

func positiveENGB(out []string, n int64) []string {
	for n > 0 {
		switch {
		case n < 20:
			out = append(out, digit(n))
			n = 0
		case n < 100:
			out = append(out, digit(n/10*10))
			n %= 10
		case n < 1000:
			out = append(out, digit(n/100), "digits/hundred")
			if n %= 100; n != 0 {
				out = append(out, "vm-and")
			}
		case n < 1_000_000:
			out = append(positiveENGB(out, n/1000), "digits/thousand")
			if n %= 1000; n != 0 && n < 100 {
				out = append(out, "vm-and")
			}
		default:
			out = append(positiveENGB(out, n/1_000_000), "digits/million")
			if n %= 1_000_000; n != 0 && n < 100 {
				out = append(out, "vm-and")
			}
		}
	}
	return out
}

// enumerationEN follows say.c's ast_say_enumeration_full_en: the last word
// is an ordinal (digits/h-N, h-hundred, h-thousand...). A leading "one" is
// dropped before hundred/thousand unless a larger group was said ("hundred
// first", "thousandth"). Zero says nothing, as in say.c.
func enumerationEN(out []string, n int64) ([]string, error) {
	if n >= math.MaxInt32 || n <= -math.MaxInt32 {
		return nil, ErrNumberTooBig
	}
	if n < 0 {
		out = append(out, "digits/minus")
		n = -n
	}
	big := false // say.c's t: a thousand or larger group was said
	group := func(word string) {
		if n == 0 {
			word = "digits/h-" + word
		} else {
			word = "digits/" + word
		}
		out = append(out, word)
	}
	for n > 0 {
		switch {
		case n < 20:
			out = append(out, "digits/h-"+strconv.FormatInt(n, 10))
			n = 0
		case n < 100:
			tens := n / 10 * 10
			if n %= 10; n == 0 {
				out = append(out, "digits/h-"+strconv.FormatInt(tens, 10))
			} else {
				out = append(out, digit(tens))
			}
		case n < 1000:
			h := n / 100
			n %= 100
			if h > 1 || big {
				out = positiveEN(out, h)
			}
			group("hundred")
		case n < 1_000_000:
			th := n / 1000
			n %= 1000
			if th > 1 || big {
				out = positiveEN(out, th)
			}
			group("thousand")
			big = true
		case n < 1_000_000_000:
			m := n / 1_000_000
			n %= 1_000_000
			big = true
			out = positiveEN(out, m)
			group("million")
		default:
			b := n / 1_000_000_000
			n %= 1_000_000_000
			big = true
			out = positiveEN(out, b)
			group("billion")
		}
	}
	return out, nil
}
