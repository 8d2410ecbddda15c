package link

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
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

	"github.com/entvoice/entvoice/internal/cluster/pki"
	"github.com/entvoice/entvoice/internal/cluster/wire"
)

// Join enrols this node with the hub at central using token: it checks
// that the hub's CA is the one the token names before sending the token,
// sends a certificate request for a fresh P-256 key, and stores the key,
// the signed certificate, the CA and central's URL in data_dir/cluster.
// It returns the node name central gave the token.
func Join(ctx context.Context, dataDir, central, token, localAddr string) (string, error) {
	tok, err := pki.ParseToken(token)
	if err != nil {
		return "", err
	}
	target, err := hubTarget(central)
	if err != nil {
		return "", err
	}
	key, csr, err := pki.NewKeyCSR("entvoice-node")
	if err != nil {
		return "", err
	}
	conn, err := grpc.NewClient("passthrough:///"+target, grpc.WithTransportCredentials(credentials.NewTLS(pki.HubClientTLS(&tok.CA, nil, nil))),
		wire.DialOption(), dialFrom(localAddr))
	if err != nil {
		return "", fmt.Errorf("cluster: %w", err)
	}
	defer func() { _ = conn.Close() }()
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	reply, err := wire.Enrol(ctx, conn, &wire.EnrolRequest{TokenID: tok.ID, Secret: tok.Secret, CSR: csr})
	if err != nil {
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
		return "", fmt.Errorf("cluster: %w (enrolment reply)", pki.ErrWrongCA)
	}
	if !pki.SameKey(cert.PublicKey, key.Public()) {
		return "", errors.New("cluster: central signed a different key")
	}
	if err := pki.SaveEnrolment(dataDir, central, key, reply.Cert, reply.CA); err != nil {
		return "", err
	}
	// A replica of another cluster's configuration must not survive.
	_ = os.Remove(filepath.Join(pki.Dir(dataDir), replicaFile))
	return reply.Name, nil
}

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
