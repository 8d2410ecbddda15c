package money

import (
	"errors"
	"fmt"
	"math"
	"math/bits"
	"strconv"
	"strings"
)

// NanoDigits is the number of decimals a price keeps: prices are integers
// in units of 10^-9 of the currency's major unit ("nanos"), so 0.0125 EUR
// a minute is 12,500,000 nanos, exactly.
const NanoDigits = 9

// NanosPerUnit is 10^NanoDigits.
const NanosPerUnit = 1_000_000_000

// MaxPriceNanos bounds every price (per minute, connect fee, minimum
// charge): one million major units. It keeps every cost computation
// inside 128-bit intermediate values with a wide margin.
const MaxPriceNanos = 1_000_000 * NanosPerUnit

var pow10 = [...]uint64{1, 10, 100, 1_000, 10_000, 100_000, 1_000_000, 10_000_000, 100_000_000, 1_000_000_000,
	10_000_000_000, 100_000_000_000, 1_000_000_000_000}

// ParseNanos parses a non-negative decimal price such as "0.0125", "12",
// ".5" or "1.000000001" into nanos. It refuses signs, exponents, thousands
// separators, more than nine decimals and values above MaxPriceNanos, with
// an error that says which.
func ParseNanos(s string) (int64, error) {
	return parseScaled(s, NanoDigits, MaxPriceNanos, false)
}

// FormatNanos prints nanos as a decimal without trailing zeros ("0.0125").
func FormatNanos(n int64) string {
	s := formatScaled(n, NanoDigits)
	if strings.Contains(s, ".") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	return s
}

// ParseAmount parses a decimal amount of currency c into minor units:
// "10", "10.5" and "10.50" are 1050 for EUR; "10.505" is refused for EUR
// (more decimals than the currency has) and "1.5" for JPY. A leading '-'
// is accepted when negative is true (adjustments).
func ParseAmount(s string, c Currency, negative bool) (int64, error) {
	if c.IsZero() {
		return 0, errors.New("no currency")
	}
	return parseScaled(s, c.Exponent(), math.MaxInt64/2, negative)
}

// FormatAmount prints minor units of c as a decimal with exactly the
// currency's number of decimals: 1050 EUR is "10.50", -5 EUR "-0.05",
// 1050 JPY "1050".
func FormatAmount(minor int64, c Currency) string { return formatScaled(minor, c.Exponent()) }

func parseScaled(s string, digits int, maxVal int64, negative bool) (int64, error) {
	in := s
	s = strings.TrimSpace(s)
	neg := false
	if negative && strings.HasPrefix(s, "-") {
		neg, s = true, s[1:]
	}
	if s == "" {
		return 0, fmt.Errorf("empty number")
	}
	if s[0] == '-' {
		return 0, fmt.Errorf("%q is negative", in)
	}
	intPart, frac, hasDot := strings.Cut(s, ".")
	if hasDot && intPart == "" && frac == "" {
		return 0, fmt.Errorf("%q is not a decimal number", in)
	}
	for _, part := range []string{intPart, frac} {
		for i := 0; i < len(part); i++ {
			if part[i] < '0' || part[i] > '9' {
				return 0, fmt.Errorf("%q is not a decimal number (digits and one '.' only)", in)
			}
		}
	}
	if len(frac) > digits {
		// Trailing zeros beyond the scale carry no value.
		t := strings.TrimRight(frac[digits:], "0")
		if t != "" {
			return 0, fmt.Errorf("%q has more than %d decimals", in, digits)
		}
		frac = frac[:digits]
	}
	intPart = strings.TrimLeft(intPart, "0")
	if len(intPart) > 18 {
		return 0, fmt.Errorf("%q is too large", in)
	}
	var v uint64
	if intPart != "" {
		n, err := strconv.ParseUint(intPart, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("%q is too large", in)
		}
		v = n
	}
	hi, lo := bits.Mul64(v, pow10[digits])
	var f uint64
	if frac != "" {
		n, _ := strconv.ParseUint(frac, 10, 64)
		f = n * pow10[digits-len(frac)]
	}
	lo, carry := bits.Add64(lo, f, 0)
	if hi != 0 || carry != 0 || lo > uint64(maxVal) {
		return 0, fmt.Errorf("%q is too large", in)
	}
	if neg {
		return -int64(lo), nil
	}
	return int64(lo), nil
}

func formatScaled(n int64, digits int) string {
	neg := n < 0
	u := uint64(n)
	if neg {
		u = -u
	}
	s := strconv.FormatUint(u, 10)
	if digits > 0 {
		if len(s) <= digits {
			s = strings.Repeat("0", digits-len(s)+1) + s
		}
		s = s[:len(s)-digits] + "." + s[len(s)-digits:]
	}
	if neg {
		return "-" + s
	}
	return s
}

// Rounding is how a call's exact cost becomes whole minor units. It is
// applied once per call, to the total (connect fee and minimum charge
// included), never per increment.
type Rounding uint8

// The rounding modes. Costs are never negative, so "half up" rounds
// halves away from zero.
const (
	// HalfUp rounds to the nearest minor unit, halves up: 0.125 -> 0.13.
	// The default.
	HalfUp Rounding = iota
	// HalfEven rounds to the nearest, halves to the even neighbour
	// (banker's rounding): 0.125 -> 0.12, 0.135 -> 0.14.
	HalfEven
	// Up rounds any fraction of a minor unit up (ceiling): 0.121 -> 0.13.
	Up
	// Down drops any fraction (floor): 0.129 -> 0.12.
	Down
)

// String returns the mode's name as the API spells it.
func (r Rounding) String() string {
	switch r {
	case HalfUp:
		return "half-up"
	case HalfEven:
		return "half-even"
	case Up:
		return "up"
	case Down:
		return "down"
	}
	return fmt.Sprintf("rounding(%d)", uint8(r))
}

// ParseRounding reads "half-up" (or ""), "half-even", "up" or "down".
func ParseRounding(s string) (Rounding, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "half-up", "half_up":
		return HalfUp, nil
	case "half-even", "half_even", "bankers":
		return HalfEven, nil
	case "up", "ceiling":
		return Up, nil
	case "down", "floor", "truncate":
		return Down, nil
	}
	return 0, fmt.Errorf("rounding %q: want half-up, half-even, up or down", s)
}

// MarshalText implements encoding.TextMarshaler.
func (r Rounding) MarshalText() ([]byte, error) { return []byte(r.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (r *Rounding) UnmarshalText(b []byte) error {
	v, err := ParseRounding(string(b))
	if err != nil {
		return err
	}
	*r = v
	return nil
}

// ErrOverflow reports a computation whose result does not fit an int64.
var ErrOverflow = errors.New("money: amount out of range")

// DivRound returns the 128-bit numerator hi:lo divided by d (> 0) and
// rounded by mode.
func DivRound(hi, lo, d uint64, mode Rounding) (int64, error) {
	if d == 0 || hi >= d {
		return 0, ErrOverflow
	}
	q, r := bits.Div64(hi, lo, d)
	up := false
	if r != 0 {
		switch mode {
		case Up:
			up = true
		case Down:
		default:
			// Compare 2r with d without overflowing: r >= d - r.
			twice := r >= d-r
			exactHalf := r == d-r
			switch {
			case exactHalf && mode == HalfEven:
				up = q%2 == 1
			case twice:
				up = true
			}
		}
	}
	if up {
		q++
	}
	if q > math.MaxInt64 {
		return 0, ErrOverflow
	}
	return int64(q), nil
}

// MinorDivisor is the number of nanos in one minor unit of c (10^(9-exp)).
func MinorDivisor(c Currency) uint64 { return pow10[NanoDigits-c.Exponent()] }
