package agi

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/entvoice/entvoice/internal/channel"
	"github.com/entvoice/entvoice/internal/dialplan"
	"github.com/entvoice/entvoice/internal/pbx"
	"github.com/entvoice/entvoice/internal/prompts"
	"github.com/entvoice/entvoice/internal/q850"
)

// command is one entry of res_agi.c's commands[] (plus GOSUB, which
// app_stack.c registers). dead marks the commands allowed on a hung-up
// channel. usage is sent in the multi-line 520 reply; Asterisk sends the
// XML documentation's description there, entVoice a syntax summary of its
// own (clients only look for the closing "520 " line).
type command struct {
	words   []string
	handler func(s *session, argv []string) cmdResult
	dead    bool
	usage   string
}

// commands, in res_agi.c's registration order (find_command takes the
// first whose words all match).
var commands = []command{
	{[]string{"answer"}, cmdAnswer, false, " Usage: ANSWER\n\tAnswers the channel if it is not already in answer state. Returns -1 on channel failure, or 0 if successful."},
	{[]string{"asyncagi", "break"}, cmdAsyncBreak, true, " Usage: ASYNCAGI BREAK\n\tInterrupts Async AGI. Returns 0."},
	{[]string{"channel", "status"}, cmdChannelStatus, false, " Usage: CHANNEL STATUS [<channelname>]\n\tReturns the state of the channel (0-7), or -1 if there is no such channel."},
	{[]string{"database", "del"}, cmdDBDel, true, " Usage: DATABASE DEL <family> <key>\n\tDeletes an entry. Returns 1 if successful, 0 otherwise."},
	{[]string{"database", "deltree"}, cmdDBDelTree, true, " Usage: DATABASE DELTREE <family> [keytree]\n\tDeletes a family or a key tree within it."},
	{[]string{"database", "get"}, cmdDBGet, true, " Usage: DATABASE GET <family> <key>\n\tReturns 0 if the key is not set, 1 and the value in parentheses if it is."},
	{[]string{"database", "put"}, cmdDBPut, true, " Usage: DATABASE PUT <family> <key> <value>\n\tSets an entry. Returns 1 if successful, 0 otherwise."},
	{[]string{"exec"}, cmdExec, true, " Usage: EXEC <application> <options>\n\tExecutes a dialplan application. Returns what the application returns, or -2 if it does not exist."},
	{[]string{"get", "data"}, cmdGetData, false, " Usage: GET DATA <file to be streamed> [timeout] [max digits]\n\tPlays the file and collects DTMF digits up to max digits, '#' or the timeout."},
	{[]string{"get", "full", "variable"}, cmdGetFullVariable, true, " Usage: GET FULL VARIABLE <variablename> [<channel name>]\n\tReturns 1 and the expanded expression in parentheses, 0 if there is no such channel."},
	{[]string{"get", "option"}, cmdGetOption, false, " Usage: GET OPTION <filename> <escape_digits> [timeout]\n\tLike STREAM FILE, then waits timeout milliseconds for one of the escape digits."},
	{[]string{"get", "variable"}, cmdGetVariable, true, " Usage: GET VARIABLE <variablename>\n\tReturns 0 if the variable is not set, 1 and the value in parentheses if it is."},
	{[]string{"hangup"}, cmdHangup, false, " Usage: HANGUP [<channelname>]\n\tHangs up the current or the named channel. Returns 1, or -1 if there is no such channel."},
	{[]string{"noop"}, cmdNoop, true, " Usage: NoOp\n\tDoes nothing."},
	{[]string{"receive", "char"}, cmdReceiveChar, false, " Usage: RECEIVE CHAR <timeout>\n\tReceives a character of text; returns -1 as SIP channels carry no text."},
	{[]string{"receive", "text"}, cmdReceiveText, false, " Usage: RECEIVE TEXT <timeout>\n\tReceives a string of text; returns -1 as SIP channels carry no text."},
	{[]string{"record", "file"}, cmdRecordFile, false, " Usage: RECORD FILE <filename> <format> <escape digits> <timeout> [offset samples] [BEEP] [s=silence]\n\tRecords to a file until an escape digit, the timeout (ms, -1 for none) or silence (seconds)."},
	{[]string{"say", "alpha"}, cmdSayAlpha, false, " Usage: SAY ALPHA <number> <escape digits> [case]\n\tSpells a string. Returns 0, the ASCII code of the digit pressed, or -1 on hangup."},
	{[]string{"say", "digits"}, cmdSayDigits, false, " Usage: SAY DIGITS <number> <escape digits>\n\tSays a number digit by digit. Returns 0, the ASCII code of the digit pressed, or -1 on hangup."},
	{[]string{"say", "number"}, cmdSayNumber, false, " Usage: SAY NUMBER <number> <escape digits> [gender]\n\tSays a number. Returns 0, the ASCII code of the digit pressed, or -1 on hangup."},
	{[]string{"say", "phonetic"}, cmdSayPhonetic, false, " Usage: SAY PHONETIC <string> <escape digits>\n\tSpells a string with the phonetic alphabet. Returns 0, the ASCII code of the digit pressed, or -1 on hangup."},
	{[]string{"say", "date"}, cmdSayDate, false, " Usage: SAY DATE <date> <escape digits>\n\tSays a date given in seconds since the epoch. Returns 0, the ASCII code of the digit pressed, or -1 on hangup."},
	{[]string{"say", "time"}, cmdSayTime, false, " Usage: SAY TIME <time> <escape digits>\n\tSays a time given in seconds since the epoch. Returns 0, the ASCII code of the digit pressed, or -1 on hangup."},
	{[]string{"say", "datetime"}, cmdSayDateTime, false, " Usage: SAY DATETIME <time> <escape digits> [format] [timezone]\n\tSays a date and time with a SayUnixTime format. Returns 0, the ASCII code of the digit pressed, or -1 on hangup."},
	{[]string{"send", "image"}, cmdSendImage, false, " Usage: SEND IMAGE <image>\n\tSends an image; SIP channels take none, so it returns 0."},
	{[]string{"send", "text"}, cmdSendText, false, " Usage: SEND TEXT \"<text to send>\"\n\tSends text; returns -1 as SIP channels carry no text."},
	{[]string{"set", "autohangup"}, cmdAutoHangup, false, " Usage: SET AUTOHANGUP <time>\n\tHangs the channel up after time seconds; 0 cancels."},
	{[]string{"set", "callerid"}, cmdSetCallerID, false, " Usage: SET CALLERID <number>\n\tChanges the caller ID of the channel."},
	{[]string{"set", "context"}, cmdSetContext, false, " Usage: SET CONTEXT <desired context>\n\tSets the context to continue in after the script."},
	{[]string{"set", "extension"}, cmdSetExtension, false, " Usage: SET EXTENSION <new extension>\n\tSets the extension to continue at after the script."},
	{[]string{"set", "music"}, cmdSetMusic, false, " Usage: SET MUSIC <on|off> <class>\n\tEnables or disables music on hold."},
	{[]string{"set", "priority"}, cmdSetPriority, false, " Usage: SET PRIORITY <priority>\n\tSets the priority (number or label) to continue at after the script."},
	{[]string{"set", "variable"}, cmdSetVariable, true, " Usage: SET VARIABLE <variablename> <value>\n\tSets a channel variable. Returns 1."},
	{[]string{"stream", "file"}, cmdStreamFile, false, " Usage: STREAM FILE <filename> <escape digits> [sample offset]\n\tPlays a file; returns 0, the ASCII code of the escape digit pressed or -1, and endpos in samples."},
	{[]string{"control", "stream", "file"}, cmdControlStreamFile, false, " Usage: CONTROL STREAM FILE <filename> <escape digits> [skipms] [ffchar] [rewchr] [pausechr] [offsetms]\n\tPlays a file with fast forward, rewind and pause keys; endpos is in milliseconds."},
	{[]string{"tdd", "mode"}, cmdTDDMode, false, " Usage: TDD MODE <on|off>\n\tEnables or disables TDD; returns 0 as SIP channels have none."},
	{[]string{"verbose"}, cmdVerbose, true, " Usage: VERBOSE <message> <level>\n\tLogs a message. Returns 1."},
	{[]string{"wait", "for", "digit"}, cmdWaitForDigit, false, " Usage: WAIT FOR DIGIT <timeout>\n\tWaits timeout milliseconds (-1: forever) for a digit. Returns its ASCII code, 0 on timeout, -1 on hangup."},
	{[]string{"speech", "create"}, cmdSpeechCreate, false, " Usage: SPEECH CREATE <engine>\n\tCreates a speech object."},
	{[]string{"speech", "set"}, cmdSpeechSet, false, " Usage: SPEECH SET <name> <value>\n\tSets an engine setting."},
	{[]string{"speech", "destroy"}, cmdSpeechDestroy, true, " Usage: SPEECH DESTROY\n\tDestroys the speech object."},
	{[]string{"speech", "load", "grammar"}, cmdSpeechLoadGrammar, false, " Usage: SPEECH LOAD GRAMMAR <grammar name> <path to grammar>\n\tLoads a grammar."},
	{[]string{"speech", "unload", "grammar"}, cmdSpeechUnloadGrammar, true, " Usage: SPEECH UNLOAD GRAMMAR <grammar name>\n\tUnloads a grammar."},
	{[]string{"speech", "activate", "grammar"}, cmdSpeechActivateGrammar, false, " Usage: SPEECH ACTIVATE GRAMMAR <grammar name>\n\tActivates a grammar."},
	{[]string{"speech", "deactivate", "grammar"}, cmdSpeechDeactivateGrammar, false, " Usage: SPEECH DEACTIVATE GRAMMAR <grammar name>\n\tDeactivates a grammar."},
	{[]string{"speech", "recognize"}, cmdSpeechRecognize, false, " Usage: SPEECH RECOGNIZE <prompt> <timeout> [<offset>]\n\tPlays a prompt and recognizes speech."},
	{[]string{"gosub"}, cmdGosub, false, " Usage: GOSUB <context> <extension> <priority> [<optional-argument>]\n\tRuns a dialplan subroutine and returns."},
}

// findCommand is res_agi.c's find_command(argv, 0).
func findCommand(argv []string) *command {
	for i := range commands {
		c := &commands[i]
		if len(argv) < len(c.words) {
			continue
		}
		match := true
		for j, w := range c.words {
			if !strings.EqualFold(w, argv[j]) {
				match = false
				break
			}
		}
		if match {
			return c
		}
	}
	return nil
}

// scanInt is sscanf("%30d"): optional spaces, a sign and at least one
// digit; what follows is ignored.
func scanInt(s string) (int, bool) {
	s = strings.TrimLeft(s, " \t\n\r\v\f")
	if len(s) > 30 {
		s = s[:30]
	}
	i := 0
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		i++
	}
	j := i
	for j < len(s) && s[j] >= '0' && s[j] <= '9' {
		j++
	}
	if j == i {
		return 0, false
	}
	n, err := strconv.ParseInt(s[:j], 10, 32)
	if err != nil {
		return 0, false
	}
	return int(n), true
}

// atoi is C's atoi: like scanInt, 0 when there is no number.
func atoi(s string) int {
	n, _ := scanInt(s)
	return n
}

func argAt(argv []string, i int) string {
	if i < len(argv) {
		return argv[i]
	}
	return ""
}

func cmdAnswer(s *session, _ []string) cmdResult {
	res := 0
	if s.e.Ch.State() != channel.StateUp {
		if err := s.answer(); err != nil {
			res = -1
		}
	}
	s.replyInt(res)
	if res < 0 {
		return resultFailure
	}
	return resultSuccess
}

func cmdAsyncBreak(s *session, _ []string) cmdResult {
	// Only AsyncAGI leaves on ASYNCAGI BREAK; run_agi ignores it for AGI
	// and FastAGI.
	s.reply("0")
	return resultAsyncBreak
}

func cmdWaitForDigit(s *session, argv []string) cmdResult {
	if len(argv) != 4 {
		return resultShowUsage
	}
	to, ok := scanInt(argv[3])
	if !ok {
		return resultShowUsage
	}
	d, err := s.waitDigit(to)
	return s.digitReply(d, err)
}

// digitReply sends "200 result=<ascii|0|-1>".
func (s *session) digitReply(d rune, err error) cmdResult {
	if err != nil {
		s.reply("-1")
		return resultFailure
	}
	s.replyInt(int(d))
	return resultSuccess
}

func cmdSendText(s *session, argv []string) cmdResult {
	if len(argv) != 3 {
		return resultShowUsage
	}
	// ast_sendtext fails on a channel without text support.
	s.reply("-1")
	return resultFailure
}

func cmdReceiveChar(s *session, argv []string) cmdResult {
	if len(argv) != 3 {
		return resultShowUsage
	}
	s.reply("-1", "(hangup)")
	return resultFailure
}

func cmdReceiveText(s *session, argv []string) cmdResult {
	if len(argv) != 3 {
		return resultShowUsage
	}
	s.reply("-1")
	return resultSuccess
}

func cmdTDDMode(s *session, argv []string) cmdResult {
	if len(argv) != 3 {
		return resultShowUsage
	}
	// Setting the TDD option fails on a SIP channel: result=0.
	s.reply("0")
	return resultSuccess
}

func cmdSendImage(s *session, argv []string) cmdResult {
	if len(argv) != 3 {
		return resultShowUsage
	}
	s.reply("0")
	return resultSuccess
}

func cmdStreamFile(s *session, argv []string) cmdResult {
	if len(argv) < 4 || len(argv) > 5 {
		return resultShowUsage
	}
	var offset int64
	if len(argv) > 4 {
		n, ok := scanInt(argv[4])
		if !ok {
			return resultShowUsage
		}
		offset = int64(n)
	}
	d, endpos, err := s.stream(argv[2], argv[3], offset)
	if err == errNoFile {
		s.reply("-1", "endpos="+strconv.FormatInt(offset, 10))
		return resultFailure
	}
	res := int(d)
	if err != nil {
		res = -1
	}
	s.replyInt(res, "endpos="+strconv.FormatInt(endpos, 10))
	if res != 0 {
		s.e.Ch.SetVar("PLAYBACKSTATUS", "FAILED")
	} else {
		s.e.Ch.SetVar("PLAYBACKSTATUS", "SUCCESS")
	}
	if res < 0 {
		return resultFailure
	}
	return resultSuccess
}

func cmdGetOption(s *session, argv []string) cmdResult {
	if len(argv) < 4 || len(argv) > 5 {
		return resultShowUsage
	}
	// The pbx's digit timeout (dtimeoutms, 5 s) unless given.
	timeout := 5000
	if len(argv) == 5 {
		timeout = atoi(argv[4])
	}
	d, endpos, err := s.stream(argv[2], argv[3], 0)
	if err == errNoFile {
		s.reply("-1", "endpos=0")
		s.log.Warn("GET OPTION: unable to open file", "file", argv[2])
		return resultFailure
	}
	res := int(d)
	if err != nil {
		res = -1
	}
	if res == 0 {
		d, err = s.waitDigit(timeout)
		switch {
		case err != nil:
			res = -1
		case d != 0 && strings.ContainsRune(argv[3], d):
			res = int(d)
		default:
			res = 0
		}
	}
	s.replyInt(res, "endpos="+strconv.FormatInt(endpos, 10))
	if res < 0 {
		return resultFailure
	}
	return resultSuccess
}

// say plays the sound names a Say* function produced, stopping at an
// escape digit: ast_say_* (0, the digit's ASCII code, or -1 when a sound
// is missing or the caller hangs up).
func (s *session) say(files []string, escape string) cmdResult {
	for _, f := range files {
		d, _, err := s.stream(f, escape, 0)
		if err != nil {
			if err == errNoFile {
				s.log.Warn("SAY: sound file missing", "file", f, "language", s.e.Ch.Language())
			}
			s.reply("-1")
			return resultFailure
		}
		if d != 0 {
			s.replyInt(int(d))
			return resultSuccess
		}
	}
	s.reply("0")
	return resultSuccess
}

// sayValue is say for a value a language may lack recorded prompts for:
// prompts.Sounds.Say speaks text through TTS then.
func (s *session) sayValue(files []string, text, escape string) cmdResult {
	files, err := s.a.opts.Sounds.Say(s.e.Ctx, files, text, s.e.Ch.Language())
	if err != nil {
		s.log.Warn("SAY: text to speech failed, playing the recorded prompts", "language", s.e.Ch.Language(), "err", err)
	}
	return s.say(files, escape)
}

func cmdSayNumber(s *session, argv []string) cmdResult {
	if len(argv) < 4 || len(argv) > 5 {
		return resultShowUsage
	}
	n, ok := scanInt(argv[2])
	if !ok {
		return resultShowUsage
	}
	files, err := prompts.SayNumber(int64(n), s.e.Ch.Language(), argAt(argv, 4))
	if err != nil {
		s.reply("-1")
		return resultFailure
	}
	return s.sayValue(files, prompts.NumberText(int64(n), s.e.Ch.Language()), argv[3])
}

func cmdSayDigits(s *session, argv []string) cmdResult {
	if len(argv) != 4 {
		return resultShowUsage
	}
	if _, ok := scanInt(argv[2]); !ok {
		return resultShowUsage
	}
	lang := s.e.Ch.Language()
	return s.sayValue(prompts.SayDigits(argv[2], lang), prompts.DigitsText(argv[2], lang), argv[3])
}

func cmdSayAlpha(s *session, argv []string) cmdResult {
	if len(argv) < 4 || len(argv) > 5 {
		return resultShowUsage
	}
	c := prompts.CaseNone
	if len(argv) > 4 && argv[4] != "" {
		switch argv[4][0] {
		case 'a', 'A':
			c = prompts.CaseAll
		case 'l', 'L':
			c = prompts.CaseLower
		case 'n', 'N':
			c = prompts.CaseNone
		case 'u', 'U':
			c = prompts.CaseUpper
		default:
			return resultShowUsage
		}
	}
	return s.say(prompts.SayAlphaCase(argv[2], s.e.Ch.Language(), c), argv[3])
}

func cmdSayPhonetic(s *session, argv []string) cmdResult {
	if len(argv) != 4 {
		return resultShowUsage
	}
	return s.say(prompts.SayPhonetic(argv[2]), argv[3])
}

func cmdSayDate(s *session, argv []string) cmdResult {
	if len(argv) != 4 {
		return resultShowUsage
	}
	n, ok := scanInt(argv[2])
	if !ok {
		return resultShowUsage
	}
	t := time.Unix(int64(n), 0).Local()
	files, err := prompts.SayDate(t, s.e.Ch.Language())
	if err != nil {
		s.reply("-1")
		return resultFailure
	}
	return s.sayValue(files, prompts.DateText(t, s.e.Ch.Language()), argv[3])
}

func cmdSayTime(s *session, argv []string) cmdResult {
	if len(argv) != 4 {
		return resultShowUsage
	}
	n, ok := scanInt(argv[2])
	if !ok {
		return resultShowUsage
	}
	t := time.Unix(int64(n), 0).Local()
	files, err := prompts.SayTime(t, s.e.Ch.Language())
	if err != nil {
		s.reply("-1")
		return resultFailure
	}
	return s.sayValue(files, prompts.TimeText(t, s.e.Ch.Language()), argv[3])
}

func cmdSayDateTime(s *session, argv []string) cmdResult {
	if len(argv) < 4 {
		return resultShowUsage
	}
	lang := s.e.Ch.Language()
	// res_agi.c's defaults when no format is given.
	format := "ABdY 'digits/at' IMp"
	if strings.EqualFold(lang, "de") {
		format = "A dBY HMS"
	}
	if len(argv) > 4 {
		format = argv[4]
	}
	loc := time.Local
	if len(argv) > 5 && argv[5] != "" {
		if l, err := time.LoadLocation(argv[5]); err == nil {
			loc = l
		}
	}
	// ast_get_time_t: a (possibly fractional) number of seconds.
	f, err := strconv.ParseFloat(strings.TrimSpace(argv[2]), 64)
	if err != nil {
		return resultShowUsage
	}
	files, err := prompts.SayDateWithFormat(time.Unix(int64(f), 0).In(loc), lang, format)
	if err != nil {
		s.reply("-1")
		return resultFailure
	}
	return s.say(files, argv[3])
}

func cmdGetData(s *session, argv []string) cmdResult {
	if len(argv) < 3 {
		return resultShowUsage
	}
	timeout := 0
	if len(argv) >= 4 {
		timeout = atoi(argv[3])
	}
	max := 1024
	if len(argv) >= 5 {
		max = atoi(argv[4])
	}
	digits, res := s.getData(argv[2], max, timeout)
	switch {
	case res == getDataTimeout:
		s.reply(digits, "(timeout)")
	case res < 0:
		s.reply("-1")
	default:
		s.reply(digits)
	}
	return resultSuccess
}

func cmdSetContext(s *session, argv []string) cmdResult {
	if len(argv) != 3 {
		return resultShowUsage
	}
	_, x, p := s.e.Ch.Location()
	s.e.Ch.SetLocation(argv[2], x, p)
	s.moved = true
	s.reply("0")
	return resultSuccess
}

func cmdSetExtension(s *session, argv []string) cmdResult {
	if len(argv) != 3 {
		return resultShowUsage
	}
	c, _, p := s.e.Ch.Location()
	s.e.Ch.SetLocation(c, argv[2], p)
	s.moved = true
	s.reply("0")
	return resultSuccess
}

func cmdSetPriority(s *session, argv []string) cmdResult {
	if len(argv) != 3 {
		return resultShowUsage
	}
	c, x, _ := s.e.Ch.Location()
	pri, ok := scanInt(argv[2])
	if !ok {
		plan := s.e.PBX.Dialplan()
		n, found := 0, false
		if plan != nil {
			n, found = plan.FindLabel(c, x, argv[2])
		}
		if !found || n < 1 {
			return resultShowUsage
		}
		pri = n
	}
	s.e.Ch.SetLocation(c, x, pri)
	s.moved = true
	s.newPriority = pri
	s.reply("0")
	return resultSuccess
}

func cmdAutoHangup(s *session, argv []string) cmdResult {
	if len(argv) != 3 {
		return resultShowUsage
	}
	f, err := strconv.ParseFloat(strings.TrimSpace(argv[2]), 64)
	if err != nil {
		// sscanf %lf accepts a numeric prefix.
		n, ok := scanInt(argv[2])
		if !ok {
			return resultShowUsage
		}
		f = float64(n)
	}
	if f < 0 {
		f = 0
	}
	s.setAutoHangup(time.Duration(f * float64(time.Second)))
	s.reply("0")
	return resultSuccess
}

func cmdHangup(s *session, argv []string) cmdResult {
	switch len(argv) {
	case 1:
		// ast_softhangup: the dialplan sees a hung-up channel at once;
		// the BYE goes out when the script is done (session.run).
		s.hangupSoftly()
		s.reply("1")
		return resultSuccess
	case 2:
		if c := s.findChannel(argv[1]); c != nil {
			if c == s.e.Ch {
				s.hangupSoftly()
			} else {
				c.Hangup(q850.NormalClearing)
			}
			s.reply("1")
			return resultSuccess
		}
		s.reply("-1")
		return resultSuccess
	}
	return resultShowUsage
}

// hangupSoftly is ast_softhangup on the session's own channel.
func (s *session) hangupSoftly() {
	if !s.softHung {
		s.softHung = true
		close(s.softHangup)
	}
}

// findChannel finds a live channel by name within the caller's tenant.
func (s *session) findChannel(name string) *channel.Channel {
	if name == s.e.Ch.Name {
		return s.e.Ch
	}
	c, ok := s.e.PBX.Channels().Get(name)
	if !ok || c.Tenant() != s.e.Ch.Tenant() {
		return nil
	}
	return c
}

func cmdExec(s *session, argv []string) cmdResult {
	if len(argv) < 2 {
		return resultShowUsage
	}
	app := argv[1]
	data := argAt(argv, 2)
	if !s.e.PBX.HasApp(app) {
		s.log.Warn("EXEC: could not find application", "app", app)
		s.reply("-2")
		return resultSuccess
	}
	if v, ok := s.e.Ch.GetVar("AGIEXECFULL"); ok && isTrue(v) {
		data = dialplan.Substitute(data, s.e)
	}
	if strings.EqualFold(app, "Hangup") {
		// Asterisk's Hangup application soft-hangs the channel up and
		// returns -1; the BYE goes out after the script, as for HANGUP.
		if c := strings.TrimSpace(data); c != "" {
			if n, ok := q850.Parse(c); ok {
				s.e.Ch.SetHangupCause(n)
			}
		}
		s.e.Ch.SetApp(app, data)
		s.hangupSoftly()
		s.reply("-1")
		return resultSuccess
	}
	res := 0
	if err := s.e.Run(app, data); err != nil {
		res = -1
	}
	s.replyInt(res)
	// handle_exec returns the application's result as its own, which is
	// neither RESULT_FAILURE nor a usage error: the session goes on.
	return resultSuccess
}

func cmdSetCallerID(s *session, argv []string) cmdResult {
	if len(argv) > 2 {
		name, num := parseCallerID(argv[2])
		s.e.Ch.SetCallerID(num, name)
	}
	s.reply("1")
	return resultSuccess
}

// parseCallerID is ast_callerid_parse followed by ast_shrink_phone_number:
// `"Name" <number>`, or a bare number, or a bare name.
func parseCallerID(v string) (name, num string) {
	v = strings.TrimSpace(v)
	if strings.Contains(v, "<") {
		name, num = pbx.SplitCallerID(v)
	} else if isPhoneNumber(v) {
		num = v
	} else {
		name = strings.Trim(v, `"`)
	}
	return name, shrinkNumber(num)
}

func isPhoneNumber(v string) bool {
	if v == "" {
		return false
	}
	for _, c := range v {
		if !strings.ContainsRune("0123456789#*+-.() ", c) {
			return false
		}
	}
	return true
}

// shrinkNumber drops the separators ast_shrink_phone_number drops.
func shrinkNumber(n string) string {
	return strings.Map(func(r rune) rune {
		switch r {
		case ' ', '-', '(', ')', '.':
			return -1
		}
		return r
	}, n)
}

func cmdChannelStatus(s *session, argv []string) cmdResult {
	switch len(argv) {
	case 2:
		s.replyInt(int(s.e.Ch.State()))
		return resultSuccess
	case 3:
		if c := s.findChannel(argv[2]); c != nil {
			s.replyInt(int(c.State()))
			return resultSuccess
		}
		s.reply("-1")
		return resultSuccess
	}
	return resultShowUsage
}

func cmdSetVariable(s *session, argv []string) cmdResult {
	if len(argv) != 4 {
		return resultShowUsage
	}
	name := argv[2]
	if i := strings.IndexByte(name, '('); i > 0 && strings.HasSuffix(name, ")") {
		// pbx_builtin_setvar_helper writes functions: SET VARIABLE CALLERID(name) x.
		if err := s.e.SetFunction(name[:i], name[i+1:len(name)-1], argv[3]); err != nil {
			s.log.Warn("SET VARIABLE: function write failed", "function", name, "err", err)
		}
	} else {
		s.e.Ch.SetVar(name, argv[3])
	}
	s.reply("1")
	return resultSuccess
}

func cmdGetVariable(s *session, argv []string) cmdResult {
	if len(argv) != 3 {
		return resultShowUsage
	}
	name := argv[2]
	if strings.HasSuffix(name, ")") {
		if i := strings.IndexByte(name, '('); i > 0 {
			v, err := dialplan.CallFunction(name[:i], name[i+1:len(name)-1], s.e)
			if err != nil {
				s.reply("0")
				return resultSuccess
			}
			s.reply("1", "("+v+")")
			return resultSuccess
		}
		s.reply("0")
		return resultSuccess
	}
	v, ok := s.e.GetVar(name)
	if !ok {
		s.reply("0")
		return resultSuccess
	}
	s.reply("1", "("+v+")")
	return resultSuccess
}

// channelEnv expands variables of another channel (GET FULL VARIABLE with
// a channel name): its variables only, as no dialplan runs for it here.
type channelEnv struct{ ch *channel.Channel }

func (c channelEnv) GetVar(name string) (string, bool) {
	switch name {
	case "CHANNEL":
		return c.ch.Name, true
	case "UNIQUEID":
		return c.ch.UniqueID, true
	}
	return c.ch.GetVar(name)
}

func (c channelEnv) CallFunction(name, _ string) (string, error) {
	return "", dialplan.ErrNoFunction
}

func cmdGetFullVariable(s *session, argv []string) cmdResult {
	if len(argv) != 4 && len(argv) != 5 {
		return resultShowUsage
	}
	var env dialplan.Env = s.e
	if len(argv) == 5 {
		c := s.findChannel(argv[4])
		if c == nil {
			s.reply("0")
			return resultSuccess
		}
		if c != s.e.Ch {
			env = channelEnv{c}
		}
	}
	s.reply("1", "("+dialplan.Substitute(argv[3], env)+")")
	return resultSuccess
}

func cmdVerbose(s *session, argv []string) cmdResult {
	if len(argv) < 2 {
		return resultShowUsage
	}
	level := 0
	if len(argv) > 2 {
		level = atoi(argv[2])
	}
	// ast_verb(level, "<AGI data>: message"): the verbose levels above 2
	// are debugging detail.
	_, data := s.e.Ch.LastApp()
	if level <= 2 {
		s.log.Info(data+": "+argv[1], "agi_verbose_level", level)
	} else {
		s.log.Debug(data+": "+argv[1], "agi_verbose_level", level)
	}
	s.reply("1")
	return resultSuccess
}

func (s *session) dbContext() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), 10*time.Second)
}

func cmdDBGet(s *session, argv []string) cmdResult {
	if len(argv) != 4 {
		return resultShowUsage
	}
	if s.a.opts.DB == nil {
		s.reply("0")
		return resultSuccess
	}
	ctx, cancel := s.dbContext()
	defer cancel()
	v, ok, err := s.a.opts.DB.Get(ctx, s.e.Ch.Tenant(), argv[2], argv[3])
	if err != nil {
		s.log.Warn("DATABASE GET failed", "err", err)
	}
	if !ok {
		s.reply("0")
		return resultSuccess
	}
	s.reply("1", "("+v+")")
	return resultSuccess
}

func boolResult(ok bool) string {
	if ok {
		return "1"
	}
	return "0"
}

func cmdDBPut(s *session, argv []string) cmdResult {
	if len(argv) != 5 {
		return resultShowUsage
	}
	ok := false
	if s.a.opts.DB != nil {
		ctx, cancel := s.dbContext()
		defer cancel()
		err := s.a.opts.DB.Put(ctx, s.e.Ch.Tenant(), argv[2], argv[3], argv[4])
		if err != nil {
			s.log.Warn("DATABASE PUT failed", "err", err)
		}
		ok = err == nil
	}
	s.reply(boolResult(ok))
	return resultSuccess
}

func cmdDBDel(s *session, argv []string) cmdResult {
	if len(argv) != 4 {
		return resultShowUsage
	}
	ok := false
	if s.a.opts.DB != nil {
		ctx, cancel := s.dbContext()
		defer cancel()
		found, err := s.a.opts.DB.Del(ctx, s.e.Ch.Tenant(), argv[2], argv[3])
		if err != nil {
			s.log.Warn("DATABASE DEL failed", "err", err)
		}
		ok = found
	}
	s.reply(boolResult(ok))
	return resultSuccess
}

func cmdDBDelTree(s *session, argv []string) cmdResult {
	if len(argv) < 3 || len(argv) > 4 {
		return resultShowUsage
	}
	var n int64
	if s.a.opts.DB != nil {
		ctx, cancel := s.dbContext()
		defer cancel()
		var err error
		n, err = s.a.opts.DB.DelTree(ctx, s.e.Ch.Tenant(), argv[2], argAt(argv, 3))
		if err != nil {
			s.log.Warn("DATABASE DELTREE failed", "err", err)
			n = 0
		}
	}
	// handle_dbdeltree's inverted result: 0 when entries were deleted, 1
	// when none were (every Asterisk version from 11 to 22 does this).
	s.reply(boolResult(n <= 0))
	return resultSuccess
}

func cmdNoop(s *session, _ []string) cmdResult {
	s.write(noopReply)
	return resultSuccess
}

var noopReply = []byte("200 result=0\n")

func cmdSetMusic(s *session, argv []string) cmdResult {
	if len(argv) < 3 {
		return resultShowUsage
	}
	// entVoice has no music-on-hold source yet: the command is accepted
	// as ast_moh_start failing quietly is (res_agi.c ignores its result).
	s.log.Debug("SET MUSIC: no music on hold configured", "mode", argv[2], "class", argAt(argv, 3))
	s.reply("0")
	return resultSuccess
}

// cmdGosub is app_stack.c's handle_gosub: "100 result=0 Trying..." once
// the routine starts, then "200 result=0 Gosub complete" when it returns.
func cmdGosub(s *session, argv []string) cmdResult {
	if len(argv) < 4 || len(argv) > 5 {
		return resultShowUsage
	}
	ctx, exten := argv[1], argv[2]
	plan := s.e.PBX.Dialplan()
	pri, ok := scanInt(argv[3])
	if !ok || pri < 1 {
		n, found := 0, false
		if plan != nil {
			n, found = plan.FindLabel(ctx, exten, argv[3])
		}
		if !found {
			s.log.Error("GOSUB: priority not found", "priority", argv[3], "context", ctx, "exten", exten)
			s.reply("-1", "Gosub label not found")
			return resultFailure
		}
		pri = n
	} else if plan == nil || !plan.Exists(ctx, exten, pri) {
		s.reply("-1", "Gosub label not found")
		return resultFailure
	}
	var args []string
	if len(argv) == 5 {
		args = dialplan.SplitArgs(argv[4])
	}
	s.write([]byte("100 result=0 Trying...\n"))
	if s.e.RunSubroutine(ctx, exten, pri, args) {
		s.reply("0", "Gosub complete")
	} else {
		s.reply("0", "Gosub complete (abnormal exit)")
	}
	return resultSuccess
}
