package dialplan

import (
	"math"
	"math/big"
	"strings"
)

// Values of the expression language (struct val in main/ast_expr2.y).
// Numbers are long doubles in Asterisk; a 64-bit mantissa big.Float
// reproduces their rounding and "%.18Lg" output.

type valKind uint8

const (
	vNumber valKind = iota // AST_EXPR_number
	vNumStr                // AST_EXPR_numeric_string
	vString                // AST_EXPR_string
)

const numPrec = 64

type value struct {
	kind valKind
	s    string
	n    *big.Float
}

func newNum() *big.Float { return new(big.Float).SetPrec(numPrec) }

func numVal(f *big.Float) *value { return &value{kind: vNumber, n: f} }

func intVal(i int64) *value { return numVal(newNum().SetInt64(i)) }

// strVal is make_str: strings of digits and dots (starting with a digit
// or '.') are numeric strings.
func strVal(s string) *value {
	kind := vNumStr
	if s == "" || !(isDigit(s[0]) || s[0] == '.') {
		kind = vString
	} else {
		for i := 0; i < len(s); i++ {
			if !isDigit(s[i]) && s[i] != '.' {
				kind = vString
				break
			}
		}
	}
	return &value{kind: kind, s: s}
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// parseCNumber converts the longest numeric prefix like C strtold
// (white space, sign, digits, fraction, exponent); no digits gives 0.
func parseCNumber(s string) *big.Float {
	i := 0
	for i < len(s) && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r' || s[i] == '\v' || s[i] == '\f') {
		i++
	}
	start := i
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		i++
	}
	digits := 0
	for i < len(s) && isDigit(s[i]) {
		i++
		digits++
	}
	if i < len(s) && s[i] == '.' {
		j := i + 1
		for j < len(s) && isDigit(s[j]) {
			j++
			digits++
		}
		i = j
	}
	if digits == 0 {
		return newNum()
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		j := i + 1
		if j < len(s) && (s[j] == '+' || s[j] == '-') {
			j++
		}
		if j < len(s) && isDigit(s[j]) {
			for j < len(s) && isDigit(s[j]) {
				j++
			}
			i = j
		}
	}
	f, _, err := big.ParseFloat(s[start:i], 10, numPrec, big.ToNearestEven)
	if err != nil || f == nil {
		return newNum()
	}
	return f
}

// toNumber is to_number: numbers stay, numeric strings convert, strings
// fail.
func (v *value) toNumber() bool {
	switch v.kind {
	case vNumber:
		return true
	case vString:
		return false
	}
	v.n = parseCNumber(v.s)
	v.kind, v.s = vNumber, ""
	return true
}

// formatNum prints like "%.18Lg".
func formatNum(f *big.Float) string {
	if f.IsInf() {
		if f.Sign() < 0 {
			return "-inf"
		}
		return "inf"
	}
	return f.Text('g', 18)
}

// toString is to_string.
func (v *value) toString() {
	if v.kind == vNumber {
		v.s, v.kind, v.n = formatNum(v.n), vString, nil
	}
}

func (v *value) isString() bool { return v.kind == vString }

func (v *value) isZeroOrNull() bool {
	if v.kind == vNumber {
		return v.n.Sign() == 0
	}
	return v.s == "" || (v.toNumber() && v.n.Sign() == 0)
}

// stripQuotes removes every '"' from a string that starts and ends with
// one (strip_quotes).
func (v *value) stripQuotes() {
	if v.kind == vNumber || v.s == "" {
		return
	}
	if v.s[0] == '"' && v.s[len(v.s)-1] == '"' {
		v.s = strings.ReplaceAll(v.s, `"`, "")
	}
}

func (v *value) String() string {
	if v.kind == vNumber {
		return formatNum(v.n)
	}
	return v.s
}

// float returns the value as float64 for the math functions.
func (v *value) float() float64 {
	if !v.toNumber() {
		return 0
	}
	f, _ := v.n.Float64()
	return f
}

// floatVal wraps a math result; non-finite results become the strings C
// printf would give.
func floatVal(f float64) *value {
	switch {
	case math.IsNaN(f):
		return strVal("nan")
	case math.IsInf(f, 1):
		return strVal("inf")
	case math.IsInf(f, -1):
		return strVal("-inf")
	}
	return numVal(newNum().SetFloat64(f))
}
