package sipua

import (
	"context"
	"errors"
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
	releaseEP, err := s.calls.acquire(ep)
	if err != nil {
		s.log.Warn("call refused", "endpoint", ep.Name, "err", err)
		s.security(req, ep.Tenant, events.Security{Kind: events.SessionLimit, AccountID: ep.Name})
		s.respond(req, tx, 503, "Service Unavailable")
		return
	}
	defer releaseEP()
	exten := req.Recipient.User
	if exten == "" {
		exten = "s"
	}
	// An INVITE without a body is a delayed offer (RFC 3261 section
	// 13.2.1, RFC 3264): the offer goes in our 200 OK, the answer comes in
	// the ACK, and until then no media flows.
	delayed := len(req.Body()) == 0
	sec := s.newLegSecurity(ep)
	var neg media.Negotiated
	if delayed {
		dtmf := media.DefaultTelephoneEvent
		neg = media.Negotiated{Codec: ep.Codecs[0], DTMF: &dtmf, Direction: media.SendRecv}
	} else {
		offer, err := media.ParseSDP(req.Body())
		if err != nil {
			s.log.Warn("INVITE with unusable SDP", "from", src, "err", err)
			s.respond(req, tx, 488, "Not Acceptable Here")
			return
		}
		if neg, err = media.Negotiate(offer, ep.Codecs); err != nil {
			s.log.Info("no common codec", "endpoint", ep.Name, "from", src)
			s.respond(req, tx, 488, "Not Acceptable Here", sip.NewHeader("Warning", `304 entvoice "Media type not available"`))
			return
		}
		if err := sec.answer(offer, &neg); err != nil {
			// media_encryption required but not offered, or SRTP
			// offered to an endpoint without it (RFC 3261 21.4.26).
			s.log.Info("call refused: media encryption", "endpoint", ep.Name, "from", src, "media_encryption", ep.MediaEncryption, "profile", offer.Proto, "err", err)
			s.respond(req, tx, 488, "Not Acceptable Here", sip.NewHeader("Warning", `305 entvoice "Incompatible media format: `+encryptionWarning(err)+`"`))
			return
		}
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
	if !delayed {
		sess.SetRemote(neg)
		if err := sec.start(sess); err != nil {
			s.log.Error("WebRTC stream not started", "endpoint", ep.Name, "err", err)
			sess.Close()
			s.respond(req, tx, 488, "Not Acceptable Here")
			return
		}
	}
	dua, _ := s.dialogUA(transportOf(req), ep.RewriteContact)
	dtx, err := dua.ReadInvite(req, tx)
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
	l := &inLeg{srv: s, dtx: dtx, req: req, media: sess, neg: neg, sdpVersion: 1, established: !delayed, codecs: ep.Codecs, sec: sec}
	if delayed {
		l.offered = ep.Codecs
	}
	l.sessionExpires = sessionExpires(req, s.opts.SessionExpires)
	ch := s.opts.Channels.New(channel.Options{
		Tech: "PJSIP", Endpoint: ep.Name, Direction: channel.Inbound, LinkedID: linked,
		CallerNum: callerNum, CallerName: callerName,
		Language: ep.Language, AccountCode: ep.AccountCode, Tenant: tenancy.Of(ep.Tenant),
		Context: ep.Context, Exten: exten, Driver: l, State: channel.StateRing,
		Denied: ep.Denied, Groups: ep.Groups,
	})
	l.ch = ch
	watchDTMF(sess, ch)
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
//
// A From user that is neither a user nor a trunk's address is challenged
// like a user whose password nobody knows (Asterisk's artificial
// endpoint): a scanner cannot tell an unknown user from a wrong password,
// by the answer or by its timing.
func (s *Server) identify(dir *Directory, req *sip.Request, tx sip.ServerTransaction, src string) (*Endpoint, bool) {
	addr := source(req).Addr()
	fromUser := ""
	var fromURI *sip.Uri
	if f := req.From(); f != nil {
		fromUser = f.Address.User
		fromURI = &f.Address
	}
	tid := tenantOfRequest(dir, fromURI, req)
	u, known := dir.UserIn(tid, fromUser)
	if !known {
		if t, ok := dir.TrunkFor(addr); ok && t.Enabled {
			if !s.trunkCertOK(t, req) {
				s.log.Warn("trunk call refused: no verified client certificate", "trunk", t.Name, "source", src, "tls_name", t.TLSName)
				s.security(req, "", events.Security{Kind: events.FailedACL, AccountID: t.Name, ACLName: "tls_verify"})
				s.respond(req, tx, 403, "Forbidden")
				return nil, false
			}
			return t, true
		}
	}
	challenger := s.challengerFor(dir, tid)
	if known && u.ACL != nil && !u.ACL.Allowed(addr) {
		s.log.Warn("call refused by ACL", "endpoint", u.Name, "source", src)
		s.security(req, tid, events.Security{Kind: events.FailedACL, AccountID: u.Name, ACLName: "acl"})
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
	account := fromUser
	if !known {
		account = "<unknown>"
		// res_pjsip's distributor reports every request of the
		// artificial endpoint; the source's failures count toward its ban.
		s.security(req, tid, events.Security{Kind: events.InvalidAccountID, AccountID: fromUser})
		if res.Status == sipauth.OK {
			res.Status = sipauth.UnknownUser // authenticated as someone, but the From user is no one
		}
		if s.opts.Guard.AuthFailed(addr) {
			s.log.Warn("source banned after repeated authentication failures", "source", src)
		}
	}
	challenge := func(stale bool) {
		hs := challenger.Challenge(stale)
		s.respond(req, tx, 401, "Unauthorized", hs...)
		s.security(req, tid, events.Security{Kind: events.ChallengeSent, AccountID: account, Challenge: sipauth.ChallengeNonce(hs)})
	}
	switch res.Status {
	case sipauth.OK:
		if res.Username != u.Name {
			s.log.Warn("INVITE authenticated as another user", "from", u.Name, "auth", res.Username, "source", src)
			s.respond(req, tx, 403, "Forbidden")
			return nil, false
		}
		s.opts.Guard.AuthSucceeded(addr)
		s.security(req, tid, events.Security{Kind: events.SuccessfulAuth, AccountID: u.Name, UsingPassword: true})
	case sipauth.NoCredentials:
		challenge(false)
		return nil, false
	case sipauth.Stale:
		challenge(true)
		return nil, false
	case sipauth.Malformed:
		s.security(req, tid, events.Security{Kind: events.RequestBadFormat, AccountID: fromUser, RequestType: "INVITE"})
		s.respond(req, tx, 400, "Bad Request")
		return nil, false
	default: // wrong password, unknown auth user
		if known {
			s.log.Warn("failed to authenticate INVITE", "endpoint", u.Name, "source", src, "result", res.Status)
			s.security(req, tid, events.Security{Kind: events.ChallengeResponseFailed, AccountID: u.Name, Challenge: res.Nonce, Response: res.Response})
			if s.opts.Guard.AuthFailed(addr) {
				s.log.Warn("source banned after repeated authentication failures", "source", src)
			}
		}
		challenge(false)
		return nil, false
	}
	if !u.Enabled {
		s.log.Info("call from disabled user refused", "endpoint", u.Name, "tenant", tenancy.Of(u.Tenant), "source", src)
		s.respond(req, tx, 403, "Forbidden")
		return nil, false
	}
	return u, true
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
	sec            *legSecurity // media encryption
	srv            *Server
	dtx            dialogServer
	req            *sip.Request
	ch             *channel.Channel
	media          *media.Session
	neg            media.Negotiated
	codecs         []media.Codec // the endpoint's, in its order of preference
	sessionExpires int

	mu         sync.Mutex
	sdpVersion uint64
	answered   bool
	finalSent  bool
	// established is set once the session has an answer (at once for an
	// INVITE with an offer, with the ACK for a delayed offer).
	established bool
	// offered are the codecs of the offer this leg made in a 2xx and
	// whose answer comes in the ACK (delayed offer, RFC 3264): the
	// INVITE's or a re-INVITE's without a body. Nil when no answer is
	// awaited.
	offered []media.Codec
	pending sync.WaitGroup
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

// localSDP is our session description: the answer in force, or, while an
// answer is awaited in an ACK, our offer of every codec the endpoint takes.
func (l *inLeg) localSDP() []byte {
	l.mu.Lock()
	v, neg, offered := l.sdpVersion, l.neg, l.offered
	l.mu.Unlock()
	codecs, dir := []media.Codec{neg.Codec}, neg.Direction
	if offered != nil {
		// An offer states what we are willing to do: send and receive.
		codecs, dir = offered, media.SendRecv
	}
	ld := media.LocalDescription{
		Addr:      l.media.LocalAddr(),
		Codecs:    codecs,
		DTMF:      neg.DTMF,
		Direction: dir,
		SessionID: sessionIDFor(l.ch),
		Version:   v,
	}
	if offered != nil {
		if err := l.sec.offer(&ld); err != nil {
			l.ch.Log().Error("SRTP keys for our offer", "err", err)
		}
	} else {
		l.sec.describe(&ld)
	}
	return ld.Marshal()
}

// awaitingAnswer reports whether our offer's answer is still to come in
// an ACK.
func (l *inLeg) awaitingAnswer() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.offered != nil
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
		if l.awaitingAnswer() {
			// A delayed offer may only go in a reliable response (RFC
			// 3261 section 13.2.1); without 100rel the 183 carries no
			// SDP and media starts with the answer in the ACK.
			return l.dtx.Respond(183, "Session Progress", nil, l.srv.serverHeader())
		}
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

// onAck takes the ACK of our 2xx. When the 2xx carried an offer (delayed
// offer, or a re-INVITE without SDP), the ACK carries the answer: an ACK
// whose SDP is missing or unusable ends a new call with BYE (RFC 3261
// section 13.3.1.4, RFC 3264 section 6); on an established call it leaves
// the session as it was.
func (l *inLeg) onAck(req *sip.Request, tx sip.ServerTransaction) {
	_ = l.dtx.ReadAck(req, tx)
	l.mu.Lock()
	offered, established := l.offered, l.established
	l.offered = nil
	l.mu.Unlock()
	if offered == nil {
		return
	}
	neg, err := answerOf(req.Body(), offered, l.sec)
	if err != nil {
		if !established {
			l.ch.Log().Warn("ACK without a usable answer to our offer, ending the call", "err", err)
			l.ch.Hangup(q850.IncompatibleDest)
			return
		}
		l.ch.Log().Warn("ACK without a usable answer to our re-offer, keeping the session", "err", err)
		return
	}
	l.mu.Lock()
	changed := neg != l.neg
	l.neg, l.established = neg, true
	l.mu.Unlock()
	if changed || !established {
		l.media.SetRemote(neg)
		if err := l.sec.start(l.media); err != nil {
			l.ch.Log().Warn("WebRTC stream not started", "err", err)
		}
	}
	if established {
		// The answer to our re-offer may hold the call (RFC 3264
		// section 8.4).
		l.ch.RemoteHold(neg.Hold)
	}
	if !established {
		l.ch.Log().Debug("delayed offer answered in the ACK", "codec", neg.Codec.Name, "remote", neg.Remote)
	}
}

// answerOf reads the answer to our offer of offered.
func answerOf(body []byte, offered []media.Codec, sec *legSecurity) (media.Negotiated, error) {
	if len(body) == 0 {
		return media.Negotiated{}, errors.New("no SDP answer")
	}
	ans, err := media.ParseSDP(body)
	if err != nil {
		return media.Negotiated{}, err
	}
	neg, err := media.Negotiate(ans, offered)
	if err != nil {
		return neg, err
	}
	return neg, sec.accept(ans, &neg)
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
	if req.Method == sip.INVITE && len(req.Body()) == 0 {
		// A re-INVITE without an offer asks for ours (RFC 3264 section
		// 8): the 200 offers the session as it is, and the answer (hold,
		// unhold) comes in the ACK.
		l.mu.Lock()
		l.offered = []media.Codec{l.neg.Codec}
		if l.neg.Direction != media.SendRecv {
			l.sdpVersion++ // the offer differs from our last description
		}
		l.mu.Unlock()
		l.armSessionTimer()
		l.srv.respondReinvite(req, tx, l.localSDP(), l.sessionExpires)
		return
	}
	neg, ok := l.srv.renegotiate(req, tx, l.neg, l.sec)
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
		if err := l.sec.start(l.media); err != nil {
			l.ch.Log().Warn("WebRTC stream not restarted", "err", err)
		}
	}
	l.armSessionTimer() // a re-INVITE or UPDATE refreshes the session
	l.srv.respondReinvite(req, tx, l.localSDP(), l.sessionExpires)
	l.ch.RemoteHold(neg.Hold)
}

func (l *inLeg) onInfo(req *sip.Request, tx sip.ServerTransaction) {
	l.srv.handleInfo(req, tx, l.media)
}

// watchDTMF reports a leg's received digits as DTMFBegin when they begin
// (the first RFC 4733 packet, or the INFO) and DTMFEnd with their duration
// when they end, as Asterisk's channel publishes them.
func watchDTMF(sess *media.Session, ch *channel.Channel) {
	sess.OnDigitBegin(func(d rune) {
		ch.Publish(events.Event{Kind: events.DTMFBegin, Digit: d, Direction: "Received"})
	})
	sess.OnDigit(func(d media.DTMF) {
		ch.Publish(events.Event{Kind: events.DTMFEnd, Digit: d.Digit, Duration: d.Duration, Direction: "Received"})
	})
}
