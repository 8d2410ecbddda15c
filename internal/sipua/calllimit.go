package sipua

import (
	"errors"
	"fmt"
	"sync"
)

// ErrEndpointBusy: the endpoint is at its max_calls.
var ErrEndpointBusy = errors.New("endpoint at its max_calls")

// callCounter counts each endpoint's live calls, both directions, against
// its MaxCalls (a tenant's max_calls is tenancy.Limits').
type callCounter struct {
	mu sync.Mutex
	n  map[string]int
}

func endpointKey(e *Endpoint) string {
	if e.Trunk {
		return "trunk:" + e.Name
	}
	return "user:" + e.AOR()
}

// acquire counts one more call of e unless it is at its limit; release
// may be called more than once.
func (c *callCounter) acquire(e *Endpoint) (release func(), err error) {
	if e.MaxCalls <= 0 {
		return func() {}, nil
	}
	key := endpointKey(e)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n[key] >= e.MaxCalls {
		return nil, fmt.Errorf("%w: %s (max_calls %d)", ErrEndpointBusy, e.Name, e.MaxCalls)
	}
	if c.n == nil {
		c.n = map[string]int{}
	}
	c.n[key]++
	var once sync.Once
	return func() {
		once.Do(func() {
			c.mu.Lock()
			defer c.mu.Unlock()
			if c.n[key]--; c.n[key] <= 0 {
				delete(c.n, key)
			}
		})
	}, nil
}

// EndpointCalls is the number of live calls of a user (by tenant and
// name) or trunk (tenant "").
func (s *Server) EndpointCalls(tenant, name string) int {
	d := s.dir.Load()
	e, ok := d.UserIn(tenant, name)
	if !ok {
		if e, ok = d.byName[name]; !ok {
			return 0
		}
	}
	s.calls.mu.Lock()
	defer s.calls.mu.Unlock()
	return s.calls.n[endpointKey(e)]
}
