package channel

import "github.com/entvoice/entvoice/internal/tenancy"

// Allowed reports whether every service in s is switched on for the
// channel. The set is given when the channel is created (Options.Services)
// and replaced by SetServices when a realtime change lands mid-call.
func (c *Channel) Allowed(s tenancy.Service) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.services.Has(s)
}

// SetServices replaces the channel's service set (the node does this when
// a realtime change lands, so a switched-off service fails on next use).
func (c *Channel) SetServices(s tenancy.Service) {
	c.mu.Lock()
	c.services = s
	c.mu.Unlock()
}

// Services returns the channel's service set.
func (c *Channel) Services() tenancy.Service {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.services
}
