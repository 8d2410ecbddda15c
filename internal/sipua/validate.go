package sipua

import (
	"strings"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"github.com/entvoice/entvoice/internal/events"
)

// supportedOptions are the option tags the node implements; it advertises
// them in Supported (RFC 3261 section 20.37).
var supportedOptions = []string{"timer", "replaces"}

// validated wraps a request handler with the UAS checks of RFC 3261
// section 8.2 that sipgo's parser leaves to the application: one
// Content-Length only (section 20.14; RFC 4475 mcl01 expects 400), a
// CSeq naming the request's method (8.1.1.5), a Request-URI scheme the
// node understands (8.2.2.1: 416) and no Require
// option tag it does not support (8.2.2.3: 420 with Unsupported).
func (s *Server) validated(h sipgo.RequestHandler) sipgo.RequestHandler {
	return func(req *sip.Request, tx sip.ServerTransaction) {
		if len(req.GetHeaders("Content-Length")) > 1 {
			s.badFormat(req, "Content-Length twice")
			s.respond(req, tx, 400, "Bad Request")
			return
		}
		if cs := req.CSeq(); cs != nil && cs.MethodName != req.Method {
			// RFC 3261 8.1.1.5: the CSeq method matches the request's
			// (RFC 4475 mismatch01 expects 400).
			s.badFormat(req, "CSeq method "+string(cs.MethodName))
			s.respond(req, tx, 400, "Bad Request")
			return
		}
		switch strings.ToLower(req.Recipient.Scheme) {
		case "sip", "sips", "tel":
		default:
			s.respond(req, tx, 416, "Unsupported URI Scheme")
			return
		}
		if bad := unsupportedRequire(req); len(bad) > 0 {
			s.respond(req, tx, 420, "Bad Extension", sip.NewHeader("Unsupported", strings.Join(bad, ", ")))
			return
		}
		h(req, tx)
	}
}

// unsupportedRequire lists the Require option tags the node lacks.
func unsupportedRequire(req *sip.Request) []string {
	var bad []string
	for _, h := range req.GetHeaders("Require") {
		for _, tag := range strings.Split(h.Value(), ",") {
			tag = strings.TrimSpace(tag)
			if tag == "" {
				continue
			}
			known := false
			for _, o := range supportedOptions {
				if strings.EqualFold(tag, o) {
					known = true
					break
				}
			}
			if !known {
				bad = append(bad, tag)
			}
		}
	}
	return bad
}

// badFormat reports a request refused as malformed (RequestBadFormat,
// Asterisk's security event for a request it cannot take as written).
func (s *Server) badFormat(req *sip.Request, params string) {
	s.security(req, "", events.Security{Kind: events.RequestBadFormat, RequestType: string(req.Method), RequestParams: params})
}
