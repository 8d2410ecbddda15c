package provision

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/entvoice/entvoice/internal/digest"
)

const tenantCols = "id, name, domain, status, max_calls, max_users, language, " + switchCols + ", revision, created_at, updated_at"

func (r *Repo) scanTenant(s rowScanner) (Tenant, error) {
	var t Tenant
	var domain sql.NullString
	var sw switchScan
	var created, updated storeTime
	dest := []any{&t.ID, &t.Name, &domain, &t.Status, &t.MaxCalls, &t.MaxUsers, &t.Language}
	dest = append(dest, sw.dest()...)
	dest = append(dest, &t.Revision, &created, &updated)
	if err := s.Scan(dest...); err != nil {
		return t, err
	}
	t.Domain, t.Services = domain.String, sw.get()
	t.CreatedAt, t.UpdatedAt = created.Time, updated.Time
	return t, nil
}

func (r *Repo) queryTenants(ctx context.Context, q querier, tail string, args ...any) ([]Tenant, error) {
	rows, err := q.QueryContext(ctx, r.st.Rebind("SELECT "+tenantCols+" FROM tenants "+tail), args...)
	if err != nil {
		return nil, fmt.Errorf("provision: tenants: %w", err)
	}
	defer func() { _ = rows.Close() }()
	out := []Tenant{}
	for rows.Next() {
		t, err := r.scanTenant(rows)
		if err != nil {
			return nil, fmt.Errorf("provision: tenants scan: %w", err)
		}
		out = append(out, t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("provision: tenants: %w", err)
	}
	return out, nil
}

func (r *Repo) getTenant(ctx context.Context, q querier, id string, lock bool) (Tenant, error) {
	tail := ""
	if lock {
		tail = forUpdate(r.st)
	}
	t, err := r.scanTenant(q.QueryRowContext(ctx, r.st.Rebind("SELECT "+tenantCols+" FROM tenants WHERE id = ?"+tail), id))
	if errors.Is(err, sql.ErrNoRows) {
		return t, fmt.Errorf("tenant %q: %w", id, ErrNotFound)
	}
	if err != nil {
		return t, fmt.Errorf("provision: tenant %q: %w", id, err)
	}
	return t, nil
}

// GetTenant returns one tenant.
func (r *Repo) GetTenant(ctx context.Context, id string) (Tenant, error) {
	return r.getTenant(ctx, r.st.DB(), id, false)
}

// ListTenants returns tenants with id > after in id order, at most limit
// (<= 0: all).
func (r *Repo) ListTenants(ctx context.Context, after string, limit int) ([]Tenant, error) {
	if limit <= 0 {
		return r.queryTenants(ctx, r.st.DB(), "WHERE id > ? ORDER BY id", after)
	}
	return r.queryTenants(ctx, r.st.DB(), "WHERE id > ? ORDER BY id LIMIT ?", after, limit)
}

func domainArg(d string) any {
	if d == "" {
		return nil
	}
	return d
}

func conflict(field, format string, args ...any) error {
	return &ValidationError{Conflict: true, Errors: []FieldError{{Field: field, Message: fmt.Sprintf(format, args...)}}}
}

func tenantUniqueErr(err error, t *Tenant) error {
	if c, ok := isUnique(err); ok {
		if strings.Contains(c, "domain") {
			return conflict("domain", "SIP domain %q is already used by another tenant", t.Domain)
		}
		return conflict("id", "tenant %q already exists", t.ID)
	}
	return fmt.Errorf("provision: tenant %q: %w", t.ID, err)
}

// CreateTenant validates and stores a new tenant (Status defaults to
// active, Domain is lower-cased).
func (r *Repo) CreateTenant(ctx context.Context, t Tenant) (Tenant, error) {
	if t.Status == "" {
		t.Status = StatusActive
	}
	t.Domain = strings.ToLower(t.Domain)
	if err := ValidateTenant(&t); err != nil {
		return t, err
	}
	t.CreatedAt = now()
	t.UpdatedAt = t.CreatedAt
	err := r.write(ctx, func(tx *wtx) error {
		rev, err := tx.bump(ctx, 1)
		if err != nil {
			return err
		}
		t.Revision = rev
		args := []any{t.ID, t.Name, domainArg(t.Domain), t.Status, t.MaxCalls, t.MaxUsers, t.Language}
		args = append(args, switchArgs(t.Services)...)
		args = append(args, t.Revision, r.st.TimeArg(t.CreatedAt), r.st.TimeArg(t.UpdatedAt))
		if _, err := tx.ExecContext(ctx, r.st.Rebind("INSERT INTO tenants ("+tenantCols+") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"), args...); err != nil {
			return tenantUniqueErr(err, &t)
		}
		return tx.one(ctx, rev, change{entity: EntityTenant, tenant: t.ID, key: t.ID, data: t})
	})
	return t, err
}

// UpdateTenant applies fn to the stored tenant and stores the result, in
// one transaction. fn must not change ID.
func (r *Repo) UpdateTenant(ctx context.Context, id string, fn func(t *Tenant) error) (Tenant, error) {
	var t Tenant
	err := r.write(ctx, func(tx *wtx) error {
		var err error
		if t, err = r.getTenant(ctx, tx, id, true); err != nil {
			return err
		}
		if err := fn(&t); err != nil {
			return err
		}
		t.ID = id
		t.Domain = strings.ToLower(t.Domain)
		if err := ValidateTenant(&t); err != nil {
			return err
		}
		rev, err := tx.bump(ctx, 1)
		if err != nil {
			return err
		}
		t.Revision, t.UpdatedAt = rev, now()
		args := []any{t.Name, domainArg(t.Domain), t.Status, t.MaxCalls, t.MaxUsers, t.Language}
		args = append(args, switchArgs(t.Services)...)
		args = append(args, t.Revision, r.st.TimeArg(t.UpdatedAt), id)
		if _, err := tx.ExecContext(ctx, r.st.Rebind("UPDATE tenants SET name = ?, domain = ?, status = ?, max_calls = ?, max_users = ?, language = ?, sw_recording = ?, sw_voicemail = ?, sw_agi = ?, sw_speech = ?, sw_outbound = ?, sw_international = ?, revision = ?, updated_at = ? WHERE id = ?"), args...); err != nil {
			return tenantUniqueErr(err, &t)
		}
		return tx.one(ctx, rev, change{entity: EntityTenant, tenant: t.ID, key: t.ID, data: t})
	})
	return t, err
}

// DeleteTenant deletes a tenant with its users, extensions, AMI users and
// API tokens. The change feed gets a deletion for each of them, then for
// the tenant.
func (r *Repo) DeleteTenant(ctx context.Context, id string) error {
	if id == DefaultTenant {
		return &ValidationError{Errors: []FieldError{{Field: "id", Message: "the default tenant cannot be deleted"}}}
	}
	return r.write(ctx, func(tx *wtx) error {
		if _, err := r.getTenant(ctx, tx, id, true); err != nil {
			return err
		}
		var cs []change
		users, err := r.queryUsers(ctx, tx, "WHERE tenant = ?", id)
		if err != nil {
			return err
		}
		for _, u := range users {
			cs = append(cs, userDeleted(u))
		}
		exts, err := r.queryExtensions(ctx, tx, "WHERE tenant = ?", id)
		if err != nil {
			return err
		}
		for _, x := range exts {
			cs = append(cs, extensionDeleted(x))
		}
		amis, err := r.queryAMIUsers(ctx, tx, false, "WHERE tenant = ?", id)
		if err != nil {
			return err
		}
		for _, a := range amis {
			cs = append(cs, amiDeleted(a))
		}
		queues, err := r.queryQueues(ctx, tx, "WHERE tenant = ?", id)
		if err != nil {
			return err
		}
		for _, q := range queues {
			cs = append(cs, queueDeleted(q))
		}
		boxes, err := r.queryMailboxes(ctx, tx, "WHERE tenant = ?", id)
		if err != nil {
			return err
		}
		for _, m := range boxes {
			cs = append(cs, mailboxDeleted(m))
		}
		cs = append(cs, change{entity: EntityTenant, tenant: id, key: id, deleted: true, data: Tenant{ID: id}})
		rev, err := tx.bump(ctx, len(cs))
		if err != nil {
			return err
		}
		for _, tbl := range []string{"queue_members", "queues", "extensions", "sip_users", "ami_users", "api_tokens", "vm_mailboxes"} {
			if _, err := tx.ExecContext(ctx, r.st.Rebind("DELETE FROM "+tbl+" WHERE tenant = ?"), id); err != nil {
				return fmt.Errorf("provision: delete tenant %q: %w", id, err)
			}
		}
		if _, err := tx.ExecContext(ctx, r.st.Rebind("DELETE FROM tenants WHERE id = ?"), id); err != nil {
			return fmt.Errorf("provision: delete tenant %q: %w", id, err)
		}
		return tx.record(ctx, rev, cs)
	})
}

// realmFor is the digest realm for a new user of t: its SIP domain in
// hosted mode, else the node's realm.
func (r *Repo) realmFor(t Tenant) string {
	if t.Domain != "" {
		return t.Domain
	}
	return r.opts.Realm
}

func setPassword(u *User, password string) {
	u.HA1MD5 = digest.HA1("MD5", u.Name, u.Realm, password)
	u.HA1SHA256 = digest.HA1("SHA-256", u.Name, u.Realm, password)
}

func userKey(id int64) string { return strconv.FormatInt(id, 10) }

func userDeleted(u User) change {
	return change{entity: EntityUser, tenant: u.Tenant, key: userKey(u.ID), deleted: true,
		data: userWire{User: User{ID: u.ID, Tenant: u.Tenant, Name: u.Name, Realm: u.Realm}}}
}

func extensionDeleted(x Extension) change {
	return change{entity: EntityExtension, tenant: x.Tenant, key: userKey(x.ID), deleted: true,
		data: Extension{ID: x.ID, Tenant: x.Tenant, Context: x.Context, Exten: x.Exten, Priority: x.Priority}}
}

func amiDeleted(a AMIUser) change {
	return change{entity: EntityAMIUser, tenant: a.Tenant, key: a.Name, deleted: true,
		data: amiWire{AMIUser: AMIUser{Name: a.Name, Tenant: a.Tenant}}}
}
