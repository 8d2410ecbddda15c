package voicemail

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/entvoice/entvoice/internal/config"
)

const sampleConf = `; voicemail.conf in Asterisk's syntax
[general]
format=wav49|gsm|wav
serveremail=pbx@example.com
attach=yes
maxmsg=50
maxsecs=180
maxsilence=10
silencethreshold=128
maxlogins=4
minpassword=4
saycid=yes
cidinternalcontexts=demo,internal
emaildateformat=%A, %d %B %Y at %H:%M:%S
imapserver=imap.example.com ; known to Asterisk, no effect here

[zonemessages]
eastern=America/New_York|'vm-received' Q 'digits/at' IMp
military=Zulu|'vm-received' q 'digits/at' H N 'hours' 'phonetic/z_p'

[default]
1001 => 4242,Alice Example,alice@example.com,,attach=no|tz=eastern|saycid=no
1002 => -,Bob
1003 = -5555,Carol,,pager@example.com,mwi_user=3003

[sales]
1001 => 1111,Sales One
`

func TestLoadConfig(t *testing.T) {
	c, err := ParseConfig("voicemail.conf", strings.NewReader(sampleConf))
	if err != nil {
		t.Fatal(err)
	}
	if c.MaxLogins != 4 || c.MinPassword != 4 || c.Defaults.MaxMsg != 50 || c.Defaults.MaxSecs != 180 || c.Defaults.MaxSilence != 10 {
		t.Errorf("general: %+v", c)
	}
	if !c.Defaults.Attach || c.Defaults.ServerEmail != "pbx@example.com" || !c.Defaults.SayCID || !c.Defaults.Envelope || !c.Defaults.MoveHeard {
		t.Errorf("defaults: %+v", c.Defaults)
	}
	if strings.Join(c.CIDInternalContexts, ",") != "demo,internal" {
		t.Errorf("cidinternalcontexts %v", c.CIDInternalContexts)
	}
	if z := c.Zones["eastern"]; z.Location == nil || z.Location.String() != "America/New_York" || !strings.HasPrefix(z.Format, "'vm-received' Q") {
		t.Errorf("zone %+v", z)
	}
	if len(c.Mailboxes) != 4 {
		t.Fatalf("mailboxes %d", len(c.Mailboxes))
	}
	a := c.Mailboxes[0]
	if a.ID() != "1001@default" || a.PIN != "4242" || a.FullName != "Alice Example" || a.Email != "alice@example.com" ||
		a.Options.Attach || a.Options.TZ != "eastern" || a.Options.SayCID || a.Options.MaxMsg != 50 || a.Line != 22 {
		t.Errorf("1001: %+v", a)
	}
	if b := c.Mailboxes[1]; b.PIN != "" || !b.PINLocked || b.FullName != "Bob" {
		t.Errorf("1002 (no PIN): %+v", b)
	}
	if cc := c.Mailboxes[2]; cc.PIN != "5555" || !cc.PINLocked || cc.Pager != "pager@example.com" || cc.Notifies() != "3003" {
		t.Errorf("1003: %+v", cc)
	}
	if s := c.Mailboxes[3]; s.ID() != "1001@sales" || s.Notifies() != "1001" {
		t.Errorf("sales: %+v", s)
	}
}

// TestLoadConfigErrors: each mistake is reported at its file and line.
func TestLoadConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		name, conf, want string
	}{
		{"bad number", "[general]\nmaxmsg=lots\n", "voicemail.conf:2: maxmsg: \"lots\" is not a whole number"},
		{"bad boolean", "[general]\nattach=perhaps\n", "voicemail.conf:2: attach: \"perhaps\" is not yes or no"},
		{"unknown key", "[general]\n\nattachments=yes\n", "voicemail.conf:3: unknown [general] option \"attachments\""},
		{"duplicate mailbox", "[default]\n1001 => 1\n1001 => 2\n", "voicemail.conf:3: mailbox 1001@default is already defined at voicemail.conf:2"},
		{"unknown zone", "[default]\n1001 => 1,A,,,tz=mars\n", "voicemail.conf:2: mailbox 1001@default: tz=mars names no [zonemessages] zone"},
		{"bad option", "[default]\n1001 => 1,A,,,attach\n", "voicemail.conf:2: mailbox 1001@default: option \"attach\" is not name=value"},
		{"unknown option", "[default]\n\n1001 => 1,A,,,colour=blue\n", "voicemail.conf:3: mailbox 1001@default: unknown mailbox option \"colour\""},
		{"bad zone", "[zonemessages]\nx=Nowhere/City|'vm-received'\n", "voicemail.conf:2: zone x:"},
		{"star PIN", "[default]\n1001 => *12\n", "voicemail.conf:2: mailbox 1001@default: a PIN may not begin with '*'"},
		{"bad mailbox", "[default]\n10/01 => 1\n", "voicemail.conf:2: mailbox \"10/01\" contains '/'"},
		{"no section", "1001 => 1\n", "voicemail.conf:1:"},
		{"maxmsg limit", "[general]\nmaxmsg=10000\n", "voicemail.conf:2: maxmsg: at most 9999"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseConfig("voicemail.conf", strings.NewReader(tc.conf))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want %q", err, tc.want)
			}
		})
	}
}

func TestLoadConfigInclude(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "boxes.conf"), []byte("[default]\n2001 => 1,Inc\n2002 => x,,,,maxmsg=-1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	main := filepath.Join(dir, "voicemail.conf")
	if err := os.WriteFile(main, []byte("[general]\n#include boxes.conf\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := LoadConfig(main)
	if err == nil || !strings.Contains(err.Error(), filepath.Join(dir, "boxes.conf")+":3:") {
		t.Fatalf("an error in an included file names that file: %v", err)
	}
}

func TestParseOptions(t *testing.T) {
	o, err := ParseOptions(DefaultSettings(), map[string]string{"attach": "yes", "maxmsg": "5", "imapuser": "x"})
	if err != nil || !o.Attach || o.MaxMsg != 5 {
		t.Fatalf("%+v %v", o, err)
	}
	if _, err := ParseOptions(DefaultSettings(), map[string]string{"maxmsg": "-1", "nope": "1"}); err == nil ||
		!strings.Contains(err.Error(), "maxmsg") || !strings.Contains(err.Error(), `unknown mailbox option "nope"`) {
		t.Fatalf("want both errors, got %v", err)
	}
}

func TestPINs(t *testing.T) {
	h, err := HashPIN("1234")
	if err != nil {
		t.Fatal(err)
	}
	if !checkHash(h, "1234") || checkHash(h, "1235") || checkHash("garbage", "1234") {
		t.Fatal("checkHash")
	}
	h2, _ := HashPIN("1234")
	if h == h2 {
		t.Fatal("hashes are salted")
	}
	for pin, ok := range map[string]bool{"1234": true, "12": false, "12a4": false, "": false} {
		if err := ValidPIN(pin, 4); (err == nil) != ok {
			t.Errorf("ValidPIN(%q) = %v", pin, err)
		}
	}
}

// TestDemoConfig: the demo's voicemail.conf loads, a mailbox per demo user.
func TestDemoConfig(t *testing.T) {
	c, err := ParseConfig(config.DemoVoicemailFileName, strings.NewReader(config.DemoVoicemail))
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Mailboxes) != 3 || c.Mailboxes[0].ID() != "1001@default" || c.Mailboxes[2].Options.Language != "es" {
		t.Fatalf("%+v", c.Mailboxes)
	}
}
