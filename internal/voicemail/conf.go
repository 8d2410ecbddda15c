package voicemail

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/entvoice/entvoice/internal/astconf"
	"github.com/entvoice/entvoice/internal/tenancy"
)

// DefaultContext is the voicemail context of a mailbox named without one
// (app_voicemail.c: "default").
const DefaultContext = "default"

// MaxMessages is Asterisk's MAXMSGLIMIT: message numbers have four digits.
const MaxMessages = 9999

// Config is a voicemail.conf: its [general] settings, [zonemessages] and
// the mailboxes of its other sections (each section is a voicemail
// context), all of the default tenant.
type Config struct {
	// File is where it was read from ("" for the defaults).
	File string
	// Defaults are [general]'s settings, every mailbox's starting point.
	Defaults Settings
	// MaxLogins bounds the PIN attempts of VoiceMailMain (default 3);
	// MinPassword is the shortest PIN a user may choose (default 0).
	MaxLogins, MinPassword int
	// EmailDateFormat is the strftime format of ${VM_DATE} in e-mails.
	EmailDateFormat string
	// PBXSkip leaves "[PBX]: " out of the default e-mail subject.
	PBXSkip bool
	// CIDInternalContexts are the dialplan contexts whose callers the
	// envelope names by extension ("from extension 1002") rather than
	// as a phone number.
	CIDInternalContexts []string
	// Zones are [zonemessages]: a time zone and the envelope's format.
	Zones map[string]Zone
	// Mailboxes in file order.
	Mailboxes []*Mailbox
}

// Zone is one [zonemessages] entry: "name = Area/Location|format".
type Zone struct {
	Name     string
	Location *time.Location
	// Format is an ast_say_date_with_format format ('vm-received' Q
	// 'digits/at' IMp).
	Format string
}

// DefaultConfig is the configuration without a voicemail.conf.
func DefaultConfig() *Config {
	return &Config{Defaults: DefaultSettings(), MaxLogins: 3, EmailDateFormat: "%A, %B %d, %Y at %r", Zones: map[string]Zone{}}
}

// Mailbox is one voicemail box (an ast_vm_user).
type Mailbox struct {
	// Tenant owns the mailbox; Context is the voicemail context as the
	// tenant names it ("default"), Number the mailbox.
	Tenant, Context, Number string
	// PIN is the clear PIN of a voicemail.conf mailbox; a provisioned
	// mailbox carries PINHash (HashPIN) instead. Both empty: no PIN is
	// asked ("-" in voicemail.conf, Asterisk's "no password").
	PIN, PINHash string
	// PINLocked: the user may not change the PIN (a voicemail.conf PIN
	// written "-1234").
	PINLocked bool
	FullName  string
	// Email receives a notification of each new message ("|" separates
	// several addresses, as Asterisk allows); Pager is kept for reference.
	Email, Pager string
	// User is the SIP user whose phones are told of the mailbox's
	// messages (MWI); "" is the user named like the mailbox.
	User    string
	Options Settings
	// File and Line locate a voicemail.conf mailbox.
	File string
	Line int
}

// ID is "mailbox@context", the mailbox's name in events and AMI.
func (m *Mailbox) ID() string { return m.Number + "@" + m.Context }

// Notifies is the SIP user told of the mailbox's messages.
func (m *Mailbox) Notifies() string {
	if m.User != "" {
		return m.User
	}
	return m.Number
}

// spoolContext is the mailbox's context as a directory name: qualified
// with its tenant in hosted mode (tenancy.Context), so two tenants'
// "default" contexts never share a directory.
func (m *Mailbox) spoolContext() string {
	c, _ := tenancy.Context(tenancy.Of(m.Tenant), m.Context)
	return c
}

// configuredPIN is the PIN the configuration gives, as compared with a
// spool secret's basis: the hash for a provisioned mailbox, the clear PIN
// (hashed without salt) for a voicemail.conf one.
func (m *Mailbox) configuredPIN() string {
	if m.PINHash != "" {
		return m.PINHash
	}
	sum := sha256.Sum256([]byte("entvoice-vm-pin:" + m.PIN))
	return hex.EncodeToString(sum[:])
}

// HashPIN is the stored form of a provisioned mailbox's PIN: a salted
// SHA-256, "sha256$salt$hash". A PIN is a handful of digits, so the hash
// keeps it from being shown, not from being guessed by whoever reads it.
func HashPIN(pin string) (string, error) {
	var salt [8]byte
	if _, err := rand.Read(salt[:]); err != nil {
		return "", fmt.Errorf("voicemail: salt: %w", err)
	}
	s := hex.EncodeToString(salt[:])
	return "sha256$" + s + "$" + pinDigest(s, pin), nil
}

func pinDigest(salt, pin string) string {
	sum := sha256.Sum256([]byte(salt + ":" + pin))
	return hex.EncodeToString(sum[:])
}

// checkHash reports whether pin matches a HashPIN value.
func checkHash(hash, pin string) bool {
	parts := strings.Split(hash, "$")
	if len(parts) != 3 || parts[0] != "sha256" {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(pinDigest(parts[1], pin)), []byte(parts[2])) == 1
}

// ValidPIN checks a PIN chosen through the API or the phone: digits only
// (it is keyed on a phone), at least minLen of them.
func ValidPIN(pin string, minLen int) error {
	if pin == "" {
		return errors.New("the PIN is empty")
	}
	for _, c := range pin {
		if c < '0' || c > '9' {
			return errors.New("a PIN is digits only")
		}
	}
	if len(pin) < minLen {
		return fmt.Errorf("a PIN has at least %d digits", minLen)
	}
	if len(pin) > 32 {
		return errors.New("a PIN has at most 32 digits")
	}
	return nil
}

// ValidNumber checks a mailbox number or context name: what may be a
// directory name and a dialled string (no '/', '@', '&', ',', '|', no
// leading '*' which Asterisk reserves for the a extension, no '~' which
// names tenants).
func ValidNumber(s string) error {
	switch {
	case s == "":
		return errors.New("is empty")
	case len(s) > 80:
		return errors.New("is longer than 80 characters")
	case s[0] == '*':
		return errors.New("may not begin with '*' (it jumps to the a extension)")
	case s == "." || s == "..":
		return fmt.Errorf("%q is not a name", s)
	}
	for _, c := range s {
		if c <= ' ' || c == 0x7f || strings.ContainsRune("/\\@&,|~;=[]\"'<>", c) {
			return fmt.Errorf("contains %q", c)
		}
	}
	return nil
}

// ParseOptions applies Asterisk mailbox options (as voicemail.conf's
// fifth field or a provisioned mailbox's options) over base.
func ParseOptions(base Settings, opts map[string]string) (Settings, error) {
	o := base
	var errs []error
	for _, k := range slices.Sorted(maps.Keys(opts)) {
		name := strings.ToLower(strings.TrimSpace(k))
		known, err := o.set(name, opts[k])
		switch {
		case err != nil:
			errs = append(errs, err)
		case !known && !ignoredOptions[name]:
			errs = append(errs, fmt.Errorf("unknown mailbox option %q", k))
		}
	}
	return o, errors.Join(errs...)
}

// LoadConfig reads a voicemail.conf. Errors name file and line: a
// malformed value, an unknown key, a mailbox defined twice in a context,
// a mailbox naming an unknown zone.
func LoadConfig(path string) (*Config, error) {
	secs, err := astconf.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("voicemail: %w", err)
	}
	return build(path, secs)
}

// ParseConfig reads voicemail.conf text (name is used in errors and for
// #include).
func ParseConfig(name string, r io.Reader) (*Config, error) {
	secs, err := astconf.Parse(name, r)
	if err != nil {
		return nil, fmt.Errorf("voicemail: %w", err)
	}
	return build(name, secs)
}

func build(path string, secs []*astconf.Section) (*Config, error) {
	c := DefaultConfig()
	c.File = path
	var errs []error
	// [general] first, wherever it is: it sets every mailbox's defaults.
	for _, s := range secs {
		if s.Template || !strings.EqualFold(s.Name, "general") {
			continue
		}
		for _, v := range s.Vars {
			if err := c.general(v); err != nil {
				errs = append(errs, err)
			}
		}
	}
	for _, s := range secs {
		if s.Template || !strings.EqualFold(s.Name, "zonemessages") {
			continue
		}
		for _, v := range s.Vars {
			z, err := parseZone(v)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			c.Zones[z.Name] = z
		}
	}
	seen := map[string]astconf.Var{}
	for _, s := range secs {
		if s.Template || strings.EqualFold(s.Name, "general") || strings.EqualFold(s.Name, "zonemessages") {
			continue
		}
		if err := ValidNumber(s.Name); err != nil {
			errs = append(errs, s.Errorf("voicemail context [%s] %v", s.Name, err))
			continue
		}
		for _, v := range s.Vars {
			m, err := c.mailbox(s.Name, v)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			if prev, dup := seen[m.ID()]; dup {
				errs = append(errs, v.Errorf("mailbox %s is already defined at %s", m.ID(), prev.Pos()))
				continue
			}
			seen[m.ID()] = v
			c.Mailboxes = append(c.Mailboxes, m)
		}
	}
	return c, errors.Join(errs...)
}

func (c *Config) general(v astconf.Var) error {
	name := strings.ToLower(v.Name)
	switch name {
	case "maxlogins":
		n, err := v.Int()
		if err != nil || n < 1 {
			return v.Errorf("maxlogins: %q is not a positive number", v.Value)
		}
		c.MaxLogins = n
		return nil
	case "minpassword":
		n, err := v.Int()
		if err != nil || n < 0 {
			return v.Errorf("minpassword: %q is not a whole number", v.Value)
		}
		c.MinPassword = n
		return nil
	case "emaildateformat":
		c.EmailDateFormat = v.Value
		return nil
	case "pbxskip":
		b, err := v.Bool()
		c.PBXSkip = b
		return err
	case "cidinternalcontexts":
		c.CIDInternalContexts = nil
		for x := range strings.SplitSeq(v.Value, ",") {
			if x = strings.TrimSpace(x); x != "" {
				c.CIDInternalContexts = append(c.CIDInternalContexts, x)
			}
		}
		return nil
	}
	known, err := c.Defaults.set(name, v.Value)
	if err != nil {
		return v.Errorf("%v", err)
	}
	if !known && !ignoredOptions[name] {
		return v.Errorf("unknown [general] option %q", v.Name)
	}
	return nil
}

// parseZone reads "name = Area/Location|format" (the format may itself
// hold '|'-free text with quoted file names).
func parseZone(v astconf.Var) (Zone, error) {
	loc, format, ok := strings.Cut(v.Value, "|")
	if !ok || strings.TrimSpace(format) == "" {
		return Zone{}, v.Errorf("zone %s: want Area/Location|format, got %q", v.Name, v.Value)
	}
	l, err := time.LoadLocation(strings.TrimSpace(loc))
	if err != nil {
		return Zone{}, v.Errorf("zone %s: %v", v.Name, err)
	}
	return Zone{Name: v.Name, Location: l, Format: strings.TrimSpace(format)}, nil
}

// mailbox reads "mailbox => pin,full name,email,pager,options", options
// being "name=value" pairs separated by '|' (app_voicemail.c
// append_mailbox and apply_options).
func (c *Config) mailbox(context string, v astconf.Var) (*Mailbox, error) {
	if err := ValidNumber(v.Name); err != nil {
		return nil, v.Errorf("mailbox %q %v", v.Name, err)
	}
	m := &Mailbox{Tenant: tenancy.Default, Context: context, Number: v.Name, Options: c.Defaults, File: v.File, Line: v.Line}
	fields := strings.SplitN(v.Value, ",", 5)
	field := func(i int) string {
		if i < len(fields) {
			return strings.TrimSpace(fields[i])
		}
		return ""
	}
	m.PIN = field(0)
	if m.PIN == "-" {
		m.PIN, m.PINLocked = "", true
	}
	// A PIN starting with '-' may not be changed by its user (Asterisk);
	// the PIN itself is what follows.
	if strings.HasPrefix(m.PIN, "-") {
		m.PIN, m.PINLocked = m.PIN[1:], true
	}
	if strings.HasPrefix(m.PIN, "*") {
		return nil, v.Errorf("mailbox %s: a PIN may not begin with '*' (it jumps to the a extension)", m.ID())
	}
	m.FullName, m.Email, m.Pager = field(1), field(2), field(3)
	if opts := field(4); opts != "" {
		kv := map[string]string{}
		for o := range strings.SplitSeq(opts, "|") {
			if o = strings.TrimSpace(o); o == "" {
				continue
			}
			k, val, ok := strings.Cut(o, "=")
			if !ok {
				return nil, v.Errorf("mailbox %s: option %q is not name=value", m.ID(), o)
			}
			kv[strings.TrimSpace(k)] = strings.TrimSpace(val)
		}
		if u, ok := kv["mwi_user"]; ok {
			// entVoice's own option: the SIP user told of the messages.
			m.User = u
			delete(kv, "mwi_user")
		}
		o, err := ParseOptions(m.Options, kv)
		if err != nil {
			return nil, v.Errorf("mailbox %s: %v", m.ID(), err)
		}
		m.Options = o
	}
	if m.Options.TZ != "" {
		if _, ok := c.Zones[m.Options.TZ]; !ok {
			return nil, v.Errorf("mailbox %s: tz=%s names no [zonemessages] zone", m.ID(), m.Options.TZ)
		}
	}
	return m, nil
}
