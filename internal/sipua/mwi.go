package sipua

import (
	"context"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/entvoice/entvoice/internal/events"
	"github.com/entvoice/entvoice/internal/registrar"
	"github.com/entvoice/entvoice/internal/tenancy"
)

// MWI is where message waiting comes from (the node's voicemail store):
// which mailboxes an endpoint's phones are told of (res_pjsip's endpoint
// mailboxes), which endpoints a mailbox tells, and a mailbox's state.
type MWI interface {
	Mailboxes(tenant, endpoint string) []string
	Endpoints(tenant, mailbox string) []string
	State(tenant, mailbox string) events.Mailbox
}

// Message summary subscriptions (RFC 3842 over RFC 6665).
const (
	mwiEvent       = "message-summary"
	mwiContentType = "application/simple-message-summary"
	// mwiDefaultExpires is RFC 3842's default subscription duration;
	// mwiMinExpires and mwiMaxExpires bound what a subscriber asks
	// (res_pjsip_pubsub's minimum of 60 s; 423 below it).
	mwiDefaultExpires = 3600
	mwiMinExpires     = 60
	mwiMaxExpires     = 3600
	// mwiMaxPerEndpoint bounds the subscriptions one endpoint may hold.
	mwiMaxPerEndpoint = 16
)

// mwiSub is one message-summary subscription: the dialog the SUBSCRIBE
// created, in which NOTIFYs go.
type mwiSub struct {
	key        string // tenant/endpoint
	tenant     string
	endpoint   string
	id         string // dialog id
	callID     string
	localTag   string
	remoteTag  string
	localURI   sip.Uri // the SUBSCRIBE's To
	remoteURI  sip.Uri // its From
	remoteName string
	target     sip.Uri // its Contact
	dest       netip.AddrPort
	transport  string

	mu      sync.Mutex // one NOTIFY at a time, CSeq in order
	cseq    uint32
	expires time.Time
	timer   *time.Timer
	ended   bool
}

// mwiManager keeps the subscriptions, follows MessageWaiting events and
// sends NOTIFYs: in-dialog to subscribers, unsolicited (out of dialog,
// "Subscription-State: terminated", as res_pjsip_mwi sends them) to the
// registered contacts of endpoints that do not subscribe. A subscription
// replaces the unsolicited NOTIFYs of its endpoint (Asterisk's
// mwi_subscribe_replaces_unsolicited=yes).
type mwiManager struct {
	s   *Server
	src MWI

	mu     sync.Mutex
	subs   map[string]*mwiSub          // by dialog id
	byEP   map[string]map[*mwiSub]bool // by tenant/endpoint
	closed bool

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	sends  chan struct{} // bounds the NOTIFYs in flight
	events *events.Subscription
}

func newMWIManager(s *Server, src MWI) *mwiManager {
	ctx, cancel := context.WithCancel(context.Background())
	return &mwiManager{s: s, src: src, subs: map[string]*mwiSub{}, byEP: map[string]map[*mwiSub]bool{},
		ctx: ctx, cancel: cancel, sends: make(chan struct{}, 64)}
}

// start follows the bus's MessageWaiting events.
func (m *mwiManager) start() {
	m.events = m.s.bus.SubscribePassive(1024, func(e *events.Event) bool { return e.Kind == events.MessageWaiting && e.Mailbox != nil })
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		for e := range m.events.C {
			m.changed(e.TenantOf(), e.Mailbox.Mailbox)
		}
	}()
}

// close ends every subscription without a final NOTIFY (the node is going
// away; the phones' refreshes will fail) and waits for NOTIFYs in flight.
func (m *mwiManager) close() {
	m.mu.Lock()
	m.closed = true
	subs := make([]*mwiSub, 0, len(m.subs))
	for _, sub := range m.subs {
		subs = append(subs, sub)
	}
	m.mu.Unlock()
	for _, sub := range subs { // sub.mu before m.mu, never the reverse
		sub.mu.Lock()
		sub.ended = true
		if sub.timer != nil {
			sub.timer.Stop()
		}
		sub.mu.Unlock()
	}
	if m.events != nil {
		m.events.Close()
	}
	m.cancel()
	m.wg.Wait()
}

func epKey(tenant, endpoint string) string { return tenancy.Of(tenant) + "/" + endpoint }

// changed tells every endpoint a mailbox notifies of its new state.
func (m *mwiManager) changed(tenant, mailbox string) {
	for _, ep := range m.src.Endpoints(tenant, mailbox) {
		m.tell(tenant, ep, nil)
	}
}

// tell sends an endpoint its state: to its subscriptions, or else
// unsolicited to its registered contacts (only the one given, when a
// contact has just registered).
func (m *mwiManager) tell(tenant, endpoint string, only *registrar.Binding) {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return
	}
	var subs []*mwiSub
	for sub := range m.byEP[epKey(tenant, endpoint)] {
		subs = append(subs, sub)
	}
	m.mu.Unlock()
	if len(subs) > 0 {
		if only == nil {
			for _, sub := range subs {
				m.async(func() { m.notify(sub, "active") })
			}
		}
		return
	}
	boxes := m.src.Mailboxes(tenant, endpoint)
	if len(boxes) == 0 {
		return
	}
	bindings := m.s.reg.Lookup(tenancy.AOR(tenant, endpoint))
	if only != nil {
		bindings = []registrar.Binding{*only}
	}
	for _, b := range bindings {
		m.async(func() { m.unsolicited(tenant, endpoint, b) })
	}
}

// async runs a send on its own goroutine, at most cap(sends) at once.
func (m *mwiManager) async(f func()) {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return
	}
	m.wg.Add(1)
	m.mu.Unlock()
	go func() {
		defer m.wg.Done()
		select {
		case m.sends <- struct{}{}:
		case <-m.ctx.Done():
			return
		}
		defer func() { <-m.sends }()
		f()
	}()
}

// body is the message summary of an endpoint's mailboxes, summed as
// res_pjsip_mwi aggregates them, in res_pjsip_mwi_body_generator's form.
func (m *mwiManager) body(tenant, endpoint string) []byte {
	newMsgs, oldMsgs := 0, 0
	for _, box := range m.src.Mailboxes(tenant, endpoint) {
		st := m.src.State(tenant, box)
		newMsgs += st.New
		oldMsgs += st.Old
	}
	waiting := "no"
	if newMsgs > 0 {
		waiting = "yes"
	}
	return fmt.Appendf(nil, "Messages-Waiting: %s\r\nVoice-Message: %d/%d (0/0)\r\n", waiting, newMsgs, oldMsgs)
}

// fromHost is the host the node's NOTIFYs come from: a hosted tenant's
// domain, else the listening address.
func (m *mwiManager) fromHost(tenant, transport string) string {
	if t := m.s.dir.Load().Tenant(tenant); t != nil && t.Domain != "" && !tenancy.IsDefault(tenant) {
		return t.Domain
	}
	return m.s.laddr[transport].Addr().String()
}

// unsolicited sends one out-of-dialog NOTIFY to a registered contact.
func (m *mwiManager) unsolicited(tenant, endpoint string, b registrar.Binding) {
	var target sip.Uri
	if err := sip.ParseUri(strings.Trim(b.Contact, "<>"), &target); err != nil {
		return
	}
	transport := strings.ToLower(b.Transport)
	if transport == "" {
		transport = "udp"
	}
	client, ok := m.s.clients[transport]
	if !ok {
		return
	}
	req := sip.NewRequest(sip.NOTIFY, target)
	from := &sip.FromHeader{Address: sip.Uri{Scheme: "sip", User: endpoint, Host: m.fromHost(tenant, transport)}, Params: sip.NewParams()}
	from.Params.Add("tag", sip.GenerateTagN(16))
	req.AppendHeader(from)
	req.AppendHeader(&sip.ToHeader{Address: sip.Uri{Scheme: target.Scheme, User: target.User, Host: target.Host, Port: target.Port}})
	m.decorate(req, "terminated", m.body(tenant, endpoint), transport)
	req.SetTransport(strings.ToUpper(transport))
	req.SetDestination(b.Source.String())
	ctx, cancel := context.WithTimeout(m.ctx, signallingTimeout)
	defer cancel()
	res, err := client.Do(ctx, req)
	if err != nil {
		m.s.log.Debug("unsolicited MWI NOTIFY not answered", "endpoint", endpoint, "contact", b.Contact, "err", err)
		return
	}
	if res.StatusCode >= 300 {
		m.s.log.Debug("unsolicited MWI NOTIFY refused", "endpoint", endpoint, "contact", b.Contact, "code", res.StatusCode)
	}
}

func (m *mwiManager) decorate(req *sip.Request, state string, body []byte, transport string) {
	req.AppendHeader(sip.NewHeader("Event", mwiEvent))
	req.AppendHeader(sip.NewHeader("Subscription-State", state))
	req.AppendHeader(sip.NewHeader("Allow-Events", mwiEvent))
	req.AppendHeader(sip.NewHeader("User-Agent", m.s.opts.UserAgent))
	ct := m.s.contact[transport]
	req.AppendHeader(&ct)
	req.AppendHeader(sip.NewHeader("Content-Type", mwiContentType))
	req.SetBody(body)
}

// notify sends a subscription's NOTIFY in its dialog (RFC 6665 4.2.2);
// state is "active" or "terminated;reason=...". A NOTIFY the subscriber
// answers with 481 or not at all ends the subscription (4.2.2.2).
func (m *mwiManager) notify(sub *mwiSub, state string) {
	sub.mu.Lock()
	defer sub.mu.Unlock()
	if sub.ended && !strings.HasPrefix(state, "terminated") {
		return
	}
	if state == "active" {
		left := max(0, int(time.Until(sub.expires).Seconds()))
		state = "active;expires=" + strconv.Itoa(left)
	}
	client, ok := m.s.clients[sub.transport]
	if !ok {
		return
	}
	sub.cseq++
	req := sip.NewRequest(sip.NOTIFY, sub.target)
	from := &sip.FromHeader{Address: sub.localURI, Params: sip.NewParams()}
	from.Params.Add("tag", sub.localTag)
	to := &sip.ToHeader{DisplayName: sub.remoteName, Address: sub.remoteURI, Params: sip.NewParams()}
	to.Params.Add("tag", sub.remoteTag)
	req.AppendHeader(from)
	req.AppendHeader(to)
	cid := sip.CallIDHeader(sub.callID)
	req.AppendHeader(&cid)
	req.AppendHeader(&sip.CSeqHeader{SeqNo: sub.cseq, MethodName: sip.NOTIFY})
	m.decorate(req, state, m.body(sub.tenant, sub.endpoint), sub.transport)
	req.SetTransport(strings.ToUpper(sub.transport))
	req.SetDestination(sub.dest.String())
	ctx, cancel := context.WithTimeout(m.ctx, signallingTimeout)
	defer cancel()
	res, err := client.Do(ctx, req)
	switch {
	case err != nil && m.ctx.Err() == nil:
		m.s.log.Info("MWI subscriber does not answer its NOTIFY; subscription ended", "endpoint", sub.endpoint, "err", err)
		m.drop(sub)
	case err == nil && (res.StatusCode == 481 || res.StatusCode >= 400 && res.StatusCode != 408 && res.StatusCode < 500):
		m.s.log.Info("MWI NOTIFY refused; subscription ended", "endpoint", sub.endpoint, "code", res.StatusCode)
		m.drop(sub)
	}
}

// drop forgets a subscription. The caller holds sub.mu (lock order:
// sub.mu, then m.mu).
func (m *mwiManager) drop(sub *mwiSub) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.subs[sub.id] != sub {
		return
	}
	delete(m.subs, sub.id)
	if set := m.byEP[sub.key]; set != nil {
		delete(set, sub)
		if len(set) == 0 {
			delete(m.byEP, sub.key)
		}
	}
	sub.ended = true
	if sub.timer != nil {
		sub.timer.Stop()
	}
}

// expire ends a subscription that was not refreshed in time, with a final
// NOTIFY (RFC 6665 4.2.2: reason=timeout).
func (m *mwiManager) expire(sub *mwiSub) {
	sub.mu.Lock()
	late := !sub.ended && time.Now().After(sub.expires.Add(-time.Second))
	sub.mu.Unlock()
	if !late {
		return
	}
	m.mu.Lock()
	current := m.subs[sub.id] == sub
	m.mu.Unlock()
	if !current {
		return
	}
	m.dropLocked(sub)
	m.async(func() { m.notify(sub, "terminated;reason=timeout") })
}

func (m *mwiManager) dropLocked(sub *mwiSub) {
	sub.mu.Lock()
	defer sub.mu.Unlock()
	m.drop(sub)
}

// onSubscribe handles SUBSCRIBE (RFC 6665 4.2.1): only message-summary
// (489 otherwise); a new subscription must come from an authenticated
// user with mailboxes (404 without); a refresh or unsubscribe comes in
// its dialog (481 when unknown).
func (s *Server) onSubscribe(req *sip.Request, tx sip.ServerTransaction) {
	m := s.mwi
	ev := req.GetHeader("Event")
	name := ""
	if ev != nil {
		name, _, _ = strings.Cut(ev.Value(), ";")
		name = strings.ToLower(strings.TrimSpace(name))
	}
	if m == nil || name != mwiEvent {
		s.respond(req, tx, 489, "Bad Event", sip.NewHeader("Allow-Events", mwiEvent))
		return
	}
	expires := mwiDefaultExpires
	if h := req.GetHeader("Expires"); h != nil {
		n, err := strconv.Atoi(strings.TrimSpace(h.Value()))
		if err != nil || n < 0 {
			s.respond(req, tx, 400, "Bad Request")
			return
		}
		expires = n
	}
	if expires > 0 && expires < mwiMinExpires {
		s.respond(req, tx, 423, "Interval Too Brief", sip.NewHeader("Min-Expires", strconv.Itoa(mwiMinExpires)))
		return
	}
	expires = min(expires, mwiMaxExpires)
	if to := req.To(); to != nil && to.Params != nil {
		if tag, _ := to.Params.Get("tag"); tag != "" {
			m.refresh(req, tx, expires)
			return
		}
	}
	dir := s.dir.Load()
	ep, ok := s.identify(dir, req, tx, req.Source())
	if !ok {
		return
	}
	if ep.Trunk {
		s.respond(req, tx, 403, "Forbidden")
		return
	}
	boxes := m.src.Mailboxes(ep.Tenant, ep.Name)
	if len(boxes) == 0 || !mwiResource(req.Recipient.User, ep.Name, boxes) {
		s.respond(req, tx, 404, "Not Found")
		return
	}
	contact := req.Contact()
	from := req.From()
	callID := req.CallID()
	if contact == nil || from == nil || callID == nil {
		s.respond(req, tx, 400, "Bad Request")
		return
	}
	remoteTag, _ := from.Params.Get("tag")
	if remoteTag == "" {
		s.respond(req, tx, 400, "Bad Request")
		return
	}
	key := epKey(ep.Tenant, ep.Name)
	m.mu.Lock()
	if len(m.byEP[key]) >= mwiMaxPerEndpoint {
		m.mu.Unlock()
		s.respond(req, tx, 403, "Forbidden")
		return
	}
	m.mu.Unlock()
	sub := &mwiSub{key: key, tenant: tenancy.Of(ep.Tenant), endpoint: ep.Name, callID: callID.Value(), localTag: sip.GenerateTagN(16),
		remoteTag: remoteTag, remoteURI: from.Address, remoteName: from.DisplayName, target: contact.Address,
		dest: source(req), transport: transportOf(req)}
	sub.localURI = req.To().Address
	sub.id = sip.DialogIDMake(sub.callID, sub.localTag, sub.remoteTag)
	res := sip.NewResponseFromRequest(req, 200, "OK", nil)
	res.To().Params.Add("tag", sub.localTag)
	res.AppendHeader(sip.NewHeader("Expires", strconv.Itoa(expires)))
	ct := s.contact[sub.transport]
	res.AppendHeader(&ct)
	s.decorate(res)
	if err := tx.Respond(res); err != nil {
		return
	}
	if expires == 0 {
		// A fetch (RFC 6665 4.4.3): one NOTIFY, terminated.
		m.async(func() { m.notify(sub, "terminated;reason=timeout") })
		return
	}
	sub.expires = time.Now().Add(time.Duration(expires) * time.Second)
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return
	}
	m.subs[sub.id] = sub
	if m.byEP[key] == nil {
		m.byEP[key] = map[*mwiSub]bool{}
	}
	m.byEP[key][sub] = true
	sub.timer = time.AfterFunc(time.Duration(expires)*time.Second, func() { m.expire(sub) })
	m.mu.Unlock()
	m.async(func() { m.notify(sub, "active") })
}

// mwiResource: a subscription is for the endpoint itself (its AOR), one of
// its mailboxes, or no user part at all.
func mwiResource(resource, endpoint string, boxes []string) bool {
	if resource == "" || resource == endpoint {
		return true
	}
	for _, b := range boxes {
		if number, _, _ := strings.Cut(b, "@"); b == resource || number == resource {
			return true
		}
	}
	return false
}

// refresh handles a SUBSCRIBE in an existing dialog: a new expiry, or an
// unsubscribe (Expires: 0), each followed by a NOTIFY.
func (m *mwiManager) refresh(req *sip.Request, tx sip.ServerTransaction, expires int) {
	id, err := sip.DialogIDFromRequestUAS(req)
	m.mu.Lock()
	sub := m.subs[id]
	m.mu.Unlock()
	if err != nil || sub == nil {
		m.s.respond(req, tx, 481, "Call/Transaction Does Not Exist")
		return
	}
	sub.mu.Lock()
	if c := req.Contact(); c != nil {
		sub.target = c.Address
	}
	sub.dest = source(req)
	sub.expires = time.Now().Add(time.Duration(expires) * time.Second)
	if sub.timer != nil && expires > 0 {
		sub.timer.Reset(time.Duration(expires) * time.Second)
	}
	sub.mu.Unlock()
	m.s.respond(req, tx, 200, "OK", sip.NewHeader("Expires", strconv.Itoa(expires)))
	if expires == 0 {
		m.dropLocked(sub)
		m.async(func() { m.notify(sub, "terminated;reason=timeout") })
		return
	}
	m.async(func() { m.notify(sub, "active") })
}

// contactRegistered sends a newly registered contact its endpoint's state
// (res_pjsip_mwi's mwi_contact_added), unless the endpoint subscribes.
func (m *mwiManager) contactRegistered(aor, contact string, bindings []registrar.Binding) {
	tenant, endpoint := tenancy.SplitAOR(aor)
	for i := range bindings {
		if strings.Trim(bindings[i].Contact, "<>") == contact {
			m.tell(tenant, endpoint, &bindings[i])
			return
		}
	}
}

// forget ends the subscriptions of endpoints that were removed or
// disabled (SetDirectory).
func (m *mwiManager) forget(tenant, endpoint string) {
	m.mu.Lock()
	var subs []*mwiSub
	for sub := range m.byEP[epKey(tenant, endpoint)] {
		subs = append(subs, sub)
	}
	m.mu.Unlock()
	for _, sub := range subs {
		m.dropLocked(sub)
		m.async(func() { m.notify(sub, "terminated;reason=noresource") })
	}
}

// Subscriptions is the number of live MWI subscriptions (tests, metrics).
func (s *Server) Subscriptions() int {
	if s.mwi == nil {
		return 0
	}
	s.mwi.mu.Lock()
	defer s.mwi.mu.Unlock()
	return len(s.mwi.subs)
}
