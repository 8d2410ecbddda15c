package conference

import (
	"fmt"
	"log/slog"
	"testing"

	"github.com/entvoice/entvoice/internal/channel"
	"github.com/entvoice/entvoice/internal/events"
	"github.com/entvoice/entvoice/internal/media"
)

// stateEnv joins users to one conference without media: the state
// machine acts on the lists and flags alone until a user enters the mix.
type stateEnv struct {
	t   *testing.T
	svc *Service
	reg *channel.Registry
	n   int
}

func newStateEnv(t *testing.T) *stateEnv {
	pacer := media.NewPacer(nil)
	t.Cleanup(pacer.Close)
	bus := events.New()
	svc := New(Options{Pacer: pacer, Bus: bus})
	t.Cleanup(svc.Close)
	return &stateEnv{t: t, svc: svc, reg: channel.NewRegistry("", bus, slog.New(slog.DiscardHandler))}
}

func (s *stateEnv) join(p UserProfile) *User {
	s.t.Helper()
	s.n++
	ch := s.reg.New(channel.Options{Tech: "Test", Endpoint: fmt.Sprint(s.n)})
	b, _ := s.svc.Profiles().Bridge("")
	p.Name = fmt.Sprint("user", s.n)
	u, err := s.svc.Join(JoinRequest{Name: "9000", Ch: ch, Bridge: b, User: &p})
	if err != nil {
		s.t.Fatal(err)
	}
	return u
}

func removed(u *User) bool {
	select {
	case <-u.Removed():
		return true
	default:
		return false
	}
}

// TestStateMachine: app_confbridge's transitions for marked, wait_marked
// and end_marked users, and the conference's end.
func TestStateMachine(t *testing.T) {
	s := newStateEnv(t)
	def := *newUserProfile("")
	waiter := def
	waiter.WaitMarked, waiter.EndMarked, waiter.MOHWhenEmpty = true, true, true
	plainWaiter := def
	plainWaiter.WaitMarked = true
	leader := def
	leader.Marked = true

	w1, w2 := s.join(waiter), s.join(plainWaiter)
	c := w1.Conference()
	if c.state != stateInactive || len(c.waiting) != 2 || !w1.playingMOH || w2.playingMOH || !w1.effectiveMuteLocked() {
		t.Fatalf("two waiters: state %d waiting %d moh %v/%v", c.state, len(c.waiting), w1.playingMOH, w2.playingMOH)
	}
	l1 := s.join(leader)
	if c.state != stateMultiMarked || len(c.waiting) != 0 || len(c.active) != 3 || w1.playingMOH || w1.effectiveMuteLocked() {
		t.Fatalf("leader in: state %d active %d waiting %d", c.state, len(c.active), len(c.waiting))
	}
	if len(l1.postJoin) != 1 {
		t.Error("the first marked user bringing waiters in should announce the beginning")
	}
	l2 := s.join(leader)
	l1.Leave()
	if removed(w1) || removed(w2) || c.state != stateMultiMarked {
		t.Fatal("a marked user left while another stays: nobody is removed")
	}
	l2.Leave()
	// The last marked user left: the end_marked waiter is removed with
	// ENDMARKED and goes back to the waiting list, as does the plain
	// waiter, who waits again (not removed).
	if !removed(w1) || w1.Result() != "ENDMARKED" || removed(w2) || c.state != stateInactive || len(c.waiting) != 2 {
		t.Fatalf("last leader left: w1 removed %v (%q), w2 removed %v, state %d, waiting %d",
			removed(w1), w1.Result(), removed(w2), c.state, len(c.waiting))
	}
	w1.Leave()
	if _, ok := s.svc.Find("", "9000"); !ok {
		t.Fatal("the conference ended with a waiter left")
	}
	w2.Leave()
	if _, ok := s.svc.Find("", "9000"); ok || c.state != stateEmpty {
		t.Fatal("the conference did not end with its last user")
	}
}

// TestLockedAndFull: a locked or full conference refuses all but admins.
func TestLockedAndFull(t *testing.T) {
	s := newStateEnv(t)
	def := *newUserProfile("")
	u := s.join(def)
	u.Conference().SetLocked(true)
	ch := s.reg.New(channel.Options{Tech: "Test", Endpoint: "x"})
	b, _ := s.svc.Profiles().Bridge("")
	if _, err := s.svc.Join(JoinRequest{Name: "9000", Ch: ch, Bridge: b, User: &def}); err == nil {
		t.Fatal("joined a locked conference")
	}
	admin := def
	admin.Admin = true
	if _, err := s.svc.Join(JoinRequest{Name: "9000", Ch: ch, Bridge: b, User: &admin}); err != nil {
		t.Fatalf("an admin may join a locked conference: %v", err)
	}
}
