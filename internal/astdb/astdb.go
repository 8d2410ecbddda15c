// Package astdb is Asterisk's internal database (main/db.c: family/key ->
// value) on the store's astdb table, shared by the AGI DATABASE commands
// and the AMI DBGet/DBPut/DBDel actions.
package astdb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/entvoice/entvoice/internal/dialplan"
	"github.com/entvoice/entvoice/internal/store"
)

// DB is Asterisk's internal database on the store's astdb table. Asterisk keys rows by "/family/key"; the table keeps family and
// key apart, and prefix operations (DELTREE) compare the joined path so
// that family "a" covers family "a/b" as in Asterisk.
//
// Hosted mode: a tenant's families are stored under a prefix that cannot
// be typed in an AGI command (a unit separator), so no tenant can read or
// delete another's entries; the default tenant's families are stored as
// they are, as Asterisk stores them.
type DB struct {
	st *store.Store
}

// New returns the astdb of a store.
func New(st *store.Store) *DB { return &DB{st: st} }

// tenantSep marks a tenant-scoped family.
const tenantSep = "\x1f"

var ErrBadFamily = errors.New("astdb: family or key holds a control character")

func dbFamily(tenant, family string) (string, error) {
	if strings.Contains(family, tenantSep) {
		return "", ErrBadFamily
	}
	if dialplan.IsDefaultTenant(tenant) {
		return family, nil
	}
	return tenantSep + tenant + tenantSep + family, nil
}

// Get returns the value of family/key; ok is false when there is none.
func (d *DB) Get(ctx context.Context, tenant, family, key string) (string, bool, error) {
	f, err := dbFamily(tenant, family)
	if err != nil {
		return "", false, err
	}
	var v string
	err = d.st.DB().QueryRowContext(ctx, d.st.Rebind(`SELECT value FROM astdb WHERE family = ? AND key = ?`), f, key).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("astdb get: %w", err)
	}
	return v, true, nil
}

// Put sets family/key to value (ast_db_put).
func (d *DB) Put(ctx context.Context, tenant, family, key, value string) error {
	f, err := dbFamily(tenant, family)
	if err != nil {
		return err
	}
	_, err = d.st.DB().ExecContext(ctx, d.st.Rebind(
		`INSERT INTO astdb (family, key, value) VALUES (?, ?, ?) ON CONFLICT (family, key) DO UPDATE SET value = excluded.value`),
		f, key, value)
	if err != nil {
		return fmt.Errorf("astdb put: %w", err)
	}
	return nil
}

// Del removes family/key; found is false when it did not exist
// (ast_db_del returns -1 then).
func (d *DB) Del(ctx context.Context, tenant, family, key string) (bool, error) {
	f, err := dbFamily(tenant, family)
	if err != nil {
		return false, err
	}
	r, err := d.st.DB().ExecContext(ctx, d.st.Rebind(`DELETE FROM astdb WHERE family = ? AND key = ?`), f, key)
	if err != nil {
		return false, fmt.Errorf("astdb del: %w", err)
	}
	n, err := r.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("astdb del: %w", err)
	}
	return n > 0, nil
}

// DelTree removes every entry whose path "/family/key" is "/family[/keytree]"
// or lies below it (ast_db_deltree) and returns how many went. An empty
// family removes the whole (tenant's) database.
func (d *DB) DelTree(ctx context.Context, tenant, family, keytree string) (int64, error) {
	f, err := dbFamily(tenant, family)
	if err != nil {
		return 0, err
	}
	var r sql.Result
	switch {
	case family == "" && keytree != "":
		return 0, errors.New("astdb deltree: key tree without family")
	case family == "" && tenant == "":
		r, err = d.st.DB().ExecContext(ctx, d.st.Rebind(`DELETE FROM astdb WHERE substr(family, 1, 1) <> ?`), tenantSep)
	case family == "":
		prefix := f // tenantSep + tenant + tenantSep
		r, err = d.st.DB().ExecContext(ctx, d.st.Rebind(`DELETE FROM astdb WHERE substr(family, 1, ?) = ?`), utf8.RuneCountInString(prefix), prefix)
	default:
		prefix := "/" + f
		if keytree != "" {
			prefix += "/" + keytree
		}
		under := prefix + "/"
		r, err = d.st.DB().ExecContext(ctx, d.st.Rebind(
			`DELETE FROM astdb WHERE ('/' || family || '/' || key) = ? OR substr('/' || family || '/' || key, 1, ?) = ?`),
			prefix, utf8.RuneCountInString(under), under)
	}
	if err != nil {
		return 0, fmt.Errorf("astdb deltree: %w", err)
	}
	n, err := r.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("astdb deltree: %w", err)
	}
	return n, nil
}

// Tree returns the entries whose path "/family/key" is "/family[/keytree]"
// or lies below it, every entry of the tenant for an empty family, as
// (path, value) pairs sorted by path (ast_db_gettree, AMI DBGetTree).
func (d *DB) Tree(ctx context.Context, tenant, family, keytree string) ([][2]string, error) {
	f, err := dbFamily(tenant, family)
	if err != nil {
		return nil, err
	}
	tprefix := strings.TrimSuffix(f, family) // "" or tenantSep+tenant+tenantSep
	const path = `('/' || family || '/' || key)`
	var rows *sql.Rows
	switch {
	case family == "" && tprefix == "":
		rows, err = d.st.DB().QueryContext(ctx, d.st.Rebind(`SELECT family, key, value FROM astdb WHERE substr(family, 1, 1) <> ?`), tenantSep)
	case family == "":
		rows, err = d.st.DB().QueryContext(ctx, d.st.Rebind(`SELECT family, key, value FROM astdb WHERE substr(family, 1, ?) = ?`),
			utf8.RuneCountInString(tprefix), tprefix)
	default:
		prefix := "/" + f
		if keytree != "" {
			prefix += "/" + keytree
		}
		under := prefix + "/"
		rows, err = d.st.DB().QueryContext(ctx, d.st.Rebind(
			`SELECT family, key, value FROM astdb WHERE `+path+` = ? OR substr(`+path+`, 1, ?) = ?`),
			prefix, utf8.RuneCountInString(under), under)
	}
	if err != nil {
		return nil, fmt.Errorf("astdb tree: %w", err)
	}
	defer rows.Close()
	var out [][2]string
	for rows.Next() {
		var fam, key, val string
		if err := rows.Scan(&fam, &key, &val); err != nil {
			return nil, fmt.Errorf("astdb tree: %w", err)
		}
		out = append(out, [2]string{"/" + strings.TrimPrefix(fam, tprefix) + "/" + key, val})
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("astdb tree: %w", err)
	}
	sort.Slice(out, func(i, j int) bool { return out[i][0] < out[j][0] })
	return out, nil
}
