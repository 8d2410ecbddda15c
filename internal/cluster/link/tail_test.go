package link

import (
	"testing"

	"github.com/entvoice/entvoice/internal/cdr"
)

// TestCDRTail: the tail ships only what continues exactly where shipping
// is; anything else is read from the store.
func TestCDRTail(t *testing.T) {
	rows := func(ids ...int64) []cdr.Row {
		out := make([]cdr.Row, len(ids))
		for i, id := range ids {
			out[i] = cdr.Row{ID: id}
		}
		return out
	}
	tl := &cdrTail{}
	tl.add(rows(5, 6, 7, 9))
	if _, ok := tl.after(3, 10); ok {
		t.Error("a tail starting at 5 continued shipping at 4")
	}
	got, ok := tl.after(4, 10)
	if !ok || len(got) != 3 || got[2].ID != 7 {
		t.Errorf("after 4: %v %v, want 5..7 (9 is past a gap)", got, ok)
	}
	tl.add(rows(8, 3)) // not after 9: left to the store
	if got, ok := tl.after(7, 1); ok {
		t.Errorf("after 7: %v; want 8 read from the store", got)
	}
	if got, ok := tl.after(8, 5); !ok || len(got) != 1 || got[0].ID != 9 {
		t.Errorf("after 8: %v %v, want 9", got, ok)
	}
	tl.add(rows(10))
	if _, ok := tl.after(20, 10); ok {
		t.Error("a tail behind shipping was used")
	}
}
