// Package apps holds the dialplan applications: Answer, Playback, Read,
// Dial, Record and the rest, with Asterisk 22's arguments, options and
// result variables (PLAYBACKSTATUS, READSTATUS, DIALSTATUS, RECORD_STATUS).
// Applications see channels, their media and the services given at
// construction; they place legs through the channel technologies and
// never touch SIP or SQL.
package apps

import (
	"strings"

	"github.com/entvoice/entvoice/internal/channel"
	"github.com/entvoice/entvoice/internal/dialplan"
	"github.com/entvoice/entvoice/internal/pbx"
	"github.com/entvoice/entvoice/internal/prompts"
)

// Services are what applications use besides the channel.
type Services struct {
	Sounds prompts.Sounds
	// Techs places the legs of Dial.
	Techs         *channel.Technologies
	RecordingsDir string
	// Voicemail is the mailbox store of VoiceMail and VoiceMailMain
	// (voicemail.Service); nil: they fail (no voicemail on this node).
	Voicemail Voicemail
}

// Apps are the applications that need services (the others are plain
// functions).
type Apps struct {
	svc Services
}

// table is every application by name, with the services it uses.
func table(ap *Apps) map[string]pbx.App {
	return map[string]pbx.App{
		"Answer":      Answer,
		"Hangup":      Hangup,
		"NoOp":        NoOp,
		"Verbose":     Verbose,
		"Log":         Log,
		"Set":         Set,
		"MSet":        MSet,
		"Goto":        Goto,
		"GotoIf":      GotoIf,
		"ExecIf":      ExecIf,
		"Gosub":       Gosub,
		"Return":      Return,
		"Wait":        Wait,
		"Busy":        Busy,
		"Congestion":  Congestion,
		"Progress":    Progress,
		"Ringing":     Ringing,
		"Playback":    ap.Playback,
		"Background":  ap.Background,
		"WaitExten":   WaitExten,
		"Read":        ap.Read,
		"SayDigits":   ap.SayDigits,
		"SayNumber":   ap.SayNumber,
		"SayAlpha":    ap.SayAlpha,
		"SayPhonetic": ap.SayPhonetic,
		"Echo":        Echo,
		"Record":      ap.Record,
		"Dial":        ap.Dial,
		// Voicemail (voicemail.go).
		"VoiceMail":     ap.VoiceMail,
		"VoiceMailMain": ap.VoiceMailMain,
	}
}

// Register adds every application to the PBX, with the services they use.
func Register(p *pbx.PBX, svc Services) {
	for name, app := range table(&Apps{svc: svc}) {
		p.Register(name, app)
	}
}

// args splits application data with Asterisk's rules.
func args(data string) []string {
	if strings.TrimSpace(data) == "" {
		return nil
	}
	return dialplan.SplitArgs(data)
}

// arg returns the i-th argument or "".
func arg(a []string, i int) string {
	if i < len(a) {
		return strings.TrimSpace(a[i])
	}
	return ""
}
