package sipua

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"github.com/entvoice/entvoice/internal/channel"
	"github.com/entvoice/entvoice/internal/media"
	"github.com/entvoice/entvoice/internal/registrar"
)

// Errors of Call, which Dial reports as DIALSTATUS=CHANUNAVAIL.
var (
	ErrUnknownEndpoint = errors.New("no such endpoint")
	ErrNotRegistered   = errors.New("endpoint has no registered contact")
	ErrNoHost          = errors.New("trunk has no host to send calls to")
	// ErrServiceOff: the calling channel's tenant or user has the service
	// a trunk call needs switched off (outbound, or international for a
	// number starting with 00 or +).
	ErrServiceOff = errors.New("service switched off")
	// ErrCallLimit: the tenant is at its max_calls (Dial reports
	// CONGESTION).
	ErrCallLimit = errors.New("tenant at its limit of concurrent calls")
)

// IsInternational reports whether a dialled number is international: it
// starts with the international prefix 00 or with +.
func IsInternational(exten string) bool {
	return strings.HasPrefix(exten, "+") || strings.HasPrefix(exten, "00")
}

// LegEventKind is a step of an outbound call.
type LegEventKind int

// Outbound call progress.
const (
	LegRinging LegEventKind = iota
	LegProgress
	LegAnswered
	LegFailed
)

// LegEvent reports progress of an outbound leg. A LegAnswered or LegFailed
// event is the last one.
type LegEvent struct {
	Kind  LegEventKind
	Code  int // SIP final response code of LegFailed (0: no response)
	Cause int // Q.850 cause of LegFailed
}

// Target is what Dial asks for: PJSIP/1001 is Endpoint 1001, and
// PJSIP/555@carrier1 is Endpoint carrier1 with Exten 555.
type Target struct {
	Endpoint string
	Exten    string
}

// ParseTarget splits a PJSIP resource "1001" or "555@carrier1".
func ParseTarget(resource string) Target {
	if ex, ep, ok := strings.Cut(resource, "@"); ok {
		return Target{Endpoint: ep, Exten: ex}
	}
	return Target{Endpoint: resource}
}

// CallOptions describe the calling side of an outbound call.
type CallOptions struct {
	Parent     *channel.Channel // caller channel: linkedid, inheritance
	CallerNum  string
	CallerName string
	// Tenant is the calling channel's tenant: a user target is looked up
	// among its users only (hosted mode); trunks serve every tenant.
	Tenant string
}

// Outbound is a call leg the node places.
type Outbound struct {
	Channel *channel.Channel
	Events  <-chan LegEvent
}

// Call places an outbound leg to a registered user or through a trunk. It
// returns as soon as the INVITE is sent; progress arrives on Events.
func (s *Server) Call(ctx context.Context, t Target, o CallOptions) (out *Outbound, err error) {
	dir := s.dir.Load()
	tenant := o.Tenant
	if tenant == "" && o.Parent != nil {
		tenant = o.Parent.Tenant()
	}
	ep, ok := dir.EndpointIn(tenant, t.Endpoint)
	if !ok || !ep.Enabled {
		return nil, fmt.Errorf("%w: %s", ErrUnknownEndpoint, t.Endpoint)
	}
	// A user leg belongs to the user's tenant; a trunk leg to the tenant
	// that places it.
	legTenant := tenantOf(ep.Tenant)
	if ep.Trunk {
		legTenant = tenantOf(tenant)
		if o.Parent != nil && !o.Parent.Allowed(channel.ServiceOutbound) {
			return nil, fmt.Errorf("%w: outbound calls through %s", ErrServiceOff, ep.Name)
		}
		if o.Parent != nil && IsInternational(t.Exten) && !o.Parent.Allowed(channel.ServiceInternational) {
			return nil, fmt.Errorf("%w: international call to %s through %s", ErrServiceOff, t.Exten, ep.Name)
		}
	}
	if !s.calls.acquire(legTenant, maxCalls(dir, legTenant)) {
		return nil, fmt.Errorf("%w: %s", ErrCallLimit, legTenant)
	}
	release := func() { s.calls.release(legTenant) }
	handedOver := false // to the leg, which releases the count when done
	defer func() {
		if !handedOver {
			release()
		}
	}()
	var (
		recipient sip.Uri
		dest      netip.AddrPort
		transport string
		peer      Peer // the node the user is registered on, if not here
	)
	if ep.Trunk {
		if !ep.Host.IsValid() {
			return nil, fmt.Errorf("%w: %s", ErrNoHost, ep.Name)
		}
		exten := t.Exten
		if exten == "" {
			exten = "s"
		}
		recipient = sip.Uri{Scheme: "sip", User: exten, Host: ep.Host.Addr().String(), Port: int(ep.Host.Port())}
		dest, transport = ep.Host, ep.Transport
	} else {
		if b, ok := latestBinding(s.reg.Lookup(ep.AOR())); ok {
			if err := sip.ParseUri(strings.Trim(b.Contact, "<>"), &recipient); err != nil {
				return nil, fmt.Errorf("contact %q of %s: %w", b.Contact, ep.Name, err)
			}
			dest, transport = b.Source, b.Transport
		} else {
			// Not registered here: maybe on another node of the cluster,
			// unless this call already came from one (one hop: a stale
			// location must not bounce a call between nodes).
			if from, ok := parentVar(o.Parent, VarFromNode); ok {
				return nil, fmt.Errorf("%w: %s (a call from node %s is not passed on to another node)", ErrNotRegistered, ep.Name, from)
			}
			if peer, err = s.locatePeer(ctx, ep); err != nil {
				return nil, err
			}
			recipient = sip.Uri{Scheme: "sip", User: ep.Name, Host: peer.Addr.Addr().String(), Port: int(peer.Addr.Port()),
				UriParams: sip.NewParams()}
			recipient.UriParams.Add("transport", "tls")
			dest, transport = peer.Addr, "tls"
		}
	}
	transport = strings.ToLower(transport)
	if transport == "" {
		transport = "udp"
	}
	dua, ok := s.dialogUAs[transport]
	if !ok {
		return nil, fmt.Errorf("no %s listener to reach %s", transport, ep.Name)
	}
	sess, err := media.NewSession(s.opts.Ports, s.opts.Pacer, s.log)
	if err != nil {
		return nil, fmt.Errorf("rtp: %w", err)
	}
	linked := ""
	if o.Parent != nil {
		linked = o.Parent.LinkedID()
	}
	l := &outLeg{srv: s, media: sess, codecs: ep.Codecs, events: make(chan LegEvent, 8), release: release}
	svc := ep.Services()
	if ep.Trunk && o.Parent != nil {
		svc = o.Parent.Services()
	}
	ch := s.opts.Channels.New(channel.Options{
		Tech: "PJSIP", Endpoint: ep.Name, Direction: channel.Outbound, LinkedID: linked,
		CallerNum: o.CallerNum, CallerName: o.CallerName, Language: ep.Language,
		AccountCode: ep.AccountCode, Tenant: legTenant, Context: ep.Context, Exten: t.Exten,
		Driver: l, State: channel.StateDown, Services: svc,
	})
	if svc == 0 {
		ch.SetServices(0) // Options.Services zero means every service
	}
	if o.Parent != nil {
		ch.InheritFrom(o.Parent)
	}
	ch.SetConnectedLine(o.CallerNum, o.CallerName)
	l.ch = ch
	sess.OnDigit(dtmfEvents(ch))

	laddr := s.laddr[transport]
	fromHost := laddr.Addr().String()
	if t := dir.Tenant(legTenant); !ep.Trunk && t != nil && t.Domain != "" && legTenant != DefaultTenant {
		// A hosted tenant's phone is called from its own domain.
		fromHost = t.Domain
	}
	from := &sip.FromHeader{
		DisplayName: o.CallerName,
		Address:     sip.Uri{Scheme: "sip", User: orDefault(o.CallerNum, "anonymous"), Host: fromHost},
		Params:      sip.NewParams(),
	}
	from.Params.Add("tag", sip.GenerateTagN(16))
	to := &sip.ToHeader{Address: sip.Uri{Scheme: "sip", User: orDefault(t.Exten, ep.Name), Host: recipient.Host, Port: recipient.Port}}
	dtmf := media.DefaultTelephoneEvent
	offer := media.LocalDescription{
		Addr:      sess.LocalAddr(),
		Codecs:    ep.Codecs,
		DTMF:      &dtmf,
		Direction: media.SendRecv,
		SessionID: sessionIDFor(ch),
		Version:   1,
	}.Marshal()
	req := sip.NewRequest(sip.INVITE, recipient)
	req.AppendHeader(from)
	req.AppendHeader(to)
	req.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	req.AppendHeader(sip.NewHeader("Allow", "INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, UPDATE"))
	req.AppendHeader(sip.NewHeader("User-Agent", s.opts.UserAgent))
	if peer.Node != "" {
		req.AppendHeader(sip.NewHeader(hdrPeerTenant, legTenant))
		req.AppendHeader(sip.NewHeader(hdrPeerLinkedID, ch.LinkedID()))
		ch.SetVar(VarPeerNode, peer.Node)
	}
	req.SetBody(offer)
	req.SetTransport(strings.ToUpper(transport))
	req.SetDestination(dest.String())

	lctx, cancel := context.WithCancel(context.Background())
	l.cancel = cancel
	dcs, err := dua.WriteInvite(lctx, req)
	if err != nil {
		cancel()
		sess.Close()
		ch.RemoteHangup(channel.CauseDestOutOfOrder)
		s.opts.Channels.Remove(ch)
		return nil, fmt.Errorf("INVITE to %s: %w", ep.Name, err)
	}
	l.dcs = dcs
	handedOver = true
	l.pending.Add(1)
	go l.run(lctx)
	return &Outbound{Channel: ch, Events: l.events}, nil
}

func parentVar(ch *channel.Channel, name string) (string, bool) {
	if ch == nil {
		return "", false
	}
	v, ok := ch.GetVar(name)
	return v, ok && v != ""
}

func orDefault(v, d string) string {
	if v == "" {
		return d
	}
	return v
}

// latestBinding picks the contact that registered last, which is where
// PJSIP/user rings by default.
func latestBinding(bs []registrar.Binding) (registrar.Binding, bool) {
	if len(bs) == 0 {
		return registrar.Binding{}, false
	}
	best := bs[0]
	for _, b := range bs[1:] {
		if b.Expires.After(best.Expires) {
			best = b
		}
	}
	return best, true
}

// outLeg is the UAC side of a call the node places.
type outLeg struct {
	srv     *Server
	ch      *channel.Channel
	media   *media.Session
	codecs  []media.Codec
	dcs     *sipgo.DialogClientSession
	events  chan LegEvent
	cancel  context.CancelFunc
	release func() // the tenant's call count
	pending sync.WaitGroup

	mu       sync.Mutex
	neg      media.Negotiated
	answered bool
	ringing  bool
	early    bool
	id       string
}

func (l *outLeg) Media() *media.Session { return l.media }

func (l *outLeg) Indicate(channel.Indication) error { return nil }

func (l *outLeg) Answer(context.Context) error { return nil }

func (l *outLeg) Hangup(int) {
	l.mu.Lock()
	answered := l.answered
	l.mu.Unlock()
	if !answered {
		// Cancelling the context makes sipgo's WaitAnswer send CANCEL
		// (RFC 3261 section 9.1).
		l.cancel()
		return
	}
	l.pending.Add(1)
	go func() {
		defer l.pending.Done()
		ctx, cancel := context.WithTimeout(context.Background(), signallingTimeout)
		defer cancel()
		if err := l.dcs.Bye(ctx); err != nil {
			l.ch.Log().Debug("BYE failed", "err", err)
		}
	}()
}

// applySDP takes the callee's answer (in a 183 or the 200).
func (l *outLeg) applySDP(body []byte) bool {
	if len(body) == 0 {
		return false
	}
	ans, err := media.ParseSDP(body)
	if err != nil {
		l.ch.Log().Warn("bad SDP answer", "err", err)
		return false
	}
	neg, err := media.Negotiate(ans, l.codecs)
	if err != nil {
		l.ch.Log().Warn("SDP answer has no codec we offered", "err", err)
		return false
	}
	l.mu.Lock()
	l.neg = neg
	l.mu.Unlock()
	l.media.SetRemote(neg)
	return true
}

func (l *outLeg) emit(e LegEvent) {
	select {
	case l.events <- e:
	default:
		// Dial reads every event; a full queue means nobody listens.
	}
}

func (l *outLeg) run(ctx context.Context) {
	defer l.pending.Done()
	defer l.cleanupWhenDone()
	err := l.dcs.WaitAnswer(ctx, sipgo.AnswerOptions{OnResponse: func(res *sip.Response) error {
		switch {
		case res.StatusCode == 180 || res.StatusCode == 181 || res.StatusCode == 182:
			l.mu.Lock()
			first := !l.ringing
			l.ringing = true
			l.mu.Unlock()
			if first {
				l.ch.SetState(channel.StateRinging)
				l.emit(LegEvent{Kind: LegRinging})
			}
		case res.StatusCode == 183:
			l.mu.Lock()
			first := !l.early
			l.early = true
			l.mu.Unlock()
			if first && l.applySDP(res.Body()) {
				l.emit(LegEvent{Kind: LegProgress})
			}
		}
		return nil
	}})
	if err != nil {
		code, cause := 0, channel.CauseNoUserResponse
		var de *sipgo.ErrDialogResponse
		switch {
		case errors.As(err, &de):
			code = de.Res.StatusCode
			cause = channel.SIPToCause(code)
		case ctx.Err() != nil:
			cause = channel.CauseNormalClearing // we cancelled
		}
		l.ch.RemoteHangup(cause)
		l.emit(LegEvent{Kind: LegFailed, Code: code, Cause: cause})
		return
	}
	l.applySDP(l.dcs.InviteResponse.Body())
	ackCtx, cancel := context.WithTimeout(context.Background(), signallingTimeout)
	ackErr := l.dcs.Ack(ackCtx)
	cancel()
	if ackErr != nil {
		l.ch.Log().Warn("ACK failed", "err", ackErr)
	}
	l.mu.Lock()
	l.answered = true
	l.id = l.dcs.ID
	l.mu.Unlock()
	l.srv.addLeg(l.dcs.ID, l)
	if l.ch.IsHungUp() {
		// Dial gave up while the 200 was on its way: end the call.
		l.Hangup(channel.CauseNormalClearing)
		return
	}
	l.ch.SetState(channel.StateUp)
	l.emit(LegEvent{Kind: LegAnswered})
}

// cleanupWhenDone releases the leg once the channel is hung up.
func (l *outLeg) cleanupWhenDone() {
	go func() {
		<-l.ch.Done()
		// Let BYE/CANCEL finish before the leg disappears.
		deadline := time.NewTimer(signallingTimeout)
		defer deadline.Stop()
		done := make(chan struct{})
		go func() { l.pending.Wait(); close(done) }()
		select {
		case <-done:
		case <-deadline.C:
		}
		l.mu.Lock()
		id := l.id
		l.mu.Unlock()
		if id != "" {
			l.srv.removeLeg(id)
		}
		l.media.Close()
		l.srv.opts.Channels.Remove(l.ch)
		l.release()
	}()
}

func (l *outLeg) onAck(*sip.Request, sip.ServerTransaction) {}

func (l *outLeg) onBye(req *sip.Request, tx sip.ServerTransaction) {
	if err := l.dcs.ReadBye(req, tx); err != nil {
		l.srv.respond(req, tx, 481, "Call/Transaction Does Not Exist")
		return
	}
	l.ch.RemoteHangup(channel.CauseNormalClearing)
}

func (l *outLeg) onReinvite(req *sip.Request, tx sip.ServerTransaction) {
	l.mu.Lock()
	cur := l.neg
	l.mu.Unlock()
	neg, ok := l.srv.renegotiate(req, tx, cur)
	if !ok {
		return
	}
	if neg != cur {
		l.mu.Lock()
		l.neg = neg
		l.mu.Unlock()
		l.media.SetRemote(neg)
	}
	sdp := media.LocalDescription{
		Addr: l.media.LocalAddr(), Codecs: []media.Codec{neg.Codec}, DTMF: neg.DTMF,
		Direction: neg.Direction, SessionID: sessionIDFor(l.ch), Version: 2,
	}.Marshal()
	l.srv.respondReinvite(req, tx, sdp, 0)
}

func (l *outLeg) onInfo(req *sip.Request, tx sip.ServerTransaction) {
	l.srv.handleInfo(req, tx, l.media)
}

// MediaPair returns two RTP sessions on the media address that send to
// each other: the two halves of a Local channel, so that the media
// layer's bridges carry audio through it like through any SIP leg.
func (s *Server) MediaPair() (*media.Session, *media.Session, error) {
	a, err := media.NewSession(s.opts.Ports, s.opts.Pacer, s.log)
	if err != nil {
		return nil, nil, fmt.Errorf("rtp: %w", err)
	}
	b, err := media.NewSession(s.opts.Ports, s.opts.Pacer, s.log)
	if err != nil {
		a.Close()
		return nil, nil, fmt.Errorf("rtp: %w", err)
	}
	dtmf := media.DefaultTelephoneEvent
	a.SetRemote(media.Negotiated{Remote: b.LocalAddr(), Codec: media.PCMU, DTMF: &dtmf, Direction: media.SendRecv})
	b.SetRemote(media.Negotiated{Remote: a.LocalAddr(), Codec: media.PCMU, DTMF: &dtmf, Direction: media.SendRecv})
	return a, b, nil
}
