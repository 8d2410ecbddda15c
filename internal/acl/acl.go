// Package acl implements address access lists (Asterisk "permit"/"deny")
// and a per-source flood and brute-force guard for the SIP edge.
package acl

import (
	"fmt"
	"net/netip"
	"strings"
)

// List is an immutable access list built from permit and deny entries.
//
// The rule implemented (and the one our YAML documents) is:
//
//	allowed(a) = !matches(deny, a) && (len(permit) == 0 || matches(permit, a))
//
// This is exactly what Asterisk's ast_apply_ha() computes (start from
// "allow", walk the rules in order, the last matching rule wins) for the
// rule sequence
//
//	deny=0.0.0.0/0 + deny=::/0   (only when at least one permit is given)
//	permit=<each permit entry>
//	deny=<each deny entry>
//
// so a deny entry always wins over any permit entry it overlaps, even a
// more specific one, and a permit list on its own means "deny everything
// else". A nil *List allows every address.
type List struct {
	permit []netip.Prefix
	deny   []netip.Prefix
}

// ParseList parses permit and deny entries. Each entry is a CIDR prefix
// ("10.0.0.0/8", "2001:db8::/32") or a bare address, which means a /32 or
// /128. Errors name the offending entry.
func ParseList(permit, deny []string) (*List, error) {
	p, err := parsePrefixes("permit", permit)
	if err != nil {
		return nil, err
	}
	d, err := parsePrefixes("deny", deny)
	if err != nil {
		return nil, err
	}
	return &List{permit: p, deny: d}, nil
}

func parsePrefixes(kind string, entries []string) ([]netip.Prefix, error) {
	out := make([]netip.Prefix, 0, len(entries))
	for i, e := range entries {
		p, err := ParsePrefix(e)
		if err != nil {
			return nil, fmt.Errorf("acl: %s entry %d %q: %w", kind, i, e, err)
		}
		out = append(out, p)
	}
	return out, nil
}

// ParsePrefix parses a CIDR prefix or a bare address (as a host prefix).
// IPv4-mapped IPv6 forms are unmapped so that they match IPv4 sources. The
// prefix is masked ("10.1.2.3/8" becomes "10.0.0.0/8"), as Asterisk does.
func ParsePrefix(s string) (netip.Prefix, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return netip.Prefix{}, fmt.Errorf("empty entry")
	}
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, err
		}
		a := p.Addr()
		if a.Is4In6() && p.Bits() >= 96 {
			p = netip.PrefixFrom(a.Unmap(), p.Bits()-96)
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	a = a.Unmap().WithZone("")
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// Allowed reports whether addr may use the resource this list guards.
func (l *List) Allowed(addr netip.Addr) bool {
	if l == nil {
		return true
	}
	addr = addr.Unmap().WithZone("")
	if matches(l.deny, addr) {
		return false
	}
	return len(l.permit) == 0 || matches(l.permit, addr)
}

// Empty reports whether the list has no entries (allows everything).
func (l *List) Empty() bool { return l == nil || (len(l.permit) == 0 && len(l.deny) == 0) }

// String renders the list for logs.
func (l *List) String() string {
	if l.Empty() {
		return "allow all"
	}
	var b strings.Builder
	for _, p := range l.permit {
		b.WriteString("permit=")
		b.WriteString(p.String())
		b.WriteByte(' ')
	}
	for _, p := range l.deny {
		b.WriteString("deny=")
		b.WriteString(p.String())
		b.WriteByte(' ')
	}
	return strings.TrimSuffix(b.String(), " ")
}

func matches(ps []netip.Prefix, a netip.Addr) bool {
	for _, p := range ps {
		if p.Contains(a) {
			return true
		}
	}
	return false
}
