package pbx

import (
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/entvoice/entvoice/internal/channel"
	"github.com/entvoice/entvoice/internal/dialplan"
	"github.com/entvoice/entvoice/internal/events"
	"github.com/entvoice/entvoice/internal/q850"
)

// TestAsyncGoto: an async goto (AMI Redirect) cancels the running
// application's context and resumes the dialplan at the new position,
// labels included; bad targets and channels outside the dialplan are
// refused.
func TestAsyncGoto(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	reg := channel.NewRegistry("", events.New(), log)
	p := New(Options{Channels: reg, Logger: log})
	started := make(chan string, 4)
	p.Register("Block", func(e *Exec, data string) error {
		started <- data
		<-e.Ctx.Done()
		return channel.ErrHangup
	})
	p.Register("Mark", func(e *Exec, data string) error {
		e.Ch.SetVar("MARK", e.Ch.Tenant()+data)
		return nil
	})
	plan, err := dialplan.Parse("test.conf", strings.NewReader(`[c]
exten => s,1,Block(first)
 same => n,Mark(fell-through)
exten => x,1,Mark(jumped)
 same => n(lbl),Block(second)
[d]
exten => y,1,Mark(other-context)
 same => n,Block(third)
`))
	if err != nil {
		t.Fatal(err)
	}
	p.SetDialplan(plan)
	ch := reg.New(channel.Options{Tech: "Test", Endpoint: "a", Context: "c", Exten: "s"})
	done := make(chan struct{})
	go func() { p.HandleCall(ch); close(done) }()
	wait := func(want string) {
		t.Helper()
		select {
		case got := <-started:
			if got != want {
				t.Fatalf("Block(%s) ran, want Block(%s)", got, want)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("Block(%s) never ran", want)
		}
	}
	wait("first")
	if err := p.AsyncGoto(ch, "", "x", "1"); err != nil {
		t.Fatal(err)
	}
	wait("second")
	if v, _ := ch.GetVar("MARK"); v != "jumped" {
		t.Errorf("MARK = %q, want jumped (and not fell-through)", v)
	}
	if c, x, pr := ch.Location(); c != "c" || x != "x" || pr != 2 {
		t.Errorf("location %s,%s,%d", c, x, pr)
	}
	if err := p.AsyncGoto(ch, "c", "nope", "1"); err == nil {
		t.Error("goto to a missing extension accepted")
	}
	if err := p.AsyncGoto(ch, "c", "x", "nolabel"); err == nil {
		t.Error("goto to a missing label accepted")
	}
	if err := p.AsyncGoto(ch, "c", "x", "lbl"); err != nil {
		t.Fatal(err)
	}
	wait("second")
	if err := p.AsyncGoto(ch, "d", "y", "1"); err != nil {
		t.Fatal(err)
	}
	wait("third")
	if v, _ := ch.GetVar("MARK"); v != "other-context" {
		t.Errorf("MARK = %q", v)
	}
	ch.Hangup(q850.NormalClearing)
	<-done
	if err := p.AsyncGoto(ch, "c", "x", "1"); !errors.Is(err, ErrNotInDialplan) {
		t.Errorf("goto on a finished channel: %v", err)
	}
	idle := reg.New(channel.Options{Tech: "Test", Endpoint: "b", Context: "c", Exten: "s"})
	if err := p.AsyncGoto(idle, "c", "x", "1"); !errors.Is(err, ErrNotInDialplan) {
		t.Errorf("goto on a channel outside the dialplan: %v", err)
	}
	idle.Hangup(q850.NormalClearing)
}
