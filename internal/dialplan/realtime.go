package dialplan

import (
	"fmt"
	"maps"
	"slices"
	"strings"
)

// TenantSep separates a tenant from its own context name in the contexts
// of a hosted tenant: tenant acme's context "internal" is "acme~internal"
// in the node's dialplan. Tenant ids are [a-z0-9-], so the separator can
// never be part of one.
const TenantSep = "~"

// defaultTenant is provision.DefaultTenant (not imported: dialplan does
// not depend on the provisioning model).
const defaultTenant = "default"

// IsDefaultTenant reports whether tenant is the default tenant (static
// configuration), whose contexts are not namespaced.
func IsDefaultTenant(tenant string) bool { return tenant == "" || tenant == defaultTenant }

// TenantContext is the node's name for tenant's context ctx. A tenant may
// only ever reach contexts under its own prefix: a name that already
// carries it is kept, any other is qualified (so "other~x" becomes
// "acme~other~x", which exists nowhere). The default tenant's contexts
// are not namespaced; it cannot name a tenant's context at all (ok is
// false for a name holding the separator).
func TenantContext(tenant, ctx string) (name string, ok bool) {
	if IsDefaultTenant(tenant) {
		return ctx, !strings.Contains(ctx, TenantSep)
	}
	prefix := tenant + TenantSep
	if strings.HasPrefix(ctx, prefix) {
		return ctx, true
	}
	return prefix + ctx, true
}

// BareContext is the name a tenant knows its context by: the node's name
// without the tenant prefix (${CONTEXT}, the CDR's dcontext).
func BareContext(tenant, ctx string) string {
	if IsDefaultTenant(tenant) {
		return ctx
	}
	return strings.TrimPrefix(ctx, tenant+TenantSep)
}

// Row is one row of the realtime extensions table of one context.
type Row struct {
	Exten    string // may carry a Caller ID match as "exten/cid"
	Priority int
	App      string
	AppData  string
}

// Derive returns a copy of d that shares every context with it, for
// ReplaceContext and RemoveContext to change without touching d (which
// stays published and immutable). It costs one map copy, not a deep copy.
func (d *Dialplan) Derive() *Dialplan {
	return &Dialplan{
		contexts:   maps.Clone(d.contexts),
		order:      slices.Clone(d.order),
		globals:    d.globals,
		globalIdx:  d.globalIdx,
		general:    d.general,
		warnings:   d.warnings,
		timedIncls: d.timedIncls,
	}
}

// RemoveContext drops a context (builder, on a Derive'd plan).
func (d *Dialplan) RemoveContext(name string) {
	if _, ok := d.contexts[name]; !ok {
		return
	}
	delete(d.contexts, name)
	if i := slices.Index(d.order, name); i >= 0 {
		d.order = slices.Delete(d.order, i, i+1)
	}
}

// ReplaceContext sets context name of d (builder, on a Derive'd plan) to
// base's context of the same name (nil or absent: empty) plus rows, built
// in one pass and sorted once (O(n log n), where AddRow would be O(n^2)
// for a context of n extensions).
//
// Static configuration wins, as in Asterisk, where realtime rows are only
// reached through a `switch => Realtime/...` that pbx_find_extension
// consults after the context's own extensions: a row whose extension and
// priority base already defines is skipped and reported in the returned
// errors, and so is a bad row (empty or bad extension, priority < 1, no
// application); every other row is added.
func (d *Dialplan) ReplaceContext(name string, base *Dialplan, rows []Row) []error {
	var errs []error
	c := &context{name: name, byKey: map[string][]*extension{}}
	var static *context
	if base != nil {
		static = base.contexts[name]
	}
	type extKey struct{ name, cid string }
	byText := map[extKey]*extension{}
	if static != nil {
		c.file, c.line = static.file, static.line
		c.includes = slices.Clone(static.includes)
		c.switches = slices.Clone(static.switches)
		c.ignorePats = slices.Clone(static.ignorePats)
		for _, list := range [][]*extension{static.exacts, static.pats} {
			for _, e := range list {
				ne := *e
				ne.steps = maps.Clone(e.steps)
				ne.labels = maps.Clone(e.labels)
				k := extKey{ne.name, "\x00"}
				if ne.hasCID {
					k.cid = ne.cidRaw
				}
				byText[k] = &ne
				if ne.m.pat == nil {
					c.exacts = append(c.exacts, &ne)
				} else {
					c.pats = append(c.pats, &ne)
				}
			}
		}
	}
	fromRows := map[*Step]bool{}
	for _, r := range rows {
		ename, cid, hasCID := strings.Cut(strings.TrimSpace(r.Exten), "/")
		if hasCID {
			cid = shrinkPhoneNumber(cid)
		}
		bad := func(format string, args ...any) {
			errs = append(errs, fmt.Errorf("realtime row %s,%s,%d: %s", name, r.Exten, r.Priority, fmt.Sprintf(format, args...)))
		}
		switch {
		case ename == "":
			bad("empty extension")
			continue
		case r.Priority < 1 && r.Priority != PriorityHint:
			// A hint row (priority -1, its devices in app) is kept, as
			// extensions.conf's "exten => X,hint,PJSIP/1001" is and as
			// the provisioning API accepts it.
			bad("invalid priority")
			continue
		case strings.TrimSpace(r.App) == "":
			bad("no application")
			continue
		}
		k := extKey{ename, "\x00"}
		if hasCID {
			k.cid = cid
		}
		e := byText[k]
		if e == nil {
			m, err := newMatcher(ename)
			if err != nil {
				bad("bad pattern: %v", err)
				continue
			}
			e = &extension{name: ename, m: m, cidRaw: cid, hasCID: hasCID, steps: map[int]*Step{}, labels: map[string]int{}}
			if hasCID {
				if e.cid, err = newMatcher(cid); err != nil {
					bad("caller ID match: %v", err)
					continue
				}
			}
			byText[k] = e
			if m.pat == nil {
				c.exacts = append(c.exacts, e)
			} else {
				c.pats = append(c.pats, e)
			}
		}
		if old, ok := e.steps[r.Priority]; ok {
			if !fromRows[old] {
				bad("shadowed by the static dialplan (%s:%d)", old.File, old.Line)
			} else {
				bad("priority defined twice")
			}
			continue
		}
		st := &Step{Context: name, Exten: e.name, Priority: r.Priority, App: strings.TrimSpace(r.App), Data: r.AppData}
		if e.hasCID {
			st.CIDMatch = e.cidRaw
		}
		e.steps[r.Priority] = st
		fromRows[st] = true
	}
	// Sort once; extensions written differently but equal in Asterisk's
	// order (e.g. _X and _[0-9]) are one extension, as findOrCreate makes
	// them. The stable sort keeps static ones first, so they win.
	merge := func(list []*extension) []*extension {
		slices.SortStableFunc(list, compareExt)
		out := list[:0]
		for _, e := range list {
			if n := len(out); n > 0 && compareExt(out[n-1], e) == 0 {
				keep := out[n-1]
				for p, st := range e.steps {
					if _, dup := keep.steps[p]; dup {
						errs = append(errs, fmt.Errorf("realtime row %s,%s,%d: priority already defined as %s", name, e.name, p, keep.name))
						continue
					}
					ns := *st
					ns.Exten = keep.name
					keep.steps[p] = &ns
				}
				continue
			}
			out = append(out, e)
		}
		return out
	}
	c.exacts = merge(c.exacts)
	c.pats = merge(c.pats)
	for _, e := range c.exacts {
		c.byKey[e.m.key] = append(c.byKey[e.m.key], e)
	}
	if _, ok := d.contexts[name]; !ok {
		d.order = append(d.order, name)
	}
	d.contexts[name] = c
	return errs
}
