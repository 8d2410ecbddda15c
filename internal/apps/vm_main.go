package apps

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/entvoice/entvoice/internal/events"
	"github.com/entvoice/entvoice/internal/prompts"
	"github.com/entvoice/entvoice/internal/voicemail"
)

// Timeouts of the voicemail menus (app_voicemail.c).
const (
	vmMenuWait    = 6 * time.Second  // ast_waitfordigit after instructions
	vmFirstDigit  = 10 * time.Second // ast_readstring ftimeout
	vmNextDigit   = 2 * time.Second  // ast_readstring timeout
	vmFolderPause = 500 * time.Millisecond
)

// vmTimeout is the command of a menu that timed out or was left (Asterisk's
// 't'): it ends the current menu.
const vmTimeout = 't'

// vmMain is one VoiceMailMain session on an authenticated mailbox: Asterisk's
// vm_execmain main menu and the functions it calls (vm_intro,
// vm_instructions, play_message, get_folder, vm_options, forward_message),
// over a vmIO so that it runs the same on a channel and in its unit tests.
type vmMain struct {
	io  vmIO
	vm  Voicemail
	ctx context.Context
	m   *voicemail.Mailbox
	// snapshot is the channel, for the MessageWaiting events of changes.
	snapshot func() *events.Snapshot
	// lookup finds another mailbox of the caller's tenant (forwarding).
	lookup func(context, number string) (*voicemail.Mailbox, bool)
	// leave records a message for other mailboxes (advanced option 5).
	leave func(to []*voicemail.Mailbox) error
	// nodelete is the r option: messages cannot be deleted.
	nodelete bool

	// The open folder: its messages as listed when it was opened; a
	// message saved to another folder stays in the list (deleted).
	box      string
	msgs     []*voicemail.Message
	deleted  map[string]bool
	heard    map[string]bool
	curmsg   int
	starting bool
	repeats  int
	inUrgent bool
	// Counts said by the intro, kept up to date by delete and undelete.
	newMsgs, oldMsgs, urgentMsgs int
	playFolder                   int
}

func (v *vmMain) lastmsg() int { return len(v.msgs) - 1 }

func (v *vmMain) lang() string { return strings.ToLower(v.io.language()) }

func (v *vmMain) is(lang string) bool { return strings.HasPrefix(v.lang(), lang) }

func (v *vmMain) snap() *events.Snapshot {
	if v.snapshot == nil {
		return nil
	}
	return v.snapshot()
}

// pw plays prompts, any digit interrupting (ast_play_and_wait).
func (v *vmMain) pw(names ...string) (rune, error) { return v.io.play(allDigits, names...) }

// ask plays a menu's prompts (any digit interrupts) and waits for a digit;
// a round without one counts in *rounds, and past max rounds it gives
// vmTimeout (app_voicemail's "if (!cmd) retries++; if (retries > 3) cmd = 't'").
func ask(io vmIO, rounds *int, max int, prompts ...string) (rune, error) {
	c, err := io.play(allDigits, prompts...)
	if err == nil && c == 0 {
		c, err = io.waitDigit(vmMenuWait)
	}
	if err == nil && c == 0 {
		if *rounds++; *rounds > max {
			c = vmTimeout
		}
	}
	return c, err
}

// number is the sounds that say n in the caller's language (say_and_wait).
func (v *vmMain) number(n int) []string {
	files, err := prompts.SayNumber(int64(n), v.io.language(), "")
	if err != nil {
		return []string{"digits/" + strconv.Itoa(n)}
	}
	return files
}

func (v *vmMain) boxPrompt(box string) string { return "vm-" + box }

// open opens a folder, after closing the one open (close_mailbox then
// open_mailbox).
func (v *vmMain) open(box string) error {
	if err := v.close(); err != nil {
		return err
	}
	msgs, err := v.vm.Messages(v.m, box)
	if err != nil {
		return err
	}
	v.box, v.msgs, v.curmsg = box, msgs, 0
	v.deleted, v.heard = map[string]bool{}, map[string]bool{}
	return nil
}

// close applies the open folder's deletions and moves heard messages to
// Old (close_mailbox).
func (v *vmMain) close() error {
	if v.box == "" {
		return nil
	}
	box := v.box
	v.box = ""
	if len(v.msgs) == 0 {
		return nil
	}
	return v.vm.CloseFolder(v.ctx, v.m, box, v.deleted, v.heard, v.snap())
}

// count is the number of messages of a folder, from disk.
func (v *vmMain) count(box string) int {
	msgs, err := v.vm.Messages(v.m, box)
	if err != nil {
		return 0
	}
	return len(msgs)
}

// run is vm_execmain after authentication: it returns when the caller
// leaves (#, or a timeout: nil) or hangs up (channel.ErrHangup).
// autoplay is the a option's folder (-1 without it).
func (v *vmMain) run(autoplay int) error {
	defer func() { _ = v.close() }()
	v.oldMsgs = v.count(voicemail.Old)
	v.newMsgs = v.count(voicemail.Inbox)
	v.urgentMsgs = v.count(voicemail.Urgent)
	// Start in Urgent when there are urgent messages, else INBOX, else Old.
	start := voicemail.Urgent
	v.inUrgent = true
	switch {
	case autoplay >= 0 && v.urgentMsgs == 0:
		start, v.inUrgent, v.playFolder = voicemail.Folders[autoplay], false, autoplay
	case autoplay < 0 && v.newMsgs == 0 && v.urgentMsgs == 0 && v.oldMsgs > 0:
		start, v.inUrgent, v.playFolder = voicemail.Old, false, 1
	case v.urgentMsgs == 0:
		start, v.inUrgent = voicemail.Inbox, false
	}
	if err := v.open(start); err != nil {
		return err
	}
	var cmd rune
	var err error
	if autoplay >= 0 && len(v.msgs) == 0 {
		_, err = v.browse()
		return v.goodbye(err)
	}
	if v.isNewUser() {
		if cmd, err = v.pw("vm-newuser"); err == nil {
			cmd, err = v.newUserSetup()
		}
		if err != nil || cmd == vmTimeout || cmd == '#' {
			return v.goodbye(err)
		}
	}
	if autoplay >= 0 {
		cmd = '1'
	} else if cmd, err = v.intro(); err != nil {
		return err
	}
	v.repeats, v.starting = 0, true
	for err == nil && cmd != vmTimeout && cmd != '#' {
		cmd, err = v.command(cmd)
	}
	return v.goodbye(err)
}

// goodbye ends a session that was not hung up with vm-goodbye.
func (v *vmMain) goodbye(err error) error {
	if err != nil {
		return err
	}
	_, err = v.io.play("", "vm-goodbye")
	return err
}

// isNewUser: the PIN is still the mailbox number and the mailbox must
// record its name or greetings first (vm_execmain).
func (v *vmMain) isNewUser() bool {
	o := v.m.Options
	return (o.ForceName || o.ForceGreetings) && v.vm.CheckPIN(v.m, v.m.Number)
}

// command runs one main-menu command and returns the next.
func (v *vmMain) command(cmd rune) (rune, error) {
	switch cmd {
	case '1': // first message
		v.curmsg = 0
		return v.browse()
	case '5': // repeat the current message
		return v.browse()
	case '2': // change folder
		c, err := v.getFolder2("vm-changeto", 0)
		if err != nil {
			return 0, err
		}
		if c == '#' {
			c = 0
		} else if c > 0 {
			n := int(c - '0')
			if n != 11 {
				v.inUrgent = false
			}
			if err := v.open(voicemail.Folders[n]); err != nil {
				return 0, err
			}
			v.playFolder, c = n, 0
		}
		if c == 0 {
			c, err = v.folderName(v.boxPrompt(v.box))
		}
		v.starting, v.curmsg = true, 0
		return c, err
	case '3': // advanced options
		return v.advanced()
	case '4': // previous message
		if v.curmsg > 0 {
			v.curmsg--
			return v.playMessage()
		}
		if !v.inUrgent && v.urgentMsgs > 0 {
			v.inUrgent = true
			if err := v.open(voicemail.Urgent); err != nil {
				return 0, err
			}
			v.curmsg = v.lastmsg()
			if v.lastmsg() < 0 {
				return v.pw("vm-nomore")
			}
			return 0, nil
		}
		if v.m.Options.MessageWrap && v.lastmsg() > 0 {
			v.curmsg = v.lastmsg()
			return v.playMessage()
		}
		return v.pw("vm-nomore")
	case '6': // next message
		if v.curmsg < v.lastmsg() {
			v.curmsg++
			return v.playMessage()
		}
		return v.afterLast(false)
	case '7': // delete or undelete the current message
		if v.nodelete || v.curmsg < 0 || v.curmsg > v.lastmsg() {
			return 0, nil
		}
		id := v.msgs[v.curmsg].ID
		v.deleted[id] = !v.deleted[id]
		delta := -1
		prompt := "vm-deleted"
		if !v.deleted[id] {
			delta, prompt = 1, "vm-undeleted"
		}
		v.adjustCounts(delta)
		c, err := v.pw(prompt)
		if err != nil || !v.m.Options.NextAfterCmd {
			return c, err
		}
		return v.next()
	case '8': // forward the current message
		if v.lastmsg() < 0 {
			return v.afterLast(true)
		}
		return v.forward()
	case '9': // save the current message to a folder
		if v.curmsg < 0 || v.curmsg > v.lastmsg() {
			return 0, nil
		}
		return v.saveToFolder()
	case '*': // help
		if !v.starting {
			c, err := v.pw("vm-onefor")
			if c == 0 && err == nil {
				c, err = v.folderName(v.boxPrompt(v.box))
			}
			if c == 0 && err == nil {
				c, err = v.pw("vm-opts")
			}
			if c == 0 && err == nil {
				c, err = v.instructions(true)
			}
			return c, err
		}
		return 0, nil
	case '0': // mailbox options
		c, err := v.options()
		if err != nil {
			return 0, err
		}
		if err := v.open(voicemail.Folders[v.playFolderIndex()]); err != nil {
			return 0, err
		}
		v.starting = true
		return c, nil
	}
	return v.instructions(false)
}

// playFolderIndex is the folder to reopen after the options menu.
func (v *vmMain) playFolderIndex() int {
	if v.inUrgent {
		return 11
	}
	return v.playFolder
}

// adjustCounts follows a delete (-1) or undelete (+1) in the counts.
func (v *vmMain) adjustCounts(delta int) {
	switch {
	case v.box == voicemail.Urgent:
		v.urgentMsgs += delta
	case v.box == voicemail.Inbox:
		v.newMsgs += delta
	case v.box == voicemail.Old:
		v.oldMsgs += delta
	}
}

// next plays the message after a delete or save when nextaftercmd is on.
func (v *vmMain) next() (rune, error) {
	if v.curmsg < v.lastmsg() {
		v.curmsg++
		return v.playMessage()
	}
	if v.m.Options.MessageWrap && v.lastmsg() > 0 {
		v.curmsg = 0
		return v.playMessage()
	}
	return v.afterLast(false)
}

// afterLast: past the last urgent message the new ones follow; past the
// last one, "no more messages".
func (v *vmMain) afterLast(always bool) (rune, error) {
	if v.inUrgent && v.newMsgs > 0 {
		v.inUrgent = false
		if err := v.open(voicemail.Inbox); err != nil {
			return 0, err
		}
		v.curmsg = -1
		if v.lastmsg() < 0 {
			return v.pw("vm-nomore")
		}
		if always {
			return 0, nil
		}
		v.curmsg = 0
		return v.playMessage()
	}
	if !always && v.m.Options.MessageWrap && v.lastmsg() > 0 {
		v.curmsg = 0
		return v.playMessage()
	}
	return v.pw("vm-nomore")
}

// intro says how many messages there are (vm_intro and its languages).
func (v *vmMain) intro() (rune, error) {
	if v.m.Options.TempGreetWarn {
		if _, ok := v.vm.Greeting(v.m, voicemail.GreetTemp); ok {
			if c, err := v.pw("vm-tempgreetactive"); err != nil || c != 0 {
				return c, err
			}
		}
	}
	return v.pw(v.introPrompts()...)
}

func (v *vmMain) introPrompts() []string {
	msg := func(n int) string {
		if n == 1 {
			return "vm-message"
		}
		return "vm-messages"
	}
	var p []string
	add := func(s ...string) { p = append(p, s...) }
	u, n, o := v.urgentMsgs, v.newMsgs, v.oldMsgs
	switch {
	case v.is("es"):
		if u == 0 && n == 0 && o == 0 {
			return []string{"vm-youhaveno", "vm-messages"}
		}
		add("vm-youhave")
		one := func(k int, one, many string) {
			if k == 1 {
				add("digits/1M", "vm-message", one)
			} else {
				add(v.number(k)...)
				add("vm-messages", many)
			}
		}
		if n > 0 {
			one(n, "vm-INBOXs", "vm-INBOX")
			if o > 0 {
				add("vm-and")
			}
		}
		if o > 0 {
			one(o, "vm-Olds", "vm-Old")
		}
	case v.is("it"):
		if u == 0 && n == 0 && o == 0 {
			return []string{"vm-no", "vm-message"}
		}
		add("vm-youhave")
		if n > 0 {
			if n == 1 {
				add("digits/un", "vm-nuovo", "vm-message")
			} else {
				add(v.number(n)...)
				add("vm-nuovi", "vm-messages")
			}
			if o > 0 {
				add("vm-and")
			}
		}
		if o > 0 {
			if o == 1 {
				add("digits/un", "vm-vecchio", "vm-message")
			} else {
				add(v.number(o)...)
				add("vm-vecchi", "vm-messages")
			}
		}
	default: // English syntax, which French follows but for urgent messages
		add("vm-youhave")
		if u > 0 && !v.is("fr") {
			add(v.number(u)...)
			add("vm-Urgent")
			if o > 0 || n > 0 {
				add("vm-and")
			} else {
				add(msg(u))
			}
		}
		if n > 0 {
			add(v.number(n)...)
			add("vm-INBOX")
			if o > 0 {
				add("vm-and")
			} else {
				add(msg(n))
			}
		}
		if o > 0 {
			add(v.number(o)...)
			add("vm-Old", msg(o))
		}
		if u == 0 && n == 0 && o == 0 {
			add("vm-no", "vm-messages")
		}
	}
	return p
}

// folderName says a folder's name (vm_play_folder_name): "messages"
// goes first in Italian, Spanish and Portuguese.
func (v *vmMain) folderName(box string) (rune, error) {
	if v.is("it") || v.is("es") || v.is("pt") {
		return v.pw("vm-messages", box)
	}
	return v.pw(box, "vm-messages")
}

// browse plays the current message, or says the folder is empty
// (vm_browse_messages).
func (v *vmMain) browse() (rune, error) {
	if v.lastmsg() >= 0 {
		return v.playMessage()
	}
	box := v.boxPrompt(v.box)
	switch {
	case v.is("es"):
		return v.pw("vm-youhaveno", "vm-messages", box)
	case v.is("it"):
		return v.pw("vm-no", "vm-message", box)
	}
	return v.pw("vm-youhave", "vm-no", box, "vm-messages")
}

// playMessage plays the current message with its envelope (play_message).
func (v *vmMain) playMessage() (rune, error) {
	v.starting = false
	if v.curmsg < 0 || v.curmsg > v.lastmsg() {
		return 0, nil
	}
	msg := v.msgs[v.curmsg]
	var p []string
	switch {
	case v.curmsg == 0:
		p = append(p, "vm-first")
	case v.curmsg == v.lastmsg():
		p = append(p, "vm-last")
	}
	if msg.Flag == "Urgent" {
		p = append(p, "vm-Urgent")
	}
	p = append(p, "vm-message")
	if v.curmsg > 0 && v.curmsg != v.lastmsg() {
		p = append(p, v.number(v.curmsg+1)...)
	}
	c, err := v.pw(p...)
	if err != nil || c != 0 {
		return c, err
	}
	if msg.Category != "" {
		// The category names a sound file (play_message_category).
		if c, err = v.pw(msg.Category); err != nil || c != 0 {
			return c, err
		}
	}
	env := v.envelope(msg)
	if c, err = v.pw(env...); err != nil {
		return 0, err
	}
	// 1 skips the envelope to the message itself.
	if c != 0 && c != '1' {
		return c, nil
	}
	v.heard[msg.ID] = true
	return v.io.playMessage(msg.Path, time.Duration(v.m.Options.SkipMS)*time.Millisecond)
}

// envelope is what is said before a message: when (envelope=yes), from
// whom (saycid=yes) and how long (sayduration=yes, saydurationm minutes or
// more), as play_message_datetime, _callerid and _duration say them.
func (v *vmMain) envelope(msg *voicemail.Message) []string {
	o := v.m.Options
	var p []string
	if o.Envelope && !msg.OrigTime.IsZero() {
		p = append(p, v.datetime(msg.OrigTime)...)
	}
	if o.SayCID {
		p = append(p, v.callerID(msg)...)
	}
	if o.SayDuration && o.SayDurationM >= 0 {
		if mins := msg.Duration / 60; mins >= o.SayDurationM && msg.Duration > 0 {
			p = append(p, "vm-duration")
			p = append(p, v.number(mins)...)
			p = append(p, "vm-minutes")
		}
	}
	return p
}

// datetime says when a message arrived in the mailbox's zone or the
// language's format (play_message_datetime).
func (v *vmMain) datetime(t time.Time) []string {
	format := "'vm-received' q 'digits/at' IMp"
	switch {
	case v.is("de"):
		format = "'vm-received' Q 'digits/at' HM"
	case v.is("it"):
		format = "'vm-received' q 'digits/at' 'digits/hours' k 'digits/e' M 'digits/minutes'"
	case v.is("pt_br"):
		format = "'vm-received' Ad 'digits/pt-de' B 'digits/pt-de' Y 'digits/pt-as' HM "
	}
	t = t.Local()
	if z, ok := v.vm.Config().Zones[v.m.Options.TZ]; ok && v.m.Options.TZ != "" {
		format, t = z.Format, t.In(z.Location)
	}
	files, err := prompts.SayDateWithFormat(t, v.io.language(), format)
	if err != nil {
		return nil
	}
	return files
}

// callerID says who left a message (play_message_callerid): from an
// internal context its extension (or the recorded name of that mailbox),
// else "from phone number", or "an unknown caller".
func (v *vmMain) callerID(msg *voicemail.Message) []string {
	num, _ := voicemail.SplitCallerID(msg.CallerID)
	if num == "" {
		return []string{"vm-unknown-caller"}
	}
	for _, c := range v.vm.Config().CIDInternalContexts {
		if c != msg.Context {
			continue
		}
		if mb, ok := v.lookup(v.m.Context, num); ok {
			if g, ok := v.vm.Greeting(mb, voicemail.GreetName); ok {
				return []string{"vm-from", g}
			}
		}
		return append([]string{"vm-from-extension"}, prompts.SayDigits(num, v.io.language())...)
	}
	return append([]string{"vm-from-phonenumber"}, prompts.SayDigits(num, v.io.language())...)
}

// instructions says the main menu and waits for a choice
// (vm_instructions_en); three silent rounds end the session.
func (v *vmMain) instructions(skipAdvanced bool) (rune, error) {
	for {
		var p []string
		if v.starting {
			if v.lastmsg() >= 0 {
				p = append(p, pick(skipAdvanced, "vm-onefor-full", "vm-onefor"), v.boxPrompt(v.box))
			}
			p = append(p, pick(skipAdvanced, "vm-opts-full", "vm-opts"))
		} else {
			if skipAdvanced {
				p = append(p, "vm-onefor-full", v.boxPrompt(v.box), "vm-opts-full")
			}
			if v.curmsg > 0 || (!v.inUrgent && v.urgentMsgs > 0) || (v.m.Options.MessageWrap && v.lastmsg() > 0) {
				p = append(p, "vm-prev")
			}
			if !skipAdvanced {
				p = append(p, "vm-advopts")
			}
			p = append(p, "vm-repeat")
			if v.curmsg != v.lastmsg() || (v.inUrgent && v.newMsgs > 0) || (v.m.Options.MessageWrap && v.lastmsg() > 0) {
				p = append(p, "vm-next")
			}
			if !v.nodelete && v.curmsg >= 0 && v.curmsg <= v.lastmsg() {
				p = append(p, pick(v.deleted[v.msgs[v.curmsg].ID], "vm-undelete", "vm-delete"))
			}
			p = append(p, "vm-toforward", "vm-savemessage")
		}
		p = append(p, "vm-helpexit")
		c, err := v.pw(p...)
		if err == nil && c == 0 {
			c, err = v.io.waitDigit(vmMenuWait)
		}
		if err != nil || c != 0 {
			return c, err
		}
		if v.repeats++; v.repeats > 2 {
			return vmTimeout, nil
		}
	}
}

func pick(cond bool, yes, no string) string {
	if cond {
		return yes
	}
	return no
}

// getFolder says "press 0 for new messages, 1 for old ..." and returns the
// digit pressed (get_folder).
func (v *vmMain) getFolder() (rune, error) {
	if c, err := v.pw("vm-press"); err != nil || c != 0 {
		return c, err
	}
	for x := 0; x < 5; x++ {
		if c, err := v.pw(v.number(x)...); err != nil || c != 0 {
			return c, err
		}
		if c, err := v.pw("vm-for"); err != nil || c != 0 {
			return c, err
		}
		if c, err := v.folderName(v.boxPrompt(voicemail.Folders[x])); err != nil || c != 0 {
			return c, err
		}
		if c, err := v.io.waitDigit(vmFolderPause); err != nil || c != 0 {
			return c, err
		}
	}
	if c, err := v.pw("vm-tocancel"); err != nil || c != 0 {
		return c, err
	}
	return v.io.waitDigit(4 * time.Second)
}

// getFolder2 asks for a folder with prompt until a digit 0-9 or #; four
// rounds without one give '#' (get_folder2).
func (v *vmMain) getFolder2(prompt string, _ int) (rune, error) {
	c, err := v.pw(prompt)
	for loops := 0; err == nil && (c < '0' || c > '9') && c != '#'; loops++ {
		if loops == 4 {
			return '#', nil
		}
		c, err = v.getFolder()
	}
	return c, err
}

// saveToFolder is 9: the message moves to the chosen folder at once and
// is gone from this one (save_to_folder).
func (v *vmMain) saveToFolder() (rune, error) {
	c, err := v.getFolder2("vm-savefolder", 1)
	if err != nil || c == '#' {
		return 0, err
	}
	box := int(c - '0')
	msg := v.msgs[v.curmsg]
	full := false
	if box == v.folderIndex() {
		// Saving to the folder it is in changes nothing.
	} else if _, err := v.vm.Move(v.ctx, v.m, v.box, msg.ID, voicemail.Folders[box], v.snap()); errors.Is(err, voicemail.ErrFull) {
		full = true
	} else if err != nil {
		return 0, err
	} else {
		v.deleted[msg.ID] = true
		v.adjustCounts(-1)
	}
	if full {
		c, err = v.pw("vm-mailboxfull")
	} else {
		p := append([]string{"vm-message"}, v.number(v.curmsg+1)...)
		p = append(p, "vm-savedto")
		if c, err = v.pw(p...); err == nil && c == 0 {
			c, err = v.folderName(v.boxPrompt(voicemail.Folders[box]))
		}
	}
	if err != nil || !v.m.Options.NextAfterCmd {
		return c, err
	}
	return v.next()
}

func (v *vmMain) folderIndex() int {
	_, n, _ := voicemail.FolderByName(v.box)
	return n
}

// forward is 8: ask for mailboxes (several separated by *), then forward
// (forward_message with vm_forwardoptions).
func (v *vmMain) forward() (rune, error) {
	msg := v.msgs[v.curmsg]
	for tries := 0; tries < 4; tries++ {
		entered, err := v.io.readString(80, vmFirstDigit, vmNextDigit, "#", "vm-extension")
		if err != nil {
			return 0, err
		}
		if entered == "" {
			continue
		}
		var to []*voicemail.Mailbox
		valid := true
		var said []string
		for num := range strings.SplitSeq(entered, "*") {
			if num == "" {
				continue
			}
			mb, ok := v.lookup(v.m.Context, num)
			if !ok || (mb.Number == v.m.Number && mb.Context == v.m.Context) {
				valid = false
				break
			}
			if full, err := v.vm.Full(mb, voicemail.Inbox); err == nil && full {
				if c, err := v.pw("vm-mailboxfull"); err != nil || c != 0 {
					return c, err
				}
				valid = false
				break
			}
			to = append(to, mb)
			if g, ok := v.vm.Greeting(mb, voicemail.GreetName); ok {
				said = append(said, g)
			} else {
				said = append(said, prompts.SayDigits(num, v.io.language())...)
			}
		}
		if !valid || len(to) == 0 {
			if c, err := v.pw("pbx-invalid"); err != nil || c != 0 {
				return c, err
			}
			continue
		}
		if _, err := v.io.play("#", said...); err != nil {
			return 0, err
		}
		c, err := v.forwardOptions()
		if err != nil || c != 0 {
			if c == vmTimeout || c == '*' {
				c = 0
			}
			return c, err
		}
		if err := v.vm.Forward(v.ctx, v.m, v.box, msg.ID, to, v.snap()); err != nil {
			if errors.Is(err, voicemail.ErrFull) {
				return v.pw("vm-mailboxfull")
			}
			return 0, err
		}
		return v.pw("vm-msgforwarded")
	}
	return 0, nil
}

// forwardOptions is vm_forwardoptions: 1 would record an introduction
// (not offered: the message is forwarded as it is), 2 forwards, * cancels.
func (v *vmMain) forwardOptions() (rune, error) {
	retries := 0
	for {
		c, err := ask(v.io, &retries, 3, "vm-forwardoptions", "vm-starmain")
		if err != nil {
			return 0, err
		}
		switch c {
		case vmTimeout:
			return '*', nil
		case '2':
			return 0, nil
		case '*':
			return '*', nil
		case '1':
			if _, err := v.pw("vm-sorry"); err != nil {
				return 0, err
			}
		}
	}
}

// advanced is the 3 menu: reply and callback need a dial-out this node
// does not configure, 3 says the envelope, 5 leaves a message (with
// sendvoicemail=yes), * returns.
func (v *vmMain) advanced() (rune, error) {
	cmd := rune(0)
	v.repeats = 0
	var err error
	for err == nil && cmd != vmTimeout && cmd != '#' {
		switch cmd {
		case '3': // envelope of the current message
			if v.lastmsg() >= 0 && !v.starting {
				msg := v.msgs[v.curmsg]
				p := v.datetime(msg.OrigTime)
				p = append(p, v.callerID(msg)...)
				_, err = v.pw(p...)
			} else {
				_, err = v.pw("vm-sorry")
			}
			cmd = vmTimeout
		case '5': // leave a message
			if v.m.Options.SendVoicemail && v.leave != nil {
				var to []*voicemail.Mailbox
				entered, rerr := v.io.readString(80, vmFirstDigit, vmNextDigit, "#", "vm-extension")
				if rerr != nil {
					return 0, rerr
				}
				for num := range strings.SplitSeq(entered, "*") {
					if mb, ok := v.lookup(v.m.Context, num); ok {
						to = append(to, mb)
					}
				}
				if len(to) == 0 {
					_, err = v.pw("pbx-invalid")
				} else {
					err = v.leave(to)
				}
			} else {
				_, err = v.pw("vm-sorry")
			}
			cmd = vmTimeout
		case '1', '2', '4':
			_, err = v.pw("vm-sorry")
			cmd = vmTimeout
		case '*':
			cmd = vmTimeout
		default:
			var p []string
			if !v.starting {
				p = append(p, "vm-toreply", "vm-tohearenv")
			}
			if v.m.Options.SendVoicemail {
				p = append(p, "vm-leavemsg")
			}
			p = append(p, "vm-starmain")
			cmd, err = ask(v.io, &v.repeats, 3, p...)
		}
	}
	v.repeats = 0
	return 0, err
}

// options is the 0 menu (vm_options): record the unavailable (1), busy (2)
// greetings and the name (3), the temporary greeting (4), change the PIN
// (5), back (*).
func (v *vmMain) options() (rune, error) {
	cmd, retries := rune(0), 0
	var err error
	for err == nil && cmd != vmTimeout {
		if cmd != 0 {
			retries = 0
		}
		switch cmd {
		case '1':
			cmd, err = v.recordGreeting(voicemail.GreetUnavail, "vm-rec-unv")
		case '2':
			cmd, err = v.recordGreeting(voicemail.GreetBusy, "vm-rec-busy")
		case '3':
			cmd, err = v.recordGreeting(voicemail.GreetName, "vm-rec-name")
		case '4':
			cmd, err = v.tempGreeting()
		case '5':
			if v.m.PINLocked {
				cmd, err = v.pw("vm-no")
				break
			}
			cmd, err = v.changePIN()
		case '*':
			cmd = vmTimeout
		default:
			p := []string{"vm-options"}
			if _, ok := v.vm.Greeting(v.m, voicemail.GreetTemp); ok {
				p = append([]string{"vm-tmpexists"}, p...)
			}
			cmd, err = ask(v.io, &retries, 3, p...)
		}
	}
	return 0, err
}

// changePIN is the options menu's 5: a new PIN, asked twice.
func (v *vmMain) changePIN() (rune, error) {
	ok, err := v.newPIN()
	if err != nil || !ok {
		return 0, err
	}
	return v.pw("vm-passchanged")
}

// newPIN asks for a new PIN and asks again to confirm it (vm_options 5,
// vm_newuser_setup); it reports whether the PIN was set, the caller having
// heard why not otherwise.
func (v *vmMain) newPIN() (bool, error) {
	first, err := v.io.readString(80, vmFirstDigit, vmNextDigit, "#", "vm-newpassword")
	if err != nil {
		return false, err
	}
	if voicemail.ValidPIN(first, v.vm.Config().MinPassword) != nil {
		_, err := v.pw("vm-invalid-password", "vm-pls-try-again")
		return false, err
	}
	second, err := v.io.readString(80, vmFirstDigit, vmNextDigit, "#", "vm-reenterpassword")
	if err != nil {
		return false, err
	}
	if first != second {
		_, err := v.pw("vm-mismatch", "vm-pls-try-again")
		return false, err
	}
	if err := v.vm.SetPIN(v.m, first); err != nil {
		_, err := v.pw("vm-invalid-password", "vm-pls-try-again")
		return false, err
	}
	return true, nil
}

// newUserSetup records the name and greetings a new user must record, then
// asks for a new PIN (vm_newuser_setup).
func (v *vmMain) newUserSetup() (rune, error) {
	o := v.m.Options
	if o.ForceName {
		if _, ok := v.vm.Greeting(v.m, voicemail.GreetName); !ok {
			if c, err := v.recordGreeting(voicemail.GreetName, "vm-rec-name"); err != nil || c == vmTimeout || c == '#' {
				return c, err
			}
		}
	}
	if o.ForceGreetings {
		for _, g := range [][2]string{{voicemail.GreetUnavail, "vm-rec-unv"}, {voicemail.GreetBusy, "vm-rec-busy"}} {
			if _, ok := v.vm.Greeting(v.m, g[0]); !ok {
				if c, err := v.recordGreeting(g[0], g[1]); err != nil || c == vmTimeout || c == '#' {
					return c, err
				}
			}
		}
	}
	for tries := 0; tries < 3; tries++ {
		ok, err := v.newPIN()
		if err != nil {
			return 0, err
		}
		if ok {
			return v.pw("vm-passchanged")
		}
	}
	return vmTimeout, nil
}

// tempGreeting is the 0 4 menu (vm_tempgreeting): record one when there is
// none; else 1 records again, 2 removes it, * returns.
func (v *vmMain) tempGreeting() (rune, error) {
	cmd, retries := rune(0), 0
	var err error
	for err == nil && cmd != vmTimeout {
		if cmd != 0 {
			retries = 0
		}
		if _, ok := v.vm.Greeting(v.m, voicemail.GreetTemp); !ok {
			_, err = v.recordGreeting(voicemail.GreetTemp, "vm-rec-temp")
			cmd = vmTimeout
			continue
		}
		switch cmd {
		case '1':
			cmd, err = v.recordGreeting(voicemail.GreetTemp, "vm-rec-temp")
		case '2':
			if err = v.vm.DeleteGreeting(v.m, voicemail.GreetTemp); err == nil {
				_, err = v.pw("vm-tempremoved")
			}
			cmd = vmTimeout
		case '*':
			cmd = vmTimeout
		default:
			cmd, err = ask(v.io, &retries, 3, "vm-tempgreeting2")
		}
	}
	return 0, err
}

// recordGreeting records a greeting and reviews it (play_record_review
// for the mailbox's owner): 1 keeps it, 2 plays it, 3 records again; a
// greeting never accepted is discarded.
func (v *vmMain) recordGreeting(which, prompt string) (rune, error) {
	o := v.m.Options
	spec := recordSpec{Prompt: prompt, MaxSecs: o.MaxGreet, MaxSilence: o.MaxSilence, Threshold: o.SilenceThreshold, Accept: "#"}
	var rec recording
	discard := func() {
		if rec.Path != "" {
			removeFile(rec.Path)
			rec.Path = ""
		}
	}
	cmd, attempts := rune('3'), 0
	for {
		switch cmd {
		case '1':
			if rec.Path == "" {
				cmd = '3'
				continue
			}
			if err := v.vm.SaveGreeting(v.m, which, rec.Path); err != nil {
				return 0, err
			}
			_, err := v.io.play("", "vm-msgsaved")
			return 0, err
		case '2':
			if rec.Path == "" {
				cmd = '3'
				continue
			}
			c, err := v.pw(strings.TrimSuffix(rec.Path, ".wav"))
			if err != nil {
				discard()
				return 0, err
			}
			cmd = c
		case '3':
			discard()
			var err error
			rec, err = v.io.record(v.m, spec)
			if err != nil {
				discard()
				return 0, err
			}
			if rec.End == recError {
				rec.Path = ""
				_, err := v.pw("beeperr", "vm-mailboxfull")
				return 0, err
			}
			cmd = 0
		default:
			if cmd != 0 {
				c, err := v.pw("vm-sorry")
				if err != nil {
					discard()
					return 0, err
				}
				cmd = c
				continue
			}
			c, err := ask(v.io, &attempts, 3, "vm-review")
			if err != nil || c == vmTimeout {
				// A greeting never accepted is discarded.
				discard()
				return c, err
			}
			cmd = c
		}
	}
}

// parseFolderOption is the a option's folder: a number or a name.
func parseFolderOption(s string) int {
	if s == "" {
		return 0
	}
	if n, err := strconv.Atoi(s); err == nil {
		if n >= 0 && n <= 9 {
			return n
		}
		return 0
	}
	if _, n, ok := voicemail.FolderByName(s); ok && n <= 9 {
		return n
	}
	return 0
}
