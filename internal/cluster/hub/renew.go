package hub

import (
	"context"
	"crypto/x509"
	"errors"
	"sync/atomic"

	"github.com/entvoice/entvoice/internal/cluster/pki"
	"github.com/entvoice/entvoice/internal/cluster/wire"
	"github.com/entvoice/entvoice/internal/control"
)

// Node certificate renewal over the live link, the hub's side (the node's
// is internal/cluster/link, renew.go; docs/cluster.md, "Renewal").
//
// The hub signs a linked node's CSR, once per link, as at enrolment (CN
// forced to the node's name, client authentication only), and records the
// new serial as the node's next_serial before sending the certificate
// down. When the node acks that serial (it has stored the certificate),
// the hub makes it the node's serial, and the old certificate is
// superseded. Until then the hub accepts both serials, so that no crash
// loses the node its identity; a node whose ack was lost connects with
// the new certificate, which the hub then switches to (adoptRenewed).

// linkRenewal is one link's renewal state.
type linkRenewal struct {
	initial string                 // the serial the link was authorized with
	to      atomic.Pointer[string] // the serial the node renewed to over this link
	out     chan *wire.Down        // renewals for the link's sender
	// One renewal per link; the receiver alone uses these.
	asked  bool
	signed string // the serial signed, which the node's ack must name
}

func newLinkRenewal(serial string) *linkRenewal {
	return &linkRenewal{initial: serial, out: make(chan *wire.Down, 1)}
}

// serial is the certificate the node holds now as far as this link knows.
func (rn *linkRenewal) serial() string {
	if s := rn.to.Load(); s != nil {
		return *s
	}
	return rn.initial
}

// holds reports whether cur, the node's serial in the registry, still
// allows this link: the serial it was authorized with or the one the node
// renewed to over it.
func (rn *linkRenewal) holds(cur string) bool {
	return cur == rn.initial || cur == rn.serial()
}

// renew handles the node's renewal messages (on the receiver).
func (c *nodeLink) renew(ctx context.Context, up *wire.Up) error {
	rn := c.renewal
	if s := up.RenewAck; s != "" && s == rn.signed { // an ack of anything else is ignored
		rn.to.Store(&s) // before the switch: the link must not see it as a supersession
		ok, err := c.h.reg.promote(ctx, c.node.Name, s)
		if err != nil {
			// The node uses the new certificate from its next
			// connection, which switches it then (adoptRenewed).
			c.log.Warn("recording the renewed node certificate failed", "err", err)
		}
		if ok {
			c.log.Info("node certificate renewed; the previous one is superseded", "serial", s)
		}
	}
	if up.Renew == nil {
		return nil
	}
	rep := &wire.Renewal{}
	var cert *x509.Certificate
	err := errors.New("one certificate renewal per connection")
	if !rn.asked {
		rn.asked = true
		cert, err = c.h.o.CA.SignCSR(up.Renew.CSR, c.node.Name)
	}
	if err == nil {
		err = c.h.reg.setNext(ctx, c.node.Name, rn.serial(), pki.SerialHex(cert), pki.CertFingerprint(cert))
	}
	if err != nil {
		c.log.Warn("node certificate renewal refused", "err", err)
		rep.Err = err.Error()
	} else {
		rn.signed = pki.SerialHex(cert)
		rep.Cert = cert.Raw
		c.log.Info("node certificate renewal signed; waiting for the node to store it", "serial", rn.signed, "not_after", cert.NotAfter)
	}
	select {
	case rn.out <- &wire.Down{Renewal: rep}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// adoptRenewed switches n to its pending renewed certificate when c is
// that certificate (a node whose ack was lost, or that finished staging
// it after a crash), for an authorized caller. The returned n.Serial is
// the link's certificate.
func (h *Hub) adoptRenewed(ctx context.Context, n control.NodeInfo, c *x509.Certificate) control.NodeInfo {
	s := pki.SerialHex(c)
	if n.NextSerial == "" || s != n.NextSerial || n.Revoked {
		return n
	}
	if ok, err := h.reg.promote(ctx, n.Name, s); err != nil || !ok {
		// Still pending (or switched meanwhile by another instance): the
		// link carries on with this certificate, which the registry
		// still names.
		if err != nil {
			h.log.Warn("recording the renewed node certificate failed", "node", n.Name, "err", err)
		}
		n.Serial = s
		return n
	}
	h.log.Info("node certificate renewed (confirmed by its first use); the previous one is superseded", "node", n.Name, "serial", s)
	n.Serial, n.NextSerial = s, ""
	return n
}
