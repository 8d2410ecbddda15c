package pbx

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/entvoice/entvoice/internal/dialplan"
	"github.com/entvoice/entvoice/internal/q850"
)

// GetVar resolves a ${NAME}: Asterisk's builtin channel variables first
// (pbx_builtin_getvar_helper / ast_str_retrieve_variable), then the
// channel's variables, then the dialplan's [globals].
func (e *Exec) GetVar(name string) (string, bool) {
	ch := e.Ch
	switch name {
	case "EXTEN":
		_, x, _ := ch.Location()
		return x, true
	case "CONTEXT":
		// A hosted tenant sees its own context names, without the
		// node's namespace (Goto qualifies them again).
		c, _, _ := ch.Location()
		return dialplan.BareContext(ch.Tenant(), c), true
	case "PRIORITY":
		_, _, p := ch.Location()
		return strconv.Itoa(p), true
	case "CHANNEL":
		return ch.Name, true
	case "UNIQUEID":
		return ch.UniqueID, true
	case "LANGUAGE":
		return ch.Language(), true
	case "CALLERIDNUM":
		n, _ := ch.CallerID()
		return n, true
	case "CALLERIDNAME":
		_, n := ch.CallerID()
		return n, true
	case "EPOCH":
		return strconv.FormatInt(time.Now().Unix(), 10), true
	case "HANGUPCAUSE":
		if v, ok := ch.GetVar(name); ok {
			return v, true
		}
		return strconv.Itoa(ch.HangupCause()), true
	case "ACCOUNTCODE":
		return ch.AccountCode(), true
	}
	if v, ok := ch.GetVar(name); ok {
		return v, true
	}
	if plan := e.PBX.plan.Load(); plan != nil {
		if v, ok := plan.Global(name); ok {
			return v, true
		}
	}
	return "", false
}

// CallFunction evaluates the dialplan functions that need the channel.
func (e *Exec) CallFunction(name, args string) (string, error) {
	ch := e.Ch
	arg := strings.TrimSpace(args)
	switch strings.ToUpper(name) {
	case "CALLERID":
		num, nm := ch.CallerID()
		switch strings.ToLower(arg) {
		case "num", "number":
			return num, nil
		case "name":
			return nm, nil
		case "all", "":
			return MergeCallerID(nm, num), nil
		}
		return "", fmt.Errorf("CALLERID: unknown field %q", arg)
	case "CONNECTEDLINE":
		num, nm := ch.ConnectedLine()
		switch strings.ToLower(arg) {
		case "num", "number":
			return num, nil
		case "name":
			return nm, nil
		}
		return MergeCallerID(nm, num), nil
	case "CHANNEL":
		switch strings.ToLower(arg) {
		case "name":
			return ch.Name, nil
		case "language":
			return ch.Language(), nil
		case "uniqueid":
			return ch.UniqueID, nil
		case "linkedid":
			return ch.LinkedID(), nil
		case "state":
			return ch.State().String(), nil
		case "channeltype":
			return ch.Tech, nil
		case "endpoint":
			return ch.Endpoint, nil
		case "accountcode":
			return ch.AccountCode(), nil
		case "tenant":
			return ch.Tenant(), nil
		case "musicclass":
			return ch.MusicClass(), nil
		}
		return "", fmt.Errorf("CHANNEL: unknown item %q", arg)
	case "CDR":
		field, _, _ := strings.Cut(arg, ",")
		return e.CDRVar(strings.TrimSpace(field)), nil
	case "HANGUPCAUSE":
		return strconv.Itoa(ch.HangupCause()), nil
	case "LANGUAGE":
		return ch.Language(), nil
	case "BILLING":
		// BILLING(status|cause|limit|cost|currency): billing's word on
		// the channel's last Dial through a trunk (Dial sets them).
		switch f := strings.ToLower(arg); f {
		case "status", "cause", "limit", "cost", "currency":
			v, _ := ch.GetVar("BILLING" + strings.ToUpper(f))
			return v, nil
		}
		return "", fmt.Errorf("BILLING: unknown field %q (want status, cause, limit, cost or currency)", arg)
	}
	// Functions of the application packages (SPEECH...), then the
	// dialplan's builtins (LEN, IF, CUT...) take what is not ours.
	return e.callRegistered(name, args)
}

// SetFunction implements Set(FUNC(args)=value) for the writable functions.
func (e *Exec) SetFunction(name, args, value string) error {
	ch := e.Ch
	arg := strings.ToLower(strings.TrimSpace(args))
	switch strings.ToUpper(name) {
	case "CALLERID":
		num, nm := ch.CallerID()
		switch arg {
		case "num", "number":
			ch.SetCallerID(value, nm)
		case "name":
			ch.SetCallerID(num, value)
		case "all", "":
			n, v := splitCallerID(value)
			ch.SetCallerID(v, n)
		default:
			return fmt.Errorf("CALLERID: unknown field %q", arg)
		}
		return nil
	case "CONNECTEDLINE":
		num, nm := ch.ConnectedLine()
		switch arg {
		case "num", "number":
			ch.SetConnectedLine(value, nm)
		case "name":
			ch.SetConnectedLine(num, value)
		default:
			return fmt.Errorf("CONNECTEDLINE: unknown field %q", arg)
		}
		return nil
	case "CHANNEL":
		switch arg {
		case "language":
			ch.SetLanguage(value)
			return nil
		case "accountcode":
			ch.SetAccountCode(value)
			return nil
		case "musicclass":
			ch.SetMusicClass(value)
			return nil
		}
		return fmt.Errorf("CHANNEL(%s) is read-only", arg)
	case "LANGUAGE":
		ch.SetLanguage(value)
		return nil
	case "CDR":
		switch arg {
		case "src", "dst", "dcontext", "channel", "dstchannel", "lastapp", "lastdata", "start", "answer", "end", "duration", "billsec", "disposition", "uniqueid", "linkedid":
			return fmt.Errorf("CDR(%s) is read-only", arg)
		}
		e.SetCDRVar(arg, value)
		return nil
	case "HANGUPCAUSE":
		if c, ok := q850.Parse(value); ok {
			ch.SetHangupCause(c)
			return nil
		}
		return fmt.Errorf("HANGUPCAUSE: bad cause %q", value)
	}
	if ok, err := e.setRegistered(name, args, value); ok {
		return err
	}
	return fmt.Errorf("function %s cannot be written", name)
}

// splitCallerID parses `"Name" <num>` or a bare number.
func splitCallerID(s string) (name, num string) {
	s = strings.TrimSpace(s)
	if i := strings.LastIndex(s, "<"); i >= 0 && strings.HasSuffix(s, ">") {
		num = s[i+1 : len(s)-1]
		name = strings.Trim(strings.TrimSpace(s[:i]), `"`)
		return name, num
	}
	return "", s
}

// SplitCallerID parses a caller ID string as Asterisk's ast_callerid_parse.
func SplitCallerID(s string) (name, num string) { return splitCallerID(s) }
