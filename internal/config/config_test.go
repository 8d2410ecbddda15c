package config

import (
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestParseErrors: every mistake is refused with the file and the line
// of the key at fault, so an operator can go straight to it.
func TestParseErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		doc  string
		want string // the whole error: "file:line: message"
	}{
		{
			name: "a listen entry with a transport the node does not serve",
			doc:  "sip:\n  listen: [\"sctp:127.0.0.1:5060\"]\n",
			want: `entvoice.yaml:2: sip.listen "sctp:127.0.0.1:5060": transport "sctp" is not udp, tcp, tls, ws or wss`,
		},
		{
			name: "a listen entry without a transport",
			doc:  "sip:\n  realm: x\n  listen:\n    - \"127.0.0.1\"\n",
			want: `entvoice.yaml:3: sip.listen "127.0.0.1": want transport:ip:port`,
		},
		{
			name: "a listen entry without a port",
			doc:  "sip:\n  listen: [\"udp:127.0.0.1\"]\n",
			want: `entvoice.yaml:2: sip.listen "udp:127.0.0.1"`,
		},
		{
			name: "an rtp range that is one port",
			doc:  "rtp:\n  ports: \"20000\"\n",
			want: `entvoice.yaml:2: rtp.ports "20000": want MIN-MAX`,
		},
		{
			name: "an rtp range of fewer than 4 ports (two RTP/RTCP pairs)",
			doc:  "rtp:\n  ports: \"20000-20002\"\n",
			want: `entvoice.yaml:2: rtp.ports "20000-20002": want MIN-MAX within 1024-65535, at least 4 ports`,
		},
		{
			name: "an rtp range reaching into the privileged ports",
			doc:  "\nrtp:\n  ports: \"80-2000\"\n",
			want: `entvoice.yaml:3: rtp.ports "80-2000": want MIN-MAX within 1024-65535`,
		},
		{
			name: "an rtp range past the last port",
			doc:  "rtp:\n  ports: \"60000-70000\"\n",
			want: `entvoice.yaml:2: rtp.ports "60000-70000"`,
		},
		{
			name: "an rtp address that is not an IP",
			doc:  "rtp:\n  ports: \"20000-20099\"\n  address: media.example.com\n",
			want: `entvoice.yaml:3: rtp.address: `,
		},
		{
			name: "a duration with a unit Go does not know",
			doc:  "sip:\n  realm: x\n  nonce_lifetime: 3x\n",
			want: `entvoice.yaml:3: "3x" is not a duration (write 30s, 5m, 1h)`,
		},
		{
			name: "a duration without a unit",
			doc:  "shutdown:\n  grace: 10\n",
			want: `entvoice.yaml:2: "10" is not a duration`,
		},
		{
			name: "a negative duration",
			doc:  "ami:\n  authtimeout: -5s\n",
			want: `entvoice.yaml:2: duration "-5s" is negative`,
		},
		{
			name: "an unknown key (a typo is not silently ignored)",
			doc:  "sip:\n  realm: x\n  lisen: [\"udp:127.0.0.1:5060\"]\n",
			want: `entvoice.yaml:3: field lisen not found in type config.SIP`,
		},
		{
			name: "an unknown top-level key",
			doc:  "sip:\n  realm: x\nrpt:\n  ports: 1-2\n",
			want: `entvoice.yaml:3: field rpt not found in type config.Config`,
		},
		{
			name: "a value of the wrong type",
			doc:  "sip:\n  min_expires: soon\n",
			want: `entvoice.yaml:2: cannot unmarshal !!str ` + "`soon`" + ` into int`,
		},
		{
			name: "YAML that does not parse",
			doc:  "sip:\n  listen: [\n",
			want: `entvoice.yaml:2: did not find expected node content`,
		},
		{
			name: "a digest algorithm other than MD5 and SHA-256",
			doc:  "sip:\n  auth_algorithms: [MD5, SHA-512]\n",
			want: `entvoice.yaml:2: sip.auth_algorithms: "SHA-512" is not MD5 or SHA-256`,
		},
		{
			name: "algorithm names are case-sensitive, as in the challenge",
			doc:  "sip:\n  auth_algorithms: [md5]\n",
			want: `entvoice.yaml:2: sip.auth_algorithms: "md5" is not MD5 or SHA-256`,
		},
		{
			name: "min_expires above max_expires",
			doc:  "sip:\n  max_expires: 300\n  min_expires: 600\n",
			want: `entvoice.yaml:3: sip.min_expires 600 is above sip.max_expires 300`,
		},
		{
			name: "min_expires above the default max_expires",
			doc:  "sip:\n  min_expires: 8000\n",
			want: `entvoice.yaml:2: sip.min_expires 8000 is above sip.max_expires 7200`,
		},
		{
			name: "a user defined twice: the line of the second one",
			doc:  "users:\n  - {name: \"1001\", secret: a}\n  - {name: \"1002\", secret: b}\n  - {name: \"1001\", secret: c}\n",
			want: `entvoice.yaml:4: users[2]: user "1001" is defined twice`,
		},
		{
			name: "a user without a name",
			doc:  "users:\n  - secret: a\n",
			want: `entvoice.yaml:2: users[0]: name is required`,
		},
		{
			name: "a user name that cannot be a SIP user part",
			doc:  "users:\n  - {name: \"a@b\", secret: a}\n",
			want: `entvoice.yaml:2: users[0]: name "a@b" contains characters not allowed in a SIP user`,
		},
		{
			name: "a user without a secret",
			doc:  "users:\n  - {name: \"1001\", secret: x}\n  - name: \"1002\"\n    context: phones\n",
			want: `entvoice.yaml:3: user "1002": secret is required`,
		},
		{
			name: "a user permit that is not an address or CIDR",
			doc:  "users:\n  - {name: \"1001\", secret: a, permit: [\"10.0.0.0/33\"]}\n",
			want: `entvoice.yaml:2: user "1001": bad CIDR "10.0.0.0/33"`,
		},
		{
			name: "a user deny that is not an address",
			doc:  "users:\n  - {name: \"1001\", secret: a, deny: [\"lan\"]}\n",
			want: `entvoice.yaml:2: user "1001": bad address "lan"`,
		},
		{
			name: "a user codec the media layer does not have",
			doc:  "users:\n  - {name: \"1001\", secret: a, codecs: [pcmu, g729]}\n",
			want: `entvoice.yaml:2: user "1001": unknown codec "g729" (want pcmu or pcma)`,
		},
		{
			name: "a trunk without a name",
			doc:  "trunks:\n  - match: [\"192.0.2.1\"]\n",
			want: `entvoice.yaml:2: trunks[0]: name is required`,
		},
		{
			name: "a trunk named like a user (PJSIP/name would be ambiguous)",
			doc:  "users:\n  - {name: carrier, secret: a}\ntrunks:\n  - {name: carrier}\n",
			want: `entvoice.yaml:4: trunks[0]: name "carrier" is already used by a user or trunk`,
		},
		{
			name: "a trunk host that is a name, not IP:PORT",
			doc:  "trunks:\n  - {name: carrier, host: \"sip.example.com:5060\"}\n",
			want: `entvoice.yaml:2: trunk "carrier": host "sip.example.com:5060": want IP:PORT`,
		},
		{
			name: "a trunk host without a port",
			doc:  "trunks:\n  - {name: carrier, host: \"192.0.2.1\"}\n",
			want: `entvoice.yaml:2: trunk "carrier": host "192.0.2.1": want IP:PORT`,
		},
		{
			name: "a trunk match that is not an address",
			doc:  "trunks:\n  - {name: carrier, match: [\"carrier.example.com\"]}\n",
			want: `entvoice.yaml:2: trunk "carrier": bad address "carrier.example.com"`,
		},
		{
			name: "a trunk transport the node does not dial out on",
			doc:  "trunks:\n  - {name: carrier, transport: ws}\n",
			want: `entvoice.yaml:2: trunk "carrier": transport "ws" is not udp, tcp or tls`,
		},
		{
			name: "a trunk codec the media layer does not have",
			doc:  "trunks:\n  - name: carrier\n    codecs: [opus]\n",
			want: `entvoice.yaml:2: trunk "carrier": unknown codec "opus" (want pcmu or pcma)`,
		},
		{
			name: "a peer listener that is not IP:PORT",
			doc:  "cluster:\n  sip_listen: node1:5061\n",
			want: `entvoice.yaml:2: cluster.sip_listen "node1:5061": want IP:PORT or off`,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Parse("entvoice.yaml", []byte(tc.doc))
			if err == nil {
				t.Fatalf("accepted:\n%s\nlisteners %v", tc.doc, c.Listeners())
			}
			var ce *Error
			if !errors.As(err, &ce) {
				t.Fatalf("error %T %v is not a *config.Error", err, err)
			}
			if !strings.HasPrefix(err.Error(), tc.want) {
				t.Fatalf("error\n  %s\nwant it to start with\n  %s", err, tc.want)
			}
		})
	}
}

// TestLoadMissingFile: a file that cannot be read is an error naming it,
// not an empty configuration.
func TestLoadMissingFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nope.yaml")
	if _, err := Load(path); err == nil || !strings.Contains(err.Error(), path) {
		t.Fatalf("Load of a missing file: %v", err)
	}
}

// TestLoadReadsTheFile: Load validates what the file holds and names it in
// errors and in Path.
func TestLoadReadsTheFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "entvoice.yaml")
	if err := os.WriteFile(path, []byte("sip:\n  listen: [\"udp:127.0.0.1:15060\"]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if c.Path() != path || c.Listeners()[0].Addr.Port() != 15060 {
		t.Fatalf("path %q listeners %v", c.Path(), c.Listeners())
	}
	if err := os.WriteFile(path, []byte("sip:\n  listen: [\"udp:127.0.0.1\"]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(path); err == nil || !strings.HasPrefix(err.Error(), path+":2: ") {
		t.Fatalf("error %v does not name %s:2", err, path)
	}
}

// TestDefaults: what an operator leaves out is filled in, and what the
// file sets (even to zero) is kept.
func TestDefaults(t *testing.T) {
	t.Setenv("ENTVOICE_DATABASE_DSN", "")
	for _, tc := range []struct {
		name  string
		doc   string
		check func(t *testing.T, c *Config)
	}{
		{
			name: "an empty file: two loopback listeners and every default",
			doc:  "",
			check: func(t *testing.T, c *Config) {
				want := []Listener{
					{Transport: "udp", Addr: netip.MustParseAddrPort("127.0.0.1:5060")},
					{Transport: "tcp", Addr: netip.MustParseAddrPort("127.0.0.1:5060")},
				}
				if !slices.Equal(c.Listeners(), want) {
					t.Errorf("listeners %v, want %v", c.Listeners(), want)
				}
				if lo, hi := c.RTPPorts(); lo != 10000 || hi != 20000 {
					t.Errorf("rtp ports %d-%d", lo, hi)
				}
				if c.MediaAddr() != netip.MustParseAddr("127.0.0.1") {
					t.Errorf("media address %v", c.MediaAddr())
				}
				s := c.SIP
				if s.Realm != "entvoice" || s.UserAgent != "entVoice" || s.MinExpires != 60 || s.MaxExpires != 7200 ||
					s.DefaultExpires != 3600 || s.SessionExpires != 1800 || s.FloodRate != 20000 || s.FloodBurst != 40000 ||
					s.MaxAuthFailures != 20 || !slices.Equal(s.AuthAlgorithms, []string{"MD5"}) {
					t.Errorf("sip defaults %+v", s)
				}
				for _, d := range []struct {
					name      string
					got, want time.Duration
				}{
					{"sip.nonce_lifetime", s.NonceLifetime.Duration, 30 * time.Second},
					{"sip.auth_failure_window", s.AuthFailureWindow.Duration, time.Minute},
					{"sip.ban_time", s.BanTime.Duration, 5 * time.Minute},
					{"shutdown.grace", c.Shutdown.Grace.Duration, 10 * time.Second},
					{"ami.authtimeout", c.AMI.AuthTimeout.Duration, 30 * time.Second},
					{"ami.auth_failure_window", c.AMI.AuthFailureWindow.Duration, time.Minute},
					{"ami.ban_time", c.AMI.BanTime.Duration, 5 * time.Minute},
					{"agi.connect_timeout", c.AGI.ConnectTimeout.Duration, 5 * time.Second},
					{"agi.idle_timeout", c.AGI.IdleTimeout.Duration, 0},
					{"cluster.heartbeat", c.Cluster.Heartbeat.Duration, 5 * time.Second},
				} {
					if d.got != d.want {
						t.Errorf("%s = %v, want %v", d.name, d.got, d.want)
					}
				}
				if c.HTTP.Listen != "127.0.0.1:8080" || c.AMI.Listen != "127.0.0.1:5038" || c.Cluster.Listen != "127.0.0.1:7443" {
					t.Errorf("listen defaults http %q ami %q cluster %q", c.HTTP.Listen, c.AMI.Listen, c.Cluster.Listen)
				}
				if c.AMI.AuthLimit != 50 || c.AMI.MaxAuthFailures != 5 || c.AMI.QueueSize != 10000 {
					t.Errorf("ami defaults %+v", c.AMI)
				}
				if c.Log.Level != "info" || c.Log.Format != "text" || c.Database.DSN != "" {
					t.Errorf("log %+v dsn %q", c.Log, c.Database.DSN)
				}
			},
		},
		{
			name: "a duration set to zero stays zero (set, not defaulted)",
			doc:  "shutdown:\n  grace: 0s\nsip:\n  nonce_lifetime: 90s\n",
			check: func(t *testing.T, c *Config) {
				if c.Shutdown.Grace.Duration != 0 || c.SIP.NonceLifetime.Duration != 90*time.Second {
					t.Errorf("grace %v nonce lifetime %v", c.Shutdown.Grace, c.SIP.NonceLifetime)
				}
			},
		},
		{
			name: "the media address is the first listener's",
			doc:  "sip:\n  listen: [\"tcp:192.0.2.10:5070\", \"udp:198.51.100.1:5060\"]\n",
			check: func(t *testing.T, c *Config) {
				if c.MediaAddr() != netip.MustParseAddr("192.0.2.10") {
					t.Errorf("media address %v", c.MediaAddr())
				}
			},
		},
		{
			name: "a listener on every interface advertises loopback media unless rtp.address says",
			doc:  "sip:\n  listen: [\"udp:0.0.0.0:5060\"]\n",
			check: func(t *testing.T, c *Config) {
				if c.MediaAddr() != netip.MustParseAddr("127.0.0.1") {
					t.Errorf("media address %v", c.MediaAddr())
				}
				if a, ok := c.PeerListen(); !ok || a != netip.MustParseAddrPort("127.0.0.1:5061") {
					t.Errorf("peer listen %v %v, want the media address, port 5061", a, ok)
				}
			},
		},
		{
			name: "rtp.address wins over the listener",
			doc:  "sip:\n  listen: [\"udp:0.0.0.0:5060\"]\nrtp:\n  address: 203.0.113.5\n  ports: 30000-30099\n",
			check: func(t *testing.T, c *Config) {
				if c.MediaAddr() != netip.MustParseAddr("203.0.113.5") {
					t.Errorf("media address %v", c.MediaAddr())
				}
				if lo, hi := c.RTPPorts(); lo != 30000 || hi != 30099 {
					t.Errorf("rtp ports %d-%d", lo, hi)
				}
				if a, _ := c.PeerListen(); a != netip.MustParseAddrPort("203.0.113.5:5061") {
					t.Errorf("peer listen %v", a)
				}
			},
		},
		{
			name: "calls between nodes default to the first listener's IP, port 5061",
			doc:  "sip:\n  listen: [\"udp:192.0.2.10:5060\"]\n",
			check: func(t *testing.T, c *Config) {
				if a, ok := c.PeerListen(); !ok || a != netip.MustParseAddrPort("192.0.2.10:5061") {
					t.Errorf("peer listen %v %v", a, ok)
				}
			},
		},
		{
			name: "calls between nodes switched off",
			doc:  "cluster:\n  sip_listen: \"OFF\"\n",
			check: func(t *testing.T, c *Config) {
				if a, ok := c.PeerListen(); ok || a.IsValid() {
					t.Errorf("peer listen %v %v, want off", a, ok)
				}
			},
		},
		{
			name: "calls between nodes on an address of their own",
			doc:  "cluster:\n  sip_listen: 192.0.2.20:7061\n",
			check: func(t *testing.T, c *Config) {
				if a, ok := c.PeerListen(); !ok || a != netip.MustParseAddrPort("192.0.2.20:7061") {
					t.Errorf("peer listen %v %v", a, ok)
				}
			},
		},
		{
			name: "users and trunks get their defaults, and transports are lower-cased",
			doc: "sip:\n  listen: [\"UDP:127.0.0.1:5060\"]\nusers:\n  - {name: \"1001\", secret: s}\n" +
				"trunks:\n  - {name: carrier, match: [\"192.0.2.0/24\", \"198.51.100.7\"], host: \"192.0.2.1:5060\"}\n",
			check: func(t *testing.T, c *Config) {
				if c.Listeners()[0].Transport != "udp" {
					t.Errorf("transport %q", c.Listeners()[0].Transport)
				}
				u := c.Users[0]
				if u.Context != "default" || u.Language != "en" || u.MaxContacts != 5 || !slices.Equal(u.Codecs, []string{"pcmu", "pcma"}) {
					t.Errorf("user defaults %+v", u)
				}
				tr := c.Trunks[0]
				if tr.Context != "from-trunk" || tr.Transport != "udp" || tr.Language != "en" || !slices.Equal(tr.Codecs, []string{"pcmu", "pcma"}) {
					t.Errorf("trunk defaults %+v", tr)
				}
				wantMatch := []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24"), netip.MustParsePrefix("198.51.100.7/32")}
				if !slices.Equal(tr.MatchPrefixes(), wantMatch) || tr.HostAddr() != netip.MustParseAddrPort("192.0.2.1:5060") {
					t.Errorf("trunk match %v host %v", tr.MatchPrefixes(), tr.HostAddr())
				}
			},
		},
		{
			name: "paths are relative to the configuration file",
			doc:  "dialplan: extensions.conf\nagi_dir: /srv/agi\n",
			check: func(t *testing.T, c *Config) {
				if c.DataDir != "/etc/entvoice/data" || c.Dialplan != "/etc/entvoice/extensions.conf" || c.AGIDir != "/srv/agi" {
					t.Errorf("data_dir %q dialplan %q agi_dir %q", c.DataDir, c.Dialplan, c.AGIDir)
				}
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Parse("/etc/entvoice/entvoice.yaml", []byte(tc.doc))
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, c)
		})
	}
}

// TestDatabaseDSNFromEnvironment: ENTVOICE_DATABASE_DSN overrides the
// file, so a secret need not be written in it.
func TestDatabaseDSNFromEnvironment(t *testing.T) {
	t.Setenv("ENTVOICE_DATABASE_DSN", "postgres://env/db")
	c, err := Parse("entvoice.yaml", []byte("database:\n  dsn: postgres://file/db\n"))
	if err != nil {
		t.Fatal(err)
	}
	if c.Database.DSN != "postgres://env/db" {
		t.Fatalf("dsn %q", c.Database.DSN)
	}
}

// TestDemo: the demo configuration is valid as it is, and adjust changes
// it before it is validated (tests move it to free ports).
func TestDemo(t *testing.T) {
	c := Demo("/tmp/demo-data", "/tmp/demo-data/"+DemoFileName)
	if c.Path() != "" || c.DataDir != "/tmp/demo-data" || c.Dialplan != "/tmp/demo-data/"+DemoFileName {
		t.Errorf("path %q data_dir %q dialplan %q", c.Path(), c.DataDir, c.Dialplan)
	}
	var names []string
	for _, u := range c.Users {
		names = append(names, u.Name+"@"+u.Context+"/"+u.Language)
	}
	if want := []string{"1001@demo/en", "1002@demo/en", "1003@demo/es"}; !slices.Equal(names, want) {
		t.Errorf("users %v, want %v", names, want)
	}
	if len(c.Listeners()) != 2 || c.Listeners()[0].Addr != netip.MustParseAddrPort("127.0.0.1:5060") {
		t.Errorf("listeners %v", c.Listeners())
	}
	if !strings.Contains(DemoDialplan, "[demo]") {
		t.Error("the embedded demo dialplan has no [demo] context")
	}

	moved := Demo("/tmp/demo-data", "", func(c *Config) {
		c.SIP.Listen = []string{"udp:127.0.0.1:25060"}
		c.RTP.Ports = "26000-26099"
	})
	if got := moved.Listeners(); len(got) != 1 || got[0].Addr.Port() != 25060 {
		t.Errorf("adjusted listeners %v", got)
	}
	if lo, hi := moved.RTPPorts(); lo != 26000 || hi != 26099 {
		t.Errorf("adjusted rtp ports %d-%d", lo, hi)
	}
	if a, _ := moved.PeerListen(); a != netip.MustParseAddrPort("127.0.0.1:5061") {
		t.Errorf("adjusted peer listen %v", a)
	}

	// An adjustment that breaks the demo is a programming error.
	defer func() {
		if recover() == nil {
			t.Error("Demo accepted an invalid adjustment")
		}
	}()
	Demo("/tmp/demo-data", "", func(c *Config) { c.RTP.Ports = "1-2" })
}

// TestVoicemailKeys: voicemail is relative to the config file; a relay
// that is not host:port is refused at its line.
func TestVoicemailKeys(t *testing.T) {
	c, err := Parse("/etc/entvoice/entvoice.yaml", []byte("voicemail: voicemail.conf\nsmtp:\n  relay: \"127.0.0.1:25\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	if c.Voicemail != "/etc/entvoice/voicemail.conf" || c.SMTP.Relay != "127.0.0.1:25" || c.SMTP.Timeout.Duration != 30*time.Second {
		t.Errorf("%q %+v", c.Voicemail, c.SMTP)
	}
	_, err = Parse("entvoice.yaml", []byte("smtp:\n  username: x\n  relay: mail.example.com\n"))
	if err == nil || err.Error() != `entvoice.yaml:3: smtp.relay "mail.example.com": want host:port` {
		t.Errorf("got %v", err)
	}
}
