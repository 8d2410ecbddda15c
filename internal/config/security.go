package config

import (
	"fmt"
	"net/netip"
	"path/filepath"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// The security edge's keys (docs/config.md, "Security"): SIP over TLS and
// WebSocket, NAT handling, flood and scanner protection, per-endpoint
// media encryption and call limits, HTTPS for the API.

// SIPEdge are sip.* keys of the security edge (inlined in SIP).
type SIPEdge struct {
	// ForceRport answers every request to the port it came from, as if
	// its top Via carried rport (RFC 3581 section 4; Asterisk's
	// force_rport, on by default). Users and trunks may override it.
	ForceRport *bool `yaml:"force_rport"`
	// MethodRates bound the requests per second one source may send, per
	// method ("*": every other method), checked before parsing; a burst
	// of twice the rate passes. 0 for a method turns its bucket off.
	MethodRates map[string]int `yaml:"method_rates"`
	// FloodBanDrops bans a source (ban_time) once that many of its
	// requests were dropped for rate within auth_failure_window; 0 never.
	FloodBanDrops int `yaml:"flood_ban_drops"`
	// TLSCert and TLSKey are the PEM certificate chain and key of the
	// tls: and wss: listeners, reloaded when the files change; both empty:
	// a self-signed pair made in data_dir/tls on first start.
	TLSCert string `yaml:"tls_cert"`
	TLSKey  string `yaml:"tls_key"`
	// TLSCA is a PEM bundle of the CAs client certificates are checked
	// against; TLSVerifyClient is none (default), optional or require.
	TLSCA           string `yaml:"tls_ca"`
	TLSVerifyClient string `yaml:"tls_verify_client"`
	// MaxConnsPerIP bounds the TCP, TLS and WebSocket connections one
	// address may hold open (default 64); IdleTimeout closes a connection
	// that sent nothing for that long (default 10m; a REGISTER refresh or
	// RFC 5626 keep-alive resets it).
	MaxConnsPerIP int      `yaml:"max_conns_per_ip"`
	IdleTimeout   Duration `yaml:"idle_timeout"`
}

// Security is the top-level security section: what SIP, AMI and the API
// share.
type Security struct {
	// Allow lists networks never rate limited nor banned, by any service.
	Allow []string `yaml:"allow"`
	// ScannerUserAgents are User-Agent substrings (case-insensitive) of
	// SIP scanners: their requests are dropped unanswered and, with
	// BanScanners (default true), their source banned.
	ScannerUserAgents []string `yaml:"scanner_user_agents"`
	BanScanners       *bool    `yaml:"ban_scanners"`
	// AuditLog is the file every API change is appended to (JSON lines);
	// default data_dir/audit.log, "off" for none (the log line stays).
	AuditLog string `yaml:"audit_log"`

	allow []netip.Prefix
}

// EndpointSecurity are the security keys of a user or trunk (inlined).
type EndpointSecurity struct {
	// MediaEncryption: "" or "no" (plain RTP), "sdes" (SRTP keyed in SDP,
	// RFC 4568) or "dtls" (DTLS-SRTP, WebRTC), as chan_pjsip's
	// media_encryption. A call that does not offer it is refused (488).
	MediaEncryption string `yaml:"media_encryption"`
	// ForceRport overrides sip.force_rport for this endpoint.
	ForceRport *bool `yaml:"force_rport"`
	// RewriteContact sends requests to where the endpoint's REGISTER or
	// INVITE came from rather than to its Contact (Asterisk's
	// rewrite_contact); default yes for users, no for trunks.
	RewriteContact *bool `yaml:"rewrite_contact"`
	// MaxCalls bounds the endpoint's concurrent calls, both directions
	// (0: no limit).
	MaxCalls int `yaml:"max_calls"`
	// TLSVerify (trunks): the trunk's calls must arrive over TLS with a
	// client certificate verified against sip.tls_ca, whose common name
	// or a DNS name is TLSName when that is set.
	TLSVerify bool   `yaml:"tls_verify"`
	TLSName   string `yaml:"tls_name"`
}

// HTTPEdge are http.* keys for HTTPS and the API's brute-force ban
// (inlined in HTTP).
type HTTPEdge struct {
	// TLS serves the API over HTTPS with TLSCert/TLSKey (both empty: a
	// self-signed pair in data_dir/tls); HSTS is the Strict-Transport-
	// Security max-age sent over HTTPS (default 1 year; 0s: none).
	TLS     bool     `yaml:"tls"`
	TLSCert string   `yaml:"tls_cert"`
	TLSKey  string   `yaml:"tls_key"`
	HSTS    Duration `yaml:"hsts"`
	// MaxAuthFailures bad tokens from one address within
	// AuthFailureWindow ban it for BanTime (defaults 10, 60s, 300s).
	MaxAuthFailures   int      `yaml:"max_auth_failures"`
	AuthFailureWindow Duration `yaml:"auth_failure_window"`
	BanTime           Duration `yaml:"ban_time"`
}

// DefaultScannerUserAgents are the User-Agents of well-known SIP scanners
// (sipvicious's svmap/svwar/svcrack and its kin), as Kamailio's secfilter
// and fail2ban's asterisk filter lists have them.
func DefaultScannerUserAgents() []string {
	return []string{"friendly-scanner", "sipvicious", "sipcli", "sip-scan", "sipscan", "sundayddr",
		"iwar", "sivus", "smap", "friendly-request", "vaxsipuseragent", "vaxipuseragent", "siparmyknife", "pplsip"}
}

// DefaultMethodRates are the per-source, per-method rates (requests/s).
func DefaultMethodRates() map[string]int {
	return map[string]int{"INVITE": 50, "REGISTER": 100, "OPTIONS": 50, "SUBSCRIBE": 50, "MESSAGE": 50, "*": 500}
}

// AllowPrefixes are the parsed security.allow entries.
func (s Security) AllowPrefixes() []netip.Prefix { return s.allow }

// Enabled reports a tri-state key: def when unset.
func Enabled(b *bool, def bool) bool {
	if b == nil {
		return def
	}
	return *b
}

func (c *Config) securityDefaults() {
	if c.SIP.MethodRates == nil {
		c.SIP.MethodRates = DefaultMethodRates()
	}
	if c.SIP.FloodBanDrops == 0 {
		c.SIP.FloodBanDrops = 500
	}
	if c.SIP.MaxConnsPerIP == 0 {
		c.SIP.MaxConnsPerIP = 64
	}
	c.SIP.IdleTimeout.orDefault(10 * time.Minute)
	c.SIP.TLSCert, c.SIP.TLSKey, c.SIP.TLSCA = c.Resolve(c.SIP.TLSCert), c.Resolve(c.SIP.TLSKey), c.Resolve(c.SIP.TLSCA)
	if c.SIP.TLSVerifyClient == "" {
		c.SIP.TLSVerifyClient = "none"
	}
	if c.Security.ScannerUserAgents == nil {
		c.Security.ScannerUserAgents = DefaultScannerUserAgents()
	}
	if c.Security.AuditLog == "" {
		c.Security.AuditLog = filepath.Join(c.DataDir, "audit.log")
	} else if c.Security.AuditLog != "off" {
		c.Security.AuditLog = c.Resolve(c.Security.AuditLog)
	}
	c.HTTP.TLSCert, c.HTTP.TLSKey = c.Resolve(c.HTTP.TLSCert), c.Resolve(c.HTTP.TLSKey)
	c.HTTP.HSTS.orDefault(365 * 24 * time.Hour)
	if c.HTTP.MaxAuthFailures == 0 {
		c.HTTP.MaxAuthFailures = 10
	}
	c.HTTP.AuthFailureWindow.orDefault(60 * time.Second)
	c.HTTP.BanTime.orDefault(300 * time.Second)
}

func (c *Config) validateSecurity(root *yaml.Node) error {
	fail := func(line int, format string, a ...any) error {
		return &Error{File: c.path, Line: line, Msg: fmt.Sprintf(format, a...)}
	}
	c.Security.allow = nil
	for _, a := range c.Security.Allow {
		p, err := ParsePrefix(a)
		if err != nil {
			return fail(findLine(root, "security", "allow"), "security.allow: %v", err)
		}
		c.Security.allow = append(c.Security.allow, p)
	}
	for m, r := range c.SIP.MethodRates {
		if r < 0 || m == "" || strings.ToUpper(m) != m {
			return fail(findLine(root, "sip", "method_rates"), "sip.method_rates: %q: %d: want an upper-case method (or *) and a rate >= 0", m, r)
		}
	}
	switch c.SIP.TLSVerifyClient {
	case "none", "optional", "require":
	default:
		return fail(findLine(root, "sip", "tls_verify_client"), "sip.tls_verify_client %q: want none, optional or require", c.SIP.TLSVerifyClient)
	}
	if c.SIP.TLSVerifyClient != "none" && c.SIP.TLSCA == "" {
		return fail(findLine(root, "sip", "tls_verify_client"), "sip.tls_verify_client %s needs sip.tls_ca", c.SIP.TLSVerifyClient)
	}
	if (c.SIP.TLSCert == "") != (c.SIP.TLSKey == "") {
		return fail(findLine(root, "sip", "tls_cert"), "sip.tls_cert and sip.tls_key go together")
	}
	if (c.HTTP.TLSCert == "") != (c.HTTP.TLSKey == "") {
		return fail(findLine(root, "http", "tls_cert"), "http.tls_cert and http.tls_key go together")
	}
	check := func(line int, what string, e EndpointSecurity) error {
		switch strings.ToLower(e.MediaEncryption) {
		case "", "no", "sdes", "dtls":
		default:
			return fail(line, "%s: media_encryption %q: want no, sdes or dtls", what, e.MediaEncryption)
		}
		if e.MaxCalls < 0 {
			return fail(line, "%s: max_calls %d is negative", what, e.MaxCalls)
		}
		return nil
	}
	for i, u := range c.Users {
		if u.TLSVerify || u.TLSName != "" {
			return fail(seqItemLine(root, "users", i), "user %q: tls_verify and tls_name are for trunks", u.Name)
		}
		if err := check(seqItemLine(root, "users", i), fmt.Sprintf("user %q", u.Name), u.EndpointSecurity); err != nil {
			return err
		}
	}
	for i, t := range c.Trunks {
		if err := check(seqItemLine(root, "trunks", i), fmt.Sprintf("trunk %q", t.Name), t.EndpointSecurity); err != nil {
			return err
		}
		if t.TLSVerify && c.SIP.TLSCA == "" {
			return fail(seqItemLine(root, "trunks", i), "trunk %q: tls_verify needs sip.tls_ca", t.Name)
		}
		if strings.EqualFold(t.MediaEncryption, "dtls") {
			return fail(seqItemLine(root, "trunks", i), "trunk %q: media_encryption dtls is for WebRTC users, not trunks", t.Name)
		}
	}
	return nil
}
