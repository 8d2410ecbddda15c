package dialplan

import (
	"errors"
	"fmt"
	"math"
	"strings"
)

// Env is what substitution needs from the channel layer.
type Env interface {
	// GetVar returns a channel (or global) variable.
	GetVar(name string) (string, bool)
	// CallFunction reads a dialplan function such as CALLERID(num). It
	// returns an error wrapping ErrNoFunction for functions it does not
	// know, so that the builtins of this package apply.
	CallFunction(name, args string) (string, error)
}

// Reporter may be implemented by an Env to receive the problems Asterisk
// would log during substitution (unknown functions, function errors,
// expression syntax errors and warnings).
type Reporter interface {
	Report(err error)
}

// ErrNoFunction is returned (wrapped) by Env.CallFunction for unknown
// functions.
var ErrNoFunction = errors.New("no such function")

// maxSubstDepth is MAX_VARIABLE_SUB_RECURSE_DEPTH (main/pbx_variables.c).
const maxSubstDepth = 15

// substituter holds the state of one Substitute call.
type substituter struct {
	env   Env
	depth int
}

// Substitute expands ${VAR}, ${VAR:offset[:length]}, ${FUNC(args)} and
// $[expression] in s (pbx_substitute_variables_helper_full). Unknown
// variables and failing functions expand to nothing; an expression with a
// syntax error expands to "0", as ast_expr does. env may be nil.
func Substitute(s string, env Env) string {
	if strings.IndexByte(s, '$') < 0 {
		return s
	}
	sb := &substituter{env: env}
	var b strings.Builder
	b.Grow(len(s) + 16)
	sb.expand(&b, s)
	return b.String()
}

func (sb *substituter) report(err error) {
	if r, ok := sb.env.(Reporter); ok && err != nil {
		r.Report(err)
	}
}

func (sb *substituter) expandString(s string) string {
	if strings.IndexByte(s, '$') < 0 {
		return s
	}
	var b strings.Builder
	sb.expand(&b, s)
	return b.String()
}

func (sb *substituter) expand(b *strings.Builder, s string) {
	if sb.depth >= maxSubstDepth {
		sb.report(fmt.Errorf("exceeded maximum variable substitution recursion depth (%d)", maxSubstDepth))
		return
	}
	sb.depth++
	defer func() { sb.depth-- }()
	for len(s) > 0 {
		i := strings.IndexByte(s, '$')
		if i < 0 || i+1 >= len(s) {
			b.WriteString(s)
			return
		}
		kind := s[i+1]
		if kind != '{' && kind != '[' {
			b.WriteString(s[:i+1])
			s = s[i+1:]
			continue
		}
		b.WriteString(s[:i])
		inner, rest, needsub, closed := scanBraced(s[i+2:], kind)
		s = rest
		if !closed {
			if kind == '{' {
				sb.report(errors.New("error in extension logic (missing '}')"))
			} else {
				sb.report(errors.New("error in extension logic (missing ']')"))
			}
		}
		if needsub {
			inner = sb.expandString(inner)
		}
		if kind == '{' {
			b.WriteString(sb.variable(inner))
			continue
		}
		res, err := evaluate(inner, sb)
		if err != nil {
			sb.report(err)
			if errSyntax(err) {
				res = "0" // ast_expr writes "0" when the parse fails
			}
		}
		b.WriteString(res)
	}
}

// scanBraced finds the end of a ${...} (open '{') or $[...] (open '[')
// body, counting nested openers, and reports whether the body itself
// contains substitutions.
func scanBraced(s string, open byte) (inner, rest string, needsub, closed bool) {
	closeCh := byte('}')
	if open == '[' {
		closeCh = ']'
	}
	depth := 1
	j := 0
	for j < len(s) {
		c := s[j]
		switch {
		case c == '$' && j+1 < len(s) && s[j+1] == open:
			needsub = true
			depth++
			j++
		case c == '$' && j+1 < len(s) && (s[j+1] == '{' || s[j+1] == '['):
			needsub = true
			j++
		case c == open:
			depth++
		case c == closeCh:
			depth--
		}
		j++
		if depth == 0 {
			return s[:j-1], s[j:], needsub, true
		}
	}
	return s, "", needsub, false
}

// variable evaluates the body of ${...}.
func (sb *substituter) variable(expr string) string {
	name, offset, length := parseVariableName(expr)
	var val string
	if strings.IndexByte(name, '(') >= 0 {
		fn, args := splitFuncCall(name)
		v, err := sb.call(fn, args)
		if err != nil {
			sb.report(err)
			return ""
		}
		val = v
	} else if sb.env != nil {
		val, _ = sb.env.GetVar(name)
	}
	return Substring(val, offset, length)
}

// parseVariableName splits "NAME:offset:length" at the first ':' outside
// parentheses (parse_variable_name). length defaults to "everything".
func parseVariableName(s string) (name string, offset, length int) {
	parens := 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '(':
			parens++
		case ')':
			parens--
		case ':':
			if parens == 0 {
				offset, length = 0, math.MaxInt32
				rest := s[i+1:]
				if n, used, ok := scanInt(rest); ok {
					offset = n
					if r := rest[used:]; len(r) > 0 && r[0] == ':' {
						if m, _, ok := scanInt(r[1:]); ok {
							length = m
						}
					}
				}
				return s[:i], offset, length
			}
		}
	}
	return s, 0, math.MaxInt32
}

// scanInt parses a C sscanf("%d") integer prefix: optional white space,
// sign and digits. Values are clamped to 32 bits.
func scanInt(s string) (n, used int, ok bool) {
	i := 0
	for i < len(s) && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r' || s[i] == '\v' || s[i] == '\f') {
		i++
	}
	neg := false
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		neg = s[i] == '-'
		i++
	}
	start := i
	v := int64(0)
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		if v < math.MaxInt32+1 {
			v = v*10 + int64(s[i]-'0')
		}
		i++
	}
	if i == start {
		return 0, 0, false
	}
	if neg {
		v = -v
	}
	v = max(min(v, math.MaxInt32), math.MinInt32)
	return int(v), i, true
}

// Substring applies ${VAR:offset:length} (main/pbx_variables.c
// substring): a negative offset counts from the end, a negative length
// leaves that many characters off the end. Offsets are in bytes.
func Substring(value string, offset, length int) string {
	lr := len(value)
	if offset == 0 && length >= lr {
		return value
	}
	if offset < 0 {
		offset = max(lr+offset, 0)
	}
	if offset >= lr {
		return ""
	}
	value = value[offset:]
	lr -= offset
	switch {
	case length >= 0 && length < lr:
		return value[:length]
	case length < 0:
		if lr > -length {
			return value[:lr+length]
		}
		return ""
	}
	return value
}

// splitFuncCall splits "NAME(args)" at the first '(' and the last ')'
// (main/pbx_functions.c func_args).
func splitFuncCall(s string) (name, args string) {
	i := strings.IndexByte(s, '(')
	if i < 0 {
		return s, ""
	}
	name, args = s[:i], s[i+1:]
	if j := strings.LastIndexByte(args, ')'); j >= 0 {
		args = args[:j]
	}
	return name, args
}

// call reads a dialplan function: the Env first, then the builtins.
func (sb *substituter) call(name, args string) (string, error) {
	if sb.env != nil {
		v, err := sb.env.CallFunction(name, args)
		if err == nil {
			return v, nil
		}
		if !errors.Is(err, ErrNoFunction) {
			return "", fmt.Errorf("function %s: %w", name, err)
		}
	}
	if f, ok := builtins[name]; ok {
		v, err := f(sb, args)
		if err != nil {
			return "", fmt.Errorf("function %s: %w", name, err)
		}
		return v, nil
	}
	return "", fmt.Errorf("function %s: %w", name, ErrNoFunction)
}

// CallFunction reads a function like ${NAME(args)} would: the Env first
// (if not nil), then the builtins of this package.
func CallFunction(name, args string, env Env) (string, error) {
	sb := &substituter{env: env}
	return sb.call(name, args)
}

// CheckCondition is pbx_checkcondition, the truth test of GotoIf, ExecIf,
// IF() and While: empty is false, a leading integer is its value, any
// other string is true.
func CheckCondition(s string) bool {
	if s == "" {
		return false
	}
	if n, _, ok := scanInt(s); ok {
		return n != 0
	}
	return true
}
