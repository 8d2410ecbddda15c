package provision

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
)

const userCols = "id, tenant, name, realm, ha1_md5, ha1_sha256, context, callerid, language, codecs, permit, deny, max_contacts, accountcode, enabled, " + switchCols + ", revision, created_at, updated_at, " + groupCols

// groupCols are the call and pickup groups (migration 0006).
const groupCols = "call_group, pickup_group, named_call_group, named_pickup_group"

// userInsertCols are userCols without id.
var userInsertCols = strings.Split(strings.TrimPrefix(userCols, "id, "), ", ")

func (r *Repo) scanUser(s rowScanner) (User, error) {
	var u User
	var codecs, permit, deny string
	var enabled int64
	var sw switchScan
	var created, updated storeTime
	dest := []any{&u.ID, &u.Tenant, &u.Name, &u.Realm, &u.HA1MD5, &u.HA1SHA256, &u.Context, &u.CallerID, &u.Language,
		&codecs, &permit, &deny, &u.MaxContacts, &u.AccountCode, &enabled}
	dest = append(dest, sw.dest()...)
	dest = append(dest, &u.Revision, &created, &updated, &u.CallGroup, &u.PickupGroup, &u.NamedCallGroup, &u.NamedPickupGroup)
	if err := s.Scan(dest...); err != nil {
		return u, err
	}
	u.Codecs, u.Permit, u.Deny = splitList(codecs), splitList(permit), splitList(deny)
	u.Enabled, u.Services = intBool(enabled), sw.get()
	u.CreatedAt, u.UpdatedAt = created.Time, updated.Time
	return u, nil
}

func (r *Repo) userArgs(u *User) []any {
	args := []any{u.Tenant, u.Name, u.Realm, u.HA1MD5, u.HA1SHA256, u.Context, u.CallerID, u.Language,
		joinList(u.Codecs), joinList(u.Permit), joinList(u.Deny), u.MaxContacts, u.AccountCode, boolArg(&u.Enabled)}
	args = append(args, switchArgs(u.Services)...)
	return append(args, u.Revision, r.st.TimeArg(u.CreatedAt), r.st.TimeArg(u.UpdatedAt),
		u.CallGroup, u.PickupGroup, u.NamedCallGroup, u.NamedPickupGroup)
}

func (r *Repo) queryUsers(ctx context.Context, q querier, tail string, args ...any) ([]User, error) {
	rows, err := q.QueryContext(ctx, r.st.Rebind("SELECT "+userCols+" FROM sip_users "+tail), args...)
	if err != nil {
		return nil, fmt.Errorf("provision: users: %w", err)
	}
	defer func() { _ = rows.Close() }()
	out := []User{}
	for rows.Next() {
		u, err := r.scanUser(rows)
		if err != nil {
			return nil, fmt.Errorf("provision: users scan: %w", err)
		}
		out = append(out, u)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("provision: users: %w", err)
	}
	return out, nil
}

func (r *Repo) getUser(ctx context.Context, q querier, tenant, name string, lock bool) (User, error) {
	tail := ""
	if lock {
		tail = forUpdate(r.st)
	}
	u, err := r.scanUser(q.QueryRowContext(ctx, r.st.Rebind("SELECT "+userCols+" FROM sip_users WHERE tenant = ? AND name = ?"+tail), tenant, name))
	if errors.Is(err, sql.ErrNoRows) {
		return u, fmt.Errorf("user %q in tenant %q: %w", name, tenant, ErrNotFound)
	}
	if err != nil {
		return u, fmt.Errorf("provision: user %q: %w", name, err)
	}
	return u, nil
}

// GetUser returns the user named name in tenant.
func (r *Repo) GetUser(ctx context.Context, tenant, name string) (User, error) {
	return r.getUser(ctx, r.st.DB(), tenant, name, false)
}

// ListUsers returns a tenant's users with id > after in id order, at most
// limit (<= 0: all).
func (r *Repo) ListUsers(ctx context.Context, tenant string, after int64, limit int) ([]User, error) {
	if limit <= 0 {
		return r.queryUsers(ctx, r.st.DB(), "WHERE tenant = ? AND id > ? ORDER BY id", tenant, after)
	}
	return r.queryUsers(ctx, r.st.DB(), "WHERE tenant = ? AND id > ? ORDER BY id LIMIT ?", tenant, after, limit)
}

// UserDefaults fills the fields a new user may leave out: context
// "default", codecs pcmu and pcma, 5 contacts (config.User's defaults).
func UserDefaults(u *User) {
	if u.Context == "" {
		u.Context = "default"
	}
	if u.Codecs == nil {
		u.Codecs = []string{"pcmu", "pcma"}
	}
	if u.MaxContacts == 0 {
		u.MaxContacts = 5
	}
	if u.Permit == nil {
		u.Permit = []string{}
	}
	if u.Deny == nil {
		u.Deny = []string{}
	}
	for i, c := range u.Codecs {
		u.Codecs[i] = strings.ToLower(c)
	}
}

func userUniqueErr(err error, u *User) error {
	if _, ok := isUnique(err); ok {
		return conflict("name", "user %q already exists in tenant %q", u.Name, u.Tenant)
	}
	if isForeignKey(err) {
		return fmt.Errorf("tenant %q: %w", u.Tenant, ErrNotFound)
	}
	return fmt.Errorf("provision: user %q: %w", u.Name, err)
}

// CreateUser validates and stores a new SIP user with the HA1s of
// password for the tenant's realm (see User.Realm); the password itself is
// not kept. u.Enabled is stored as given.
func (r *Repo) CreateUser(ctx context.Context, u User, password string) (User, error) {
	if u.Tenant == "" {
		u.Tenant = DefaultTenant
	}
	UserDefaults(&u)
	var e errs
	validateUser(&e, &u)
	validatePassword(&e, "password", password)
	if err := e.err(); err != nil {
		return u, err
	}
	err := r.write(ctx, func(tx *wtx) error {
		t, err := r.getTenant(ctx, tx, u.Tenant, true)
		if err != nil {
			return err
		}
		if t.MaxUsers > 0 {
			var n int
			if err := tx.QueryRowContext(ctx, r.st.Rebind("SELECT COUNT(*) FROM sip_users WHERE tenant = ?"), u.Tenant).Scan(&n); err != nil {
				return fmt.Errorf("provision: count users: %w", err)
			}
			if n >= t.MaxUsers {
				return conflict("name", "tenant %q already has its max_users (%d) users", u.Tenant, t.MaxUsers)
			}
		}
		u.Realm = r.realmFor(t)
		setPassword(&u, password)
		rev, err := tx.bump(ctx, 1)
		if err != nil {
			return err
		}
		u.Revision, u.CreatedAt = rev, now()
		u.UpdatedAt = u.CreatedAt
		ph := strings.TrimSuffix(strings.Repeat("?, ", len(userInsertCols)), ", ")
		if err := tx.QueryRowContext(ctx, r.st.Rebind("INSERT INTO sip_users ("+strings.Join(userInsertCols, ", ")+") VALUES ("+ph+") RETURNING id"), r.userArgs(&u)...).Scan(&u.ID); err != nil {
			return userUniqueErr(err, &u)
		}
		return tx.one(ctx, rev, change{entity: EntityUser, tenant: u.Tenant, key: userKey(u.ID), data: userWire{u, u.HA1MD5, u.HA1SHA256}})
	})
	return u, err
}

// UpdateUser applies fn to the stored user and stores the result in one
// transaction. A non-nil password replaces the HA1s (for the realm fixed
// at creation). fn must not change ID, Tenant or Name.
func (r *Repo) UpdateUser(ctx context.Context, tenant, name string, password *string, fn func(u *User) error) (User, error) {
	var u User
	err := r.write(ctx, func(tx *wtx) error {
		var err error
		if u, err = r.getUser(ctx, tx, tenant, name, true); err != nil {
			return err
		}
		id := u.ID
		if fn != nil {
			if err := fn(&u); err != nil {
				return err
			}
		}
		u.ID, u.Tenant, u.Name = id, tenant, name
		UserDefaults(&u)
		var e errs
		validateUser(&e, &u)
		if password != nil {
			validatePassword(&e, "password", *password)
		}
		if err := e.err(); err != nil {
			return err
		}
		if password != nil {
			setPassword(&u, *password)
		}
		rev, err := tx.bump(ctx, 1)
		if err != nil {
			return err
		}
		u.Revision, u.UpdatedAt = rev, now()
		args := r.userArgs(&u)
		if _, err := tx.ExecContext(ctx, r.st.Rebind("UPDATE sip_users SET tenant = ?, name = ?, realm = ?, ha1_md5 = ?, ha1_sha256 = ?, context = ?, callerid = ?, language = ?, codecs = ?, permit = ?, deny = ?, max_contacts = ?, accountcode = ?, enabled = ?, sw_recording = ?, sw_voicemail = ?, sw_agi = ?, sw_speech = ?, sw_outbound = ?, sw_international = ?, revision = ?, created_at = ?, updated_at = ?, call_group = ?, pickup_group = ?, named_call_group = ?, named_pickup_group = ? WHERE id = ?"), append(args, id)...); err != nil {
			return userUniqueErr(err, &u)
		}
		return tx.one(ctx, rev, change{entity: EntityUser, tenant: u.Tenant, key: userKey(u.ID), data: userWire{u, u.HA1MD5, u.HA1SHA256}})
	})
	return u, err
}

// DeleteUser deletes a user.
func (r *Repo) DeleteUser(ctx context.Context, tenant, name string) error {
	return r.write(ctx, func(tx *wtx) error {
		u, err := r.getUser(ctx, tx, tenant, name, true)
		if err != nil {
			return err
		}
		rev, err := tx.bump(ctx, 1)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, r.st.Rebind("DELETE FROM sip_users WHERE id = ?"), u.ID); err != nil {
			return fmt.Errorf("provision: delete user %q: %w", name, err)
		}
		return tx.one(ctx, rev, userDeleted(u))
	})
}
