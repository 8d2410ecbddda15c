package cluster

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/status"
)

// Files of a node's identity, in data_dir/cluster.
const (
	nodeKeyFile    = "node.key"
	nodeCertFile   = "node.crt"
	nodeCAFile     = "ca.crt"
	centralURLFile = "central.url"
	replicaFile    = "config.json"
)

// ClusterDir is where a process keeps its cluster files.
func ClusterDir(dataDir string) string { return filepath.Join(dataDir, "cluster") }

// ErrWrongCA is a hub whose CA is not the one the token or the node's
// stored CA names.
var ErrWrongCA = errors.New("central's certificate is not issued by the expected cluster CA")

// hubTarget turns https://host:port (or host:port) into a dial target.
func hubTarget(raw string) (string, error) {
	s := raw
	if strings.Contains(s, "://") {
		u, err := url.Parse(s)
		if err != nil {
			return "", fmt.Errorf("cluster: central URL %q: %w", raw, err)
		}
		if u.Scheme != "https" {
			return "", fmt.Errorf("cluster: central URL %q: want https://host:port", raw)
		}
		s = u.Host
	}
	if _, port, err := net.SplitHostPort(s); err != nil || port == "" {
		s = net.JoinHostPort(strings.Trim(s, "[]"), "7443")
	}
	return s, nil
}

// pinnedTLS trusts exactly a hub certificate that chains, with server
// authentication, to a CA whose DER has SHA-256 pin (enrolment), or to
// roots (the link).
func pinnedTLS(pin *[32]byte, roots *x509.CertPool, certs []tls.Certificate) *tls.Config {
	return &tls.Config{
		MinVersion:   tls.VersionTLS13,
		Certificates: certs,
		// Verification is done below against the pinned CA (host names are
		// not: see verifyChain).
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
			if err := verifyChain(raw, pool, x509.ExtKeyUsageServerAuth); err != nil {
				return fmt.Errorf("%w: %v", ErrWrongCA, err)
			}
			return nil
		},
	}
}

// Join enrols this node with the hub at central using token: it checks
// that the hub's CA is the one the token names before sending the token,
// sends a certificate request for a fresh P-256 key, and stores the key,
// the signed certificate, the CA and central's URL in data_dir/cluster.
// It returns the node name central gave the token.
func Join(ctx context.Context, dataDir, central, token, localAddr string) (string, error) {
	tok, err := ParseToken(token)
	if err != nil {
		return "", err
	}
	target, err := hubTarget(central)
	if err != nil {
		return "", err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return "", fmt.Errorf("cluster: node key: %w", err)
	}
	csr, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "entvoice-node"}}, key)
	if err != nil {
		return "", fmt.Errorf("cluster: certificate request: %w", err)
	}
	conn, err := grpc.NewClient("passthrough:///"+target, grpc.WithTransportCredentials(credentials.NewTLS(pinnedTLS(&tok.CA, nil, nil))),
		dialFrom(localAddr))
	if err != nil {
		return "", fmt.Errorf("cluster: %w", err)
	}
	defer func() { _ = conn.Close() }()
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	var reply EnrolReply
	if err := conn.Invoke(ctx, methodEnrol, &EnrolRequest{TokenID: tok.ID, Secret: tok.Secret, CSR: csr}, &reply,
		grpc.ForceCodec(jsonCodec{}), grpc.WaitForReady(false)); err != nil {
		if s, ok := status.FromError(err); ok {
			return "", fmt.Errorf("cluster: central refused the enrolment: %s", s.Message())
		}
		return "", fmt.Errorf("cluster: enrol: %w", err)
	}
	cert, err := x509.ParseCertificate(reply.Cert)
	if err != nil {
		return "", fmt.Errorf("cluster: central sent a bad certificate: %w", err)
	}
	if sha256.Sum256(reply.CA) != tok.CA {
		return "", fmt.Errorf("cluster: %w (enrolment reply)", ErrWrongCA)
	}
	if !publicKeysEqual(cert.PublicKey, key.Public()) {
		return "", errors.New("cluster: central signed a different key")
	}
	dir := ClusterDir(dataDir)
	// A renewal staged under a previous enrolment must not replace this one.
	for _, f := range []string{nodeCertNext, nodeKeyNext} {
		if err := os.Remove(filepath.Join(dir, f)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return "", fmt.Errorf("cluster: %w", err)
		}
	}
	if err := writeKey(filepath.Join(dir, nodeKeyFile), key); err != nil {
		return "", err
	}
	if err := writePEM(filepath.Join(dir, nodeCertFile), "CERTIFICATE", reply.Cert, 0o644); err != nil {
		return "", err
	}
	if err := writePEM(filepath.Join(dir, nodeCAFile), "CERTIFICATE", reply.CA, 0o644); err != nil {
		return "", err
	}
	if err := writeFileAtomic(filepath.Join(dir, centralURLFile), []byte(central+"\n"), 0o644); err != nil {
		return "", err
	}
	// A replica of another cluster's configuration must not survive.
	_ = os.Remove(filepath.Join(dir, replicaFile))
	return reply.Name, nil
}

// dialFrom makes gRPC dial from localAddr (an IP; empty: the system's
// choice), for a site whose allowed address is not the default route's.
func dialFrom(localAddr string) grpc.DialOption {
	d := &net.Dialer{Timeout: 10 * time.Second}
	if localAddr != "" {
		d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(localAddr)}
	}
	return grpc.WithContextDialer(func(ctx context.Context, addr string) (net.Conn, error) {
		return d.DialContext(ctx, "tcp", addr)
	})
}

// identity is an enrolled node's credentials.
type identity struct {
	name    string
	cert    tls.Certificate
	ca      *x509.CertPool
	central string
}

func loadIdentity(dataDir, central string) (*identity, error) {
	dir := ClusterDir(dataDir)
	// A renewal cut short by a crash is finished first (renew.go).
	if err := finishRenewal(dir); err != nil {
		return nil, err
	}
	cert, err := tls.LoadX509KeyPair(filepath.Join(dir, nodeCertFile), filepath.Join(dir, nodeKeyFile))
	if err != nil {
		return nil, fmt.Errorf("cluster: node not enrolled (run entvoice node --join URL --token T): %w", err)
	}
	ca, err := readCert(filepath.Join(dir, nodeCAFile))
	if err != nil {
		return nil, err
	}
	if central == "" {
		b, err := os.ReadFile(filepath.Join(dir, centralURLFile))
		if err != nil {
			return nil, fmt.Errorf("cluster: no central URL (cluster.central or --join): %w", err)
		}
		central = strings.TrimSpace(string(b))
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	return &identity{name: cert.Leaf.Subject.CommonName, cert: cert, ca: pool, central: central}, nil
}
