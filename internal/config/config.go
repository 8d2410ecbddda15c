// Package config loads the node's YAML configuration file and turns it into a
// validated Config. Every key is documented in docs/config.md; the keys under
// sip, rtp, data_dir, sounds_dir, dialplan, users and trunks are a contract
// that acceptance tests rely on.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Config is the whole configuration of one entvoice process.
type Config struct {
	// SystemName identifies this node (Asterisk's systemname); it prefixes
	// uniqueids when set.
	SystemName string `yaml:"system_name"`
	SIP        SIP    `yaml:"sip"`
	RTP        RTP    `yaml:"rtp"`
	// DataDir holds the SQLite store, CDR spool and recordings.
	DataDir string `yaml:"data_dir"`
	// SoundsDir is where prompts are looked up, by language.
	SoundsDir string `yaml:"sounds_dir"`
	// Dialplan is an extensions.conf file, relative to the config file.
	Dialplan string `yaml:"dialplan"`
	// MusicOnHold is a musiconhold.conf file (Asterisk's syntax), relative
	// to the config file; without one, class "default" plays the WAV
	// files of data_dir/moh/default (a synthesised tune when there are
	// none).
	MusicOnHold string `yaml:"musiconhold"`
	// Queues is a queues.conf file (call queues of the default tenant,
	// Asterisk's syntax), relative to the config file; QueueRules a
	// queuerules.conf (penaltychange rules).
	Queues     string   `yaml:"queues"`
	QueueRules string   `yaml:"queuerules"`
	Users      []User   `yaml:"users"`
	Trunks     []Trunk  `yaml:"trunks"`
	Log        Log      `yaml:"log"`
	Shutdown   Shutdown `yaml:"shutdown"`
	CDR        CDR      `yaml:"cdr"`
	Database   Database `yaml:"database"`
	HTTP       HTTP     `yaml:"http"`
	AMI        AMI      `yaml:"ami"`
	// AGIDir is where AGI() looks up scripts named by a relative path
	// (Asterisk's astagidir).
	AGIDir string `yaml:"agi_dir"`
	AGI    AGI    `yaml:"agi"`
	// Cluster configures the distributed tier (docs/cluster.md).
	Cluster Cluster `yaml:"cluster"`
	// Memory is the Go runtime's memory policy (docs/config.md).
	Memory Memory `yaml:"memory"`
	// Speech configures recognition and text to speech (speech.go).
	Speech Speech `yaml:"speech"`

	// Unified communications: conferences and parking.
	//
	// ConfBridge is a confbridge.conf (Asterisk's syntax), relative to the
	// config file: ConfBridge's bridge and user profiles and DTMF menus;
	// without one, default_bridge, default_user and the sample menu.
	ConfBridge string `yaml:"confbridge"`
	// Parking is a res_parking.conf (Asterisk's syntax), relative to the
	// config file; without one, lot default: parkext 700, spaces
	// 701-720 in context parkedcalls, 45 s, back to the parker.
	Parking string `yaml:"parking"`

	// Voicemail is a voicemail.conf in Asterisk's syntax, relative to the
	// config file; empty: Asterisk's defaults and the provisioned
	// mailboxes only. SMTP is the relay of its e-mail notifications.
	Voicemail string `yaml:"voicemail"`
	SMTP      SMTP   `yaml:"smtp"`
	// Security is what SIP, AMI and the API share: allowlist, scanner
	// fingerprints, the audit log (security.go).
	Security Security `yaml:"security"`

	// path is the file the configuration was read from ("" for the demo).
	path string
	// Parsed by validate, once.
	listeners  []Listener
	rtpLo      int
	rtpHi      int
	mediaIP    netip.Addr
	peerListen netip.AddrPort
	peering    bool
}

// SIP configures the SIP transports and registrar.
type SIP struct {
	// Listen lists transports as "udp:IP:PORT" or "tcp:IP:PORT".
	Listen []string `yaml:"listen"`
	// Realm is the digest realm (Asterisk PJSIP's default is "asterisk").
	Realm string `yaml:"realm"`
	// UserAgent is sent in User-Agent and Server headers.
	UserAgent string `yaml:"user_agent"`
	// MinExpires, MaxExpires and DefaultExpires bound REGISTER expiry (seconds).
	MinExpires     int `yaml:"min_expires"`
	MaxExpires     int `yaml:"max_expires"`
	DefaultExpires int `yaml:"default_expires"`
	// AuthAlgorithms lists the digest algorithms challenged, one
	// WWW-Authenticate each, in this order (RFC 8760). The default is MD5
	// alone, as Asterisk's: SIPp answers only the first challenge and
	// baresip 1.0 (libre) fails to register when SHA-256 is offered too.
	AuthAlgorithms []string `yaml:"auth_algorithms"`
	// NonceLifetime is how long a digest nonce stays valid (Go duration).
	NonceLifetime Duration `yaml:"nonce_lifetime"`
	// FloodRate and FloodBurst bound the requests per second one source IP may send.
	FloodRate  int `yaml:"flood_rate"`
	FloodBurst int `yaml:"flood_burst"`
	// MaxAuthFailures within AuthFailureWindow bans a source for BanTime.
	MaxAuthFailures   int      `yaml:"max_auth_failures"`
	AuthFailureWindow Duration `yaml:"auth_failure_window"`
	BanTime           Duration `yaml:"ban_time"`
	// SessionTimers is the Session-Expires (RFC 4028) offered and accepted, seconds.
	SessionExpires int `yaml:"session_expires"`
	// SIPEdge: TLS, NAT, flood protection (security.go).
	SIPEdge `yaml:",inline"`
}

// RTP configures media.
type RTP struct {
	// Ports is the inclusive range "MIN-MAX" RTP ports are taken from.
	Ports string `yaml:"ports"`
	// Address is the IP media binds to and advertises; defaults to the
	// first SIP listen address.
	Address string `yaml:"address"`
}

// User is a static SIP user (Asterisk's static mode).
type User struct {
	Name     string   `yaml:"name"`
	Secret   string   `yaml:"secret"`
	Context  string   `yaml:"context"`
	CallerID string   `yaml:"callerid"`
	Language string   `yaml:"language"`
	Permit   []string `yaml:"permit"`
	Deny     []string `yaml:"deny"`
	// MaxContacts bounds simultaneous registrations (default 5).
	MaxContacts int `yaml:"max_contacts"`
	// Codecs lists allowed codecs in preference order (default pcmu, pcma).
	Codecs      []string `yaml:"codecs"`
	AccountCode string   `yaml:"accountcode"`

	// CallGroup and PickupGroup are pjsip.conf's call_group and
	// pickup_group ("1,3-5", groups 0-63); NamedCallGroup and
	// NamedPickupGroup their named forms ("sales,support"). A phone may
	// pick up (*8, Pickup()) a ringing call of a user whose call group
	// is one of its pickup groups.
	CallGroup        string `yaml:"callgroup"`
	PickupGroup      string `yaml:"pickupgroup"`
	NamedCallGroup   string `yaml:"named_callgroup"`
	NamedPickupGroup string `yaml:"named_pickupgroup"`
	// EndpointSecurity: media_encryption, force_rport, rewrite_contact,
	// max_calls (security.go).
	EndpointSecurity `yaml:",inline"`
}

// Trunk is an IP-identified peer: carrier, gateway or load generator.
type Trunk struct {
	Name    string   `yaml:"name"`
	Match   []string `yaml:"match"`
	Context string   `yaml:"context"`
	// Host is where Dial(PJSIP/exten@trunk) sends calls, "IP:PORT".
	Host      string   `yaml:"host"`
	Transport string   `yaml:"transport"`
	Codecs    []string `yaml:"codecs"`
	Language  string   `yaml:"language"`
	// EndpointSecurity: media_encryption, force_rport, rewrite_contact,
	// max_calls (security.go).
	EndpointSecurity `yaml:",inline"`

	// Parsed by validate.
	match []netip.Prefix
	host  netip.AddrPort
}

// MatchPrefixes are the parsed match entries.
func (t Trunk) MatchPrefixes() []netip.Prefix { return t.match }

// HostAddr is the parsed host (invalid when none is set).
func (t Trunk) HostAddr() netip.AddrPort { return t.host }

// Log configures structured logging.
type Log struct {
	Level  string `yaml:"level"`  // debug, info, warn, error
	Format string `yaml:"format"` // text or json
}

// Memory sets the Go runtime's memory policy (internal/memory).
type Memory struct {
	// GCPercent is GOGC, how far the heap may grow past the live heap
	// before a collection, in percent (default 100, the runtime's); GOGC
	// in the environment overrides it and GCHeadroomMB.
	GCPercent int `yaml:"gc_percent"`
	// GCHeadroomMB lets the heap grow at least this many MB past the live
	// heap before a collection (default 64; 0 keeps GCPercent alone): a
	// small heap is collected rarely, a large one at GCPercent.
	GCHeadroomMB *int64 `yaml:"gc_headroom_mb"`
	// LimitMB is a soft limit on the process's memory in MB (GOMEMLIMIT,
	// which overrides it): the collector works harder as the process
	// nears it. Default 0: none.
	LimitMB int64 `yaml:"limit_mb"`
	// Trim returns the heap to the operating system once a burst of calls
	// is over (default true).
	Trim *bool `yaml:"trim"`
}

// TrimEnabled reports whether the heap is returned after a burst.
func (m Memory) TrimEnabled() bool { return m.Trim == nil || *m.Trim }

// Shutdown configures graceful shutdown on SIGTERM.
type Shutdown struct {
	// Grace is how long live calls may go on after SIGTERM (Go duration).
	Grace Duration `yaml:"grace"`
}

// CDR configures call detail records.
type CDR struct {
	// Unanswered logs CDRs of calls that were never answered (cdr.conf
	// unanswered); default true, as a PBX operator expects every attempt.
	Unanswered *bool `yaml:"unanswered"`
	// Congestion reports CONGESTION rather than FAILED (cdr.conf congestion).
	Congestion bool `yaml:"congestion"`
}

// Database selects the store.
type Database struct {
	// DSN selects PostgreSQL (postgres://...); empty means SQLite in
	// data_dir. ENTVOICE_DATABASE_DSN overrides it.
	DSN string `yaml:"dsn"`
}

// HTTP configures the REST API listener.
type HTTP struct {
	// Listen is the API's "IP:PORT" (default 127.0.0.1:8080); "off" disables it.
	Listen string `yaml:"listen"`
	// HTTPEdge: HTTPS and the API's brute-force ban (security.go).
	HTTPEdge `yaml:",inline"`
}

// AMI configures the Asterisk Manager Interface server (manager.conf).
type AMI struct {
	// Listen is the plain TCP "IP:PORT" (default 127.0.0.1:5038); "off" disables it.
	Listen string `yaml:"listen"`
	// TLSListen is the TLS "IP:PORT" (Asterisk's tlsbindaddr, 5039); empty disables it.
	TLSListen string `yaml:"tls_listen"`
	// TLSCert and TLSKey are PEM files for TLSListen.
	TLSCert string `yaml:"tls_cert"`
	TLSKey  string `yaml:"tls_key"`
	// AuthTimeout is how long a connection may stay unauthenticated (Go duration, default 30s).
	AuthTimeout Duration `yaml:"authtimeout"`
	// AuthLimit bounds concurrent unauthenticated connections (default 50).
	AuthLimit int `yaml:"authlimit"`
	// TimestampEvents adds Timestamp: to every event (manager.conf timestampevents).
	TimestampEvents bool `yaml:"timestampevents"`
	// MaxAuthFailures from one address within AuthFailureWindow bans it for BanTime.
	MaxAuthFailures   int      `yaml:"max_auth_failures"`
	AuthFailureWindow Duration `yaml:"auth_failure_window"`
	BanTime           Duration `yaml:"ban_time"`
	// QueueSize is each session's event queue; a client that lets it fill is disconnected.
	QueueSize int       `yaml:"queue_size"`
	Users     []AMIUser `yaml:"users"`
}

// AMIUser is a static manager.conf user.
type AMIUser struct {
	Name   string `yaml:"name"`
	Secret string `yaml:"secret"`
	// Read and Write are class lists as in manager.conf ("all", "system,call,...").
	Read   string   `yaml:"read"`
	Write  string   `yaml:"write"`
	Permit []string `yaml:"permit"`
	Deny   []string `yaml:"deny"`
	// Tenant binds the user to one tenant's calls and events; empty is a global admin.
	Tenant string `yaml:"tenant"`
	// AllowMultipleLogin (default true) as in manager.conf.
	AllowMultipleLogin *bool `yaml:"allowmultiplelogin"`
	// Events is the initial event mask ("on", "off" or a class list); default on.
	Events string `yaml:"events"`
}

// AGI configures AGI and FastAGI sessions.
type AGI struct {
	// ConnectTimeout bounds a FastAGI connect (Go duration, default 5s).
	ConnectTimeout Duration `yaml:"connect_timeout"`
	// IdleTimeout hangs up a session whose script sends no command for this
	// long (Go duration, default 0: no limit, as Asterisk).
	IdleTimeout Duration `yaml:"idle_timeout"`
}

// Cluster configures the distributed tier: the central node hub
// (entvoice server) and a node's link to it (entvoice node).
type Cluster struct {
	// Listen is the central hub's "IP:PORT" (default 127.0.0.1:7443); "off"
	// disables it.
	Listen string `yaml:"listen"`
	// CACert and CAKey are the operator's CA (PEM files); empty: a CA
	// created in data_dir/cluster on first start.
	CACert string `yaml:"ca_cert"`
	CAKey  string `yaml:"ca_key"`
	// ServerNames are extra DNS names or IPs for the hub's certificate
	// (the listen address and localhost are always in it).
	ServerNames []string `yaml:"server_names"`
	// Central is a node's central URL (https://host:7443). Empty: the URL
	// given to --join, remembered in data_dir/cluster.
	Central string `yaml:"central"`
	// Advertise is the "IP:PORT" other central instances sharing the
	// database dial to forward commands to this one's nodes (default:
	// listen, when it names an IP).
	Advertise string `yaml:"advertise"`
	// Bind is the IP a node dials central from (empty: the system's
	// choice); central checks it against the node's allowed networks.
	Bind string `yaml:"bind"`
	// Heartbeat is the link's heartbeat interval (Go duration, default 5s);
	// a link silent for three of them is dropped and redialled.
	Heartbeat Duration `yaml:"heartbeat"`
	// SIPListen is a node's "IP:PORT" for calls from the other nodes (SIP
	// over mutual TLS with the node certificates). Empty: the first SIP
	// listener's IP, port 5061; "off": no calls between this node and
	// the others.
	SIPListen string `yaml:"sip_listen"`
}

// SMTP is the mail relay voicemail notifications go through (none when
// Relay is empty).
type SMTP struct {
	// Relay is the relay's "host:port".
	Relay string `yaml:"relay"`
	// Username and Password authenticate with PLAIN (over STARTTLS, or
	// to a relay on localhost).
	Username string `yaml:"username"`
	Password string `yaml:"password"`
	// HELO is the name this node gives in EHLO (default "localhost").
	HELO string `yaml:"helo"`
	// Timeout bounds one delivery (Go duration, default 30s).
	Timeout Duration `yaml:"timeout"`
}

// Error names the file and line of a configuration mistake.
type Error struct {
	File string
	Line int
	Msg  string
}

func (e *Error) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	}
	return fmt.Sprintf("%s: %s", e.File, e.Msg)
}

// Load reads and validates a YAML configuration file.
func Load(path string) (*Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	return Parse(path, b)
}

// Parse validates the YAML document b read from path. Unknown keys are errors.
func Parse(path string, b []byte) (*Config, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(b, &root); err != nil {
		return nil, yamlError(path, err)
	}
	c := &Config{}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(c); err != nil && !errors.Is(err, io.EOF) {
		return nil, yamlError(path, err)
	}
	c.path = path
	if err := c.applyDefaults(); err != nil {
		return nil, err
	}
	if err := c.validate(&root); err != nil {
		return nil, err
	}
	return c, nil
}

func yamlError(path string, err error) error {
	msg := err.Error()
	// yaml.v3 messages read "yaml: line N: ..." or "line N: ..."
	msg = strings.TrimPrefix(msg, "yaml: ")
	msg = strings.TrimPrefix(msg, "unmarshal errors:\n  ")
	if strings.HasPrefix(msg, "line ") {
		rest := msg[len("line "):]
		if i := strings.Index(rest, ":"); i > 0 {
			if n, err := strconv.Atoi(rest[:i]); err == nil {
				return &Error{File: path, Line: n, Msg: strings.TrimSpace(rest[i+1:])}
			}
		}
	}
	return &Error{File: path, Msg: msg}
}

// Path is the file the configuration came from, or "" for the demo.
func (c *Config) Path() string { return c.path }

// Resolve makes p absolute relative to the config file's directory.
func (c *Config) Resolve(p string) string {
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	if c.path == "" {
		return p
	}
	return filepath.Join(filepath.Dir(c.path), p)
}

func (c *Config) applyDefaults() error {
	if len(c.SIP.Listen) == 0 {
		c.SIP.Listen = []string{"udp:127.0.0.1:5060", "tcp:127.0.0.1:5060"}
	}
	if c.SIP.Realm == "" {
		c.SIP.Realm = "entvoice"
	}
	if c.SIP.UserAgent == "" {
		c.SIP.UserAgent = "entVoice"
	}
	if c.SIP.MinExpires == 0 {
		c.SIP.MinExpires = 60
	}
	if c.SIP.MaxExpires == 0 {
		c.SIP.MaxExpires = 7200
	}
	if c.SIP.DefaultExpires == 0 {
		c.SIP.DefaultExpires = 3600
	}
	if len(c.SIP.AuthAlgorithms) == 0 {
		c.SIP.AuthAlgorithms = []string{"MD5"}
	}
	c.SIP.NonceLifetime.orDefault(30 * time.Second)
	if c.SIP.FloodRate == 0 {
		c.SIP.FloodRate = 20000
	}
	if c.SIP.FloodBurst == 0 {
		c.SIP.FloodBurst = 2 * c.SIP.FloodRate
	}
	if c.SIP.MaxAuthFailures == 0 {
		c.SIP.MaxAuthFailures = 20
	}
	c.SIP.AuthFailureWindow.orDefault(60 * time.Second)
	c.SIP.BanTime.orDefault(300 * time.Second)
	if c.SIP.SessionExpires == 0 {
		c.SIP.SessionExpires = 1800
	}
	if c.RTP.Ports == "" {
		c.RTP.Ports = "10000-20000"
	}
	if c.DataDir == "" {
		c.DataDir = "./data"
	}
	c.DataDir = c.Resolve(c.DataDir)
	if c.SoundsDir == "" {
		c.SoundsDir = "/usr/share/asterisk/sounds"
	}
	c.SoundsDir = c.Resolve(c.SoundsDir)
	if c.Dialplan != "" {
		c.Dialplan = c.Resolve(c.Dialplan)
	}
	if c.MusicOnHold != "" {
		c.MusicOnHold = c.Resolve(c.MusicOnHold)
	}
	if c.ConfBridge != "" {
		c.ConfBridge = c.Resolve(c.ConfBridge)
	}
	if c.Parking != "" {
		c.Parking = c.Resolve(c.Parking)
	}
	if c.Queues != "" {
		c.Queues = c.Resolve(c.Queues)
	}
	if c.QueueRules != "" {
		c.QueueRules = c.Resolve(c.QueueRules)
	}
	if c.Voicemail != "" {
		c.Voicemail = c.Resolve(c.Voicemail)
	}
	c.SMTP.Timeout.orDefault(30 * time.Second)
	c.Shutdown.Grace.orDefault(10 * time.Second)
	if c.Memory.GCPercent == 0 {
		c.Memory.GCPercent = 100
	}
	if c.Memory.GCHeadroomMB == nil {
		headroom := int64(64)
		c.Memory.GCHeadroomMB = &headroom
	}
	if c.HTTP.Listen == "" {
		c.HTTP.Listen = "127.0.0.1:8080"
	}
	if c.Cluster.Listen == "" {
		c.Cluster.Listen = "127.0.0.1:7443"
	}
	c.Cluster.Heartbeat.orDefault(5 * time.Second)
	if c.AMI.Listen == "" {
		c.AMI.Listen = "127.0.0.1:5038"
	}
	c.AMI.AuthTimeout.orDefault(30 * time.Second)
	if c.AMI.AuthLimit == 0 {
		c.AMI.AuthLimit = 50
	}
	if c.AMI.MaxAuthFailures == 0 {
		c.AMI.MaxAuthFailures = 5
	}
	c.AMI.AuthFailureWindow.orDefault(60 * time.Second)
	c.AMI.BanTime.orDefault(300 * time.Second)
	if c.AMI.QueueSize == 0 {
		c.AMI.QueueSize = 10000
	}
	if c.AGIDir == "" {
		c.AGIDir = "/var/lib/asterisk/agi-bin"
	}
	c.AGIDir = c.Resolve(c.AGIDir)
	c.Cluster.CACert = c.Resolve(c.Cluster.CACert)
	c.Cluster.CAKey = c.Resolve(c.Cluster.CAKey)
	c.AGI.ConnectTimeout.orDefault(5 * time.Second)
	c.AGI.IdleTimeout.orDefault(0)
	c.speechDefaults()
	if v := os.Getenv("ENTVOICE_DATABASE_DSN"); v != "" {
		c.Database.DSN = v
	}
	if c.Log.Level == "" {
		c.Log.Level = "info"
	}
	if c.Log.Format == "" {
		c.Log.Format = "text"
	}
	for i := range c.Users {
		u := &c.Users[i]
		if u.Context == "" {
			u.Context = "default"
		}
		if u.Language == "" {
			u.Language = "en"
		}
		if u.MaxContacts == 0 {
			u.MaxContacts = 5
		}
		if len(u.Codecs) == 0 {
			u.Codecs = []string{"pcmu", "pcma"}
		}
	}
	for i := range c.Trunks {
		t := &c.Trunks[i]
		if t.Context == "" {
			t.Context = "from-trunk"
		}
		if t.Transport == "" {
			t.Transport = "udp"
		}
		if len(t.Codecs) == 0 {
			t.Codecs = []string{"pcmu", "pcma"}
		}
		if t.Language == "" {
			t.Language = "en"
		}
	}
	c.securityDefaults()
	return nil
}

// Listeners are the parsed sip.listen entries.
func (c *Config) Listeners() []Listener { return c.listeners }

// RTPPorts is the rtp.ports range, inclusive.
func (c *Config) RTPPorts() (lo, hi int) { return c.rtpLo, c.rtpHi }

// MediaAddr is the IP address RTP binds to and advertises in SDP.
func (c *Config) MediaAddr() netip.Addr { return c.mediaIP }

// PeerListen is a node's address for calls from other nodes
// (cluster.sip_listen); ok is false when they are off.
func (c *Config) PeerListen() (addr netip.AddrPort, ok bool) { return c.peerListen, c.peering }

func (c *Config) parsePeerListen() (addr netip.AddrPort, ok bool, err error) {
	switch v := strings.TrimSpace(c.Cluster.SIPListen); {
	case strings.EqualFold(v, "off"):
		return netip.AddrPort{}, false, nil
	case v != "":
		ap, err := netip.ParseAddrPort(v)
		if err != nil {
			return netip.AddrPort{}, false, fmt.Errorf("cluster.sip_listen %q: want IP:PORT or off: %w", v, err)
		}
		return ap, true, nil
	}
	// Other nodes dial this address: the first SIP listener's IP, or the
	// media address when that listener is on every interface.
	if ls := c.listeners; len(ls) > 0 && !ls[0].Addr.Addr().IsUnspecified() {
		return netip.AddrPortFrom(ls[0].Addr.Addr(), 5061), true, nil
	}
	return netip.AddrPortFrom(c.mediaIP, 5061), true, nil
}

// parseRTPRange parses rtp.ports.
func parseRTPRange(ports string) (lo, hi int, err error) {
	a, b, ok := strings.Cut(ports, "-")
	if !ok {
		return 0, 0, fmt.Errorf("rtp.ports %q: want MIN-MAX", ports)
	}
	lo, err1 := strconv.Atoi(strings.TrimSpace(a))
	hi, err2 := strconv.Atoi(strings.TrimSpace(b))
	if err1 != nil || err2 != nil || lo < 1024 || hi > 65535 || hi-lo < 3 {
		return 0, 0, fmt.Errorf("rtp.ports %q: want MIN-MAX within 1024-65535, at least 4 ports", ports)
	}
	return lo, hi, nil
}

func (c *Config) parseMediaAddr() (netip.Addr, error) {
	if c.RTP.Address != "" {
		a, err := netip.ParseAddr(c.RTP.Address)
		if err != nil {
			return netip.Addr{}, fmt.Errorf("rtp.address: %w", err)
		}
		return a, nil
	}
	if ls := c.listeners; len(ls) > 0 && !ls[0].Addr.Addr().IsUnspecified() {
		return ls[0].Addr.Addr(), nil
	}
	return netip.AddrFrom4([4]byte{127, 0, 0, 1}), nil
}

func (c *Config) validate(root *yaml.Node) error {
	lineOf := func(path ...string) int { return findLine(root, path...) }
	fail := func(line int, format string, a ...any) error {
		return &Error{File: c.path, Line: line, Msg: fmt.Sprintf(format, a...)}
	}
	c.listeners = nil
	for _, l := range c.SIP.Listen {
		parsed, err := parseListener(l)
		if err != nil {
			return fail(lineOf("sip", "listen"), "%v", err)
		}
		c.listeners = append(c.listeners, parsed)
	}
	var err error
	if c.rtpLo, c.rtpHi, err = parseRTPRange(c.RTP.Ports); err != nil {
		return fail(lineOf("rtp", "ports"), "%v", err)
	}
	if c.mediaIP, err = c.parseMediaAddr(); err != nil {
		return fail(lineOf("rtp", "address"), "%v", err)
	}
	if c.peerListen, c.peering, err = c.parsePeerListen(); err != nil {
		return fail(lineOf("cluster", "sip_listen"), "%v", err)
	}
	for _, a := range c.SIP.AuthAlgorithms {
		if a != "MD5" && a != "SHA-256" {
			return fail(lineOf("sip", "auth_algorithms"), "sip.auth_algorithms: %q is not MD5 or SHA-256", a)
		}
	}
	if c.Memory.GCPercent < -1 {
		return fail(lineOf("memory", "gc_percent"), "memory.gc_percent %d: want a percentage, or -1 (off, as GOGC=off)", c.Memory.GCPercent)
	}
	if *c.Memory.GCHeadroomMB < 0 {
		return fail(lineOf("memory", "gc_headroom_mb"), "memory.gc_headroom_mb %d is negative", *c.Memory.GCHeadroomMB)
	}
	if c.Memory.LimitMB < 0 {
		return fail(lineOf("memory", "limit_mb"), "memory.limit_mb %d is negative", c.Memory.LimitMB)
	}
	if err := c.validateSpeech(lineOf); err != nil {
		return err
	}
	if r := c.SMTP.Relay; r != "" {
		if host, port, err := net.SplitHostPort(r); err != nil || host == "" || port == "" {
			return fail(lineOf("smtp", "relay"), "smtp.relay %q: want host:port", r)
		}
	}
	if c.SIP.MinExpires > c.SIP.MaxExpires {
		return fail(lineOf("sip", "min_expires"), "sip.min_expires %d is above sip.max_expires %d", c.SIP.MinExpires, c.SIP.MaxExpires)
	}
	seen := map[string]bool{}
	for i, u := range c.Users {
		line := seqItemLine(root, "users", i)
		if u.Name == "" {
			return fail(line, "users[%d]: name is required", i)
		}
		if strings.ContainsAny(u.Name, " \t@:;,<>\"") {
			return fail(line, "users[%d]: name %q contains characters not allowed in a SIP user", i, u.Name)
		}
		if seen[u.Name] {
			return fail(line, "users[%d]: user %q is defined twice", i, u.Name)
		}
		seen[u.Name] = true
		if u.Secret == "" {
			return fail(line, "user %q: secret is required", u.Name)
		}
		for _, p := range append(append([]string{}, u.Permit...), u.Deny...) {
			if _, err := ParsePrefix(p); err != nil {
				return fail(line, "user %q: %v", u.Name, err)
			}
		}
		for _, cd := range u.Codecs {
			if !knownCodec(cd) {
				return fail(line, "user %q: unknown codec %q (want pcmu or pcma)", u.Name, cd)
			}
		}
		if err := u.checkGroups(); err != nil {
			return fail(line, "user %q: %v", u.Name, err)
		}
	}
	for i, t := range c.Trunks {
		line := seqItemLine(root, "trunks", i)
		if t.Name == "" {
			return fail(line, "trunks[%d]: name is required", i)
		}
		if seen[t.Name] {
			return fail(line, "trunks[%d]: name %q is already used by a user or trunk", i, t.Name)
		}
		seen[t.Name] = true
		c.Trunks[i].match = nil
		for _, m := range t.Match {
			p, err := ParsePrefix(m)
			if err != nil {
				return fail(line, "trunk %q: %v", t.Name, err)
			}
			c.Trunks[i].match = append(c.Trunks[i].match, p)
		}
		if t.Host != "" {
			h, err := netip.ParseAddrPort(t.Host)
			if err != nil {
				return fail(line, "trunk %q: host %q: want IP:PORT", t.Name, t.Host)
			}
			c.Trunks[i].host = h
		}
		if t.Transport != "udp" && t.Transport != "tcp" && t.Transport != "tls" {
			return fail(line, "trunk %q: transport %q is not udp, tcp or tls", t.Name, t.Transport)
		}
		for _, cd := range t.Codecs {
			if !knownCodec(cd) {
				return fail(line, "trunk %q: unknown codec %q (want pcmu or pcma)", t.Name, cd)
			}
		}
	}
	return c.validateSecurity(root)
}

func knownCodec(c string) bool {
	switch strings.ToLower(c) {
	case "pcmu", "ulaw", "pcma", "alaw":
		return true
	}
	return false
}

// findLine returns the line of the value at a mapping path, or 0.
func findLine(root *yaml.Node, path ...string) int {
	n := root
	if n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		n = n.Content[0]
	}
	line := 0
	for _, key := range path {
		if n.Kind != yaml.MappingNode {
			return line
		}
		found := false
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == key {
				line = n.Content[i].Line
				n = n.Content[i+1]
				found = true
				break
			}
		}
		if !found {
			return line
		}
	}
	return line
}

func seqItemLine(root *yaml.Node, key string, i int) int {
	n := root
	if n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		n = n.Content[0]
	}
	if n.Kind != yaml.MappingNode {
		return 0
	}
	for j := 0; j+1 < len(n.Content); j += 2 {
		if n.Content[j].Value == key {
			seq := n.Content[j+1]
			if seq.Kind == yaml.SequenceNode && i < len(seq.Content) {
				return seq.Content[i].Line
			}
			return n.Content[j].Line
		}
	}
	return 0
}
