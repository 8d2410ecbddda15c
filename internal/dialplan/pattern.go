package dialplan

import (
	"bytes"
	"fmt"
	"strings"
)

// Pattern element kinds. An ordinary element is a character set; '.' and
// '!' end matching (main/pbx.c _extension_match_core).
const (
	elemSet  uint8 = iota
	elemDot        // '.' one or more further characters
	elemBang       // '!' zero or more further characters, early match
)

// Sort scores from main/pbx.c ext_cmp_pattern_pos: bits 0-7 hold the
// lowest character of the set, bits 8-15 its size, higher bits the
// special cases, so that smaller (more specific) sets sort first.
const (
	scoreDot  = 0x18000
	scoreBang = 0x28000
	scoreEnd  = 0x30000
)

// patElem is one position of a compiled pattern. bits uses Asterisk's
// layout (byte c/8, bit 7-c%8) so that ties between equally sized sets
// are broken exactly as ext_cmp_pattern does with memcmp.
type patElem struct {
	kind  uint8
	score int32
	bits  [32]byte
}

func (e *patElem) has(c byte) bool {
	return e.bits[c>>3]&(0x80>>(c&7)) != 0
}

func (e *patElem) add(c byte) bool {
	m := byte(0x80 >> (c & 7))
	if e.bits[c>>3]&m != 0 {
		return false
	}
	e.bits[c>>3] |= m
	return true
}

// pattern is a compiled extension pattern (the text after '_').
type pattern struct {
	elems []patElem
}

// match results, as _extension_match_core returns them.
const (
	noMatch    = 0
	matched    = 1
	earlyMatch = 2
)

// matchMode mirrors enum ext_match_t.
type matchMode uint8

const (
	modeMatch     matchMode = iota // E_MATCH: the whole string matches
	modeCanMatch                   // E_CANMATCH: matches now or with more digits
	modeMatchMore                  // E_MATCHMORE: needs more digits to match
)

// compilePattern compiles the body of a pattern (without the leading '_'
// and with the '-' fluff already removed). It reports an unterminated '['
// as an error; Asterisk only logs "Wrong usage of [] in the extension" and
// never matches such an extension.
func compilePattern(body string) (*pattern, error) {
	p := &pattern{elems: make([]patElem, 0, len(body))}
	for i := 0; i < len(body); i++ {
		c := body[i]
		var e patElem
		switch c {
		case 'n', 'N':
			e.score = 0x0800 | '2'
			e.bits[6], e.bits[7] = 0x3f, 0xc0
		case 'x', 'X':
			e.score = 0x0A00 | '0'
			e.bits[6], e.bits[7] = 0xff, 0xc0
		case 'z', 'Z':
			e.score = 0x0900 | '1'
			e.bits[6], e.bits[7] = 0x7f, 0xc0
		case '.':
			e.kind, e.score = elemDot, scoreDot
		case '!':
			e.kind, e.score = elemBang, scoreBang
		case '[':
			end := strings.IndexByte(body[i+1:], ']')
			if end < 0 {
				return nil, fmt.Errorf("unterminated '[' in pattern _%s", body)
			}
			set := body[i+1 : i+1+end]
			i += 1 + end
			count, cmin := 0, 0xff
			for j := 0; j < len(set); j++ {
				c1, c2 := int(set[j]), int(set[j])
				if j+2 < len(set) && set[j+1] == '-' {
					c2 = int(set[j+2])
					j += 2
				}
				cmin = min(cmin, c1)
				for ch := c1; ch <= c2; ch++ {
					if e.add(byte(ch)) {
						count++
					}
				}
			}
			if count == 0 {
				// Empty sets are ignored both when sorting and matching.
				continue
			}
			e.score = int32(count<<8 | cmin)
		default:
			e.score = 0x0100 | int32(c)
			e.add(c)
		}
		p.elems = append(p.elems, e)
	}
	return p, nil
}

// pos returns the sort score and set of position i (past the end: NUL).
func (p *pattern) pos(i int) (int32, *[32]byte) {
	if i >= len(p.elems) {
		return scoreEnd, &zeroBits
	}
	return p.elems[i].score, &p.elems[i].bits
}

var zeroBits [32]byte

// comparePatterns orders two compiled patterns as main/pbx.c
// ext_cmp_pattern does: position by position, smaller sets first, ties
// broken by the set with the lowest characters.
func comparePatterns(a, b *pattern) int {
	for i := 0; ; i++ {
		sa, ba := a.pos(i)
		sb, bb := b.pos(i)
		if sa != sb {
			if sa < sb {
				return -1
			}
			return 1
		}
		if c := bytes.Compare(bb[:], ba[:]); c != 0 {
			return c
		}
		if i >= len(a.elems) {
			return 0
		}
	}
}

// match runs _extension_match_core's pattern loop. '-' in data is fluff
// and skipped.
func (p *pattern) match(data string, mode matchMode) int {
	i, j := 0, 0
	for {
		for i < len(data) && data[i] == '-' {
			i++
		}
		if i >= len(data) || j >= len(p.elems) {
			break
		}
		e := &p.elems[j]
		switch e.kind {
		case elemDot:
			return matched
		case elemBang:
			return earlyMatch
		}
		if !e.has(data[i]) {
			return noMatch
		}
		i++
		j++
	}
	if i < len(data) {
		return noMatch // data longer than pattern
	}
	if j == len(p.elems) {
		if mode == modeMatchMore {
			return noMatch
		}
		return matched
	}
	if p.elems[j].kind == elemBang {
		return earlyMatch
	}
	if mode == modeMatch {
		return noMatch
	}
	return matched
}

// matchLiteral is _extension_match_core for a non-pattern extension whose
// key has no fluff; '-' in data is ignored (ext_cmp_exten).
func matchLiteral(key, data string, mode matchMode) int {
	ld := 0
	for i := 0; i < len(data); i++ {
		if data[i] != '-' {
			ld++
		}
	}
	if len(key) < ld {
		return noMatch
	}
	// Is data (without fluff) a prefix of key?
	k := 0
	for i := 0; i < len(data); i++ {
		if data[i] == '-' {
			continue
		}
		if key[k] != data[i] {
			return noMatch
		}
		k++
	}
	switch mode {
	case modeMatch:
		if k == len(key) {
			return matched
		}
		return noMatch
	case modeMatchMore:
		if len(key) > ld {
			return matched
		}
		return noMatch
	}
	return matched
}

// compareLiteral orders non-pattern extensions (ext_cmp_exten on keys
// without fluff is plain byte order).
func compareLiteral(a, b string) int {
	return strings.Compare(a, b)
}

// normalizeExten removes the characters Asterisk drops when it stores an
// extension (main/pbx.c ext_strncpy with nofluff): spaces, and '-'
// outside of a pattern's [] sets.
func normalizeExten(s string) string {
	if strings.IndexByte(s, ' ') < 0 && strings.IndexByte(s, '-') < 0 {
		return s
	}
	isPattern := strings.HasPrefix(s, "_")
	var b strings.Builder
	b.Grow(len(s))
	insq := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '[':
			if isPattern {
				insq = true
			}
		case c == ']':
			insq = false
		case (c == ' ' || c == '-') && !insq:
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

// shrinkPhoneNumber is main/callerid.c ast_shrink_phone_number, applied
// to the Caller ID part of "exten/cid".
func shrinkPhoneNumber(n string) string {
	var b strings.Builder
	bracketed := 0
	for i := 0; i < len(n); i++ {
		c := n[i]
		switch c {
		case '[':
			bracketed++
			b.WriteByte(c)
		case ']':
			bracketed--
			b.WriteByte(c)
		case '-':
			if bracketed != 0 {
				b.WriteByte(c)
			}
		case '.':
			if i+1 == len(n) {
				b.WriteByte(c)
			}
		case '(', ' ', ')':
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// matcher is a compiled extension or Caller ID match: a literal key or a
// pattern.
type matcher struct {
	key string   // normalized text ("_" kept for patterns)
	pat *pattern // nil for literals
}

func newMatcher(text string) (matcher, error) {
	key := normalizeExten(text)
	if !strings.HasPrefix(key, "_") {
		return matcher{key: key}, nil
	}
	p, err := compilePattern(key[1:])
	if err != nil {
		return matcher{}, err
	}
	return matcher{key: key, pat: p}, nil
}

func (m *matcher) match(data string, mode matchMode) int {
	if m.pat == nil {
		return matchLiteral(m.key, data, mode)
	}
	return m.pat.match(data, mode)
}

// compareMatchers is main/pbx.c ext_cmp: literals before patterns,
// literals in byte order, patterns most specific first.
func compareMatchers(a, b *matcher) int {
	switch {
	case a.pat == nil && b.pat == nil:
		return compareLiteral(a.key, b.key)
	case a.pat == nil:
		return -1
	case b.pat == nil:
		return 1
	}
	return comparePatterns(a.pat, b.pat)
}

// ExtensionMatch reports whether the extension or pattern ext matches the
// dialed string exactly (ast_extension_match).
func ExtensionMatch(ext, dialed string) bool {
	m, err := newMatcher(ext)
	if err != nil {
		return false
	}
	return m.match(dialed, modeMatch) != noMatch
}

// CompareExtensions orders two extensions the way Asterisk sorts them in a
// context (ast_extension_cmp): -1, 0 or 1. Equal means Asterisk treats
// them as the same extension (for example _N and _[2-9]).
func CompareExtensions(a, b string) int {
	ma, erra := newMatcher(a)
	mb, errb := newMatcher(b)
	if erra != nil || errb != nil {
		return strings.Compare(a, b)
	}
	return compareMatchers(&ma, &mb)
}
