package cluster

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/entvoice/entvoice/internal/store"
)

// Refusals of enrolment and of the link. Each is logged on both sides.
var (
	ErrTokenUnknown = errors.New("node token unknown")
	ErrTokenUsed    = errors.New("node token already used")
	ErrTokenExpired = errors.New("node token expired")
	ErrAddrRefused  = errors.New("address outside the node's allowed networks")
	ErrNodeRevoked  = errors.New("node certificate revoked")
	ErrNodeUnknown  = errors.New("node not enrolled")
	ErrBadNodeName  = errors.New("node name: want 1 to 63 characters of a-z, 0-9 and -")
)

// Registry is the central store's node tokens and nodes.
type Registry struct {
	st *store.Store
}

// NewRegistry works on st (migrated to 0003).
func NewRegistry(st *store.Store) *Registry { return &Registry{st: st} }

// NodeInfo is one enrolled node.
type NodeInfo struct {
	Name        string         `json:"name"`
	Serial      string         `json:"serial"`
	Fingerprint string         `json:"fingerprint"`
	Allow       []netip.Prefix `json:"allow"`
	Revoked     bool           `json:"revoked"`
	EnrolledAt  time.Time      `json:"enrolled_at"`
	LastSeen    time.Time      `json:"last_seen"`
	LastAddr    string         `json:"last_addr"`
	Revision    int64          `json:"revision"`
	CDRAcked    int64          `json:"cdr_acked"`
	// NextSerial is a renewed certificate not yet confirmed by the node
	// (renew.go); empty when none is pending.
	NextSerial string `json:"next_serial,omitempty"`
}

// ParseAllow parses a list of CIDRs (a bare address is a /32 or /128).
func ParseAllow(list []string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, s := range list {
		for f := range strings.SplitSeq(s, ",") {
			f = strings.TrimSpace(f)
			if f == "" {
				continue
			}
			if !strings.Contains(f, "/") {
				a, err := netip.ParseAddr(f)
				if err != nil {
					return nil, fmt.Errorf("cluster: allow %q: %w", f, err)
				}
				out = append(out, netip.PrefixFrom(a, a.BitLen()))
				continue
			}
			p, err := netip.ParsePrefix(f)
			if err != nil {
				return nil, fmt.Errorf("cluster: allow %q: %w", f, err)
			}
			out = append(out, p.Masked())
		}
	}
	if len(out) == 0 {
		return nil, errors.New("cluster: a node needs at least one allowed network (--allow CIDR)")
	}
	return out, nil
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
func (r *Registry) CreateToken(ctx context.Context, ca *CA, name string, allow []netip.Prefix, ttl time.Duration) (Token, error) {
	if err := checkNodeName(name); err != nil {
		return Token{}, err
	}
	if ttl <= 0 {
		return Token{}, errors.New("cluster: token ttl must be positive")
	}
	t, err := newToken(ca.Fingerprint())
	if err != nil {
		return Token{}, err
	}
	now := time.Now()
	_, err = r.st.DB().ExecContext(ctx, r.st.Rebind(`INSERT INTO node_tokens (id, name, hash, allow, expires_at, created_at) VALUES (?, ?, ?, ?, ?, ?)`),
		t.ID, name, t.hash(), joinAllow(allow), r.st.TimeArg(now.Add(ttl)), r.st.TimeArg(now))
	if err != nil {
		return Token{}, fmt.Errorf("cluster: store token: %w", err)
	}
	return t, nil
}

// checkNodeName accepts [a-z0-9-]{1,63}: it becomes a certificate CN and
// a DNS name.
func checkNodeName(name string) error {
	if name == "" || len(name) > 63 {
		return fmt.Errorf("%w (got %q)", ErrBadNodeName, name)
	}
	for _, c := range name {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return fmt.Errorf("%w (got %q)", ErrBadNodeName, name)
		}
	}
	return nil
}

// Admin is the registry with the CA, as the API manages nodes.
type Admin struct {
	Registry *Registry
	CA       *CA
	Remote   *Remote // commands to linked nodes (nil: none)
}

// Reload makes a linked node reload a module (see Remote.Reload).
func (a *Admin) Reload(ctx context.Context, node, module string) error {
	if _, err := a.Registry.Node(ctx, node); err != nil {
		return err
	}
	if a.Remote == nil {
		return fmt.Errorf("%w: %s", ErrNodeNotLinked, node)
	}
	_, err := a.Remote.Reload(ctx, node, module)
	return err
}

// Nodes lists the nodes.
func (a *Admin) Nodes(ctx context.Context) ([]NodeInfo, error) { return a.Registry.Nodes(ctx) }

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
	if errors.Is(err, sql.ErrNoRows) || err == nil && !hashEqual(hash, hashSecret(id, secret)) {
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
	return name, nil
}

const nodeColumns = `name, serial, fingerprint, allow, revoked, enrolled_at, last_seen, last_addr, revision, cdr_acked, next_serial`

func scanNode(sc interface{ Scan(...any) error }) (NodeInfo, error) {
	var n NodeInfo
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
func (r *Registry) Node(ctx context.Context, name string) (NodeInfo, error) {
	n, err := scanNode(r.st.DB().QueryRowContext(ctx, r.st.Rebind(`SELECT `+nodeColumns+` FROM nodes WHERE name = ?`), name))
	if errors.Is(err, sql.ErrNoRows) {
		return n, ErrNodeUnknown
	}
	if err != nil {
		return n, fmt.Errorf("cluster: %w", err)
	}
	return n, nil
}

// Nodes lists every node by name.
func (r *Registry) Nodes(ctx context.Context) ([]NodeInfo, error) {
	rows, err := r.st.DB().QueryContext(ctx, `SELECT `+nodeColumns+` FROM nodes ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("cluster: %w", err)
	}
	defer func() { _ = rows.Close() }()
	var out []NodeInfo
	for rows.Next() {
		n, err := scanNode(rows)
		if err != nil {
			return nil, fmt.Errorf("cluster: %w", err)
		}
		out = append(out, n)
	}
	return out, rows.Err()
}

// Revoke marks a node's certificate revoked: the hub refuses it from its
// next connection or heartbeat on.
func (r *Registry) Revoke(ctx context.Context, name string) error {
	res, err := r.st.DB().ExecContext(ctx, r.st.Rebind(`UPDATE nodes SET revoked = 1 WHERE name = ?`), name)
	if err != nil {
		return fmt.Errorf("cluster: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("%w: %q", ErrNodeUnknown, name)
	}
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
