package provision

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
)

const extCols = "id, tenant, context, exten, priority, label, app, appdata, revision"

var extInsertCols = strings.Split(strings.TrimPrefix(extCols, "id, "), ", ")

func scanExtension(s rowScanner) (Extension, error) {
	var x Extension
	err := s.Scan(&x.ID, &x.Tenant, &x.Context, &x.Exten, &x.Priority, &x.Label, &x.App, &x.AppData, &x.Revision)
	return x, err
}

func (r *Repo) queryExtensions(ctx context.Context, q querier, tail string, args ...any) ([]Extension, error) {
	rows, err := q.QueryContext(ctx, r.st.Rebind("SELECT "+extCols+" FROM extensions "+tail), args...)
	if err != nil {
		return nil, fmt.Errorf("provision: extensions: %w", err)
	}
	defer func() { _ = rows.Close() }()
	out := []Extension{}
	for rows.Next() {
		x, err := scanExtension(rows)
		if err != nil {
			return nil, fmt.Errorf("provision: extensions scan: %w", err)
		}
		out = append(out, x)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("provision: extensions: %w", err)
	}
	return out, nil
}

func (r *Repo) getExtension(ctx context.Context, q querier, tenant string, id int64, lock bool) (Extension, error) {
	tail := ""
	if lock {
		tail = forUpdate(r.st)
	}
	x, err := scanExtension(q.QueryRowContext(ctx, r.st.Rebind("SELECT "+extCols+" FROM extensions WHERE tenant = ? AND id = ?"+tail), tenant, id))
	if errors.Is(err, sql.ErrNoRows) {
		return x, fmt.Errorf("extension %d in tenant %q: %w", id, tenant, ErrNotFound)
	}
	if err != nil {
		return x, fmt.Errorf("provision: extension %d: %w", id, err)
	}
	return x, nil
}

// GetExtension returns one extension row of tenant.
func (r *Repo) GetExtension(ctx context.Context, tenant string, id int64) (Extension, error) {
	return r.getExtension(ctx, r.st.DB(), tenant, id, false)
}

// ExtensionFilter selects extension rows for ListExtensions.
type ExtensionFilter struct {
	Context string // "" for every context
	Exten   string // "" for every extension
	After   int64  // cursor: rows with id > After
	Limit   int    // <= 0: all
}

// ListExtensions returns a tenant's extension rows in id order.
func (r *Repo) ListExtensions(ctx context.Context, tenant string, f ExtensionFilter) ([]Extension, error) {
	q := "WHERE tenant = ? AND id > ?"
	args := []any{tenant, f.After}
	if f.Context != "" {
		q += " AND context = ?"
		args = append(args, f.Context)
	}
	if f.Exten != "" {
		q += " AND exten = ?"
		args = append(args, f.Exten)
	}
	q += " ORDER BY id"
	if f.Limit > 0 {
		q += " LIMIT ?"
		args = append(args, f.Limit)
	}
	return r.queryExtensions(ctx, r.st.DB(), q, args...)
}

func extUniqueErr(err error, x *Extension) error {
	if _, ok := isUnique(err); ok {
		return conflict("priority", "priority %d of %s@%s already exists in tenant %q", x.Priority, x.Exten, x.Context, x.Tenant)
	}
	if isForeignKey(err) {
		return fmt.Errorf("tenant %q: %w", x.Tenant, ErrNotFound)
	}
	return fmt.Errorf("provision: extension: %w", err)
}

func extArgs(x *Extension) []any {
	return []any{x.Tenant, x.Context, x.Exten, x.Priority, x.Label, x.App, x.AppData, x.Revision}
}

// CreateExtension validates and stores one extension row.
func (r *Repo) CreateExtension(ctx context.Context, x Extension) (Extension, error) {
	if x.Tenant == "" {
		x.Tenant = DefaultTenant
	}
	if err := ValidateExtension(&x, r.opts.KnownApp); err != nil {
		return x, err
	}
	err := r.write(ctx, func(tx *wtx) error {
		if _, err := r.getTenant(ctx, tx, x.Tenant, false); err != nil {
			return err
		}
		rev, err := tx.bump(ctx, 1)
		if err != nil {
			return err
		}
		x.Revision = rev
		if err := tx.QueryRowContext(ctx, r.st.Rebind("INSERT INTO extensions ("+strings.Join(extInsertCols, ", ")+") VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id"), extArgs(&x)...).Scan(&x.ID); err != nil {
			return extUniqueErr(err, &x)
		}
		return tx.one(ctx, rev, change{entity: EntityExtension, tenant: x.Tenant, key: userKey(x.ID), data: x})
	})
	return x, err
}

// UpdateExtension applies fn to the stored row and stores the result in
// one transaction. fn must not change ID or Tenant.
func (r *Repo) UpdateExtension(ctx context.Context, tenant string, id int64, fn func(x *Extension) error) (Extension, error) {
	var x Extension
	err := r.write(ctx, func(tx *wtx) error {
		var err error
		if x, err = r.getExtension(ctx, tx, tenant, id, true); err != nil {
			return err
		}
		if err := fn(&x); err != nil {
			return err
		}
		x.ID, x.Tenant = id, tenant
		if err := ValidateExtension(&x, r.opts.KnownApp); err != nil {
			return err
		}
		rev, err := tx.bump(ctx, 1)
		if err != nil {
			return err
		}
		x.Revision = rev
		if _, err := tx.ExecContext(ctx, r.st.Rebind("UPDATE extensions SET tenant = ?, context = ?, exten = ?, priority = ?, label = ?, app = ?, appdata = ?, revision = ? WHERE id = ?"), append(extArgs(&x), id)...); err != nil {
			return extUniqueErr(err, &x)
		}
		return tx.one(ctx, rev, change{entity: EntityExtension, tenant: x.Tenant, key: userKey(x.ID), data: x})
	})
	return x, err
}

// DeleteExtension deletes one extension row.
func (r *Repo) DeleteExtension(ctx context.Context, tenant string, id int64) error {
	return r.write(ctx, func(tx *wtx) error {
		x, err := r.getExtension(ctx, tx, tenant, id, true)
		if err != nil {
			return err
		}
		rev, err := tx.bump(ctx, 1)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, r.st.Rebind("DELETE FROM extensions WHERE id = ?"), id); err != nil {
			return fmt.Errorf("provision: delete extension %d: %w", id, err)
		}
		return tx.one(ctx, rev, extensionDeleted(x))
	})
}
