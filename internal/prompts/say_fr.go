package prompts

// numberFR follows say.c's ast_say_number_full_fr: 1-20 single files,
// "et" (digits/et) in 21, 31 ... 61 and 71, 70-79 as "soixante" + 10-19,
// 80-99 as "quatre-vingt" + 0-19, "cent"/"N cent", "mille"/"N mille",
// "N million"; say.c refuses 10^9 and above.
//
// Deviation: for gender "f" say.c plays digits/1F ("une"), which the core
// French set (fr_CA_f_June) does not ship, so Asterisk would skip the word;
// digits/1 is played instead, so gender has no effect in French.
func numberFR(out []string, n int64) ([]string, error) {
	return signed(out, n, 1_000_000_000, positiveFR)
}

func positiveFR(out []string, n int64) []string {
	for n > 0 {
		switch {
		case n < 21:
			out = append(out, digit(n))
			n = 0
		case n < 70:
			out = append(out, digit(n/10*10))
			if n %= 10; n == 1 {
				out = append(out, "digits/et")
			}
		case n < 80:
			out = append(out, "digits/60")
			if n%10 == 1 {
				out = append(out, "digits/et")
			}
			n -= 60
		case n < 100:
			out = append(out, "digits/80")
			n -= 80
		case n < 200:
			out = append(out, "digits/hundred")
			n -= 100
		case n < 1000:
			out = append(out, digit(n/100), "digits/hundred")
			n %= 100
		case n < 2000:
			out = append(out, "digits/thousand")
			n -= 1000
		case n < 1_000_000:
			out = append(positiveFR(out, n/1000), "digits/thousand")
			n %= 1000
		default:
			out = append(positiveFR(out, n/1_000_000), "digits/million")
			n %= 1_000_000
		}
	}
	return out
}
