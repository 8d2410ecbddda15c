package dialplan

import (
	"sort"
	"strconv"
	"strings"
	"time"
)

// query carries one pbx_find_extension search. visited is the include
// stack (q->incstack): a context is searched at most once per lookup.
type query struct {
	mode     matchMode
	exten    string
	callerID string
	priority int
	label    string
	now      time.Time
	nvisited int
	visited  [16]*context // the common case, without allocation
	more     []*context   // beyond 16 visited contexts
}

func (q *query) seen(c *context) bool {
	for i := 0; i < q.nvisited && i < len(q.visited); i++ {
		if q.visited[i] == c {
			return true
		}
	}
	for _, v := range q.more {
		if v == c {
			return true
		}
	}
	return false
}

func (q *query) push(c *context) {
	if q.nvisited < len(q.visited) {
		q.visited[q.nvisited] = c
	} else {
		q.more = append(q.more, c)
	}
	q.nvisited++
}

// cidMatches is main/pbx.c matchcid: an empty Caller ID only matches an
// empty Caller ID pattern.
func (e *extension) cidMatches(callerID string) bool {
	if !e.hasCID {
		return true
	}
	if callerID == "" {
		return e.cid.key == ""
	}
	return e.cid.match(callerID, modeMatch) != noMatch
}

// stepFor returns the step the query asks for in a matching extension.
func (q *query) stepFor(e *extension) *Step {
	if q.label != "" {
		if p, ok := e.labels[q.label]; ok {
			return e.steps[p]
		}
		return nil
	}
	return e.steps[q.priority]
}

// try checks one candidate extension. stop is set when an early-match
// ('!') extension ends a MATCHMORE search in this context.
func (q *query) try(e *extension) (st *Step, stop bool) {
	r := e.m.match(q.exten, q.mode)
	if r == noMatch || !e.cidMatches(q.callerID) {
		return nil, false
	}
	if r == earlyMatch && q.mode == modeMatchMore {
		return nil, true
	}
	return q.stepFor(e), false
}

// search is pbx_find_extension with the default (linear, sorted) matcher:
// the first extension in sort order that matches and has the wanted
// priority wins, then the includes are searched depth first.
func (d *Dialplan) search(q *query, name string) *Step {
	if q.nvisited >= maxIncludeStack {
		return nil
	}
	c := d.contexts[name]
	if c == nil {
		return nil
	}
	if q.seen(c) {
		return nil
	}
	if st, stop := d.searchContext(q, c); st != nil || stop {
		return st
	}
	q.push(c)
	for i := range c.includes {
		in := &c.includes[i]
		if !in.Valid(q.now) {
			continue
		}
		if st := d.search(q, in.Context); st != nil {
			return st
		}
	}
	return nil
}

func (d *Dialplan) searchContext(q *query, c *context) (*Step, bool) {
	switch {
	case q.mode == modeMatch && hasNoFluff(q.exten):
		// Fast path: literals can only match their own key.
		for _, e := range c.byKey[q.exten] {
			if st, _ := q.try(e); st != nil {
				return st, false
			}
		}
	case hasNoFluff(q.exten):
		// Literals are sorted bytewise, so those starting with the
		// prefix are contiguous from the first key >= prefix.
		i := sort.Search(len(c.exacts), func(i int) bool { return c.exacts[i].m.key >= q.exten })
		for ; i < len(c.exacts) && strings.HasPrefix(c.exacts[i].m.key, q.exten); i++ {
			if st, stop := q.try(c.exacts[i]); st != nil || stop {
				return st, stop
			}
		}
	default:
		for _, e := range c.exacts {
			if st, stop := q.try(e); st != nil || stop {
				return st, stop
			}
		}
	}
	if q.mode == modeMatch && len(q.exten) > 0 && q.exten[0] == '_' {
		// A pattern asked for by name matches the same pattern
		// (_extension_match_core compares them as patterns first).
		if m, err := newMatcher(q.exten); err == nil && m.pat != nil {
			for _, e := range c.pats {
				if comparePatterns(e.m.pat, m.pat) == 0 && e.cidMatches(q.callerID) {
					if st := q.stepFor(e); st != nil {
						return st, false
					}
				}
			}
		}
	}
	for _, e := range c.pats {
		if st, stop := q.try(e); st != nil || stop {
			return st, stop
		}
	}
	return nil, false
}

func hasNoFluff(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] == '-' {
			return false
		}
	}
	return true
}

func (d *Dialplan) run(q *query, ctx string) *Step {
	if d.timedIncls && q.now.IsZero() {
		q.now = time.Now()
	}
	return d.search(q, ctx)
}

// Find returns the step that runs for exten at priority in context, with
// Asterisk's precedence: in each context literals first, then patterns
// most specific first (Caller ID variants before plain ones), then the
// includes depth first. Time-based includes are checked against the
// current time.
func (d *Dialplan) Find(ctx, exten string, priority int, callerID string) (*Step, bool) {
	return d.FindAt(time.Time{}, ctx, exten, priority, callerID)
}

// FindAt is Find with time-based includes evaluated at now (zero: the
// current time).
func (d *Dialplan) FindAt(now time.Time, ctx, exten string, priority int, callerID string) (*Step, bool) {
	q := query{mode: modeMatch, exten: exten, priority: priority, callerID: callerID, now: now}
	st := d.run(&q, ctx)
	return st, st != nil
}

// Exists reports whether exten has the priority in context (ignoring
// Caller ID matches: ast_exists_extension with no Caller ID).
func (d *Dialplan) Exists(ctx, exten string, priority int) bool {
	_, ok := d.Find(ctx, exten, priority, "")
	return ok
}

// ExistsCID is Exists with a Caller ID.
func (d *Dialplan) ExistsCID(ctx, exten string, priority int, callerID string) bool {
	_, ok := d.Find(ctx, exten, priority, callerID)
	return ok
}

// FindLabel returns the priority of label in the extension that matches
// exten (ast_findlabel_extension).
func (d *Dialplan) FindLabel(ctx, exten, label string) (int, bool) {
	return d.FindLabelCID(ctx, exten, label, "")
}

// FindLabelCID is FindLabel with a Caller ID.
func (d *Dialplan) FindLabelCID(ctx, exten, label, callerID string) (int, bool) {
	if label == "" {
		return 0, false
	}
	q := query{mode: modeMatch, exten: exten, label: label, callerID: callerID}
	if st := d.run(&q, ctx); st != nil {
		return st.Priority, true
	}
	return 0, false
}

// ResolvePriority turns a Goto priority (a number or a label) into a
// number, as pbx_parseable_goto does.
func (d *Dialplan) ResolvePriority(ctx, exten, prio, callerID string) (int, bool) {
	if n, err := strconv.Atoi(prio); err == nil {
		return n, n >= 1
	}
	return d.FindLabelCID(ctx, exten, prio, callerID)
}

// MatchMore reports whether more digits after prefix could still match an
// extension with priority 1 (ast_matchmore_extension): WaitExten, Read
// and digit collection keep waiting while this is true. An extension
// ending in '!' that already matches stops the search in its context.
func (d *Dialplan) MatchMore(ctx, prefix string) bool {
	return d.MatchMoreCID(ctx, prefix, "")
}

// MatchMoreCID is MatchMore with a Caller ID.
func (d *Dialplan) MatchMoreCID(ctx, prefix, callerID string) bool {
	q := query{mode: modeMatchMore, exten: prefix, priority: 1, callerID: callerID}
	return d.run(&q, ctx) != nil
}

// CanMatch reports whether prefix matches now or could match with more
// digits (ast_canmatch_extension, priority 1).
func (d *Dialplan) CanMatch(ctx, prefix, callerID string) bool {
	q := query{mode: modeCanMatch, exten: prefix, priority: 1, callerID: callerID}
	return d.run(&q, ctx) != nil
}

// Hint returns the hint of an extension (`exten => 100,hint,PJSIP/100`),
// found like any priority (ast_get_hint).
func (d *Dialplan) Hint(ctx, exten string) (string, bool) {
	st, ok := d.Find(ctx, exten, PriorityHint, "")
	if !ok {
		return "", false
	}
	return st.App, true
}
