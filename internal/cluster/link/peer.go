package link

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/entvoice/entvoice/internal/cluster/pki"
)

// PeerTrust authenticates calls between nodes (SIP over TLS, sipua's
// peer.go): each side presents its node certificate and checks the
// other's. A peer certificate must chain to the cluster CA for client
// authentication (node certificates are client certificates; the hub's
// server certificate and the central instances' "central:<id>"
// certificates are not nodes) and, once central has told the node which
// nodes are enrolled, be the current certificate of an enrolled,
// unrevoked node. Central sends that list when the link comes up and
// again as soon as it changes (wire.Heartbeat.Peers): a node that has just
// enrolled is trusted by its peers by the time it is linked, and a revoked
// node is cut off from them at once. A node that has not heard from
// central since it started checks the chain only.
type PeerTrust struct {
	dataDir string
	ca      *x509.CertPool

	mu    sync.Mutex
	last  *tls.Certificate    // the last key pair read
	nodes map[string][]string // enrolled node -> serials (hex); nil: unknown yet
}

// NewPeerTrust loads an enrolled node's CA; the node's own key and
// certificate are read from data_dir/cluster at each handshake, so a
// renewed certificate is used without a restart.
func NewPeerTrust(dataDir string) (*PeerTrust, error) {
	ca, err := pki.NodeCA(dataDir)
	if err != nil {
		return nil, fmt.Errorf("cluster: node not enrolled: %w", err)
	}
	cert, err := pki.LoadNodeKeyPair(dataDir)
	if err != nil {
		return nil, fmt.Errorf("cluster: node not enrolled: %w", err)
	}
	return &PeerTrust{dataDir: dataDir, ca: ca, last: &cert}, nil
}

// setNodes records central's list of enrolled nodes and their serials
// (nil: no news).
func (p *PeerTrust) setNodes(nodes map[string][]string) {
	if p == nil || nodes == nil {
		return
	}
	p.mu.Lock()
	p.nodes = nodes
	p.mu.Unlock()
}

// certificate is the node's key pair as stored now. While a renewal
// renames the new key and certificate into place the pair on disk may not
// match for an instant: the last good pair, still valid, is used then.
func (p *PeerTrust) certificate() (*tls.Certificate, error) {
	c, err := pki.LoadNodeKeyPair(p.dataDir)
	p.mu.Lock()
	defer p.mu.Unlock()
	if err != nil {
		if p.last != nil {
			return p.last, nil
		}
		return nil, fmt.Errorf("cluster: node certificate: %w", err)
	}
	p.last = &c
	return &c, nil
}

// verify checks a peer's certificate chain.
func (p *PeerTrust) verify(cs tls.ConnectionState) error {
	if len(cs.PeerCertificates) == 0 {
		return errors.New("the peer presented no node certificate")
	}
	raw := make([][]byte, len(cs.PeerCertificates))
	for i, c := range cs.PeerCertificates {
		raw[i] = c.Raw
	}
	if err := pki.VerifyChain(raw, p.ca, x509.ExtKeyUsageClientAuth); err != nil {
		return fmt.Errorf("not a certificate of this cluster: %w", err)
	}
	leaf := cs.PeerCertificates[0]
	name := leaf.Subject.CommonName
	if name == "" || strings.Contains(name, ":") {
		return fmt.Errorf("certificate %q is not a node's", name)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.nodes == nil {
		return nil
	}
	serials, ok := p.nodes[name]
	switch {
	case !ok:
		return fmt.Errorf("node %s is not enrolled (or revoked)", name)
	case !slices.Contains(serials, pki.SerialHex(leaf)):
		return fmt.Errorf("node %s: certificate superseded (serial %s)", name, pki.SerialHex(leaf))
	}
	return nil
}

// TLSConfig is the configuration of both ends of a node-to-node call's
// TLS connection: TLS 1.3, this node's certificate, the peer's required
// and checked by verify (host names are not: the private CA is the trust
// anchor, as on the link).
func (p *PeerTrust) TLSConfig() *tls.Config {
	return &tls.Config{
		MinVersion:           tls.VersionTLS13,
		GetCertificate:       func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return p.certificate() },
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return p.certificate() },
		ClientAuth:           tls.RequireAnyClientCert,
		// Node certificates are client certificates: the standard server
		// check (server authentication) would refuse them; verify does the
		// chain check with client authentication instead.
		InsecureSkipVerify: true,
		VerifyConnection:   p.verify,
	}
}
