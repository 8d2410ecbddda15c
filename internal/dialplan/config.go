package dialplan

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// ParseError is a parse failure at a file and line.
type ParseError struct {
	File string
	Line int
	Msg  string
	Err  error // wrapped cause, if any
}

func (e *ParseError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	}
	return fmt.Sprintf("%s: %s", e.File, e.Msg)
}

func (e *ParseError) Unwrap() error { return e.Err }

// cfgVar is one "name = value" / "name => value" line.
type cfgVar struct {
	name, value string
	file        string
	line        int
}

// category is one [section] of a config file (main/config.c).
type category struct {
	name     string
	file     string
	line     int
	template bool
	vars     []cfgVar
}

// maxIncludeDepth bounds #include nesting.
const maxIncludeDepth = 32

// maxNestedComments is MAX_NESTED_COMMENTS in main/config.c.
const maxNestedComments = 128

// configReader reads Asterisk config syntax into categories.
type configReader struct {
	cats     []*category
	cur      *category
	open     func(path string) (io.ReadCloser, error)
	stack    []string
	warnings []string
}

func (cr *configReader) errorf(file string, line int, format string, args ...any) error {
	return &ParseError{File: file, Line: line, Msg: fmt.Sprintf(format, args...)}
}

func (cr *configReader) warnf(file string, line int, format string, args ...any) {
	cr.warnings = append(cr.warnings, fmt.Sprintf("%s:%d: ", file, line)+fmt.Sprintf(format, args...))
}

// readFile reads one file (top level or #include).
func (cr *configReader) readFile(path string, r io.Reader) error {
	for _, p := range cr.stack {
		if p == path {
			return &ParseError{File: path, Msg: "recursive #include"}
		}
	}
	if len(cr.stack) >= maxIncludeDepth {
		return &ParseError{File: path, Msg: "#include nested too deeply"}
	}
	cr.stack = append(cr.stack, path)
	defer func() { cr.stack = cr.stack[:len(cr.stack)-1] }()

	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64*1024), 1024*1024)
	lineno := 0
	comment := 0 // ;-- --; nesting depth
	for sc.Scan() {
		lineno++
		text, err := stripComments(sc.Text(), &comment)
		if err != nil {
			return cr.errorf(path, lineno, "%v", err)
		}
		text = strings.TrimSpace(text)
		if text == "" {
			continue
		}
		if err := cr.line(path, lineno, text); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil {
		return &ParseError{File: path, Line: lineno, Msg: "read error", Err: err}
	}
	return nil
}

// stripComments removes ';' comments and ;-- --; block comments and turns
// "\;" into ";" (main/config.c config_text_file_load).
func stripComments(line string, depth *int) (string, error) {
	var b strings.Builder
	for i := 0; i < len(line); i++ {
		c := line[i]
		if *depth > 0 {
			if c == '-' && strings.HasPrefix(line[i:], "--;") {
				*depth--
				i += 2
			} else if c == ';' && strings.HasPrefix(line[i:], ";--") && !strings.HasPrefix(line[i:], ";---") {
				*depth++
				i += 2
			}
			continue
		}
		switch {
		case c == '\\' && i+1 < len(line) && line[i+1] == ';':
			b.WriteByte(';')
			i++
		case c == ';' && strings.HasPrefix(line[i:], ";--") && !strings.HasPrefix(line[i:], ";---"):
			if *depth >= maxNestedComments {
				return "", fmt.Errorf("maximum nesting of %d block comments reached", maxNestedComments)
			}
			*depth++
			i += 2
		case c == ';':
			return b.String(), nil
		default:
			b.WriteByte(c)
		}
	}
	return b.String(), nil
}

func (cr *configReader) line(file string, lineno int, text string) error {
	switch text[0] {
	case '[':
		return cr.categoryLine(file, lineno, text)
	case '#':
		return cr.directive(file, lineno, text)
	}
	if cr.cur == nil {
		return cr.errorf(file, lineno, "no [context] before %q", text)
	}
	eq := strings.IndexByte(text, '=')
	if eq < 0 {
		return cr.errorf(file, lineno, "expected 'name => value', got %q", text)
	}
	name := strings.TrimSpace(text[:eq])
	value := text[eq+1:]
	value = strings.TrimPrefix(value, ">") // "=>" object syntax
	if name == "" {
		return cr.errorf(file, lineno, "missing name before '='")
	}
	cr.cur.vars = append(cr.cur.vars, cfgVar{name: name, value: strings.TrimSpace(value), file: file, line: lineno})
	return nil
}

// categoryLine handles [name], [name](!), [name](+) and [name](tmpl,...).
func (cr *configReader) categoryLine(file string, lineno int, text string) error {
	end := strings.IndexByte(text, ']')
	if end < 0 {
		return cr.errorf(file, lineno, "no closing ']' in %q", text)
	}
	name := strings.TrimSpace(text[1:end])
	if name == "" {
		return cr.errorf(file, lineno, "empty [] context name")
	}
	cat := &category{name: name, file: file, line: lineno}
	rest := strings.TrimSpace(text[end+1:])
	if rest != "" {
		if rest[0] != '(' {
			return cr.errorf(file, lineno, "unexpected %q after [%s]", rest, name)
		}
		close := strings.IndexByte(rest, ')')
		if close < 0 {
			return cr.errorf(file, lineno, "no closing ')' in %q", text)
		}
		for opt := range strings.SplitSeq(rest[1:close], ",") {
			opt = strings.TrimSpace(opt)
			switch {
			case opt == "!":
				cat.template = true
			case opt == "+":
				var found *category
				for _, c := range cr.cats {
					if c.name == name {
						found = c
					}
				}
				if found == nil {
					return cr.errorf(file, lineno, "[%s](+) appends to a context that does not exist", name)
				}
				cr.cur = found
				return nil
			case opt == "":
			default:
				var base *category
				for _, c := range cr.cats {
					if c.name == opt {
						base = c
					}
				}
				if base == nil {
					return cr.errorf(file, lineno, "[%s] inherits from unknown template %q", name, opt)
				}
				cat.vars = append(cat.vars, base.vars...)
			}
		}
	}
	cr.cats = append(cr.cats, cat)
	cr.cur = cat
	return nil
}

// directive handles #include, #tryinclude and #exec.
func (cr *configReader) directive(file string, lineno int, text string) error {
	word, arg, _ := strings.Cut(text[1:], " ")
	if i := strings.IndexByte(word, '\t'); i >= 0 {
		word, arg = word[:i], word[i+1:]+" "+arg
	}
	arg = strings.TrimSpace(arg)
	word = strings.ToLower(word)
	switch word {
	case "include", "tryinclude":
	case "exec":
		cr.warnf(file, lineno, "#exec is not supported; line ignored")
		return nil
	default:
		return cr.errorf(file, lineno, "unknown directive #%s", word)
	}
	if len(arg) >= 2 && ((arg[0] == '"' && arg[len(arg)-1] == '"') || (arg[0] == '<' && arg[len(arg)-1] == '>')) {
		arg = arg[1 : len(arg)-1]
	}
	if arg == "" {
		return cr.errorf(file, lineno, "#%s needs a file name", word)
	}
	target := arg
	if !filepath.IsAbs(target) {
		target = filepath.Join(filepath.Dir(file), target)
	}
	paths := []string{target}
	if strings.ContainsAny(target, "*?[") {
		m, err := filepath.Glob(target)
		if err != nil {
			return &ParseError{File: file, Line: lineno, Msg: fmt.Sprintf("#%s %q", word, arg), Err: err}
		}
		paths = m
	}
	for _, p := range paths {
		rc, err := cr.open(p)
		if err != nil {
			if word == "tryinclude" && os.IsNotExist(err) {
				continue
			}
			return &ParseError{File: file, Line: lineno, Msg: fmt.Sprintf("#%s %q: %v", word, arg, err), Err: err}
		}
		err = cr.readFile(p, rc)
		rc.Close()
		if err != nil {
			return err
		}
	}
	return nil
}
