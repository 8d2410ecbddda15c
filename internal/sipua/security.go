package sipua

import (
	"net/netip"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"github.com/entvoice/entvoice/internal/events"
)

// admitted passes a request to h only when the edge admits it; a refused
// request gets no answer (a flood or a scanner learns nothing).
func (s *Server) admitted(h sipgo.RequestHandler) sipgo.RequestHandler {
	return func(req *sip.Request, tx sip.ServerTransaction) {
		if s.edge.admit(req) {
			h(req, tx)
		}
	}
}

// security reports one of Asterisk's security events about req, as
// res_pjsip's security_events.c does: Service PJSIP, the Call-ID as the
// session, the listener and the source as the addresses. It goes on the
// node's bus (AMI's security class) and into the log.
func (s *Server) security(req *sip.Request, tenant string, ev events.Security) {
	tr := transportOf(req)
	ev.Service = "PJSIP"
	if cid := req.CallID(); cid != nil {
		ev.SessionID = cid.Value()
	}
	ev.LocalAddr = events.SecurityAddr(tr, s.laddr[tr])
	ev.RemoteAddr = events.SecurityAddr(tr, source(req))
	ev.Tenant = tenant
	ev.Report(s.bus, s.log)
}

// registerSecurity is the registrar's Security: the tenant is the one the
// REGISTER's AOR domain selects.
func (s *Server) registerSecurity(req *sip.Request, _ netip.AddrPort, _ string, ev events.Security) {
	var aor *sip.Uri
	if to := req.To(); to != nil {
		aor = &to.Address
	}
	s.security(req, tenantOfRequest(s.dir.Load(), aor, req), ev)
}
