// Package tlsconf is the certificate handling of entVoice's TLS listeners
// (SIP over TLS and secure WebSocket, HTTPS for the API): a certificate
// chain and key from PEM files, taken again when either file changes (a
// renewal needs no restart), or a self-signed pair made on first start
// when none is configured, kept in the data directory for the next.
package tlsconf

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// Options say where a Source's certificate comes from.
type Options struct {
	// CertFile and KeyFile are PEM files (the chain, leaf first, and its
	// key). Both empty: a self-signed pair in Dir.
	CertFile, KeyFile string
	// Dir and Name place a self-signed pair: Dir/Name.crt and Dir/Name.key.
	Dir, Name string
	// Hosts are the DNS names and addresses a self-signed certificate is
	// made for (localhost and 127.0.0.1 are always in it).
	Hosts []string
	// CheckEvery bounds how often the files are looked at for a change
	// (default 1 s; checked on handshakes, no goroutine).
	CheckEvery time.Duration
	Logger     *slog.Logger
	Clock      func() time.Time
}

// Source serves the current certificate to TLS handshakes.
type Source struct {
	o Options

	mu        sync.Mutex
	cert      *tls.Certificate
	stamp     [2]fileStamp
	lastCheck time.Time
}

type fileStamp struct {
	mod  time.Time
	size int64
}

// Load reads (or makes) the certificate. A configured pair that cannot be
// read, or does not match, is an error naming the files.
func Load(o Options) (*Source, error) {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Clock == nil {
		o.Clock = time.Now
	}
	if o.CheckEvery <= 0 {
		o.CheckEvery = time.Second
	}
	if (o.CertFile == "") != (o.KeyFile == "") {
		return nil, errors.New("tls: a certificate file and a key file go together")
	}
	if o.CertFile == "" {
		if o.Dir == "" || o.Name == "" {
			return nil, errors.New("tls: no certificate configured and nowhere to make one")
		}
		o.CertFile = filepath.Join(o.Dir, o.Name+".crt")
		o.KeyFile = filepath.Join(o.Dir, o.Name+".key")
		if err := selfSigned(o); err != nil {
			return nil, err
		}
	}
	s := &Source{o: o}
	cert, stamp, err := s.read()
	if err != nil {
		return nil, err
	}
	s.cert, s.stamp, s.lastCheck = cert, stamp, o.Clock()
	return s, nil
}

func stampOf(path string) (fileStamp, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return fileStamp{}, err
	}
	return fileStamp{mod: fi.ModTime(), size: fi.Size()}, nil
}

func (s *Source) read() (*tls.Certificate, [2]fileStamp, error) {
	var stamp [2]fileStamp
	var err error
	if stamp[0], err = stampOf(s.o.CertFile); err != nil {
		return nil, stamp, fmt.Errorf("tls certificate %s: %w", s.o.CertFile, err)
	}
	if stamp[1], err = stampOf(s.o.KeyFile); err != nil {
		return nil, stamp, fmt.Errorf("tls key %s: %w", s.o.KeyFile, err)
	}
	cert, err := tls.LoadX509KeyPair(s.o.CertFile, s.o.KeyFile)
	if err != nil {
		return nil, stamp, fmt.Errorf("tls certificate %s and key %s: %w", s.o.CertFile, s.o.KeyFile, err)
	}
	return &cert, stamp, nil
}

// Certificate returns the current certificate, taking the files again when
// they changed since they were last looked at (at most every CheckEvery).
// A change that does not load (half written, mismatched) keeps the
// certificate in use and is logged.
func (s *Source) Certificate() *tls.Certificate {
	now := s.o.Clock()
	s.mu.Lock()
	defer s.mu.Unlock()
	if now.Sub(s.lastCheck) < s.o.CheckEvery {
		return s.cert
	}
	s.lastCheck = now
	c, err1 := stampOf(s.o.CertFile)
	k, err2 := stampOf(s.o.KeyFile)
	if err1 != nil || err2 != nil || (c == s.stamp[0] && k == s.stamp[1]) {
		return s.cert
	}
	cert, stamp, err := s.read()
	if err != nil {
		s.o.Logger.Warn("tls: changed certificate not loaded; the previous one stays in use", "err", err)
		return s.cert
	}
	s.cert, s.stamp = cert, stamp
	s.o.Logger.Info("tls: certificate reloaded", "cert", s.o.CertFile)
	return s.cert
}

// Files are the certificate and key files in use.
func (s *Source) Files() (cert, key string) { return s.o.CertFile, s.o.KeyFile }

// ServerConfig is a TLS server configuration on the source: TLS 1.2 or
// later (no downgrade to older versions), the certificate current at each
// handshake.
func (s *Source) ServerConfig() *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
			return s.Certificate(), nil
		},
	}
}

// selfSigned makes an ECDSA P-256 certificate valid ten years for o.Hosts
// unless the pair is there already.
func selfSigned(o Options) error {
	if _, err := os.Stat(o.CertFile); err == nil {
		if _, err := os.Stat(o.KeyFile); err == nil {
			return nil
		}
	}
	if err := os.MkdirAll(o.Dir, 0o700); err != nil {
		return fmt.Errorf("tls: %w", err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return fmt.Errorf("tls: key: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return fmt.Errorf("tls: serial: %w", err)
	}
	now := o.Clock()
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: "entVoice " + o.Name, Organization: []string{"entVoice (self-signed)"}},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.AddDate(10, 0, 0),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		DNSNames:     []string{"localhost"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	for _, h := range o.Hosts {
		if ip := net.ParseIP(h); ip != nil {
			if !ip.IsUnspecified() {
				tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
			}
		} else if h != "" && h != "localhost" {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	if hn, err := os.Hostname(); err == nil && hn != "" && hn != "localhost" {
		tmpl.DNSNames = append(tmpl.DNSNames, hn)
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return fmt.Errorf("tls: certificate: %w", err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return fmt.Errorf("tls: key: %w", err)
	}
	if err := writeFile(o.KeyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		return err
	}
	if err := writeFile(o.CertFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		return err
	}
	o.Logger.Info("tls: made a self-signed certificate; configure your own for production", "cert", o.CertFile)
	return nil
}

// writeFile writes through a temporary file renamed into place, so a
// reader never sees half a file.
func writeFile(path string, b []byte, mode os.FileMode) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, mode); err != nil {
		return fmt.Errorf("tls: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("tls: %w", err)
	}
	return nil
}

// CertPool reads a PEM bundle of CA certificates (client certificate
// verification).
func CertPool(file string) (*x509.CertPool, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("tls CA bundle: %w", err)
	}
	p := x509.NewCertPool()
	if !p.AppendCertsFromPEM(b) {
		return nil, fmt.Errorf("tls CA bundle %s: no PEM certificate in it", file)
	}
	return p, nil
}
