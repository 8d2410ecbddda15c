package ami

import (
	"fmt"
	"strings"
	"time"
)

// command runs the few CLI commands AMI clients use (Asterisk 14+ reply:
// Output: lines).
func (ss *session) command(m *Message) bool {
	cmd := strings.Join(strings.Fields(m.Get("Command")), " ")
	if cmd == "" {
		ss.reply(errorResponse(m, "No command provided"))
		return true
	}
	out, ok := ss.cli(cmd)
	resp := "Success"
	if !ok {
		resp = "Error"
	}
	w := response(m, resp)
	w.h("Message", "Command output follows")
	for _, l := range strings.Split(out, "\n") {
		w.h("Output", l)
	}
	ss.reply(w.end())
	return true
}

func plural(n int, word string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, word)
	}
	return fmt.Sprintf("%d %ss", n, word)
}

func (ss *session) cli(cmd string) (string, bool) {
	switch strings.ToLower(cmd) {
	case "core show version":
		v := "entVoice (Asterisk Manager Interface " + Version + ")"
		if ss.srv.o.Node != nil {
			v = ss.srv.o.Node.Version()
		}
		return v, true
	case "core show uptime":
		up := time.Since(ss.srv.o.Started).Round(time.Second)
		return "System uptime: " + up.String(), true
	case "core show channels":
		if ss.srv.o.Control == nil {
			break
		}
		ctx, cancel := ss.actionCtx(10 * time.Second)
		chans, _ := ss.srv.o.Control.Channels(ctx, ss.tenant)
		cancel()
		// cli.c handle_chanlist's FORMAT_STRING.
		var b strings.Builder
		f := "%-20.20s %-20.20s %-7.7s %-30.30s\n"
		fmt.Fprintf(&b, f, "Channel", "Location", "State", "Application(Data)")
		calls := map[string]bool{}
		for _, c := range chans {
			loc := fmt.Sprintf("%s@%s:%d", c.Exten, c.Context, c.Priority)
			app := "(None)"
			if c.Application != "" {
				app = c.Application + "(" + c.ApplicationData + ")"
			}
			fmt.Fprintf(&b, f, c.Channel, loc, c.StateDesc, app)
			calls[c.LinkedID] = true
		}
		b.WriteString(plural(len(chans), "active channel") + "\n")
		b.WriteString(plural(len(calls), "active call"))
		return b.String(), true
	case "pjsip show endpoints":
		if ss.srv.o.Node == nil {
			break
		}
		eps := ss.srv.o.Node.Endpoints(ss.tenant)
		if len(eps) == 0 {
			return "\r\nNo objects found.\r\n", true
		}
		var b strings.Builder
		b.WriteString("\n Endpoint:  <Endpoint/CID.....................................>  <State.....>  <Channels.>\n")
		b.WriteString("==========================================================================================\n")
		for _, e := range eps {
			st := devText[ss.srv.dev.State(e.Tenant, "PJSIP/"+e.Name)]
			fmt.Fprintf(&b, " Endpoint:  %-54.54s  %-12.12s  %d of inf\n", e.Name, st, 0)
			for _, c := range e.URIs() {
				fmt.Fprintf(&b, "    Contact:  %s\n", c)
			}
			b.WriteString("\n")
		}
		fmt.Fprintf(&b, "Objects found: %d\n", len(eps))
		return b.String(), true
	}
	first := cmd
	return fmt.Sprintf("No such command '%s' (type 'core show help %s' for other possible commands)", cmd, first), false
}
