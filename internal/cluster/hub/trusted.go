package hub

import (
	"context"
	"maps"
	"slices"
	"sync"
)

// trustedNodes is the list of enrolled, unrevoked nodes and their
// certificate serials that every linked node holds to check the nodes
// that call it (link.PeerTrust): in the Welcome of its link, then, as soon
// as the list changes (an enrolment, a revocation, a renewal), in a
// heartbeat of its own. A node enrolled a moment ago is thus trusted by
// its peers by the time it is linked, and a revoked one is cut off at
// once: its own link is cut and its peers refuse it.
type trustedNodes struct {
	reg *Registry

	mu    sync.Mutex
	nodes map[string][]string // nil until read
	subs  wakeSet             // the links
}

// refresh reads the list and wakes the links when it changed.
func (t *trustedNodes) refresh(ctx context.Context) error {
	nodes, err := t.reg.Trusted(ctx)
	if err != nil {
		return err
	}
	t.mu.Lock()
	same := t.nodes != nil && maps.EqualFunc(t.nodes, nodes, slices.Equal)
	if !same {
		t.nodes = nodes
	}
	t.mu.Unlock()
	if !same {
		t.subs.wake()
	}
	return nil
}

// current is the list as last read; callers do not modify it.
func (t *trustedNodes) current() map[string][]string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.nodes
}
