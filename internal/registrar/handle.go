package registrar

import (
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/entvoice/entvoice/internal/events"
	"github.com/entvoice/entvoice/internal/sipauth"
)

// dateFormat is the RFC 1123 form required for the Date header (RFC 3261
// section 20.17), always in GMT.
const dateFormat = "Mon, 02 Jan 2006 15:04:05 GMT"

// contactUpdate is one Contact of a REGISTER, resolved.
type contactUpdate struct {
	key     string
	contact string // the URI, rendered
	params  sip.HeaderParams
	exp     time.Duration
}

// Handle processes one REGISTER (RFC 3261 section 10.3) that arrived from
// src over transport ("UDP", "TCP", "TLS", "WS", "WSS") and returns the
// response to send. It does no network I/O, so it serves both a sipgo
// handler (tx.Respond(res)) and the stateless UDP path (WrapPacketConn).
// It returns nil when the request must be dropped without an answer: the
// source is banned (acl.Guard; rates are the caller's edge), or the
// request has no Via to answer to.
//
// Outcomes: 401 with the configured challenges when there are no
// credentials (for every username, known or not, so users cannot be
// enumerated), 401 with stale=true for an expired nonce, 401 with a fresh
// nonce for a wrong password and alike for an unknown user
// (the same answer after the same work, as Asterisk's artificial endpoint
// gives: nothing tells the two apart; logged as a warning naming the
// source and user, and counted by the Guard), 403 for a source the
// account's ACL denies, a disabled account (once its password is right), a To user other than the authenticated one, or
// too many contacts; 400 for malformed requests,
// 420 for Require, 423 with Min-Expires for too short an expiry, and 200
// listing every current contact with its remaining expires and a Date.
func (r *Registrar) Handle(req *sip.Request, src netip.AddrPort, transport string) *sip.Response {
	ip := src.Addr().Unmap()
	if r.guard.Banned(ip) {
		return nil
	}
	if req.Via() == nil {
		return nil
	}
	if req.Method != sip.REGISTER {
		res := r.reply(req, src, sip.StatusMethodNotAllowed, "Method Not Allowed")
		res.AppendHeader(sip.NewHeader("Allow", "REGISTER"))
		return res
	}
	if req.From() == nil || req.To() == nil || req.CallID() == nil || req.CSeq() == nil || req.CSeq().MethodName != sip.REGISTER {
		return r.reply(req, src, sip.StatusBadRequest, "Bad Request")
	}
	r.Sweep()

	// Step 2: we support no extension a client could require.
	if ext := requireValues(req); ext != "" {
		res := r.reply(req, src, sip.StatusBadExtension, "Bad Extension")
		res.AppendHeader(sip.NewHeader("Unsupported", ext))
		return res
	}

	// Step 3: authenticate. Account state (unknown, disabled, ACL) is
	// checked only once a digest for our realm arrives, so the first 401
	// looks the same for every username, as with Asterisk.
	var (
		acct      Account
		denied    string
		aclDenied bool
	)
	sc := Scope{Challenger: r.ch, Lookup: r.lookup}
	if r.scope != nil {
		sc = r.scope(req)
	}
	v := sc.Challenger.Verify(req, func(user string) (sipauth.Credentials, bool) {
		a, ok := sc.Lookup(user)
		switch {
		case !ok:
			denied = "unknown user"
		case !a.ACL.Allowed(ip):
			denied, aclDenied = "source address denied by ACL", true
		default:
			acct = a
			return a.Credentials, true
		}
		return sipauth.Credentials{}, false
	})
	report := func(ev events.Security) {
		if r.security != nil {
			r.security(req, src, transport, ev)
		}
	}
	switch v.Status {
	case sipauth.OK:
		r.guard.AuthSucceeded(ip)
		report(events.Security{Kind: events.SuccessfulAuth, AccountID: v.Username, UsingPassword: true})
	case sipauth.NoCredentials:
		return r.challenge(sc.Challenger, req, src, false, report)
	case sipauth.Stale:
		return r.challenge(sc.Challenger, req, src, true, report)
	case sipauth.NoAlgorithm:
		var algs []string
		if acct.Credentials.HA1SHA256 != "" {
			algs = append(algs, sipauth.SHA256)
		}
		if acct.Credentials.HA1MD5 != "" {
			algs = append(algs, sipauth.MD5)
		}
		if len(algs) == 0 {
			r.authFailed(ip, src, v.Username, "account has no credentials")
			return r.reply(req, src, sip.StatusForbidden, "Forbidden")
		}
		res := r.reply(req, src, sip.StatusUnauthorized, "Unauthorized")
		for _, h := range sc.Challenger.ChallengeAlgorithms(false, algs...) {
			res.AppendHeader(h)
		}
		return res
	case sipauth.BadPassword:
		r.authFailed(ip, src, v.Username, "wrong password")
		report(events.Security{Kind: events.ChallengeResponseFailed, AccountID: v.Username, Challenge: v.Nonce, Response: v.Response})
		return r.challenge(sc.Challenger, req, src, false, nil)
	case sipauth.UnknownUser:
		r.authFailed(ip, src, v.Username, denied)
		if aclDenied {
			// Asterisk checks an endpoint's ACL before anything else and
			// answers 403 (res_pjsip apply_endpoint_acl).
			report(events.Security{Kind: events.FailedACL, AccountID: v.Username, ACLName: "acl"})
			return r.reply(req, src, sip.StatusForbidden, "Forbidden")
		}
		report(events.Security{Kind: events.InvalidAccountID, AccountID: v.Username})
		return r.challenge(sc.Challenger, req, src, false, nil)
	default: // Malformed
		r.log.Debug("REGISTER with malformed credentials", "source", src.String(), "user", v.Username)
		report(events.Security{Kind: events.RequestBadFormat, AccountID: v.Username, RequestType: "REGISTER"})
		return r.reply(req, src, sip.StatusBadRequest, "Bad Request")
	}

	if !acct.Enabled {
		// Only the account's own password learns it is disabled.
		r.log.Info("REGISTER of a disabled account refused", "source", src.String(), "user", acct.Username)
		return r.reply(req, src, sip.StatusForbidden, "Forbidden")
	}

	// Step 5 (and Asterisk's AOR match): the authenticated user may only
	// register its own address-of-record.
	if to := req.To(); to.Address.User != acct.Username {
		r.log.Warn("REGISTER for another user's AOR refused", "source", src.String(), "user", acct.Username, "to", to.Address.User)
		return r.reply(req, src, sip.StatusForbidden, "Forbidden")
	}
	aor := acct.AOR
	if aor == "" {
		aor = acct.Username
	}

	// Steps 6 and 7: resolve contacts and their expiry.
	now := r.clock()
	callID := string(*req.CallID())
	cseq := req.CSeq().SeqNo
	hdrExp, hasHdrExp := headerExpires(req)
	var (
		updates  []contactUpdate
		wildcard bool
		tooBrief bool
	)
	contacts := req.GetHeaders("contact")
	for _, h := range contacts {
		c, ok := h.(*sip.ContactHeader)
		if !ok {
			return r.reply(req, src, sip.StatusBadRequest, "Bad Request")
		}
		if c.Address.Wildcard {
			// "Contact: *" must be alone and with Expires: 0.
			if len(contacts) != 1 || !hasHdrExp || hdrExp != 0 {
				return r.reply(req, src, sip.StatusBadRequest, "Bad Request")
			}
			wildcard = true
			break
		}
		exp := r.defExp
		if hasHdrExp {
			exp = hdrExp
		}
		if s, ok := c.Params.Get("expires"); ok {
			if n, err := strconv.ParseUint(strings.TrimSpace(s), 10, 32); err == nil {
				exp = time.Duration(n) * time.Second
			}
		}
		if exp != 0 && exp < r.minExp {
			tooBrief = true
		}
		exp = min(exp, r.maxExp)
		var params sip.HeaderParams
		for _, p := range c.Params {
			if !strings.EqualFold(p.K, "expires") {
				params = append(params, sip.HeaderKV{K: strings.Clone(p.K), V: strings.Clone(p.V)})
			}
		}
		updates = append(updates, contactUpdate{key: contactKey(&c.Address), contact: c.Address.String(), params: params, exp: exp})
	}
	if tooBrief {
		// Section 10.3 step 7: reject the whole request, change nothing.
		res := r.reply(req, src, sip.StatusIntervalToBrief, "Interval Too Brief")
		res.AppendHeader(sip.NewHeader("Min-Expires", strconv.Itoa(int(r.minExp/time.Second))))
		return res
	}
	maxContacts := acct.MaxContacts
	if maxContacts <= 0 {
		maxContacts = DefaultMaxContacts
	}
	if countAdds(updates) > maxContacts {
		r.log.Warn("REGISTER with more contacts than allowed", "source", src.String(), "user", aor, "max_contacts", maxContacts)
		return r.reply(req, src, sip.StatusForbidden, "Forbidden")
	}

	// Clones: a binding outlives the request, whose parsed strings may
	// share the received datagram's memory.
	in := regInput{
		aor: aor, callID: strings.Clone(callID), cseq: cseq, now: now, src: src, transport: transport,
		userAgent: strings.Clone(headerValue(req, "user-agent")), maxContacts: maxContacts,
	}
	prev, current, changed := r.apply(in, updates, wildcard)
	if changed && r.onChange != nil {
		r.onChange(aor, prev, cloneBindings(current))
	}

	res := r.reply(req, src, sip.StatusOK, "OK")
	for i := range current {
		b := &current[i]
		left := (b.Expires.Sub(now) + time.Second - 1) / time.Second
		h := &sip.ContactHeader{Params: make(sip.HeaderParams, 0, len(b.params)+1)}
		if err := sip.ParseUri(b.Contact, &h.Address); err != nil {
			continue // stored from a parsed URI: cannot happen
		}
		h.Params = append(append(h.Params, b.params...), sip.HeaderKV{K: "expires", V: strconv.Itoa(int(left))})
		res.AppendHeader(h)
	}
	res.AppendHeader(sip.NewHeader("Date", now.UTC().Format(dateFormat)))
	return res
}

func countAdds(us []contactUpdate) int {
	n := 0
	for i, u := range us {
		if u.exp == 0 {
			continue
		}
		dup := false
		for _, p := range us[:i] {
			if p.key == u.key {
				dup = true
				break
			}
		}
		if !dup {
			n++
		}
	}
	return n
}

// authFailed logs a failed registration attempt (Asterisk logs these as
// security events fail2ban acts on) and feeds the Guard.
func (r *Registrar) authFailed(ip netip.Addr, src netip.AddrPort, user, reason string) {
	banned := r.guard.AuthFailed(ip)
	r.log.Warn("REGISTER authentication failed", "source", src.String(), "user", user, "reason", reason)
	if banned {
		r.log.Warn("source banned after repeated authentication failures", "source", src.Addr().String())
	}
}

// challenge answers 401 with fresh challenges; report, when set, is told
// of the ChallengeSent.
func (r *Registrar) challenge(ch *sipauth.Challenger, req *sip.Request, src netip.AddrPort, stale bool, report func(events.Security)) *sip.Response {
	res := r.reply(req, src, sip.StatusUnauthorized, "Unauthorized")
	hs := ch.Challenge(stale)
	for _, h := range hs {
		res.AppendHeader(h)
	}
	if report != nil {
		report(events.Security{Kind: events.ChallengeSent, AccountID: "<unknown>", Challenge: sipauth.ChallengeNonce(hs)})
	}
	return res
}

// reply builds a response and records where the request really came from
// on its top Via: received= when the sent-by host differs from the source
// address (RFC 3261 section 18.2.1), and received= plus rport= with the
// source port when the client asked with an empty rport (RFC 3581 section
// 4). The response is meant to go back to src (Asterisk's force_rport).
func (r *Registrar) reply(req *sip.Request, src netip.AddrPort, code int, reason string) *sip.Response {
	res := sip.NewResponseFromRequest(req, code, reason, nil)
	if src.IsValid() {
		fillVia(res.Via(), src)
		res.SetDestination(src.String())
	}
	return res
}

func fillVia(v *sip.ViaHeader, src netip.AddrPort) {
	if v == nil {
		return
	}
	addr := src.Addr().Unmap()
	if v.Params.Has("rport") {
		v.Params.Add("received", addr.String())
		v.Params.Add("rport", strconv.Itoa(int(src.Port())))
		return
	}
	host := strings.TrimSuffix(strings.TrimPrefix(v.Host, "["), "]")
	if h, err := netip.ParseAddr(host); err != nil || h.Unmap() != addr {
		v.Params.Add("received", addr.String())
	} else {
		v.Params.Remove("received")
	}
}

// headerExpires returns the Expires header value, if present and valid.
func headerExpires(req *sip.Request) (time.Duration, bool) {
	h := req.GetHeader("expires")
	if h == nil {
		return 0, false
	}
	n, err := strconv.ParseUint(strings.TrimSpace(h.Value()), 10, 32)
	if err != nil {
		return 0, false
	}
	return time.Duration(n) * time.Second, true
}

// headerValue returns the value of header name (lowercase).
func headerValue(req *sip.Request, name string) string {
	if h := req.GetHeader(name); h != nil {
		return h.Value()
	}
	return ""
}

func requireValues(req *sip.Request) string {
	var out []string
	for _, h := range req.GetHeaders("require") {
		if v := strings.TrimSpace(h.Value()); v != "" {
			out = append(out, v)
		}
	}
	return strings.Join(out, ", ")
}

// contactKey identifies a contact for matching refreshes and removals, a
// simplification of RFC 3261 section 19.1.4 URI comparison: scheme, user
// (case-sensitive), host (case-insensitive), port and transport.
func contactKey(u *sip.Uri) string {
	var b strings.Builder
	b.Grow(len(u.User) + len(u.Host) + 24)
	b.WriteString(strings.ToLower(u.Scheme))
	b.WriteByte(':')
	b.WriteString(u.User)
	b.WriteByte('@')
	b.WriteString(strings.ToLower(u.Host))
	b.WriteByte(':')
	b.WriteString(strconv.Itoa(u.Port))
	if t, ok := u.UriParams.Get("transport"); ok {
		b.WriteString(";transport=")
		b.WriteString(strings.ToLower(t))
	}
	return b.String()
}
