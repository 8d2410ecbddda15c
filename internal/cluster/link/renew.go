package link

import (
	"crypto/ecdsa"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"time"

	"github.com/entvoice/entvoice/internal/cluster/pki"
	"github.com/entvoice/entvoice/internal/cluster/wire"
)

// Node certificate renewal over the live link, the node's side (the hub's
// is internal/cluster/hub, renew.go; docs/cluster.md, "Renewal").
//
// A node whose certificate has less than a third of its lifetime left (or
// less than Options.RenewBefore) sends, once per session, a CSR for a
// fresh P-256 key. When the hub's certificate comes back it is checked
// (the key, the name, the chain), staged over the current identity
// (pki.StageRenewal, safe against crashes) and only then acked. The
// session keeps its connection's certificate; the next one uses the new.
// An expired certificate cannot renew (the TLS handshake fails): such a
// node enrols again with a token.

// renewState is one session's renewal.
type renewState struct {
	key   *ecdsa.PrivateKey // of the CSR sent, until the answer
	asked bool              // once per session
}

// renewDue reports whether the node's certificate should be renewed now.
func (l *Link) renewDue(now time.Time) bool {
	c := l.id.Cert.Leaf
	if c == nil {
		return false
	}
	left := c.NotAfter.Sub(now)
	if l.o.RenewBefore > 0 {
		return left < l.o.RenewBefore
	}
	return left < c.NotAfter.Sub(c.NotBefore)/3
}

// renew sends a CSR for a fresh key when renewal is due and this session
// has not asked yet (a hub that does not answer is asked again on the
// next connection).
func (s *session) renew() error {
	l := s.l
	if s.renewal.asked || !l.renewDue(time.Now()) {
		return nil
	}
	s.renewal.asked = true
	key, csr, err := pki.NewKeyCSR(l.id.Name)
	if err != nil {
		return err
	}
	s.renewal.key = key
	l.log.Info("renewing the node certificate", "not_after", l.id.Cert.Leaf.NotAfter)
	return s.send(&wire.Up{Renew: &wire.RenewRequest{CSR: csr}})
}

// renewed stores the hub's answer and acks it.
func (s *session) renewed(r *wire.Renewal) error {
	l := s.l
	key := s.renewal.key
	s.renewal.key = nil
	if key == nil {
		return nil
	}
	if r.Err != "" {
		l.log.Warn("central refused to renew the node certificate; asking again on the next connection", "err", r.Err)
		return nil
	}
	cert, err := x509.ParseCertificate(r.Cert)
	if err == nil && !pki.SameKey(cert.PublicKey, key.Public()) {
		err = errors.New("central signed a different key")
	}
	if err == nil && cert.Subject.CommonName != l.id.Name {
		err = fmt.Errorf("central named the certificate %q", cert.Subject.CommonName)
	}
	if err == nil {
		err = pki.VerifyChain([][]byte{r.Cert}, l.id.CA, x509.ExtKeyUsageClientAuth)
	}
	if err != nil {
		l.log.Warn("renewed node certificate rejected; keeping the current one", "err", err)
		return nil
	}
	if err := pki.StageRenewal(l.o.DataDir, key, r.Cert); err != nil {
		// The old certificate stays current at the hub: nothing is lost.
		l.log.Warn("storing the renewed node certificate failed; keeping the current one", "err", err)
		return nil
	}
	// Only the link's session goroutine (this one) reads id.Cert.
	l.id.Cert = tls.Certificate{Certificate: [][]byte{r.Cert}, PrivateKey: key, Leaf: cert}
	l.log.Info("node certificate renewed and stored; used from the next connection", "serial", pki.SerialHex(cert), "not_after", cert.NotAfter)
	return s.send(&wire.Up{RenewAck: pki.SerialHex(cert)})
}
