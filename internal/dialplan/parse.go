package dialplan

import (
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
)

// ParseFile parses an extensions.conf file and the files it #includes
// (relative to the including file). The error names file:line.
func ParseFile(path string) (*Dialplan, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("dialplan: %w", err)
	}
	defer f.Close()
	return Parse(path, f)
}

// Parse parses extensions.conf syntax from r; name is used in errors and
// Step.File, and #include paths are resolved relative to its directory.
func Parse(name string, r io.Reader) (*Dialplan, error) {
	cr := &configReader{open: func(p string) (io.ReadCloser, error) { return os.Open(p) }}
	if err := cr.readFile(name, r); err != nil {
		return nil, err
	}
	d := New()
	d.warnings = cr.warnings
	if err := d.load(cr.cats); err != nil {
		return nil, err
	}
	return d, nil
}

// globalsEnv resolves ${VAR} against the globals defined so far, which is
// what pbx_config.c does for [globals] values, extension names and
// includes at load time (there is no channel).
type globalsEnv struct{ d *Dialplan }

func (g globalsEnv) GetVar(name string) (string, bool) { return g.d.Global(name) }
func (g globalsEnv) CallFunction(name, args string) (string, error) {
	if name == "GLOBAL" {
		v, _ := g.d.Global(args)
		return v, nil
	}
	return "", ErrNoFunction
}

// load turns config categories into the dialplan (pbx/pbx_config.c
// pbx_load_config).
func (d *Dialplan) load(cats []*category) error {
	env := globalsEnv{d}
	for _, cat := range cats {
		if cat.template {
			continue
		}
		switch strings.ToLower(cat.name) {
		case "globals":
			for _, v := range cat.vars {
				d.SetGlobal(v.name, Substitute(v.value, env))
			}
		case "general":
			d.general = append(d.general, varsOf(cat)...)
		}
	}
	for _, cat := range cats {
		if cat.template {
			continue
		}
		switch strings.ToLower(cat.name) {
		case "globals", "general":
			continue
		}
		if err := d.loadContext(cat, env); err != nil {
			return err
		}
	}
	return nil
}

func varsOf(cat *category) []Var {
	out := make([]Var, len(cat.vars))
	for i, v := range cat.vars {
		out[i] = Var{Name: v.name, Value: v.value}
	}
	return out
}

// extState is the continuation state of one category: the last extension
// (for `same =>`) and last priority (for `n`). Like Asterisk, the last
// priority carries over from one extension to the next in a context.
type extState struct {
	lastExt   string
	lastCID   string
	lastHasID bool
	lastPri   int // -2: none yet
}

func (d *Dialplan) loadContext(cat *category, env Env) error {
	c := d.context(cat.name, cat.file, cat.line)
	st := extState{lastPri: -2}
	for _, v := range cat.vars {
		perr := func(format string, args ...any) error {
			return &ParseError{File: v.file, Line: v.line, Msg: fmt.Sprintf(format, args...)}
		}
		name := strings.ToLower(v.name)
		switch {
		case name == "exten":
			rest := v.value
			ext, after, _ := cutUnbracketed(rest, ',')
			ext = strings.TrimSpace(Substitute(ext, env))
			cid, hasCID := "", false
			if i := strings.IndexByte(ext, '/'); i >= 0 {
				ext, cid, hasCID = ext[:i], shrinkPhoneNumber(ext[i+1:]), true
			}
			if ext == "" {
				return perr("missing extension name in %q", v.value)
			}
			if err := checkPatternSyntax(ext); err != nil {
				return perr("%v", err)
			}
			if hasCID {
				if err := checkPatternSyntax(cid); err != nil {
					return perr("caller ID match: %v", err)
				}
			}
			st.lastExt, st.lastCID, st.lastHasID = ext, cid, hasCID
			if err := d.addLine(c, &st, after, v, perr); err != nil {
				return err
			}
		case strings.HasPrefix(name, "same"):
			if st.lastExt == "" {
				return perr("'same' without a previous 'exten' in context '%s'", c.name)
			}
			if err := d.addLine(c, &st, v.value, v, perr); err != nil {
				return err
			}
		case name == "include":
			if err := d.addInclude(c, Substitute(v.value, env), v.file, v.line); err != nil {
				return perr("%v", err)
			}
		case name == "ignorepat":
			c.ignorePats = append(c.ignorePats, Substitute(v.value, env))
		case name == "switch" || name == "lswitch" || name == "eswitch":
			val := v.value
			if name == "switch" {
				val = Substitute(val, env)
			}
			sw, data, _ := strings.Cut(val, "/")
			if strings.TrimSpace(sw) == "" {
				return perr("empty switch")
			}
			c.switches = append(c.switches, Switch{
				Name: strings.TrimSpace(sw), Data: strings.TrimSpace(data),
				Eval: name == "eswitch", File: v.file, Line: v.line,
			})
		default:
			return perr("unknown keyword '%s' in context '%s'", v.name, c.name)
		}
	}
	return nil
}

// checkPatternSyntax rejects patterns Asterisk could never match.
func checkPatternSyntax(ext string) error {
	if _, err := newMatcher(ext); err != nil {
		return fmt.Errorf("bad pattern %q: %w", ext, err)
	}
	return nil
}

// cutUnbracketed is pbx_strsep: split at the first sep outside [] sets,
// skipping backslash-escaped characters.
func cutUnbracketed(s string, sep byte) (before, after string, found bool) {
	square := 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '[':
			square++
		case c == ']':
			if square > 0 {
				square--
			}
		case c == '\\':
			i++
		case c == sep && square == 0:
			return s[:i], s[i+1:], true
		}
	}
	return s, "", false
}

// addLine parses "priority[(label)][+n],App(data)" for the current
// extension (pbx_config.c process_extension).
func (d *Dialplan) addLine(c *context, st *extState, value string, v cfgVar, perr func(string, ...any) error) error {
	pri, appl, _ := strings.Cut(value, ",")
	pri = strings.TrimSpace(pri)
	label := ""
	if i := strings.IndexByte(pri, '('); i >= 0 {
		j := strings.IndexByte(pri[i:], ')')
		if j < 0 {
			return perr("label missing trailing ')' in %q", pri)
		}
		label = strings.TrimSpace(pri[i+1 : i+j])
		pri = strings.TrimSpace(pri[:i] + pri[i+j+1:])
		if label == "" {
			return perr("empty label in %q", value)
		}
	}
	plus := 0
	if i := strings.IndexByte(pri, '+'); i >= 0 {
		n, err := strconv.Atoi(strings.TrimSpace(pri[i+1:]))
		if err != nil {
			return perr("invalid priority offset in %q", pri)
		}
		plus, pri = n, strings.TrimSpace(pri[:i])
	}
	var ipri int
	switch pri {
	case "hint":
		ipri = PriorityHint
	case "n", "next":
		if st.lastPri == -2 {
			return perr("can't use 'next' priority on the first entry")
		}
		if st.lastPri == PriorityHint {
			return perr("'next' priority after a hint: give the first priority a number")
		}
		ipri = st.lastPri + 1
	case "s", "same":
		if st.lastPri == -2 {
			return perr("can't use 'same' priority on the first entry")
		}
		ipri = st.lastPri
	case "":
		return perr("missing priority in %q", value)
	default:
		n, err := strconv.Atoi(pri)
		switch {
		case err == nil && n < 1:
			return perr("invalid priority '%s'", pri)
		case err == nil:
			ipri = n
		default:
			// A label of the same extension used as a priority.
			e := c.lookupExact(st.lastExt, st.lastCID, st.lastHasID)
			p, ok := 0, false
			if e != nil {
				p, ok = e.labels[pri]
			}
			if !ok {
				return perr("invalid priority/label '%s'", pri)
			}
			ipri = p
		}
	}
	if ipri != PriorityHint {
		ipri += plus
	}
	app, data, err := splitApp(appl)
	if err != nil {
		return perr("%v", err)
	}
	if app == "" {
		return perr("missing application in %q", value)
	}
	if st.lastExt == "_." || st.lastExt == "_!" {
		d.warnings = append(d.warnings, fmt.Sprintf("%s:%d: the use of '%s' for an extension is strongly discouraged; use '_X%c'",
			v.file, v.line, st.lastExt, st.lastExt[1]))
	}
	st.lastPri = ipri
	step := &Step{Priority: ipri, Label: label, App: app, Data: data, File: v.file, Line: v.line}
	if err := d.addStep(c, st.lastExt, st.lastCID, st.lastHasID, step); err != nil {
		return perr("%v", err)
	}
	return nil
}

// splitApp splits "App(data)" as pbx_config.c does: the application ends
// at the first '(' and the data at the last ')'. Without '(' there is no
// data; a name holding ${ or $[ before '(' is kept whole (hints such as
// DAHDI/g0/${GLOBAL(var)}).
func splitApp(appl string) (app, data string, err error) {
	appl = strings.TrimSpace(appl)
	i := strings.IndexByte(appl, '(')
	if i < 0 {
		return appl, "", nil
	}
	name := appl[:i]
	if strings.Contains(name, "${") || strings.Contains(name, "$[") {
		return appl, "", nil
	}
	rest := appl[i+1:]
	j := strings.LastIndexByte(rest, ')')
	if j < 0 {
		return "", "", fmt.Errorf("no closing parenthesis in '%s'", appl)
	}
	return strings.TrimSpace(name), rest[:j], nil
}
