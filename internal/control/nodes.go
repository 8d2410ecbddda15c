package control

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"
)

// The nodes of the distributed tier as the API and the command line see
// them; the central hub (internal/cluster/hub) keeps them in its registry.
// docs/cluster.md describes enrolment and the link.

// NodeInfo is one enrolled node.
type NodeInfo struct {
	Name        string         `json:"name"`
	Serial      string         `json:"serial"`
	Fingerprint string         `json:"fingerprint"`
	Allow       []netip.Prefix `json:"allow"`
	Revoked     bool           `json:"revoked"`
	EnrolledAt  time.Time      `json:"enrolled_at"`
	LastSeen    time.Time      `json:"last_seen"`
	LastAddr    string         `json:"last_addr"`
	Revision    int64          `json:"revision"`
	CDRAcked    int64          `json:"cdr_acked"`
	// NextSerial is a renewed certificate not yet confirmed by the node;
	// empty when none is pending.
	NextSerial string `json:"next_serial,omitempty"`
}

var (
	// ErrNodeUnknown is a node name that is not enrolled.
	ErrNodeUnknown = errors.New("node not enrolled")
	// ErrNodeNotLinked is a command for a node that has no link now.
	ErrNodeNotLinked = errors.New("node not linked")
	// ErrNodeFailed is a node's own error answering a command, or a
	// central instance that could not be reached to forward it.
	ErrNodeFailed = errors.New("node command failed")
	// ErrBadNodeName is a node name that cannot be a certificate's common
	// name and a DNS label.
	ErrBadNodeName = errors.New("node name: want 1 to 63 characters of a-z, 0-9 and -")
)

// CheckNodeName accepts [a-z0-9-]{1,63}: a node's name becomes its
// certificate's common name and a DNS name.
func CheckNodeName(name string) error {
	if name == "" || len(name) > 63 {
		return fmt.Errorf("%w (got %q)", ErrBadNodeName, name)
	}
	for _, c := range name {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return fmt.Errorf("%w (got %q)", ErrBadNodeName, name)
		}
	}
	return nil
}

// ParseAllow parses the networks a node may connect from: CIDRs, or bare
// addresses (a /32 or /128), repeated or comma-separated. At least one is
// required.
func ParseAllow(list []string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, s := range list {
		for f := range strings.SplitSeq(s, ",") {
			f = strings.TrimSpace(f)
			if f == "" {
				continue
			}
			if !strings.Contains(f, "/") {
				a, err := netip.ParseAddr(f)
				if err != nil {
					return nil, fmt.Errorf("allow %q: %w", f, err)
				}
				out = append(out, netip.PrefixFrom(a, a.BitLen()))
				continue
			}
			p, err := netip.ParsePrefix(f)
			if err != nil {
				return nil, fmt.Errorf("allow %q: %w", f, err)
			}
			out = append(out, p.Masked())
		}
	}
	if len(out) == 0 {
		return nil, errors.New("a node needs at least one allowed network (--allow CIDR)")
	}
	return out, nil
}
