package voicemail

import (
	"fmt"
	"strconv"
	"strings"
)

// Settings are the options of a mailbox: voicemail.conf's [general]
// values, overridden per mailbox by the options of its line (app_voicemail.c
// apply_option). The zero value is not Asterisk's default; use
// DefaultSettings.
type Settings struct {
	// Attach sends the message as a WAV attachment with the e-mail
	// notification; Delete removes it from the mailbox once e-mailed.
	Attach bool
	Delete bool
	// MaxMsg is how many messages a folder holds (0: greetings only, the
	// caller hears the greeting and nothing is recorded).
	MaxMsg int
	// MaxSecs bounds a message's length (0: no limit); a message shorter
	// than MinSecs is discarded. MaxGreet bounds a greeting (0: no limit).
	MaxSecs, MinSecs, MaxGreet int
	// MaxSilence ends a recording after this many seconds of silence
	// (0: never); a frame is silent below SilenceThreshold (the average
	// sample amplitude, as Asterisk's dsp measures it).
	MaxSilence       int
	SilenceThreshold int
	// Envelope says the date and time before each message, SayCID the
	// caller, SayDuration the length of messages of SayDurationM minutes
	// or more.
	Envelope     bool
	SayCID       bool
	SayDuration  bool
	SayDurationM int
	// Review lets the caller review the message before it is saved;
	// Operator lets 0 leave for the o extension; LeaveUrgent lets the
	// caller mark the message urgent while reviewing.
	Review, Operator, LeaveUrgent bool
	// ForceName and ForceGreetings make a new user (PIN equal to the
	// mailbox number) record the name and greetings at first login.
	ForceName, ForceGreetings bool
	// TempGreetWarn reminds the owner that the temporary greeting is on.
	TempGreetWarn bool
	// MoveHeard moves heard INBOX messages to Old at the end of the
	// session; NextAfterCmd plays the next message after a delete or
	// save; MessageWrap wraps from the last message to the first.
	MoveHeard, NextAfterCmd, MessageWrap bool
	// SendVoicemail offers "leave a message" (3, 5) in the advanced menu.
	SendVoicemail bool
	// ExitContext is where 0 (o) and * (a) leave to (default: the
	// channel's context).
	ExitContext string
	// Language overrides the channel's language in VoiceMailMain.
	Language string
	// TZ names a [zonemessages] zone for the envelope.
	TZ string
	// SkipMS is how far # and * move in a message being played.
	SkipMS int
	// E-mail notification (per mailbox overrides of [general]).
	ServerEmail, FromString, EmailSubject, EmailBody string
}

// DefaultSettings are app_voicemail.c's defaults without a voicemail.conf
// (load_config): 100 messages a folder, the envelope and the duration
// said, heard messages moved to Old, three login attempts.
func DefaultSettings() Settings {
	return Settings{
		MaxMsg: 100, SilenceThreshold: 128, Envelope: true, SayDuration: true, SayDurationM: 2,
		MoveHeard: true, LeaveUrgent: true, SkipMS: 3000, ServerEmail: "asterisk",
	}
}

// set applies one option (name lower case). It reports whether the name
// is one it knows.
func (o *Settings) set(name, value string) (bool, error) {
	b := func(dst *bool) error {
		v, err := parseBool(value)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		*dst = v
		return nil
	}
	n := func(dst *int) error {
		v, err := strconv.Atoi(strings.TrimSpace(value))
		if err != nil || v < 0 {
			return fmt.Errorf("%s: %q is not a whole number", name, value)
		}
		*dst = v
		return nil
	}
	var err error
	switch name {
	case "attach":
		err = b(&o.Attach)
	case "delete", "deletevoicemail":
		err = b(&o.Delete)
	case "maxmsg":
		err = n(&o.MaxMsg)
		if err == nil && o.MaxMsg > MaxMessages {
			err = fmt.Errorf("maxmsg: at most %d", MaxMessages)
		}
	case "maxsecs", "maxmessage":
		err = n(&o.MaxSecs)
	case "minsecs", "minmessage":
		err = n(&o.MinSecs)
	case "maxgreet":
		err = n(&o.MaxGreet)
	case "maxsilence":
		err = n(&o.MaxSilence)
	case "silencethreshold":
		err = n(&o.SilenceThreshold)
	case "envelope":
		err = b(&o.Envelope)
	case "saycid":
		err = b(&o.SayCID)
	case "sayduration":
		err = b(&o.SayDuration)
	case "saydurationm":
		err = n(&o.SayDurationM)
	case "review":
		err = b(&o.Review)
	case "operator":
		err = b(&o.Operator)
	case "leaveurgent":
		err = b(&o.LeaveUrgent)
	case "forcename":
		err = b(&o.ForceName)
	case "forcegreetings":
		err = b(&o.ForceGreetings)
	case "tempgreetwarn":
		err = b(&o.TempGreetWarn)
	case "moveheard":
		err = b(&o.MoveHeard)
	case "nextaftercmd":
		err = b(&o.NextAfterCmd)
	case "messagewrap":
		err = b(&o.MessageWrap)
	case "sendvoicemail":
		err = b(&o.SendVoicemail)
	case "exitcontext":
		o.ExitContext = strings.TrimSpace(value)
	case "language":
		o.Language = strings.TrimSpace(value)
	case "tz":
		o.TZ = strings.TrimSpace(value)
	case "skipms":
		err = n(&o.SkipMS)
	case "serveremail":
		o.ServerEmail = strings.TrimSpace(value)
	case "fromstring":
		o.FromString = value
	case "emailsubject":
		o.EmailSubject = value
	case "emailbody":
		o.EmailBody = value
	default:
		return false, nil
	}
	return true, err
}

// ignoredOptions are voicemail.conf keys Asterisk knows and entVoice
// accepts without effect: storage back ends (IMAP, ODBC), external
// programs (mailcmd, externnotify, externpass), ADSI, pagers, SMDI,
// directory and dial-out features. They are named so that a real
// Asterisk voicemail.conf loads; any other key is an error.
var ignoredOptions = map[string]bool{
	"format": true, "adsifdn": true, "adsisec": true, "adsiver": true, "aliasescontext": true, "authpassword": true,
	"authuser": true, "backupdeleted": true, "callback": true, "charset": true, "dialout": true, "expungeonhangup": true,
	"externnotify": true, "externpass": true, "externpasscheck": true, "externpassnotify": true, "forward_urgent_auto": true,
	"greetingfolder": true, "greetingsfolder": true, "imap_poll_logout": true, "imapclosetimeout": true, "imapflags": true,
	"imapfolder": true, "imapgreetings": true, "imapopentimeout": true, "imapparentfolder": true, "imapport": true,
	"imapreadtimeout": true, "imapserver": true, "imapwritetimeout": true, "imapuser": true, "imappassword": true,
	"imapsecret": true, "imapvmshareid": true, "listen-control-forward-key": true, "listen-control-pause-key": true,
	"listen-control-restart-key": true, "listen-control-reverse-key": true, "listen-control-stop-key": true, "locale": true,
	"mailcmd": true, "odbc_audio_on_disk": true, "odbcstorage": true, "odbctable": true, "pagerbody": true,
	"pagerdateformat": true, "pagerfromstring": true, "pagersubject": true, "passwordlocation": true, "pollfreq": true,
	"pollmailboxes": true, "searchcontexts": true, "smdienable": true, "smdiport": true, "tps_queue_high": true,
	"tps_queue_low": true, "usedirectory": true, "volgain": true, "attachfmt": true, "attachextrecs": true,
	"hidefromdir": true, "directoryintro": true, "userscontext": true, "vm-invalid-password": true, "vm-login": true,
	"vm-mismatch": true, "vm-newpassword": true, "vm-newuser": true, "vm-passchanged": true, "vm-password": true,
	"vm-pls-try-again": true, "vm-prepend-timeout": true, "vm-reenterpassword": true, "sendvoicemailsubject": true,
}

func parseBool(v string) (bool, error) {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "yes", "true", "y", "t", "1", "on":
		return true, nil
	case "no", "false", "n", "f", "0", "off":
		return false, nil
	}
	return false, fmt.Errorf("%q is not yes or no", v)
}
