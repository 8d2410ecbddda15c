package channel

import (
	"log/slog"
	"maps"
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

// TestCopyVarsFrom: a Local channel's ;2 gets every variable of its ;1
// with its prefix (Asterisk's local_call), so _X set on ;1 is still
// inherited once more by what ;2 places; the copy raises no VarSet.
func TestCopyVarsFrom(t *testing.T) {
	bus := events.New()
	r := NewRegistry("", bus, slog.Default())
	one := r.New(Options{Tech: "Local", Endpoint: "a;1"})
	one.SetVar("PLAIN", "1")
	one.SetVar("_ONE", "2")
	one.SetVar("__ALL", "3")
	two := r.New(Options{Tech: "Local", Endpoint: "a;2"})
	two.SetVar("OWN", "4")
	sub := bus.Subscribe(8, func(e *events.Event) bool { return e.Kind == events.VarSet })
	defer sub.Close()
	two.CopyVarsFrom(one)
	want := map[string]string{"PLAIN": "1", "_ONE": "2", "__ALL": "3", "OWN": "4"}
	if got := two.Vars(); !maps.Equal(got, want) {
		t.Fatalf("vars %v, want %v", got, want)
	}
	if n := len(sub.C); n != 0 {
		t.Fatalf("%d VarSet events for a copy", n)
	}
	next := r.New(Options{Tech: "PJSIP", Endpoint: "b"})
	next.InheritFrom(two)
	if v, _ := next.GetVar("ONE"); v != "2" {
		t.Fatalf("_ONE copied to ;2 is not inherited by its leg: %q", v)
	}
}
