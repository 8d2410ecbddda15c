package node

import (
	"slices"
	"testing"

	"github.com/entvoice/entvoice/internal/control"
)

// TestApplicationsList: the applications central checks extension rows
// against (control.Applications) are exactly those a node registers.
func TestApplicationsList(t *testing.T) {
	n := testNode(t, nil)
	got, want := n.PBX.Apps(), control.Applications()
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("the node registers\n%q\ncontrol.Applications lists\n%q", got, want)
	}
}
