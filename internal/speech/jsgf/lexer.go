package jsgf

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

type tokKind int

const (
	tokEOF tokKind = iota
	tokWord
	tokQuoted
	tokRuleName // <name>, text without the brackets
	tokWeight   // /n/, text without the slashes
	tokTag      // {text}, text without the braces
	tokSemi
	tokEquals
	tokBar
	tokLParen
	tokRParen
	tokLBracket
	tokRBracket
	tokStar
	tokPlus
)

type token struct {
	kind      tokKind
	text      string
	line, col int
}

func (t token) describe() string {
	switch t.kind {
	case tokEOF:
		return "end of file"
	case tokWord:
		return fmt.Sprintf("%q", t.text)
	case tokQuoted:
		return fmt.Sprintf("quoted token %q", t.text)
	case tokRuleName:
		return "<" + t.text + ">"
	case tokWeight:
		return "weight /" + t.text + "/"
	case tokTag:
		return "tag {" + t.text + "}"
	}
	for _, c := range []byte(";=|()[]*+") {
		if punctKind(c) == t.kind {
			return fmt.Sprintf("%q", string(c))
		}
	}
	return "?"
}

// punctKind returns the token kind of a one-byte punctuation mark, or
// tokEOF for any other byte.
func punctKind(c byte) tokKind {
	switch c {
	case ';':
		return tokSemi
	case '=':
		return tokEquals
	case '|':
		return tokBar
	case '(':
		return tokLParen
	case ')':
		return tokRParen
	case '[':
		return tokLBracket
	case ']':
		return tokRBracket
	case '*':
		return tokStar
	case '+':
		return tokPlus
	}
	return tokEOF
}

type lexError struct {
	line, col int
	msg       string
}

func (e *lexError) Error() string { return e.msg }

type lexer struct {
	src       []byte
	pos       int
	line, col int
}

func newLexer(src []byte) *lexer {
	// A UTF-8 byte order mark is allowed before the header.
	if len(src) >= 3 && src[0] == 0xEF && src[1] == 0xBB && src[2] == 0xBF {
		src = src[3:]
	}
	return &lexer{src: src, line: 1, col: 1}
}

func (l *lexer) advance(n int) {
	for i := 0; i < n && l.pos < len(l.src); i++ {
		if l.src[l.pos] == '\n' {
			l.line++
			l.col = 1
		} else {
			l.col++
		}
		l.pos++
	}
}

// headerLine returns the first line, which must hold the header. Leading
// blank lines and comments are not allowed before it by the specification,
// but blank space is tolerated.
func (l *lexer) headerLine() (string, error) {
	for l.pos < len(l.src) && (l.src[l.pos] == ' ' || l.src[l.pos] == '\t' || l.src[l.pos] == '\r' || l.src[l.pos] == '\n') {
		l.advance(1)
	}
	if !strings.HasPrefix(string(l.src[l.pos:min(len(l.src), l.pos+5)]), "#JSGF") {
		end := l.pos
		for end < len(l.src) && l.src[end] != '\n' {
			end++
		}
		return "", fmt.Errorf("expected the header \"#JSGF V1.0;\" first, found %q", strings.TrimSpace(string(l.src[l.pos:end])))
	}
	end := l.pos
	for end < len(l.src) && l.src[end] != ';' && l.src[end] != '\n' {
		end++
	}
	if end < len(l.src) && l.src[end] == ';' {
		end++
	}
	line := string(l.src[l.pos:end])
	l.advance(end - l.pos)
	return line, nil
}

func (l *lexer) skipSpace() error {
	for l.pos < len(l.src) {
		c := l.src[l.pos]
		switch {
		case c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f':
			l.advance(1)
		case c == '/' && l.pos+1 < len(l.src) && l.src[l.pos+1] == '/':
			for l.pos < len(l.src) && l.src[l.pos] != '\n' {
				l.advance(1)
			}
		case c == '/' && l.pos+1 < len(l.src) && l.src[l.pos+1] == '*':
			line, col := l.line, l.col
			end := strings.Index(string(l.src[l.pos+2:]), "*/")
			if end < 0 {
				return &lexError{line, col, "unterminated comment /* ..."}
			}
			l.advance(end + 4)
		default:
			return nil
		}
	}
	return nil
}

// isWordByte reports bytes that may appear in a bare token: anything but
// white space and the JSGF punctuation.
func isWordByte(c byte) bool {
	switch c {
	case ' ', '\t', '\r', '\n', '\f', ';', '=', '|', '*', '+', '<', '>', '(', ')', '[', ']', '{', '}', '"', '/':
		return false
	}
	return true
}

func (l *lexer) next() (token, error) {
	if err := l.skipSpace(); err != nil {
		return token{}, err
	}
	t := token{line: l.line, col: l.col}
	if l.pos >= len(l.src) {
		t.kind = tokEOF
		return t, nil
	}
	c := l.src[l.pos]
	if k := punctKind(c); k != tokEOF {
		t.kind = k
		l.advance(1)
		return t, nil
	}
	switch c {
	case '<':
		end := strings.IndexAny(string(l.src[l.pos+1:]), ">\n")
		if end < 0 || l.src[l.pos+1+end] != '>' {
			return t, &lexError{t.line, t.col, "unterminated rule name <..."}
		}
		t.kind, t.text = tokRuleName, string(l.src[l.pos+1:l.pos+1+end])
		l.advance(end + 2)
		return t, nil
	case '/':
		end := strings.IndexAny(string(l.src[l.pos+1:]), "/\n")
		if end < 0 || l.src[l.pos+1+end] != '/' {
			return t, &lexError{t.line, t.col, "unterminated weight /..."}
		}
		t.kind, t.text = tokWeight, strings.TrimSpace(string(l.src[l.pos+1:l.pos+1+end]))
		l.advance(end + 2)
		return t, nil
	case '{':
		// Tags end at the first unescaped '}'.
		var b strings.Builder
		i := l.pos + 1
		for ; i < len(l.src) && l.src[i] != '}'; i++ {
			if l.src[i] == '\\' && i+1 < len(l.src) {
				i++
			}
			b.WriteByte(l.src[i])
		}
		if i >= len(l.src) {
			return t, &lexError{t.line, t.col, "unterminated tag {..."}
		}
		t.kind, t.text = tokTag, b.String()
		l.advance(i + 1 - l.pos)
		return t, nil
	case '"':
		var b strings.Builder
		i := l.pos + 1
		for ; i < len(l.src) && l.src[i] != '"' && l.src[i] != '\n'; i++ {
			if l.src[i] == '\\' && i+1 < len(l.src) {
				i++
			}
			b.WriteByte(l.src[i])
		}
		if i >= len(l.src) || l.src[i] != '"' {
			return t, &lexError{t.line, t.col, "unterminated quoted token"}
		}
		t.kind, t.text = tokQuoted, b.String()
		l.advance(i + 1 - l.pos)
		return t, nil
	case '>', '}':
		return t, &lexError{t.line, t.col, fmt.Sprintf("unexpected %q", c)}
	}
	i := l.pos
	for i < len(l.src) && isWordByte(l.src[i]) {
		i++
	}
	if !utf8.Valid(l.src[l.pos:i]) {
		return t, &lexError{t.line, t.col, "token is not valid UTF-8"}
	}
	t.kind, t.text = tokWord, string(l.src[l.pos:i])
	l.advance(i - l.pos)
	return t, nil
}
