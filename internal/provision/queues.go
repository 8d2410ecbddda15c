package provision

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/entvoice/entvoice/internal/queueconf"
)

// Queue is a realtime call queue (a row of app_queue's realtime queues
// table), scoped by tenant. Params are its queues.conf keys and values
// ("strategy": "rrmemory", "timeout": "15", ...); a key not set has
// app_queue's default.
type Queue struct {
	ID        int64             `json:"id"`
	Tenant    string            `json:"tenant"`
	Name      string            `json:"name"`
	Params    map[string]string `json:"params"`
	Revision  int64             `json:"revision"`
	CreatedAt time.Time         `json:"created_at"`
	UpdatedAt time.Time         `json:"updated_at"`
}

// QueueMember is a realtime member of a queue (app_queue's realtime
// queue_members row).
type QueueMember struct {
	ID             int64  `json:"id"`
	Tenant         string `json:"tenant"`
	Queue          string `json:"queue"`
	Interface      string `json:"interface"`
	MemberName     string `json:"membername"`
	StateInterface string `json:"state_interface"`
	Penalty        int    `json:"penalty"`
	Paused         bool   `json:"paused"`
	Reason         string `json:"reason_paused"`
	Wrapuptime     int    `json:"wrapuptime"`
	// RingInUse is the member's own ringinuse (nil: the queue's).
	RingInUse *bool `json:"ringinuse,omitempty"`
	Revision  int64 `json:"revision"`
}

// Entities of the change feed for queues.
const (
	EntityQueue       Entity = "queue"
	EntityQueueMember Entity = "queue_member"
)

// ValidateQueue checks a queue: its name and every parameter, with the
// queues.conf parser's rules.
func ValidateQueue(q *Queue) error {
	var e errs
	if err := queueconf.ValidName(q.Name); err != nil {
		e.add("name", "%v", err)
	}
	p := queueconf.Defaults(queueconf.General{})
	keys := make([]string, 0, len(q.Params))
	for k := range q.Params {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if strings.EqualFold(k, "member") {
			e.add("params."+k, "members are objects of their own (/queues/{name}/members)")
			continue
		}
		if err := p.Set(k, q.Params[k]); err != nil {
			e.add("params."+k, "%v", err)
		}
	}
	return e.err()
}

// ValidateQueueMember checks a member.
func ValidateQueueMember(m *QueueMember) error {
	var e errs
	if err := queueconf.ValidInterface(m.Interface); err != nil {
		e.add("interface", "%v", err)
	}
	if m.StateInterface != "" {
		if err := queueconf.ValidInterface(m.StateInterface); err != nil {
			e.add("state_interface", "%v", err)
		}
	}
	if strings.ContainsAny(m.MemberName, "\r\n|") || len(m.MemberName) > 80 {
		e.add("membername", "at most 80 characters, no line break or '|'")
	}
	if strings.ContainsAny(m.Reason, "\r\n|") || len(m.Reason) > 80 {
		e.add("reason_paused", "at most 80 characters, no line break or '|'")
	}
	if m.Penalty < 0 {
		e.add("penalty", "must be 0 or more")
	}
	if m.Wrapuptime < 0 {
		e.add("wrapuptime", "must be 0 or more seconds")
	}
	return e.err()
}

// QueueParams turns a realtime queue into the engine's parameters (they
// were validated when written; a bad one is skipped with its error).
func QueueParams(q Queue) (queueconf.Params, []error) {
	p := queueconf.Defaults(queueconf.General{})
	keys := make([]string, 0, len(q.Params))
	for k := range q.Params {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	// The strategy first, as app_queue reads it before the rest.
	sort.SliceStable(keys, func(i, j int) bool { return keys[i] == "strategy" && keys[j] != "strategy" })
	var bad []error
	for _, k := range keys {
		if err := p.Set(k, q.Params[k]); err != nil {
			bad = append(bad, fmt.Errorf("queue %q: %w", q.Name, err))
		}
	}
	return p, bad
}

const queueCols = "id, tenant, name, params, revision, created_at, updated_at"

func scanQueue(s rowScanner) (Queue, error) {
	var q Queue
	var params string
	var created, updated storeTime
	if err := s.Scan(&q.ID, &q.Tenant, &q.Name, &params, &q.Revision, &created, &updated); err != nil {
		return q, err
	}
	q.Params = map[string]string{}
	if err := json.Unmarshal([]byte(params), &q.Params); err != nil {
		return q, fmt.Errorf("queue %q params: %w", q.Name, err)
	}
	q.CreatedAt, q.UpdatedAt = created.Time, updated.Time
	return q, nil
}

func (r *Repo) queryQueues(ctx context.Context, q querier, tail string, args ...any) ([]Queue, error) {
	rows, err := q.QueryContext(ctx, r.st.Rebind("SELECT "+queueCols+" FROM queues "+tail), args...)
	if err != nil {
		return nil, fmt.Errorf("provision: queues: %w", err)
	}
	defer func() { _ = rows.Close() }()
	out := []Queue{}
	for rows.Next() {
		x, err := scanQueue(rows)
		if err != nil {
			return nil, fmt.Errorf("provision: queues scan: %w", err)
		}
		out = append(out, x)
	}
	return out, rows.Err()
}

// getQueue finds a tenant's queue by name, case-insensitively.
func (r *Repo) getQueue(ctx context.Context, q querier, tenant, name string, lock bool) (Queue, error) {
	tail := ""
	if lock {
		tail = forUpdate(r.st)
	}
	x, err := scanQueue(q.QueryRowContext(ctx, r.st.Rebind("SELECT "+queueCols+" FROM queues WHERE tenant = ? AND lower(name) = lower(?)"+tail), tenant, name))
	if errors.Is(err, sql.ErrNoRows) {
		return x, fmt.Errorf("queue %q in tenant %q: %w", name, tenant, ErrNotFound)
	}
	if err != nil {
		return x, fmt.Errorf("provision: queue %q: %w", name, err)
	}
	return x, nil
}

// GetQueue returns a tenant's queue.
func (r *Repo) GetQueue(ctx context.Context, tenant, name string) (Queue, error) {
	return r.getQueue(ctx, r.st.DB(), tenant, name, false)
}

// ListQueues returns a tenant's queues by name.
func (r *Repo) ListQueues(ctx context.Context, tenant string) ([]Queue, error) {
	return r.queryQueues(ctx, r.st.DB(), "WHERE tenant = ? ORDER BY name", tenant)
}

func paramsJSON(p map[string]string) string {
	if p == nil {
		p = map[string]string{}
	}
	b, _ := json.Marshal(p) // a map of strings always marshals
	return string(b)
}

func queueKey(tenant, name string) string { return tenant + "/" + strings.ToLower(name) }

// CreateQueue validates and stores a queue.
func (r *Repo) CreateQueue(ctx context.Context, q Queue) (Queue, error) {
	if q.Tenant == "" {
		q.Tenant = DefaultTenant
	}
	if q.Params == nil {
		q.Params = map[string]string{}
	}
	if err := ValidateQueue(&q); err != nil {
		return q, err
	}
	err := r.write(ctx, func(tx *wtx) error {
		if _, err := r.getTenant(ctx, tx, q.Tenant, false); err != nil {
			return err
		}
		if _, err := r.getQueue(ctx, tx, q.Tenant, q.Name, false); err == nil {
			return conflict("name", "queue %q already exists in tenant %q", q.Name, q.Tenant)
		}
		rev, err := tx.bump(ctx, 1)
		if err != nil {
			return err
		}
		q.Revision = rev
		q.CreatedAt, q.UpdatedAt = now(), now()
		if err := tx.QueryRowContext(ctx, r.st.Rebind("INSERT INTO queues (tenant, name, params, revision, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?) RETURNING id"),
			q.Tenant, q.Name, paramsJSON(q.Params), q.Revision, r.st.TimeArg(q.CreatedAt), r.st.TimeArg(q.UpdatedAt)).Scan(&q.ID); err != nil {
			if _, ok := isUnique(err); ok {
				return conflict("name", "queue %q already exists in tenant %q", q.Name, q.Tenant)
			}
			return fmt.Errorf("provision: create queue: %w", err)
		}
		return tx.one(ctx, rev, change{entity: EntityQueue, tenant: q.Tenant, key: queueKey(q.Tenant, q.Name), data: q})
	})
	return q, err
}

// UpdateQueue applies fn to a stored queue (its params) in one
// transaction. fn must not change its tenant or name.
func (r *Repo) UpdateQueue(ctx context.Context, tenant, name string, fn func(q *Queue) error) (Queue, error) {
	var q Queue
	err := r.write(ctx, func(tx *wtx) error {
		var err error
		if q, err = r.getQueue(ctx, tx, tenant, name, true); err != nil {
			return err
		}
		id, n := q.ID, q.Name
		if err := fn(&q); err != nil {
			return err
		}
		q.ID, q.Tenant, q.Name = id, tenant, n
		if err := ValidateQueue(&q); err != nil {
			return err
		}
		rev, err := tx.bump(ctx, 1)
		if err != nil {
			return err
		}
		q.Revision, q.UpdatedAt = rev, now()
		if _, err := tx.ExecContext(ctx, r.st.Rebind("UPDATE queues SET params = ?, revision = ?, updated_at = ? WHERE id = ?"),
			paramsJSON(q.Params), q.Revision, r.st.TimeArg(q.UpdatedAt), q.ID); err != nil {
			return fmt.Errorf("provision: update queue: %w", err)
		}
		return tx.one(ctx, rev, change{entity: EntityQueue, tenant: q.Tenant, key: queueKey(q.Tenant, q.Name), data: q})
	})
	return q, err
}

// DeleteQueue deletes a queue and its members.
func (r *Repo) DeleteQueue(ctx context.Context, tenant, name string) error {
	return r.write(ctx, func(tx *wtx) error {
		q, err := r.getQueue(ctx, tx, tenant, name, true)
		if err != nil {
			return err
		}
		rev, err := tx.bump(ctx, 1)
		if err != nil {
			return err
		}
		for _, stmt := range []string{"DELETE FROM queue_members WHERE tenant = ? AND queue_name = ?", "DELETE FROM queues WHERE tenant = ? AND name = ?"} {
			if _, err := tx.ExecContext(ctx, r.st.Rebind(stmt), tenant, q.Name); err != nil {
				return fmt.Errorf("provision: delete queue %q: %w", name, err)
			}
		}
		return tx.one(ctx, rev, queueDeleted(q))
	})
}

// queueDeleted is a queue's deletion in the change feed: a node drops
// its members with it.
func queueDeleted(q Queue) change {
	return change{entity: EntityQueue, tenant: q.Tenant, key: queueKey(q.Tenant, q.Name), deleted: true,
		data: Queue{ID: q.ID, Tenant: q.Tenant, Name: q.Name}}
}

const memberCols = "id, tenant, queue_name, interface, membername, state_interface, penalty, paused, reason_paused, wrapuptime, ringinuse, revision"

func scanMember(s rowScanner) (QueueMember, error) {
	var m QueueMember
	var paused int64
	var ringinuse sql.NullInt64
	err := s.Scan(&m.ID, &m.Tenant, &m.Queue, &m.Interface, &m.MemberName, &m.StateInterface, &m.Penalty, &paused, &m.Reason, &m.Wrapuptime, &ringinuse, &m.Revision)
	m.Paused, m.RingInUse = paused != 0, nullBool(ringinuse)
	return m, err
}

func (r *Repo) queryMembers(ctx context.Context, q querier, tail string, args ...any) ([]QueueMember, error) {
	rows, err := q.QueryContext(ctx, r.st.Rebind("SELECT "+memberCols+" FROM queue_members "+tail), args...)
	if err != nil {
		return nil, fmt.Errorf("provision: queue members: %w", err)
	}
	defer func() { _ = rows.Close() }()
	out := []QueueMember{}
	for rows.Next() {
		m, err := scanMember(rows)
		if err != nil {
			return nil, fmt.Errorf("provision: queue members scan: %w", err)
		}
		out = append(out, m)
	}
	return out, rows.Err()
}

// ListQueueMembers returns a queue's realtime members in the order they
// were added (their round-robin order).
func (r *Repo) ListQueueMembers(ctx context.Context, tenant, queue string) ([]QueueMember, error) {
	q, err := r.GetQueue(ctx, tenant, queue)
	if err != nil {
		return nil, err
	}
	return r.queryMembers(ctx, r.st.DB(), "WHERE tenant = ? AND queue_name = ? ORDER BY id", tenant, q.Name)
}

func (r *Repo) getMember(ctx context.Context, q querier, tenant, queue string, id int64, lock bool) (QueueMember, error) {
	tail := ""
	if lock {
		tail = forUpdate(r.st)
	}
	m, err := scanMember(q.QueryRowContext(ctx, r.st.Rebind("SELECT "+memberCols+" FROM queue_members WHERE tenant = ? AND queue_name = ? AND id = ?"+tail), tenant, queue, id))
	if errors.Is(err, sql.ErrNoRows) {
		return m, fmt.Errorf("member %d of queue %q: %w", id, queue, ErrNotFound)
	}
	if err != nil {
		return m, fmt.Errorf("provision: queue member %d: %w", id, err)
	}
	return m, nil
}

// GetQueueMember returns one member of a queue.
func (r *Repo) GetQueueMember(ctx context.Context, tenant, queue string, id int64) (QueueMember, error) {
	q, err := r.GetQueue(ctx, tenant, queue)
	if err != nil {
		return QueueMember{}, err
	}
	return r.getMember(ctx, r.st.DB(), tenant, q.Name, id, false)
}

func memberArgs(m *QueueMember) []any {
	return []any{m.MemberName, m.StateInterface, m.Penalty, boolArg(&m.Paused), m.Reason, m.Wrapuptime, boolArg(m.RingInUse), m.Revision}
}

func memberChange(m QueueMember) change {
	return change{entity: EntityQueueMember, tenant: m.Tenant, key: strconv.FormatInt(m.ID, 10), data: m}
}

// AddQueueMember validates and stores a member of an existing queue.
func (r *Repo) AddQueueMember(ctx context.Context, m QueueMember) (QueueMember, error) {
	if m.Tenant == "" {
		m.Tenant = DefaultTenant
	}
	if err := ValidateQueueMember(&m); err != nil {
		return m, err
	}
	err := r.write(ctx, func(tx *wtx) error {
		q, err := r.getQueue(ctx, tx, m.Tenant, m.Queue, true)
		if err != nil {
			return err
		}
		m.Queue = q.Name
		var n int
		if err := tx.QueryRowContext(ctx, r.st.Rebind("SELECT COUNT(*) FROM queue_members WHERE tenant = ? AND queue_name = ? AND lower(interface) = lower(?)"),
			m.Tenant, m.Queue, m.Interface).Scan(&n); err != nil {
			return fmt.Errorf("provision: add queue member: %w", err)
		}
		if n > 0 {
			return conflict("interface", "%s is already a member of queue %q", m.Interface, m.Queue)
		}
		rev, err := tx.bump(ctx, 1)
		if err != nil {
			return err
		}
		m.Revision = rev
		args := append([]any{m.Tenant, m.Queue, m.Interface}, memberArgs(&m)...)
		if err := tx.QueryRowContext(ctx, r.st.Rebind("INSERT INTO queue_members (tenant, queue_name, interface, membername, state_interface, penalty, paused, reason_paused, wrapuptime, ringinuse, revision) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id"),
			args...).Scan(&m.ID); err != nil {
			if _, ok := isUnique(err); ok {
				return conflict("interface", "%s is already a member of queue %q", m.Interface, m.Queue)
			}
			return fmt.Errorf("provision: add queue member: %w", err)
		}
		return tx.one(ctx, rev, memberChange(m))
	})
	return m, err
}

// UpdateQueueMember applies fn to a stored member (penalty, pause, name,
// ...); fn must not change its tenant, queue or interface.
func (r *Repo) UpdateQueueMember(ctx context.Context, tenant, queue string, id int64, fn func(m *QueueMember) error) (QueueMember, error) {
	var m QueueMember
	err := r.write(ctx, func(tx *wtx) error {
		q, err := r.getQueue(ctx, tx, tenant, queue, false)
		if err != nil {
			return err
		}
		if m, err = r.getMember(ctx, tx, tenant, q.Name, id, true); err != nil {
			return err
		}
		iface := m.Interface
		if err := fn(&m); err != nil {
			return err
		}
		m.ID, m.Tenant, m.Queue, m.Interface = id, tenant, q.Name, iface
		if !m.Paused {
			m.Reason = ""
		}
		if err := ValidateQueueMember(&m); err != nil {
			return err
		}
		rev, err := tx.bump(ctx, 1)
		if err != nil {
			return err
		}
		m.Revision = rev
		if _, err := tx.ExecContext(ctx, r.st.Rebind("UPDATE queue_members SET membername = ?, state_interface = ?, penalty = ?, paused = ?, reason_paused = ?, wrapuptime = ?, ringinuse = ?, revision = ? WHERE id = ?"),
			append(memberArgs(&m), id)...); err != nil {
			return fmt.Errorf("provision: update queue member: %w", err)
		}
		return tx.one(ctx, rev, memberChange(m))
	})
	return m, err
}

// DeleteQueueMember deletes a member.
func (r *Repo) DeleteQueueMember(ctx context.Context, tenant, queue string, id int64) error {
	return r.write(ctx, func(tx *wtx) error {
		q, err := r.getQueue(ctx, tx, tenant, queue, false)
		if err != nil {
			return err
		}
		m, err := r.getMember(ctx, tx, tenant, q.Name, id, true)
		if err != nil {
			return err
		}
		rev, err := tx.bump(ctx, 1)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, r.st.Rebind("DELETE FROM queue_members WHERE id = ?"), id); err != nil {
			return fmt.Errorf("provision: delete queue member: %w", err)
		}
		c := memberChange(QueueMember{ID: m.ID, Tenant: m.Tenant, Queue: m.Queue, Interface: m.Interface})
		c.deleted = true
		return tx.one(ctx, rev, c)
	})
}
