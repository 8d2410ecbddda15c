package apps

import (
	"context"
	"errors"
	"os"
	"strings"
	"time"

	"github.com/entvoice/entvoice/internal/channel"
	"github.com/entvoice/entvoice/internal/events"
	"github.com/entvoice/entvoice/internal/pbx"
	"github.com/entvoice/entvoice/internal/prompts"
	"github.com/entvoice/entvoice/internal/q850"
	"github.com/entvoice/entvoice/internal/tenancy"
	"github.com/entvoice/entvoice/internal/voicemail"
)

// Voicemail is the mailbox store VoiceMail and VoiceMailMain use
// (voicemail.Service): mailboxes, messages, greetings and PINs.
type Voicemail interface {
	Config() *voicemail.Config
	Lookup(tenant, context, number string) (*voicemail.Mailbox, bool)
	TempFile(m *voicemail.Mailbox, pattern string) (*os.File, error)
	Full(m *voicemail.Mailbox, folder string) (bool, error)
	Deposit(ctx context.Context, m *voicemail.Mailbox, wav string, info voicemail.Message, others []*voicemail.Mailbox, ch *events.Snapshot) (*voicemail.Message, error)
	Messages(m *voicemail.Mailbox, folder string) ([]*voicemail.Message, error)
	Move(ctx context.Context, m *voicemail.Mailbox, from, id, to string, ch *events.Snapshot) (*voicemail.Message, error)
	Forward(ctx context.Context, m *voicemail.Mailbox, folder, id string, to []*voicemail.Mailbox, ch *events.Snapshot) error
	CloseFolder(ctx context.Context, m *voicemail.Mailbox, folder string, deleted, heard map[string]bool, ch *events.Snapshot) error
	Touched(m *voicemail.Mailbox, ch *events.Snapshot)
	Greeting(m *voicemail.Mailbox, which string) (string, bool)
	SaveGreeting(m *voicemail.Mailbox, which, wav string) error
	DeleteGreeting(m *voicemail.Mailbox, which string) error
	NeedsPIN(m *voicemail.Mailbox) bool
	CheckPIN(m *voicemail.Mailbox, pin string) bool
	SetPIN(m *voicemail.Mailbox, pin string) error
}

// appOptions parses Asterisk application options: letters, some with a
// "(argument)" (ast_app_parse_options).
func appOptions(s string) map[byte]string {
	out := map[byte]string{}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '(' || c == ')' || c == ' ' {
			continue
		}
		arg := ""
		if i+1 < len(s) && s[i+1] == '(' {
			if j := strings.IndexByte(s[i+1:], ')'); j > 0 {
				arg = s[i+2 : i+1+j]
				i += 1 + j
			}
		}
		out[c] = arg
	}
	return out
}

func removeFile(path string) { _ = os.Remove(path) }

// vmServices checks that voicemail is configured and the caller may use
// it (the tenant's and the user's voicemail switch, tenancy.ServiceVoicemail).
func (ap *Apps) vmServices(e *pbx.Exec, app string) (Voicemail, bool) {
	if ap.svc.Voicemail == nil {
		e.Ch.Log().Warn(app + ": voicemail is not configured on this node")
		return nil, false
	}
	if !e.Ch.Allowed(tenancy.ServiceVoicemail) {
		e.Ch.Log().Warn(app+": voicemail is switched off for this tenant or user", "tenant", e.Ch.Tenant(), "endpoint", e.Ch.Endpoint)
		return nil, false
	}
	return ap.svc.Voicemail, true
}

// VoiceMail(mailbox[@context][&mailbox[@context]...][,options]) leaves a
// message (app_voicemail.c vm_exec, leave_voicemail). Options: b busy
// greeting, u unavailable greeting, s no instructions, S no instructions
// when a greeting played, U urgent, P priority, e greeting as early
// media, d([c]) a digit leaves to extension c, t([x]) beep x (none when
// empty), g(#) accepted and ignored. 0 leaves to the o extension when the
// mailbox has operator=yes, * to a. VMSTATUS is SUCCESS, USEREXIT or
// FAILED; VM_MESSAGEFILE names the message.
func (ap *Apps) VoiceMail(e *pbx.Exec, data string) error {
	status := func(s string) error {
		e.Ch.SetVar("VMSTATUS", s)
		return nil
	}
	vm, ok := ap.vmServices(e, "VoiceMail")
	if !ok {
		return status("FAILED")
	}
	a := args(data)
	opts := appOptions(arg(a, 1))
	io := &chanIO{ap: ap, e: e, vm: vm}
	boxes := arg(a, 0)
	if boxes == "" {
		if e.Ch.State() != channel.StateUp {
			if err := e.Ch.Answer(e.Ctx); err != nil {
				return channel.ErrHangup
			}
		}
		got, err := io.readString(80, responseTimeout, digitTimeout, "#", "vm-whichbox")
		if err != nil {
			return channel.ErrHangup
		}
		if boxes = got; boxes == "" {
			return nil
		}
	}
	var list []*voicemail.Mailbox
	for i, spec := range strings.Split(boxes, "&") {
		number, ctx := voicemail.ParseID(spec)
		m, ok := vm.Lookup(e.Ch.Tenant(), ctx, number)
		if !ok {
			if i == 0 {
				e.Ch.Log().Warn("VoiceMail: no such mailbox", "mailbox", number+"@"+ctx, "tenant", e.Ch.Tenant())
				return status("FAILED")
			}
			continue
		}
		list = append(list, m)
	}
	if e.Ch.State() != channel.StateUp {
		if _, early := opts['e']; early {
			_ = e.Ch.Indicate(channel.IndicateProgress)
		} else if err := e.Ch.Answer(e.Ctx); err != nil {
			return status("FAILED")
		}
	}
	m := list[0]
	lo := leaveOptions{busy: has(opts, 'b'), unavail: has(opts, 'u'), silent: has(opts, 's'), silentIfGreet: has(opts, 'S'), beep: "beep"}
	switch {
	case has(opts, 'U'):
		lo.flag = "Urgent"
	case has(opts, 'P'):
		lo.flag = "PRIORITY"
	}
	if t, ok := opts['t']; ok {
		lo.beep = t
	}
	// The digits that leave: 0 for the operator (o) and * (a) when those
	// extensions exist in the exit context, and with d any digit that can
	// start an extension of d's context.
	exitCtx := ap.exitContext(e, m.Options.ExitContext)
	plan := e.PBX.Dialplan()
	if m.Options.Operator && plan.Exists(exitCtx, "o", 1) {
		lo.exits += "0"
	}
	if plan.Exists(exitCtx, "a", 1) {
		lo.exits += "*"
	}
	dCtx := ""
	if c, ok := opts['d']; ok {
		dCtx = ap.exitContext(e, c)
		for _, d := range "0123456789ABCD*#" {
			if !strings.ContainsRune(lo.exits+"#", d) && (plan.Exists(dCtx, string(d), 1) || plan.MatchMore(dCtx, string(d))) {
				lo.digitExits += string(d)
			}
		}
	}
	ctx, exten, pri := e.Ch.Location()
	num, name := e.Ch.CallerID()
	lo.info = voicemail.Message{CallerID: pbx.MergeCallerID(name, num), Context: tenancy.BareContext(e.Ch.Tenant(), ctx), Exten: exten,
		Priority: pri, CallerChan: e.Ch.Name, RDNIS: "unknown"}
	if cat, ok := e.Ch.GetVar("VM_CATEGORY"); ok {
		lo.info.Category = cat
	}
	lv := &leaver{io: io, vm: vm, ctx: e.Ctx, snapshot: e.Ch.Snapshot()}
	res, err := lv.leave(m, list[1:], lo)
	if res.file != "" {
		e.Ch.SetVar("VM_MESSAGEFILE", res.file)
	}
	status(res.status)
	if err != nil {
		return channel.ErrHangup
	}
	switch res.exit {
	case 0:
		if res.timeout {
			if _, err := io.play("", "vm-goodbye"); err != nil {
				return channel.ErrHangup
			}
		}
		return nil
	case '*':
		return e.Goto(exitCtx, "a", "1")
	case '0':
		return e.Goto(exitCtx, "o", "1")
	}
	return collectExten(e, dCtx, string(res.exit))
}

func has(opts map[byte]string, c byte) bool {
	_, ok := opts[c]
	return ok
}

// exitContext is the context the o, a and d exits go to: the mailbox's
// exitcontext, else the channel's.
func (ap *Apps) exitContext(e *pbx.Exec, name string) string {
	if name != "" {
		if q, ok := e.QualifyContext(name); ok {
			return q
		}
	}
	c, _, _ := e.Ch.Location()
	return c
}

// leaveOptions are VoiceMail's options and the caller's details.
type leaveOptions struct {
	busy, unavail, silent, silentIfGreet bool
	flag                                 string // "", "Urgent", "PRIORITY"
	beep                                 string // "" for none
	// exits are 0 and * when o and a exist; digitExits the d option's.
	exits, digitExits string
	info              voicemail.Message
}

// leaveResult is how a VoiceMail ended.
type leaveResult struct {
	status  string // VMSTATUS
	exit    rune   // '*' (a), '0' (o) or a d-option digit; 0 none
	file    string // VM_MESSAGEFILE
	timeout bool   // the message reached maxsecs (vm-goodbye follows)
}

// leaver leaves messages (leave_voicemail and play_record_review for an
// outside caller), over a vmIO.
type leaver struct {
	io       vmIO
	vm       Voicemail
	ctx      context.Context
	snapshot *events.Snapshot
}

func (l *leaver) leave(m *voicemail.Mailbox, others []*voicemail.Mailbox, o leaveOptions) (leaveResult, error) {
	fail := leaveResult{status: "FAILED"}
	ecodes := "#" + o.exits + o.digitExits
	o.info.Flag = o.flag
	// The greeting: busy or unavailable as asked, the temporary one over
	// either; without a recorded one, "the person at extension N is
	// unavailable" (invent_message).
	which := ""
	switch {
	case o.busy:
		which = voicemail.GreetBusy
	case o.unavail:
		which = voicemail.GreetUnavail
	}
	if _, ok := l.vm.Greeting(m, voicemail.GreetTemp); ok {
		which = voicemail.GreetTemp
	}
	var res rune
	var err error
	if which != "" {
		if p, ok := l.vm.Greeting(m, which); ok {
			res, err = l.io.play(ecodes, p)
			if o.silentIfGreet {
				o.silent = true
			}
		} else {
			var names []string
			if g, ok := l.vm.Greeting(m, voicemail.GreetName); ok {
				names = []string{g}
			} else {
				names = append([]string{"vm-theperson"}, prompts.SayDigits(m.Number, l.io.language())...)
			}
			names = append(names, pick(o.busy && which != voicemail.GreetTemp, "vm-isonphone", "vm-isunavail"))
			res, err = l.io.play(ecodes, names...)
		}
		if err != nil {
			return fail, err
		}
	}
	if res == '#' {
		o.silent, res = true, 0
	}
	if res == 0 && !o.silent {
		if res, err = l.io.play(ecodes, "vm-intro"); err != nil {
			return fail, err
		}
		if res == '#' {
			res = 0
		}
	}
	switch {
	case res == '*':
		return leaveResult{status: "USEREXIT", exit: '*'}, nil
	case res == '0':
		if _, err := l.io.play("", "transfer"); err != nil {
			return fail, err
		}
		return leaveResult{status: "USEREXIT", exit: '0'}, nil
	case res != 0:
		return leaveResult{status: "USEREXIT", exit: res}, nil
	}
	if m.Options.MaxMsg == 0 {
		// A greetings-only mailbox.
		return leaveResult{status: "SUCCESS"}, nil
	}
	folder := voicemail.Inbox
	if o.flag == "Urgent" {
		folder = voicemail.Urgent
	}
	if full, ferr := l.vm.Full(m, folder); ferr != nil || full {
		_, err := l.io.play("", "vm-mailboxfull")
		return fail, err
	}
	if o.beep != "" {
		if _, err := l.io.play("", o.beep); err != nil {
			return fail, err
		}
	}
	rec, hangup, err := l.review(m, &o)
	if err != nil && rec.Path == "" {
		return fail, err
	}
	if rec.End == recError {
		if hangup {
			return fail, channel.ErrHangup
		}
		_, err := l.io.play("", "beeperr", "vm-mailboxfull")
		return fail, err
	}
	if rec.Path == "" {
		// Discarded (the caller chose to, at the operator prompt).
		return leaveResult{status: "USEREXIT", exit: '0'}, nil
	}
	if rec.SoundDuration < m.Options.MinSecs {
		removeFile(rec.Path)
		if hangup {
			return fail, channel.ErrHangup
		}
		return fail, nil
	}
	info := o.info
	info.Duration = rec.Duration
	info.OrigTime = time.Now()
	msg, derr := l.vm.Deposit(context.WithoutCancel(l.ctx), m, rec.Path, info, others, l.snapshot)
	if derr != nil {
		if !hangup {
			_, err = l.io.play("", "vm-mailboxfull")
		}
		if hangup {
			err = channel.ErrHangup
		}
		return fail, err
	}
	out := leaveResult{status: "SUCCESS", file: msg.Path, timeout: rec.End == recTimeout}
	if rec.End == recCancel {
		out.status, out.exit = "USEREXIT", '0'
	}
	if hangup {
		return out, channel.ErrHangup
	}
	return out, nil
}

// review records the message and, with review=yes, lets the caller
// listen, record again or mark it urgent (play_record_review for an
// outside caller). hangup reports the caller hung up (the recording is
// kept, as Asterisk keeps a message whose caller hung up).
func (l *leaver) review(m *voicemail.Mailbox, o *leaveOptions) (rec recording, hangup bool, err error) {
	mo := m.Options
	spec := recordSpec{MaxSecs: mo.MaxSecs, MaxSilence: mo.MaxSilence, Threshold: mo.SilenceThreshold, Accept: "#"}
	if mo.Operator {
		spec.Cancel = "0"
	}
	cmd, attempts, recorded := rune('3'), 0, false
	for {
		switch cmd {
		case '3':
			if rec.Path != "" {
				removeFile(rec.Path)
			}
			if recorded {
				if _, err := l.io.play(allDigits, "vm-intro"); err != nil {
					return recording{}, true, err
				}
				if _, err := l.io.play("", "beep"); err != nil {
					return recording{}, true, err
				}
			}
			recorded = true
			rec, err = l.io.record(m, spec)
			if errors.Is(err, channel.ErrHangup) || rec.End == recHangup {
				return rec, true, nil
			}
			if err != nil || rec.End == recError {
				return rec, false, err
			}
			if rec.End == recTimeout {
				return rec, false, nil
			}
			if rec.End == recCancel {
				return l.operator(m, rec, o)
			}
			if !mo.Review {
				return rec, false, nil
			}
			cmd = 0
		case '1':
			if _, err := l.io.play("", "vm-msgsaved"); err != nil {
				return rec, true, nil
			}
			return rec, false, nil
		case '2':
			c, err := l.io.play(allDigits, strings.TrimSuffix(rec.Path, ".wav"))
			if err != nil {
				return rec, true, nil
			}
			cmd = c
		case '4':
			if !mo.LeaveUrgent {
				cmd = '5'
				continue
			}
			prompt := "vm-marked-urgent"
			if o.flag == "Urgent" {
				o.flag, prompt = "", "vm-marked-nonurgent"
			} else {
				o.flag = "Urgent"
			}
			o.info.Flag = o.flag
			if _, err := l.io.play(allDigits, prompt); err != nil {
				return rec, true, nil
			}
			cmd = 0
		case '0':
			if !mo.Operator {
				cmd = '5'
				continue
			}
			return l.operator(m, rec, o)
		case 0:
			p := []string{"vm-review"}
			if mo.LeaveUrgent {
				p = append(p, pick(o.flag == "Urgent", "vm-review-nonurgent", "vm-review-urgent"))
			}
			if mo.Operator {
				p = append(p, "vm-reachoper")
			}
			c, err := ask(l.io, &attempts, 3, p...)
			if err != nil {
				return rec, true, nil
			}
			if c == vmTimeout {
				return rec, false, nil
			}
			cmd = c
		default:
			c, err := l.io.play(allDigits, "vm-sorry")
			if err != nil {
				return rec, true, nil
			}
			cmd = c
		}
	}
}

// operator is 0 during or after the recording: 1 keeps it, 4 keeps it
// urgent, anything else deletes it, then the caller goes to o.
func (l *leaver) operator(m *voicemail.Mailbox, rec recording, o *leaveOptions) (recording, bool, error) {
	c, err := l.io.play(allDigits, "vm-saveoper")
	if err == nil && c == 0 {
		c, err = l.io.waitDigit(3 * time.Second)
	}
	if err != nil {
		return rec, true, nil
	}
	rec.End = recCancel
	switch c {
	case '4':
		o.flag, o.info.Flag = "Urgent", "Urgent"
		_, _ = l.io.play("", "vm-marked-urgent")
		fallthrough
	case '1':
		_, _ = l.io.play("", "vm-msgsaved")
	default:
		removeFile(rec.Path)
		rec.Path = ""
		_, _ = l.io.play("", "vm-deleted")
	}
	return rec, false, nil
}

// VoiceMailMain([mailbox][@context][,options]) lets a mailbox's owner
// listen to and manage messages (app_voicemail.c vm_execmain). Options: s
// no PIN asked, p the mailbox given is a prefix of the one entered, a(#)
// play folder # at once, r read only (no deleting), g(#) accepted and
// ignored. Without options the old form "s1001" is read.
func (ap *Apps) VoiceMailMain(e *pbx.Exec, data string) error {
	vm, ok := ap.vmServices(e, "VoiceMailMain")
	if !ok {
		return nil
	}
	if e.Ch.State() != channel.StateUp {
		if err := e.Ch.Answer(e.Ctx); err != nil {
			return channel.ErrHangup
		}
	}
	a := args(data)
	box := arg(a, 0)
	opts := map[byte]string{}
	if len(a) >= 2 {
		opts = appOptions(arg(a, 1))
	} else {
		for len(box) > 0 && (box[0] == 's' || box[0] == 'p') {
			opts[box[0]] = ""
			box = box[1:]
		}
	}
	number, vmCtx, _ := strings.Cut(box, "@")
	if vmCtx == "" {
		vmCtx = voicemail.DefaultContext
	}
	io := &chanIO{ap: ap, e: e, vm: vm}
	tenant := e.Ch.Tenant()
	lookup := func(c, n string) (*voicemail.Mailbox, bool) { return vm.Lookup(tenant, c, n) }
	prefix := ""
	if has(opts, 'p') {
		prefix, number = number, ""
	}
	var m *voicemail.Mailbox
	skipUser := false
	if number != "" {
		if m, skipUser = lookup(vmCtx, number); !skipUser {
			e.Ch.Log().Warn("VoiceMailMain: no such mailbox", "mailbox", number+"@"+vmCtx, "tenant", tenant)
		}
	}
	if !(skipUser && has(opts, 's')) {
		num, _ := e.Ch.CallerID()
		au := vmAuth{io: io, vm: vm, lookup: lookup, context: vmCtx, prefix: prefix, callerNum: num, maxLogins: vm.Config().MaxLogins}
		if skipUser {
			au.mailbox = m
		}
		got, star, err := au.run()
		if err != nil {
			return channel.ErrHangup
		}
		if star {
			cur, _, _ := e.Ch.Location()
			if e.PBX.Dialplan().Exists(cur, "a", 1) {
				return e.Goto(cur, "a", "1")
			}
			return nil
		}
		if got == nil {
			return nil
		}
		m = got
	}
	if m.Options.Language != "" {
		e.Ch.SetLanguage(m.Options.Language)
	}
	autoplay := -1
	if f, ok := opts['a']; ok {
		autoplay = parseFolderOption(f)
	}
	lv := &leaver{io: io, vm: vm, ctx: e.Ctx}
	ctx, exten, pri := e.Ch.Location()
	num, name := e.Ch.CallerID()
	session := &vmMain{io: io, vm: vm, ctx: context.WithoutCancel(e.Ctx), m: m, snapshot: e.Ch.Snapshot, lookup: lookup, nodelete: has(opts, 'r'),
		leave: func(to []*voicemail.Mailbox) error {
			lv.snapshot = e.Ch.Snapshot()
			_, err := lv.leave(to[0], to[1:], leaveOptions{beep: "beep", info: voicemail.Message{CallerID: pbx.MergeCallerID(name, num),
				Context: tenancy.BareContext(tenant, ctx), Exten: exten, Priority: pri, CallerChan: e.Ch.Name, RDNIS: "unknown"}})
			return err
		}}
	err := session.run(autoplay)
	vm.Touched(m, e.Ch.Snapshot())
	if err != nil {
		if errors.Is(err, channel.ErrHangup) || e.Ch.IsHungUp() {
			return channel.ErrHangup
		}
		e.Ch.Log().Warn("VoiceMailMain failed", "mailbox", m.ID(), "err", err)
		e.Ch.Hangup(q850.NormalClearing)
		return pbx.ErrStop()
	}
	return nil
}

// vmAuth asks for a mailbox and its PIN (vm_authenticate): an empty
// mailbox is the caller's number, * goes to the a extension, maxlogins
// wrong attempts end with vm-goodbye.
type vmAuth struct {
	io        vmIO
	vm        Voicemail
	lookup    func(context, number string) (*voicemail.Mailbox, bool)
	context   string
	prefix    string
	callerNum string
	maxLogins int
	// mailbox is given (only the PIN is asked).
	mailbox *voicemail.Mailbox
}

// run returns the authenticated mailbox, nil after too many failures, or
// star when the caller pressed * for the a extension.
func (a *vmAuth) run() (m *voicemail.Mailbox, star bool, err error) {
	if a.maxLogins <= 0 {
		a.maxLogins = 3
	}
	prompt := "vm-login"
	for tries := 0; tries < a.maxLogins; tries++ {
		m = a.mailbox
		number := ""
		if m == nil {
			if number, err = a.io.readString(80, vmFirstDigit, vmNextDigit, "#", prompt); err != nil {
				return nil, false, err
			}
			switch {
			case number == "" && a.callerNum != "":
				number = a.callerNum
			case number == "":
				return nil, false, nil
			case number[0] == '*':
				return nil, true, nil
			}
			number = a.prefix + number
			m, _ = a.lookup(a.context, number)
		}
		pin := ""
		if m == nil || a.vm.NeedsPIN(m) {
			if pin, err = a.io.readString(80, vmFirstDigit, vmNextDigit, "#", "vm-password"); err != nil {
				return nil, false, err
			}
			if strings.HasPrefix(pin, "*") {
				return nil, true, nil
			}
		}
		if m != nil && (!a.vm.NeedsPIN(m) || a.vm.CheckPIN(m, pin)) {
			return m, false, nil
		}
		last := tries+1 >= a.maxLogins
		if a.mailbox != nil || last {
			if _, err := a.io.play("", "vm-incorrect"); err != nil {
				return nil, false, err
			}
			if !last {
				continue
			}
			break
		}
		// The next attempt asks again for the mailbox with this prompt.
		prompt = "vm-incorrect-mailbox"
	}
	_, err = a.io.play("", "vm-goodbye")
	return nil, false, err
}
