package channel

import (
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/entvoice/entvoice/internal/events"
	"github.com/entvoice/entvoice/internal/tenancy"
)

// ErrHangup is returned by operations on a channel that has been hung up.
var ErrHangup = errors.New("channel hung up")

// Registry creates channels with Asterisk-style names and ids and keeps the
// live ones (core show channels, Hangup by name).
type Registry struct {
	systemName string
	bus        *events.Bus
	log        *slog.Logger
	nameSeq    atomic.Uint32
	idSeq      atomic.Uint64
	epoch      int64

	mu      sync.RWMutex
	live    map[string]*Channel // by name
	created map[string]int      // channels created since start, by tenant
}

// NewRegistry returns a registry. systemName, when set, prefixes uniqueids
// as Asterisk's systemname does ("node1-1700000000.1").
func NewRegistry(systemName string, bus *events.Bus, log *slog.Logger) *Registry {
	return &Registry{systemName: systemName, bus: bus, log: log, epoch: time.Now().Unix(), live: map[string]*Channel{}, created: map[string]int{}}
}

// SystemName is the node's system_name ("" when not set).
func (r *Registry) SystemName() string { return r.systemName }

// Bus is the event bus channels publish on.
func (r *Registry) Bus() *events.Bus { return r.bus }

// New creates a channel and publishes Newchannel.
func (r *Registry) New(o Options) *Channel {
	// Asterisk names channels Tech/endpoint-%08x with a global counter and
	// uniqueids "<startup epoch>.<counter>".
	name := o.Name
	if name == "" {
		name = r.NextName(o.Tech, o.Endpoint)
	}
	uid := fmt.Sprintf("%d.%d", r.epoch, r.idSeq.Add(1))
	if r.systemName != "" {
		uid = r.systemName + "-" + uid
	}
	c := &Channel{
		Name:        name,
		UniqueID:    uid,
		Tech:        o.Tech,
		Endpoint:    o.Endpoint,
		Direction:   o.Direction,
		Created:     time.Now(),
		registry:    r,
		done:        make(chan struct{}),
		driver:      o.Driver,
		state:       o.State,
		linkedID:    o.LinkedID,
		callerNum:   o.CallerNum,
		callerName:  o.CallerName,
		language:    o.Language,
		accountCode: o.AccountCode,
		tenant:      o.Tenant,
		context:     o.Context,
		exten:       o.Exten,
		priority:    1,
		groups:      o.Groups,
	}
	c.services = tenancy.AllServices &^ o.Denied
	if c.linkedID == "" {
		c.linkedID = uid
	}
	if c.language == "" {
		c.language = "en"
	}
	r.mu.Lock()
	r.live[name] = c
	r.created[tenancy.Of(o.Tenant)]++
	r.mu.Unlock()
	c.publish(events.Event{Kind: events.Newchannel})
	return c
}

// Created counts the channels created since the registry started: a
// tenant's ("" or "default" the default tenant's), or all of them for
// "*" (Asterisk's ast_processed_calls).
func (r *Registry) Created(tenant string) int {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if tenant == "*" {
		n := 0
		for _, c := range r.created {
			n += c
		}
		return n
	}
	return r.created[tenancy.Of(tenant)]
}

// NextName returns a new Tech/endpoint-%08x name from the registry's
// counter (Local channels add ;1 and ;2 to it).
func (r *Registry) NextName(tech, endpoint string) string {
	return fmt.Sprintf("%s/%s-%08x", tech, endpoint, r.nameSeq.Add(1))
}

// Remove forgets a channel that has been destroyed.
func (r *Registry) Remove(c *Channel) {
	r.mu.Lock()
	delete(r.live, c.Name)
	r.mu.Unlock()
}

// Get finds a live channel by name.
func (r *Registry) Get(name string) (*Channel, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	c, ok := r.live[name]
	return c, ok
}

// List returns the live channels ordered by creation.
func (r *Registry) List() []*Channel {
	r.mu.RLock()
	out := make([]*Channel, 0, len(r.live))
	for _, c := range r.live {
		out = append(out, c)
	}
	r.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool { return out[i].Created.Before(out[j].Created) })
	return out
}

// Count is the number of live channels.
func (r *Registry) Count() int {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return len(r.live)
}

// NewBridgeID is a random UUID (RFC 4122 version 4), as Asterisk names
// bridges (Dial's two-party bridges, conferences).
func NewBridgeID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}
