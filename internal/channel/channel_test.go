package channel

import (
	"log/slog"
	"regexp"
	"testing"

	"github.com/entvoice/entvoice/internal/events"
	"github.com/entvoice/entvoice/internal/q850"
)

func TestNamesAndIDs(t *testing.T) {
	r := NewRegistry("", events.New(), slog.Default())
	a := r.New(Options{Tech: "PJSIP", Endpoint: "1001"})
	b := r.New(Options{Tech: "PJSIP", Endpoint: "1002", LinkedID: a.LinkedID()})
	if a.Name != "PJSIP/1001-00000001" || b.Name != "PJSIP/1002-00000002" {
		t.Fatalf("names %q %q", a.Name, b.Name)
	}
	if !regexp.MustCompile(`^\d+\.1$`).MatchString(a.UniqueID) {
		t.Fatalf("uniqueid %q", a.UniqueID)
	}
	if a.LinkedID() != a.UniqueID || b.LinkedID() != a.UniqueID {
		t.Fatalf("linkedid a=%q b=%q", a.LinkedID(), b.LinkedID())
	}
	if r.Count() != 2 {
		t.Fatalf("count %d", r.Count())
	}
	r.Remove(a)
	if _, ok := r.Get(a.Name); ok {
		t.Fatal("removed channel still live")
	}
	sys := NewRegistry("site1", events.New(), slog.Default())
	if c := sys.New(Options{Tech: "PJSIP", Endpoint: "x"}); !regexp.MustCompile(`^site1-\d+\.1$`).MatchString(c.UniqueID) {
		t.Fatalf("systemname uniqueid %q", c.UniqueID)
	}
}

func TestVariableInheritance(t *testing.T) {
	r := NewRegistry("", events.New(), slog.Default())
	p := r.New(Options{Tech: "PJSIP", Endpoint: "a"})
	p.SetVar("PLAIN", "1")
	p.SetVar("_ONE", "2")
	p.SetVar("__ALL", "3")
	if v, _ := p.GetVar("ONE"); v != "2" {
		t.Fatalf("_ONE by bare name = %q", v)
	}
	c := r.New(Options{Tech: "PJSIP", Endpoint: "b"})
	c.InheritFrom(p)
	if _, ok := c.GetVar("PLAIN"); ok {
		t.Fatal("plain variable inherited")
	}
	if v, _ := c.GetVar("ONE"); v != "2" {
		t.Fatalf("ONE = %q", v)
	}
	g := r.New(Options{Tech: "PJSIP", Endpoint: "c"})
	g.InheritFrom(c)
	if _, ok := g.GetVar("ONE"); ok {
		t.Fatal("_ONE inherited two levels")
	}
	if v, _ := g.GetVar("ALL"); v != "3" {
		t.Fatalf("__ALL two levels = %q", v)
	}
}

func TestHangupFirstCauseWins(t *testing.T) {
	r := NewRegistry("", events.New(), slog.Default())
	c := r.New(Options{Tech: "PJSIP", Endpoint: "a"})
	c.RemoteHangup(q850.NormalClearing)
	c.Hangup(q850.UserBusy)
	if c.HangupCause() != q850.NormalClearing || !c.IsHungUp() {
		t.Fatalf("cause %d", c.HangupCause())
	}
}
