package provision

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"
	"time"

	"github.com/entvoice/entvoice/internal/store"
)

// DefaultRealm is the digest realm of users of tenants without a SIP
// domain when Options.Realm is empty (the sip.realm default).
const DefaultRealm = "entvoice"

// Options configures a Repo.
type Options struct {
	// KnownApp says whether a dialplan application exists; extension rows
	// naming another are refused. Nil accepts any well-formed name.
	KnownApp func(app string) bool
	// Realm is the digest realm for users of tenants without a SIP domain
	// (the node's sip.realm); default DefaultRealm.
	Realm string
	// KeyFile is the AMI secret sealing key; default DataDir/secrets.key.
	KeyFile string
	Logger  *slog.Logger
}

// Repo is the provisioning repository over the central store. Every write
// runs in one transaction that also appends to the change feed; it
// implements Source for nodes in the same process.
type Repo struct {
	st   *store.Store
	opts Options
	seal *sealer
	log  *slog.Logger

	mu   sync.Mutex
	subs []chan struct{}
}

var _ Source = (*Repo)(nil)

// New returns a Repo over st, loading (or creating) the sealing key and
// the default tenant.
func New(ctx context.Context, st *store.Store, o Options) (*Repo, error) {
	if o.Realm == "" {
		o.Realm = DefaultRealm
	}
	if o.KeyFile == "" {
		if st.DataDir() == "" {
			return nil, errors.New("provision: KeyFile or the store's DataDir is required")
		}
		o.KeyFile = filepath.Join(st.DataDir(), KeyFile)
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	s, err := loadSealer(o.KeyFile)
	if err != nil {
		return nil, err
	}
	r := &Repo{st: st, opts: o, seal: s, log: o.Logger}
	if _, err := r.GetTenant(ctx, DefaultTenant); errors.Is(err, ErrNotFound) {
		_, err = r.CreateTenant(ctx, Tenant{ID: DefaultTenant, Name: "Default tenant"})
		var ve *ValidationError
		if err != nil && !(errors.As(err, &ve) && ve.Conflict) {
			return nil, err
		}
	} else if err != nil {
		return nil, err
	}
	return r, nil
}

// Store returns the store the repository writes to.
func (r *Repo) Store() *store.Store { return r.st }

// KnownApp reports whether app passes the Options.KnownApp check.
func (r *Repo) KnownApp(app string) bool { return r.opts.KnownApp == nil || r.opts.KnownApp(app) }

func now() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }

// change is a row of the change feed being written.
type change struct {
	entity  Entity
	tenant  string
	key     string
	deleted bool
	data    any
}

// wtx is a provisioning write transaction.
type wtx struct {
	*sql.Tx
	r     *Repo
	moved bool
}

// write runs fn in one transaction and wakes Notify subscribers after a
// commit that moved the revision.
func (r *Repo) write(ctx context.Context, fn func(tx *wtx) error) error {
	sqlTx, err := r.st.DB().BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("provision: begin: %w", err)
	}
	tx := &wtx{Tx: sqlTx, r: r}
	defer func() { _ = sqlTx.Rollback() }()
	if err := fn(tx); err != nil {
		return err
	}
	if tx.moved && r.st.Dialect() == store.Postgres {
		// Delivered at commit to every LISTENer (ListenPostgres in other
		// processes); dropped with a rollback.
		if _, err := sqlTx.ExecContext(ctx, "SELECT pg_notify('"+NotifyChannel+"', '')"); err != nil {
			return fmt.Errorf("provision: notify: %w", err)
		}
	}
	if err := sqlTx.Commit(); err != nil {
		return fmt.Errorf("provision: commit: %w", err)
	}
	if tx.moved {
		r.wake()
	}
	return nil
}

// bump reserves n consecutive revisions and returns the first. The row
// lock it takes on PostgreSQL lasts until commit, so revisions become
// visible in order.
func (tx *wtx) bump(ctx context.Context, n int) (int64, error) {
	var top int64
	err := tx.QueryRowContext(ctx, tx.r.st.Rebind("UPDATE provision_revision SET revision = revision + ? WHERE id = 1 RETURNING revision"), n).Scan(&top)
	if err != nil {
		return 0, fmt.Errorf("provision: bump revision: %w", err)
	}
	tx.moved = true
	return top - int64(n) + 1, nil
}

// record appends cs to the change feed at revisions first, first+1, ...
func (tx *wtx) record(ctx context.Context, first int64, cs []change) error {
	ts := tx.r.st.TimeArg(now())
	rows := make([][]any, len(cs))
	for i, c := range cs {
		data, err := json.Marshal(c.data)
		if err != nil {
			return fmt.Errorf("provision: change: %w", err)
		}
		rows[i] = []any{first + int64(i), string(c.entity), c.tenant, c.key, boolArg(&cs[i].deleted), string(data), ts}
	}
	if err := bulkInsert(ctx, tx.r.st, tx.Tx, "changes", []string{"revision", "entity", "tenant", "obj_key", "deleted", "data", "created_at"}, rows, "", nil); err != nil {
		return fmt.Errorf("provision: append change: %w", err)
	}
	return nil
}

// one bumps the revision by one and records c at it.
func (tx *wtx) one(ctx context.Context, rev int64, c change) error {
	return tx.record(ctx, rev, []change{c})
}

// Notify implements Source: every call registers a new subscriber whose
// channel (capacity 1, so wake-ups coalesce) receives a value after each
// commit that moved the revision. Call it once per consumer.
//
// Only writes through this Repo wake subscribers; a PostgreSQL
// LISTEN/NOTIFY listener can call the same wake for writes from other
// processes.
func (r *Repo) Notify() <-chan struct{} {
	ch := make(chan struct{}, 1)
	r.mu.Lock()
	r.subs = append(r.subs, ch)
	r.mu.Unlock()
	return ch
}

func (r *Repo) wake() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, ch := range r.subs {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}

// Revision returns the current revision.
func (r *Repo) Revision(ctx context.Context) (int64, error) {
	var rev int64
	if err := r.st.DB().QueryRowContext(ctx, "SELECT revision FROM provision_revision WHERE id = 1").Scan(&rev); err != nil {
		return 0, fmt.Errorf("provision: revision: %w", err)
	}
	return rev, nil
}

// userWire is a User in the change feed: with its HA1s, which a node needs.
type userWire struct {
	User
	HA1MD5    string `json:"ha1_md5"`
	HA1SHA256 string `json:"ha1_sha256"`
}

// amiWire is an AMIUser in the change feed, its secret still sealed.
type amiWire struct {
	AMIUser
	Sealed string `json:"secret_sealed,omitempty"`
}

// Changes implements Source.
func (r *Repo) Changes(ctx context.Context, since int64, limit int) ([]Change, error) {
	if limit <= 0 {
		limit = 1000
	}
	var pruned int64
	if err := r.st.DB().QueryRowContext(ctx, "SELECT pruned FROM provision_revision WHERE id = 1").Scan(&pruned); err != nil {
		return nil, fmt.Errorf("provision: changes: %w", err)
	}
	if since < pruned {
		return nil, ErrResync
	}
	rows, err := r.st.DB().QueryContext(ctx, r.st.Rebind("SELECT revision, entity, deleted, data FROM changes WHERE revision > ? ORDER BY revision LIMIT ?"), since, limit)
	if err != nil {
		return nil, fmt.Errorf("provision: changes: %w", err)
	}
	defer func() { _ = rows.Close() }()
	var out []Change
	for rows.Next() {
		var c Change
		var entity, data string
		var deleted int64
		if err := rows.Scan(&c.Revision, &entity, &deleted, &data); err != nil {
			return nil, fmt.Errorf("provision: changes scan: %w", err)
		}
		c.Entity, c.Deleted = Entity(entity), intBool(deleted)
		if err := r.decodeChange(&c, []byte(data)); err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("provision: changes: %w", err)
	}
	return out, nil
}

func (r *Repo) decodeChange(c *Change, data []byte) error {
	var err error
	switch c.Entity {
	case EntityTenant:
		c.Tenant = new(Tenant)
		err = json.Unmarshal(data, c.Tenant)
	case EntityUser:
		var w userWire
		if err = json.Unmarshal(data, &w); err == nil {
			w.User.HA1MD5, w.User.HA1SHA256 = w.HA1MD5, w.HA1SHA256
			c.User = &w.User
		}
	case EntityExtension:
		c.Extension = new(Extension)
		err = json.Unmarshal(data, c.Extension)
	case EntityGrammar:
		c.Grammar = new(Grammar)
		err = json.Unmarshal(data, c.Grammar)
	case EntityQueue:
		c.Queue = new(Queue)
		err = json.Unmarshal(data, c.Queue)
	case EntityQueueMember:
		c.QueueMember = new(QueueMember)
		err = json.Unmarshal(data, c.QueueMember)
	case EntityAMIUser:
		var w amiWire
		if err = json.Unmarshal(data, &w); err == nil {
			if w.Sealed != "" {
				if w.AMIUser.Secret, err = r.seal.open(w.Name, w.Sealed); err != nil {
					return err
				}
			}
			c.AMIUser = &w.AMIUser
		}
	case EntityMailbox:
		var w mailboxWire
		if err = json.Unmarshal(data, &w); err == nil {
			w.Mailbox.PINHash, w.Mailbox.HasPIN = w.PINHash, w.PINHash != ""
			c.Mailbox = &w.Mailbox
		}
	default:
		return fmt.Errorf("provision: change %d: unknown entity %q", c.Revision, c.Entity)
	}
	if err != nil {
		return fmt.Errorf("provision: change %d: %w", c.Revision, err)
	}
	return nil
}

// PruneChanges drops the change feed up to and including revision
// through; nodes behind it get ErrResync and take a new snapshot.
func (r *Repo) PruneChanges(ctx context.Context, through int64) error {
	return r.write(ctx, func(tx *wtx) error {
		if _, err := tx.ExecContext(ctx, r.st.Rebind("UPDATE provision_revision SET pruned = ? WHERE id = 1 AND pruned < ?"), through, through); err != nil {
			return fmt.Errorf("provision: prune: %w", err)
		}
		if _, err := tx.ExecContext(ctx, r.st.Rebind("DELETE FROM changes WHERE revision <= ?"), through); err != nil {
			return fmt.Errorf("provision: prune: %w", err)
		}
		return nil
	})
}

// Snapshot implements Source: every tenant, user, extension and AMI user
// as of one revision, read in one transaction (REPEATABLE READ on
// PostgreSQL, one WAL snapshot on SQLite, so every table is seen at the
// same instant).
func (r *Repo) Snapshot(ctx context.Context) (*Snapshot, error) {
	// SQLite: a read-only (deferred) transaction reads one WAL snapshot
	// without taking the write lock that the store's other transactions
	// (BEGIN IMMEDIATE) take.
	opts := &sql.TxOptions{ReadOnly: true}
	if r.st.Dialect() == store.Postgres {
		opts.Isolation = sql.LevelRepeatableRead
	}
	tx, err := r.st.DB().BeginTx(ctx, opts)
	if err != nil {
		return nil, fmt.Errorf("provision: snapshot: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	s := &Snapshot{}
	if err := tx.QueryRowContext(ctx, "SELECT revision FROM provision_revision WHERE id = 1").Scan(&s.Revision); err != nil {
		return nil, fmt.Errorf("provision: snapshot: %w", err)
	}
	if s.Tenants, err = r.queryTenants(ctx, tx, "ORDER BY id"); err != nil {
		return nil, err
	}
	if s.Users, err = r.queryUsers(ctx, tx, "ORDER BY tenant, name"); err != nil {
		return nil, err
	}
	if s.Extensions, err = r.queryExtensions(ctx, tx, "ORDER BY tenant, context, exten, priority"); err != nil {
		return nil, err
	}
	if s.AMIUsers, err = r.queryAMIUsers(ctx, tx, true, "ORDER BY name"); err != nil {
		return nil, err
	}
	if s.Grammars, err = r.queryGrammars(ctx, tx, "ORDER BY tenant, name"); err != nil {
		return nil, err
	}
	if s.Queues, err = r.queryQueues(ctx, tx, "ORDER BY tenant, name"); err != nil {
		return nil, err
	}
	if s.QueueMembers, err = r.queryMembers(ctx, tx, "ORDER BY id"); err != nil {
		return nil, err
	}
	if s.Mailboxes, err = r.queryMailboxes(ctx, tx, "ORDER BY tenant, context, mailbox"); err != nil {
		return nil, err
	}
	return s, tx.Commit()
}

// querier is *sql.DB or *sql.Tx.
type querier interface {
	QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row
}

// HashToken returns the stored form of an API token: hex SHA-256.
func HashToken(value string) string {
	h := sha256.Sum256([]byte(value))
	return hex.EncodeToString(h[:])
}

// NewTokenValue returns a fresh random token value ("evt_" + 32 random
// bytes, base64url).
func NewTokenValue() (string, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("provision: token: %w", err)
	}
	return "evt_" + base64.RawURLEncoding.EncodeToString(b[:]), nil
}

func randomID(prefix string) (string, error) {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("provision: id: %w", err)
	}
	return prefix + hex.EncodeToString(b[:]), nil
}
