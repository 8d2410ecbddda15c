package prompts

import (
	"fmt"
	"strings"
)

// SayMoney returns the sound names for an amount such as "12.34" as say.c's
// ast_get_money_str (SayMoney in Asterisk 22): dollars and cents with the
// English number syntax in every language (say.c has only
// ast_get_money_en_dollars_str and uses it for all languages). The amount
// is read as sscanf("%d.%02u") reads it: a whole part, then up to two
// digits of cents as written (".5" is five cents); text that is not a
// number is zero. Names: N "dollars" (or "letters/dollar" for one dollar,
// "letters/dollar_" when cents follow), "and", N "cents"/"cent"; zero is
// "digits/0" "cents". A negative amount says nothing, as in say.c.
func SayMoney(amount, language string) ([]string, error) {
	dollars, cents := parseMoney(strings.TrimSpace(amount))
	if dollars > 21474836 || dollars < -21474836 {
		return nil, fmt.Errorf("say money %q (%s): %w", amount, language, ErrNumberTooBig)
	}
	amt := dollars*100 + cents
	var out []string
	var err error
	if amt >= 100 {
		if out, err = numberEN(out, amt/100); err != nil {
			return nil, err
		}
		switch {
		case amt >= 200:
			out = append(out, "dollars")
		case cents > 0:
			out = append(out, "letters/dollar_")
		default:
			out = append(out, "letters/dollar")
		}
		if cents > 0 {
			out = append(out, "and")
		}
	}
	switch {
	case cents > 0:
		if out, err = numberEN(out, cents); err != nil {
			return nil, err
		}
		if cents == 1 {
			out = append(out, "cent")
		} else {
			out = append(out, "cents")
		}
	case amt == 0:
		out = append(out, "digits/0", "cents")
	}
	return out, nil
}

// parseMoney reads "[-]D[.CC]" like say.c's sscanf calls.
func parseMoney(s string) (dollars, cents int64) {
	i := 0
	if !strings.HasPrefix(s, ".") {
		neg := false
		if i < len(s) && (s[i] == '-' || s[i] == '+') {
			neg = s[i] == '-'
			i++
		}
		start := i
		for i < len(s) && s[i] >= '0' && s[i] <= '9' && i-start < 12 {
			dollars = dollars*10 + int64(s[i]-'0')
			i++
		}
		if i == start {
			return 0, 0
		}
		if neg {
			dollars = -dollars
		}
	}
	if i < len(s) && s[i] == '.' {
		j := i + 1
		for j < len(s) && j < i+3 && s[j] >= '0' && s[j] <= '9' {
			cents = cents*10 + int64(s[j]-'0')
			j++
		}
	}
	return dollars, cents
}
