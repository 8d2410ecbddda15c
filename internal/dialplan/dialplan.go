package dialplan

import (
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"time"
)

// PriorityHint is the priority Asterisk gives `exten => 100,hint,...`
// lines (PRIORITY_HINT).
const PriorityHint = -1

// maxIncludeStack is AST_PBX_MAX_STACK: how many contexts one lookup may
// visit through includes.
const maxIncludeStack = 512

// Step is one priority of an extension: what the PBX loop executes.
type Step struct {
	Context  string
	Exten    string // the extension as written, e.g. "_X." (not the dialed digits)
	CIDMatch string // the Caller ID match of "exten/cid", empty if none
	Priority int
	Label    string
	App      string
	Data     string
	File     string // source file ("" for rows added with AddRow)
	Line     int
}

// Include is an `include => context[,timing]` entry.
type Include struct {
	Context string
	Timing  string // raw "times,weekdays,mdays,months[,tz]", empty if none
	File    string
	Line    int
	timing  *Timing
}

// Valid reports whether the include applies at t (include_valid).
func (i *Include) Valid(t time.Time) bool {
	return i.timing == nil || i.timing.Match(t)
}

// Switch is a `switch =>`/`lswitch =>`/`eswitch =>` entry, e.g.
// Realtime/ctx@extensions. The executor decides what to do with it.
type Switch struct {
	Name string // "Realtime"
	Data string // "ctx@extensions"
	Eval bool   // eswitch: substitute variables at lookup time
	File string
	Line int
}

// Var is one [globals] (or [general]) assignment, in file order.
type Var struct {
	Name  string
	Value string
}

// extension groups the priorities of one extension (and Caller ID match)
// in a context, like struct ast_exten's peer table.
type extension struct {
	name   string // as written, without "/cid"
	m      matcher
	cidRaw string
	hasCID bool
	cid    matcher
	steps  map[int]*Step
	labels map[string]int
}

// context is one [context]; its extensions are kept in Asterisk's sorted
// order with literals (exacts) before patterns (pats).
type context struct {
	name       string
	file       string
	line       int
	exacts     []*extension
	byKey      map[string][]*extension // literal key -> extensions in order
	pats       []*extension
	includes   []Include
	switches   []Switch
	ignorePats []string
}

// Dialplan is a parsed dialplan. See the package documentation for the
// concurrency contract.
type Dialplan struct {
	contexts   map[string]*context
	order      []string
	globals    []Var
	globalIdx  map[string]int
	general    []Var
	warnings   []string
	timedIncls bool
}

// New returns an empty dialplan.
func New() *Dialplan {
	return &Dialplan{contexts: map[string]*context{}, globalIdx: map[string]int{}}
}

// Contexts returns the context names in the order they were defined.
func (d *Dialplan) Contexts() []string {
	return slices.Clone(d.order)
}

// HasContext reports whether the context exists.
func (d *Dialplan) HasContext(name string) bool {
	_, ok := d.contexts[name]
	return ok
}

// Extensions returns the extensions of a context in Asterisk's match order
// (literals, then patterns most specific first), as written (with
// "/cid" appended when an extension has a Caller ID match).
func (d *Dialplan) Extensions(ctx string) []string {
	c := d.contexts[ctx]
	if c == nil {
		return nil
	}
	out := make([]string, 0, len(c.exacts)+len(c.pats))
	for _, list := range [][]*extension{c.exacts, c.pats} {
		for _, e := range list {
			if e.hasCID {
				out = append(out, e.name+"/"+e.cidRaw)
			} else {
				out = append(out, e.name)
			}
		}
	}
	return out
}

// Steps returns all steps of the extension written exactly as ext (no
// pattern matching; "ext/cid" selects a Caller ID variant) in priority
// order, hint first.
func (d *Dialplan) Steps(ctx, ext string) []*Step {
	c := d.contexts[ctx]
	if c == nil {
		return nil
	}
	name, cid, hasCID := strings.Cut(ext, "/")
	e := c.lookupExact(name, cid, hasCID)
	if e == nil {
		return nil
	}
	prios := slices.Sorted(maps.Keys(e.steps))
	out := make([]*Step, 0, len(prios))
	for _, p := range prios {
		out = append(out, e.steps[p])
	}
	return out
}

// Includes returns the includes of a context in order.
func (d *Dialplan) Includes(ctx string) []Include {
	if c := d.contexts[ctx]; c != nil {
		return slices.Clone(c.includes)
	}
	return nil
}

// Switches returns the switches of a context in order.
func (d *Dialplan) Switches(ctx string) []Switch {
	if c := d.contexts[ctx]; c != nil {
		return slices.Clone(c.switches)
	}
	return nil
}

// IgnorePats returns the `ignorepat =>` patterns of a context.
func (d *Dialplan) IgnorePats(ctx string) []string {
	if c := d.contexts[ctx]; c != nil {
		return slices.Clone(c.ignorePats)
	}
	return nil
}

// Globals returns the [globals] variables in definition order (a later
// definition of the same name replaces the value in place).
func (d *Dialplan) Globals() []Var {
	return slices.Clone(d.globals)
}

// Global returns one global variable.
func (d *Dialplan) Global(name string) (string, bool) {
	if i, ok := d.globalIdx[name]; ok {
		return d.globals[i].Value, true
	}
	return "", false
}

// General returns the [general] settings in file order (static,
// writeprotect, autofallthrough, clearglobalvars, ...).
func (d *Dialplan) General() []Var {
	return slices.Clone(d.general)
}

// Warnings returns the non-fatal problems met while parsing, each
// prefixed with file:line, as Asterisk would log them.
func (d *Dialplan) Warnings() []string {
	return slices.Clone(d.warnings)
}

// SetGlobal sets a global variable (builder; see package documentation).
func (d *Dialplan) SetGlobal(name, value string) {
	if i, ok := d.globalIdx[name]; ok {
		d.globals[i].Value = value
		return
	}
	d.globalIdx[name] = len(d.globals)
	d.globals = append(d.globals, Var{Name: name, Value: value})
}

// context returns the named context, creating it (builder).
func (d *Dialplan) context(name, file string, line int) *context {
	if c := d.contexts[name]; c != nil {
		return c
	}
	c := &context{name: name, file: file, line: line, byKey: map[string][]*extension{}}
	d.contexts[name] = c
	d.order = append(d.order, name)
	return c
}

// AddContext creates an empty context if it does not exist (builder).
func (d *Dialplan) AddContext(name string) error {
	if name == "" {
		return fmt.Errorf("dialplan: empty context name")
	}
	d.context(name, "", 0)
	return nil
}

// AddInclude appends `include => target[,timing]` to ctx (builder). An
// include of a context that is already included is rejected, as
// ast_context_add_include2 does.
func (d *Dialplan) AddInclude(ctx, value string) error {
	return d.addInclude(d.context(ctx, "", 0), value, "", 0)
}

func (d *Dialplan) addInclude(c *context, value, file string, line int) error {
	value = strings.TrimSpace(value)
	name, timing := value, ""
	if i := strings.IndexAny(value, "|,"); i >= 0 {
		name, timing = strings.TrimSpace(value[:i]), strings.TrimSpace(value[i+1:])
	}
	if name == "" {
		return fmt.Errorf("empty include")
	}
	for _, in := range c.includes {
		if in.Context == name && in.Timing == timing {
			return fmt.Errorf("context '%s' already included in '%s'", name, c.name)
		}
	}
	inc := Include{Context: name, Timing: timing, File: file, Line: line}
	if timing != "" {
		t, err := ParseTiming(timing)
		if err != nil {
			return fmt.Errorf("include %s: %w", value, err)
		}
		inc.timing = t
		d.timedIncls = true
	}
	c.includes = append(c.includes, inc)
	return nil
}

// AddRow adds one row of Asterisk's realtime `extensions` table (context,
// exten, priority, app, appdata) plus an optional label (builder).
// The exten may carry a Caller ID match as "exten/cid". A priority that
// already exists for the extension is an error.
func (d *Dialplan) AddRow(ctx, exten string, priority int, label, app, appdata string) error {
	if ctx == "" {
		return fmt.Errorf("dialplan: row %s,%d: empty context", exten, priority)
	}
	name, cid, hasCID := strings.Cut(exten, "/")
	if hasCID {
		cid = shrinkPhoneNumber(cid)
	}
	return d.addStep(d.context(ctx, "", 0), name, cid, hasCID, &Step{
		Priority: priority, Label: label, App: app, Data: appdata,
	})
}

// addStep inserts a step, creating its extension in sorted position.
func (d *Dialplan) addStep(c *context, name, cid string, hasCID bool, st *Step) error {
	if name == "" {
		return fmt.Errorf("empty extension name")
	}
	if st.Priority < 1 && st.Priority != PriorityHint {
		return fmt.Errorf("invalid priority %d of %s@%s", st.Priority, name, c.name)
	}
	e, err := c.findOrCreate(name, cid, hasCID)
	if err != nil {
		return err
	}
	if old, ok := e.steps[st.Priority]; ok {
		where := ""
		if old.File != "" {
			where = fmt.Sprintf(" (at %s:%d)", old.File, old.Line)
		}
		if st.Priority == PriorityHint {
			return fmt.Errorf("hint of %s@%s already defined%s", name, c.name, where)
		}
		return fmt.Errorf("priority %d of %s@%s already defined%s", st.Priority, name, c.name, where)
	}
	if st.Label != "" {
		if p, ok := e.labels[st.Label]; ok {
			return fmt.Errorf("label '%s' of %s@%s already used by priority %d", st.Label, name, c.name, p)
		}
		e.labels[st.Label] = st.Priority
	}
	st.Context = c.name
	st.Exten = e.name
	if e.hasCID {
		st.CIDMatch = e.cidRaw
	}
	e.steps[st.Priority] = st
	return nil
}

// compareExt is the full ordering of ast_add_extension2_lockopt: by
// extension, then Caller ID variants before the plain extension, then by
// Caller ID match.
func compareExt(a, b *extension) int {
	if c := compareMatchers(&a.m, &b.m); c != 0 {
		return c
	}
	switch {
	case !a.hasCID && !b.hasCID:
		return 0
	case a.hasCID && !b.hasCID:
		return -1
	case !a.hasCID && b.hasCID:
		return 1
	}
	return compareMatchers(&a.cid, &b.cid)
}

func (c *context) findOrCreate(name, cid string, hasCID bool) (*extension, error) {
	m, err := newMatcher(name)
	if err != nil {
		return nil, err
	}
	e := &extension{name: name, m: m, cidRaw: cid, hasCID: hasCID}
	if hasCID {
		if e.cid, err = newMatcher(cid); err != nil {
			return nil, fmt.Errorf("caller ID match: %w", err)
		}
	}
	list := &c.pats
	if m.pat == nil {
		list = &c.exacts
	}
	i := sort.Search(len(*list), func(i int) bool { return compareExt((*list)[i], e) >= 0 })
	if i < len(*list) && compareExt((*list)[i], e) == 0 {
		return (*list)[i], nil
	}
	e.steps = map[int]*Step{}
	e.labels = map[string]int{}
	*list = slices.Insert(*list, i, e)
	if m.pat == nil {
		same := c.byKey[m.key]
		j := sort.Search(len(same), func(j int) bool { return compareExt(same[j], e) >= 0 })
		c.byKey[m.key] = slices.Insert(same, j, e)
	}
	return e, nil
}

// lookupExact finds the extension written as name (and Caller ID match)
// without pattern matching.
func (c *context) lookupExact(name, cid string, hasCID bool) *extension {
	probe := &extension{name: name, cidRaw: cid, hasCID: hasCID}
	var err error
	if probe.m, err = newMatcher(name); err != nil {
		return nil
	}
	if hasCID {
		if probe.cid, err = newMatcher(shrinkPhoneNumber(cid)); err != nil {
			return nil
		}
	}
	list := c.pats
	if probe.m.pat == nil {
		list = c.exacts
	}
	for _, e := range list {
		if compareExt(e, probe) == 0 {
			return e
		}
	}
	return nil
}

// Clone returns a deep copy that can be modified without affecting d.
// Steps are shared: they are never modified once added.
func (d *Dialplan) Clone() *Dialplan {
	n := New()
	n.globals = slices.Clone(d.globals)
	n.globalIdx = maps.Clone(d.globalIdx)
	n.general = slices.Clone(d.general)
	n.warnings = slices.Clone(d.warnings)
	n.timedIncls = d.timedIncls
	n.order = slices.Clone(d.order)
	for name, c := range d.contexts {
		nc := &context{
			name: c.name, file: c.file, line: c.line,
			byKey:      make(map[string][]*extension, len(c.byKey)),
			includes:   slices.Clone(c.includes),
			switches:   slices.Clone(c.switches),
			ignorePats: slices.Clone(c.ignorePats),
		}
		copied := map[*extension]*extension{}
		cp := func(list []*extension) []*extension {
			out := make([]*extension, len(list))
			for i, e := range list {
				ne := *e
				ne.steps = maps.Clone(e.steps)
				ne.labels = maps.Clone(e.labels)
				copied[e] = &ne
				out[i] = &ne
			}
			return out
		}
		nc.exacts = cp(c.exacts)
		nc.pats = cp(c.pats)
		for k, list := range c.byKey {
			nl := make([]*extension, len(list))
			for i, e := range list {
				nl[i] = copied[e]
			}
			nc.byKey[k] = nl
		}
		n.contexts[name] = nc
	}
	return n
}

// Merge adds everything in other to d (builder): contexts, extensions,
// includes, switches, ignore patterns and globals (other's values win).
// A priority or label defined in both is an error; d may then be
// partially merged, so merge into a Clone.
func (d *Dialplan) Merge(other *Dialplan) error {
	for _, v := range other.globals {
		d.SetGlobal(v.Name, v.Value)
	}
	d.general = append(d.general, other.general...)
	d.warnings = append(d.warnings, other.warnings...)
	for _, name := range other.order {
		oc := other.contexts[name]
		c := d.context(name, oc.file, oc.line)
		for _, in := range oc.includes {
			dup := false
			for _, have := range c.includes {
				if have.Context == in.Context && have.Timing == in.Timing {
					dup = true
				}
			}
			if !dup {
				c.includes = append(c.includes, in)
				if in.timing != nil {
					d.timedIncls = true
				}
			}
		}
		c.switches = append(c.switches, oc.switches...)
		for _, p := range oc.ignorePats {
			if !slices.Contains(c.ignorePats, p) {
				c.ignorePats = append(c.ignorePats, p)
			}
		}
		for _, list := range [][]*extension{oc.exacts, oc.pats} {
			for _, e := range list {
				for _, p := range slices.Sorted(maps.Keys(e.steps)) {
					st := *e.steps[p]
					if err := d.addStep(c, e.name, e.cidRaw, e.hasCID, &st); err != nil {
						return fmt.Errorf("dialplan: merge: %w", err)
					}
				}
			}
		}
	}
	return nil
}
