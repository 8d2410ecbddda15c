package provision

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Tokens are not node configuration and stay out of the change feed.

const tokenCols = "id, name, tenant, hash, created_at, last_used"

func scanToken(s rowScanner) (Token, error) {
	var t Token
	var tenant sql.NullString
	var created, used storeTime
	if err := s.Scan(&t.ID, &t.Name, &tenant, &t.Hash, &created, &used); err != nil {
		return t, err
	}
	t.Tenant, t.CreatedAt = tenant.String, created.Time
	if !used.Time.IsZero() {
		u := used.Time
		t.LastUsed = &u
	}
	return t, nil
}

// CreateToken stores a token named t.Name for t.Tenant ("" for an admin
// token) with the given value, or a new random value when value is empty.
// It returns the token and its value, which is not stored.
func (r *Repo) CreateToken(ctx context.Context, t Token, value string) (Token, string, error) {
	if err := ValidateToken(&t); err != nil {
		return t, "", err
	}
	var err error
	if value == "" {
		if value, err = NewTokenValue(); err != nil {
			return t, "", err
		}
	}
	if t.ID, err = randomID("tok_"); err != nil {
		return t, "", err
	}
	t.Hash, t.CreatedAt = HashToken(value), now()
	var tenant any
	if t.Tenant != "" {
		tenant = t.Tenant
	}
	_, err = r.st.DB().ExecContext(ctx, r.st.Rebind("INSERT INTO api_tokens (id, name, tenant, hash, created_at) VALUES (?, ?, ?, ?, ?)"),
		t.ID, t.Name, tenant, t.Hash, r.st.TimeArg(t.CreatedAt))
	switch {
	case isForeignKey(err):
		return t, "", fmt.Errorf("tenant %q: %w", t.Tenant, ErrNotFound)
	case err != nil:
		if _, ok := isUnique(err); ok {
			return t, "", conflict("token", "this token value is already in use")
		}
		return t, "", fmt.Errorf("provision: create token: %w", err)
	}
	return t, value, nil
}

// LookupToken returns the token whose value is value.
func (r *Repo) LookupToken(ctx context.Context, value string) (Token, error) {
	t, err := scanToken(r.st.DB().QueryRowContext(ctx, r.st.Rebind("SELECT "+tokenCols+" FROM api_tokens WHERE hash = ?"), HashToken(value)))
	if errors.Is(err, sql.ErrNoRows) {
		return t, fmt.Errorf("token: %w", ErrNotFound)
	}
	if err != nil {
		return t, fmt.Errorf("provision: token: %w", err)
	}
	return t, nil
}

// GetToken returns the token with id.
func (r *Repo) GetToken(ctx context.Context, id string) (Token, error) {
	t, err := scanToken(r.st.DB().QueryRowContext(ctx, r.st.Rebind("SELECT "+tokenCols+" FROM api_tokens WHERE id = ?"), id))
	if errors.Is(err, sql.ErrNoRows) {
		return t, fmt.Errorf("token %q: %w", id, ErrNotFound)
	}
	if err != nil {
		return t, fmt.Errorf("provision: token: %w", err)
	}
	return t, nil
}

// ListTokens returns the tokens of tenant, or every token when all is set.
func (r *Repo) ListTokens(ctx context.Context, tenant string, all bool) ([]Token, error) {
	q, args := "SELECT "+tokenCols+" FROM api_tokens ORDER BY created_at, id", []any(nil)
	if !all {
		q, args = "SELECT "+tokenCols+" FROM api_tokens WHERE tenant = ? ORDER BY created_at, id", []any{tenant}
	}
	rows, err := r.st.DB().QueryContext(ctx, r.st.Rebind(q), args...)
	if err != nil {
		return nil, fmt.Errorf("provision: tokens: %w", err)
	}
	defer func() { _ = rows.Close() }()
	out := []Token{}
	for rows.Next() {
		t, err := scanToken(rows)
		if err != nil {
			return nil, fmt.Errorf("provision: tokens: %w", err)
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

// DeleteToken deletes a token.
func (r *Repo) DeleteToken(ctx context.Context, id string) error {
	res, err := r.st.DB().ExecContext(ctx, r.st.Rebind("DELETE FROM api_tokens WHERE id = ?"), id)
	if err != nil {
		return fmt.Errorf("provision: delete token: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("token %q: %w", id, ErrNotFound)
	}
	return nil
}

// TouchToken records that a token was used at t.
func (r *Repo) TouchToken(ctx context.Context, id string, t time.Time) error {
	if _, err := r.st.DB().ExecContext(ctx, r.st.Rebind("UPDATE api_tokens SET last_used = ? WHERE id = ?"), r.st.TimeArg(t), id); err != nil {
		return fmt.Errorf("provision: touch token: %w", err)
	}
	return nil
}

// CountTokens returns how many tokens exist.
func (r *Repo) CountTokens(ctx context.Context) (int, error) {
	var n int
	if err := r.st.DB().QueryRowContext(ctx, "SELECT COUNT(*) FROM api_tokens").Scan(&n); err != nil {
		return 0, fmt.Errorf("provision: count tokens: %w", err)
	}
	return n, nil
}
