// Package pki is the distributed tier's certificates: the cluster CA and
// what it issues (the hub's server certificate, the central instances' and
// the nodes' client certificates), the one-time enrolment tokens, the TLS
// checks both sides make (the private CA is the trust anchor, host names
// are not checked), and a node's identity on disk with its renewal staged
// so that no crash loses it. docs/cluster.md, "PKI and enrolment".
package pki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Validity periods of what the CA issues.
const (
	caValidity     = 10 * 365 * 24 * time.Hour
	nodeValidity   = 5 * 365 * 24 * time.Hour
	serverValidity = 365 * 24 * time.Hour
)

// CA is the cluster's certificate authority: it signs the hub's server
// certificate and every enrolled node's client certificate.
type CA struct {
	Cert *x509.Certificate
	Key  crypto.Signer
}

// LoadOrCreateCA loads the operator's CA from certPath and keyPath when
// they are set; otherwise the CA in dir (ca.crt, ca.key), creating an
// ECDSA P-256 CA there on first use.
func LoadOrCreateCA(certPath, keyPath, dir string) (*CA, error) {
	if certPath != "" || keyPath != "" {
		if certPath == "" || keyPath == "" {
			return nil, errors.New("cluster: ca_cert and ca_key must be set together")
		}
		return loadCA(certPath, keyPath)
	}
	certPath, keyPath = filepath.Join(dir, "ca.crt"), filepath.Join(dir, "ca.key")
	if _, err := os.Stat(certPath); err == nil {
		return loadCA(certPath, keyPath)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("cluster: %w", err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("cluster: CA key: %w", err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          randomSerial(),
		Subject:               pkix.Name{CommonName: "entVoice cluster CA", Organization: []string{"entVoice"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(caValidity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("cluster: create CA: %w", err)
	}
	if err := WriteKey(keyPath, key); err != nil {
		return nil, err
	}
	if err := WriteCert(certPath, der); err != nil {
		return nil, err
	}
	return loadCA(certPath, keyPath)
}

func loadCA(certPath, keyPath string) (*CA, error) {
	cert, err := ReadCert(certPath)
	if err != nil {
		return nil, err
	}
	if !cert.IsCA {
		return nil, fmt.Errorf("cluster: %s is not a CA certificate", certPath)
	}
	key, err := ReadKey(keyPath)
	if err != nil {
		return nil, err
	}
	if !SameKey(cert.PublicKey, key.Public()) {
		return nil, fmt.Errorf("cluster: %s does not match %s", keyPath, certPath)
	}
	return &CA{Cert: cert, Key: key}, nil
}

// Fingerprint is the SHA-256 of the CA certificate's DER: what a token
// carries so a joining node can authenticate the hub before it sends
// anything (kubeadm's discovery-token-ca-cert-hash, over the whole
// certificate rather than its public key).
func (ca *CA) Fingerprint() [32]byte { return sha256.Sum256(ca.Cert.Raw) }

// Pool is a cert pool holding only the CA.
func (ca *CA) Pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(ca.Cert)
	return p
}

// ServerCert issues the hub's TLS certificate (a fresh key each start) for
// names: DNS names and IP addresses.
func (ca *CA) ServerCert(names []string) (tls.Certificate, error) {
	tmpl := &x509.Certificate{Subject: pkix.Name{CommonName: "entvoice-central"}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	for _, n := range names {
		if n == "" {
			continue
		}
		if ip := net.ParseIP(n); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, n)
		}
	}
	return ca.issueTLS(tmpl, "server")
}

// InstanceCert issues a central instance's client certificate (a fresh
// key each start), which it presents to the other instances' hubs when it
// forwards commands. Its CN, "central:<id>", cannot be a node's name.
func (ca *CA) InstanceCert(id string) (tls.Certificate, error) {
	return ca.issueTLS(&x509.Certificate{Subject: pkix.Name{CommonName: instanceCNPrefix + id},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}, "instance")
}

// issueTLS signs tmpl (its names and usage) for a fresh P-256 key, valid
// for serverValidity: a central process's own certificate, made at each
// start.
func (ca *CA) issueTLS(tmpl *x509.Certificate, what string) (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("cluster: %s key: %w", what, err)
	}
	now := time.Now()
	tmpl.SerialNumber, tmpl.NotBefore, tmpl.NotAfter = randomSerial(), now.Add(-time.Hour), now.Add(serverValidity)
	tmpl.KeyUsage = x509.KeyUsageDigitalSignature
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, &key.PublicKey, ca.Key)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("cluster: %s certificate: %w", what, err)
	}
	leaf, _ := x509.ParseCertificate(der)
	return tls.Certificate{Certificate: [][]byte{der, ca.Cert.Raw}, PrivateKey: key, Leaf: leaf}, nil
}

// instanceCNPrefix marks a central instance's certificate.
const instanceCNPrefix = "central:"

// InstanceID is the id of the central instance whose certificate has
// common name cn ("central:<id>"), or false for any other certificate (a
// node's name cannot contain a colon).
func InstanceID(cn string) (string, bool) {
	id, ok := strings.CutPrefix(cn, instanceCNPrefix)
	return id, ok && id != ""
}

// SignCSR issues a node's client certificate for the key in csrDER, with
// the node's name as its common name whatever the request asked for.
func (ca *CA) SignCSR(csrDER []byte, name string) (*x509.Certificate, error) {
	csr, err := x509.ParseCertificateRequest(csrDER)
	if err != nil {
		return nil, fmt.Errorf("cluster: bad certificate request: %w", err)
	}
	if err := csr.CheckSignature(); err != nil {
		return nil, fmt.Errorf("cluster: certificate request signature: %w", err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: randomSerial(),
		Subject:      pkix.Name{CommonName: name, Organization: []string{"entVoice node"}},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(nodeValidity),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		// Client authentication only: a node certificate cannot pass for
		// the hub, whose certificate alone has server authentication.
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		DNSNames:    []string{name},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, csr.PublicKey, ca.Key)
	if err != nil {
		return nil, fmt.Errorf("cluster: sign node certificate: %w", err)
	}
	return x509.ParseCertificate(der)
}

// SerialHex is the form serials are stored in.
func SerialHex(c *x509.Certificate) string { return hex.EncodeToString(c.SerialNumber.Bytes()) }

// CertFingerprint is the hex SHA-256 of a certificate's DER.
func CertFingerprint(c *x509.Certificate) string {
	s := sha256.Sum256(c.Raw)
	return hex.EncodeToString(s[:])
}

func randomSerial() *big.Int {
	// RFC 5280 §4.1.2.2: positive, at most 20 octets; 128 random bits.
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	return n.Add(n, big.NewInt(1))
}
