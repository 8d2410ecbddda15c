package ami

import (
	"context"
	"errors"
	"fmt"

	"github.com/entvoice/entvoice/internal/acl"
	"github.com/entvoice/entvoice/internal/provision"
)

// AMIUserRepo is what StoreUsers needs of the provisioning repository
// (*provision.Repo).
type AMIUserRepo interface {
	GetAMIUser(ctx context.Context, name string) (provision.AMIUser, error)
	GetTenant(ctx context.Context, id string) (provision.Tenant, error)
}

// StoreUsers are the AMI users of the provisioning store (Asterisk's
// realtime manager users), looked up at each login so that a user created,
// changed or deleted through the API takes effect on the next login.
type StoreUsers struct {
	Repo AMIUserRepo
}

var _ UserSource = StoreUsers{}

// Lookup implements UserSource. A user of a suspended (or deleted) tenant
// is unknown: it cannot log in.
func (s StoreUsers) Lookup(ctx context.Context, name string) (User, error) {
	a, err := s.Repo.GetAMIUser(ctx, name)
	if errors.Is(err, provision.ErrNotFound) {
		return User{}, ErrNoUser
	}
	if err != nil {
		return User{}, fmt.Errorf("AMI user %q: %w", name, err)
	}
	if a.Tenant != "" {
		t, err := s.Repo.GetTenant(ctx, a.Tenant)
		if errors.Is(err, provision.ErrNotFound) || (err == nil && t.Status == "suspended") {
			return User{}, ErrNoUser
		}
		if err != nil {
			return User{}, fmt.Errorf("AMI user %q: tenant: %w", name, err)
		}
	}
	return UserFromProvision(a)
}

// UserFromProvision converts a stored AMI user (manager.conf's fields:
// secret, read, write, permit, deny, allowmultiplelogin).
func UserFromProvision(a provision.AMIUser) (User, error) {
	u := User{Name: a.Name, Secret: a.Secret, Tenant: a.Tenant, MultiLogin: a.AllowMultipleLogin, Events: -1}
	var err error
	if u.Read, err = ParseClasses(a.Read); err != nil {
		return User{}, fmt.Errorf("AMI user %q read: %w", a.Name, err)
	}
	if u.Write, err = ParseClasses(a.Write); err != nil {
		return User{}, fmt.Errorf("AMI user %q write: %w", a.Name, err)
	}
	if len(a.Permit) > 0 || len(a.Deny) > 0 {
		if u.ACL, err = acl.ParseList(a.Permit, a.Deny); err != nil {
			return User{}, fmt.Errorf("AMI user %q: %w", a.Name, err)
		}
	}
	return u, nil
}
