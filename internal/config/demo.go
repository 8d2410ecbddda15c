package config

import (
	_ "embed"

	"gopkg.in/yaml.v3"
)

// DemoDialplan is the dialplan of `entvoice serve` without --config: users
// 1001-1003 call each other by number, and 500 is an IVR.
//
//go:embed demo/extensions.conf
var DemoDialplan string

// DemoFileName is the name the demo dialplan is written under in data_dir.
const DemoFileName = "demo-extensions.conf"

// DemoVoicemail is the demo's voicemail.conf: a mailbox per demo user.
//
//go:embed demo/voicemail.conf
var DemoVoicemail string

// DemoVoicemailFileName is the name DemoVoicemail is written under in
// data_dir; a demo configuration takes it as its voicemail key
// (WithDemoVoicemail).
const DemoVoicemailFileName = "demo-voicemail.conf"

// WithDemoVoicemail is a Demo adjustment: the voicemail.conf written at
// path.
func WithDemoVoicemail(path string) func(*Config) {
	return func(c *Config) { c.Voicemail = path }
}

// Demo returns the configuration of the demo: three users on 127.0.0.1
// and the demo IVR. dialplanPath is where the caller wrote DemoDialplan.
// adjust, when given, changes it before it is validated (tests move it to
// free ports).
func Demo(dataDir, dialplanPath string, adjust ...func(*Config)) *Config {
	c := &Config{
		DataDir:  dataDir,
		Dialplan: dialplanPath,
		Users: []User{
			{Name: "1001", Secret: "pass1001", Context: "demo", CallerID: `"Alice" <1001>`},
			{Name: "1002", Secret: "pass1002", Context: "demo", CallerID: `"Bob" <1002>`},
			{Name: "1003", Secret: "pass1003", Context: "demo", CallerID: `"Carol" <1003>`, Language: "es"},
		},
	}
	// The three phones ring and pick up in one group (*8).
	for i := range c.Users {
		c.Users[i].CallGroup, c.Users[i].PickupGroup = "1", "1"
	}
	for _, f := range adjust {
		f(c)
	}
	if err := c.applyDefaults(); err != nil {
		panic(err) // the demo is a constant: an error here is a programming error
	}
	if err := c.validate(&yaml.Node{}); err != nil {
		panic(err)
	}
	return c
}
