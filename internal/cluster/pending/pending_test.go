package pending

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestTable(t *testing.T) {
	var tab Table[string]
	ctx := context.Background()

	a, b := tab.Open(), tab.Open()
	if a.ID == b.ID {
		t.Fatalf("two requests share id %d", a.ID)
	}
	// Replies are matched by id, in any order.
	if !tab.Deliver(b.ID, "to b") || !tab.Deliver(a.ID, "to a") {
		t.Fatal("a waiting request did not take its reply")
	}
	if v, err := a.Wait(ctx, nil); v != "to a" || err != nil {
		t.Errorf("a got %q, %v", v, err)
	}
	if v, err := b.Wait(ctx, nil); v != "to b" || err != nil {
		t.Errorf("b got %q, %v", v, err)
	}
	// A second reply, or one for an id nobody asked, is dropped.
	if tab.Deliver(a.ID, "again") || tab.Deliver(99, "stray") {
		t.Error("a reply nobody waits for was taken")
	}
	a.Close()
	b.Close()

	// A request given up (Close) drops its late reply.
	c := tab.Open()
	c.Close()
	if tab.Deliver(c.ID, "late") {
		t.Error("a closed request took a reply")
	}

	// The stream ends: the waiter learns at once.
	d := tab.Open()
	defer d.Close()
	gone := make(chan struct{})
	close(gone)
	if _, err := d.Wait(ctx, gone); !errors.Is(err, ErrGone) {
		t.Errorf("wait on an ended stream = %v, want ErrGone", err)
	}
	// The caller's deadline.
	tctx, cancel := context.WithTimeout(ctx, 10*time.Millisecond)
	defer cancel()
	if _, err := d.Wait(tctx, nil); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("wait past the deadline = %v", err)
	}
}
