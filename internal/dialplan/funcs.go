package dialplan

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// builtinFunc implements a dialplan function that needs no channel.
type builtinFunc func(sb *substituter, args string) (string, error)

// builtins are the channel-free functions of funcs/func_logic.c,
// func_strings.c, func_cut.c and func_rand.c. The Env may override any of
// them.
var builtins map[string]builtinFunc

func init() {
	builtins = map[string]builtinFunc{
		"LEN":       fnLen,
		"IF":        fnIf,
		"IFTIME":    fnIfTime,
		"ISNULL":    func(_ *substituter, a string) (string, error) { return boolStr(a == ""), nil },
		"EXISTS":    func(_ *substituter, a string) (string, error) { return boolStr(a != ""), nil },
		"TOUPPER":   func(_ *substituter, a string) (string, error) { return asciiUpper(a), nil },
		"TOLOWER":   func(_ *substituter, a string) (string, error) { return asciiLower(a), nil },
		"CUT":       fnCut,
		"FIELDQTY":  fnFieldQty,
		"FIELDNUM":  fnFieldNum,
		"REGEX":     fnRegex,
		"FILTER":    fnFilter,
		"REPLACE":   fnReplace,
		"STRFTIME":  fnStrftime,
		"RAND":      fnRand,
		"EVAL":      fnEval,
		"TRIM":      fnTrim(true, true),
		"LTRIM":     fnTrim(true, false),
		"RTRIM":     fnTrim(false, true),
		"QUOTE":     fnQuote,
		"CSV_QUOTE": fnCSVQuote,
	}
}

func boolStr(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

func asciiUpper(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'a' && c <= 'z' {
			b[i] = c - 32
		}
	}
	return string(b)
}

func asciiLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			b[i] = c + 32
		}
	}
	return string(b)
}

func fnLen(_ *substituter, a string) (string, error) {
	return strconv.Itoa(len(a)), nil
}

// fnIf is IF(expr?[true][:false]) (func_logic.c acf_if).
func fnIf(_ *substituter, a string) (string, error) {
	p := SplitArgsDelim(a, '?', 2)
	if len(p) < 2 || strings.TrimSpace(p[0]) == "" {
		return "", errors.New("syntax IF(<expr>?[<true>][:<false>])")
	}
	tf := SplitArgsDelim(p[1], ':', 2)
	var t, f string
	if len(tf) > 0 {
		t = strings.TrimSpace(tf[0])
	}
	if len(tf) > 1 {
		f = strings.TrimSpace(tf[1])
	}
	if CheckCondition(strings.TrimSpace(p[0])) {
		return t, nil
	}
	return f, nil
}

// stripQuoted is ast_strip_quoted with '"'.
func stripQuoted(s string) string {
	s = strings.TrimSpace(s)
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
		return s[1 : len(s)-1]
	}
	return s
}

// fnIfTime is IFTIME(timespec?[true][:false]) using the current time.
func fnIfTime(_ *substituter, a string) (string, error) {
	a = stripQuoted(a)
	spec, rest, ok := strings.Cut(a, "?")
	if !ok || strings.TrimSpace(spec) == "" {
		return "", errors.New("syntax IFTIME(<timespec>?[<true>][:<false>])")
	}
	t, f, _ := strings.Cut(rest, ":")
	tm, err := ParseTiming(spec)
	if err != nil {
		return "", err
	}
	if tm.Match(time.Now()) {
		return stripQuoted(t), nil
	}
	return stripQuoted(f), nil
}

// getVar reads ${name} through the Env, as the functions that take a
// variable name do (CUT, FIELDQTY, REPLACE).
func (sb *substituter) getVar(name string) string {
	return sb.expandString("${" + name + "}")
}

// encodedChar is ast_get_encoded_char: \n \r \t \xHH \0ooo and \c.
func encodedChar(s string) (c byte, used int, ok bool) {
	if s == "" {
		return 0, 0, false
	}
	if s[0] != '\\' || len(s) == 1 {
		return s[0], 1, true
	}
	switch s[1] {
	case 'n':
		return '\n', 2, true
	case 'r':
		return '\r', 2, true
	case 't':
		return '\t', 2, true
	case 'x':
		v, n := 0, 2
		for n < len(s) && n < 4 && isHex(s[n]) {
			v = v<<4 | hexVal(s[n])
			n++
		}
		if n == 2 {
			return 0, 2, false
		}
		return byte(v), n, true
	case '0':
		v, n := 0, 2
		for n < len(s) && s[n] >= '0' && s[n] <= '7' {
			v = v<<3 | int(s[n]-'0')
			n++
		}
		return byte(v), n, true
	}
	return s[1], 2, true
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func hexVal(c byte) int {
	switch {
	case c <= '9':
		return int(c - '0')
	case c <= 'F':
		return int(c-'A') + 10
	}
	return int(c-'a') + 10
}

// fnCut is CUT(varname,delimiter,fieldspec) (funcs/func_cut.c): fields
// are 1-based, specs like "2", "2-4", "-3", "3-" joined with '&'.
func fnCut(sb *substituter, a string) (string, error) {
	args := SplitArgs(a)
	if len(args) < 3 {
		return "", errors.New("syntax CUT(<varname>,<char-delim>,<range-spec>)")
	}
	ds := byte('-')
	if c, _, ok := encodedChar(args[1]); ok {
		ds = c
	}
	val := sb.getVar(args[0])
	if val == "" {
		return "", nil
	}
	fields := strings.Split(val, string(ds))
	var out []string
	cur := 0 // index of the next unread field
	for spec := range strings.SplitSeq(args[2], "&") {
		if cur >= len(fields) {
			break
		}
		start, stop, ok := parseFieldRange(spec)
		if !ok {
			return "", fmt.Errorf("invalid field spec %q", spec)
		}
		if cur < start-1 {
			cur = start - 1
		}
		for cur < len(fields) && cur+1 <= stop {
			out = append(out, fields[cur])
			cur++
		}
	}
	return strings.Join(out, string(ds)), nil
}

func parseFieldRange(spec string) (start, stop int, ok bool) {
	if strings.HasPrefix(spec, "-") {
		n, _, ok := scanInt(spec[1:])
		return 1, n, ok
	}
	n, used, ok := scanInt(spec)
	if !ok {
		return 0, 0, false
	}
	rest := spec[used:]
	if strings.HasPrefix(rest, "-") {
		if m, _, ok := scanInt(rest[1:]); ok {
			return n, m, true
		}
		return n, int(^uint(0) >> 1), true
	}
	return n, n, true
}

// fnFieldQty is FIELDQTY(varname,delim).
func fnFieldQty(sb *substituter, a string) (string, error) {
	args := SplitArgs(a)
	if len(args) < 2 {
		return "1", nil
	}
	c, _, _ := encodedChar(args[1])
	val := sb.getVar(args[0])
	if val == "" {
		return "0", nil
	}
	return strconv.Itoa(strings.Count(val, string(c)) + 1), nil
}

// fnFieldNum is FIELDNUM(varname,delim,value): the 1-based index of value.
func fnFieldNum(sb *substituter, a string) (string, error) {
	args := SplitArgs(a)
	if len(args) < 3 {
		return "0", errors.New("syntax FIELDNUM(<listname>,<delimiter>,<fieldvalue>)")
	}
	val := sb.getVar(args[0])
	if val == "" || args[1] == "" {
		return "0", nil
	}
	c, _, ok := encodedChar(args[1])
	if !ok {
		return "0", errors.New("bad delimiter")
	}
	for i, f := range strings.Split(val, string(c)) {
		if strings.EqualFold(f, args[2]) {
			return strconv.Itoa(i + 1), nil
		}
	}
	return "0", nil
}

// compileERE compiles a POSIX extended regular expression (regcomp with
// REG_EXTENDED); Go's POSIX syntax is the closest match.
func compileERE(re string) (*regexp.Regexp, error) {
	return regexp.CompilePOSIX(re)
}

// fnRegex is REGEX("regex" string): 1 if the regex matches anywhere.
func fnRegex(_ *substituter, a string) (string, error) {
	p := separateArgs(a, '"', 3, true, false)
	if len(p) != 3 {
		return "", errors.New(`arguments should be in the form '"<regex>" <string>'`)
	}
	str := p[2]
	if str != "" && (str[0] == ' ' || str[0] == '\t') {
		str = str[1:]
	}
	re, err := compileERE(p[1])
	if err != nil {
		return "", err
	}
	return boolStr(re.MatchString(str)), nil
}

// fnFilter is FILTER(allowed-chars,string); allowed may hold ranges a-z
// and escapes.
func fnFilter(_ *substituter, a string) (string, error) {
	args := SplitArgsRaw(a, ',', 2)
	if len(args) < 2 {
		return "", errors.New("syntax FILTER(<allowed-chars>,<string>)")
	}
	var allowed [256]bool
	s := args[0]
	for s != "" {
		c1, n, ok := encodedChar(s)
		if !ok {
			return "", fmt.Errorf("bad character in %q", args[0])
		}
		s = s[n:]
		if strings.HasPrefix(s, "-") && len(s) > 1 {
			c2, n2, ok := encodedChar(s[1:])
			if !ok {
				c2 = c1
			}
			s = s[1+n2:]
			for c := c1; ; c++ {
				allowed[c] = true
				if c == c2 {
					break
				}
			}
			continue
		}
		allowed[c1] = true
	}
	var b strings.Builder
	for i := 0; i < len(args[1]); i++ {
		if allowed[args[1][i]] && args[1][i] != 0 {
			b.WriteByte(args[1][i])
		}
	}
	return b.String(), nil
}

// fnReplace is REPLACE(varname,find-chars[,replace-char]).
func fnReplace(sb *substituter, a string) (string, error) {
	args := SplitArgs(a)
	if len(args) < 2 || args[0] == "" || args[1] == "" {
		return "", errors.New("syntax REPLACE(<varname>,<search-chars>[,<replace-char>])")
	}
	var find [256]bool
	for s := args[1]; s != ""; {
		c, n, _ := encodedChar(s)
		find[c] = true
		s = s[max(n, 1):]
	}
	repl, hasRepl := byte(0), false
	if len(args) > 2 && args[2] != "" {
		repl, _, hasRepl = encodedChar(args[2])
	}
	val := sb.getVar(args[0])
	var b strings.Builder
	for i := 0; i < len(val); i++ {
		switch {
		case !find[val[i]]:
			b.WriteByte(val[i])
		case hasRepl:
			b.WriteByte(repl)
		}
	}
	return b.String(), nil
}

// fnStrftime is STRFTIME([epoch][,[timezone][,format]]).
func fnStrftime(_ *substituter, a string) (string, error) {
	args := SplitArgs(a)
	for len(args) < 3 {
		args = append(args, "")
	}
	when := time.Now()
	if e := strings.TrimSpace(args[0]); e != "" {
		if f, err := strconv.ParseFloat(e, 64); err == nil {
			sec := int64(f)
			when = time.Unix(sec, int64((f-float64(sec))*1e9))
		}
	}
	loc := time.Local
	if tz := strings.TrimSpace(args[1]); tz != "" {
		if l, err := time.LoadLocation(tz); err == nil {
			loc = l
		}
	}
	format := args[2]
	if format == "" {
		format = "%c"
	}
	return Strftime(format, when.In(loc)), nil
}

// fnRand is RAND([min][,max]), both ends included.
func fnRand(_ *substituter, a string) (string, error) {
	args := SplitArgs(a)
	lo, hi := 0, 2147483647 // RAND_MAX
	if len(args) > 0 {
		if n, _, ok := scanInt(args[0]); ok {
			lo = n
		}
	}
	if len(args) > 1 {
		if n, _, ok := scanInt(args[1]); ok {
			hi = n
		}
	}
	if hi < lo {
		lo, hi = hi, lo
	}
	return strconv.FormatInt(int64(lo)+rand.Int64N(int64(hi)-int64(lo)+1), 10), nil
}

// fnEval is EVAL(string): substitute once more.
func fnEval(sb *substituter, a string) (string, error) {
	if a == "" {
		return "", errors.New("EVAL requires an argument")
	}
	return sb.expandString(a), nil
}

func fnTrim(left, right bool) builtinFunc {
	return func(_ *substituter, a string) (string, error) {
		if left {
			a = strings.TrimLeft(a, " \t\r\n\v\f")
		}
		if right {
			a = strings.TrimRight(a, " \t\r\n\v\f")
		}
		return a, nil
	}
}

// fnQuote is QUOTE(string): double quotes with \ and " escaped.
func fnQuote(_ *substituter, a string) (string, error) {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`)
	return `"` + r.Replace(a) + `"`, nil
}

// fnCSVQuote is CSV_QUOTE(string): double quotes with " doubled.
func fnCSVQuote(_ *substituter, a string) (string, error) {
	return `"` + strings.ReplaceAll(a, `"`, `""`) + `"`, nil
}
