// Package astconf reads files in Asterisk's configuration syntax
// (main/config.c): [sections], "name = value" and "name => value" lines,
// ';' comments and ";-- --;" block comments, "\;" for a literal ';',
// templates ([name](!)), inheritance ([name](tmpl,...)), appending
// ([name](+)) and #include / #tryinclude (glob patterns allowed, relative
// to the including file). #exec is refused: it runs a program.
//
// It keeps the file and line of every section and variable so that the
// modules built on it (musiconhold.conf, amd.conf) can name the line of a
// bad value in their errors.
package astconf

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Error is a configuration error at a file and line.
type Error struct {
	File string
	Line int
	Msg  string
	Err  error // wrapped cause, if any
}

func (e *Error) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	}
	return fmt.Sprintf("%s: %s", e.File, e.Msg)
}

func (e *Error) Unwrap() error { return e.Err }

// Var is one "name = value" line.
type Var struct {
	Name, Value string
	File        string
	Line        int
}

// Errorf returns an *Error at v's line.
func (v Var) Errorf(format string, args ...any) error {
	return &Error{File: v.File, Line: v.Line, Msg: fmt.Sprintf(format, args...)}
}

// Pos is "file:line".
func (v Var) Pos() string { return fmt.Sprintf("%s:%d", v.File, v.Line) }

// Int parses the value as a decimal integer, naming the line on error.
func (v Var) Int() (int, error) {
	n, err := strconv.Atoi(strings.TrimSpace(v.Value))
	if err != nil {
		return 0, &Error{File: v.File, Line: v.Line, Msg: fmt.Sprintf("%s: %q is not an integer", v.Name, v.Value), Err: err}
	}
	return n, nil
}

// Bool parses the value with Asterisk's ast_true/ast_false spellings
// (yes/no, true/false, y/n, t/f, 1/0, on/off), naming the line on error.
func (v Var) Bool() (bool, error) {
	switch strings.ToLower(strings.TrimSpace(v.Value)) {
	case "yes", "true", "y", "t", "1", "on":
		return true, nil
	case "no", "false", "n", "f", "0", "off":
		return false, nil
	}
	return false, v.Errorf("%s: %q is not a boolean (yes or no)", v.Name, v.Value)
}

// Section is one [name] of a file, with the variables it inherited first.
type Section struct {
	Name     string
	File     string
	Line     int
	Template bool
	Vars     []Var
}

// Errorf returns an *Error at the section's header line.
func (s *Section) Errorf(format string, args ...any) error {
	return &Error{File: s.File, Line: s.Line, Msg: fmt.Sprintf(format, args...)}
}

// maxIncludeDepth bounds #include nesting.
const maxIncludeDepth = 32

// maxNestedComments is MAX_NESTED_COMMENTS in main/config.c.
const maxNestedComments = 128

// ReadFile reads path and the files it includes. Templates are returned
// too (Template set); callers normally skip them.
func ReadFile(path string) ([]*Section, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("astconf: %w", err)
	}
	defer f.Close()
	return Parse(path, f)
}

// Parse reads configuration text from r; name is used in errors and
// #include paths are resolved relative to its directory.
func Parse(name string, r io.Reader) ([]*Section, error) {
	rd := &reader{}
	if err := rd.file(name, r); err != nil {
		return nil, err
	}
	return rd.sections, nil
}

type reader struct {
	sections []*Section
	cur      *Section
	stack    []string
}

func (rd *reader) file(path string, r io.Reader) error {
	for _, p := range rd.stack {
		if p == path {
			return &Error{File: path, Msg: "recursive #include"}
		}
	}
	if len(rd.stack) >= maxIncludeDepth {
		return &Error{File: path, Msg: "#include nested too deeply"}
	}
	rd.stack = append(rd.stack, path)
	defer func() { rd.stack = rd.stack[:len(rd.stack)-1] }()

	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	line, depth := 0, 0
	for sc.Scan() {
		line++
		text, err := stripComments(sc.Text(), &depth)
		if err != nil {
			return &Error{File: path, Line: line, Msg: err.Error()}
		}
		if text = strings.TrimSpace(text); text == "" {
			continue
		}
		if err := rd.line(path, line, text); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil {
		return &Error{File: path, Line: line, Msg: "read error", Err: err}
	}
	return nil
}

// stripComments removes ';' comments and ;-- --; block comments (which may
// span lines and nest) and turns "\;" into ';'.
func stripComments(line string, depth *int) (string, error) {
	var b strings.Builder
	for i := 0; i < len(line); i++ {
		c := line[i]
		opens := c == ';' && strings.HasPrefix(line[i:], ";--") && !strings.HasPrefix(line[i:], ";---")
		if *depth > 0 {
			switch {
			case c == '-' && strings.HasPrefix(line[i:], "--;"):
				*depth--
				i += 2
			case opens:
				*depth++
				i += 2
			}
			continue
		}
		switch {
		case c == '\\' && i+1 < len(line) && line[i+1] == ';':
			b.WriteByte(';')
			i++
		case opens:
			if *depth >= maxNestedComments {
				return "", fmt.Errorf("more than %d nested block comments", maxNestedComments)
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

func (rd *reader) line(file string, line int, text string) error {
	switch text[0] {
	case '[':
		return rd.header(file, line, text)
	case '#':
		return rd.directive(file, line, text)
	}
	if rd.cur == nil {
		return &Error{File: file, Line: line, Msg: fmt.Sprintf("%q before any [section]", text)}
	}
	name, value, ok := strings.Cut(text, "=")
	if !ok {
		return &Error{File: file, Line: line, Msg: fmt.Sprintf("expected 'name = value', got %q", text)}
	}
	name = strings.TrimSpace(name)
	if name == "" {
		return &Error{File: file, Line: line, Msg: "missing name before '='"}
	}
	value = strings.TrimPrefix(value, ">") // "=>" object syntax
	rd.cur.Vars = append(rd.cur.Vars, Var{Name: name, Value: strings.TrimSpace(value), File: file, Line: line})
	return nil
}

func (rd *reader) find(name string) *Section {
	for i := len(rd.sections) - 1; i >= 0; i-- {
		if rd.sections[i].Name == name {
			return rd.sections[i]
		}
	}
	return nil
}

// header handles [name], [name](!), [name](+) and [name](tmpl,...).
func (rd *reader) header(file string, line int, text string) error {
	errf := func(format string, args ...any) error {
		return &Error{File: file, Line: line, Msg: fmt.Sprintf(format, args...)}
	}
	end := strings.IndexByte(text, ']')
	if end < 0 {
		return errf("no closing ']' in %q", text)
	}
	name := strings.TrimSpace(text[1:end])
	if name == "" {
		return errf("empty [] section name")
	}
	sec := &Section{Name: name, File: file, Line: line}
	rest := strings.TrimSpace(text[end+1:])
	if rest != "" {
		closing := strings.IndexByte(rest, ')')
		if rest[0] != '(' || closing < 0 {
			return errf("unexpected %q after [%s]", rest, name)
		}
		for opt := range strings.SplitSeq(rest[1:closing], ",") {
			switch opt = strings.TrimSpace(opt); opt {
			case "":
			case "!":
				sec.Template = true
			case "+":
				found := rd.find(name)
				if found == nil {
					return errf("[%s](+) appends to a section that does not exist", name)
				}
				rd.cur = found
				return nil
			default:
				base := rd.find(opt)
				if base == nil {
					return errf("[%s] inherits from unknown template %q", name, opt)
				}
				sec.Vars = append(sec.Vars, base.Vars...)
			}
		}
	}
	rd.sections = append(rd.sections, sec)
	rd.cur = sec
	return nil
}

// directive handles #include and #tryinclude; #exec is refused.
func (rd *reader) directive(file string, line int, text string) error {
	word, arg, _ := strings.Cut(strings.ReplaceAll(text[1:], "\t", " "), " ")
	word, arg = strings.ToLower(word), strings.TrimSpace(arg)
	errf := func(err error, format string, args ...any) error {
		return &Error{File: file, Line: line, Msg: fmt.Sprintf(format, args...), Err: err}
	}
	switch word {
	case "include", "tryinclude":
	case "exec":
		return errf(nil, "#exec is not supported (it runs a program)")
	default:
		return errf(nil, "unknown directive #%s", word)
	}
	if len(arg) >= 2 && (arg[0] == '"' && arg[len(arg)-1] == '"' || arg[0] == '<' && arg[len(arg)-1] == '>') {
		arg = arg[1 : len(arg)-1]
	}
	if arg == "" {
		return errf(nil, "#%s needs a file name", word)
	}
	target := arg
	if !filepath.IsAbs(target) {
		target = filepath.Join(filepath.Dir(file), target)
	}
	paths := []string{target}
	if strings.ContainsAny(target, "*?[") {
		m, err := filepath.Glob(target)
		if err != nil {
			return errf(err, "#%s %q: %v", word, arg, err)
		}
		paths = m
	}
	for _, p := range paths {
		f, err := os.Open(p)
		if err != nil {
			if word == "tryinclude" && errors.Is(err, os.ErrNotExist) {
				continue
			}
			return errf(err, "#%s %q: %v", word, arg, err)
		}
		err = rd.file(p, f)
		f.Close()
		if err != nil {
			return err
		}
	}
	return nil
}
