package wire

import "github.com/entvoice/entvoice/internal/provision"

// Provisioning data as it travels down the link.

// User carries the digest HA1s that provision.User keeps out of JSON
// (they must reach the node's registrar; the password never exists).
type User struct {
	provision.User
	MD5    string `json:"ha1_md5"`
	SHA256 string `json:"ha1_sha256"`
}

// EncodeUser is u as it travels.
func EncodeUser(u provision.User) User {
	return User{User: u, MD5: u.HA1MD5, SHA256: u.HA1SHA256}
}

// Decode is the user a node provisions.
func (w User) Decode() provision.User {
	u := w.User
	u.HA1MD5, u.HA1SHA256 = w.MD5, w.SHA256
	return u
}

// Snapshot is a provision.Snapshot without AMI users: AMI is served by
// central, so their secrets never leave it.
type Snapshot struct {
	Revision   int64                 `json:"revision"`
	Tenants    []provision.Tenant    `json:"tenants"`
	Users      []User                `json:"users"`
	Extensions []provision.Extension `json:"extensions"`
	Grammars   []provision.Grammar   `json:"grammars,omitempty"`
	// Call queues.
	Queues       []provision.Queue       `json:"queues,omitempty"`
	QueueMembers []provision.QueueMember `json:"queue_members,omitempty"`
	Mailboxes    []Mailbox               `json:"mailboxes,omitempty"`
}

// EncodeSnapshot is s as it travels.
func EncodeSnapshot(s *provision.Snapshot) *Snapshot {
	w := &Snapshot{Revision: s.Revision, Tenants: s.Tenants, Extensions: s.Extensions, Grammars: s.Grammars, Queues: s.Queues, QueueMembers: s.QueueMembers}
	w.Users = make([]User, len(s.Users))
	for i, u := range s.Users {
		w.Users[i] = EncodeUser(u)
	}
	for _, m := range s.Mailboxes {
		w.Mailboxes = append(w.Mailboxes, EncodeMailbox(m))
	}
	return w
}

// Decode is the snapshot a node provisions.
func (w *Snapshot) Decode() *provision.Snapshot {
	s := &provision.Snapshot{Revision: w.Revision, Tenants: w.Tenants, Extensions: w.Extensions, Grammars: w.Grammars, Queues: w.Queues, QueueMembers: w.QueueMembers}
	s.Users = make([]provision.User, len(w.Users))
	for i, u := range w.Users {
		s.Users[i] = u.Decode()
	}
	for _, m := range w.Mailboxes {
		s.Mailboxes = append(s.Mailboxes, m.Decode())
	}
	return s
}

// Change is a provision.Change; an AMI user change travels with its key
// only, to move the node's revision.
type Change struct {
	Revision  int64                `json:"revision"`
	Entity    provision.Entity     `json:"entity"`
	Deleted   bool                 `json:"deleted,omitempty"`
	Tenant    *provision.Tenant    `json:"tenant,omitempty"`
	User      *User                `json:"user,omitempty"`
	Extension *provision.Extension `json:"extension,omitempty"`
	Grammar   *provision.Grammar   `json:"grammar,omitempty"`
	// Call queues.
	Queue       *provision.Queue       `json:"queue,omitempty"`
	QueueMember *provision.QueueMember `json:"queue_member,omitempty"`
	Mailbox     *Mailbox               `json:"mailbox,omitempty"`
}

// EncodeChange is c as it travels.
func EncodeChange(c provision.Change) Change {
	w := Change{Revision: c.Revision, Entity: c.Entity, Deleted: c.Deleted, Tenant: c.Tenant, Extension: c.Extension, Grammar: c.Grammar,
		Queue: c.Queue, QueueMember: c.QueueMember}
	if c.User != nil {
		u := EncodeUser(*c.User)
		w.User = &u
	}
	if c.Mailbox != nil {
		m := EncodeMailbox(*c.Mailbox)
		w.Mailbox = &m
	}
	return w
}

// Decode is the change a node provisions.
func (w Change) Decode() provision.Change {
	c := provision.Change{Revision: w.Revision, Entity: w.Entity, Deleted: w.Deleted, Tenant: w.Tenant, Extension: w.Extension, Grammar: w.Grammar,
		Queue: w.Queue, QueueMember: w.QueueMember}
	if w.User != nil {
		u := w.User.Decode()
		c.User = &u
	}
	if w.Mailbox != nil {
		m := w.Mailbox.Decode()
		c.Mailbox = &m
	}
	return c
}

// Mailbox carries the PIN hash that provision.Mailbox keeps out of JSON
// (a node checks PINs; the PIN itself is never stored).
type Mailbox struct {
	provision.Mailbox
	PINHash string `json:"pin_hash"`
}

// EncodeMailbox is m as it travels.
func EncodeMailbox(m provision.Mailbox) Mailbox { return Mailbox{Mailbox: m, PINHash: m.PINHash} }

// Decode is the mailbox a node provisions.
func (w Mailbox) Decode() provision.Mailbox {
	m := w.Mailbox
	m.PINHash, m.HasPIN = w.PINHash, w.PINHash != ""
	return m
}
