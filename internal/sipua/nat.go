package sipua

import (
	"net/netip"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
)

// NAT handling per endpoint, as Asterisk's res_pjsip_nat: force_rport is
// the edge's (edge.go); rewrite_contact decides where requests to the
// endpoint go.

// dialogUA is the dialog user agent of a transport for an endpoint: with
// rewrite_contact, requests inside its dialogs go to where its INVITE (or
// its answer) came from rather than to its Contact (sipgo's DialogUA
// RewriteContact, used when there is no Record-Route, as Asterisk rewrites
// the route set first).
func (s *Server) dialogUA(transport string, rewrite bool) (*sipgo.DialogUA, bool) {
	if rewrite {
		d, ok := s.natDialogUAs[transport]
		return d, ok
	}
	d, ok := s.dialogUAs[transport]
	return d, ok
}

// contactTarget is where a call to a registered contact goes: the address
// its REGISTER came from with rewrite_contact (a phone behind NAT is only
// reachable there), else the Contact URI's own address, as Asterisk sends
// to an endpoint with rewrite_contact=no. Over TCP, TLS and WebSocket the
// registration's connection is the only way in, whatever the setting, and
// a Contact host that is not an address (JsSIP's "*.invalid") cannot be
// dialled either.
func contactTarget(contact sip.Uri, regSource netip.AddrPort, transport string, rewrite bool) netip.AddrPort {
	if rewrite || transport != "udp" && transport != "" {
		return regSource
	}
	a, err := netip.ParseAddr(contact.Host)
	if err != nil {
		return regSource
	}
	port := contact.Port
	if port == 0 {
		port = 5060
	}
	return netip.AddrPortFrom(a, uint16(port))
}
