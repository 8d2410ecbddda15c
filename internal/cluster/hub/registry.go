package hub

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/entvoice/entvoice/internal/cluster/pki"
	"github.com/entvoice/entvoice/internal/control"
	"github.com/entvoice/entvoice/internal/provision"
	"github.com/entvoice/entvoice/internal/store"
)

// Refusals of enrolment and of the link. Each is logged on both sides.
var (
	ErrTokenUnknown = errors.New("node token unknown")
	ErrTokenUsed    = errors.New("node token already used")
	ErrTokenExpired = errors.New("node token expired")
	ErrAddrRefused  = errors.New("address outside the node's allowed networks")
	ErrNodeRevoked  = errors.New("node certificate revoked")
)

// Registry is the central store's node tokens and nodes. The processes of
// a central share it through the store; within one, the hub and the API
// share one Registry, so that the hub learns of a change made through the
// API at once (Watch).
type Registry struct {
	st       *store.Store
	watchers wakeSet
}

// NewRegistry works on st (migrated to 0004).
func NewRegistry(st *store.Store) *Registry { return &Registry{st: st} }

// Watch returns a channel that receives a value (coalesced) after each
// change of which certificates are trusted made through this Registry: an
// enrolment, a revocation, a renewal. On PostgreSQL such a change also
// wakes the provisioning feed of every central process (its LISTEN), which
// is how the hubs of the other instances, and a hub whose node a command
// line process revoked, learn of it. stop ends the subscription.
func (r *Registry) Watch() (changed <-chan struct{}, stop func()) { return r.watchers.add() }

// changed tells the watchers, here and (on PostgreSQL) in every process,
// that the trusted certificates changed.
func (r *Registry) changed(ctx context.Context) {
	if r.st.Dialect() == store.Postgres {
		// The same signal as a provisioning write: a hub reads the node
		// list again when its feed wakes (hub.go, watch).
		_, _ = r.st.DB().ExecContext(ctx, "SELECT pg_notify('"+provision.NotifyChannel+"', '')")
	}
	r.watchers.wake()
}

func joinAllow(ps []netip.Prefix) string {
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = p.String()
	}
	return strings.Join(s, ",")
}

func splitAllow(s string) []netip.Prefix {
	var out []netip.Prefix
	for f := range strings.SplitSeq(s, ",") {
		if p, err := netip.ParsePrefix(f); err == nil {
			out = append(out, p)
		}
	}
	return out
}

func allowed(ps []netip.Prefix, a netip.Addr) bool {
	a = a.Unmap()
	for _, p := range ps {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// CreateToken makes a one-time enrolment token for node name, usable from
// allow until ttl from now, and returns it (the only time it is shown).
func (r *Registry) CreateToken(ctx context.Context, ca *pki.CA, name string, allow []netip.Prefix, ttl time.Duration) (pki.Token, error) {
	if err := control.CheckNodeName(name); err != nil {
		return pki.Token{}, err
	}
	if ttl <= 0 {
		return pki.Token{}, errors.New("cluster: token ttl must be positive")
	}
	t, err := pki.NewToken(ca.Fingerprint())
	if err != nil {
		return pki.Token{}, err
	}
	now := time.Now()
	_, err = r.st.DB().ExecContext(ctx, r.st.Rebind(`INSERT INTO node_tokens (id, name, hash, allow, expires_at, created_at) VALUES (?, ?, ?, ?, ?, ?)`),
		t.ID, name, t.Hash(), joinAllow(allow), r.st.TimeArg(now.Add(ttl)), r.st.TimeArg(now))
	if err != nil {
		return pki.Token{}, fmt.Errorf("cluster: store token: %w", err)
	}
	return t, nil
}

// enrol consumes the token presented from addr and records the node whose
// certificate sign issues, in one transaction: a token is used at most
// once even when two nodes race with it.
func (r *Registry) enrol(ctx context.Context, id, secret string, addr netip.Addr, sign func(name string) (serial, fp string, err error)) (string, error) {
	tx, err := r.st.DB().BeginTx(ctx, nil)
	if err != nil {
		return "", fmt.Errorf("cluster: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	var name, hash, allow string
	var expires, used store.NullTime
	err = tx.QueryRowContext(ctx, r.st.Rebind(`SELECT name, hash, allow, expires_at, used_at FROM node_tokens WHERE id = ?`), id).
		Scan(&name, &hash, &allow, &expires, &used)
	if errors.Is(err, sql.ErrNoRows) || err == nil && !pki.TokenMatches(hash, id, secret) {
		return "", ErrTokenUnknown
	}
	if err != nil {
		return "", fmt.Errorf("cluster: %w", err)
	}
	if !used.Time.IsZero() {
		return name, ErrTokenUsed
	}
	now := time.Now()
	if now.After(expires.Time) {
		return name, ErrTokenExpired
	}
	prefixes := splitAllow(allow)
	if !allowed(prefixes, addr) {
		return name, fmt.Errorf("%w (%s not in %s)", ErrAddrRefused, addr, allow)
	}
	res, err := tx.ExecContext(ctx, r.st.Rebind(`UPDATE node_tokens SET used_at = ? WHERE id = ? AND used_at IS NULL`), r.st.TimeArg(now), id)
	if err != nil {
		return name, fmt.Errorf("cluster: %w", err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return name, ErrTokenUsed
	}
	serial, fp, err := sign(name)
	if err != nil {
		return name, err
	}
	// Re-enrolling a name replaces its certificate (the old one stops
	// working) and restarts CDR shipping from the node's first record:
	// central upserts by uniqueid, so a resend does not double anything.
	if _, err := tx.ExecContext(ctx, r.st.Rebind(`DELETE FROM nodes WHERE name = ?`), name); err != nil {
		return name, fmt.Errorf("cluster: %w", err)
	}
	if _, err := tx.ExecContext(ctx, r.st.Rebind(`INSERT INTO nodes (name, serial, fingerprint, allow, revoked, enrolled_at, last_addr) VALUES (?, ?, ?, ?, 0, ?, ?)`),
		name, serial, fp, allow, r.st.TimeArg(now), addr.String()); err != nil {
		return name, fmt.Errorf("cluster: record node: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return name, fmt.Errorf("cluster: %w", err)
	}
	r.changed(ctx)
	return name, nil
}

const nodeColumns = `name, serial, fingerprint, allow, revoked, enrolled_at, last_seen, last_addr, revision, cdr_acked, next_serial`

func scanNode(sc interface{ Scan(...any) error }) (control.NodeInfo, error) {
	var n control.NodeInfo
	var allow string
	var revoked int
	var enrolled, seen store.NullTime
	if err := sc.Scan(&n.Name, &n.Serial, &n.Fingerprint, &allow, &revoked, &enrolled, &seen, &n.LastAddr, &n.Revision, &n.CDRAcked, &n.NextSerial); err != nil {
		return n, err
	}
	n.Allow, n.Revoked, n.EnrolledAt, n.LastSeen = splitAllow(allow), revoked != 0, enrolled.Time, seen.Time
	return n, nil
}

// Node returns one node.
func (r *Registry) Node(ctx context.Context, name string) (control.NodeInfo, error) {
	n, err := scanNode(r.st.DB().QueryRowContext(ctx, r.st.Rebind(`SELECT `+nodeColumns+` FROM nodes WHERE name = ?`), name))
	if errors.Is(err, sql.ErrNoRows) {
		return n, control.ErrNodeUnknown
	}
	if err != nil {
		return n, fmt.Errorf("cluster: %w", err)
	}
	return n, nil
}

// Nodes lists every node by name.
func (r *Registry) Nodes(ctx context.Context) ([]control.NodeInfo, error) {
	rows, err := r.st.DB().QueryContext(ctx, `SELECT `+nodeColumns+` FROM nodes ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("cluster: %w", err)
	}
	defer func() { _ = rows.Close() }()
	var out []control.NodeInfo
	for rows.Next() {
		n, err := scanNode(rows)
		if err != nil {
			return nil, fmt.Errorf("cluster: %w", err)
		}
		out = append(out, n)
	}
	return out, rows.Err()
}

// Trusted lists the enrolled, unrevoked nodes with the serials their
// certificates may have (the current one first, then one being renewed
// to): what each node checks the nodes that call it against.
func (r *Registry) Trusted(ctx context.Context) (map[string][]string, error) {
	nodes, err := r.Nodes(ctx)
	if err != nil {
		return nil, err
	}
	out := make(map[string][]string, len(nodes))
	for _, n := range nodes {
		if n.Revoked {
			continue
		}
		out[n.Name] = []string{n.Serial}
		if n.NextSerial != "" {
			out[n.Name] = append(out[n.Name], n.NextSerial)
		}
	}
	return out, nil
}

// Revoke marks a node's certificate revoked: the hubs cut its link and
// refuse it from then on, and the other nodes refuse its calls.
func (r *Registry) Revoke(ctx context.Context, name string) error {
	res, err := r.st.DB().ExecContext(ctx, r.st.Rebind(`UPDATE nodes SET revoked = 1 WHERE name = ?`), name)
	if err != nil {
		return fmt.Errorf("cluster: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("%w: %q", control.ErrNodeUnknown, name)
	}
	r.changed(ctx)
	return nil
}

// seen records a node's connection or heartbeat.
func (r *Registry) seen(ctx context.Context, name, addr string, rev int64) error {
	_, err := r.st.DB().ExecContext(ctx, r.st.Rebind(`UPDATE nodes SET last_seen = ?, last_addr = ?, revision = ? WHERE name = ?`),
		r.st.TimeArg(time.Now()), addr, rev, name)
	if err != nil {
		return fmt.Errorf("cluster: %w", err)
	}
	return nil
}

// setCDRAcked records the highest CDR sequence of the node central holds.
func (r *Registry) setCDRAcked(ctx context.Context, name string, seq int64) error {
	_, err := r.st.DB().ExecContext(ctx, r.st.Rebind(`UPDATE nodes SET cdr_acked = ? WHERE name = ? AND cdr_acked < ?`), seq, name, seq)
	if err != nil {
		return fmt.Errorf("cluster: %w", err)
	}
	return nil
}

// setNext records a renewed certificate for a node whose current serial
// is current (not revoked, not re-enrolled since).
func (r *Registry) setNext(ctx context.Context, name, current, serial, fp string) error {
	res, err := r.st.DB().ExecContext(ctx, r.st.Rebind(`UPDATE nodes SET next_serial = ?, next_fingerprint = ? WHERE name = ? AND serial = ? AND revoked = 0`),
		serial, fp, name, current)
	if err != nil {
		return fmt.Errorf("cluster: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("node %q: %w or its certificate superseded", name, ErrNodeRevoked)
	}
	r.changed(ctx)
	return nil
}

// promote makes a node's pending certificate (serial) its current one.
func (r *Registry) promote(ctx context.Context, name, serial string) (bool, error) {
	res, err := r.st.DB().ExecContext(ctx, r.st.Rebind(`UPDATE nodes SET serial = next_serial, fingerprint = next_fingerprint, next_serial = '', next_fingerprint = ''
		WHERE name = ? AND next_serial = ? AND revoked = 0`), name, serial)
	if err != nil {
		return false, fmt.Errorf("cluster: %w", err)
	}
	n, _ := res.RowsAffected()
	if n == 1 {
		r.changed(ctx)
	}
	return n == 1, nil
}

// Admin is the registry with the CA and the links, as the API manages
// nodes (api.Nodes).
type Admin struct {
	Registry *Registry
	CA       *pki.CA
	Remote   *Remote // commands to linked nodes (nil: none)
}

// Reload makes a linked node reload a module (see Remote.Reload).
func (a *Admin) Reload(ctx context.Context, node, module string) error {
	if _, err := a.Registry.Node(ctx, node); err != nil {
		return err
	}
	if a.Remote == nil {
		return fmt.Errorf("%w: %s", control.ErrNodeNotLinked, node)
	}
	_, err := a.Remote.Reload(ctx, node, module)
	return err
}

// Nodes lists the nodes.
func (a *Admin) Nodes(ctx context.Context) ([]control.NodeInfo, error) { return a.Registry.Nodes(ctx) }

// Revoke revokes a node.
func (a *Admin) Revoke(ctx context.Context, name string) error { return a.Registry.Revoke(ctx, name) }

// CreateNodeToken makes a token and returns its text and expiry.
func (a *Admin) CreateNodeToken(ctx context.Context, name string, allow []netip.Prefix, ttl time.Duration) (string, time.Time, error) {
	t, err := a.Registry.CreateToken(ctx, a.CA, name, allow, ttl)
	if err != nil {
		return "", time.Time{}, err
	}
	return t.String(), time.Now().Add(ttl).UTC(), nil
}
