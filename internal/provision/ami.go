package provision

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

const amiCols = "name, tenant, secret_sealed, read_perm, write_perm, permit, deny, allow_multiple_login, revision"

// scanAMI scans a row; the secret is opened when open is set, else it is
// left sealed in the second result.
func (r *Repo) scanAMI(s rowScanner, open bool) (AMIUser, string, error) {
	var a AMIUser
	var tenant sql.NullString
	var sealed, permit, deny string
	var multi int64
	if err := s.Scan(&a.Name, &tenant, &sealed, &a.Read, &a.Write, &permit, &deny, &multi, &a.Revision); err != nil {
		return a, "", err
	}
	a.Tenant, a.Permit, a.Deny, a.AllowMultipleLogin = tenant.String, splitList(permit), splitList(deny), intBool(multi)
	if open {
		var err error
		if a.Secret, err = r.seal.open(a.Name, sealed); err != nil {
			return a, sealed, err
		}
	}
	return a, sealed, nil
}

func (r *Repo) queryAMIUsers(ctx context.Context, q querier, open bool, tail string, args ...any) ([]AMIUser, error) {
	rows, err := q.QueryContext(ctx, r.st.Rebind("SELECT "+amiCols+" FROM ami_users "+tail), args...)
	if err != nil {
		return nil, fmt.Errorf("provision: AMI users: %w", err)
	}
	defer func() { _ = rows.Close() }()
	out := []AMIUser{}
	for rows.Next() {
		a, _, err := r.scanAMI(rows, open)
		if err != nil {
			return nil, fmt.Errorf("provision: AMI users: %w", err)
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

// GetAMIUser returns an AMI user with its secret opened.
func (r *Repo) GetAMIUser(ctx context.Context, name string) (AMIUser, error) {
	a, _, err := r.scanAMI(r.st.DB().QueryRowContext(ctx, r.st.Rebind("SELECT "+amiCols+" FROM ami_users WHERE name = ?"), name), true)
	if errors.Is(err, sql.ErrNoRows) {
		return a, fmt.Errorf("AMI user %q: %w", name, ErrNotFound)
	}
	return a, err
}

// ListAMIUsers returns the AMI users of tenant (all when all is set),
// secrets opened.
func (r *Repo) ListAMIUsers(ctx context.Context, tenant string, all bool) ([]AMIUser, error) {
	if all {
		return r.queryAMIUsers(ctx, r.st.DB(), true, "ORDER BY name")
	}
	return r.queryAMIUsers(ctx, r.st.DB(), true, "WHERE tenant = ? ORDER BY name", tenant)
}

func nullTenant(t string) any {
	if t == "" {
		return nil
	}
	return t
}

// PutAMIUser creates or replaces an AMI user. On replace, an empty Secret
// keeps the stored one.
func (r *Repo) PutAMIUser(ctx context.Context, a AMIUser) (AMIUser, error) {
	return r.putAMIUser(ctx, a, false)
}

// CreateAMIUser creates an AMI user; a user of that name already existing
// is a conflict.
func (r *Repo) CreateAMIUser(ctx context.Context, a AMIUser) (AMIUser, error) {
	return r.putAMIUser(ctx, a, true)
}

func (r *Repo) putAMIUser(ctx context.Context, a AMIUser, createOnly bool) (AMIUser, error) {
	if a.Permit == nil {
		a.Permit = []string{}
	}
	if a.Deny == nil {
		a.Deny = []string{}
	}
	err := r.write(ctx, func(tx *wtx) error {
		old, sealed, err := r.scanAMI(tx.QueryRowContext(ctx, r.st.Rebind("SELECT "+amiCols+" FROM ami_users WHERE name = ?"+forUpdate(r.st)), a.Name), false)
		exists := err == nil
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("provision: AMI user %q: %w", a.Name, err)
		}
		if exists && createOnly {
			return conflict("name", "AMI user %q already exists", a.Name)
		}
		if err := ValidateAMIUser(&a, !exists); err != nil {
			return err
		}
		if exists && old.Tenant != a.Tenant {
			return &ValidationError{Errors: []FieldError{{Field: "tenant", Message: "an AMI user cannot move to another tenant"}}}
		}
		if a.Secret != "" {
			if sealed, err = r.seal.seal(a.Name, a.Secret); err != nil {
				return err
			}
		} else if a.Secret, err = r.seal.open(a.Name, sealed); err != nil {
			return err
		}
		rev, err := tx.bump(ctx, 1)
		if err != nil {
			return err
		}
		a.Revision = rev
		ts := r.st.TimeArg(now())
		args := []any{nullTenant(a.Tenant), sealed, a.Read, a.Write, joinList(a.Permit), joinList(a.Deny), boolArg(&a.AllowMultipleLogin), rev, ts, a.Name}
		if exists {
			_, err = tx.ExecContext(ctx, r.st.Rebind("UPDATE ami_users SET tenant = ?, secret_sealed = ?, read_perm = ?, write_perm = ?, permit = ?, deny = ?, allow_multiple_login = ?, revision = ?, updated_at = ? WHERE name = ?"), args...)
		} else {
			_, err = tx.ExecContext(ctx, r.st.Rebind("INSERT INTO ami_users (tenant, secret_sealed, read_perm, write_perm, permit, deny, allow_multiple_login, revision, updated_at, name, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"), append(args, ts)...)
		}
		if isForeignKey(err) {
			return fmt.Errorf("tenant %q: %w", a.Tenant, ErrNotFound)
		}
		if err != nil {
			return fmt.Errorf("provision: AMI user %q: %w", a.Name, err)
		}
		return tx.one(ctx, rev, change{entity: EntityAMIUser, tenant: a.Tenant, key: a.Name, data: amiWire{AMIUser: a, Sealed: sealed}})
	})
	return a, err
}

// DeleteAMIUser deletes an AMI user.
func (r *Repo) DeleteAMIUser(ctx context.Context, name string) error {
	return r.write(ctx, func(tx *wtx) error {
		a, _, err := r.scanAMI(tx.QueryRowContext(ctx, r.st.Rebind("SELECT "+amiCols+" FROM ami_users WHERE name = ?"+forUpdate(r.st)), name), false)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("AMI user %q: %w", name, ErrNotFound)
		}
		if err != nil {
			return fmt.Errorf("provision: AMI user %q: %w", name, err)
		}
		rev, err := tx.bump(ctx, 1)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, r.st.Rebind("DELETE FROM ami_users WHERE name = ?"), name); err != nil {
			return fmt.Errorf("provision: delete AMI user %q: %w", name, err)
		}
		return tx.one(ctx, rev, amiDeleted(a))
	})
}
