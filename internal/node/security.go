package node

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/entvoice/entvoice/internal/acl"
	"github.com/entvoice/entvoice/internal/config"
	"github.com/entvoice/entvoice/internal/sipua"
	"github.com/entvoice/entvoice/internal/tlsconf"
)

// The security edge of the node's SIP side (docs/config.md, "Security").

// sipGuard is the SIP service's flood and brute-force guard on the
// process's ban list (shared with AMI and the API; nil: SIP's own).
func sipGuard(cfg *config.Config, bans *acl.BanList) *acl.Guard {
	if bans == nil {
		bans = acl.NewBanList(acl.BanListOptions{Allow: cfg.Security.AllowPrefixes()})
	}
	return acl.NewGuard(acl.GuardOptions{
		Service: "SIP", Bans: bans,
		RequestsPerSecond: cfg.SIP.FloodRate, Burst: cfg.SIP.FloodBurst,
		MethodRates: cfg.SIP.MethodRates, FloodBanDrops: cfg.SIP.FloodBanDrops,
		MaxAuthFailures: cfg.SIP.MaxAuthFailures, FailureWindow: cfg.SIP.AuthFailureWindow.Duration, BanTime: cfg.SIP.BanTime.Duration,
	})
}

// edgeOptions are the SIP edge's settings.
func edgeOptions(cfg *config.Config) sipua.EdgeOptions {
	return sipua.EdgeOptions{
		ForceRport:        config.Enabled(cfg.SIP.ForceRport, true),
		ScannerUserAgents: append([]string(nil), cfg.Security.ScannerUserAgents...),
		BanScanners:       config.Enabled(cfg.Security.BanScanners, true),
		MaxConnsPerIP:     cfg.SIP.MaxConnsPerIP,
		IdleTimeout:       cfg.SIP.IdleTimeout.Duration,
	}
}

// endpointSecurity applies an endpoint's security keys: rewrite_contact
// defaults to yes for a user (a phone, maybe behind NAT) and no for a
// trunk (a carrier at a fixed address).
func endpointSecurity(e *sipua.Endpoint, s config.EndpointSecurity) *sipua.Endpoint {
	e.ForceRport = s.ForceRport
	e.RewriteContact = config.Enabled(s.RewriteContact, !e.Trunk)
	e.MediaEncryption = strings.ToLower(s.MediaEncryption)
	if e.MediaEncryption == "no" {
		e.MediaEncryption = ""
	}
	e.MaxCalls = s.MaxCalls
	e.TLSVerify, e.TLSName = s.TLSVerify, s.TLSName
	return e
}

// sipTLS is the TLS of the tls: and wss: listeners (certificate files
// reloaded on change, or a self-signed pair in data_dir/tls; client
// certificates verified against sip.tls_ca as sip.tls_verify_client says)
// and of the TLS connections the node dials. Both nil without such
// listeners.
func sipTLS(cfg *config.Config, log *slog.Logger) (server, client *tls.Config, err error) {
	var hosts []string
	secure := false
	for _, l := range cfg.Listeners() {
		hosts = append(hosts, l.Addr.Addr().String())
		secure = secure || l.Transport == "tls" || l.Transport == "wss"
	}
	if !secure {
		return nil, nil, nil
	}
	src, err := tlsconf.Load(tlsconf.Options{CertFile: cfg.SIP.TLSCert, KeyFile: cfg.SIP.TLSKey,
		Dir: filepath.Join(cfg.DataDir, "tls"), Name: "sip", Hosts: hosts, Logger: log})
	if err != nil {
		return nil, nil, fmt.Errorf("sip.tls_cert/tls_key: %w", err)
	}
	server = src.ServerConfig()
	client = &tls.Config{MinVersion: tls.VersionTLS12}
	if cfg.SIP.TLSCA != "" {
		pool, err := tlsconf.CertPool(cfg.SIP.TLSCA)
		if err != nil {
			return nil, nil, fmt.Errorf("sip.tls_ca: %w", err)
		}
		server.ClientCAs = pool
		if sys, err := x509.SystemCertPool(); err == nil {
			client.RootCAs = sys
		}
		if client.RootCAs == nil {
			client.RootCAs = x509.NewCertPool()
		}
		if b, err := os.ReadFile(cfg.SIP.TLSCA); err == nil {
			client.RootCAs.AppendCertsFromPEM(b)
		}
	}
	switch cfg.SIP.TLSVerifyClient {
	case "optional":
		server.ClientAuth = tls.VerifyClientCertIfGiven
	case "require":
		server.ClientAuth = tls.RequireAndVerifyClientCert
	}
	// The node's own certificate goes with the TLS connections it dials
	// (a trunk that verifies clients sees it).
	client.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return src.Certificate(), nil }
	return server, client, nil
}
