package config

import (
	"fmt"
	"net/netip"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Duration is a Go duration in the YAML file ("30s", "5m"), checked when
// the file is read.
type Duration struct {
	time.Duration
	set bool
}

// Seconds is a duration set in code (defaults, the demo).
func Seconds(s float64) Duration {
	return Duration{Duration: time.Duration(s * float64(time.Second)), set: true}
}

// UnmarshalYAML implements yaml.Unmarshaler.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := time.ParseDuration(strings.TrimSpace(n.Value))
	if err != nil {
		return fmt.Errorf("line %d: %q is not a duration (write 30s, 5m, 1h): %w", n.Line, n.Value, err)
	}
	if v < 0 {
		return fmt.Errorf("line %d: duration %q is negative", n.Line, n.Value)
	}
	d.Duration, d.set = v, true
	return nil
}

// MarshalYAML implements yaml.Marshaler.
func (d Duration) MarshalYAML() (any, error) { return d.String(), nil }

// orDefault sets the duration to v unless the file set it.
func (d *Duration) orDefault(v time.Duration) {
	if !d.set {
		d.Duration, d.set = v, true
	}
}

// Listener is one parsed sip.listen entry.
type Listener struct {
	Transport string // "udp", "tcp", "tls", "ws" or "wss"
	Addr      netip.AddrPort
}

// parseListener parses "transport:ip:port".
func parseListener(l string) (Listener, error) {
	tr, hp, ok := strings.Cut(l, ":")
	if !ok {
		return Listener{}, fmt.Errorf("sip.listen %q: want transport:ip:port", l)
	}
	tr = strings.ToLower(tr)
	switch tr {
	case "udp", "tcp", "tls", "ws", "wss":
	default:
		return Listener{}, fmt.Errorf("sip.listen %q: transport %q is not udp, tcp, tls, ws or wss", l, tr)
	}
	ap, err := netip.ParseAddrPort(hp)
	if err != nil {
		return Listener{}, fmt.Errorf("sip.listen %q: %w", l, err)
	}
	return Listener{Transport: tr, Addr: ap}, nil
}

// ParsePrefix accepts a CIDR or a bare address (a host prefix).
func ParsePrefix(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(strings.TrimSpace(s))
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("bad CIDR %q: %w", s, err)
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(strings.TrimSpace(s))
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("bad address %q: %w", s, err)
	}
	return netip.PrefixFrom(a, a.BitLen()), nil
}
