package hub

import (
	"context"

	"github.com/entvoice/entvoice/internal/cluster/wire"
)

// Internals the tests of package hub_test look at.

// Linked is how many nodes are linked to this Remote's hub.
func (r *Remote) Linked() int { return len(r.linked()) }

// Subscriptions is how many other instances' event streams the hub
// follows now.
func (h *Hub) Subscriptions() int64 { return h.pev.up.Load() }

// CutSubscribers ends the event streams the hub serves to other
// instances (as a network flap would).
func (h *Hub) CutSubscribers() {
	h.pev.mu.Lock()
	defer h.pev.mu.Unlock()
	for _, s := range h.pev.served {
		s.cancel()
	}
}

// SubscribeOnce subscribes once to the node events of the instance at
// addr and returns why it ended.
func (h *Hub) SubscribeOnce(ctx context.Context, id, addr string) error {
	return h.pev.once(ctx, id, addr)
}

// Intake stores a batch of a node's CDRs as its link would.
func (h *Hub) Intake(ctx context.Context, node string, batch []wire.ShippedCDR) (int64, error) {
	return h.intake(ctx, node, batch)
}
