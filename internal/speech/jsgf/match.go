package jsgf

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// Match reports whether the root rule produces exactly words (tokens are
// compared case-insensitively; a quoted phrase is its words in order). It
// is how a recognizer attributes a hypothesis to one of several active
// grammars (Asterisk's SPEECH_GRAMMAR()).
func (g *Grammar) Match(words []string) bool {
	root := g.Root()
	if root == nil {
		return false
	}
	m := &matcher{g: g, words: words, memo: map[memoKey][]int{}}
	for _, end := range m.match(root.Expand, 0, 0) {
		if end == len(words) {
			return true
		}
	}
	return false
}

type memoKey struct {
	rule string
	pos  int
}

type matcher struct {
	g     *Grammar
	words []string
	memo  map[memoKey][]int // rule reference at pos -> end positions; nil while in progress
}

// maxDepth bounds nesting while matching (rules are not left-recursive,
// so each level consumes a word or descends a finite expression tree).
const maxDepth = 4096

// match returns the sorted distinct positions at which e can end when it
// starts at pos.
func (m *matcher) match(e *Expansion, pos, depth int) []int {
	if depth > maxDepth {
		return nil
	}
	switch e.Kind {
	case Token:
		tw := strings.Fields(e.Text)
		if pos+len(tw) > len(m.words) {
			return nil
		}
		for i, w := range tw {
			if !strings.EqualFold(w, m.words[pos+i]) {
				return nil
			}
		}
		return []int{pos + len(tw)}
	case Null:
		return []int{pos}
	case Void:
		return nil
	case RuleRef:
		k := memoKey{e.Text, pos}
		if ends, ok := m.memo[k]; ok {
			return ends
		}
		m.memo[k] = nil
		ends := m.match(m.g.byName[e.Text].Expand, pos, depth+1)
		m.memo[k] = ends
		return ends
	case Sequence:
		cur := []int{pos}
		for _, c := range e.Items {
			var next []int
			for _, p := range cur {
				next = append(next, m.match(c, p, depth+1)...)
			}
			cur = uniq(next)
			if len(cur) == 0 {
				return nil
			}
		}
		return cur
	case Alternatives:
		var out []int
		for _, c := range e.Items {
			out = append(out, m.match(c, pos, depth+1)...)
		}
		return uniq(out)
	case Optional:
		return uniq(append([]int{pos}, m.match(e.Items[0], pos, depth+1)...))
	case Star, Plus:
		var out []int
		if e.Kind == Star {
			out = append(out, pos)
		}
		frontier := []int{pos}
		seen := map[int]bool{}
		for len(frontier) > 0 {
			var next []int
			for _, p := range frontier {
				for _, q := range m.match(e.Items[0], p, depth+1) {
					if !seen[q] {
						seen[q] = true
						out = append(out, q)
						if q > p {
							next = append(next, q)
						}
					}
				}
			}
			frontier = next
		}
		return uniq(out)
	}
	return nil
}

func uniq(v []int) []int {
	if len(v) < 2 {
		return v
	}
	sort.Ints(v)
	out := v[:1]
	for _, x := range v[1:] {
		if x != out[len(out)-1] {
			out = append(out, x)
		}
	}
	return out
}

// Part is one grammar of a Combine call.
type Part struct {
	Grammar *Grammar
	Prefix  string // rule-name prefix; must be unique among the parts
}

// Combine writes one JSGF grammar whose public root rule <root> is the
// alternative of the parts' root rules, with every rule renamed under its
// part's prefix, so several active grammars can be searched at once (a
// pocketsphinx decoder runs one search at a time). word maps every token
// word (for example to lower case); tags are dropped, weights kept.
func Combine(name string, parts []Part, word func(string) string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "#JSGF V1.0;\ngrammar %s;\n", name)
	b.WriteString("public <root> = ")
	for i, p := range parts {
		if i > 0 {
			b.WriteString(" | ")
		}
		fmt.Fprintf(&b, "<%s%s>", p.Prefix, ruleID(p.Grammar, p.Grammar.Root().Name))
	}
	b.WriteString(";\n")
	for _, p := range parts {
		for _, r := range p.Grammar.Rules {
			fmt.Fprintf(&b, "<%s%s> = ", p.Prefix, ruleID(p.Grammar, r.Name))
			writeExpansion(&b, p, r.Expand, word)
			b.WriteString(";\n")
		}
	}
	return b.String()
}

// ruleID is a rule's index, which keeps emitted rule names plain ASCII
// whatever characters the source used.
func ruleID(g *Grammar, name string) string {
	for i, r := range g.Rules {
		if r.Name == name {
			return "r" + strconv.Itoa(i)
		}
	}
	return "r_unknown"
}

func writeExpansion(b *strings.Builder, p Part, e *Expansion, word func(string) string) {
	switch e.Kind {
	case Token:
		for i, w := range strings.Fields(e.Text) {
			if i > 0 {
				b.WriteByte(' ')
			}
			writeWord(b, word(w))
		}
	case RuleRef:
		fmt.Fprintf(b, "<%s%s>", p.Prefix, ruleID(p.Grammar, e.Text))
	case Null:
		b.WriteString("<NULL>")
	case Void:
		b.WriteString("<VOID>")
	case Sequence:
		b.WriteByte('(')
		for i, c := range e.Items {
			if i > 0 {
				b.WriteByte(' ')
			}
			writeExpansion(b, p, c, word)
		}
		b.WriteByte(')')
	case Alternatives:
		b.WriteByte('(')
		for i, c := range e.Items {
			if i > 0 {
				b.WriteString(" | ")
			}
			if e.Weights != nil {
				fmt.Fprintf(b, "/%s/ ", strconv.FormatFloat(e.Weights[i], 'g', -1, 64))
			}
			writeExpansion(b, p, c, word)
		}
		b.WriteByte(')')
	case Optional:
		b.WriteByte('[')
		writeExpansion(b, p, e.Items[0], word)
		b.WriteByte(']')
	case Star, Plus:
		writeExpansion(b, p, e.Items[0], word)
		if e.Kind == Star {
			b.WriteByte('*')
		} else {
			b.WriteByte('+')
		}
	}
}

func writeWord(b *strings.Builder, w string) {
	for i := 0; i < len(w); i++ {
		if !isWordByte(w[i]) {
			b.WriteString(strconv.Quote(w))
			return
		}
	}
	if reserved[w] {
		b.WriteString(strconv.Quote(w))
		return
	}
	b.WriteString(w)
}
