// Package tenancy owns what identifies a tenant of a hosted platform
// everywhere in entVoice: the default tenant, how a tenant's dialplan
// contexts and registrations are named inside a node, and the tenant policy
// applied before a call leg is placed (service switches, the international
// rule, the limit of concurrent calls).
//
// Every row of the store carries a tenant; static configuration (the YAML
// file, extensions.conf) belongs to the default tenant. Inside a node a
// hosted tenant's names are namespaced with Sep, so that two tenants may
// both have a user 1001 and a context "internal" and neither can name the
// other's.
package tenancy

import "strings"

// Default is the tenant of static users, trunks and extensions.conf, and
// of every request that names no hosted tenant's domain.
const Default = "default"

// Sep separates a tenant from its own name in node-wide names: tenant
// acme's context "internal" is "acme~internal" and its user 1001
// registers under "acme~1001". Tenant ids are [a-z0-9-], so the separator
// can never be part of one.
const Sep = "~"

// Of normalises a tenant id: "" is the default tenant.
func Of(id string) string {
	if id == "" {
		return Default
	}
	return id
}

// IsDefault reports whether id is the default tenant ("" counts as it).
func IsDefault(id string) bool { return id == "" || id == Default }

// Context is the node's name for tenant's dialplan context ctx. A tenant
// may only ever reach contexts under its own prefix: a name that already
// carries it is kept, any other is qualified (so "other~x" becomes
// "acme~other~x", which exists nowhere). The default tenant's contexts are
// not namespaced; it cannot name a tenant's context at all (ok is false
// for a name holding the separator).
func Context(tenant, ctx string) (name string, ok bool) {
	if IsDefault(tenant) {
		return ctx, !strings.Contains(ctx, Sep)
	}
	prefix := tenant + Sep
	if strings.HasPrefix(ctx, prefix) {
		return ctx, true
	}
	return prefix + ctx, true
}

// BareContext is the name a tenant knows its context by: the node's name
// without the tenant prefix (${CONTEXT}, the CDR's dcontext).
func BareContext(tenant, ctx string) string {
	if IsDefault(tenant) {
		return ctx
	}
	return strings.TrimPrefix(ctx, tenant+Sep)
}

// AOR is the registrar key of a tenant's user: its name in the default
// tenant, "tenant~name" in a hosted one.
func AOR(tenant, user string) string {
	if IsDefault(tenant) {
		return user
	}
	return tenant + Sep + user
}

// SplitAOR is the inverse of AOR: the tenant and the user name of a
// registrar key.
func SplitAOR(aor string) (tenant, user string) {
	if t, u, ok := strings.Cut(aor, Sep); ok {
		return t, u
	}
	return Default, aor
}
