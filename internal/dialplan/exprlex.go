package dialplan

// Lexer for $[...] expressions, following main/ast_expr2.fl.

type tokKind uint8

const (
	tEOF tokKind = iota
	tToken
	tOr
	tAnd
	tEq
	tEqTilde
	tTildeTilde
	tGt
	tLt
	tGe
	tLe
	tNe
	tPlus
	tComma
	tMinus
	tMult
	tDiv
	tMod
	tCond
	tCompl
	tColon
	tColonColon
	tLP
	tRP
)

var tokNames = [...]string{
	tEOF: "end of expression", tToken: "token", tOr: "'|'", tAnd: "'&'", tEq: "'='",
	tEqTilde: "'=~'", tTildeTilde: "'~~'", tGt: "'>'", tLt: "'<'", tGe: "'>='", tLe: "'<='",
	tNe: "'!='", tPlus: "'+'", tComma: "','", tMinus: "'-'", tMult: "'*'", tDiv: "'/'",
	tMod: "'%'", tCond: "'?'", tCompl: "'!'", tColon: "':'", tColonColon: "'::'",
	tLP: "'('", tRP: "')'",
}

type token struct {
	kind    tokKind
	text    string
	numeric bool // a [0-9]+(\.[0-9]+)? literal: AST_EXPR_numeric_string
	pos     int
}

type lexer struct {
	s   string
	pos int
}

func isTokenChar(c byte) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c >= 0x80:
		return true
	}
	switch c {
	case '.', '\'', ';', '\\', '_', '^', '#', '@':
		return true
	}
	return false
}

// isTrailStop reports the characters that end the text glued after a
// ${...} reference (the <trail> state).
func isTrailStop(c byte) bool {
	switch c {
	case '-', '\t', '\r', ' ', '\n', '$', '(', ')', ':', '?', '%', '/', '+', '=', '*', '<', '>', '!', '|', '&':
		return true
	}
	return false
}

func isNumberLiteral(s string) bool {
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	if i == 0 {
		return false
	}
	if i == len(s) {
		return true
	}
	if s[i] != '.' || i+1 == len(s) {
		return false
	}
	for i++; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

var twoCharOps = [...]struct {
	op   string
	kind tokKind
}{
	{"||", tOr}, {"&&", tAnd}, {"==", tEq}, {"=~", tEqTilde}, {"~~", tTildeTilde},
	{">=", tGe}, {"<=", tLe}, {"!=", tNe}, {"::", tColonColon},
}

func (lx *lexer) next() token {
	s := lx.s
	for lx.pos < len(s) {
		start := lx.pos
		c := s[start]
		switch c {
		case ' ', '\t', '\r', '\n':
			lx.pos++
			continue
		case '"':
			for j := start + 1; j < len(s); j++ {
				if s[j] == '"' {
					lx.pos = j + 1
					return token{kind: tToken, text: s[start : j+1], pos: start}
				}
			}
			lx.pos++ // unmatched quote: flex's default rule drops it
			continue
		}
		if start+1 < len(s) {
			two := s[start : start+2]
			for _, op := range twoCharOps {
				if two == op.op {
					lx.pos += 2
					return token{kind: op.kind, text: two, pos: start}
				}
			}
		}
		var k tokKind
		switch c {
		case '|':
			k = tOr
		case '&':
			k = tAnd
		case '=':
			k = tEq
		case '>':
			k = tGt
		case '<':
			k = tLt
		case '+':
			k = tPlus
		case ',':
			k = tComma
		case '-':
			k = tMinus
		case '*':
			k = tMult
		case '/':
			k = tDiv
		case '%':
			k = tMod
		case '?':
			k = tCond
		case '!':
			k = tCompl
		case ':':
			k = tColon
		case '(':
			k = tLP
		case ')':
			k = tRP
		}
		if k != tEOF {
			lx.pos++
			return token{kind: k, text: s[start : start+1], pos: start}
		}
		if t, ok := lx.word(); ok {
			return t
		}
		lx.pos++ // any other character is dropped, as flex echoes it
	}
	return token{kind: tEOF, pos: len(s)}
}

// word scans a TOKEN: token characters, "$x" pairs and ${...} references
// with trailing text.
func (lx *lexer) word() (token, bool) {
	s := lx.s
	start := lx.pos
	j := start
	hasVar := false
	for j < len(s) {
		c := s[j]
		if c == '$' && j+1 < len(s) && s[j+1] == '{' {
			hasVar = true
			j = skipVarRef(s, j+2)
			for j < len(s) && !isTrailStop(s[j]) {
				j++
			}
			continue
		}
		if c == '$' && j+1 < len(s) {
			j += 2
			continue
		}
		if !isTokenChar(c) {
			break
		}
		j++
	}
	if j == start {
		return token{}, false
	}
	lx.pos = j
	text := s[start:j]
	return token{kind: tToken, text: text, numeric: !hasVar && isNumberLiteral(text), pos: start}, true
}

// skipVarRef returns the index after the '}' closing a ${ opened before i.
func skipVarRef(s string, i int) int {
	depth := 0
	for ; i < len(s); i++ {
		switch s[i] {
		case '{':
			depth++
		case '}':
			depth--
			if depth < 0 {
				return i + 1
			}
		}
	}
	return i
}
