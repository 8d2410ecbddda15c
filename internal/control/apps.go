package control

import (
	"slices"
	"strings"
)

// Applications lists the dialplan applications a node runs, as
// extensions.conf names them, sorted. Central, which runs no PBX of its
// own, checks the extension rows written through the API against it; the
// node's tests keep it equal to what the node registers.
func Applications() []string {
	apps := []string{
		"AGI", "Answer", "Background", "Busy", "Congestion", "Dial", "EAGI", "Echo", "ExecIf",
		"Gosub", "Goto", "GotoIf", "Hangup", "Log", "MSet", "MusicOnHold", "NoOp", "Playback", "Progress",
		"Read", "Record", "Return", "Ringing", "SayAlpha", "SayDigits", "SayNumber",
		"SayPhonetic", "Set", "StartMusicOnHold", "StopMusicOnHold", "Verbose", "Wait", "WaitExten",
		// Speech recognition and text to speech (docs/speech.md).
		"SayText", "SpeechActivateGrammar", "SpeechBackground", "SpeechCreate",
		"SpeechDeactivateGrammar", "SpeechDestroy", "SpeechLoadGrammar",
		"SpeechProcessingSound", "SpeechStart", "SpeechUnloadGrammar",

		// Unified communications: conferences, parking, pickup.
		"ConfBridge", "Park", "ParkedCall", "Pickup", "PickupChan",

		// Voicemail.
		"VoiceMail", "VoiceMailMain",
	}
	// Call queues (internal/queue).
	apps = append(apps, "AddQueueMember", "PauseQueueMember", "Queue", "QueueLog", "RemoveQueueMember", "UnpauseQueueMember")
	slices.Sort(apps)
	return apps
}

// IsApplication reports whether a node runs the application name
// (case-insensitive, as Asterisk's application lookup).
func IsApplication(name string) bool {
	for _, a := range Applications() {
		if strings.EqualFold(a, name) {
			return true
		}
	}
	return false
}
