package events

import "testing"

func TestPublishFanOutAndDrop(t *testing.T) {
	b := New()
	fast := b.Subscribe(10, nil)
	slow := b.Subscribe(1, func(e *Event) bool { return e.Kind == Hangup })
	defer fast.Close()
	defer slow.Close()
	for i := 0; i < 3; i++ {
		b.Publish(Event{Kind: Hangup, Cause: 16})
	}
	b.Publish(Event{Kind: Newchannel})
	if got := len(fast.C); got != 4 {
		t.Fatalf("fast subscriber got %d events, want 4", got)
	}
	if got := len(slow.C); got != 1 {
		t.Fatalf("slow subscriber queued %d, want 1", got)
	}
	if slow.Dropped() != 2 {
		t.Fatalf("slow dropped %d, want 2", slow.Dropped())
	}
	e := <-fast.C
	if e.Time.IsZero() {
		t.Fatal("Publish did not stamp the time")
	}
}

func TestCloseUnsubscribes(t *testing.T) {
	b := New()
	s := b.Subscribe(1, nil)
	s.Close()
	s.Close() // idempotent
	if b.HasSubscribers() {
		t.Fatal("closed subscription still registered")
	}
	b.Publish(Event{Kind: Hangup}) // must not panic on a closed channel
}
