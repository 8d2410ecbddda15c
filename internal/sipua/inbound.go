package sipua

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/entvoice/entvoice/internal/channel"
	"github.com/entvoice/entvoice/internal/events"
	"github.com/entvoice/entvoice/internal/media"
	"github.com/entvoice/entvoice/internal/q850"
	"github.com/entvoice/entvoice/internal/sipauth"
	"github.com/entvoice/entvoice/internal/tenancy"
)

// onInvite handles a new INVITE (a re-INVITE carries a To tag and goes to
// its leg). Identification follows Asterisk's endpoint_identifier_order=
// username,ip: a From user that is a known user is challenged as that
// user; otherwise a trunk matching the source address takes the call;
// otherwise it is refused.
func (s *Server) onInvite(req *sip.Request, tx sip.ServerTransaction) {
	if to := req.To(); to != nil {
		if _, ok := to.Params.Get("tag"); ok {
			if l := s.findLeg(req); l != nil {
				l.onReinvite(req, tx)
				return
			}
			s.respond(req, tx, 481, "Call/Transaction Does Not Exist")
			return
		}
	}
	src := source(req)
	if g := s.opts.Guard; g != nil {
		if g.Banned(src.Addr()) {
			return // a banned source gets nothing back, as fail2ban would do
		}
		if !g.Allow(src.Addr()) {
			s.respond(req, tx, 503, "Service Unavailable", sip.NewHeader("Retry-After", "5"))
			return
		}
	}
	if s.draining.Load() {
		s.respond(req, tx, 503, "Service Unavailable")
		return
	}
	dir := s.dir.Load()
	var (
		ep       *Endpoint
		ok       bool
		linked   string // a peer node's call keeps its linkedid
		fromNode string // and names the node it came from
	)
	switch node, peer := s.peerOf(req); {
	case peer:
		ep, linked, ok = s.identifyPeer(dir, node, req, tx)
		fromNode = node
	case transportOf(req) == "tls":
		// The TLS listener is the nodes' own: nothing else gets a call
		// through it.
		s.respond(req, tx, 403, "Forbidden")
	default:
		ep, ok = s.identify(dir, req, tx, src.String())
	}
	if !ok {
		return
	}
	// Hosted mode: a tenant past its max_calls gets 503 (the INVITE's
	// channel would be one too many).
	release, err := s.opts.Limits.Acquire(ep.Tenant)
	if err != nil {
		s.log.Warn("call refused", "endpoint", ep.Name, "err", err)
		s.respond(req, tx, 503, "Service Unavailable")
		return
	}
	defer release()
	exten := req.Recipient.User
	if exten == "" {
		exten = "s"
	}
	offer, err := media.ParseSDP(req.Body())
	if err != nil {
		s.log.Warn("INVITE with unusable SDP", "from", src, "err", err)
		s.respond(req, tx, 488, "Not Acceptable Here")
		return
	}
	neg, err := media.Negotiate(offer, ep.Codecs)
	if err != nil {
		s.log.Info("no common codec", "endpoint", ep.Name, "from", src)
		s.respond(req, tx, 488, "Not Acceptable Here", sip.NewHeader("Warning", `304 entvoice "Media type not available"`))
		return
	}
	if !s.opts.Handler.Exists(ep.Context, exten) {
		s.log.Info("call to unknown extension", "endpoint", ep.Name, "exten", exten, "context", ep.Context)
		s.respond(req, tx, 404, "Not Found")
		return
	}
	sess, err := media.NewSession(s.opts.Ports, s.opts.Pacer, s.log)
	if err != nil {
		s.log.Error("no RTP port for call", "err", err, "pairs_in_use", s.opts.Ports.InUse(), "pairs", s.opts.Ports.Size())
		s.respond(req, tx, 503, "Service Unavailable")
		return
	}
	sess.SetRemote(neg)
	dtx, err := s.dialogUAs[transportOf(req)].ReadInvite(req, tx)
	if err != nil {
		sess.Close()
		s.respond(req, tx, 400, "Bad Request")
		return
	}
	s.respond(req, tx, 100, "Trying")

	callerNum, callerName := ep.CallerNum, ep.CallerName
	if callerNum == "" {
		callerNum = req.From().Address.User
		callerName = strings.Trim(req.From().DisplayName, `"`)
	}
	l := &inLeg{srv: s, dtx: dtx, req: req, media: sess, neg: neg, sdpVersion: 1}
	l.sessionExpires = sessionExpires(req, s.opts.SessionExpires)
	ch := s.opts.Channels.New(channel.Options{
		Tech: "PJSIP", Endpoint: ep.Name, Direction: channel.Inbound, LinkedID: linked,
		CallerNum: callerNum, CallerName: callerName,
		Language: ep.Language, AccountCode: ep.AccountCode, Tenant: tenancy.Of(ep.Tenant),
		Context: ep.Context, Exten: exten, Driver: l, State: channel.StateRing,
		Denied: ep.Denied,
	})
	l.ch = ch
	sess.OnDigit(dtmfEvents(ch))
	// chan_pjsip sets SIPDOMAIN to the request URI's domain.
	ch.SetVar("SIPDOMAIN", req.Recipient.Host)
	if fromNode != "" {
		ch.SetVar(VarFromNode, fromNode)
	}
	s.addLeg(dtx.ID, l)
	defer s.removeLeg(dtx.ID)
	defer sess.Close()
	// sipgo keeps the INVITE transaction, and so this callback, for up to
	// 32 s after the call (RFC 6026 Timer L): it must not hold the call's
	// channel, leg and media session that long.
	var live atomic.Pointer[channel.Channel]
	live.Store(ch)
	defer live.Store(nil)
	tx.OnCancel(func(*sip.Request) {
		// CANCEL before answer: the caller gave up (NO ANSWER in the CDR).
		if c := live.Load(); c != nil {
			c.RemoteHangup(q850.NormalClearing)
		}
	})
	s.opts.Handler.HandleCall(ch)
	l.stopSessionTimer()
	l.wait()
}

// identify finds the endpoint an INVITE comes from and authenticates it,
// answering the request itself when it is refused or challenged.
//
// Hosted mode: the caller's tenant is the one whose domain the From URI
// (else the Request-URI) names, and the From user is looked up among that
// tenant's users only and challenged in its realm (Asterisk identifies
// by From user alone; its endpoint names are global).
func (s *Server) identify(dir *Directory, req *sip.Request, tx sip.ServerTransaction, src string) (*Endpoint, bool) {
	addr := source(req).Addr()
	fromUser := ""
	var fromURI *sip.Uri
	if f := req.From(); f != nil {
		fromUser = f.Address.User
		fromURI = &f.Address
	}
	tid := tenantOfRequest(dir, fromURI, req)
	if u, ok := dir.UserIn(tid, fromUser); ok {
		challenger := s.challengerFor(dir, tid)
		if u.ACL != nil && !u.ACL.Allowed(addr) {
			s.log.Warn("call refused by ACL", "endpoint", u.Name, "source", src)
			s.bus.Publish(events.Event{Kind: events.RequestNotAllowd, Peer: "PJSIP/" + u.Name, Address: src})
			s.respond(req, tx, 403, "Forbidden")
			return nil, false
		}
		res := challenger.Verify(req, func(name string) (sipauth.Credentials, bool) {
			e, ok := dir.UserIn(tid, name)
			if !ok {
				return sipauth.Credentials{}, false
			}
			return e.Credentials, true
		})
		switch res.Status {
		case sipauth.OK:
			if res.Username != u.Name {
				s.log.Warn("INVITE authenticated as another user", "from", u.Name, "auth", res.Username, "source", src)
				s.respond(req, tx, 403, "Forbidden")
				return nil, false
			}
			if s.opts.Guard != nil {
				s.opts.Guard.AuthSucceeded(addr)
			}
		case sipauth.NoCredentials:
			s.respond(req, tx, 401, "Unauthorized", challenger.Challenge(false)...)
			return nil, false
		case sipauth.Stale:
			s.respond(req, tx, 401, "Unauthorized", challenger.Challenge(true)...)
			return nil, false
		case sipauth.Malformed:
			s.respond(req, tx, 400, "Bad Request")
			return nil, false
		default: // wrong password, unknown auth user
			s.log.Warn("failed to authenticate INVITE", "endpoint", u.Name, "source", src, "result", res.Status)
			s.bus.Publish(events.Event{Kind: events.InvalidPassword, Peer: "PJSIP/" + u.Name, Address: src})
			if s.opts.Guard != nil && s.opts.Guard.AuthFailed(addr) {
				s.log.Warn("source banned after repeated authentication failures", "source", src)
			}
			s.respond(req, tx, 401, "Unauthorized", challenger.Challenge(false)...)
			return nil, false
		}
		if !u.Enabled {
			s.log.Info("call from disabled user refused", "endpoint", u.Name, "tenant", tenancy.Of(u.Tenant), "source", src)
			s.respond(req, tx, 403, "Forbidden")
			return nil, false
		}
		return u, true
	}
	if t, ok := dir.TrunkFor(addr); ok && t.Enabled {
		return t, true
	}
	s.log.Warn("INVITE from unknown endpoint refused", "from", fromUser, "source", src)
	s.respond(req, tx, 403, "Forbidden")
	return nil, false
}

// sessionExpires returns the session interval to confirm in the 200 OK
// (RFC 4028 section 9), or 0 when the UAC did not ask for session timers.
func sessionExpires(req *sip.Request, ours int) int {
	h := req.GetHeader("Session-Expires")
	if h == nil {
		return 0
	}
	v, _, _ := strings.Cut(h.Value(), ";")
	n := 0
	for _, c := range strings.TrimSpace(v) {
		if c < '0' || c > '9' {
			return 0
		}
		n = n*10 + int(c-'0')
	}
	if n == 0 {
		return 0
	}
	if ours > 0 && n > ours {
		return ours
	}
	return n
}

// inLeg is the UAS side of a call: the caller's leg.
type inLeg struct {
	srv            *Server
	dtx            dialogServer
	req            *sip.Request
	ch             *channel.Channel
	media          *media.Session
	neg            media.Negotiated
	sessionExpires int

	mu         sync.Mutex
	sdpVersion uint64
	answered   bool
	finalSent  bool
	pending    sync.WaitGroup
	// acked is closed when the 200 was ACKed or sipgo gave up waiting.
	acked chan struct{}
	// expiry ends a session the caller stops refreshing (RFC 4028).
	expiry *time.Timer
}

// armSessionTimer (re)starts the RFC 4028 session timer: the caller, as
// refresher, must refresh within the interval; otherwise we send BYE a
// little before it runs out (section 10: max(interval-32, interval/3)
// seconds early at most; we keep a third).
func (l *inLeg) armSessionTimer() {
	if l.sessionExpires <= 0 {
		return
	}
	d := time.Duration(l.sessionExpires) * time.Second
	d -= min(32*time.Second, d/3)
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.expiry != nil {
		l.expiry.Reset(d)
		return
	}
	l.expiry = time.AfterFunc(d, func() {
		l.ch.Log().Warn("session timer expired: the caller stopped refreshing the session", "interval", l.sessionExpires)
		l.ch.Hangup(q850.NormalClearing)
	})
}

func (l *inLeg) stopSessionTimer() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.expiry != nil {
		l.expiry.Stop()
	}
}

// dialogServer is the part of sipgo's DialogServerSession the leg uses.
type dialogServer interface {
	Respond(statusCode int, reason string, body []byte, headers ...sip.Header) error
	RespondSDP(sdp []byte) error
	Bye(ctx context.Context) error
	ReadAck(req *sip.Request, tx sip.ServerTransaction) error
	ReadBye(req *sip.Request, tx sip.ServerTransaction) error
}

func (l *inLeg) Media() *media.Session { return l.media }

func (l *inLeg) localSDP() []byte {
	l.mu.Lock()
	v := l.sdpVersion
	l.mu.Unlock()
	return media.LocalDescription{
		Addr:      l.media.LocalAddr(),
		Codecs:    []media.Codec{l.neg.Codec},
		DTMF:      l.neg.DTMF,
		Direction: l.neg.Direction,
		SessionID: sessionIDFor(l.ch),
		Version:   v,
	}.Marshal()
}

func (l *inLeg) Indicate(ind channel.Indication) error {
	l.mu.Lock()
	if l.answered || l.finalSent {
		l.mu.Unlock()
		return nil
	}
	l.mu.Unlock()
	switch ind {
	case channel.IndicateRinging:
		return l.dtx.Respond(180, "Ringing", nil, l.srv.serverHeader())
	case channel.IndicateProgress:
		return l.dtx.Respond(183, "Session Progress", l.localSDP(), sip.NewHeader("Content-Type", "application/sdp"), l.srv.serverHeader())
	case channel.IndicateBusy:
		// chan_pjsip answers an unanswered channel's busy indication
		// with 486 at once.
		l.sendFinal(486, "Busy Here")
	case channel.IndicateCongestion:
		l.sendFinal(503, "Service Unavailable")
	}
	return nil
}

func (l *inLeg) Answer(ctx context.Context) error {
	l.mu.Lock()
	if l.answered {
		l.mu.Unlock()
		return nil
	}
	if l.finalSent {
		l.mu.Unlock()
		return channel.ErrHangup
	}
	l.answered = true
	l.acked = make(chan struct{})
	l.mu.Unlock()
	l.armSessionTimer()
	sdp := l.localSDP()
	hdrs := []sip.Header{sip.NewHeader("Content-Type", "application/sdp"), l.srv.serverHeader()}
	if l.sessionExpires > 0 {
		hdrs = append(hdrs, sip.NewHeader("Session-Expires", itoa(l.sessionExpires)+";refresher=uac"), sip.NewHeader("Require", "timer"))
	}
	// sipgo retransmits the 2xx until the ACK arrives (RFC 3261 13.3.1.4)
	// and reports a missing ACK; that wait must not hold the dialplan.
	l.pending.Add(1)
	go func() {
		defer l.pending.Done()
		defer close(l.acked)
		if err := l.dtx.Respond(200, "OK", sdp, hdrs...); err != nil {
			l.ch.Log().Warn("answer failed", "err", err)
			l.ch.RemoteHangup(q850.NormalClearing)
		}
	}()
	return nil
}

func (l *inLeg) sendFinal(code int, reason string) {
	l.mu.Lock()
	if l.answered || l.finalSent {
		l.mu.Unlock()
		return
	}
	l.finalSent = true
	l.mu.Unlock()
	l.pending.Add(1)
	go func() {
		defer l.pending.Done()
		// sipgo waits for the ACK of a final error response.
		_ = l.dtx.Respond(code, reason, nil, l.srv.serverHeader())
	}()
}

func (l *inLeg) Hangup(cause int) {
	l.mu.Lock()
	answered, acked := l.answered, l.acked
	l.mu.Unlock()
	if !answered {
		l.sendFinal(q850.ToSIP(cause), reasonFor(q850.ToSIP(cause)))
		return
	}
	l.pending.Add(1)
	go func() {
		defer l.pending.Done()
		// RFC 3261 section 15: the callee must not send BYE before its 2xx
		// is ACKed (or the transaction gave up); sipgo's dialog has no
		// final response to build the BYE from before then.
		<-acked
		ctx, cancel := context.WithTimeout(context.Background(), signallingTimeout)
		defer cancel()
		if err := l.dtx.Bye(ctx); err != nil {
			l.ch.Log().Debug("BYE failed", "err", err)
		}
	}()
}

// wait lets the last signalling (200 retransmissions, BYE) finish.
func (l *inLeg) wait() { l.pending.Wait() }

func (l *inLeg) onAck(req *sip.Request, tx sip.ServerTransaction) {
	_ = l.dtx.ReadAck(req, tx)
}

func (l *inLeg) onBye(req *sip.Request, tx sip.ServerTransaction) {
	if err := l.dtx.ReadBye(req, tx); err != nil {
		l.srv.respond(req, tx, 481, "Call/Transaction Does Not Exist")
		return
	}
	l.ch.RemoteHangup(q850.NormalClearing)
}

// onReinvite handles hold/unhold and session refreshes (RFC 3264 section 8,
// RFC 4028). Media is anchored, so hold is handled on this leg alone.
func (l *inLeg) onReinvite(req *sip.Request, tx sip.ServerTransaction) {
	neg, ok := l.srv.renegotiate(req, tx, l.neg)
	if !ok {
		return
	}
	l.mu.Lock()
	changed := neg != l.neg
	l.neg = neg
	if changed {
		l.sdpVersion++
	}
	l.mu.Unlock()
	if changed {
		l.media.SetRemote(neg)
	}
	l.armSessionTimer() // a re-INVITE or UPDATE refreshes the session
	l.srv.respondReinvite(req, tx, l.localSDP(), l.sessionExpires)
}

func (l *inLeg) onInfo(req *sip.Request, tx sip.ServerTransaction) {
	l.srv.handleInfo(req, tx, l.media)
}

// dtmfEvents reports received digits as DTMFBegin and DTMFEnd. The media
// layer knows a digit once it ended, so both are raised then.
func dtmfEvents(ch *channel.Channel) func(media.DTMF) {
	return func(d media.DTMF) {
		ch.Publish(events.Event{Kind: events.DTMFBegin, Digit: d.Digit, Direction: "Received"})
		ch.Publish(events.Event{Kind: events.DTMFEnd, Digit: d.Digit, Duration: d.Duration, Direction: "Received"})
	}
}
