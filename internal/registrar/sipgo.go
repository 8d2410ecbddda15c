package registrar

import (
	"net/netip"

	"github.com/emiago/sipgo/sip"
)

// ServeSIP is a sipgo request handler (assignable to sipgo.RequestHandler:
// srv.OnRegister(reg.ServeSIP)) for REGISTERs that arrive through sipgo's
// transaction layer, typically over TCP, TLS or WebSocket. The source is the
// connection's remote address as sipgo recorded it. Dropped requests (see
// Handle) get no response; on an unreliable transport the client's
// retransmissions then die with the transaction.
func (r *Registrar) ServeSIP(req *sip.Request, tx sip.ServerTransaction) {
	src, err := netip.ParseAddrPort(req.Source())
	if err != nil {
		r.log.Debug("REGISTER with unusable source address", "source", req.Source(), "error", err)
		return
	}
	res := r.Handle(req, src, req.Transport())
	if res == nil {
		return
	}
	if err := tx.Respond(res); err != nil {
		r.log.Debug("REGISTER response not sent", "source", req.Source(), "error", err)
	}
}
