package queue

import (
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/entvoice/entvoice/internal/channel"
	"github.com/entvoice/entvoice/internal/control"
	"github.com/entvoice/entvoice/internal/dialplan"
	"github.com/entvoice/entvoice/internal/pbx"
)

// AppNames are the dialplan applications Register adds.
var AppNames = []string{"Queue", "AddQueueMember", "RemoveQueueMember", "PauseQueueMember", "UnpauseQueueMember", "QueueLog"}

// Register adds app_queue's applications to the PBX, on the engine.
func Register(p *pbx.PBX, en *Engine) {
	p.Register("Queue", en.queueApp)
	p.Register("AddQueueMember", en.addQueueMember)
	p.Register("RemoveQueueMember", en.removeQueueMember)
	p.Register("PauseQueueMember", func(e *pbx.Exec, data string) error { return en.pauseApp(e, data, true) })
	p.Register("UnpauseQueueMember", func(e *pbx.Exec, data string) error { return en.pauseApp(e, data, false) })
	p.Register("QueueLog", en.queueLogApp)
}

func splitArgs(data string) []string {
	if strings.TrimSpace(data) == "" {
		return nil
	}
	return dialplan.SplitArgs(data)
}

func arg(a []string, i int) string {
	if i < len(a) {
		return strings.TrimSpace(a[i])
	}
	return ""
}

// parseOptions reads Queue()'s options: letters, some with an argument
// in parentheses (m(class), b(...), B(...), F(...)).
func parseOptions(s string) (flags map[byte]string) {
	flags = map[byte]string{}
	for i := 0; i < len(s); i++ {
		o := s[i]
		val := ""
		if i+1 < len(s) && s[i+1] == '(' {
			depth, j := 0, i+1
			for ; j < len(s); j++ {
				if s[j] == '(' {
					depth++
				} else if s[j] == ')' {
					if depth--; depth == 0 {
						break
					}
				}
			}
			val = s[i+2 : min(j, len(s))]
			i = j
		}
		flags[o] = val
	}
	return flags
}

// queueApp is Queue(queuename[,options[,URL[,announceoverride[,timeout
// [,AGI[,gosub[,rule[,position]]]]]]]]), Asterisk 22's argument list (the
// macro argument went with Asterisk 21); a call with ten arguments is the
// older form, whose macro is ignored with a warning.
func (en *Engine) queueApp(e *pbx.Exec, data string) error {
	a := splitArgs(data)
	if arg(a, 0) == "" {
		e.Ch.Log().Warn("Queue requires an argument: queuename[,options[,URL[,announceoverride[,timeout[,agi[,gosub[,rule[,position]]]]]]]]")
		return pbx.ErrStop()
	}
	if len(a) == 10 {
		if arg(a, 6) != "" {
			e.Ch.Log().Warn("Queue: the macro argument was removed in Asterisk 21 and is ignored", "macro", arg(a, 6))
		}
		a = append(a[:6:6], a[7:]...)
	}
	f := parseOptions(arg(a, 1))
	has := func(o byte) bool { _, ok := f[o]; return ok }
	o := JoinOptions{Ringing: has('r'), RingWhenRinging: has('R') && !has('r'), MusicClass: f['m'],
		Continue: has('c'), NoRetry: has('n'), CalleeTransfer: has('t'), CallerTransfer: has('T'),
		CalleeHangup: has('h'), CallerHangup: has('H'), MarkAnsweredElsewhere: has('C'), IgnoreForward: has('i'),
		URL: arg(a, 2), AnnounceOverride: arg(a, 3), AGI: arg(a, 5), Gosub: arg(a, 6), Rule: arg(a, 7)}
	for _, x := range []byte("bBFdIkKxXwW") {
		if has(x) {
			e.Ch.Log().Info("Queue: option not supported, ignored", "option", string(x))
		}
	}
	if t := arg(a, 4); t != "" {
		if n, err := strconv.Atoi(t); err == nil && n > 0 {
			o.Timeout = time.Duration(n) * time.Second
		} else if err != nil {
			e.Ch.Log().Warn("Queue: invalid timeout, ignored", "timeout", t)
		}
	}
	if p := arg(a, 8); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 {
			e.Ch.Log().Warn("Queue: invalid position, assuming no preference", "position", p, "queue", arg(a, 0))
		} else {
			o.Position = n
		}
	}
	out, err := en.Join(e, arg(a, 0), o)
	switch {
	case errors.Is(err, ErrNoQueue):
		e.Ch.Log().Warn("unable to join queue: no such queue", "queue", arg(a, 0))
		return nil
	case err != nil:
		return err
	case out.ExitKey != "" || out.CallerTo != "":
		return nil // the channel is at the extension it chose
	case out.Hangup && e.Ctx.Err() != nil && !e.Ch.HangupRequested():
		// An async goto (AMI Redirect) took the caller out of the queue
		// (app_queue sees it as a hangup and logs ABANDON): the dialplan
		// goes on where it was sent.
		return nil
	case out.Hangup:
		if !e.Ch.IsHungUp() {
			e.Ch.Hangup(0)
		}
		return channel.ErrHangup
	}
	return nil
}

// memberInterface is AddQueueMember's default interface: the channel's
// device (its name without -%08x).
func memberInterface(ch *channel.Channel, given string) string {
	if given != "" {
		return given
	}
	if i := strings.LastIndexByte(ch.Name, '-'); i > 0 {
		return ch.Name[:i]
	}
	return ch.Name
}

// addQueueMember is AddQueueMember(queuename[,interface[,penalty[,options
// [,membername[,stateinterface[,wrapuptime]]]]]]); AQMSTATUS.
func (en *Engine) addQueueMember(e *pbx.Exec, data string) error {
	a := splitArgs(data)
	if arg(a, 0) == "" {
		e.Ch.Log().Warn("AddQueueMember requires an argument (queuename[,interface[,penalty[,options[,membername[,stateinterface][,wrapuptime]]]]])")
		return pbx.ErrStop()
	}
	s := control.QueueMemberSpec{Interface: memberInterface(e.Ch, arg(a, 1)), MemberName: arg(a, 4), StateInterface: arg(a, 5), Source: e.Ch.UniqueID}
	if p := arg(a, 2); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 {
			e.Ch.Log().Warn("AddQueueMember: penalty is invalid, must be an integer >= 0", "penalty", p)
		} else {
			s.Penalty = n
		}
	}
	opts := parseOptions(arg(a, 3))
	if _, ok := opts['p']; ok {
		s.Paused = true
		s.Reason = opts['r']
	}
	if w, err := strconv.Atoi(arg(a, 6)); err == nil && w > 0 {
		s.Wrapuptime = w
	}
	err := en.AddMember(e.Ch.Tenant(), arg(a, 0), s)
	switch {
	case err == nil:
		e.Ch.Log().Info("added interface to queue", "interface", s.Interface, "queue", arg(a, 0))
		e.Ch.SetVar("AQMSTATUS", "ADDED")
	case errors.Is(err, control.ErrMemberExists):
		e.Ch.Log().Warn("unable to add interface to queue: already there", "interface", s.Interface, "queue", arg(a, 0))
		e.Ch.SetVar("AQMSTATUS", "MEMBERALREADY")
	case errors.Is(err, control.ErrNoQueue):
		e.Ch.Log().Warn("unable to add interface to queue: no such queue", "queue", arg(a, 0))
		e.Ch.SetVar("AQMSTATUS", "NOSUCHQUEUE")
	default:
		e.Ch.Log().Warn("AddQueueMember: bad interface", "err", err)
		e.Ch.SetVar("AQMSTATUS", "NOSUCHQUEUE")
	}
	return nil
}

// removeQueueMember is RemoveQueueMember(queuename[,interface]); RQMSTATUS.
func (en *Engine) removeQueueMember(e *pbx.Exec, data string) error {
	a := splitArgs(data)
	if arg(a, 0) == "" {
		e.Ch.Log().Warn("RemoveQueueMember requires an argument (queuename[,interface])")
		return pbx.ErrStop()
	}
	iface := memberInterface(e.Ch, arg(a, 1))
	err := en.removeMember(e.Ch.Tenant(), arg(a, 0), iface, e.Ch.UniqueID)
	switch {
	case err == nil:
		e.Ch.Log().Info("removed interface from queue", "interface", iface, "queue", arg(a, 0))
		e.Ch.SetVar("RQMSTATUS", "REMOVED")
	case errors.Is(err, control.ErrNoMember):
		e.Ch.SetVar("RQMSTATUS", "NOTINQUEUE")
	case errors.Is(err, control.ErrNoQueue):
		e.Ch.Log().Warn("unable to remove interface from queue: no such queue", "queue", arg(a, 0))
		e.Ch.SetVar("RQMSTATUS", "NOSUCHQUEUE")
	case errors.Is(err, control.ErrNotDynamic):
		e.Ch.Log().Warn("unable to remove interface from queue: not a dynamic member", "interface", iface, "queue", arg(a, 0))
		e.Ch.SetVar("RQMSTATUS", "NOTDYNAMIC")
	}
	return nil
}

// pauseApp is PauseQueueMember / UnpauseQueueMember([queuename],interface
// [,options[,reason]]); PQMSTATUS / UPQMSTATUS.
func (en *Engine) pauseApp(e *pbx.Exec, data string, paused bool) error {
	a := splitArgs(data)
	name, status, ok := "UnpauseQueueMember", "UPQMSTATUS", "UNPAUSED"
	if paused {
		name, status, ok = "PauseQueueMember", "PQMSTATUS", "PAUSED"
	}
	if arg(a, 1) == "" {
		e.Ch.Log().Warn(name + " requires an interface ([queuename],interface[,options[,reason]])")
		return pbx.ErrStop()
	}
	if err := en.PauseMember(e.Ch.Tenant(), arg(a, 0), arg(a, 1), arg(a, 3), paused); err != nil {
		e.Ch.Log().Warn(name+": interface not found", "interface", arg(a, 1), "queue", arg(a, 0))
		e.Ch.SetVar(status, "NOTFOUND")
		return nil
	}
	e.Ch.SetVar(status, ok)
	return nil
}

// queueLogApp is QueueLog(queuename,uniqueid,agent,event[,additionalinfo]).
func (en *Engine) queueLogApp(e *pbx.Exec, data string) error {
	a := splitArgs(data)
	if arg(a, 0) == "" || arg(a, 1) == "" || arg(a, 2) == "" || arg(a, 3) == "" {
		e.Ch.Log().Warn("QueueLog requires arguments (queuename,uniqueid,membername,event[,additionalinfo])")
		return pbx.ErrStop()
	}
	// The additional info is written as given: fields separated by '|'.
	extra := strings.Join(a[min(4, len(a)):], ",")
	en.logRow(e.Ch.Tenant(), arg(a, 0), arg(a, 1), arg(a, 2), arg(a, 3), extra)
	return nil
}
