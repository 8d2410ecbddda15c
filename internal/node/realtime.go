package node

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/entvoice/entvoice/internal/acl"
	"github.com/entvoice/entvoice/internal/channel"
	"github.com/entvoice/entvoice/internal/dialplan"
	"github.com/entvoice/entvoice/internal/media"
	"github.com/entvoice/entvoice/internal/pbx"
	"github.com/entvoice/entvoice/internal/provision"
	"github.com/entvoice/entvoice/internal/queue"
	"github.com/entvoice/entvoice/internal/sipauth"
	"github.com/entvoice/entvoice/internal/sipua"
	"github.com/entvoice/entvoice/internal/speech"
	"github.com/entvoice/entvoice/internal/tenancy"
	"github.com/entvoice/entvoice/internal/voicemail"
)

// changesBatch is how many changes one Changes call fetches.
const changesBatch = 1000

// retryDelay is how long the node waits before asking a failing Source
// again; it keeps serving calls from what it has meanwhile.
const retryDelay = time.Second

// realtime applies realtime provisioning to a running node: it takes a
// Snapshot of the Source, then on each Notify fetches the Changes after
// the revision it holds and applies them (a new Snapshot on
// provision.ErrResync). Static YAML users and trunks and extensions.conf
// are merged with the realtime tenants, users and extension rows into a
// new sipua.Directory and a new dialplan, swapped in atomically; calls
// pick them up at their next INVITE or dialplan step (Asterisk realtime's
// promise, pushed rather than queried per call).
//
// Merge rules, as Asterisk resolves static configuration and realtime:
// a static user shadows a realtime user of the default tenant with the
// same name, and a static (context, exten, priority) shadows the same
// realtime row (realtime rows are reached through a switch, after the
// context's own extensions). Shadowed objects are logged and skipped.
type realtime struct {
	src          provision.Source
	sip          *sipua.Server
	vm           *voicemail.Service
	limits       *tenancy.Limits
	pbx          *pbx.PBX
	channels     *channel.Registry
	log          *slog.Logger
	static       *dialplan.Dialplan
	staticEPs    []*sipua.Endpoint
	staticByName map[string]bool

	// Only the loop goroutine touches the fields below (and Start, before
	// the loop runs).
	have    bool
	rev     int64
	tenants map[string]provision.Tenant
	users   map[int64]*rtUser // by user id
	// shared holds one copy of what many endpoints have alike (codec
	// lists, tenant-qualified context names), so that 100,000 users do
	// not carry 100,000 copies of the same few values.
	shared map[string]any
	rows   map[string]map[int64]provision.Extension
	rowCtx map[int64]string // row id -> node context name
	plan   *dialplan.Dialplan
	// grammars are the tenants' speech grammars (grammars.go), parsed
	// and put in force through speech.
	grammars     map[string]map[string]*speech.Grammar
	dirtyGrammar bool
	speech       *grammarTable

	dirtyCtx   map[string]bool
	dirtyUsers bool // the Directory must be rebuilt
	dirtySvc   bool // live channels' services may have changed

	// Call queues (queues.go).
	queues   *rtQueues
	queueEng *queue.Engine
	// Voicemail mailboxes by tenant/context/mailbox.
	mailboxes      map[string]provision.Mailbox
	dirtyMailboxes bool

	inForce atomic.Int64 // revision in force
	// applied is closed and replaced each time a revision is put in force
	// (for WaitRevision).
	mu      sync.Mutex
	applied chan struct{}

	// reloads hands the loop a new static dialplan (extensions.conf
	// reloaded): the realtime rows are merged over it again.
	reloads chan staticReload

	cancel context.CancelFunc
	done   chan struct{}
}

type staticReload struct {
	plan *dialplan.Dialplan
	done chan struct{}
}

func newRealtime(src provision.Source, n *Node, static *dialplan.Dialplan, staticEPs []*sipua.Endpoint) *realtime {
	r := &realtime{
		src: src, sip: n.SIP, vm: n.Voicemail, limits: n.limits, pbx: n.PBX, channels: n.Channels, log: n.log.With("component", "realtime"),
		speech: n.speech.grammars,
		static: static, staticEPs: staticEPs, staticByName: map[string]bool{},
		applied: make(chan struct{}), reloads: make(chan staticReload),
		queues: newRTQueues(), queueEng: n.Queues,
	}
	for _, e := range staticEPs {
		if !e.Trunk {
			r.staticByName[e.Name] = true
		}
	}
	r.reset()
	return r
}

func (r *realtime) reset() {
	r.tenants = map[string]provision.Tenant{}
	r.users = map[int64]*rtUser{}
	r.rows = map[string]map[int64]provision.Extension{}
	r.rowCtx = map[int64]string{}
	r.dirtyCtx = map[string]bool{}
	r.grammars = map[string]map[string]*speech.Grammar{}
	r.mailboxes = map[string]provision.Mailbox{}
}

// start takes the first snapshot (a failure is logged: the node serves its
// static configuration and keeps trying) and runs the loop until stop.
func (r *realtime) start(ctx context.Context) {
	ctx, r.cancel = context.WithCancel(ctx)
	r.done = make(chan struct{})
	ok := r.sync(ctx)
	go r.loop(ctx, ok)
}

func (r *realtime) stop() {
	if r.cancel != nil {
		r.cancel()
		<-r.done
	}
}

func (r *realtime) loop(ctx context.Context, ok bool) {
	defer close(r.done)
	var retry <-chan time.Time
	var timer *time.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	if !ok {
		timer = time.NewTimer(retryDelay)
		retry = timer.C
	}
	notify := r.src.Notify()
	for {
		select {
		case <-ctx.Done():
			return
		case <-notify:
		case <-retry:
		case rl := <-r.reloads:
			r.static, r.plan = rl.plan, nil // rebuild every context
			r.publish()
			close(rl.done)
			continue
		}
		retry = nil
		if !r.sync(ctx) && ctx.Err() == nil {
			if timer == nil {
				timer = time.NewTimer(retryDelay)
			} else {
				timer.Reset(retryDelay)
			}
			retry = timer.C
		}
	}
}

// reload puts a new static dialplan in force under the realtime rows.
func (r *realtime) reload(ctx context.Context, plan *dialplan.Dialplan) error {
	rl := staticReload{plan: plan, done: make(chan struct{})}
	select {
	case r.reloads <- rl:
	case <-r.done:
		return errors.New("realtime stopped")
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case <-rl.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// sync brings the node up to the Source's current revision. It reports
// false when the Source failed (the node keeps what it has).
func (r *realtime) sync(ctx context.Context) bool {
	if !r.have {
		return r.snapshot(ctx)
	}
	moved := false
	for {
		changes, err := r.src.Changes(ctx, r.rev, changesBatch)
		if errors.Is(err, provision.ErrResync) {
			r.log.Info("change feed no longer reaches our revision; taking a new snapshot", "revision", r.rev)
			return r.snapshot(ctx)
		}
		if err != nil {
			if ctx.Err() == nil {
				r.log.Warn("realtime changes unavailable; serving the last configuration", "revision", r.rev, "err", err)
			}
			if moved {
				r.publish()
			}
			return false
		}
		for i := range changes {
			r.apply(&changes[i])
			moved = true
		}
		if len(changes) < changesBatch {
			break
		}
	}
	if moved {
		r.publish()
	}
	return true
}

func (r *realtime) snapshot(ctx context.Context) bool {
	s, err := r.src.Snapshot(ctx)
	if err != nil {
		if ctx.Err() == nil {
			r.log.Warn("realtime snapshot unavailable; serving the last configuration", "err", err)
		}
		return false
	}
	r.reset()
	for _, t := range s.Tenants {
		r.tenants[t.ID] = t
	}
	for _, u := range s.Users {
		r.users[u.ID] = r.newUser(u)
	}
	for _, x := range s.Extensions {
		r.putRow(x)
	}
	for _, g := range s.Grammars {
		r.putGrammar(g)
	}
	r.dirtyGrammar = true
	r.queues.snapshot(s)
	for _, m := range s.Mailboxes {
		r.mailboxes[mailboxKey(m)] = m
	}
	r.dirtyMailboxes = true
	r.rev, r.have = s.Revision, true
	// Everything is rebuilt: start again from the static plan.
	r.plan = nil
	r.dirtyUsers, r.dirtySvc = true, true
	r.publish()
	return true
}

// apply records one change; publish puts the result in force.
func (r *realtime) apply(c *provision.Change) {
	if c.Revision > r.rev {
		r.rev = c.Revision
	}
	switch c.Entity {
	case provision.EntityTenant:
		if c.Tenant == nil {
			return
		}
		if c.Deleted {
			delete(r.tenants, c.Tenant.ID)
			delete(r.grammars, tenancy.Of(c.Tenant.ID))
			r.dirtyGrammar = true
		} else {
			r.tenants[c.Tenant.ID] = *c.Tenant
		}
		// Its users' status, language and switches follow the tenant.
		for _, u := range r.users {
			if u.own.tenant == tenancy.Of(c.Tenant.ID) {
				u.ep = r.withTenant(*u.ep, u.own)
			}
		}
		r.dirtyUsers, r.dirtySvc = true, true
	case provision.EntityUser:
		if c.User == nil {
			return
		}
		id := c.User.ID
		if id == 0 { // a delete keyed by tenant and name
			for uid, u := range r.users {
				if u.own.tenant == tenancy.Of(c.User.Tenant) && u.ep.Name == c.User.Name {
					id = uid
				}
			}
		}
		if c.Deleted {
			delete(r.users, id)
		} else {
			r.users[id] = r.newUser(*c.User)
		}
		r.dirtyUsers, r.dirtySvc = true, true
	case provision.EntityExtension:
		if c.Extension == nil {
			return
		}
		if c.Deleted {
			r.dropRow(*c.Extension)
		} else {
			r.putRow(*c.Extension)
		}
	case provision.EntityGrammar:
		if c.Grammar == nil {
			return
		}
		if c.Deleted {
			delete(r.grammars[tenancy.Of(c.Grammar.Tenant)], c.Grammar.Name)
		} else {
			r.putGrammar(*c.Grammar)
		}
		r.dirtyGrammar = true
	case provision.EntityQueue, provision.EntityQueueMember:
		r.queues.apply(c)
	case provision.EntityMailbox:
		if c.Mailbox == nil {
			return
		}
		if c.Deleted {
			delete(r.mailboxes, mailboxKey(*c.Mailbox))
		} else {
			r.mailboxes[mailboxKey(*c.Mailbox)] = *c.Mailbox
		}
		r.dirtyMailboxes = true
	}
	// AMI users are the AMI's business, not the SIP and dialplan's.
}

func mailboxKey(m provision.Mailbox) string {
	return tenancy.Of(m.Tenant) + "/" + m.Context + "/" + m.Mailbox
}

// contextOf is the node's context name for a row (namespaced for a hosted
// tenant); ok is false for a default-tenant row naming a tenant context.
func contextOf(x provision.Extension) (string, bool) {
	return tenancy.Context(tenancy.Of(x.Tenant), x.Context)
}

func (r *realtime) putRow(x provision.Extension) {
	r.dropRow(x)
	name, ok := contextOf(x)
	if !ok {
		r.log.Warn("realtime extension refused: its context names a tenant's", "context", x.Context, "exten", x.Exten, "priority", x.Priority)
		return
	}
	m := r.rows[name]
	if m == nil {
		m = map[int64]provision.Extension{}
		r.rows[name] = m
	}
	m[x.ID] = x
	r.rowCtx[x.ID] = name
	r.dirtyCtx[name] = true
}

func (r *realtime) dropRow(x provision.Extension) {
	id := x.ID
	if id == 0 { // a delete keyed by its columns
		name, _ := contextOf(x)
		for rid, old := range r.rows[name] {
			if old.Exten == x.Exten && old.Priority == x.Priority {
				id = rid
			}
		}
	}
	name, ok := r.rowCtx[id]
	if !ok {
		return
	}
	delete(r.rows[name], id)
	if len(r.rows[name]) == 0 {
		delete(r.rows, name)
	}
	delete(r.rowCtx, id)
	r.dirtyCtx[name] = true
}

// publish builds what changed and swaps it in.
func (r *realtime) publish() {
	start := time.Now()
	if r.plan == nil || len(r.dirtyCtx) > 0 {
		r.pbx.SetDialplan(r.buildPlan())
	}
	if r.dirtyUsers {
		r.sip.SetDirectory(r.buildDirectory())
		r.limits.SetMax(r.maxCalls())
	}
	if r.dirtySvc {
		r.updateLiveServices()
	}
	if r.dirtyGrammar {
		r.publishGrammars()
	}
	r.queues.publish(r.queueEng, r.log.Warn)
	if r.dirtyMailboxes && r.vm != nil {
		r.vm.SetProvisioned(provisionedMailboxes(r.vm, r.mailboxes, r.log))
	}
	r.dirtyUsers, r.dirtySvc, r.dirtyGrammar, r.dirtyMailboxes = false, false, false, false
	r.inForce.Store(r.rev)
	r.mu.Lock()
	close(r.applied)
	r.applied = make(chan struct{})
	r.mu.Unlock()
	r.log.Debug("realtime configuration in force", "revision", r.rev, "took", time.Since(start))
}

// buildPlan derives the next dialplan from the last one, rebuilding only
// the contexts whose rows changed (all of them after a snapshot).
func (r *realtime) buildPlan() *dialplan.Dialplan {
	var next *dialplan.Dialplan
	dirty := r.dirtyCtx
	if r.plan == nil {
		next = r.static.Derive()
		dirty = map[string]bool{}
		for name := range r.rows {
			dirty[name] = true
		}
	} else {
		next = r.plan.Derive()
	}
	names := make([]string, 0, len(dirty))
	for name := range dirty {
		names = append(names, name)
	}
	sort.Strings(names)
	refused := 0
	for _, name := range names {
		rows := r.rows[name]
		if len(rows) == 0 {
			if r.static.HasContext(name) {
				next.ReplaceContext(name, r.static, nil)
			} else {
				next.RemoveContext(name)
			}
			continue
		}
		list := make([]dialplan.Row, 0, len(rows))
		for _, x := range rows {
			list = append(list, dialplan.Row{Exten: x.Exten, Priority: x.Priority, App: x.App, AppData: x.AppData})
		}
		for _, err := range next.ReplaceContext(name, r.static, list) {
			if refused < 10 {
				r.log.Warn("realtime extension row skipped", "err", err)
			}
			refused++
		}
	}
	if refused > 10 {
		r.log.Warn("more realtime extension rows skipped", "count", refused-10)
	}
	r.plan = next
	r.dirtyCtx = map[string]bool{}
	return next
}

// buildDirectory merges static endpoints with realtime users, reusing the
// endpoints of users that did not change.
func (r *realtime) buildDirectory() *sipua.Directory {
	eps := make([]*sipua.Endpoint, 0, len(r.staticEPs)+len(r.users))
	eps = append(eps, r.staticEPs...)
	for _, u := range r.users {
		if u.own.tenant == tenancy.Default && r.staticByName[u.ep.Name] {
			continue // shadowed by a static user
		}
		eps = append(eps, u.ep)
	}
	tenants := make([]*sipua.Tenant, 0, len(r.tenants))
	for _, t := range r.tenants {
		tenants = append(tenants, &sipua.Tenant{ID: t.ID, Domain: t.Domain})
	}
	return sipua.NewHostedDirectory(tenants, eps)
}

// maxCalls is each limited tenant's max_calls.
func (r *realtime) maxCalls() map[string]int {
	out := map[string]int{}
	for _, t := range r.tenants {
		if t.MaxCalls > 0 {
			out[t.ID] = t.MaxCalls
		}
	}
	return out
}

// endpoint turns a realtime user into a SIP endpoint. A user of a tenant
// that is suspended or unknown is disabled: it cannot register or call.
// sharedCodecs is the codec list of names (PCMU and PCMA when none is
// known), one slice per distinct list. Endpoints never modify it.
func (r *realtime) sharedCodecs(names []string) []media.Codec {
	key := "codecs:" + strings.ToLower(strings.Join(names, ","))
	if v, ok := r.shared[key].([]media.Codec); ok {
		return v
	}
	cs := codecs(names)
	if len(cs) == 0 {
		cs = []media.Codec{media.PCMU, media.PCMA}
	}
	r.share(key, cs)
	return cs
}

// sharedString is s, one copy per distinct value.
func (r *realtime) sharedString(s string) string {
	if v, ok := r.shared["s:"+s].(string); ok {
		return v
	}
	r.share("s:"+s, s)
	return s
}

func (r *realtime) share(key string, v any) {
	if r.shared == nil {
		r.shared = map[string]any{}
	}
	r.shared[key] = v
}

// rtUser is what the node keeps of a provisioned user: its endpoint, and
// what of the user its tenant may override, to rebuild the endpoint when
// the tenant changes. The provision.User itself is not kept (with 100,000
// users it was 40% of their memory, beside the endpoints).
type rtUser struct {
	ep  *sipua.Endpoint
	own userOwn
}

// userOwn is a user's own settings that its tenant's change affects.
type userOwn struct {
	tenant   string // tenancy.Of
	language string // "": the tenant's
	enabled  bool   // the user's switch, and its configuration is usable
	services provision.Switches
}

// newUser builds a user's endpoint.
func (r *realtime) newUser(u provision.User) *rtUser {
	tid := tenancy.Of(u.Tenant)
	own := userOwn{tenant: tid, language: u.Language, enabled: u.Enabled, services: u.Services}
	ctxName := u.Context
	if ctxName == "" {
		ctxName = "default"
	}
	qualified, ok := tenancy.Context(tid, ctxName)
	if !ok {
		r.log.Warn("realtime user disabled: its context names a tenant's", "user", u.Name, "context", u.Context)
		own.enabled = false
	}
	var list *acl.List
	if len(u.Permit) > 0 || len(u.Deny) > 0 {
		l, err := acl.ParseList(u.Permit, u.Deny)
		if err != nil {
			r.log.Warn("realtime user disabled: bad permit/deny", "tenant", tid, "user", u.Name, "err", err)
			own.enabled = false
		}
		list = l
	}
	name, num := pbx.SplitCallerID(u.CallerID)
	ep := sipua.Endpoint{
		Name: u.Name, Tenant: tid,
		Credentials: sipauth.Credentials{HA1MD5: u.HA1MD5, HA1SHA256: u.HA1SHA256},
		ACL:         list, MaxContacts: u.MaxContacts, Context: r.sharedString(qualified),
		AccountCode: u.AccountCode, CallerNum: num, CallerName: name, Codecs: r.sharedCodecs(u.Codecs),
		Groups: realtimeGroups(u),
		// Provisioned users are phones: requests follow their source.
		RewriteContact: true,
	}
	return &rtUser{ep: r.withTenant(ep, own), own: own}
}

// withTenant is ep with what its tenant decides: whether it may be used
// (a hosted tenant must exist and not be suspended), its language when
// the user has none, and the services both allow.
func (r *realtime) withTenant(ep sipua.Endpoint, own userOwn) *sipua.Endpoint {
	t, haveTenant := r.tenants[own.tenant]
	ep.Enabled = own.enabled && (own.tenant == tenancy.Default || haveTenant && t.Status != "suspended")
	ep.Language = own.language
	if ep.Language == "" {
		ep.Language = t.Language
	}
	ep.Denied = denied(t.Services, own.services)
	return &ep
}

// denied is the services switched off by a tenant's and a user's
// switches: a user's unset switch inherits the tenant's, a tenant's unset
// switch is on, and a service is usable only when both allow it.
func denied(t, u provision.Switches) tenancy.Service {
	var out tenancy.Service
	for _, s := range []struct {
		svc        tenancy.Service
		tenant, me *bool
	}{
		{tenancy.ServiceRecording, t.Recording, u.Recording},
		{tenancy.ServiceVoicemail, t.Voicemail, u.Voicemail},
		{tenancy.ServiceAGI, t.AGI, u.AGI},
		{tenancy.ServiceSpeech, t.Speech, u.Speech},
		{tenancy.ServiceOutbound, t.Outbound, u.Outbound},
		{tenancy.ServiceInternational, t.International, u.International},
	} {
		on := (s.tenant == nil || *s.tenant) && (s.me == nil || *s.me)
		if !on {
			out |= s.svc
		}
	}
	return out
}

// updateLiveServices applies switches changed mid-call to the channels of
// the users concerned (Channel.SetServices): the next use of a service
// switched off fails.
func (r *realtime) updateLiveServices() {
	dir := r.sip.Directory()
	for _, ch := range r.channels.List() {
		ep, ok := dir.UserIn(ch.Tenant(), ch.Endpoint)
		if !ok || ch.Tech != "PJSIP" {
			continue
		}
		if svc := ep.Services(); ch.Services() != svc {
			ch.SetServices(svc)
		}
	}
}

// putGrammar parses a stored grammar; one that no longer parses (central
// checked it) is logged and left out, so SpeechLoadGrammar reports it
// missing.
func (r *realtime) putGrammar(g provision.Grammar) {
	tid := tenancy.Of(g.Tenant)
	parsed, err := parseStoredGrammar(tid, g.Name, g.Body)
	if err != nil {
		r.log.Warn("stored speech grammar refused", "tenant", tid, "grammar", g.Name, "err", err)
		delete(r.grammars[tid], g.Name)
		return
	}
	m := r.grammars[tid]
	if m == nil {
		m = map[string]*speech.Grammar{}
		r.grammars[tid] = m
	}
	m[g.Name] = parsed
}

// publishGrammars swaps a copy of the grammars in.
func (r *realtime) publishGrammars() {
	out := make(map[string]map[string]*speech.Grammar, len(r.grammars))
	for t, m := range r.grammars {
		c := make(map[string]*speech.Grammar, len(m))
		for k, v := range m {
			c[k] = v
		}
		out[t] = c
	}
	r.speech.set(out)
}

// waitRevision waits until rev (or a later one) is in force.
func (r *realtime) waitRevision(ctx context.Context, rev int64) error {
	for {
		r.mu.Lock()
		ch := r.applied
		r.mu.Unlock()
		if r.inForce.Load() >= rev {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("revision %d not in force (at %d): %w", rev, r.inForce.Load(), ctx.Err())
		case <-ch:
		}
	}
}
