package dialplan

import (
	"errors"
	"fmt"
	"math"
	"math/big"
	"strings"
)

// ExprError is a syntax error in a $[...] expression.
type ExprError struct {
	Expr string
	Pos  int
	Msg  string
}

func (e *ExprError) Error() string {
	return fmt.Sprintf("expression syntax error: %s at column %d of %q", e.Msg, e.Pos+1, e.Expr)
}

// Evaluate computes an Asterisk $[...] expression (the text between the
// brackets, with variables already substituted) per main/ast_expr2.y:
// `|` `&` (also `||` `&&`), comparisons `= == != < > <= >=` (numeric when
// both sides are numbers, else string), `:` (anchored) and `=~` regex
// matches, `~~` concatenation, `+ - * / %`, unary `-` and `!`,
// `cond ? a :: b`, parentheses, quoted strings and FUNC(args) calls
// (math builtins, then env, then this package's builtins). Division is
// floating point; numbers print like "%.18Lg".
//
// A syntax error returns "" and an *ExprError. Run-time problems
// (division by zero, non-numeric operands) yield Asterisk's value and are
// passed to env's Reporter if it has one. env may be nil.
func Evaluate(expr string, env Env) (string, error) {
	return evaluate(expr, &substituter{env: env})
}

func evaluate(expr string, sb *substituter) (res string, err error) {
	defer func() {
		// Arithmetic on infinities may produce NaN, which math/big
		// reports by panicking; turn it into an error.
		if r := recover(); r != nil {
			var nan big.ErrNaN
			if e, ok := r.(big.ErrNaN); ok {
				nan = e
				res, err = "", fmt.Errorf("expression %q: %s", expr, nan.Error())
				return
			}
			panic(r)
		}
	}()
	p := &exprParser{lx: lexer{s: expr}, sb: sb, src: expr}
	p.advance()
	if p.tok.kind == tEOF {
		return "", nil
	}
	v, err := p.parse(precCond)
	if err != nil {
		return "", err
	}
	if p.tok.kind != tEOF {
		return "", p.syntaxErr()
	}
	return v.String(), nil
}

// Binary operator precedence, lowest first (the %left lines of
// ast_expr2.y); unary '!' and '-' sit between '*' and ':'.
const (
	precCond  = 2
	precOr    = 3
	precAnd   = 4
	precCmp   = 5
	precAdd   = 6
	precMul   = 7
	precUnary = 8
	precRegex = 9
)

func binaryPrec(k tokKind) int {
	switch k {
	case tCond:
		return precCond
	case tOr:
		return precOr
	case tAnd:
		return precAnd
	case tEq, tGt, tLt, tGe, tLe, tNe:
		return precCmp
	case tPlus, tMinus:
		return precAdd
	case tMult, tDiv, tMod:
		return precMul
	case tColon, tEqTilde, tTildeTilde:
		return precRegex
	}
	return 0
}

// maxExprDepth bounds parser recursion on hostile input.
const maxExprDepth = 1000

type exprParser struct {
	lx    lexer
	tok   token
	sb    *substituter
	src   string
	depth int
}

func (p *exprParser) advance() { p.tok = p.lx.next() }

func (p *exprParser) syntaxErr() error {
	return &ExprError{Expr: p.src, Pos: p.tok.pos, Msg: "unexpected " + tokNames[p.tok.kind]}
}

func (p *exprParser) warn(format string, args ...any) {
	p.sb.report(fmt.Errorf("expression %q: "+format, append([]any{p.src}, args...)...))
}

// parse evaluates operators of at least minPrec while parsing, like the
// bison actions do (both arms of ?: are evaluated).
func (p *exprParser) parse(minPrec int) (*value, error) {
	p.depth++
	defer func() { p.depth-- }()
	if p.depth > maxExprDepth {
		return nil, &ExprError{Expr: p.src, Pos: p.tok.pos, Msg: "expression nested too deeply"}
	}
	var left *value
	var err error
	switch p.tok.kind {
	case tCompl, tMinus:
		op := p.tok.kind
		p.advance()
		operand, err := p.parse(precUnary)
		if err != nil {
			return nil, err
		}
		if op == tCompl {
			left = opCompl(operand)
		} else {
			left = p.opNegate(operand)
		}
	default:
		if left, err = p.primary(); err != nil {
			return nil, err
		}
	}
	for {
		op := p.tok.kind
		prec := binaryPrec(op)
		if prec == 0 || prec < minPrec {
			return left, nil
		}
		p.advance()
		if op == tCond {
			mid, err := p.parse(precCond)
			if err != nil {
				return nil, err
			}
			if p.tok.kind != tColonColon {
				return nil, p.syntaxErr()
			}
			p.advance()
			right, err := p.parse(precCond + 1)
			if err != nil {
				return nil, err
			}
			left = opCond(left, mid, right)
			continue
		}
		right, err := p.parse(prec + 1)
		if err != nil {
			return nil, err
		}
		left = p.binary(op, left, right)
	}
}

func (p *exprParser) primary() (*value, error) {
	switch p.tok.kind {
	case tLP:
		p.advance()
		v, err := p.parse(precCond)
		if err != nil {
			return nil, err
		}
		if p.tok.kind != tRP {
			return nil, p.syntaxErr()
		}
		p.advance()
		return v, nil
	case tToken:
		t := p.tok
		p.advance()
		if p.tok.kind == tLP {
			p.advance()
			return p.call(t.text)
		}
		if t.numeric {
			return &value{kind: vNumStr, s: t.text}, nil
		}
		return &value{kind: vString, s: t.text}, nil
	}
	return nil, p.syntaxErr()
}

// call parses "arglist )" and runs op_func.
func (p *exprParser) call(name string) (*value, error) {
	var args []*value
	first, err := p.parse(precCond)
	if err != nil {
		return nil, err
	}
	args = append(args, first)
	for p.tok.kind == tComma {
		p.advance()
		if p.tok.kind == tComma || p.tok.kind == tRP {
			args = append(args, strVal(""))
			continue
		}
		a, err := p.parse(precCond)
		if err != nil {
			return nil, err
		}
		args = append(args, a)
	}
	if p.tok.kind != tRP {
		return nil, p.syntaxErr()
	}
	p.advance()
	return p.opFunc(name, args), nil
}

var mathFuncs1 = map[string]func(float64) float64{
	"COS": math.Cos, "SIN": math.Sin, "TAN": math.Tan, "ACOS": math.Acos, "ASIN": math.Asin,
	"ATAN": math.Atan, "SQRT": math.Sqrt, "FLOOR": math.Floor, "CEIL": math.Ceil,
	"ROUND": math.Round, "RINT": math.RoundToEven, "TRUNC": math.Trunc, "EXP": math.Exp,
	"EXP2": math.Exp2, "EXP10": func(x float64) float64 { return math.Pow(10, x) },
	"LOG": math.Log, "LOG2": math.Log2, "LOG10": math.Log10, "ABS": math.Abs,
}

var mathFuncs2 = map[string]func(float64, float64) float64{
	"ATAN2": math.Atan2, "POW": math.Pow, "REMAINDER": math.Remainder,
}

func validFuncName(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

// opFunc is op_func: math builtins, else a dialplan function whose
// arguments are joined with ','.
func (p *exprParser) opFunc(name string, args []*value) *value {
	if !validFuncName(name) {
		p.warn("'%s' is not possibly a function name", name)
		return intVal(0)
	}
	if f, ok := mathFuncs1[name]; ok {
		if len(args) != 1 {
			p.warn("wrong args to %s() function", name)
			return intVal(0)
		}
		if name == "ABS" && args[0].toNumber() {
			return numVal(newNum().Abs(args[0].n))
		}
		return floatVal(f(args[0].float()))
	}
	if f, ok := mathFuncs2[name]; ok {
		if len(args) != 2 {
			p.warn("wrong args to %s() function", name)
			return intVal(0)
		}
		return floatVal(f(args[0].float(), args[1].float()))
	}
	parts := make([]string, len(args))
	for i, a := range args {
		parts[i] = a.String()
	}
	res, err := p.sb.call(name, strings.Join(parts, ","))
	if err != nil {
		p.sb.report(err)
		return intVal(0)
	}
	if isReallyNum(res) {
		return numVal(parseCNumber(res))
	}
	return strVal(res)
}

func isReallyNum(s string) bool {
	return strings.Trim(s, "-0123456789. \t") == ""
}

func (p *exprParser) binary(op tokKind, a, b *value) *value {
	switch op {
	case tOr:
		if a.isZeroOrNull() {
			return b
		}
		return a
	case tAnd:
		if a.isZeroOrNull() || b.isZeroOrNull() {
			return intVal(0)
		}
		return a
	case tEq, tGt, tLt, tGe, tLe, tNe:
		return opCompare(op, a, b)
	case tPlus:
		return p.opPlus(a, b)
	case tMinus:
		return p.opMinus(a, b)
	case tMult:
		if !a.toNumber() || !b.toNumber() {
			p.warn("non-numeric argument")
			return intVal(0)
		}
		return numVal(newNum().Mul(a.n, b.n))
	case tDiv:
		return p.opDiv(a, b)
	case tMod:
		return p.opRem(a, b)
	case tColon, tEqTilde:
		return p.opRegex(a, b, op == tColon)
	case tTildeTilde:
		a.toString()
		b.toString()
		a.stripQuotes()
		b.stripQuotes()
		return strVal(a.s + b.s)
	}
	return intVal(0)
}

func opCompare(op tokKind, a, b *value) *value {
	var c int
	if a.isString() || b.isString() {
		a.toString()
		b.toString()
		c = strings.Compare(a.s, b.s)
	} else {
		a.toNumber()
		b.toNumber()
		c = a.n.Cmp(b.n)
	}
	var r bool
	switch op {
	case tEq:
		r = c == 0
	case tNe:
		r = c != 0
	case tGt:
		r = c > 0
	case tLt:
		r = c < 0
	case tGe:
		r = c >= 0
	case tLe:
		r = c <= 0
	}
	if r {
		return intVal(1)
	}
	return intVal(0)
}

func opCond(a, b, c *value) *value {
	if a.isString() {
		if a.s != "" && a.s != `""` && a.s != "0" {
			return b
		}
		return c
	}
	a.toNumber()
	if a.n.Sign() != 0 {
		return b
	}
	return c
}

// opCompl is op_compl: strings use atoi, so !abc is 1.
func opCompl(a *value) *value {
	truth := true
	switch a.kind {
	case vNumber:
		truth = a.n.Sign() != 0
	default:
		switch {
		case a.s == "", a.s == "0":
			truth = false
		default:
			n, _, _ := scanInt(a.s)
			truth = n != 0
		}
	}
	if truth {
		return intVal(0)
	}
	return intVal(1)
}

func (p *exprParser) opNegate(a *value) *value {
	if !a.toNumber() {
		p.warn("non-numeric argument")
		return intVal(0)
	}
	return numVal(newNum().Neg(a.n))
}

func (p *exprParser) opPlus(a, b *value) *value {
	if !a.toNumber() {
		p.warn("non-numeric argument")
		if !b.toNumber() {
			return intVal(0)
		}
		return b
	}
	if !b.toNumber() {
		return a
	}
	return numVal(newNum().Add(a.n, b.n))
}

func (p *exprParser) opMinus(a, b *value) *value {
	if !a.toNumber() {
		p.warn("non-numeric argument")
		if !b.toNumber() {
			return intVal(0)
		}
		return numVal(newNum().Neg(b.n))
	}
	if !b.toNumber() {
		p.warn("non-numeric argument")
		return a
	}
	return numVal(newNum().Sub(a.n, b.n))
}

// opDiv is op_div: floating division; a non-numeric divisor or zero
// gives INT_MAX.
func (p *exprParser) opDiv(a, b *value) *value {
	if !a.toNumber() {
		p.warn("non-numeric argument")
		return intVal(0)
	}
	if !b.toNumber() {
		p.warn("non-numeric argument")
		return intVal(math.MaxInt32)
	}
	if b.n.Sign() == 0 {
		p.warn("division by zero")
		return intVal(math.MaxInt32)
	}
	return numVal(newNum().Quo(a.n, b.n))
}

// opRem is op_rem (fmodl): the result has the sign of the dividend.
func (p *exprParser) opRem(a, b *value) *value {
	if !a.toNumber() || !b.toNumber() {
		p.warn("non-numeric argument")
		return intVal(0)
	}
	if b.n.Sign() == 0 {
		p.warn("div by zero")
		return b
	}
	if a.n.IsInt() && b.n.IsInt() && !a.n.IsInf() && !b.n.IsInf() {
		x, _ := a.n.Int(nil)
		y, _ := b.n.Int(nil)
		return numVal(newNum().SetInt(new(big.Int).Rem(x, y)))
	}
	x, _ := a.n.Float64()
	y, _ := b.n.Float64()
	return floatVal(math.Mod(x, y))
}

// opRegex is op_colon (anchored at the start) and op_eqtilde: the first
// capture group if the regex has one that matched, else the match
// length; no match gives 0, or "" when the regex has groups.
func (p *exprParser) opRegex(a, b *value, anchored bool) *value {
	a.toString()
	b.toString()
	a.stripQuotes()
	b.stripQuotes()
	re, err := compileERE(b.s)
	if err != nil {
		p.warn("regcomp() error: %v", err)
		return strVal("")
	}
	loc := re.FindStringSubmatchIndex(a.s)
	if loc != nil && (!anchored || loc[0] == 0) {
		if len(loc) >= 4 && loc[2] >= 0 {
			return strVal(a.s[loc[2]:loc[3]])
		}
		return intVal(int64(loc[1] - loc[0]))
	}
	if re.NumSubexp() == 0 {
		return intVal(0)
	}
	return strVal("")
}

// errSyntax reports whether err is an expression syntax error.
func errSyntax(err error) bool {
	var e *ExprError
	return errors.As(err, &e)
}
