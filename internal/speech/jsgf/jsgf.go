// Package jsgf parses grammars in the Java Speech Grammar Format (JSGF 1.0,
// W3C Note 5 June 2000), the grammar format of pocketsphinx and of
// Asterisk's SpeechLoadGrammar for Sphinx-based engines.
//
// It implements the parts of the specification a recognizer needs: the
// self-identifying header ("#JSGF V1.0 [encoding [locale]];"), the grammar
// name declaration, rule definitions with "public", alternatives with
// optional weights ("/10/"), sequences, grouping "( )", optional "[ ]",
// the unary operators "*" and "+", tags "{...}", quoted and bare tokens, the
// special rules <NULL> and <VOID>, and comments ("//" and "/* */").
// Imports are recognised and refused with a clear error: a grammar must be
// self-contained (pocketsphinx has no grammar search path either).
//
// Errors carry the source name and the line and column of the problem
// (Error), so an operator reads "menu.gram:3:17: ..." in the log.
package jsgf

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// MaxSize bounds the grammar text Parse accepts.
const MaxSize = 1 << 20

// ErrSyntax is wrapped by every error of Parse.
var ErrSyntax = errors.New("jsgf: syntax error")

// Error is a grammar error at a position of the source.
type Error struct {
	Source string // file name or a label ("string")
	Line   int    // 1-based
	Col    int    // 1-based, in bytes
	Msg    string
}

func (e *Error) Error() string {
	return fmt.Sprintf("%s:%d:%d: %s", e.Source, e.Line, e.Col, e.Msg)
}

// Unwrap makes errors.Is(err, ErrSyntax) true.
func (e *Error) Unwrap() error { return ErrSyntax }

// Kind is the type of an expansion node.
type Kind int

// Expansion kinds.
const (
	Token        Kind = iota // a word or quoted phrase
	RuleRef                  // <name>
	Null                     // <NULL>: matches nothing, always
	Void                     // <VOID>: never matches
	Sequence                 // Items in order
	Alternatives             // one of Items (Weights parallel to Items, or nil)
	Optional                 // [ Items[0] ]
	Star                     // Items[0]*
	Plus                     // Items[0]+
)

// Expansion is a node of a rule's right-hand side.
type Expansion struct {
	Kind    Kind
	Text    string       // Token: the token text (quotes removed); RuleRef: the rule name
	Items   []*Expansion // children
	Weights []float64    // Alternatives: weights, when the grammar gives them
	Tags    []string     // tags attached to this node, without braces
	Line    int
	Col     int
}

// Rule is one rule definition.
type Rule struct {
	Name   string
	Public bool
	Expand *Expansion
	Line   int
}

// Grammar is a parsed, checked JSGF grammar.
type Grammar struct {
	Source   string // as given to Parse
	Name     string // from "grammar NAME;"
	Encoding string // from the header, may be empty
	Locale   string // from the header, may be empty
	Rules    []*Rule
	byName   map[string]*Rule
}

// Rule returns the rule called name.
func (g *Grammar) Rule(name string) (*Rule, bool) {
	r, ok := g.byName[name]
	return r, ok
}

// Root returns the rule a recognizer starts from: the first public rule,
// as pocketsphinx (jsgf_get_public_rule) does without -toprule.
func (g *Grammar) Root() *Rule {
	for _, r := range g.Rules {
		if r.Public {
			return r
		}
	}
	return nil
}

// Words returns the distinct words the grammar's root can produce (tokens
// of every rule reachable from it, quoted phrases split on spaces),
// sorted.
func (g *Grammar) Words() []string {
	set := map[string]bool{}
	seen := map[string]bool{}
	var walk func(e *Expansion)
	walk = func(e *Expansion) {
		switch e.Kind {
		case Token:
			for _, w := range strings.Fields(e.Text) {
				set[w] = true
			}
		case RuleRef:
			if !seen[e.Text] {
				seen[e.Text] = true
				walk(g.byName[e.Text].Expand)
			}
		}
		for _, c := range e.Items {
			walk(c)
		}
	}
	if root := g.Root(); root != nil {
		seen[root.Name] = true
		walk(root.Expand)
	}
	out := make([]string, 0, len(set))
	for w := range set {
		out = append(out, w)
	}
	sort.Strings(out)
	return out
}

// Parse parses and checks a JSGF grammar. source names it in errors (a
// file name, or a label such as "string"). The grammar must have at least
// one public rule, every referenced rule must be defined, and no rule may
// be left-recursive (pocketsphinx supports right recursion only).
func Parse(source string, text []byte) (*Grammar, error) {
	if len(text) > MaxSize {
		return nil, &Error{Source: source, Line: 1, Col: 1, Msg: fmt.Sprintf("grammar larger than %d bytes", MaxSize)}
	}
	p := &parser{src: source, lx: newLexer(text)}
	g, err := p.grammar()
	if err != nil {
		return nil, err
	}
	if err := g.check(); err != nil {
		return nil, err
	}
	return g, nil
}

type parser struct {
	src string
	lx  *lexer
	tok token // current token
}

func (p *parser) errAt(line, col int, format string, args ...any) error {
	return &Error{Source: p.src, Line: line, Col: col, Msg: fmt.Sprintf(format, args...)}
}

func (p *parser) errTok(format string, args ...any) error {
	return p.errAt(p.tok.line, p.tok.col, format, args...)
}

func (p *parser) next() error {
	t, err := p.lx.next()
	if err != nil {
		var le *lexError
		if errors.As(err, &le) {
			return p.errAt(le.line, le.col, "%s", le.msg)
		}
		return err
	}
	p.tok = t
	return nil
}

func (p *parser) expect(kind tokKind, what string) error {
	if p.tok.kind != kind {
		return p.errTok("expected %s, found %s", what, p.tok.describe())
	}
	return p.next()
}

func (p *parser) grammar() (*Grammar, error) {
	g := &Grammar{Source: p.src, byName: map[string]*Rule{}}
	// The header must be the first thing in the file (JSGF section 3.1);
	// it is read as a line since "V1.0" and the locale are not tokens.
	if err := p.header(g); err != nil {
		return nil, err
	}
	if err := p.next(); err != nil {
		return nil, err
	}
	if p.tok.kind != tokWord || p.tok.text != "grammar" {
		return nil, p.errTok("expected \"grammar NAME;\", found %s", p.tok.describe())
	}
	if err := p.next(); err != nil {
		return nil, err
	}
	if p.tok.kind != tokWord || !validName(p.tok.text, true) {
		return nil, p.errTok("bad grammar name %s", p.tok.describe())
	}
	g.Name = p.tok.text
	if err := p.next(); err != nil {
		return nil, err
	}
	if err := p.expect(tokSemi, "';' after the grammar name"); err != nil {
		return nil, err
	}
	for p.tok.kind != tokEOF {
		if p.tok.kind == tokWord && p.tok.text == "import" {
			return nil, p.errTok("import is not supported: put every rule in one grammar")
		}
		r, err := p.rule()
		if err != nil {
			return nil, err
		}
		if prev, dup := g.byName[r.Name]; dup {
			return nil, p.errAt(r.Line, 1, "rule <%s> already defined on line %d", r.Name, prev.Line)
		}
		g.byName[r.Name] = r
		g.Rules = append(g.Rules, r)
	}
	return g, nil
}

func (p *parser) header(g *Grammar) error {
	line, err := p.lx.headerLine()
	if err != nil {
		return p.errAt(1, 1, "%s", err.Error())
	}
	fields := strings.Fields(strings.TrimSuffix(strings.TrimSpace(line), ";"))
	if !strings.HasSuffix(strings.TrimSpace(line), ";") || len(fields) < 2 || len(fields) > 4 || fields[0] != "#JSGF" {
		return p.errAt(1, 1, "expected the header \"#JSGF V1.0;\", found %q", line)
	}
	if !strings.HasPrefix(fields[1], "V1.") {
		return p.errAt(1, 7, "unsupported JSGF version %q (V1.0 expected)", fields[1])
	}
	if len(fields) > 2 {
		g.Encoding = fields[2]
	}
	if len(fields) > 3 {
		g.Locale = fields[3]
	}
	return nil
}

func (p *parser) rule() (*Rule, error) {
	r := &Rule{Line: p.tok.line}
	if p.tok.kind == tokWord && p.tok.text == "public" {
		r.Public = true
		if err := p.next(); err != nil {
			return nil, err
		}
	}
	if p.tok.kind != tokRuleName {
		return nil, p.errTok("expected a rule definition \"<name> = ...;\", found %s", p.tok.describe())
	}
	name := p.tok.text
	if !validName(name, false) || isSpecial(name) {
		return nil, p.errTok("bad rule name <%s>", name)
	}
	r.Name = name
	if err := p.next(); err != nil {
		return nil, err
	}
	if err := p.expect(tokEquals, "'=' after <"+name+">"); err != nil {
		return nil, err
	}
	e, err := p.alternatives()
	if err != nil {
		return nil, err
	}
	r.Expand = e
	if err := p.expect(tokSemi, "';' at the end of rule <"+name+">"); err != nil {
		return nil, err
	}
	return r, nil
}

// alternatives: [weight] sequence ( '|' [weight] sequence )*
func (p *parser) alternatives() (*Expansion, error) {
	line, col := p.tok.line, p.tok.col
	var items []*Expansion
	var weights []float64
	for {
		w, hasW, err := p.weight()
		if err != nil {
			return nil, err
		}
		if len(items) > 0 && hasW != (weights != nil) {
			return nil, p.errTok("either every alternative has a weight or none has")
		}
		if hasW {
			weights = append(weights, w)
		}
		seq, err := p.sequence()
		if err != nil {
			return nil, err
		}
		items = append(items, seq)
		if p.tok.kind != tokBar {
			break
		}
		if err := p.next(); err != nil {
			return nil, err
		}
	}
	if len(items) == 1 {
		return items[0], nil
	}
	return &Expansion{Kind: Alternatives, Items: items, Weights: weights, Line: line, Col: col}, nil
}

func (p *parser) weight() (float64, bool, error) {
	if p.tok.kind != tokWeight {
		return 0, false, nil
	}
	w, err := strconv.ParseFloat(p.tok.text, 64)
	if err != nil || w < 0 || w != w {
		return 0, false, p.errTok("bad weight /%s/", p.tok.text)
	}
	return w, true, p.next()
}

// sequence: item+
func (p *parser) sequence() (*Expansion, error) {
	line, col := p.tok.line, p.tok.col
	var items []*Expansion
	for {
		switch p.tok.kind {
		case tokWord, tokQuoted, tokRuleName, tokLParen, tokLBracket:
		default:
			if len(items) == 0 {
				return nil, p.errTok("expected a word, <rule>, '(' or '[', found %s", p.tok.describe())
			}
			if len(items) == 1 {
				return items[0], nil
			}
			return &Expansion{Kind: Sequence, Items: items, Line: line, Col: col}, nil
		}
		it, err := p.item()
		if err != nil {
			return nil, err
		}
		items = append(items, it)
	}
}

// item: primary ('*' | '+')? tag*  (tags may also follow the operator)
func (p *parser) item() (*Expansion, error) {
	t := p.tok
	var e *Expansion
	switch t.kind {
	case tokWord, tokQuoted:
		if t.kind == tokWord && reserved[t.text] {
			return nil, p.errTok("%q is a JSGF keyword; quote it to use it as a word", t.text)
		}
		if strings.TrimSpace(t.text) == "" {
			return nil, p.errTok("empty token")
		}
		e = &Expansion{Kind: Token, Text: t.text, Line: t.line, Col: t.col}
		if err := p.next(); err != nil {
			return nil, err
		}
	case tokRuleName:
		switch t.text {
		case "NULL":
			e = &Expansion{Kind: Null, Line: t.line, Col: t.col}
		case "VOID":
			e = &Expansion{Kind: Void, Line: t.line, Col: t.col}
		default:
			if !validName(t.text, true) {
				return nil, p.errTok("bad rule reference <%s>", t.text)
			}
			if strings.Contains(t.text, ".") {
				return nil, p.errTok("qualified rule reference <%s>: imports are not supported", t.text)
			}
			e = &Expansion{Kind: RuleRef, Text: t.text, Line: t.line, Col: t.col}
		}
		if err := p.next(); err != nil {
			return nil, err
		}
	case tokLParen, tokLBracket:
		closeKind, closeText := tokRParen, "')'"
		if t.kind == tokLBracket {
			closeKind, closeText = tokRBracket, "']'"
		}
		if err := p.next(); err != nil {
			return nil, err
		}
		inner, err := p.alternatives()
		if err != nil {
			return nil, err
		}
		if p.tok.kind != closeKind {
			return nil, p.errTok("expected %s to close the %s opened at %d:%d, found %s", closeText, t.describe(), t.line, t.col, p.tok.describe())
		}
		if err := p.next(); err != nil {
			return nil, err
		}
		if t.kind == tokLBracket {
			e = &Expansion{Kind: Optional, Items: []*Expansion{inner}, Line: t.line, Col: t.col}
		} else {
			// A group keeps its own node so tags and operators apply to it whole.
			e = &Expansion{Kind: Sequence, Items: []*Expansion{inner}, Line: t.line, Col: t.col}
		}
	}
	for {
		switch p.tok.kind {
		case tokStar, tokPlus:
			k := Star
			if p.tok.kind == tokPlus {
				k = Plus
			}
			e = &Expansion{Kind: k, Items: []*Expansion{e}, Line: p.tok.line, Col: p.tok.col}
		case tokTag:
			e.Tags = append(e.Tags, p.tok.text)
		default:
			return e, nil
		}
		if err := p.next(); err != nil {
			return nil, err
		}
	}
}

// reserved words cannot be bare tokens (JSGF section 3.4).
var reserved = map[string]bool{"public": true, "import": true, "grammar": true}

func isSpecial(name string) bool { return name == "NULL" || name == "VOID" }

// validName accepts JSGF rule and grammar names: Java identifier characters
// (letters, digits, '_', '$' and the punctuation JSGF allows in rule names),
// and dots for qualified names when dotted.
func validName(s string, dotted bool) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		switch {
		case r == '.':
			if !dotted {
				return false
			}
		case r == '_' || r == '$' || r == '-' || r == '+' || r == ':' || r == '@' || r == '#' || r == '!' || r == '%' || r == '^' || r == '&' || r == '~' || r == '\\' || r == '\'':
		case r >= '0' && r <= '9', r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r > 127:
		default:
			return false
		}
	}
	return !strings.HasPrefix(s, ".") && !strings.HasSuffix(s, ".") && !strings.Contains(s, "..")
}

// check verifies the grammar as a whole: a public rule exists, references
// resolve, and no rule is left-recursive.
func (g *Grammar) check() error {
	if g.Root() == nil {
		line := 1
		if len(g.Rules) > 0 {
			line = g.Rules[0].Line
		}
		return &Error{Source: g.Source, Line: line, Col: 1, Msg: "no public rule: a grammar needs at least one \"public <name> = ...;\""}
	}
	var err error
	var visit func(e *Expansion)
	visit = func(e *Expansion) {
		if err != nil {
			return
		}
		if e.Kind == RuleRef {
			if _, ok := g.byName[e.Text]; !ok {
				err = &Error{Source: g.Source, Line: e.Line, Col: e.Col, Msg: fmt.Sprintf("undefined rule <%s>", e.Text)}
				return
			}
		}
		for _, c := range e.Items {
			visit(c)
		}
	}
	for _, r := range g.Rules {
		visit(r.Expand)
	}
	if err != nil {
		return err
	}
	for _, r := range g.Rules {
		if cyc := g.leftCycle(r); cyc != "" {
			return &Error{Source: g.Source, Line: r.Line, Col: 1, Msg: fmt.Sprintf("rule <%s> is left-recursive (%s); only right recursion is supported", r.Name, cyc)}
		}
	}
	return nil
}

// leftCycle returns a description of a path by which rule r can reach
// itself without consuming a word, or "".
func (g *Grammar) leftCycle(r *Rule) string {
	var path []string
	onPath := map[string]bool{}
	var found string
	// first visits the references e can start with; it reports whether e
	// can match the empty string (so what follows it is also "first").
	var first func(e *Expansion) bool
	enter := func(name string) {
		if found != "" {
			return
		}
		if name == r.Name && len(path) > 0 {
			found = strings.Join(append(append([]string{}, path...), "<"+name+">"), " -> ")
			return
		}
		if onPath[name] {
			return
		}
		onPath[name] = true
		path = append(path, "<"+name+">")
		first(g.byName[name].Expand)
		path = path[:len(path)-1]
	}
	first = func(e *Expansion) bool {
		switch e.Kind {
		case Token, Void:
			return false
		case Null:
			return true
		case RuleRef:
			enter(e.Text)
			return g.nullable(e, map[string]bool{})
		case Sequence:
			for _, c := range e.Items {
				if !first(c) {
					return false
				}
			}
			return true
		case Alternatives:
			empty := false
			for _, c := range e.Items {
				if first(c) {
					empty = true
				}
			}
			return empty
		case Optional, Star:
			first(e.Items[0])
			return true
		case Plus:
			return first(e.Items[0])
		}
		return false
	}
	enter(r.Name)
	return found
}

func (g *Grammar) nullable(e *Expansion, busy map[string]bool) bool {
	switch e.Kind {
	case Token, Void:
		return false
	case Null, Optional, Star:
		return true
	case RuleRef:
		if busy[e.Text] {
			return false
		}
		busy[e.Text] = true
		defer delete(busy, e.Text)
		return g.nullable(g.byName[e.Text].Expand, busy)
	case Sequence:
		for _, c := range e.Items {
			if !g.nullable(c, busy) {
				return false
			}
		}
		return true
	case Alternatives:
		for _, c := range e.Items {
			if g.nullable(c, busy) {
				return true
			}
		}
		return false
	case Plus:
		return g.nullable(e.Items[0], busy)
	}
	return false
}
