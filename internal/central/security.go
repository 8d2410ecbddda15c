package central

import (
	"fmt"
	"log/slog"
	"net"
	"path/filepath"

	"github.com/entvoice/entvoice/internal/acl"
	"github.com/entvoice/entvoice/internal/api"
	"github.com/entvoice/entvoice/internal/config"
	"github.com/entvoice/entvoice/internal/tlsconf"
)

// apiSecurity gives the API its part of the security edge: the guard that
// bans addresses sending bad tokens (on the shared ban list), the audit
// log, and HTTPS with the certificate handling of SIP's TLS listeners
// (files reloaded on change, or a self-signed pair in data_dir/tls).
func apiSecurity(o *api.Options, cfg *config.Config, bans *acl.BanList, log *slog.Logger) error {
	if bans == nil {
		bans = acl.NewBanList(acl.BanListOptions{Allow: cfg.Security.AllowPrefixes()})
	}
	o.Guard = acl.NewGuard(acl.GuardOptions{Service: "API", Bans: bans, MaxAuthFailures: cfg.HTTP.MaxAuthFailures,
		FailureWindow: cfg.HTTP.AuthFailureWindow.Duration, BanTime: cfg.HTTP.BanTime.Duration})
	o.Audit = api.NewAudit(cfg.Security.AuditLog, log)
	if !cfg.HTTP.TLS {
		return nil
	}
	var hosts []string
	if h, _, err := net.SplitHostPort(cfg.HTTP.Listen); err == nil {
		hosts = append(hosts, h)
	}
	src, err := tlsconf.Load(tlsconf.Options{CertFile: cfg.HTTP.TLSCert, KeyFile: cfg.HTTP.TLSKey,
		Dir: filepath.Join(cfg.DataDir, "tls"), Name: "http", Hosts: hosts, Logger: log})
	if err != nil {
		return fmt.Errorf("http.tls_cert/tls_key: %w", err)
	}
	o.TLS, o.HSTS = src.ServerConfig(), cfg.HTTP.HSTS.Duration
	return nil
}
