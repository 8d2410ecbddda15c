package ami

import (
	"context"
	"errors"
	"fmt"

	"github.com/entvoice/entvoice/internal/acl"
)

// User is an AMI account (a manager.conf user section).
type User struct {
	Name string
	// Secret is the clear secret: MD5 challenge login needs it.
	Secret string
	// Tenant binds the user to one tenant; "" is a global admin.
	Tenant     string
	Read       Class
	Write      Class
	ACL        *acl.List // nil: any address
	MultiLogin bool      // allowmultiplelogin
	// Events is the initial event mask (-1: the read classes).
	Events Class
}

// ErrNoUser is returned by a UserSource for an unknown user.
var ErrNoUser = errors.New("no such AMI user")

// UserSource finds AMI users: the static YAML section, the store's users
// (provisioning), or both chained.
type UserSource interface {
	Lookup(ctx context.Context, name string) (User, error)
}

// StaticUsers are the users of the YAML ami.users section.
type StaticUsers map[string]User

// Lookup implements UserSource.
func (s StaticUsers) Lookup(_ context.Context, name string) (User, error) {
	u, ok := s[name]
	if !ok {
		return User{}, ErrNoUser
	}
	return u, nil
}

// Chain asks each source in turn; the first that knows the user wins.
type Chain []UserSource

// Lookup implements UserSource.
func (c Chain) Lookup(ctx context.Context, name string) (User, error) {
	for _, s := range c {
		u, err := s.Lookup(ctx, name)
		if errors.Is(err, ErrNoUser) {
			continue
		}
		return u, err
	}
	return User{}, ErrNoUser
}

// UserSpec is a manager.conf user section as written: in the YAML ami.users
// section or in the store (realtime manager users).
type UserSpec struct {
	Name, Secret string
	Tenant       string
	// Read and Write are class lists ("system,call", "all").
	Read, Write  string
	Permit, Deny []string
	MultiLogin   bool // allowmultiplelogin
	// Events is the initial event mask ("on", "off", a class list); ""
	// is the read classes.
	Events string
}

// ParseUser checks a user section: its classes, CIDRs and event mask.
func ParseUser(s UserSpec) (User, error) {
	if s.Name == "" {
		return User{}, errors.New("AMI user without a name")
	}
	u := User{Name: s.Name, Secret: s.Secret, Tenant: s.Tenant, MultiLogin: s.MultiLogin, Events: -1}
	var err error
	if u.Read, err = ParseClasses(s.Read); err != nil {
		return User{}, fmt.Errorf("AMI user %q read: %w", s.Name, err)
	}
	if u.Write, err = ParseClasses(s.Write); err != nil {
		return User{}, fmt.Errorf("AMI user %q write: %w", s.Name, err)
	}
	if len(s.Permit) > 0 || len(s.Deny) > 0 {
		if u.ACL, err = acl.ParseList(s.Permit, s.Deny); err != nil {
			return User{}, fmt.Errorf("AMI user %q: %w", s.Name, err)
		}
	}
	if s.Events != "" {
		if u.Events = ParseEventMask(s.Events); u.Events < 0 {
			return User{}, fmt.Errorf("AMI user %q events: bad mask %q", s.Name, s.Events)
		}
	}
	return u, nil
}

// NewStaticUsers checks the static users, refusing a user defined twice.
func NewStaticUsers(specs []UserSpec) (StaticUsers, error) {
	out := StaticUsers{}
	for _, s := range specs {
		if _, dup := out[s.Name]; dup {
			return nil, fmt.Errorf("AMI user %q defined twice", s.Name)
		}
		u, err := ParseUser(s)
		if err != nil {
			return nil, err
		}
		out[s.Name] = u
	}
	return out, nil
}

// UserFunc adapts a lookup function to UserSource (the store's users,
// looked up at each login so that a user created, changed or deleted
// through the API takes effect on the next login).
type UserFunc func(ctx context.Context, name string) (User, error)

// Lookup implements UserSource.
func (f UserFunc) Lookup(ctx context.Context, name string) (User, error) { return f(ctx, name) }
