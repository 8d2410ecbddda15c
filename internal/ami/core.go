package ami

import (
	"errors"
	"os/user"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/entvoice/entvoice/internal/control"
)

// AsteriskVersion is what CoreSettings reports as AsteriskVersion: the
// Asterisk release whose manager entVoice's follows, marked as entVoice
// (clients that branch on the version read the leading major number).
const AsteriskVersion = "22.0.0-entvoice"

func yesNo(b bool) string {
	if b {
		return "Yes"
	}
	return "No"
}

// coreSettings is manager.c action_coresettings: a plain response, its
// fields in Asterisk's order.
func (ss *session) coreSettings(m *Message) bool {
	run := "root"
	grp := ""
	if u, err := user.Current(); err == nil {
		run = u.Username
		if g, err := user.LookupGroupId(u.Gid); err == nil {
			grp = g.Name
		}
	}
	w := response(m, "Success")
	w.h("AMIversion", Version)
	w.h("AsteriskVersion", AsteriskVersion)
	w.h("SystemName", ss.srv.render.systemName)
	// entVoice sets no node-wide call limit (tenants have their own) nor
	// a load limit, as Asterisk's maxcalls and maxload default to none.
	w.h("CoreMaxCalls", "0")
	w.h("CoreMaxLoadAvg", "0.000000")
	w.h("CoreRunUser", run)
	w.h("CoreRunGroup", grp)
	w.h("CoreMaxFilehandles", "0")
	// Realtime: a node's configuration comes from the provisioning store
	// (or is static); CDRs are always written; AMI over HTTP does not
	// exist; sounds are looked up in sounds_dir only.
	w.h("CoreRealTimeEnabled", yesNo(ss.srv.o.Realtime))
	w.h("CoreCDRenabled", "Yes")
	w.h("CoreHTTPenabled", "No")
	w.h("SoundsSearchCustomDir", "No")
	ss.reply(w.end())
	return true
}

// coreStatus is action_corestatus: start and last reload in local time,
// the live channels and the channels created since start (the session's
// tenant's own for a tenant-bound user).
func (ss *session) coreStatus(m *Message) bool {
	start := ss.srv.o.Started.Local()
	reload := time.Unix(ss.srv.reloaded.Load(), 0).Local()
	current, processed := 0, 0
	if ctl := ss.srv.o.Control; ctl != nil {
		ctx, cancel := ss.actionCtx(10 * time.Second)
		chans, err := ctl.Channels(ctx, ss.tenant)
		cancel()
		if err != nil {
			ss.srv.log.Warn("CoreStatus: listing channels failed", "err", err)
		}
		current = len(chans)
	}
	if n := ss.srv.o.Node; n != nil {
		processed = n.ProcessedCalls(ss.tenant)
	}
	w := response(m, "Success")
	w.h("CoreStartupDate", start.Format("2006-01-02"))
	w.h("CoreStartupTime", start.Format("15:04:05"))
	w.h("CoreReloadDate", reload.Format("2006-01-02"))
	w.h("CoreReloadTime", reload.Format("15:04:05"))
	w.h("CoreCurrentCalls", strconv.Itoa(current))
	w.h("CoreProcessedCalls", strconv.Itoa(processed))
	ss.reply(w.end())
	return true
}

// coreShowChannelMap is action_coreshowchannelmap: the channels in the
// named channel's bridge, following Local channel pairs (;1 <-> ;2) into
// their own bridges, each once, sorted by name (ast_str_container).
func (ss *session) coreShowChannelMap(m *Message) bool {
	name := m.Get("Channel")
	if name == "" {
		ss.reply(errorResponse(m, "CoreShowChannelMap requires a channel.\n"))
		return true
	}
	var chans []control.ChannelInfo
	if ctl := ss.srv.o.Control; ctl != nil {
		ctx, cancel := ss.actionCtx(10 * time.Second)
		chans, _ = ctl.Channels(ctx, ss.tenant)
		cancel()
	}
	byName := func(n string) *control.ChannelInfo {
		for i := range chans {
			if strings.EqualFold(chans[i].Channel, n) {
				return &chans[i]
			}
		}
		return nil
	}
	start := byName(name)
	if start == nil {
		ss.reply(errorResponse(m, "Could not get channel snapshot\n"))
		return true
	}
	connected := map[string]bool{}
	var walk func(self *control.ChannelInfo)
	walk = func(self *control.ChannelInfo) {
		if self.BridgeID == "" {
			return
		}
		for i := range chans {
			c := &chans[i]
			if c.BridgeID != self.BridgeID || c.UniqueID == self.UniqueID || connected[c.Channel] {
				continue
			}
			connected[c.Channel] = true
			if !strings.HasPrefix(c.Channel, "Local") {
				continue
			}
			other := c.Channel[:len(c.Channel)-1] + "1"
			if strings.HasSuffix(c.Channel, "1") {
				other = c.Channel[:len(c.Channel)-1] + "2"
			}
			if o := byName(other); o != nil && !connected[o.Channel] {
				connected[o.Channel] = true
				walk(o)
			}
		}
	}
	walk(start)
	names := make([]string, 0, len(connected))
	for n := range connected {
		names = append(names, n)
	}
	sort.Strings(names)
	ss.reply(listAck(m, "Channel map will follow"))
	for _, n := range names {
		w := item(m, "CoreShowChannelMap")
		w.h("Channel", name)
		w.h("ConnectedChannel", n)
		ss.reply(w.end())
	}
	ss.reply(listComplete(m, "CoreShowChannelMapComplete", len(names)))
	return true
}

// loggerRotate is action_loggerrotate. entVoice logs to its standard
// error (the service manager keeps and rotates it): there is no log file
// of its own to reopen, so the rotation always succeeds.
func (ss *session) loggerRotate(m *Message) bool {
	ss.srv.log.Info("LoggerRotate: logs go to standard error, nothing to reopen", "user", ss.user.Name)
	ss.reply(ack(m, "Reloaded the logger and rotated log files"))
	return true
}

// moduleCheck is manager_modulecheck, for the modules whose function
// entVoice provides (control.Module).
func (ss *session) moduleCheck(m *Message) bool {
	if known, _ := control.Module(m.Get("Module")); !known {
		ss.reply(errorResponse(m, "Module not loaded"))
		return true
	}
	w := response(m, "Success")
	w.h("Version", "")
	ss.reply(w.end())
	return true
}

// moduleLoad is manager_moduleload. entVoice's modules are built in: they
// cannot be loaded, unloaded or refreshed, and a reload is Reload's (with
// this action's own texts). Asterisk answers an empty LoadType twice (it
// does not return after the first error); entVoice answers once.
func (ss *session) moduleLoad(m *Message) bool {
	module, loadType := m.Get("Module"), strings.ToLower(m.Get("LoadType"))
	switch {
	case loadType == "":
		ss.reply(errorResponse(m, "Incomplete ModuleLoad action."))
		return true
	case module == "" && loadType != "reload":
		ss.reply(errorResponse(m, "Need module name"))
		return true
	}
	if known, _ := control.Module(module); !known && module != "" {
		ss.reply(errorResponse(m, "Module not found."))
		return true
	}
	switch loadType {
	case "load":
		// Asterisk declines to load a module already loaded.
		ss.reply(errorResponse(m, "Could not load module."))
	case "unload":
		ss.reply(errorResponse(m, "Could not unload module."))
	case "refresh":
		ss.reply(errorResponse(m, "Could not refresh module."))
	case "reload":
		if module == "" {
			if err := ss.runReload(""); err != nil {
				ss.reply(errorResponse(m, reloadError(err, false)))
				return true
			}
			ss.reply(ack(m, "All modules reloaded"))
			return true
		}
		if err := ss.runReload(module); err != nil {
			ss.reply(errorResponse(m, reloadError(err, true)))
			return true
		}
		ss.reply(ack(m, "Module reloaded."))
	default:
		ss.reply(errorResponse(m, "Incomplete ModuleLoad action."))
	}
	return true
}

// Reload outcomes beside ErrNoModule.
var (
	errReloadDenied      = errors.New("permission denied")
	errReloadUnsupported = errors.New("module does not support reload")
)

// runReload reloads a module as Reload and ModuleLoad do: only on a node,
// only for an admin; a module entVoice has but takes no reload for is
// "not supported" (ast_module_reload's AST_MODULE_RELOAD_NOT_IMPLEMENTED).
func (ss *session) runReload(module string) error {
	if ss.srv.o.Node == nil || ss.tenant != "" {
		return errReloadDenied
	}
	if known, reloads := control.Module(module); module != "" && known && !reloads {
		return errReloadUnsupported
	}
	ctx, cancel := ss.actionCtx(30 * time.Second)
	defer cancel()
	if err := ss.srv.o.Node.Reload(ctx, module); err != nil {
		return err
	}
	ss.srv.reloaded.Store(time.Now().Unix())
	return nil
}

// reloadError is the text of a failed reload: Reload's, or ModuleLoad's
// (which ends its own two texts with a period).
func reloadError(err error, moduleLoad bool) string {
	switch {
	case errors.Is(err, errReloadDenied):
		return "Permission denied"
	case errors.Is(err, ErrNoModule) && moduleLoad:
		return "No such module."
	case errors.Is(err, ErrNoModule):
		return "No such module"
	case errors.Is(err, errReloadUnsupported) && moduleLoad:
		return "Module does not support reload action."
	case errors.Is(err, errReloadUnsupported):
		return "Module does not support reload"
	}
	return "An unknown error occurred"
}

// waitState is a WaitEvent in progress: the events that arrive meanwhile
// are held, and written after the action's response.
type waitState struct {
	m        *Message
	held     [][]byte
	wake     chan struct{} // closed by the first event
	wakeOnce sync.Once
	end      chan struct{} // closed when the client sends something
	endOnce  sync.Once
}

// waitEvent is action_waitevent on a TCP session: it answers when an
// event comes, after Timeout seconds (none or -1: no limit), or as soon as
// the client sends anything, with the events that came meanwhile and
// WaitEventComplete. The session keeps reading its socket meanwhile.
func (ss *session) waitEvent(m *Message) bool {
	timeout := -1
	if t := m.Get("Timeout"); t != "" {
		if n, ok := scanInt(t); ok {
			timeout = max(n, -1)
		}
	}
	w := &waitState{m: m, wake: make(chan struct{}), end: make(chan struct{})}
	ss.qmu.Lock()
	ss.wait = w
	ss.qmu.Unlock()
	if timeout == 0 {
		ss.finishWait(w)
		return true
	}
	ss.srv.wg.Add(1)
	go func() {
		defer ss.srv.wg.Done()
		var limit <-chan time.Time
		if timeout > 0 {
			t := time.NewTimer(time.Duration(timeout) * time.Second)
			defer t.Stop()
			limit = t.C
		}
		select {
		case <-w.wake:
		case <-w.end:
		case <-limit:
		case <-ss.done:
			return
		}
		ss.finishWait(w)
	}()
	return true
}

// endWait ends a pending WaitEvent and returns once its answer is queued.
func (ss *session) endWait() {
	ss.qmu.Lock()
	w := ss.wait
	ss.qmu.Unlock()
	if w != nil {
		w.endOnce.Do(func() { close(w.end) })
		ss.finishWait(w)
	}
}

// finishWait writes a wait's response, held events and
// WaitEventComplete, once.
func (ss *session) finishWait(w *waitState) {
	ss.qmu.Lock()
	defer ss.qmu.Unlock()
	if ss.wait != w {
		return
	}
	ss.wait = nil
	ss.pushLocked(ack(w.m, "Waiting for Event completed."))
	for _, e := range w.held {
		ss.pushLocked(e)
	}
	c := &builder{}
	c.h("Event", "WaitEventComplete")
	if id := w.m.Get("ActionID"); id != "" {
		c.h("ActionID", id)
	}
	ss.pushLocked(c.end())
}

// scanInt reads an integer as sscanf's %i: leading blanks, a sign, then
// decimal, 0x hexadecimal or 0 octal digits, stopping at the first other
// character.
func scanInt(s string) (int, bool) {
	s = strings.TrimLeft(s, " \t\n\r\v\f")
	neg := false
	if s != "" && (s[0] == '+' || s[0] == '-') {
		neg = s[0] == '-'
		s = s[1:]
	}
	base := 10
	switch {
	case len(s) > 2 && (s[:2] == "0x" || s[:2] == "0X"):
		base, s = 16, s[2:]
	case len(s) > 1 && s[0] == '0':
		base, s = 8, s[1:]
	}
	n, digits := 0, 0
	for _, c := range s {
		d := strings.IndexRune("0123456789abcdef", toLowerRune(c))
		if d < 0 || d >= base {
			break
		}
		n = n*base + d
		digits++
		if n > 1<<31 {
			break
		}
	}
	if digits == 0 && base != 8 {
		return 0, false
	}
	if neg {
		n = -n
	}
	return n, true
}

func toLowerRune(r rune) rune {
	if r >= 'A' && r <= 'Z' {
		return r + 'a' - 'A'
	}
	return r
}
