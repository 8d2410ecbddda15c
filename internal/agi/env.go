package agi

import (
	"strconv"

	"github.com/entvoice/entvoice/internal/channel"
	"github.com/entvoice/entvoice/internal/pbx"
)

// envBlock builds what Asterisk sends before the first command: for
// FastAGI "agi_network: yes" and agi_network_script (launch_netscript),
// then setup_env's lines in its order, the agi_arg_N lines and an empty
// line. Every line ends in a bare "\n".
func (a *AGI) envBlock(e *pbx.Exec, t *transport, args []string, enhanced bool) []byte {
	ch := e.Ch
	b := make([]byte, 0, 768)
	line := func(k, v string) {
		b = append(b, k...)
		b = append(b, ": "...)
		b = append(b, v...)
		b = append(b, '\n')
	}
	if t.fast {
		line("agi_network", "yes")
		if t.script != "" {
			line("agi_network_script", t.script)
		}
	}
	context, exten, priority := ch.Location()
	num, name := ch.CallerID()
	line("agi_request", args[0])
	line("agi_channel", ch.Name)
	line("agi_language", ch.Language())
	line("agi_type", ch.Tech)
	line("agi_uniqueid", ch.UniqueID)
	line("agi_version", a.opts.Version)
	line("agi_callerid", orUnknown(num))
	line("agi_calleridname", orUnknown(name))
	// Presentation "allowed, not screened", ANI II, type of number and
	// transit network selection: entVoice carries none of them, so they
	// are 0 as for any plain SIP caller in Asterisk.
	line("agi_callingpres", "0")
	line("agi_callingani2", "0")
	line("agi_callington", "0")
	line("agi_callingtns", "0")
	line("agi_dnid", orUnknown(dnid(e)))
	line("agi_rdnis", orUnknown(varOr(ch, "RDNIS")))
	line("agi_context", context)
	line("agi_extension", exten)
	line("agi_priority", strconv.Itoa(priority))
	if enhanced {
		line("agi_enhanced", "1.0")
	} else {
		line("agi_enhanced", "0.0")
	}
	line("agi_accountcode", ch.AccountCode())
	line("agi_threadid", a.nextThreadID())
	for i := 1; i < len(args); i++ {
		line("agi_arg_"+strconv.Itoa(i), args[i])
	}
	return append(b, '\n')
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}

func varOr(ch *channel.Channel, name string) string {
	v, _ := ch.GetVar(name)
	return v
}

// dnid is the number the caller dialled (Asterisk's dialed.number, the
// Request-URI user of an inbound call): a DNID variable when set, else
// for an inbound channel the extension the call entered the dialplan at.
func dnid(e *pbx.Exec) string {
	if v, ok := e.Ch.GetVar("DNID"); ok {
		return v
	}
	if e.Ch.Direction != channel.Inbound {
		return ""
	}
	return e.CDRVar("dst")
}
