package registrar

import (
	"bytes"
	"net"
	"net/netip"
	"sync"

	"github.com/emiago/sipgo/sip"
)

// WrapPacketConn returns a net.PacketConn whose ReadFrom answers REGISTER
// requests itself, statelessly, and hands every other datagram to its
// caller (sipgo's Server.ServeUDP). docs/design-notes.md ("Where the time goes"): a
// digest REGISTER flood through sipgo's transaction layer costs 2-3 times
// the CPU and ~100 times the memory of this path. REGISTER is idempotent,
// so a retransmission is simply answered afresh (RFC 3261 section 10.3).
//
// For each datagram starting with "REGISTER " it parses the message
// (sip.ParseMessage), calls r.Handle and writes the response to the source
// address with WriteTo, the top Via carrying received/rport (RFC 3581).
// A REGISTER that does not parse is answered 400 if its Via, From, To,
// Call-ID and CSeq parse, and dropped otherwise. Handling runs on the
// reading goroutine: no goroutine or transaction per request.
func WrapPacketConn(pc net.PacketConn, r *Registrar) net.PacketConn {
	return &registerConn{PacketConn: pc, r: r, lenient: newLenientParser()}
}

type registerConn struct {
	net.PacketConn
	r       *Registrar
	lenient *sip.Parser
}

var registerPrefix = []byte("REGISTER ")

var bufPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// ReadFrom returns the next datagram that is not a REGISTER request.
func (c *registerConn) ReadFrom(p []byte) (int, net.Addr, error) {
	for {
		n, addr, err := c.PacketConn.ReadFrom(p)
		if err != nil || !bytes.HasPrefix(p[:n], registerPrefix) {
			return n, addr, err
		}
		c.serve(p[:n], addr)
	}
}

func (c *registerConn) serve(data []byte, addr net.Addr) {
	// A bug triggered by one datagram must not take the listener down.
	defer func() {
		if v := recover(); v != nil {
			c.r.log.Error("stateless REGISTER handling panicked; datagram dropped", "source", addr.String(), "panic", v)
		}
	}()
	src := addrPort(addr)
	if !src.IsValid() {
		return
	}
	var res *sip.Response
	msg, err := sip.ParseMessage(data)
	if req, ok := msg.(*sip.Request); err == nil && ok {
		req.SetSource(src.String())
		req.SetTransport("UDP")
		res = c.r.Handle(req, src, "UDP")
	} else {
		res = c.badRequest(data, src)
	}
	if res == nil {
		return
	}
	buf := bufPool.Get().(*bytes.Buffer)
	buf.Reset()
	res.StringWrite(buf)
	if _, err := c.PacketConn.WriteTo(buf.Bytes(), addr); err != nil {
		c.r.log.Debug("stateless REGISTER response not sent", "destination", addr.String(), "error", err)
	}
	if buf.Cap() <= 64<<10 {
		bufPool.Put(buf)
	}
}

// badRequest answers a REGISTER that sipgo cannot parse (a broken Contact,
// say) with 400 when the headers a response needs do parse.
func (c *registerConn) badRequest(data []byte, src netip.AddrPort) *sip.Response {
	msg, err := c.lenient.ParseSIP(data)
	if err != nil {
		c.r.log.Debug("unparsable REGISTER dropped", "source", src.String(), "error", err)
		return nil
	}
	req, ok := msg.(*sip.Request)
	if !ok || req.Via() == nil || req.From() == nil || req.To() == nil || req.CallID() == nil || req.CSeq() == nil {
		return nil
	}
	if c.r.guard.Banned(src.Addr().Unmap()) {
		return nil
	}
	req.SetSource(src.String())
	return c.r.reply(req, src, sip.StatusBadRequest, "Bad Request")
}

// newLenientParser parses only the headers a response is built from; the
// others stay generic so a broken Contact does not fail the whole parse.
func newLenientParser() *sip.Parser {
	all := sip.DefaultHeadersParser()
	keep := make(map[string]sip.HeaderParser)
	for _, name := range []string{"via", "v", "from", "f", "to", "t", "call-id", "i", "cseq", "content-length", "l"} {
		if p, ok := all[name]; ok {
			keep[name] = p
		}
	}
	return sip.NewParser(sip.WithHeadersParsers(keep))
}

func addrPort(a net.Addr) netip.AddrPort {
	switch v := a.(type) {
	case *net.UDPAddr:
		return v.AddrPort()
	case nil:
		return netip.AddrPort{}
	}
	ap, err := netip.ParseAddrPort(a.String())
	if err != nil {
		return netip.AddrPort{}
	}
	return ap
}
