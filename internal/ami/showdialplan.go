package ami

import (
	"strconv"
	"strings"

	"github.com/entvoice/entvoice/internal/dialplan"
	"github.com/entvoice/entvoice/internal/tenancy"
)

// maxIncludeDepth is AST_PBX_MAX_STACK: how deep ShowDialPlan follows
// includes when it looks for an extension.
const maxIncludeDepth = 128

// dialplanWalk is the state of one ShowDialPlan (pbx.c struct
// dialplan_counters and what manager_show_dialplan_helper writes).
type dialplanWalk struct {
	ss    *session
	m     *Message
	plan  *dialplan.Dialplan
	exten string

	items, extens, prios, contexts int
	contextFound, extenFound       bool
}

func (d *dialplanWalk) item(lines ...string) {
	if d.items == 0 {
		d.ss.reply(listAck(d.m, "DialPlan list will follow"))
	}
	d.items++
	w := item(d.m, "ListDialplan")
	for _, l := range lines {
		w.line(l)
	}
	d.ss.reply(w.end())
}

// walk lists the contexts named ctx ("" every one the session sees), as
// manager_show_dialplan_helper; includes is the stack of included
// contexts followed so far, nil at the top.
func (d *dialplanWalk) walk(ctx string, includes []string) {
	for _, node := range d.plan.Contexts() {
		shown, ok := d.ss.visibleContext(node)
		if !ok || (ctx != "" && node != ctx) {
			continue
		}
		d.contextFound = true
		d.contexts++
		for _, ext := range d.plan.Extensions(node) {
			name, _, _ := strings.Cut(ext, "/")
			if d.exten != "" && !dialplan.ExtensionMatch(name, d.exten) {
				continue
			}
			d.extenFound = true
			d.extens++
			for _, st := range d.plan.Steps(node, ext) {
				d.prios++
				l := []string{"Context: " + shown, "Extension: " + ext}
				if st.Label != "" {
					l = append(l, "ExtensionLabel: "+st.Label)
				}
				if st.Priority == dialplan.PriorityHint {
					app := st.App
					if st.Data != "" {
						app += "(" + st.Data + ")"
					}
					l = append(l, "Priority: hint", "Application: "+clean(app))
				} else {
					l = append(l, "Priority: "+strconv.Itoa(st.Priority), "Application: "+st.App, "AppData: "+clean(st.Data))
				}
				d.item(append(l, "Registrar: pbx_config")...)
			}
		}
		for _, inc := range d.plan.Includes(node) {
			if d.exten == "" {
				incName, _ := d.ss.visibleContext(inc.Context)
				if incName == "" {
					incName = inc.Context
				}
				d.item("Context: "+shown, "IncludeContext: "+incName, "Registrar: pbx_config")
				continue
			}
			if len(includes) >= maxIncludeDepth || containsFold(includes, inc.Context) {
				continue
			}
			d.walk(inc.Context, append(includes[:len(includes):len(includes)], inc.Context))
		}
		for _, pat := range d.plan.IgnorePats(node) {
			if d.exten == "" || dialplan.ExtensionMatch("_"+pat+".", d.exten) {
				d.item("Context: "+shown, "IgnorePattern: "+pat, "Registrar: pbx_config")
			}
		}
		if includes == nil {
			for _, sw := range d.plan.Switches(node) {
				d.item("Context: "+shown, "Switch: "+sw.Name+"/"+sw.Data, "Registrar: pbx_config")
			}
		}
	}
}

// showDialPlan is pbx.c manager_show_dialplan. A tenant-bound user sees
// its own contexts only, by their bare names; central (no dialplan) lists
// none, as an Asterisk with an empty dialplan.
func (ss *session) showDialPlan(m *Message) bool {
	exten, ctx := m.Get("Extension"), m.Get("Context")
	d := &dialplanWalk{ss: ss, m: m, exten: exten}
	if n := ss.srv.o.Node; n != nil {
		d.plan = n.Dialplan()
	}
	if d.plan == nil {
		d.plan = dialplan.New()
	}
	nodeCtx := ctx
	if ctx != "" && ss.tenant != "" {
		nodeCtx, _ = tenancy.Context(ss.tenant, ctx)
	}
	d.walk(nodeCtx, nil)
	switch {
	case ctx != "" && !d.contextFound:
		ss.reply(errorResponse(m, "Did not find context "+ctx))
		return true
	case exten != "" && !d.extenFound && ctx != "":
		ss.reply(errorResponse(m, "Did not find extension "+exten+"@"+ctx))
		return true
	case exten != "" && !d.extenFound:
		ss.reply(errorResponse(m, "Did not find extension "+exten+" in any context"))
		return true
	}
	if d.items == 0 {
		ss.reply(listAck(m, "DialPlan list will follow"))
	}
	ss.reply(listComplete(m, "ShowDialPlanComplete", d.items,
		"ListExtensions: "+strconv.Itoa(d.extens), "ListPriorities: "+strconv.Itoa(d.prios),
		"ListContexts: "+strconv.Itoa(d.contexts)))
	return true
}
