package pki

import (
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
)

// ErrWrongCA is a hub whose CA is not the one the token or the node's
// stored CA names.
var ErrWrongCA = errors.New("central's certificate is not issued by the expected cluster CA")

// VerifyChain checks that raw[0] chains to roots for usage. Host names
// are not checked: the pinned private CA is the trust anchor, and it gives
// server authentication to the hub's certificate only.
func VerifyChain(raw [][]byte, roots *x509.CertPool, usage x509.ExtKeyUsage) error {
	certs := make([]*x509.Certificate, 0, len(raw))
	for _, r := range raw {
		c, err := x509.ParseCertificate(r)
		if err != nil {
			return fmt.Errorf("bad certificate: %w", err)
		}
		certs = append(certs, c)
	}
	inter := x509.NewCertPool()
	for _, c := range certs[1:] {
		inter.AddCert(c)
	}
	_, err := certs[0].Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, KeyUsages: []x509.ExtKeyUsage{usage}})
	return err
}

// HubClientTLS is the TLS of a connection to a hub, presenting certs: it
// trusts exactly a hub certificate that chains, with server
// authentication, to a CA whose DER has SHA-256 pin (enrolment, before
// the node has the CA), or to roots (the link, and an instance reaching
// another).
func HubClientTLS(pin *[32]byte, roots *x509.CertPool, certs []tls.Certificate) *tls.Config {
	return &tls.Config{
		MinVersion:   tls.VersionTLS13,
		Certificates: certs,
		// Verification is done below against the pinned CA (host names are
		// not: see VerifyChain).
		InsecureSkipVerify: true, //nolint:gosec // replaced by VerifyPeerCertificate
		VerifyPeerCertificate: func(raw [][]byte, _ [][]*x509.Certificate) error {
			if len(raw) == 0 {
				return ErrWrongCA
			}
			pool := roots
			if pin != nil {
				pool = nil
				for _, r := range raw[1:] {
					if sha256.Sum256(r) == *pin {
						c, err := x509.ParseCertificate(r)
						if err != nil {
							return err
						}
						pool = x509.NewCertPool()
						pool.AddCert(c)
					}
				}
				if pool == nil {
					return fmt.Errorf("%w: no certificate in its chain has the token's CA hash", ErrWrongCA)
				}
			}
			if err := VerifyChain(raw, pool, x509.ExtKeyUsageServerAuth); err != nil {
				return fmt.Errorf("%w: %v", ErrWrongCA, err)
			}
			return nil
		},
	}
}
