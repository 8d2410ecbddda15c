package apps

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/entvoice/entvoice/internal/channel"
	"github.com/entvoice/entvoice/internal/dialplan"
	"github.com/entvoice/entvoice/internal/pbx"
	"github.com/entvoice/entvoice/internal/q850"
)

// Answer([delay]) answers the channel. Like Asterisk's __ast_answer it
// then waits for media to start flowing, but no longer than delay
// milliseconds or 500 ms, whichever is longer.
func Answer(e *pbx.Exec, data string) error {
	wasUp := e.Ch.State() == channel.StateUp
	if err := e.Ch.Answer(e.Ctx); err != nil {
		return channel.ErrHangup
	}
	if wasUp {
		return nil
	}
	wait := 500 * time.Millisecond
	if ms, err := strconv.Atoi(arg(args(data), 0)); err == nil && time.Duration(ms)*time.Millisecond > wait {
		wait = time.Duration(ms) * time.Millisecond
	}
	s := e.Ch.Media()
	if s == nil {
		return nil
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-s.MediaStarted():
	case <-t.C:
	case <-e.Ctx.Done():
		return channel.ErrHangup
	}
	return nil
}

// Hangup([cause]) hangs up with a Q.850 cause or alias; without one it
// keeps a cause already set (by Dial) or uses Normal Clearing.
func Hangup(e *pbx.Exec, data string) error {
	cause := 0
	if c := arg(args(data), 0); c != "" {
		n, ok := q850.Parse(c)
		if !ok {
			e.Ch.Log().Warn("Hangup: invalid cause, using 16", "cause", c)
		} else {
			cause = n
		}
	}
	e.Ch.Hangup(cause)
	return pbx.ErrStop()
}

// NoOp does nothing; its argument shows in logs and CDR lastdata.
func NoOp(e *pbx.Exec, data string) error {
	e.Ch.Log().Debug("NoOp", "data", data)
	return nil
}

// Verbose([level,]message) logs the message.
func Verbose(e *pbx.Exec, data string) error {
	msg := data
	if lvl, rest, ok := strings.Cut(data, ","); ok {
		if _, err := strconv.Atoi(strings.TrimSpace(lvl)); err == nil {
			msg = rest
		}
	}
	e.Ch.Log().Info(strings.TrimSpace(msg), "app", "Verbose")
	return nil
}

// Log(level,message) logs at an Asterisk level (ERROR, WARNING, NOTICE, DEBUG, VERBOSE).
func Log(e *pbx.Exec, data string) error {
	lvl, msg, _ := strings.Cut(data, ",")
	l := e.Ch.Log()
	switch strings.ToUpper(strings.TrimSpace(lvl)) {
	case "ERROR":
		l.Error(msg, "app", "Log")
	case "WARNING":
		l.Warn(msg, "app", "Log")
	case "DEBUG":
		l.Debug(msg, "app", "Log")
	default:
		l.Info(msg, "app", "Log")
	}
	return nil
}

// Set(name=value) sets a channel variable or writes a function
// (CALLERID(num)=..., CHANNEL(language)=..., CDR(userfield)=...). The value
// is everything after the first '=', commas included.
func Set(e *pbx.Exec, data string) error {
	name, value, ok := strings.Cut(data, "=")
	if !ok {
		e.Ch.Log().Warn("Set requires an argument (variable=value)", "data", data)
		return nil
	}
	return setOne(e, strings.TrimSpace(name), value)
}

func setOne(e *pbx.Exec, name, value string) error {
	if i := strings.IndexByte(name, '('); i > 0 && strings.HasSuffix(name, ")") {
		if err := e.SetFunction(name[:i], name[i+1:len(name)-1], value); err != nil {
			e.Ch.Log().Warn("Set: function write failed", "function", name, "err", err)
		}
		return nil
	}
	e.Ch.SetVar(name, value)
	return nil
}

// MSet(name1=value1,name2=value2,...) sets several variables.
func MSet(e *pbx.Exec, data string) error {
	for _, kv := range args(data) {
		if name, value, ok := strings.Cut(kv, "="); ok {
			if err := setOne(e, strings.TrimSpace(name), value); err != nil {
				return err
			}
		}
	}
	return nil
}

// Goto([[context,]exten,]priority) jumps; a bad target hangs up as in Asterisk.
func Goto(e *pbx.Exec, data string) error {
	return gotoSpec(e, args(data))
}

func gotoSpec(e *pbx.Exec, a []string) error {
	c, x, p, err := pbx.ParseGoto(trimAll(a))
	if err == nil {
		err = e.Goto(c, x, p)
	}
	if err != nil {
		e.Ch.Log().Warn("Goto failed, hanging up", "target", strings.Join(a, ","), "err", err)
		return err
	}
	return nil
}

func trimAll(a []string) []string {
	out := make([]string, len(a))
	for i, s := range a {
		out[i] = strings.TrimSpace(s)
	}
	return out
}

// splitCondition splits "cond?iftrue:iffalse" at the first '?' and the first
// ':' after it.
func splitCondition(data string) (cond, ifTrue, ifFalse string, ok bool) {
	cond, rest, ok := strings.Cut(data, "?")
	if !ok {
		return data, "", "", false
	}
	ifTrue, ifFalse, _ = strings.Cut(rest, ":")
	return cond, ifTrue, ifFalse, true
}

// GotoIf(condition?[labeliftrue][:labeliffalse]).
func GotoIf(e *pbx.Exec, data string) error {
	cond, t, f, ok := splitCondition(data)
	if !ok {
		e.Ch.Log().Warn("GotoIf requires an argument (condition?label1:label2)", "data", data)
		return nil
	}
	target := f
	if dialplan.CheckCondition(cond) {
		target = t
	}
	if strings.TrimSpace(target) == "" {
		return nil
	}
	return gotoSpec(e, strings.Split(target, ","))
}

// ExecIf(condition?appiftrue(args)[:appiffalse(args)]).
func ExecIf(e *pbx.Exec, data string) error {
	cond, t, f, ok := splitCondition(data)
	if !ok {
		return nil
	}
	call := f
	if dialplan.CheckCondition(cond) {
		call = t
	}
	call = strings.TrimSpace(call)
	if call == "" {
		return nil
	}
	name, appData := call, ""
	if i := strings.IndexByte(call, '('); i > 0 && strings.HasSuffix(call, ")") {
		name, appData = call[:i], call[i+1:len(call)-1]
	}
	return e.Run(name, appData)
}

// Gosub([[context,]exten,]priority[(arg1[,...])]) calls a subroutine.
func Gosub(e *pbx.Exec, data string) error {
	spec, callArgs := data, ""
	if i := strings.IndexByte(data, '('); i >= 0 && strings.HasSuffix(data, ")") {
		spec, callArgs = data[:i], data[i+1:len(data)-1]
	}
	c, x, p, err := pbx.ParseGoto(trimAll(strings.Split(spec, ",")))
	if err != nil {
		return fmt.Errorf("Gosub: %w", err)
	}
	e.PushGosub(args(callArgs))
	if err := e.Goto(c, x, p); err != nil {
		e.PopGosub()
		return fmt.Errorf("Gosub: %w", err)
	}
	return nil
}

// Return([value]) returns from Gosub, setting GOSUB_RETVAL.
func Return(e *pbx.Exec, data string) error {
	e.Ch.SetVar("GOSUB_RETVAL", data)
	if !e.PopGosub() {
		e.Ch.Log().Warn("Return without Gosub")
		return fmt.Errorf("Return without Gosub")
	}
	return nil
}

// Wait(seconds) waits, fractional seconds allowed.
func Wait(e *pbx.Exec, data string) error {
	f, err := strconv.ParseFloat(arg(args(data), 0), 64)
	if err != nil || f <= 0 {
		return nil
	}
	return sleep(e, time.Duration(f*float64(time.Second)))
}

func sleep(e *pbx.Exec, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-e.Ctx.Done():
		return channel.ErrHangup
	}
}

// Busy([timeout]) indicates busy and waits, then hangs up (cause 17).
func Busy(e *pbx.Exec, data string) error {
	return indicateAndWait(e, channel.IndicateBusy, q850.UserBusy, data)
}

// Congestion([timeout]) indicates congestion and waits, then hangs up (cause 34).
func Congestion(e *pbx.Exec, data string) error {
	return indicateAndWait(e, channel.IndicateCongestion, q850.Congestion, data)
}

func indicateAndWait(e *pbx.Exec, ind channel.Indication, cause int, data string) error {
	e.Ch.SetHangupCause(cause)
	_ = e.Ch.Indicate(ind)
	if f, err := strconv.ParseFloat(arg(args(data), 0), 64); err == nil && f > 0 && e.Ch.State() == channel.StateUp {
		_ = sleep(e, time.Duration(f*float64(time.Second)))
	}
	e.Ch.Hangup(cause)
	return pbx.ErrStop()
}

// Progress sends 183 Session Progress with early media.
func Progress(e *pbx.Exec, _ string) error {
	_ = e.Ch.Indicate(channel.IndicateProgress)
	return nil
}

// Ringing sends 180 Ringing.
func Ringing(e *pbx.Exec, _ string) error {
	_ = e.Ch.Indicate(channel.IndicateRinging)
	return nil
}
