package acl

import (
	"net/netip"
	"strings"
	"testing"
)

func TestParseListErrorsNameEntry(t *testing.T) {
	_, err := ParseList([]string{"10.0.0.0/8", "10.0.0.300"}, nil)
	if err == nil || !strings.Contains(err.Error(), `"10.0.0.300"`) || !strings.Contains(err.Error(), "permit") {
		t.Fatalf("err = %v, want it to name the permit entry", err)
	}
	_, err = ParseList(nil, []string{"bogus/33"})
	if err == nil || !strings.Contains(err.Error(), `"bogus/33"`) || !strings.Contains(err.Error(), "deny") {
		t.Fatalf("err = %v, want it to name the deny entry", err)
	}
	_, err = ParseList([]string{""}, nil)
	if err == nil {
		t.Fatal("empty entry accepted")
	}
}

func TestAllowed(t *testing.T) {
	tests := []struct {
		name         string
		permit, deny []string
		addr         string
		want         bool
	}{
		{"empty allows", nil, nil, "192.0.2.1", true},
		{"permit only allows match", []string{"10.0.0.0/8"}, nil, "10.1.2.3", true},
		{"permit only denies rest", []string{"10.0.0.0/8"}, nil, "192.0.2.1", false},
		{"bare ip is /32", []string{"192.0.2.7"}, nil, "192.0.2.7", true},
		{"bare ip is /32 neighbour", []string{"192.0.2.7"}, nil, "192.0.2.8", false},
		{"deny only", nil, []string{"192.0.2.0/24"}, "192.0.2.9", false},
		{"deny only other", nil, []string{"192.0.2.0/24"}, "198.51.100.1", true},
		{"deny wins over general permit", []string{"10.0.0.0/8"}, []string{"10.9.0.0/16"}, "10.9.1.1", false},
		{"deny wins over specific permit", []string{"10.9.1.1"}, []string{"10.0.0.0/8"}, "10.9.1.1", false},
		{"permit outside deny", []string{"10.0.0.0/8"}, []string{"10.9.0.0/16"}, "10.8.1.1", true},
		{"ipv6 permit", []string{"2001:db8::/32"}, nil, "2001:db8::1", true},
		{"ipv6 permit v4 denied", []string{"2001:db8::/32"}, nil, "10.0.0.1", false},
		{"bare v6 /128", []string{"2001:db8::1"}, nil, "2001:db8::2", false},
		{"mapped source matches v4", []string{"10.0.0.0/8"}, nil, "::ffff:10.0.0.1", true},
		{"mapped entry matches v4", []string{"::ffff:10.0.0.0/104"}, nil, "10.0.0.1", true},
		{"unmasked prefix masked", []string{"10.1.2.3/8"}, nil, "10.200.0.1", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, err := ParseList(tt.permit, tt.deny)
			if err != nil {
				t.Fatal(err)
			}
			if got := l.Allowed(netip.MustParseAddr(tt.addr)); got != tt.want {
				t.Fatalf("Allowed(%s) = %v, want %v (list %s)", tt.addr, got, tt.want, l)
			}
		})
	}
}

func TestNilListAllows(t *testing.T) {
	var l *List
	if !l.Allowed(netip.MustParseAddr("203.0.113.1")) || !l.Empty() {
		t.Fatal("nil list must allow everything")
	}
}
