package node

import (
	"strings"

	"github.com/entvoice/entvoice/internal/acl"
	"github.com/entvoice/entvoice/internal/config"
	"github.com/entvoice/entvoice/internal/sipua"
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
	return e
}
