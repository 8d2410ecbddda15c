package sipua

import (
	"bufio"
	"bytes"
	"hash/fnv"
	"strconv"
	"strings"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/entvoice/entvoice/internal/channel"
	"github.com/entvoice/entvoice/internal/media"
)

func (s *Server) serverHeader() sip.Header {
	return sip.NewHeader("Server", s.opts.UserAgent)
}

// renegotiate answers a re-INVITE or UPDATE offer against the codec already
// in use. A request without a body is a session refresh and keeps neg.
func (s *Server) renegotiate(req *sip.Request, tx sip.ServerTransaction, cur media.Negotiated, sec *legSecurity) (media.Negotiated, bool) {
	if len(req.Body()) == 0 {
		return cur, true
	}
	offer, err := media.ParseSDP(req.Body())
	if err != nil {
		s.respond(req, tx, 488, "Not Acceptable Here")
		return cur, false
	}
	neg, err := media.Negotiate(offer, []media.Codec{cur.Codec})
	if err != nil {
		s.respond(req, tx, 488, "Not Acceptable Here")
		return cur, false
	}
	if err := sec.answer(offer, &neg); err != nil {
		s.respond(req, tx, 488, "Not Acceptable Here", sip.NewHeader("Warning", `305 entvoice "Incompatible media format: `+encryptionWarning(err)+`"`))
		return cur, false
	}
	return neg, true
}

func (s *Server) respondReinvite(req *sip.Request, tx sip.ServerTransaction, sdp []byte, sessionExpires int) {
	var body []byte
	if req.Method == sip.INVITE {
		body = sdp
	} else if len(req.Body()) > 0 {
		body = sdp
	}
	res := sip.NewResponseFromRequest(req, 200, "OK", body)
	if body != nil {
		res.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	}
	if c, ok := s.contact[transportOf(req)]; ok {
		res.AppendHeader(&c)
	}
	if sessionExpires > 0 {
		res.AppendHeader(sip.NewHeader("Session-Expires", itoa(sessionExpires)+";refresher=uac"))
	}
	s.decorate(res)
	if err := tx.Respond(res); err != nil {
		s.log.Debug("re-INVITE respond failed", "err", err)
	}
}

// handleInfo takes DTMF sent as SIP INFO: application/dtmf-relay
// ("Signal=5\r\nDuration=160") and application/dtmf (the digit alone).
func (s *Server) handleInfo(req *sip.Request, tx sip.ServerTransaction, sess *media.Session) {
	// Answer before the digit is handed on: the digit may end the call,
	// and the 200 must not follow our BYE.
	var digit media.DTMF
	defer func() {
		if digit.Digit != 0 {
			sess.InjectDTMF(digit)
		}
	}()
	ct := ""
	if h := req.ContentType(); h != nil {
		ct = strings.ToLower(strings.TrimSpace(h.Value()))
	}
	switch {
	case strings.HasPrefix(ct, "application/dtmf-relay"):
		d, dur, ok := parseDTMFRelay(req.Body())
		if !ok {
			s.respond(req, tx, 400, "Bad Request")
			return
		}
		digit = media.DTMF{Digit: d, Duration: dur, Source: "info"}
	case strings.HasPrefix(ct, "application/dtmf"):
		b := bytes.TrimSpace(req.Body())
		if len(b) != 1 || !isDTMF(rune(b[0])) {
			s.respond(req, tx, 400, "Bad Request")
			return
		}
		digit = media.DTMF{Digit: rune(b[0]), Duration: 100 * time.Millisecond, Source: "info"}
	case len(req.Body()) == 0:
		// An empty INFO is a keep-alive probe.
	default:
		s.respond(req, tx, 415, "Unsupported Media Type", sip.NewHeader("Accept", "application/dtmf-relay, application/dtmf"))
		return
	}
	s.respond(req, tx, 200, "OK")
}

func parseDTMFRelay(body []byte) (rune, time.Duration, bool) {
	var digit rune
	dur := 100 * time.Millisecond
	sc := bufio.NewScanner(bytes.NewReader(body))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), "=")
		if !ok {
			continue
		}
		v = strings.TrimSpace(v)
		switch strings.ToLower(strings.TrimSpace(k)) {
		case "signal":
			if len(v) != 1 {
				// Some phones send the event number (10 = *, 11 = #).
				switch v {
				case "10":
					digit = '*'
				case "11":
					digit = '#'
				default:
					return 0, 0, false
				}
				continue
			}
			digit = rune(strings.ToUpper(v)[0])
		case "duration":
			if ms, err := strconv.Atoi(v); err == nil && ms > 0 && ms < 10000 {
				dur = time.Duration(ms) * time.Millisecond
			}
		}
	}
	return digit, dur, isDTMF(digit)
}

func isDTMF(r rune) bool {
	return (r >= '0' && r <= '9') || r == '*' || r == '#' || (r >= 'A' && r <= 'D')
}

// reasonFor is the RFC 3261 section 21 reason phrase of the codes the node sends.
func reasonFor(code int) string {
	switch code {
	case 400:
		return "Bad Request"
	case 403:
		return "Forbidden"
	case 404:
		return "Not Found"
	case 408:
		return "Request Timeout"
	case 410:
		return "Gone"
	case 480:
		return "Temporarily Unavailable"
	case 484:
		return "Address Incomplete"
	case 486:
		return "Busy Here"
	case 487:
		return "Request Terminated"
	case 488:
		return "Not Acceptable Here"
	case 500:
		return "Server Internal Error"
	case 501:
		return "Not Implemented"
	case 502:
		return "Bad Gateway"
	case 503:
		return "Service Unavailable"
	case 504:
		return "Server Time-out"
	case 603:
		return "Decline"
	}
	return "Error"
}

func itoa(n int) string { return strconv.Itoa(n) }

// sessionIDFor derives a stable SDP session id from the channel.
func sessionIDFor(ch *channel.Channel) uint64 {
	if ch == nil {
		return uint64(time.Now().UnixNano())
	}
	h := fnv.New64a()
	_, _ = h.Write([]byte(ch.UniqueID))
	return h.Sum64() >> 1
}
