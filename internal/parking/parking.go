// Package parking is call parking with res_parking's semantics: parking
// lots of numbered spaces (res_parking.conf), a parked call waiting in its
// space until someone retrieves it (ParkedCall), it times out (back to
// its parker, or to the lot's comeback context) or it hangs up, and the
// ParkedCall, UnParkedCall, ParkedCallTimeOut and ParkedCallGiveUp
// events. The Park and ParkedCall applications (internal/apps) drive it;
// AMI and the API read it through control.Parking. Each tenant has its
// own spaces in every lot.
package parking

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/entvoice/entvoice/internal/channel"
	"github.com/entvoice/entvoice/internal/control"
	"github.com/entvoice/entvoice/internal/dialplan"
	"github.com/entvoice/entvoice/internal/events"
	"github.com/entvoice/entvoice/internal/tenancy"
)

// Errors of Park and Retrieve.
var (
	ErrNoLot   = errors.New("parking: no such parking lot")
	ErrFull    = errors.New("parking: no free space in the lot")
	ErrNoSpace = errors.New("parking: no call parked in that space")
	ErrParked  = errors.New("parking: the channel is already parked")
)

// Resolution is how a parked call's wait ended.
type Resolution int

// Resolutions (parked_user resolution).
const (
	Unset Resolution = iota
	Retrieved
	TimedOut
	GaveUp
)

// Service holds the parked calls of a node.
type Service struct {
	cfg *Config

	mu    sync.Mutex
	lots  map[lotKey]*lotState
	byCh  map[*channel.Channel]*Parked
	clock func() time.Time
}

type lotKey struct{ tenant, name string }

// lotState is one tenant's spaces of a lot.
type lotState struct {
	cfg    *LotConfig
	spaces map[int]*Parked
	next   int // findslot=next: the space after the last one given
}

// New returns a Service for cfg (nil: DefaultConfig).
func New(cfg *Config) *Service {
	if cfg == nil {
		cfg = DefaultConfig()
	}
	return &Service{cfg: cfg, lots: map[lotKey]*lotState{}, byCh: map[*channel.Channel]*Parked{}, clock: time.Now}
}

// Config is the parking configuration in force.
func (s *Service) Config() *Config { return s.cfg }

// Parked is a call waiting in a space.
type Parked struct {
	svc    *Service
	Lot    *LotConfig
	Tenant string
	Space  int
	Ch     *channel.Channel
	// ParkerDial is the dial string of whoever parked the call
	// ("PJSIP/1001"), where a timed-out call goes back to.
	ParkerDial string
	// Comeback, when set, is where a timed-out call goes instead
	// ("context,exten,priority": Park's c option).
	Comeback string
	// Timeout is how long it may stay parked (0: forever).
	Timeout time.Duration
	Start   time.Time

	resolved chan struct{}
	released chan struct{} // closed by the parkee once its media is free
	relOnce  sync.Once

	// Under svc.mu.
	resolution Resolution
	retriever  *channel.Channel
}

// Resolved is closed once the parked call was retrieved, timed out or
// gave up.
func (p *Parked) Resolved() <-chan struct{} { return p.resolved }

// Resolution says how the wait ended (Unset while parked).
func (p *Parked) Resolution() Resolution {
	p.svc.mu.Lock()
	defer p.svc.mu.Unlock()
	return p.resolution
}

// Retriever is the channel that retrieved the call (nil if none).
func (p *Parked) Retriever() *channel.Channel {
	p.svc.mu.Lock()
	defer p.svc.mu.Unlock()
	return p.retriever
}

// Release tells the retriever that the parked channel's media is free
// (its music on hold stopped): the two may be bridged.
func (p *Parked) Release() { p.relOnce.Do(func() { close(p.released) }) }

// Released is closed by Release.
func (p *Parked) Released() <-chan struct{} { return p.released }

// ParkOptions are Park's.
type ParkOptions struct {
	// Lot is the lot's name ("": the channel's PARKINGLOT, else default).
	Lot string
	// ParkerDial is who parked the call ("": the parked channel itself).
	ParkerDial string
	// Comeback overrides where a timed-out call goes (c option).
	Comeback string
	// Timeout overrides the lot's parkingtime (t option; <0: the lot's).
	Timeout time.Duration
	// Randomize picks a random free space (R option).
	Randomize bool
}

// LotName is the lot a channel parks in when none is named: its
// PARKINGLOT variable, else default (find_channel_parking_lot_name).
func LotName(ch *channel.Channel, named string) string {
	if named != "" {
		return named
	}
	if v, ok := ch.GetVar("PARKINGLOT"); ok && v != "" {
		return v
	}
	return DefaultLot
}

// Park gives ch a space in a lot and publishes ParkedCall. The space is
// the channel's PARKINGEXTEN when it is a free space of the lot, else the
// first free one (or the next, findslot=next).
func (s *Service) Park(ch *channel.Channel, o ParkOptions) (*Parked, error) {
	name := LotName(ch, o.Lot)
	cfg, ok := s.cfg.Lot(name)
	if !ok {
		return nil, fmt.Errorf("%w: %s", ErrNoLot, name)
	}
	tenant := tenancy.Of(ch.Tenant())
	s.mu.Lock()
	if _, parked := s.byCh[ch]; parked {
		s.mu.Unlock()
		return nil, ErrParked
	}
	st := s.lot(tenant, cfg)
	space := 0
	if v, ok := ch.GetVar("PARKINGEXTEN"); ok && v != "" {
		var n int
		if _, err := fmt.Sscanf(v, "%d", &n); err == nil && n >= cfg.Start && n <= cfg.Stop && st.spaces[n] == nil {
			space = n
		}
	}
	if space == 0 {
		space = st.free(o.Randomize)
	}
	if space == 0 {
		s.mu.Unlock()
		return nil, fmt.Errorf("%w: %s", ErrFull, name)
	}
	timeout := time.Duration(cfg.ParkingTime) * time.Second
	if o.Timeout >= 0 {
		timeout = o.Timeout
	}
	parker := o.ParkerDial
	if parker == "" {
		parker = DialString(ch.Name)
	}
	p := &Parked{svc: s, Lot: cfg, Tenant: tenant, Space: space, Ch: ch, ParkerDial: parker, Comeback: o.Comeback,
		Timeout: timeout, Start: s.clock(), resolved: make(chan struct{}), released: make(chan struct{})}
	st.spaces[space] = p
	s.byCh[ch] = p
	s.mu.Unlock()
	p.publish(events.ParkedCall, nil)
	// A parked channel that hangs up gives its space up, whether or not
	// its Park() is running yet (a transferee parked by the transfer).
	ch.OnHangup(func() {
		p.Resolve(GaveUp)
		p.Done()
	})
	return p, nil
}

// Of returns the call parked for ch, if any (a blind transfer to a parking
// extension parks the transferee before its dialplan reaches Park()).
func (s *Service) Of(ch *channel.Channel) (*Parked, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.byCh[ch]
	return p, ok
}

// lot returns a tenant's state of a lot (under s.mu).
func (s *Service) lot(tenant string, cfg *LotConfig) *lotState {
	k := lotKey{tenant, cfg.Name}
	st := s.lots[k]
	if st == nil {
		st = &lotState{cfg: cfg, spaces: map[int]*Parked{}, next: cfg.Start}
		s.lots[k] = st
	}
	return st
}

// free finds a free space, 0 if none.
func (st *lotState) free(random bool) int {
	c := st.cfg
	n := c.Stop - c.Start + 1
	start := c.Start
	switch {
	case random:
		start = c.Start + int(time.Now().UnixNano()%int64(n))
	case c.FindSlot == FindNext:
		start = st.next
	}
	for i := 0; i < n; i++ {
		sp := c.Start + (start-c.Start+i)%n
		if st.spaces[sp] == nil {
			if c.FindSlot == FindNext {
				st.next = c.Start + (sp-c.Start+1)%n
			}
			return sp
		}
	}
	return 0
}

// Retrieve takes the call parked in space (<0: the first parked one) of a
// lot for retriever (ParkedCall): UnParkedCall, and the parked call's
// Park stops waiting.
func (s *Service) Retrieve(tenant, lot string, space int, retriever *channel.Channel) (*Parked, error) {
	cfg, ok := s.cfg.Lot(lot)
	if !ok {
		return nil, fmt.Errorf("%w: %s", ErrNoLot, lot)
	}
	s.mu.Lock()
	st := s.lot(tenancy.Of(tenant), cfg)
	var p *Parked
	if space < 0 {
		for _, sp := range st.sorted() {
			p = st.spaces[sp]
			break
		}
	} else {
		p = st.spaces[space]
	}
	if p == nil || p.resolution != Unset {
		s.mu.Unlock()
		return nil, ErrNoSpace
	}
	p.resolution, p.retriever = Retrieved, retriever
	s.freeLocked(p)
	s.mu.Unlock()
	p.publish(events.UnParkedCall, retriever)
	close(p.resolved)
	return p, nil
}

// Resolve ends a parked call's wait with r (TimedOut, GaveUp): its space
// is freed and ParkedCallTimeOut or ParkedCallGiveUp published. It
// reports false when the call was resolved already (retrieved meanwhile).
func (p *Parked) Resolve(r Resolution) bool {
	s := p.svc
	s.mu.Lock()
	if p.resolution != Unset {
		s.mu.Unlock()
		return false
	}
	p.resolution = r
	s.freeLocked(p)
	s.mu.Unlock()
	switch r {
	case TimedOut:
		p.publish(events.ParkedCallTimeOut, nil)
	case GaveUp:
		p.publish(events.ParkedCallGiveUp, nil)
	}
	close(p.resolved)
	return true
}

// Done forgets the channel's parked call once its Park has ended.
func (p *Parked) Done() {
	s := p.svc
	s.mu.Lock()
	if s.byCh[p.Ch] == p {
		delete(s.byCh, p.Ch)
	}
	s.mu.Unlock()
}

func (s *Service) freeLocked(p *Parked) {
	k := lotKey{p.Tenant, p.Lot.Name}
	if st := s.lots[k]; st != nil && st.spaces[p.Space] == p {
		delete(st.spaces, p.Space)
	}
}

func (st *lotState) sorted() []int {
	out := make([]int, 0, len(st.spaces))
	for sp := range st.spaces {
		out = append(out, sp)
	}
	sort.Ints(out)
	return out
}

// publish sends a parking event about the parkee (and the retriever).
func (p *Parked) publish(kind events.Kind, retriever *channel.Channel) {
	body := p.event()
	e := events.Event{Kind: kind, Parked: &body}
	if retriever != nil {
		p.Ch.PublishWith(e, retriever)
		return
	}
	p.Ch.Publish(e)
}

// event is the parked call's payload now: seconds left and parked.
func (p *Parked) event() events.Parked {
	d := p.svc.clock().Sub(p.Start)
	left := 0
	if p.Timeout > 0 {
		left = int(max(0, (p.Timeout-d+time.Second-1)/time.Second))
	}
	return events.Parked{ParkerDialString: p.ParkerDial, Lot: p.Lot.Name, Space: p.Space, Timeout: left, Duration: int(d / time.Second)}
}

// DialString turns a channel name into the dial string that reaches it
// (ast_channel_name_to_dial_string): "PJSIP/1001-00000001" is
// "PJSIP/1001".
func DialString(name string) string {
	if i := strings.LastIndexByte(name, '-'); i > strings.IndexByte(name, '/') {
		return name[:i]
	}
	return name
}

// Flat is a dial string flattened into an extension (flatten_dial_string):
// "/" becomes "_".
func Flat(dial string) string { return strings.ReplaceAll(dial, "/", "_") }

// ParkedCalls lists the parked calls scope sees, in a lot ("": all), by
// lot and space (the ParkedCalls action).
func (s *Service) ParkedCalls(_ context.Context, scope, lot string) ([]control.ParkedInfo, error) {
	if lot != "" {
		if _, ok := s.cfg.Lot(lot); !ok {
			return nil, fmt.Errorf("%w: %s", control.ErrNoLot, lot)
		}
	}
	s.mu.Lock()
	var list []*Parked
	for k, st := range s.lots {
		if (scope != "" && k.tenant != tenancy.Of(scope)) || (lot != "" && k.name != lot) {
			continue
		}
		for _, sp := range st.sorted() {
			list = append(list, st.spaces[sp])
		}
	}
	s.mu.Unlock()
	sort.SliceStable(list, func(i, j int) bool {
		if list[i].Lot.Name != list[j].Lot.Name {
			return list[i].Lot.Name < list[j].Lot.Name
		}
		return list[i].Space < list[j].Space
	})
	out := make([]control.ParkedInfo, 0, len(list))
	for _, p := range list {
		e := p.event()
		out = append(out, control.ParkedInfo{Parkee: *p.Ch.Snapshot(), ParkerDialString: e.ParkerDialString, Lot: e.Lot,
			Space: e.Space, Timeout: e.Timeout, Duration: e.Duration})
	}
	return out, nil
}

// ParkingLots lists the lots (the Parkinglots action).
func (s *Service) ParkingLots(context.Context, string) ([]control.LotInfo, error) {
	out := make([]control.LotInfo, 0, len(s.cfg.Lots))
	for _, l := range s.cfg.Lots {
		out = append(out, control.LotInfo{Name: l.Name, StartSpace: l.Start, StopSpace: l.Stop, Timeout: l.ParkingTime})
	}
	return out, nil
}

var _ control.Parking = (*Service)(nil)

// AddExtensions adds the extensions of the lots that have a parkext to a
// dialplan, as res_parking does (parking_lot_cfg_create_extensions):
// parkext => Park() (the lot's name with parkext_exclusive) and each
// space => ParkedCall(lot,space), in the lot's context (created when
// missing). A parkext the dialplan already runs Park() on is kept; any
// other existing extension is an error naming the lot's line.
func (s *Service) AddExtensions(plan *dialplan.Dialplan) error {
	for _, l := range s.cfg.Lots {
		if l.ParkExt == "" {
			continue
		}
		if !plan.HasContext(l.Context) {
			if err := plan.AddContext(l.Context); err != nil {
				return err
			}
		}
		where := fmt.Sprintf("parking lot [%s]", l.Name)
		if l.File != "" {
			where = fmt.Sprintf("%s:%d: %s", l.File, l.Line, where)
		}
		if st := plan.Steps(l.Context, l.ParkExt); len(st) > 0 {
			if !strings.EqualFold(st[0].App, "Park") || l.ParkExtExclusive {
				return fmt.Errorf("%s: parkext %s@%s already exists in the dialplan", where, l.ParkExt, l.Context)
			}
		} else {
			data := ""
			if l.ParkExtExclusive {
				data = l.Name
			}
			if err := plan.AddRow(l.Context, l.ParkExt, 1, "", "Park", data); err != nil {
				return err
			}
		}
		for sp := l.Start; sp <= l.Stop; sp++ {
			x := fmt.Sprint(sp)
			if len(plan.Steps(l.Context, x)) > 0 {
				return fmt.Errorf("%s: space %s@%s already exists in the dialplan", where, x, l.Context)
			}
			if err := plan.AddRow(l.Context, x, 1, "", "ParkedCall", l.Name+","+x); err != nil {
				return err
			}
		}
	}
	return nil
}
