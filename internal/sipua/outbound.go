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
	"github.com/entvoice/entvoice/internal/control"
	"github.com/entvoice/entvoice/internal/media"
	"github.com/entvoice/entvoice/internal/q850"
	"github.com/entvoice/entvoice/internal/registrar"
	"github.com/entvoice/entvoice/internal/tenancy"
)

// Errors of Call, which Dial reports as DIALSTATUS=CHANUNAVAIL.
var (
	ErrUnknownEndpoint = errors.New("no such endpoint")
	ErrNotRegistered   = errors.New("endpoint has no registered contact")
	ErrNoHost          = errors.New("trunk has no host to send calls to")
)

// unavailable is a request error chan_pjsip reports for an endpoint it
// cannot reach: cause 20, Subscriber absent.
func unavailable(err error) error {
	return &channel.RequestError{Cause: q850.SubscriberAbsent, Err: err}
}

// Target is a PJSIP resource: PJSIP/1001 is Endpoint 1001, and
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

// endpointFor finds the endpoint a resource names for a caller of tenant:
// one of the tenant's users, or a trunk (trunks serve every tenant).
func (s *Server) endpointFor(dir *Directory, callerTenant string, t Target) (*Endpoint, error) {
	ep, ok := dir.EndpointIn(callerTenant, t.Endpoint)
	if !ok || !ep.Enabled {
		return nil, unavailable(fmt.Errorf("%w: %s", ErrUnknownEndpoint, t.Endpoint))
	}
	return ep, nil
}

// Resolve implements channel.Technology: a leg to a user belongs to the
// user's tenant; a leg through a trunk to the calling tenant, and leaves
// the platform.
func (s *Server) Resolve(callerTenant, resource string) (channel.Destination, error) {
	t := ParseTarget(resource)
	ep, err := s.endpointFor(s.dir.Load(), callerTenant, t)
	if err != nil {
		return channel.Destination{}, err
	}
	d := channel.Destination{Tech: "PJSIP", Resource: resource, Tenant: tenancy.Of(ep.Tenant)}
	if ep.Trunk {
		d.Tenant, d.External, d.Number, d.Via = tenancy.Of(callerTenant), true, t.Exten, ep.Name
	}
	return d, nil
}

// Call implements channel.Technology: it places an outbound leg to a
// registered user (here, or on another node of the cluster) or through a
// trunk. It returns as soon as the INVITE is sent; progress arrives on
// Events.
func (s *Server) Call(ctx context.Context, d channel.Destination, o channel.Request) (*channel.Leg, error) {
	dir := s.dir.Load()
	t := ParseTarget(d.Resource)
	ep, err := s.endpointFor(dir, o.Tenant, t)
	if err != nil {
		return nil, err
	}
	legTenant := d.Tenant
	var (
		recipient sip.Uri
		dest      netip.AddrPort
		transport string
		peer      control.Location // the node the user is registered on, if not here
	)
	if ep.Trunk {
		if !ep.Host.IsValid() {
			return nil, unavailable(fmt.Errorf("%w: %s", ErrNoHost, ep.Name))
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
				return nil, unavailable(fmt.Errorf("contact %q of %s: %w", b.Contact, ep.Name, err))
			}
			transport = b.Transport
			dest = contactTarget(recipient, b.Source, strings.ToLower(transport), ep.RewriteContact)
		} else {
			// Not registered here: maybe on another node of the cluster,
			// unless this call already came from one (one hop: a stale
			// location must not bounce a call between nodes).
			if from, ok := parentVar(o.Parent, VarFromNode); ok {
				return nil, unavailable(fmt.Errorf("%w: %s (a call from node %s is not passed on to another node)", ErrNotRegistered, ep.Name, from))
			}
			if peer, dest, err = s.locatePeer(ctx, ep); err != nil {
				return nil, unavailable(err)
			}
			recipient = sip.Uri{Scheme: "sip", User: ep.Name, Host: dest.Addr().String(), Port: int(dest.Port()),
				UriParams: sip.NewParams()}
			recipient.UriParams.Add("transport", "tls")
			transport = "tls"
		}
	}
	transport = strings.ToLower(transport)
	if transport == "" {
		transport = "udp"
	}
	// Calls to another node follow its Contact (its peer listener).
	dua, ok := s.dialogUA(transport, ep.RewriteContact && peer.Node == "")
	if !ok {
		return nil, unavailable(fmt.Errorf("no %s listener to reach %s", transport, ep.Name))
	}
	releaseEP, err := s.calls.acquire(ep)
	if err != nil {
		return nil, unavailable(err)
	}
	sess, err := media.NewSession(s.opts.Ports, s.opts.Pacer, s.log)
	if err != nil {
		releaseEP()
		return nil, &channel.RequestError{Cause: q850.Congestion, Err: fmt.Errorf("rtp: %w", err)}
	}
	linked := ""
	if o.Parent != nil {
		linked = o.Parent.LinkedID()
	}
	l := &outLeg{srv: s, media: sess, codecs: ep.Codecs, events: make(chan channel.Progress, 8), release: releaseEP, sec: s.newLegSecurity(ep)}
	// A trunk leg may do what its caller may; a user's leg what the user may.
	denied := ep.Denied
	if ep.Trunk && o.Parent != nil {
		denied = tenancy.AllServices &^ o.Parent.Services()
	}
	ch := s.opts.Channels.New(channel.Options{
		Tech: "PJSIP", Endpoint: ep.Name, Direction: channel.Outbound, LinkedID: linked,
		CallerNum: o.CallerNum, CallerName: o.CallerName, Language: ep.Language,
		AccountCode: ep.AccountCode, Tenant: legTenant, Context: ep.Context, Exten: t.Exten,
		Driver: l, State: channel.StateDown, Denied: denied, Groups: ep.Groups,
	})
	if o.Parent != nil {
		ch.InheritFrom(o.Parent)
	}
	for k, v := range o.Variables {
		ch.SetVar(k, v)
	}
	if o.AccountCode != "" {
		ch.SetAccountCode(o.AccountCode)
	}
	ch.SetConnectedLine(o.CallerNum, o.CallerName)
	l.ch = ch
	watchDTMF(sess, ch)

	laddr := s.laddr[transport]
	fromHost := laddr.Addr().String()
	if t := dir.Tenant(legTenant); !ep.Trunk && t != nil && t.Domain != "" && !tenancy.IsDefault(legTenant) {
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
	ld := media.LocalDescription{
		Addr:      sess.LocalAddr(),
		Codecs:    ep.Codecs,
		DTMF:      &dtmf,
		Direction: media.SendRecv,
		SessionID: sessionIDFor(ch),
		Version:   1,
	}
	if err := l.sec.offer(&ld); err != nil {
		s.log.Error("SRTP keys for an offer", "endpoint", ep.Name, "err", err)
	}
	offer := ld.Marshal()
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
		releaseEP()
		ch.RemoteHangup(q850.DestOutOfOrder)
		s.opts.Channels.Remove(ch)
		return nil, &channel.RequestError{Cause: q850.DestOutOfOrder, Err: fmt.Errorf("INVITE to %s: %w", ep.Name, err)}
	}
	l.dcs = dcs
	l.pending.Add(1)
	go l.run(lctx)
	return &channel.Leg{Channel: ch, Events: l.events}, nil
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
	sec     *legSecurity // media encryption
	release func()       // the endpoint's max_calls count
	ch      *channel.Channel
	media   *media.Session
	codecs  []media.Codec
	dcs     *sipgo.DialogClientSession
	events  chan channel.Progress
	cancel  context.CancelFunc
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
	if err := l.sec.accept(ans, &neg); err != nil {
		l.ch.Log().Warn("SDP answer refused: media encryption", "media_encryption", l.sec.mode, "profile", ans.Proto, "err", err)
		return false
	}
	l.mu.Lock()
	l.neg = neg
	l.mu.Unlock()
	l.media.SetRemote(neg)
	if err := l.sec.start(l.media); err != nil {
		l.ch.Log().Warn("WebRTC stream not started", "err", err)
		return false
	}
	return true
}

func (l *outLeg) emit(e channel.Progress) {
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
				l.emit(channel.Progress{Kind: channel.Ringing})
			}
		case res.StatusCode == 183:
			l.mu.Lock()
			first := !l.early
			l.early = true
			l.mu.Unlock()
			if first && l.applySDP(res.Body()) {
				l.emit(channel.Progress{Kind: channel.EarlyMedia})
			}
		}
		return nil
	}})
	if err != nil {
		code, cause := 0, q850.NoUserResponse
		var de *sipgo.ErrDialogResponse
		switch {
		case errors.As(err, &de):
			code = de.Res.StatusCode
			cause = q850.FromSIP(code)
		case ctx.Err() != nil:
			cause = q850.NormalClearing // we cancelled
		}
		l.ch.RemoteHangup(cause)
		l.emit(channel.Progress{Kind: channel.Failed, Code: code, Cause: cause})
		return
	}
	applied := l.applySDP(l.dcs.InviteResponse.Body())
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
		l.Hangup(q850.NormalClearing)
		return
	}
	if !applied && l.sec.mode != "" {
		// The callee answered without the encryption it must use: end
		// the call (RFC 3264 section 6) rather than let audio go in clear.
		l.Hangup(q850.IncompatibleDest)
		l.emit(channel.Progress{Kind: channel.Failed, Code: 488, Cause: q850.IncompatibleDest})
		return
	}
	l.ch.SetState(channel.StateUp)
	l.emit(channel.Progress{Kind: channel.Answered})
}

// cleanupWhenDone releases the leg once the channel is hung up.
func (l *outLeg) cleanupWhenDone() {
	go func() {
		<-l.ch.Done()
		l.release()
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
	}()
}

func (l *outLeg) onAck(*sip.Request, sip.ServerTransaction) {}

func (l *outLeg) onBye(req *sip.Request, tx sip.ServerTransaction) {
	if err := l.dcs.ReadBye(req, tx); err != nil {
		l.srv.respond(req, tx, 481, "Call/Transaction Does Not Exist")
		return
	}
	l.ch.RemoteHangup(q850.NormalClearing)
}

func (l *outLeg) onReinvite(req *sip.Request, tx sip.ServerTransaction) {
	l.mu.Lock()
	cur := l.neg
	l.mu.Unlock()
	neg, ok := l.srv.renegotiate(req, tx, cur, l.sec)
	if !ok {
		return
	}
	if neg != cur {
		l.mu.Lock()
		l.neg = neg
		l.mu.Unlock()
		l.media.SetRemote(neg)
	}
	ld := media.LocalDescription{
		Addr: l.media.LocalAddr(), Codecs: []media.Codec{neg.Codec}, DTMF: neg.DTMF,
		Direction: neg.Direction, SessionID: sessionIDFor(l.ch), Version: 2,
	}
	l.sec.describe(&ld)
	sdp := ld.Marshal()
	l.srv.respondReinvite(req, tx, sdp, 0)
	// The called party holds or resumes the call (RFC 3264 section 8.4);
	// the bridge it is in decides what the other party hears.
	l.ch.RemoteHold(neg.Hold)
}

func (l *outLeg) onInfo(req *sip.Request, tx sip.ServerTransaction) {
	l.srv.handleInfo(req, tx, l.media)
}
