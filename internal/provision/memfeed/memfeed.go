// Package memfeed is an in-memory provision.Source for tests and
// benchmarks: writes bump a revision and are kept as a change feed, as the
// store's feed does, so a node can be driven without a database.
package memfeed

import (
	"context"
	"errors"
	"slices"
	"sync"

	"github.com/entvoice/entvoice/internal/provision"
)

// ErrDown is what a Source set down answers.
var ErrDown = errors.New("memfeed: source is down")

// Source is an in-memory provision.Source. It is safe for concurrent use.
type Source struct {
	mu      sync.Mutex
	rev     int64
	nextID  int64
	tenants map[string]provision.Tenant
	users   map[int64]provision.User
	exts    map[int64]provision.Extension
	grams   map[[2]string]provision.Grammar
	boxes   map[string]provision.Mailbox // tenant/context/mailbox
	feed    []provision.Change
	retain  int
	down    bool
	notify  chan struct{}
}

// New returns an empty Source that keeps every change.
func New() *Source {
	return &Source{
		tenants: map[string]provision.Tenant{},
		users:   map[int64]provision.User{},
		exts:    map[int64]provision.Extension{},
		grams:   map[[2]string]provision.Grammar{},
		boxes:   map[string]provision.Mailbox{},
		notify:  make(chan struct{}, 1),
	}
}

// SetRetain keeps only the last n changes (0: all); a node further behind
// gets provision.ErrResync.
func (s *Source) SetRetain(n int) {
	s.mu.Lock()
	s.retain = n
	s.trim()
	s.mu.Unlock()
}

// SetDown makes Snapshot and Changes fail (a database that is down).
func (s *Source) SetDown(down bool) {
	s.mu.Lock()
	s.down = down
	s.mu.Unlock()
	s.signal()
}

// Revision is the current revision.
func (s *Source) Revision() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rev
}

func (s *Source) trim() {
	if s.retain > 0 && len(s.feed) > s.retain {
		s.feed = slices.Delete(s.feed, 0, len(s.feed)-s.retain)
	}
}

func (s *Source) signal() {
	select {
	case s.notify <- struct{}{}:
	default:
	}
}

// record appends a change at a new revision; s.mu is held.
func (s *Source) record(c provision.Change) int64 {
	s.rev++
	c.Revision = s.rev
	s.feed = append(s.feed, c)
	s.trim()
	return s.rev
}

// PutTenant creates or replaces a tenant and returns the revision.
func (s *Source) PutTenant(t provision.Tenant) int64 {
	s.mu.Lock()
	t.Revision = s.rev + 1
	s.tenants[t.ID] = t
	rev := s.record(provision.Change{Entity: provision.EntityTenant, Tenant: &t})
	s.mu.Unlock()
	s.signal()
	return rev
}

// DeleteTenant deletes a tenant.
func (s *Source) DeleteTenant(id string) int64 {
	s.mu.Lock()
	delete(s.tenants, id)
	rev := s.record(provision.Change{Entity: provision.EntityTenant, Deleted: true, Tenant: &provision.Tenant{ID: id}})
	s.mu.Unlock()
	s.signal()
	return rev
}

// PutUser creates (ID 0) or replaces a user; it returns the user's id and
// the revision.
func (s *Source) PutUser(u provision.User) (int64, int64) {
	s.mu.Lock()
	if u.ID == 0 {
		s.nextID++
		u.ID = s.nextID
	}
	u.Revision = s.rev + 1
	s.users[u.ID] = u
	rev := s.record(provision.Change{Entity: provision.EntityUser, User: &u})
	s.mu.Unlock()
	s.signal()
	return u.ID, rev
}

// User returns a user by id.
func (s *Source) User(id int64) (provision.User, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.users[id]
	return u, ok
}

// DeleteUser deletes a user.
func (s *Source) DeleteUser(id int64) int64 {
	s.mu.Lock()
	u := s.users[id]
	delete(s.users, id)
	rev := s.record(provision.Change{Entity: provision.EntityUser, Deleted: true, User: &provision.User{ID: id, Tenant: u.Tenant, Name: u.Name}})
	s.mu.Unlock()
	s.signal()
	return rev
}

// PutExtension creates (ID 0) or replaces an extension row; it returns
// the row's id and the revision.
func (s *Source) PutExtension(x provision.Extension) (int64, int64) {
	s.mu.Lock()
	if x.ID == 0 {
		s.nextID++
		x.ID = s.nextID
	}
	x.Revision = s.rev + 1
	s.exts[x.ID] = x
	rev := s.record(provision.Change{Entity: provision.EntityExtension, Extension: &x})
	s.mu.Unlock()
	s.signal()
	return x.ID, rev
}

// DeleteExtension deletes an extension row.
func (s *Source) DeleteExtension(id int64) int64 {
	s.mu.Lock()
	x := s.exts[id]
	delete(s.exts, id)
	rev := s.record(provision.Change{Entity: provision.EntityExtension, Deleted: true, Extension: &provision.Extension{ID: id, Tenant: x.Tenant, Context: x.Context, Exten: x.Exten, Priority: x.Priority}})
	s.mu.Unlock()
	s.signal()
	return rev
}

// PutGrammar creates or replaces a tenant's speech grammar.
func (s *Source) PutGrammar(g provision.Grammar) int64 {
	s.mu.Lock()
	g.Revision = s.rev + 1
	s.grams[[2]string{g.Tenant, g.Name}] = g
	rev := s.record(provision.Change{Entity: provision.EntityGrammar, Grammar: &g})
	s.mu.Unlock()
	s.signal()
	return rev
}

// DeleteGrammar deletes a tenant's speech grammar.
func (s *Source) DeleteGrammar(tenant, name string) int64 {
	s.mu.Lock()
	delete(s.grams, [2]string{tenant, name})
	rev := s.record(provision.Change{Entity: provision.EntityGrammar, Deleted: true, Grammar: &provision.Grammar{Tenant: tenant, Name: name}})
	s.mu.Unlock()
	s.signal()
	return rev
}

// PutMailbox creates or replaces a voicemail mailbox and returns the
// revision.
func (s *Source) PutMailbox(m provision.Mailbox) int64 {
	s.mu.Lock()
	m.Revision = s.rev + 1
	s.boxes[m.Tenant+"/"+m.Context+"/"+m.Mailbox] = m
	rev := s.record(provision.Change{Entity: provision.EntityMailbox, Mailbox: &m})
	s.mu.Unlock()
	s.signal()
	return rev
}

// Snapshot implements provision.Source.
func (s *Source) Snapshot(ctx context.Context) (*provision.Snapshot, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.down {
		return nil, ErrDown
	}
	snap := &provision.Snapshot{Revision: s.rev}
	for _, m := range s.boxes {
		snap.Mailboxes = append(snap.Mailboxes, m)
	}
	for _, t := range s.tenants {
		snap.Tenants = append(snap.Tenants, t)
	}
	for _, u := range s.users {
		snap.Users = append(snap.Users, u)
	}
	for _, x := range s.exts {
		snap.Extensions = append(snap.Extensions, x)
	}
	for _, g := range s.grams {
		snap.Grammars = append(snap.Grammars, g)
	}
	return snap, nil
}

// Changes implements provision.Source.
func (s *Source) Changes(ctx context.Context, since int64, limit int) ([]provision.Change, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.down {
		return nil, ErrDown
	}
	if since >= s.rev {
		return nil, nil
	}
	if len(s.feed) == 0 || s.feed[0].Revision > since+1 {
		return nil, provision.ErrResync
	}
	i := int(since + 1 - s.feed[0].Revision)
	end := min(len(s.feed), i+limit)
	return slices.Clone(s.feed[i:end]), nil
}

// Notify implements provision.Source.
func (s *Source) Notify() <-chan struct{} { return s.notify }

var _ provision.Source = (*Source)(nil)
