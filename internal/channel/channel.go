package channel

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/entvoice/entvoice/internal/events"
	"github.com/entvoice/entvoice/internal/media"
	"github.com/entvoice/entvoice/internal/q850"
	"github.com/entvoice/entvoice/internal/tenancy"
)

// Indication is a call-progress signal sent to the caller on an unanswered
// inbound leg (Asterisk's ast_indicate).
type Indication int

// Indications.
const (
	IndicateRinging Indication = iota
	IndicateProgress
	IndicateBusy
	IndicateCongestion
)

// Driver is the technology side of a channel: a SIP leg.
type Driver interface {
	// Indicate sends a provisional response (180, 183 with SDP).
	Indicate(ind Indication) error
	// Answer answers an inbound leg (200 OK with the SDP answer).
	Answer(ctx context.Context) error
	// Hangup ends the leg with a Q.850 cause: BYE when answered, a final
	// error response on an unanswered inbound leg, CANCEL on an unanswered
	// outbound leg. It must be idempotent and not block on the network.
	Hangup(cause int)
	// Media is the leg's RTP session (nil before SDP is known).
	Media() *media.Session
}

// Direction tells whether the channel was created by an incoming call or by
// the node calling out (Dial, Originate).
type Direction int

// Directions.
const (
	Inbound Direction = iota
	Outbound
)

// Channel is one leg of a call.
type Channel struct {
	// Immutable after creation.
	Name      string // PJSIP/1001-00000001
	UniqueID  string
	Tech      string // PJSIP
	Endpoint  string // 1001, carrier1
	Direction Direction
	Created   time.Time

	registry *Registry
	done     chan struct{}

	mu            sync.Mutex
	driver        Driver
	state         State
	linkedID      string
	callerNum     string
	callerName    string
	connectedNum  string
	connectedName string
	language      string
	accountCode   string
	tenant        string
	services      tenancy.Service
	context       string
	exten         string
	priority      int
	vars          map[string]string
	answeredAt    time.Time
	hangupCause   int
	hungUp        bool
	lastApp       string
	lastData      string
	peer          *Channel
	onHangup      []func()
	musicClass    string
	hold          holdState
	groups        Groups
	dialContext   string
	dialExten     string
	pickup        pickupState
}

// Options describe a channel to create.
type Options struct {
	Tech, Endpoint string
	Direction      Direction
	LinkedID       string // empty: the channel starts a new call (linkedid = uniqueid)
	CallerNum      string
	CallerName     string
	Language       string
	AccountCode    string
	Tenant         string
	// Denied are the switchable services the channel may not use (the
	// tenant's and the user's switches); zero allows every service.
	Denied         tenancy.Service
	Context, Exten string
	Driver         Driver
	State          State
	// Name, when set, is the channel name (Local channel halves, named
	// with Registry.NextName); empty: Tech/Endpoint-%08x.
	Name string
	// Groups are the endpoint's call and pickup groups.
	Groups Groups
}

// Log returns a logger that carries the channel name. It is built on
// demand: logging is rare on the call path, a handler clone per call is not.
func (c *Channel) Log() *slog.Logger { return c.registry.log.With("channel", c.Name) }

// Done is closed when the channel has been hung up, by either side.
func (c *Channel) Done() <-chan struct{} { return c.done }

// Driver returns the technology driver.
func (c *Channel) Driver() Driver {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.driver
}

// SetDriver attaches the technology driver (set once the SIP leg exists).
func (c *Channel) SetDriver(d Driver) {
	c.mu.Lock()
	c.driver = d
	c.mu.Unlock()
}

// Media returns the channel's RTP session, or nil.
func (c *Channel) Media() *media.Session {
	d := c.Driver()
	if d == nil {
		return nil
	}
	return d.Media()
}

// State returns the channel state.
func (c *Channel) State() State {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.state
}

// SetState changes the state and publishes Newstate.
func (c *Channel) SetState(s State) {
	c.mu.Lock()
	if c.state == s {
		c.mu.Unlock()
		return
	}
	c.state = s
	if s == StateUp && c.answeredAt.IsZero() {
		c.answeredAt = time.Now()
	}
	c.mu.Unlock()
	c.publish(events.Event{Kind: events.Newstate})
}

// AnsweredAt is when the channel went Up (zero if never).
func (c *Channel) AnsweredAt() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.answeredAt
}

// Answer answers the channel if it is not up yet (Asterisk's ast_answer).
func (c *Channel) Answer(ctx context.Context) error {
	if c.State() == StateUp {
		return nil
	}
	if c.IsHungUp() {
		return ErrHangup
	}
	d := c.Driver()
	if d == nil {
		return ErrHangup
	}
	if err := d.Answer(ctx); err != nil {
		return err
	}
	c.SetState(StateUp)
	return nil
}

// Indicate sends a progress indication on an unanswered channel.
func (c *Channel) Indicate(ind Indication) error {
	if c.State() == StateUp {
		return nil
	}
	d := c.Driver()
	if d == nil {
		return ErrHangup
	}
	if err := d.Indicate(ind); err != nil {
		return err
	}
	switch ind {
	case IndicateRinging:
		if c.Direction == Inbound {
			c.SetState(StateRinging)
		}
	case IndicateBusy:
		c.SetState(StateBusy)
	}
	return nil
}

// Hangup hangs the channel up with cause; the first hangup wins. Cause 0
// keeps a cause recorded earlier (SetHangupCause) or means Normal Clearing.
func (c *Channel) Hangup(cause int) {
	c.mu.Lock()
	if c.hungUp {
		c.mu.Unlock()
		return
	}
	c.hungUp = true
	if cause == 0 {
		cause = c.hangupCause
	}
	if cause == 0 {
		cause = q850.NormalClearing
	}
	c.hangupCause = cause
	d := c.driver
	c.mu.Unlock()
	// A hangup decided on this side is Asterisk's ast_softhangup, which
	// reports SoftHangupRequest with the cause.
	c.publish(events.Event{Kind: events.SoftHangupRequest, Cause: cause})
	if d != nil {
		d.Hangup(cause)
	}
	c.hungUpNow()
}

// RemoteHangup records that the far end hung up (BYE, CANCEL); no signalling
// goes back. The first cause wins.
func (c *Channel) RemoteHangup(cause int) {
	c.mu.Lock()
	if c.hungUp {
		c.mu.Unlock()
		return
	}
	c.hungUp = true
	c.hangupCause = cause
	c.mu.Unlock()
	// The far end hanging up is Asterisk's ast_queue_hangup: HangupRequest
	// without a cause.
	c.publish(events.Event{Kind: events.HangupRequest})
	c.hungUpNow()
}

// hungUpNow marks the channel gone and runs the OnHangup funcs, once.
func (c *Channel) hungUpNow() {
	close(c.done)
	c.mu.Lock()
	fs := c.onHangup
	c.onHangup = nil
	c.mu.Unlock()
	for _, f := range fs {
		f()
	}
}

// OnHangup runs f once the channel has hung up, by either side (at once
// if it already has). f must not block.
func (c *Channel) OnHangup(f func()) {
	c.mu.Lock()
	if !c.hungUp {
		c.onHangup = append(c.onHangup, f)
		c.mu.Unlock()
		return
	}
	c.mu.Unlock()
	// Hung up: either hungUpNow ran (and took the list) or is about to,
	// after close(done); wait for that so f never runs before the
	// channel reports itself gone.
	<-c.done
	f()
}

// IsHungUp reports whether the channel has been hung up.
func (c *Channel) IsHungUp() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// HangupRequested reports whether the channel is hanging up or has hung
// up: true from the moment Hangup or RemoteHangup is called, before Done
// is closed.
func (c *Channel) HangupRequested() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.hungUp
}

// HangupCause is the cause the channel was hung up with (0 while up).
func (c *Channel) HangupCause() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.hangupCause
}

// SetHangupCause overrides the recorded cause (the dialplan's HANGUPCAUSE).
func (c *Channel) SetHangupCause(cause int) {
	c.mu.Lock()
	c.hangupCause = cause
	c.mu.Unlock()
}

// LinkedID is the uniqueid of the oldest channel of this call.
func (c *Channel) LinkedID() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.linkedID
}

// SetLinkedID joins the channel to another call's linkedid.
func (c *Channel) SetLinkedID(id string) {
	c.mu.Lock()
	c.linkedID = id
	c.mu.Unlock()
}

// CallerID returns the caller number and name.
func (c *Channel) CallerID() (num, name string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.callerNum, c.callerName
}

// SetCallerID changes the caller number and name.
func (c *Channel) SetCallerID(num, name string) {
	c.mu.Lock()
	c.callerNum, c.callerName = num, name
	c.mu.Unlock()
}

// ConnectedLine returns the connected line number and name.
func (c *Channel) ConnectedLine() (num, name string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.connectedNum, c.connectedName
}

// SetConnectedLine changes the connected line.
func (c *Channel) SetConnectedLine(num, name string) {
	c.mu.Lock()
	c.connectedNum, c.connectedName = num, name
	c.mu.Unlock()
}

// Language is the channel's prompt language.
func (c *Channel) Language() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.language
}

// SetLanguage changes the prompt language.
func (c *Channel) SetLanguage(l string) {
	c.mu.Lock()
	c.language = l
	c.mu.Unlock()
}

// AccountCode is the CDR account code.
func (c *Channel) AccountCode() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.accountCode
}

// SetAccountCode changes the CDR account code.
func (c *Channel) SetAccountCode(a string) {
	c.mu.Lock()
	c.accountCode = a
	c.mu.Unlock()
}

// Tenant is the tenant the channel belongs to ("" for the default tenant).
func (c *Channel) Tenant() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.tenant
}

// MusicClass is the channel's music-on-hold class (CHANNEL(musicclass));
// "" lets the application choose.
func (c *Channel) MusicClass() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.musicClass
}

// SetMusicClass sets the channel's music-on-hold class.
func (c *Channel) SetMusicClass(class string) {
	c.mu.Lock()
	c.musicClass = class
	c.mu.Unlock()
}

// Location returns the dialplan position.
func (c *Channel) Location() (context, exten string, priority int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.context, c.exten, c.priority
}

// SetLocation moves the channel in the dialplan.
func (c *Channel) SetLocation(context, exten string, priority int) {
	c.mu.Lock()
	c.context, c.exten, c.priority = context, exten, priority
	c.mu.Unlock()
}

// SetApp records the application being executed (CDR lastapp/lastdata) and
// publishes Newexten.
func (c *Channel) SetApp(app, data string) {
	c.mu.Lock()
	c.lastApp, c.lastData = app, data
	c.mu.Unlock()
	if c.registry.bus.HasSubscribers() {
		c.publish(events.Event{Kind: events.Newexten, App: app, AppData: data})
	}
}

// LastApp returns the last application executed and its data.
func (c *Channel) LastApp() (app, data string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lastApp, c.lastData
}

// Peer is the channel this one is bridged to, or nil.
func (c *Channel) Peer() *Channel {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.peer
}

// SetPeer records the bridged peer.
func (c *Channel) SetPeer(p *Channel) {
	c.mu.Lock()
	c.peer = p
	c.mu.Unlock()
}

// GetVar returns a channel variable. Inheritable variables set as _X or __X
// are found by their bare name, as in Asterisk.
func (c *Channel) GetVar(name string) (string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if v, ok := c.vars[name]; ok {
		return v, true
	}
	if v, ok := c.vars["_"+name]; ok {
		return v, true
	}
	v, ok := c.vars["__"+name]
	return v, ok
}

// SetVar sets a channel variable (an empty value with unset=true removes
// it) and publishes VarSet.
func (c *Channel) SetVar(name, value string) {
	c.mu.Lock()
	if c.vars == nil {
		c.vars = map[string]string{}
	}
	bare := strings.TrimLeft(name, "_")
	if bare != name {
		// Setting _X replaces a plain X and vice versa.
		delete(c.vars, bare)
		delete(c.vars, "_"+bare)
		delete(c.vars, "__"+bare)
	} else {
		if _, ok := c.vars["_"+name]; ok {
			c.vars["_"+name] = value
			c.mu.Unlock()
			c.publishVar(name, value)
			return
		}
		if _, ok := c.vars["__"+name]; ok {
			c.vars["__"+name] = value
			c.mu.Unlock()
			c.publishVar(name, value)
			return
		}
	}
	c.vars[name] = value
	c.mu.Unlock()
	c.publishVar(bare, value)
}

// UnsetVar removes a variable (Set(X=) in Asterisk keeps an empty value;
// this is for internal cleanup).
func (c *Channel) UnsetVar(name string) {
	c.mu.Lock()
	delete(c.vars, name)
	delete(c.vars, "_"+name)
	delete(c.vars, "__"+name)
	c.mu.Unlock()
}

func (c *Channel) publishVar(name, value string) {
	if c.registry.bus.HasSubscribers() {
		c.publish(events.Event{Kind: events.VarSet, Variable: name, Value: value})
	}
}

// Vars returns a copy of the variables (with their inheritance prefixes).
func (c *Channel) Vars() map[string]string {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string]string, len(c.vars))
	for k, v := range c.vars {
		out[k] = v
	}
	return out
}

// InheritFrom copies inheritable variables from parent as Asterisk does for
// a new outbound channel: _X arrives as X, __X stays __X.
func (c *Channel) InheritFrom(parent *Channel) {
	parent.mu.Lock()
	inherit := map[string]string{}
	for k, v := range parent.vars {
		switch {
		case strings.HasPrefix(k, "__"):
			inherit[k] = v
		case strings.HasPrefix(k, "_"):
			inherit[k[1:]] = v
		}
	}
	parent.mu.Unlock()
	c.mu.Lock()
	if c.vars == nil {
		c.vars = map[string]string{}
	}
	for k, v := range inherit {
		c.vars[k] = v
	}
	c.mu.Unlock()
}

// CopyVarsFrom copies every variable of other, with its inheritance
// prefix, as Asterisk's local_call copies the variables of a Local
// channel's ;1 to its ;2 (no VarSet events, as there).
func (c *Channel) CopyVarsFrom(other *Channel) {
	vars := other.Vars()
	c.mu.Lock()
	if c.vars == nil {
		c.vars = make(map[string]string, len(vars))
	}
	for k, v := range vars {
		c.vars[k] = v
	}
	c.mu.Unlock()
}

// Snapshot captures the channel block fields for an event.
func (c *Channel) Snapshot() *events.Snapshot {
	c.mu.Lock()
	defer c.mu.Unlock()
	return &events.Snapshot{
		Channel:          c.Name,
		State:            int(c.state),
		StateDesc:        c.state.String(),
		CallerIDNum:      c.callerNum,
		CallerIDName:     c.callerName,
		ConnectedLineNum: c.connectedNum,
		ConnectedLineNam: c.connectedName,
		Language:         c.language,
		AccountCode:      c.accountCode,
		Context:          c.context,
		Exten:            c.exten,
		Priority:         c.priority,
		UniqueID:         c.UniqueID,
		LinkedID:         c.linkedID,
		Tenant:           c.tenant,
	}
}

// Publish sends an event about this channel on the node's bus.
func (c *Channel) Publish(e events.Event) { c.publish(e) }

// PublishWith publishes a two-channel event (DialBegin, DialState...)
// about c with dest as its Dest block; both snapshots are taken only when
// someone listens.
func (c *Channel) PublishWith(e events.Event, dest *Channel) {
	if !c.registry.bus.HasSubscribers() {
		return
	}
	e.Dest = dest.Snapshot()
	c.publish(e)
}

func (c *Channel) publish(e events.Event) {
	if !c.registry.bus.HasSubscribers() {
		return
	}
	e.Channel = c.Snapshot()
	c.registry.bus.Publish(e)
}
