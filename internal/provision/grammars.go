package provision

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"regexp"
	"time"

	"github.com/entvoice/entvoice/internal/speech/jsgf"
)

// Grammar is a tenant's speech grammar: JSGF text its dialplan loads by
// name (SpeechLoadGrammar(name,NAME), AGI SPEECH LOAD GRAMMAR name NAME).
type Grammar struct {
	Tenant    string    `json:"tenant"`
	Name      string    `json:"name"`
	Body      string    `json:"body"`
	Revision  int64     `json:"revision"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// EntityGrammar is a grammar's change.
const EntityGrammar Entity = "grammar"

// MaxGrammarBytes bounds a stored grammar (as grammar files are bounded).
const MaxGrammarBytes = jsgf.MaxSize

var grammarNameRe = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// ValidateGrammar checks a grammar's name and its JSGF syntax; a syntax
// error names the line and column ("body: menu:3:17: expected ...").
func ValidateGrammar(g *Grammar) error {
	var e errs
	if !grammarNameRe.MatchString(g.Name) {
		e.add("name", "%q: 1-64 letters, digits, '_' or '-'", g.Name)
	}
	switch {
	case g.Body == "":
		e.add("body", "empty grammar")
	case len(g.Body) > MaxGrammarBytes:
		e.add("body", "%d bytes, larger than %d", len(g.Body), MaxGrammarBytes)
	default:
		if _, err := jsgf.Parse(g.Name, []byte(g.Body)); err != nil {
			e.add("body", "%v", err)
		}
	}
	return e.err()
}

const grammarCols = "tenant, name, body, revision, created_at, updated_at"

func scanGrammar(s rowScanner) (Grammar, error) {
	var g Grammar
	var created, updated storeTime
	if err := s.Scan(&g.Tenant, &g.Name, &g.Body, &g.Revision, &created, &updated); err != nil {
		return g, err
	}
	g.CreatedAt, g.UpdatedAt = created.Time, updated.Time
	return g, nil
}

func (r *Repo) queryGrammars(ctx context.Context, q querier, tail string, args ...any) ([]Grammar, error) {
	rows, err := q.QueryContext(ctx, r.st.Rebind("SELECT "+grammarCols+" FROM speech_grammars "+tail), args...)
	if err != nil {
		return nil, fmt.Errorf("provision: grammars: %w", err)
	}
	defer func() { _ = rows.Close() }()
	out := []Grammar{}
	for rows.Next() {
		g, err := scanGrammar(rows)
		if err != nil {
			return nil, fmt.Errorf("provision: grammars scan: %w", err)
		}
		out = append(out, g)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("provision: grammars: %w", err)
	}
	return out, nil
}

// ListGrammars returns a tenant's grammars by name.
func (r *Repo) ListGrammars(ctx context.Context, tenant string) ([]Grammar, error) {
	return r.queryGrammars(ctx, r.st.DB(), "WHERE tenant = ? ORDER BY name", tenant)
}

// GetGrammar returns one of a tenant's grammars.
func (r *Repo) GetGrammar(ctx context.Context, tenant, name string) (Grammar, error) {
	g, err := scanGrammar(r.st.DB().QueryRowContext(ctx, r.st.Rebind("SELECT "+grammarCols+" FROM speech_grammars WHERE tenant = ? AND name = ?"), tenant, name))
	if errors.Is(err, sql.ErrNoRows) {
		return g, fmt.Errorf("grammar %q in tenant %q: %w", name, tenant, ErrNotFound)
	}
	if err != nil {
		return g, fmt.Errorf("provision: grammar %q: %w", name, err)
	}
	return g, nil
}

// PutGrammar creates or replaces a tenant's grammar; created reports
// which. A grammar with syntax errors is refused (ValidationError).
func (r *Repo) PutGrammar(ctx context.Context, g Grammar) (out Grammar, created bool, err error) {
	if g.Tenant == "" {
		g.Tenant = DefaultTenant
	}
	if err := ValidateGrammar(&g); err != nil {
		return g, false, err
	}
	err = r.write(ctx, func(tx *wtx) error {
		if _, err := r.getTenant(ctx, tx, g.Tenant, false); err != nil {
			return err
		}
		old, err := scanGrammar(tx.QueryRowContext(ctx, r.st.Rebind("SELECT "+grammarCols+" FROM speech_grammars WHERE tenant = ? AND name = ?"+forUpdate(r.st)), g.Tenant, g.Name))
		exists := err == nil
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("provision: grammar %q: %w", g.Name, err)
		}
		rev, err := tx.bump(ctx, 1)
		if err != nil {
			return err
		}
		t := now()
		g.Revision, g.UpdatedAt, g.CreatedAt = rev, t, t
		ts := r.st.TimeArg(t)
		if exists {
			g.CreatedAt = old.CreatedAt
			_, err = tx.ExecContext(ctx, r.st.Rebind("UPDATE speech_grammars SET body = ?, revision = ?, updated_at = ? WHERE tenant = ? AND name = ?"), g.Body, rev, ts, g.Tenant, g.Name)
		} else {
			_, err = tx.ExecContext(ctx, r.st.Rebind("INSERT INTO speech_grammars ("+grammarCols+") VALUES (?, ?, ?, ?, ?, ?)"), g.Tenant, g.Name, g.Body, rev, ts, ts)
		}
		if err != nil {
			return fmt.Errorf("provision: grammar %q: %w", g.Name, err)
		}
		created = !exists
		return tx.one(ctx, rev, change{entity: EntityGrammar, tenant: g.Tenant, key: g.Name, data: g})
	})
	return g, created, err
}

// DeleteGrammar deletes a tenant's grammar.
func (r *Repo) DeleteGrammar(ctx context.Context, tenant, name string) error {
	return r.write(ctx, func(tx *wtx) error {
		res, err := tx.ExecContext(ctx, r.st.Rebind("DELETE FROM speech_grammars WHERE tenant = ? AND name = ?"), tenant, name)
		if err != nil {
			return fmt.Errorf("provision: delete grammar %q: %w", name, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("grammar %q in tenant %q: %w", name, tenant, ErrNotFound)
		}
		rev, err := tx.bump(ctx, 1)
		if err != nil {
			return err
		}
		return tx.one(ctx, rev, change{entity: EntityGrammar, tenant: tenant, key: name, deleted: true, data: Grammar{Tenant: tenant, Name: name}})
	})
}
