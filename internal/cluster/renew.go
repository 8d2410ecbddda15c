package cluster

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"
)

// Node certificate renewal over the live link.
//
// A node whose certificate has less than a third of its lifetime left (or
// less than LinkOptions.RenewBefore) sends, once per link session, a CSR
// for a fresh P-256 key. The hub signs it as at enrolment (CN forced to
// the node's name, client authentication only, nodeValidity) and records
// the new serial as the node's next_serial before sending the certificate
// down. The node stages the key and certificate in data_dir/cluster
// (node.key.next, then node.crt.next, each written atomically), renames
// them over node.key and node.crt, and only then acks with the serial; the
// hub then makes it the node's serial, and from then on the old
// certificate is superseded.
//
// Until that switch the hub accepts both serials, so no crash loses the
// node its identity: a node that dies before staging both files keeps its
// old (still current) certificate and renews again; one that dies between
// the renames finishes them when it next loads its identity (node.crt.next
// present means both staged files are complete, since the key is staged
// first); one whose ack is lost connects with the new certificate, which
// the hub accepts as next_serial and switches to then (the TLS handshake
// proves the node holds the new key, which is all the ack says). The live
// link is kept after a renewal; the new certificate is used from the next
// connection. An expired certificate cannot renew (the TLS handshake
// fails): such a node must enrol again with a token.

// Staged renewal files in data_dir/cluster.
const (
	nodeKeyNext  = "node.key.next"
	nodeCertNext = "node.crt.next"
)

// linkRenewal is one link's renewal state at the hub.
type linkRenewal struct {
	initial string                 // the serial the link was authorized with
	to      atomic.Pointer[string] // the serial the node renewed to over this link
	out     chan *Down             // renewals for the link's sender
	// One renewal per link; the receiver alone uses these.
	asked  bool
	signed string // the serial signed, which the node's ack must name
}

func newLinkRenewal(serial string) *linkRenewal {
	return &linkRenewal{initial: serial, out: make(chan *Down, 1)}
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

// renewal handles a linked node's renewal messages (the link's receiver).
func (h *Hub) renewal(ctx context.Context, name string, log *slog.Logger, up *Up, rn *linkRenewal) error {
	if s := up.RenewAck; s != "" && s == rn.signed { // an ack of anything else is ignored
		rn.to.Store(&s) // before the switch: the heartbeat check must not see it as a supersession
		ok, err := h.reg.promote(ctx, name, s)
		if err != nil {
			// The node uses the new certificate from its next
			// connection, which switches it then (adoptRenewed).
			log.Warn("recording the renewed node certificate failed", "err", err)
		}
		if ok {
			log.Info("node certificate renewed; the previous one is superseded", "serial", s)
		}
	}
	if up.Renew == nil {
		return nil
	}
	rep := &Renewal{}
	var cert *x509.Certificate
	err := errors.New("one certificate renewal per connection")
	if !rn.asked {
		rn.asked = true
		cert, err = h.o.CA.SignCSR(up.Renew.CSR, name)
	}
	if err == nil {
		err = h.reg.setNext(ctx, name, rn.serial(), SerialHex(cert), CertFingerprint(cert))
	}
	if err == nil {
		rn.signed = SerialHex(cert)
	}
	if err != nil {
		log.Warn("node certificate renewal refused", "err", err)
		rep.Err = err.Error()
	} else {
		rep.Cert = cert.Raw
		log.Info("node certificate renewal signed; waiting for the node to store it", "serial", SerialHex(cert), "not_after", cert.NotAfter)
	}
	select {
	case rn.out <- &Down{Renewal: rep}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// adoptRenewed switches n to its pending renewed certificate when c is
// that certificate (a node whose ack was lost, or that finished staging
// it after a crash), for an authorized caller. The returned n.Serial is
// the link's certificate.
func (h *Hub) adoptRenewed(ctx context.Context, n NodeInfo, c *x509.Certificate) NodeInfo {
	s := SerialHex(c)
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

// setNext records a renewed certificate for a node whose current serial
// is current (not revoked, not re-enrolled since).
func (r *Registry) setNext(ctx context.Context, name, current, serial, fp string) error {
	res, err := r.st.DB().ExecContext(ctx, r.st.Rebind(`UPDATE nodes SET next_serial = ?, next_fingerprint = ? WHERE name = ? AND serial = ? AND revoked = 0`),
		serial, fp, name, current)
	if err != nil {
		return fmt.Errorf("cluster: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("node %q: %w or its certificate superseded", name, ErrNodeRevoked)
	}
	return nil
}

// promote makes a node's pending certificate (serial) its current one.
func (r *Registry) promote(ctx context.Context, name, serial string) (bool, error) {
	res, err := r.st.DB().ExecContext(ctx, r.st.Rebind(`UPDATE nodes SET serial = next_serial, fingerprint = next_fingerprint, next_serial = '', next_fingerprint = ''
		WHERE name = ? AND next_serial = ? AND revoked = 0`), name, serial)
	if err != nil {
		return false, fmt.Errorf("cluster: %w", err)
	}
	n, _ := res.RowsAffected()
	return n == 1, nil
}

// renewState is one link session's renewal at the node.
type renewState struct {
	key   *ecdsa.PrivateKey // of the CSR sent, until the answer
	asked bool              // once per session
	in    chan *Renewal
}

func newRenewState() *renewState { return &renewState{in: make(chan *Renewal, 1)} }

// renewDue reports whether the node's certificate should be renewed now.
func (l *Link) renewDue(now time.Time) bool {
	c := l.id.cert.Leaf
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
func (l *Link) renew(send func(*Up) error, rs *renewState) error {
	if rs.asked || !l.renewDue(time.Now()) {
		return nil
	}
	rs.asked = true
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return fmt.Errorf("cluster: node key: %w", err)
	}
	csr, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: l.id.name}}, key)
	if err != nil {
		return fmt.Errorf("cluster: certificate request: %w", err)
	}
	rs.key = key
	l.log.Info("renewing the node certificate", "not_after", l.id.cert.Leaf.NotAfter)
	return send(&Up{Renew: &RenewRequest{CSR: csr}})
}

// renewed stores the hub's answer and acks it. The session's connection
// keeps its certificate; the next one uses the new.
func (l *Link) renewed(send func(*Up) error, rs *renewState, r *Renewal) error {
	key := rs.key
	rs.key = nil
	if key == nil {
		return nil
	}
	if r.Err != "" {
		l.log.Warn("central refused to renew the node certificate; asking again on the next connection", "err", r.Err)
		return nil
	}
	cert, err := x509.ParseCertificate(r.Cert)
	if err == nil && !publicKeysEqual(cert.PublicKey, key.Public()) {
		err = errors.New("central signed a different key")
	}
	if err == nil && cert.Subject.CommonName != l.id.name {
		err = fmt.Errorf("central named the certificate %q", cert.Subject.CommonName)
	}
	if err == nil {
		err = verifyChain([][]byte{r.Cert}, l.id.ca, x509.ExtKeyUsageClientAuth)
	}
	if err != nil {
		l.log.Warn("renewed node certificate rejected; keeping the current one", "err", err)
		return nil
	}
	if err := storeRenewed(l.o.DataDir, key, r.Cert); err != nil {
		// The old certificate stays current at the hub: nothing is lost.
		l.log.Warn("storing the renewed node certificate failed; keeping the current one", "err", err)
		return nil
	}
	// Only the link's session goroutine (this one) reads id.cert.
	l.id.cert = tls.Certificate{Certificate: [][]byte{r.Cert}, PrivateKey: key, Leaf: cert}
	l.log.Info("node certificate renewed and stored; used from the next connection", "serial", SerialHex(cert), "not_after", cert.NotAfter)
	return send(&Up{RenewAck: SerialHex(cert)})
}

// storeRenewed stages the new key and certificate, then moves them over
// the current ones (finishRenewal).
func storeRenewed(dataDir string, key *ecdsa.PrivateKey, der []byte) error {
	dir := ClusterDir(dataDir)
	if err := writeKey(filepath.Join(dir, nodeKeyNext), key); err != nil {
		return err
	}
	if err := writePEM(filepath.Join(dir, nodeCertNext), "CERTIFICATE", der, 0o644); err != nil {
		return err
	}
	return finishRenewal(dir)
}

// finishRenewal completes a staged renewal in dir. node.crt.next exists
// only once both staged files are complete (the key is staged first), so
// it is moved in, after node.key.next if that is still there (a crash may
// have come between the two renames). A node.key.next alone is a staging
// cut short: it is removed and the current pair stays.
func finishRenewal(dir string) error {
	keyNext, certNext := filepath.Join(dir, nodeKeyNext), filepath.Join(dir, nodeCertNext)
	if _, err := os.Stat(certNext); err != nil {
		if err := os.Remove(keyNext); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("cluster: %w", err)
		}
		return nil
	}
	if err := os.Rename(keyNext, filepath.Join(dir, nodeKeyFile)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("cluster: %w", err)
	}
	if err := os.Rename(certNext, filepath.Join(dir, nodeCertFile)); err != nil {
		return fmt.Errorf("cluster: %w", err)
	}
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("cluster: %w", err)
	}
	defer func() { _ = d.Close() }()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("cluster: sync %s: %w", dir, err)
	}
	return nil
}
