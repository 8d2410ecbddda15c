package money

import (
	"errors"
	"math/big"
	"math/rand/v2"
	"testing"
)

func TestParseCurrency(t *testing.T) {
	for code, exp := range map[string]int{"EUR": 2, "usd": 2, "JPY": 0, "BHD": 3, "KWD": 3, "CLF": 4, "ISK": 0, "XOF": 0} {
		c, err := ParseCurrency(code)
		if err != nil || c.Exponent() != exp {
			t.Errorf("%s: %v exp %d, want %d", code, err, c.Exponent(), exp)
		}
	}
	for _, code := range []string{"", "EU", "EURO", "XAU", "XXX", "FRF", "ABC"} {
		if _, err := ParseCurrency(code); !errors.Is(err, ErrUnknownCurrency) {
			t.Errorf("%q accepted (%v)", code, err)
		}
	}
}

func TestParseNanos(t *testing.T) {
	ok := map[string]int64{
		"0": 0, "0.0125": 12_500_000, "12": 12 * NanosPerUnit, ".5": 500_000_000, "1.000000001": 1_000_000_001,
		"0.1000000000": 100_000_000, "007.50": 7_500_000_000, "1000000": MaxPriceNanos,
	}
	for in, want := range ok {
		got, err := ParseNanos(in)
		if err != nil || got != want {
			t.Errorf("ParseNanos(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "-1", "+1", "1e3", "1,5", "0.0000000001", "1000000.000000001", "abc", ".", "1.2.3", "99999999999999999999"} {
		if _, err := ParseNanos(in); err == nil {
			t.Errorf("ParseNanos(%q) accepted", in)
		}
	}
	if got := FormatNanos(12_500_000); got != "0.0125" {
		t.Errorf("FormatNanos = %q", got)
	}
	if got := FormatNanos(3 * NanosPerUnit); got != "3" {
		t.Errorf("FormatNanos = %q", got)
	}
}

func TestAmounts(t *testing.T) {
	eur, jpy, bhd := MustCurrency("EUR"), MustCurrency("JPY"), MustCurrency("BHD")
	cases := []struct {
		in   string
		c    Currency
		neg  bool
		want int64
		bad  bool
	}{
		{"10", eur, false, 1000, false}, {"10.5", eur, false, 1050, false}, {"10.50", eur, false, 1050, false},
		{"10.505", eur, false, 0, true}, {"10.500", eur, false, 1050, false}, {"-1.25", eur, true, -125, false},
		{"-1.25", eur, false, 0, true}, {"1500", jpy, false, 1500, false}, {"1.5", jpy, false, 0, true},
		{"0.125", bhd, false, 125, false},
	}
	for _, c := range cases {
		got, err := ParseAmount(c.in, c.c, c.neg)
		if c.bad != (err != nil) || got != c.want {
			t.Errorf("ParseAmount(%q, %s) = %d, %v", c.in, c.c, got, err)
		}
	}
	for _, c := range []struct {
		m    int64
		cur  Currency
		want string
	}{{1050, eur, "10.50"}, {-5, eur, "-0.05"}, {0, eur, "0.00"}, {1050, jpy, "1050"}, {1, bhd, "0.001"}} {
		if got := FormatAmount(c.m, c.cur); got != c.want {
			t.Errorf("FormatAmount(%d, %s) = %q, want %q", c.m, c.cur, got, c.want)
		}
	}
}

func TestDivRound(t *testing.T) {
	cases := []struct {
		n, d                 uint64
		halfUp, even, up, dn int64
	}{
		{125, 10, 13, 12, 13, 12},
		{135, 10, 14, 14, 14, 13},
		{121, 10, 12, 12, 13, 12},
		{129, 10, 13, 13, 13, 12},
		{120, 10, 12, 12, 12, 12},
		{5, 10, 1, 0, 1, 0},
		{15, 10, 2, 2, 2, 1},
		{1, 3, 0, 0, 1, 0},
		{2, 3, 1, 1, 1, 0},
	}
	for _, c := range cases {
		for mode, want := range map[Rounding]int64{HalfUp: c.halfUp, HalfEven: c.even, Up: c.up, Down: c.dn} {
			got, err := DivRound(0, c.n, c.d, mode)
			if err != nil || got != want {
				t.Errorf("%d/%d %s = %d, %v; want %d", c.n, c.d, mode, got, err, want)
			}
		}
	}
	if _, err := DivRound(5, 0, 5, HalfUp); !errors.Is(err, ErrOverflow) {
		t.Error("overflow not detected")
	}
}

// TestDivRoundReference checks DivRound against math/big on random
// 128-bit numerators.
func TestDivRoundReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for range 20000 {
		d := rng.Uint64N(1<<40) + 1
		hi := rng.Uint64N(d)
		if rng.IntN(2) == 0 {
			hi = 0
		}
		lo := rng.Uint64()
		num := new(big.Int).Lsh(new(big.Int).SetUint64(hi), 64)
		num.Add(num, new(big.Int).SetUint64(lo))
		for _, mode := range []Rounding{HalfUp, HalfEven, Up, Down} {
			want := refRound(new(big.Rat).SetFrac(num, new(big.Int).SetUint64(d)), mode)
			got, err := DivRound(hi, lo, d, mode)
			if err != nil {
				if want.IsInt64() {
					t.Fatalf("%v/%d: %v", num, d, err)
				}
				continue
			}
			if !want.IsInt64() || want.Int64() != got {
				t.Fatalf("%v/%d %s = %d, want %v", num, d, mode, got, want)
			}
		}
	}
}

func refRound(x *big.Rat, mode Rounding) *big.Int {
	q, r := new(big.Int).QuoRem(x.Num(), x.Denom(), new(big.Int))
	if r.Sign() == 0 {
		return q
	}
	twice := new(big.Int).Mul(r, big.NewInt(2))
	c := twice.Cmp(x.Denom())
	switch mode {
	case Up:
		return q.Add(q, big.NewInt(1))
	case Down:
		return q
	case HalfEven:
		if c > 0 || (c == 0 && q.Bit(0) == 1) {
			return q.Add(q, big.NewInt(1))
		}
		return q
	default:
		if c >= 0 {
			return q.Add(q, big.NewInt(1))
		}
		return q
	}
}

func TestParseRounding(t *testing.T) {
	for in, want := range map[string]Rounding{"": HalfUp, "half-up": HalfUp, "HALF-EVEN": HalfEven, "up": Up, "down": Down} {
		if got, err := ParseRounding(in); err != nil || got != want {
			t.Errorf("%q: %v %v", in, got, err)
		}
	}
	if _, err := ParseRounding("nearest"); err == nil {
		t.Error("nearest accepted")
	}
}
