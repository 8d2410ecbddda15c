package config

import (
	"fmt"
	"strconv"
	"strings"
)

// ParseGroups parses a call or pickup group list as Asterisk's
// ast_get_group does: numbers 0-63 and ranges, comma-separated
// ("1,3-5"); "" is no group. The result has bit n set for group n.
func ParseGroups(s string) (uint64, error) {
	var g uint64
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := strconv.Atoi(strings.TrimSpace(lo))
		b := a
		if err == nil && isRange {
			b, err = strconv.Atoi(strings.TrimSpace(hi))
		}
		if err != nil || a < 0 || b > 63 || a > b {
			return 0, fmt.Errorf("group %q: want numbers 0-63 or ranges like 3-5", part)
		}
		for n := a; n <= b; n++ {
			g |= 1 << n
		}
	}
	return g, nil
}

// ParseNamedGroups parses a named call or pickup group list
// ("sales,support"), as ast_get_namedgroups: names are case-sensitive,
// duplicates collapse.
func ParseNamedGroups(s string) ([]string, error) {
	var out []string
	seen := map[string]bool{}
	for _, n := range strings.Split(s, ",") {
		n = strings.TrimSpace(n)
		if n == "" || seen[n] {
			continue
		}
		if strings.ContainsAny(n, " \t;") {
			return nil, fmt.Errorf("named group %q: no blanks or ';'", n)
		}
		seen[n] = true
		out = append(out, n)
	}
	return out, nil
}

// checkGroups validates a user's call and pickup groups.
func (u User) checkGroups() error {
	for key, v := range map[string]string{"callgroup": u.CallGroup, "pickupgroup": u.PickupGroup} {
		if _, err := ParseGroups(v); err != nil {
			return fmt.Errorf("%s: %w", key, err)
		}
	}
	for key, v := range map[string]string{"named_callgroup": u.NamedCallGroup, "named_pickupgroup": u.NamedPickupGroup} {
		if _, err := ParseNamedGroups(v); err != nil {
			return fmt.Errorf("%s: %w", key, err)
		}
	}
	return nil
}
