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
	"github.com/entvoice/entvoice/internal/conference"
	"github.com/entvoice/entvoice/internal/dialplan"
	"github.com/entvoice/entvoice/internal/media/moh"
	"github.com/entvoice/entvoice/internal/parking"
	"github.com/entvoice/entvoice/internal/pbx"
	"github.com/entvoice/entvoice/internal/prompts"
)

// Services are what applications use besides the channel.
type Services struct {
	Sounds prompts.Sounds
	// Techs places the legs of Dial.
	Techs         *channel.Technologies
	RecordingsDir string
	// MOH plays music on hold (nil: none configured).
	MOH *moh.Player

	// Speech recognition and text to speech (docs/speech.md); nil:
	// SpeechCreate fails with ERROR=1, SayText with SAYTEXTSTATUS=FAILED.
	Speech *Speech
	TTS    TTS
	// Unified communications: conferences (ConfBridge), parking (Park,
	// ParkedCall).
	Conferences *conference.Service
	Parking     *parking.Service
	// Voicemail is the mailbox store of VoiceMail and VoiceMailMain
	// (voicemail.Service); nil: they fail (no voicemail on this node).
	Voicemail Voicemail
}

// Apps are the applications that need services (the others are plain
// functions).
type Apps struct {
	svc  Services
	held onHold // channels hearing music on hold
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

		"MusicOnHold":      ap.MusicOnHold,
		"StartMusicOnHold": ap.StartMusicOnHold,
		"StopMusicOnHold":  ap.StopMusicOnHold,
		// Speech recognition and text to speech (speech.go, saytext.go).
		"SpeechCreate":            ap.SpeechCreate,
		"SpeechLoadGrammar":       ap.SpeechLoadGrammar,
		"SpeechUnloadGrammar":     SpeechUnloadGrammar,
		"SpeechActivateGrammar":   SpeechActivateGrammar,
		"SpeechDeactivateGrammar": SpeechDeactivateGrammar,
		"SpeechStart":             SpeechStart,
		"SpeechBackground":        ap.SpeechBackground,
		"SpeechProcessingSound":   SpeechProcessingSound,
		"SpeechDestroy":           SpeechDestroy,
		"SayText":                 ap.SayText,

		"ConfBridge": ap.ConfBridge,
		"Park":       ap.Park,
		"ParkedCall": ap.ParkedCall,
		"Pickup":     ap.Pickup,
		"PickupChan": ap.PickupChan,
		// Voicemail (voicemail.go).
		"VoiceMail":     ap.VoiceMail,
		"VoiceMailMain": ap.VoiceMailMain,
	}
}

// Register adds every application to the PBX, with the services they
// use, and returns them: other application packages (queues) hold
// callers with their music on hold, prompts and bridge.
func Register(p *pbx.PBX, svc Services) *Apps {
	ap := &Apps{svc: svc}
	for name, app := range table(ap) {
		p.Register(name, app)
	}
	for name, f := range speechFunctions() {
		p.RegisterFunction(name, f)
	}
	p.RegisterFunction("TTS", ap.ttsFunction())
	return ap
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
