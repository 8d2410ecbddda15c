package pki

import (
	"crypto/ecdsa"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// A node's identity lives in data_dir/cluster: its key and certificate,
// the cluster CA and central's URL, as enrolment stored them.
const (
	nodeKeyFile    = "node.key"
	nodeCertFile   = "node.crt"
	nodeCAFile     = "ca.crt"
	centralURLFile = "central.url"
	// A renewal is staged beside them (StageRenewal).
	nodeKeyNext  = "node.key.next"
	nodeCertNext = "node.crt.next"
)

// Dir is where a process keeps its cluster files (central its CA, a node
// its identity and replica).
func Dir(dataDir string) string { return filepath.Join(dataDir, "cluster") }

// Identity is an enrolled node's credentials.
type Identity struct {
	Name string
	Cert tls.Certificate
	// CA holds the cluster CA only.
	CA      *x509.CertPool
	Central string
}

// LoadIdentity reads the node's identity, first finishing a renewal that
// a crash cut short. central, when set, overrides the URL stored at
// enrolment.
func LoadIdentity(dataDir, central string) (*Identity, error) {
	dir := Dir(dataDir)
	if err := finishRenewal(dir); err != nil {
		return nil, err
	}
	cert, err := LoadNodeKeyPair(dataDir)
	if err != nil {
		return nil, fmt.Errorf("cluster: node not enrolled (run entvoice node --join URL --token T): %w", err)
	}
	ca, err := NodeCA(dataDir)
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
	return &Identity{Name: cert.Leaf.Subject.CommonName, Cert: cert, CA: ca, Central: central}, nil
}

// LoadNodeKeyPair reads the node's key and certificate as stored now.
func LoadNodeKeyPair(dataDir string) (tls.Certificate, error) {
	dir := Dir(dataDir)
	return tls.LoadX509KeyPair(filepath.Join(dir, nodeCertFile), filepath.Join(dir, nodeKeyFile))
}

// NodeCA is a pool holding the cluster CA the node enrolled with.
func NodeCA(dataDir string) (*x509.CertPool, error) {
	ca, err := ReadCert(filepath.Join(Dir(dataDir), nodeCAFile))
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	return pool, nil
}

// SaveEnrolment stores what enrolment gave the node: its key and
// certificate, the CA, central's URL. A renewal staged under a previous
// enrolment is dropped first, so that it cannot replace this one.
func SaveEnrolment(dataDir, central string, key *ecdsa.PrivateKey, certDER, caDER []byte) error {
	dir := Dir(dataDir)
	for _, f := range []string{nodeCertNext, nodeKeyNext} {
		if err := os.Remove(filepath.Join(dir, f)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("cluster: %w", err)
		}
	}
	if err := WriteKey(filepath.Join(dir, nodeKeyFile), key); err != nil {
		return err
	}
	if err := WriteCert(filepath.Join(dir, nodeCertFile), certDER); err != nil {
		return err
	}
	if err := WriteCert(filepath.Join(dir, nodeCAFile), caDER); err != nil {
		return err
	}
	return WriteFileAtomic(filepath.Join(dir, centralURLFile), []byte(central+"\n"), 0o644)
}

// StageRenewal stores a renewed key and certificate so that no crash
// loses the node its identity: node.key.next, then node.crt.next (each
// written atomically), then both are renamed over node.key and node.crt
// and the directory is fsynced. A crash before node.crt.next exists keeps
// the current pair; one between the renames is finished by the next
// LoadIdentity (node.crt.next exists only once the key is staged too).
func StageRenewal(dataDir string, key *ecdsa.PrivateKey, der []byte) error {
	dir := Dir(dataDir)
	if err := WriteKey(filepath.Join(dir, nodeKeyNext), key); err != nil {
		return err
	}
	if err := WriteCert(filepath.Join(dir, nodeCertNext), der); err != nil {
		return err
	}
	return finishRenewal(dir)
}

// finishRenewal completes a staged renewal in dir: node.crt.next is moved
// in, after node.key.next if that is still there (a crash may have come
// between the two renames). A node.key.next alone is a staging cut short:
// it is removed and the current pair stays.
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
