package ami

import (
	"context"
	"errors"
	"fmt"

	"github.com/entvoice/entvoice/internal/acl"
	"github.com/entvoice/entvoice/internal/config"
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

// UsersFromConfig builds the static users of a configuration, refusing
// bad classes and CIDRs.
func UsersFromConfig(list []config.AMIUser) (StaticUsers, error) {
	out := StaticUsers{}
	for _, c := range list {
		if c.Name == "" {
			return nil, errors.New("ami.users: a user has no name")
		}
		if _, dup := out[c.Name]; dup {
			return nil, fmt.Errorf("ami.users: user %q defined twice", c.Name)
		}
		u := User{Name: c.Name, Secret: c.Secret, Tenant: c.Tenant, MultiLogin: c.AllowMultipleLogin == nil || *c.AllowMultipleLogin, Events: -1}
		var err error
		if u.Read, err = ParseClasses(c.Read); err != nil {
			return nil, fmt.Errorf("ami.users %q read: %w", c.Name, err)
		}
		if u.Write, err = ParseClasses(c.Write); err != nil {
			return nil, fmt.Errorf("ami.users %q write: %w", c.Name, err)
		}
		if len(c.Permit) > 0 || len(c.Deny) > 0 {
			if u.ACL, err = acl.ParseList(c.Permit, c.Deny); err != nil {
				return nil, fmt.Errorf("ami.users %q: %w", c.Name, err)
			}
		}
		if c.Events != "" {
			if u.Events = ParseEventMask(c.Events); u.Events < 0 {
				return nil, fmt.Errorf("ami.users %q events: bad mask %q", c.Name, c.Events)
			}
		}
		out[c.Name] = u
	}
	return out, nil
}
