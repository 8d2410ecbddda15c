package acl

import (
	"net/netip"
	"testing"
	"time"
)

func TestBanListBasics(t *testing.T) {
	clk := newFakeClock()
	b := NewBanList(BanListOptions{MaxBans: 2, Clock: clk.Now})
	b.Ban(ipA, "SIP", "flood", time.Minute)
	b.Ban(ipA, "AMI", "shorter", time.Second) // never shortens
	if l := b.List(); len(l) != 1 || l[0].Reason != "flood" || !l[0].Until.Equal(clk.Now().Add(time.Minute)) {
		t.Fatalf("list %+v", l)
	}
	for range 3 {
		b.Banned(ipA)
	}
	if l := b.List(); l[0].Hits != 3 {
		t.Fatalf("hits %d, want 3", l[0].Hits)
	}
	b.Ban(ipB, "SIP", "x", 2*time.Minute)
	ipC := netip.MustParseAddr("192.0.2.3")
	b.Ban(ipC, "SIP", "x", 3*time.Minute) // full: the soonest to end (ipA) goes
	if b.Banned(ipA) || !b.Banned(ipB) || !b.Banned(ipC) {
		t.Fatal("eviction did not drop the ban ending soonest")
	}
	if !b.Unban(ipB) || b.Unban(ipB) {
		t.Fatal("Unban reports wrong")
	}
	if b.Clear() != 1 || len(b.List()) != 0 {
		t.Fatal("Clear left bans")
	}
	b.Counter("sip.flood").Add(2)
	b.Counter("sip.flood").Add(1)
	if c := b.Counters(); c["sip.flood"] != 3 {
		t.Fatalf("counters %v", c)
	}
	b.ResetCounters()
	if c := b.Counters(); c["sip.flood"] != 0 {
		t.Fatalf("counters after reset %v", c)
	}
	var nilList *BanList
	if nilList.Banned(ipA) || nilList.Ban(ipA, "", "", time.Second) || len(nilList.List()) != 0 {
		t.Fatal("nil list must ban nothing")
	}
	nilList.Counter("x").Add(1)
}

func TestBanListExpiry(t *testing.T) {
	clk := newFakeClock()
	b := NewBanList(BanListOptions{Clock: clk.Now})
	b.Ban(netip.MustParseAddr("::ffff:192.0.2.1"), "API", "authentication failures", time.Minute)
	if !b.Banned(ipA) {
		t.Fatal("mapped address not normalised")
	}
	clk.Add(time.Minute)
	if b.Banned(ipA) || len(b.List()) != 0 {
		t.Fatal("expired ban still in force")
	}
}
