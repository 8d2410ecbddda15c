package ami

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/entvoice/entvoice/internal/store"
)

// AstDB is Asterisk's key/value database (main/db.c) on the store's astdb
// table, for DBGet, DBPut and DBDel. (The AGI work has its own copy of this
// access; the two are to be folded into one repository.)
type AstDB struct{ st *store.Store }

// NewAstDB returns the astdb on a store.
func NewAstDB(st *store.Store) *AstDB { return &AstDB{st: st} }

// errNotFound is a missing family/key.
var errNotFound = errors.New("astdb: entry not found")

// Get returns the value of family/key.
func (d *AstDB) Get(ctx context.Context, family, key string) (string, error) {
	var v string
	err := d.st.DB().QueryRowContext(ctx, d.st.Rebind("SELECT value FROM astdb WHERE family = ? AND key = ?"), family, key).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return "", errNotFound
	}
	if err != nil {
		return "", fmt.Errorf("astdb get: %w", err)
	}
	return v, nil
}

// Put sets family/key.
func (d *AstDB) Put(ctx context.Context, family, key, value string) error {
	_, err := d.st.DB().ExecContext(ctx, d.st.Rebind("INSERT INTO astdb (family, key, value) VALUES (?, ?, ?) ON CONFLICT (family, key) DO UPDATE SET value = excluded.value"), family, key, value)
	if err != nil {
		return fmt.Errorf("astdb put: %w", err)
	}
	return nil
}

// Del removes family/key; errNotFound if it did not exist.
func (d *AstDB) Del(ctx context.Context, family, key string) error {
	res, err := d.st.DB().ExecContext(ctx, d.st.Rebind("DELETE FROM astdb WHERE family = ? AND key = ?"), family, key)
	if err != nil {
		return fmt.Errorf("astdb del: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return errNotFound
	}
	return nil
}
