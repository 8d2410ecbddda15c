package provision

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/entvoice/entvoice/internal/dialplan"
)

// maxImportErrors bounds the lines a failed import reports.
const maxImportErrors = 1000

// ImportUser is one user of a bulk import, with the input line it came
// from (for error reports).
type ImportUser struct {
	User
	Password string
	Line     int
}

// ImportExtension is one extension row of a bulk import.
type ImportExtension struct {
	Extension
	Line int
}

// Batch is a bulk import for one tenant: all of it is stored in one
// transaction, or nothing is.
type Batch struct {
	Tenant     string
	Users      []ImportUser
	Extensions []ImportExtension
	// ReplaceContexts first deletes the tenant's existing rows in every
	// context the batch has rows for (re-importing an extensions.conf).
	ReplaceContexts bool
	// Errors are problems found while parsing the input; they are reported
	// together with the validation errors of the items.
	Errors []FieldError
}

// ImportResult counts what an import stored.
type ImportResult struct {
	Users      int   `json:"users"`
	Extensions int   `json:"extensions"`
	Deleted    int   `json:"deleted"`
	Revision   int64 `json:"revision"`
}

type extKey struct {
	context, exten string
	priority       int
}

// Import validates every item of b, reporting every bad line in one
// *ValidationError, and stores the batch in one transaction with
// multi-row INSERTs; on any error nothing is changed.
func (r *Repo) Import(ctx context.Context, b Batch) (ImportResult, error) {
	var res ImportResult
	if b.Tenant == "" {
		b.Tenant = DefaultTenant
	}
	var e errs
	seenUser := make(map[string]int, len(b.Users))
	for i := range b.Users {
		u := &b.Users[i]
		e.line = u.Line
		u.Tenant = b.Tenant
		UserDefaults(&u.User)
		validateUser(&e, &u.User)
		validatePassword(&e, "password", u.Password)
		if prev, dup := seenUser[u.Name]; dup {
			e.add("name", "user %q is already defined on line %d", u.Name, prev)
		} else {
			seenUser[u.Name] = u.Line
		}
	}
	seenExt := make(map[extKey]int, len(b.Extensions))
	contexts := map[string]bool{}
	for i := range b.Extensions {
		x := &b.Extensions[i]
		e.line = x.Line
		x.Tenant = b.Tenant
		validateExtension(&e, &x.Extension, r.opts.KnownApp)
		k := extKey{x.Context, x.Exten, x.Priority}
		if prev, dup := seenExt[k]; dup {
			e.add("priority", "priority %d of %s@%s is already defined on line %d", x.Priority, x.Exten, x.Context, prev)
		} else {
			seenExt[k] = x.Line
		}
		contexts[x.Context] = true
	}
	e.line = 0
	if len(b.Errors) > 0 {
		e.list = append(e.list, b.Errors...)
		slices.SortStableFunc(e.list, func(a, b FieldError) int { return a.Line - b.Line })
	}
	if len(e.list) >= maxImportErrors {
		e.list = e.list[:maxImportErrors]
	}
	if err := e.err(); err != nil {
		return res, err
	}
	err := r.write(ctx, func(tx *wtx) error {
		t, err := r.getTenant(ctx, tx, b.Tenant, true)
		if err != nil {
			return err
		}
		var ce errs
		if len(b.Users) > 0 {
			rows, err := tx.QueryContext(ctx, r.st.Rebind("SELECT name FROM sip_users WHERE tenant = ?"), b.Tenant)
			if err != nil {
				return fmt.Errorf("provision: import: %w", err)
			}
			n := 0
			for rows.Next() {
				var name string
				if err := rows.Scan(&name); err != nil {
					_ = rows.Close()
					return fmt.Errorf("provision: import: %w", err)
				}
				n++
				if line, ok := seenUser[name]; ok {
					ce.line = line
					ce.add("name", "user %q already exists in tenant %q", name, b.Tenant)
				}
			}
			_ = rows.Close()
			if err := rows.Err(); err != nil {
				return fmt.Errorf("provision: import: %w", err)
			}
			if t.MaxUsers > 0 && n+len(b.Users) > t.MaxUsers {
				ce.line = 0
				ce.add("users", "tenant %q has %d users and max_users %d: %d more do not fit", b.Tenant, n, t.MaxUsers, len(b.Users))
			}
		}
		var doomed []Extension
		if len(b.Extensions) > 0 {
			existing, err := r.queryExtensions(ctx, tx, "WHERE tenant = ?", b.Tenant)
			if err != nil {
				return err
			}
			for _, x := range existing {
				if b.ReplaceContexts && contexts[x.Context] {
					doomed = append(doomed, x)
					continue
				}
				if line, ok := seenExt[extKey{x.Context, x.Exten, x.Priority}]; ok {
					ce.line = line
					ce.add("priority", "priority %d of %s@%s already exists in tenant %q", x.Priority, x.Exten, x.Context, b.Tenant)
				}
			}
		}
		if err := ce.err(); err != nil {
			slices.SortStableFunc(ce.list, func(a, b FieldError) int { return a.Line - b.Line })
			err.(*ValidationError).Conflict = true
			return err
		}
		total := len(doomed) + len(b.Users) + len(b.Extensions)
		if total == 0 {
			res.Revision, err = r.Revision(ctx)
			return err
		}
		first, err := tx.bump(ctx, total)
		if err != nil {
			return err
		}
		res.Revision = first + int64(total) - 1
		cs := make([]change, 0, total)
		rev := first
		for _, x := range doomed {
			cs = append(cs, extensionDeleted(x))
			rev++
		}
		if len(doomed) > 0 {
			ids := make([]any, 0, len(doomed))
			for _, x := range doomed {
				ids = append(ids, x.ID)
			}
			for len(ids) > 0 {
				n := min(len(ids), 500)
				q := "DELETE FROM extensions WHERE id IN (" + strings.TrimSuffix(strings.Repeat("?, ", n), ", ") + ")"
				if _, err := tx.ExecContext(ctx, r.st.Rebind(q), ids[:n]...); err != nil {
					return fmt.Errorf("provision: import: replace: %w", err)
				}
				ids = ids[n:]
			}
		}
		ts := now()
		if len(b.Users) > 0 {
			rows := make([][]any, len(b.Users))
			byName := make(map[string]*User, len(b.Users))
			realm := r.realmFor(t)
			for i := range b.Users {
				u := &b.Users[i].User
				u.Realm = realm
				setPassword(u, b.Users[i].Password)
				u.Revision, u.CreatedAt, u.UpdatedAt = rev+int64(i), ts, ts
				rows[i] = r.userArgs(u)
				byName[u.Name] = u
			}
			err := bulkInsert(ctx, r.st, tx.Tx, "sip_users", userInsertCols, rows, "id, name", func(s rowScanner) error {
				var id int64
				var name string
				if err := s.Scan(&id, &name); err != nil {
					return err
				}
				if u := byName[name]; u != nil {
					u.ID = id
				}
				return nil
			})
			if err != nil {
				if _, ok := isUnique(err); ok {
					return conflict("name", "a user of this import was created meanwhile; retry")
				}
				return fmt.Errorf("provision: import users: %w", err)
			}
			for i := range b.Users {
				u := b.Users[i].User
				cs = append(cs, change{entity: EntityUser, tenant: u.Tenant, key: userKey(u.ID), data: userWire{u, u.HA1MD5, u.HA1SHA256}})
			}
			rev += int64(len(b.Users))
		}
		if len(b.Extensions) > 0 {
			rows := make([][]any, len(b.Extensions))
			byKey := make(map[extKey]*Extension, len(b.Extensions))
			for i := range b.Extensions {
				x := &b.Extensions[i].Extension
				x.Revision = rev + int64(i)
				rows[i] = extArgs(x)
				byKey[extKey{x.Context, x.Exten, x.Priority}] = x
			}
			err := bulkInsert(ctx, r.st, tx.Tx, "extensions", extInsertCols, rows, "id, context, exten, priority", func(s rowScanner) error {
				var id int64
				var k extKey
				if err := s.Scan(&id, &k.context, &k.exten, &k.priority); err != nil {
					return err
				}
				if x := byKey[k]; x != nil {
					x.ID = id
				}
				return nil
			})
			if err != nil {
				if _, ok := isUnique(err); ok {
					return conflict("priority", "an extension row of this import was created meanwhile; retry")
				}
				return fmt.Errorf("provision: import extensions: %w", err)
			}
			for i := range b.Extensions {
				x := b.Extensions[i].Extension
				cs = append(cs, change{entity: EntityExtension, tenant: x.Tenant, key: userKey(x.ID), data: x})
			}
		}
		res.Users, res.Extensions, res.Deleted = len(b.Users), len(b.Extensions), len(doomed)
		return tx.record(ctx, first, cs)
	})
	return res, err
}

// UserCSVColumns are the columns a users CSV may have (a header row names
// them, in any order; name and password are required). List cells
// (codecs, permit, deny) separate items with spaces, commas or ';'.
var UserCSVColumns = []string{"name", "password", "context", "callerid", "language", "codecs", "permit", "deny", "max_contacts", "accountcode", "enabled"}

// ExtensionCSVColumns are the columns of an extensions CSV (Asterisk's
// realtime extensions table, plus an optional label).
var ExtensionCSVColumns = []string{"context", "exten", "priority", "app", "appdata", "label"}

func splitCell(s string) []string {
	f := strings.FieldsFunc(s, func(r rune) bool { return r == ' ' || r == ',' || r == ';' || r == '\t' })
	if f == nil {
		return []string{}
	}
	return f
}

// readCSV reads a CSV with a header row naming columns out of allowed,
// calling fn with each record's cells by column name and its line.
func readCSV(rd io.Reader, allowed, required []string, fn func(cells map[string]string, line int)) error {
	var e errs
	cr := csv.NewReader(rd)
	cr.FieldsPerRecord = -1
	cr.TrimLeadingSpace = true
	header, err := cr.Read()
	if err != nil {
		if errors.Is(err, io.EOF) {
			e.add("csv", "empty input: want a header row naming the columns %s", strings.Join(allowed, ","))
			return e.err()
		}
		e.line = 1
		e.add("csv", "%v", err)
		return e.err()
	}
	e.line = 1
	cols := make([]string, len(header))
	have := map[string]bool{}
	for i, h := range header {
		h = strings.ToLower(strings.TrimSpace(h))
		if i == 0 {
			h = strings.TrimPrefix(h, "\ufeff")
		}
		if !slices.Contains(allowed, h) {
			e.add("csv", "unknown column %q (want %s)", h, strings.Join(allowed, ","))
		}
		if have[h] {
			e.add("csv", "column %q appears twice", h)
		}
		have[h] = true
		cols[i] = h
	}
	for _, c := range required {
		if !have[c] {
			e.add("csv", "missing column %q", c)
		}
	}
	if err := e.err(); err != nil {
		return err
	}
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		line, _ := cr.FieldPos(0)
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				e.line = pe.Line
			}
			e.add("csv", "%v", err)
			if len(e.list) >= maxImportErrors || pe == nil {
				break
			}
			continue
		}
		if len(rec) == 1 && strings.TrimSpace(rec[0]) == "" {
			continue
		}
		if len(rec) != len(cols) {
			e.line = line
			e.add("csv", "has %d cells, the header %d", len(rec), len(cols))
			continue
		}
		cells := make(map[string]string, len(cols))
		for i, c := range cols {
			cells[c] = rec[i]
		}
		fn(cells, line)
	}
	return e.err()
}

// ParseUsersCSV reads users from CSV (see UserCSVColumns). Enabled
// defaults to true; cells that are not numbers or booleans are reported.
func ParseUsersCSV(rd io.Reader) ([]ImportUser, error) {
	var out []ImportUser
	var e errs
	err := readCSV(rd, UserCSVColumns, []string{"name", "password"}, func(c map[string]string, line int) {
		u := ImportUser{Line: line, Password: c["password"]}
		u.Name, u.Context, u.CallerID, u.Language, u.AccountCode = c["name"], c["context"], c["callerid"], c["language"], c["accountcode"]
		if v, ok := c["codecs"]; ok && strings.TrimSpace(v) != "" {
			u.Codecs = splitCell(v)
		}
		u.Permit, u.Deny = splitCell(c["permit"]), splitCell(c["deny"])
		e.line = line
		if v := strings.TrimSpace(c["max_contacts"]); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil {
				e.add("max_contacts", "%q is not a number", v)
			}
			u.MaxContacts = n
		}
		u.Enabled = true
		if v := strings.TrimSpace(c["enabled"]); v != "" {
			b, err := parseBool(v)
			if err != nil {
				e.add("enabled", "%q is not yes/no/true/false/1/0", v)
			}
			u.Enabled = b
		}
		out = append(out, u)
	})
	if err != nil {
		var ve *ValidationError
		if errors.As(err, &ve) {
			ve.Errors = append(ve.Errors, e.list...)
			slices.SortStableFunc(ve.Errors, func(a, b FieldError) int { return a.Line - b.Line })
		}
		return nil, err
	}
	return out, e.err()
}

// parseBool accepts Asterisk's ast_true/ast_false spellings.
func parseBool(v string) (bool, error) {
	switch strings.ToLower(v) {
	case "1", "yes", "true", "y", "t", "on":
		return true, nil
	case "0", "no", "false", "n", "f", "off":
		return false, nil
	}
	return false, fmt.Errorf("not a boolean: %q", v)
}

// ParseExtensionsCSV reads extension rows from CSV (see
// ExtensionCSVColumns).
func ParseExtensionsCSV(rd io.Reader) ([]ImportExtension, error) {
	var out []ImportExtension
	var e errs
	err := readCSV(rd, ExtensionCSVColumns, []string{"context", "exten", "priority", "app"}, func(c map[string]string, line int) {
		x := ImportExtension{Line: line}
		x.Context, x.Exten, x.App, x.AppData, x.Label = strings.TrimSpace(c["context"]), strings.TrimSpace(c["exten"]), strings.TrimSpace(c["app"]), c["appdata"], strings.TrimSpace(c["label"])
		p := strings.TrimSpace(c["priority"])
		if strings.EqualFold(p, "hint") {
			x.Priority = dialplan.PriorityHint
		} else if n, err := strconv.Atoi(p); err == nil {
			x.Priority = n
		} else {
			e.line = line
			e.add("priority", "%q is not a number", p)
		}
		out = append(out, x)
	})
	if err != nil {
		return nil, err
	}
	return out, e.err()
}

// ParseExtensionsConf reads extension rows from extensions.conf text with
// the dialplan's own parser. Every line the parser refuses is reported
// (the parser stops at the first error, so a refused line is blanked and
// the text parsed again). Constructs the realtime extensions table cannot
// hold ([globals], include, switch, ignorepat, #include, #exec) are
// reported as errors too; [general] options are left out.
func ParseExtensionsConf(name string, text []byte) ([]ImportExtension, error) {
	var e errs
	lines := bytes.Split(text, []byte("\n"))
	ctxName := ""
	for i, l := range lines {
		s := strings.TrimSpace(string(l))
		e.line = i + 1
		low := strings.ToLower(s)
		switch {
		case strings.HasPrefix(low, "#"):
			e.add("conf", "%s is not allowed in an import", strings.Fields(low)[0])
			lines[i] = nil
		case strings.HasPrefix(s, "["):
			ctxName = strings.ToLower(strings.TrimSpace(strings.Trim(strings.SplitN(s, "]", 2)[0], "[")))
		case ctxName == "general":
			// Loader options (static, writeprotect, autofallthrough...):
			// not rows, and harmless to leave out.
		case ctxName == "globals":
			if s != "" && !strings.HasPrefix(s, ";") {
				e.add("conf", "[globals] variables cannot be stored in the realtime extensions table")
				lines[i] = nil
			}
		default:
			key := strings.ToLower(strings.TrimSpace(strings.SplitN(strings.SplitN(s, "=", 2)[0], ";", 2)[0]))
			switch key {
			case "include", "switch", "lswitch", "eswitch", "ignorepat":
				e.add("conf", "%s cannot be stored in the realtime extensions table", key)
				lines[i] = nil
			}
		}
	}
	var plan *dialplan.Dialplan
	for {
		var err error
		plan, err = dialplan.Parse(name, bytes.NewReader(bytes.Join(lines, []byte("\n"))))
		if err == nil {
			break
		}
		var pe *dialplan.ParseError
		if !errors.As(err, &pe) || pe.Line < 1 || pe.Line > len(lines) || lines[pe.Line-1] == nil || len(e.list) >= maxImportErrors {
			e.line = 0
			if pe != nil {
				e.line = pe.Line
				e.add("conf", "%s", pe.Msg)
			} else {
				e.add("conf", "%v", err)
			}
			return nil, e.err()
		}
		e.line = pe.Line
		e.add("conf", "%s", pe.Msg)
		lines[pe.Line-1] = nil
	}
	var out []ImportExtension
	for _, c := range plan.Contexts() {
		if strings.EqualFold(c, "globals") || strings.EqualFold(c, "general") {
			continue
		}
		for _, x := range plan.Extensions(c) {
			for _, st := range plan.Steps(c, x) {
				ie := ImportExtension{Line: st.Line, Extension: Extension{Context: c, Exten: x, Priority: st.Priority, Label: st.Label, App: st.App, AppData: st.Data}}
				out = append(out, ie)
			}
		}
	}
	slices.SortStableFunc(out, func(a, b ImportExtension) int { return a.Line - b.Line })
	slices.SortStableFunc(e.list, func(a, b FieldError) int { return a.Line - b.Line })
	return out, e.err()
}
