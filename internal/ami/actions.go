package ami

import (
	"context"
	"crypto/md5"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"math/big"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/entvoice/entvoice/internal/control"
	"github.com/entvoice/entvoice/internal/events"
	"github.com/entvoice/entvoice/internal/tenancy"
)

type action struct {
	name      string
	authority Class
	synopsis  string
	fn        func(*session, *Message) bool
}

// actionTable returns the actions a server runs, by lower-case name, with
// Asterisk's authorities (the write classes allowed to run them) and
// synopses, as ListCommands shows them. Each server builds its own table.
func actionTable() map[string]action {
	t := map[string]action{}
	for _, a := range []action{
		{"Login", 0, "Login Manager.", (*session).login},
		{"Logoff", 0, "Logoff Manager.", (*session).logoff},
		{"Challenge", 0, "Generate Challenge for MD5 Auth.", (*session).challengeAction},
		{"Ping", 0, "Keepalive command.", (*session).ping},
		{"Events", 0, "Control Event Flow.", (*session).eventsAction},
		{"ListCommands", 0, "List available manager commands.", (*session).listCommands},
		{"WaitEvent", 0, "Wait for an event to occur.", (*session).waitEvent},
		{"Filter", ClassSystem, "Dynamically add filters for the current manager session.", (*session).filterAction},
		{"Originate", ClassOriginate, "Originate a call.", (*session).originate},
		{"Hangup", ClassSystem | ClassCall, "Hangup channel.", (*session).hangup},
		{"Redirect", ClassCall, "Redirect (transfer) a call.", (*session).redirect},
		{"Status", ClassSystem | ClassCall | ClassReporting, "List channel status.", (*session).status},
		{"CoreShowChannels", ClassSystem | ClassReporting, "List currently active channels.", (*session).coreShowChannels},
		{"CoreShowChannelMap", ClassSystem | ClassReporting, "List all channels connected to the specified channel.", (*session).coreShowChannelMap},
		{"CoreSettings", ClassSystem | ClassReporting, "Show PBX core settings (version etc).", (*session).coreSettings},
		{"CoreStatus", ClassSystem | ClassReporting, "Show PBX core status variables.", (*session).coreStatus},
		{"LoggerRotate", ClassSystem | ClassReporting, "Reload and rotate the Asterisk logger.", (*session).loggerRotate},
		{"ModuleCheck", ClassSystem, "Check if module is loaded.", (*session).moduleCheck},
		{"ModuleLoad", ClassSystem, "Module management.", (*session).moduleLoad},
		{"Getvar", ClassCall | ClassReporting, "Gets a channel variable or function value.", (*session).getvar},
		{"Setvar", ClassCall, "Sets a channel variable or function value.", (*session).setvar},
		{"Command", ClassCommand, "Execute Asterisk CLI Command.", (*session).command},
		{"DBGet", ClassSystem | ClassReporting, "Get DB Entry.", (*session).dbGet},
		{"DBGetTree", ClassSystem | ClassReporting, "Get DB entries, optionally at a particular family/key", (*session).dbGetTree},
		{"DBPut", ClassSystem, "Put DB entry.", (*session).dbPut},
		{"DBDel", ClassSystem, "Delete DB entry.", (*session).dbDel},
		{"DBDelTree", ClassSystem, "Delete DB Tree.", (*session).dbDelTree},
		{"Reload", ClassConfig | ClassSystem, "Send a reload event.", (*session).reload},
		{"ExtensionState", ClassCall | ClassReporting, "Check Extension Status.", (*session).extensionState},
		{"ExtensionStateList", ClassCall | ClassReporting, "List the current known extension states.", (*session).extensionStateList},
		{"DeviceStateList", ClassCall | ClassReporting, "List the current known device states.", (*session).deviceStateList},
		{"PresenceState", ClassCall | ClassReporting, "Check Presence State", (*session).presenceState},
		{"PresenceStateList", ClassCall | ClassReporting, "List the current known presence states.", (*session).presenceStateList},
		{"ShowDialPlan", ClassConfig | ClassReporting, "Show dialplan contexts and extensions", (*session).showDialPlan},
		{"UserEvent", ClassUser, "Send an arbitrary event.", (*session).userEvent},
		{"PJSIPShowEndpoints", ClassSystem, "Lists PJSIP endpoints.", (*session).pjsipShowEndpoints},
		{"PJSIPShowEndpoint", ClassSystem, "Detail listing of an endpoint and its objects.", (*session).pjsipShowEndpoint},
		{"PJSIPShowAors", ClassSystem, "Lists PJSIP AORs.", (*session).pjsipShowAors},
		{"PJSIPShowAuths", ClassSystem, "Lists PJSIP Auths.", (*session).pjsipShowAuths},
		{"PJSIPShowContacts", ClassSystem, "Lists PJSIP Contacts.", (*session).pjsipShowContacts},
		{"PJSIPShowRegistrationsInbound", ClassSystem, "Lists PJSIP inbound registrations.", (*session).pjsipShowRegistrationsInbound},
		{"PJSIPShowRegistrationInboundContactStatuses", ClassSystem, "Lists ContactStatuses for PJSIP inbound registrations.", (*session).pjsipShowRegistrationInboundContactStatuses},
		{"AGI", ClassAGI, "Add an AGI command to execute by Async AGI.", (*session).agiAction},
		// Voicemail (mailbox.go).
		{"MailboxCount", ClassCall | ClassReporting, "Check Mailbox Message Count.", (*session).mailboxCount},
		{"MailboxStatus", ClassCall | ClassReporting, "Check mailbox.", (*session).mailboxStatus},
	} {
		t[strings.ToLower(a.name)] = a
	}
	// Unified communications (conferences, parking) and call queues.
	for _, a := range slices.Concat(confbridgeActions(), parkingActions(), queueActions()) {
		t[strings.ToLower(a.name)] = a
	}
	return t
}

// actionCtx bounds the work of one action.
func (ss *session) actionCtx(d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ss.srv.ctx, d)
}

func (ss *session) logoff(m *Message) bool {
	w := response(m, "Goodbye")
	w.h("Message", "Thanks for all the fish.")
	ss.reply(w.end())
	ss.closeAfterWrite()
	return false
}

func (ss *session) ping(m *Message) bool {
	w := response(m, "Success")
	w.h("Ping", "Pong")
	w.h("Timestamp", timestamp(time.Now()))
	ss.reply(w.end())
	return true
}

func (ss *session) challengeAction(m *Message) bool {
	if !strings.EqualFold(m.Get("AuthType"), "MD5") {
		ss.reply(errorResponse(m, "Must specify AuthType"))
		return true
	}
	if ss.challenge == "" {
		n, _ := rand.Int(rand.Reader, big.NewInt(1<<31-1))
		ss.challenge = n.String()
	}
	w := response(m, "Success")
	w.h("Challenge", ss.challenge)
	ss.reply(w.end())
	return true
}

// securityEvent raises one of Asterisk's security events for this session
// (manager.c's report_* functions): SessionID is the session, SessionTV
// when it started.
func (ss *session) securityEvent(ev events.Security) {
	tr := "TCP"
	if ss.tls {
		tr = "TLS"
	}
	ev.Service = "AMI"
	ev.SessionID = fmt.Sprintf("0x%x", ss.id)
	ev.LocalAddr = events.SecurityAddr(tr, addrPortOf(ss.conn.LocalAddr()))
	ev.RemoteAddr = events.SecurityAddr(tr, ss.remote)
	ev.SessionTV = ss.start
	if ev.Tenant == "" {
		ev.Tenant = ss.user.Tenant
	}
	ev.Report(nil, ss.srv.log)
	ss.srv.publish(ev.Event())
}

func (ss *session) login(m *Message) bool {
	if ss.authed.Load() {
		ss.reply(ack(m, "Already authenticated"))
		return true
	}
	name := m.Get("Username")
	fail := func(msg string) bool {
		if ss.srv.guard.AuthFailed(ss.remote.Addr().Unmap()) {
			ss.srv.log.Warn("AMI address banned after repeated login failures", "remote", ss.remote.Addr(), "ban_time", ss.srv.o.BanTime)
		}
		// Asterisk sleeps a second before it answers a failed login.
		select {
		case <-time.After(time.Second):
		case <-ss.done:
			return false
		}
		ss.reply(errorResponse(m, msg))
		ss.closeAfterWrite()
		return false
	}
	if name == "" {
		return fail("Authentication failed")
	}
	ctx, cancel := ss.actionCtx(10 * time.Second)
	u, err := ss.srv.o.Users.Lookup(ctx, name)
	cancel()
	switch {
	case err != nil:
		if !errors.Is(err, ErrNoUser) {
			ss.srv.log.Error("AMI user lookup failed", "user", name, "err", err)
		}
		ss.srv.log.Info("AMI login with an unknown user", "user", name, "remote", ss.remote)
		ss.securityEvent(events.Security{Kind: events.InvalidAccountID, AccountID: name})
		return fail("Authentication failed")
	case u.ACL != nil && !u.ACL.Allowed(ss.remote.Addr().Unmap()):
		ss.srv.log.Info("AMI login refused by the user's ACL", "user", name, "remote", ss.remote)
		ss.securityEvent(events.Security{Kind: events.FailedACL, AccountID: name})
		return fail("Authentication failed")
	case !u.MultiLogin && ss.srv.userLoggedIn(name):
		return fail("Login Already In Use")
	}
	ok := false
	failure := events.Security{Kind: events.InvalidPassword, AccountID: name, Tenant: u.Tenant}
	if strings.EqualFold(m.Get("AuthType"), "MD5") {
		key := m.Get("Key")
		if key != "" && ss.challenge != "" && u.Secret != "" {
			sum := md5.Sum([]byte(ss.challenge + u.Secret))
			ok = subtle.ConstantTimeCompare([]byte(hex.EncodeToString(sum[:])), []byte(strings.ToLower(key))) == 1
		}
		// manager.c reports a wrong challenge response as such; the
		// expected response (a hash of the secret) is left out.
		failure = events.Security{Kind: events.ChallengeResponseFailed, AccountID: name, Tenant: u.Tenant,
			Challenge: ss.challenge, Response: key}
	} else if u.Secret != "" {
		ok = subtle.ConstantTimeCompare([]byte(m.Get("Secret")), []byte(u.Secret)) == 1
	}
	if !ok {
		ss.srv.log.Info("AMI login failed", "user", name, "remote", ss.remote)
		ss.securityEvent(failure)
		return fail("Authentication failed")
	}
	ss.srv.guard.AuthSucceeded(ss.remote.Addr().Unmap())
	ss.user = u
	ss.tenant = u.Tenant
	send := u.Read
	if u.Events >= 0 {
		send = u.Read & u.Events
	}
	if ev := m.Get("Events"); ev != "" {
		if mask := ParseEventMask(ev); mask >= 0 {
			send = u.Read & mask
		}
	}
	ss.sendEvents.Store(int64(send))
	_ = ss.conn.SetReadDeadline(time.Time{})
	// The session joins the event fan-out and queues its replies under
	// qmu, so no event overtakes them and none published after the reply
	// is missed.
	ss.qmu.Lock()
	ss.srv.unauth.Add(-1)
	ss.authed.Store(true)
	ss.srv.addSession(ss)
	ss.pushLocked(ack(m, "Authentication accepted"))
	if send&ClassSystem != 0 {
		up := strconv.FormatInt(int64(time.Since(ss.srv.o.Started).Seconds()), 10)
		last := strconv.FormatInt(time.Now().Unix()-ss.srv.reloaded.Load(), 10)
		w := &builder{}
		w.h("Event", "FullyBooted")
		w.h("Privilege", privilege(ClassSystem))
		if ss.srv.render.timestamps {
			w.h("Timestamp", timestamp(time.Now()))
		}
		if ss.srv.render.systemName != "" {
			w.h("SystemName", ss.srv.render.systemName)
		}
		w.h("Uptime", up)
		w.h("LastReload", last)
		w.h("Status", "Fully Booted")
		ss.pushLocked(w.end())
	}
	ss.qmu.Unlock()
	ss.srv.log.Info("manager logged on", "user", name, "tenant", u.Tenant, "remote", ss.remote)
	// Asterisk 22 reports UsingPassword: 0 even for a Secret login.
	ss.securityEvent(events.Security{Kind: events.SuccessfulAuth, AccountID: name})
	return true
}

func (ss *session) eventsAction(m *Message) bool {
	mask := ParseEventMask(m.Get("EventMask"))
	if mask < 0 {
		ss.reply(errorResponse(m, "Invalid event mask"))
		return true
	}
	ss.sendEvents.Store(int64(ss.user.Read & mask))
	w := response(m, "Success")
	if mask > 0 {
		w.h("Events", "On")
	} else {
		w.h("Events", "Off")
	}
	ss.reply(w.end())
	return true
}

func authorityText(c Class) string {
	if c == 0 {
		return "<none>"
	}
	return privilege(c)
}

func (ss *session) listCommands(m *Message) bool {
	names := make([]string, 0, len(ss.srv.actions))
	for k := range ss.srv.actions {
		names = append(names, k)
	}
	sort.Strings(names)
	w := response(m, "Success")
	for _, k := range names {
		a := ss.srv.actions[k]
		if a.authority == 0 || ss.user.Write&a.authority != 0 {
			w.line(a.name + ": " + a.synopsis + " (Priv: " + authorityText(a.authority) + ")")
		}
	}
	ss.reply(w.end())
	return true
}

// controller returns the node's controller or answers that there is none.
func (ss *session) controller(m *Message) (control.Controller, bool) {
	if ss.srv.o.Control == nil {
		ss.reply(errorResponse(m, "Permission denied"))
		return nil, false
	}
	return ss.srv.o.Control, true
}

// splitCallerID parses `"Name" <num>` or a bare number (ast_callerid_parse).
func splitCallerID(s string) (name, num string) {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '<'); i >= 0 {
		if j := strings.IndexByte(s[i:], '>'); j > 0 {
			num = s[i+1 : i+j]
			name = strings.Trim(strings.TrimSpace(s[:i]), `"`)
			return name, num
		}
	}
	if strings.Trim(s, "0123456789+*#") == "" {
		return "", s
	}
	return s, ""
}

func (ss *session) originate(m *Message) bool {
	ctl, ok := ss.controller(m)
	if !ok {
		return true
	}
	chanName := m.Get("Channel")
	if chanName == "" {
		ss.reply(errorResponse(m, "Channel not specified"))
		return true
	}
	pri := m.Get("Priority")
	if pri != "" {
		if n, err := strconv.Atoi(pri); err == nil && n < 1 {
			ss.reply(errorResponse(m, "Invalid priority"))
			return true
		}
	}
	timeout := 30 * time.Second
	if t := m.Get("Timeout"); t != "" {
		n, err := strconv.Atoi(t)
		if err != nil || n < 0 {
			ss.reply(errorResponse(m, "Invalid timeout"))
			return true
		}
		timeout = time.Duration(n) * time.Millisecond
	}
	if !strings.Contains(chanName, "/") {
		ss.reply(errorResponse(m, "Invalid channel"))
		return true
	}
	req := control.OriginateRequest{
		Tenant: ss.tenant, Channel: chanName,
		Context: m.Get("Context"), Exten: m.Get("Exten"), Priority: pri,
		Application: m.Get("Application"), Data: m.Get("Data"),
		Timeout: timeout, CallerID: m.Get("CallerID"), Account: m.Get("Account"),
		ChannelID: m.Get("ChannelId"), Variables: map[string]string{},
	}
	for _, v := range m.GetAll("Variable") {
		for _, kv := range strings.Split(v, ",") {
			if k, val, ok := strings.Cut(kv, "="); ok && k != "" {
				req.Variables[strings.TrimSpace(k)] = val
			}
		}
	}
	if req.Application == "" {
		if req.Exten != "" && (req.Context == "" || req.Priority == "") {
			ss.reply(errorResponse(m, "Originate with 'Exten' requires 'Context' and 'Priority'"))
			return true
		}
		if req.Exten == "" && req.Context == "" {
			ss.reply(errorResponse(m, "Originate with 'Exten' requires 'Context' and 'Priority'"))
			return true
		}
	}
	async := isTrue(m.Get("Async"))
	id := m.Get("ActionID")
	run := func(ctx context.Context) (control.OriginateResult, error) {
		return ctl.Originate(ctx, req)
	}
	if !async {
		ctx, cancel := ss.actionCtx(timeout + 30*time.Second)
		_, err := run(ctx)
		cancel()
		ss.reply(originateReply(m, err))
		return true
	}
	// Async: acknowledge, then report with OriginateResponse (Asterisk's
	// fast_originate).
	ss.reply(ack(m, "Originate successfully queued"))
	ss.srv.wg.Add(1)
	go func() {
		defer ss.srv.wg.Done()
		ctx, cancel := context.WithTimeout(ss.srv.ctx, timeout+30*time.Second)
		res, err := run(ctx)
		cancel()
		ss.srv.publish(originateResponse(id, req, res, err))
	}()
	return true
}

func originateReply(m *Message, err error) []byte {
	switch {
	case err == nil:
		return ack(m, "Originate successfully queued")
	case errors.Is(err, control.ErrNoExtension):
		return errorResponse(m, "Extension does not exist.")
	}
	return errorResponse(m, "Originate failed")
}

// originateResponse is the OriginateResponse event (manager.c
// fast_originate).
func originateResponse(id string, req control.OriginateRequest, res control.OriginateResult, err error) events.Event {
	var l []string
	if id != "" {
		l = append(l, "ActionID: "+id)
	}
	resp := "Success"
	if err != nil {
		resp = "Failure"
	}
	ch := res.Channel
	if ch == "" {
		ch = req.Channel
	}
	l = append(l, "Response: "+resp, "Channel: "+ch)
	if req.Application != "" {
		l = append(l, "Application: "+req.Application, "Data: "+req.Data)
	} else {
		l = append(l, "Context: "+req.Context, "Exten: "+req.Exten)
	}
	uid := res.UniqueID
	if uid == "" {
		uid = orUnknown(req.ChannelID)
	}
	name, num := splitCallerID(req.CallerID)
	l = append(l, "Reason: "+strconv.Itoa(res.Reason), "Uniqueid: "+uid,
		"CallerIDNum: "+orUnknown(num), "CallerIDName: "+orUnknown(name))
	return events.Event{Kind: events.OriginateResponse, Tenant: req.Tenant, Extra: l}
}

func isTrue(s string) bool {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "yes", "true", "y", "t", "1", "on":
		return true
	}
	return false
}

func (ss *session) hangup(m *Message) bool {
	ctl, ok := ss.controller(m)
	if !ok {
		return true
	}
	name := m.Get("Channel")
	if name == "" {
		ss.reply(errorResponse(m, "No channel specified"))
		return true
	}
	cause := 0
	if c := m.Get("Cause"); c != "" {
		if n, err := strconv.Atoi(c); err == nil && n > 0 {
			cause = n
		}
	}
	ctx, cancel := ss.actionCtx(10 * time.Second)
	defer cancel()
	if !(len(name) > 1 && strings.HasPrefix(name, "/") && strings.HasSuffix(name, "/")) {
		if err := ctl.Hangup(ctx, ss.tenant, name, cause); err != nil {
			ss.reply(errorResponse(m, "No such channel"))
			return true
		}
		ss.reply(ack(m, "Channel Hungup"))
		return true
	}
	re, err := regexp.Compile(name[1 : len(name)-1])
	if err != nil {
		ss.reply(errorResponse(m, "Regex compile failed on: "+name))
		return true
	}
	chans, err := ctl.Channels(ctx, ss.tenant)
	if err != nil {
		ss.reply(errorResponse(m, "Memory Allocation Failure"))
		return true
	}
	ss.reply(listAck(m, "Channels hung up will follow"))
	n := 0
	for _, c := range chans {
		if !re.MatchString(c.Channel) {
			continue
		}
		if ctl.Hangup(ctx, ss.tenant, c.Channel, cause) != nil {
			continue
		}
		n++
		w := &builder{}
		w.h("Event", "ChannelHungup")
		w.h("Channel", c.Channel)
		if id := m.Get("ActionID"); id != "" {
			w.h("ActionID", id)
		}
		ss.reply(w.end())
	}
	ss.reply(listComplete(m, "ChannelsHungupListComplete", n))
	return true
}

func (ss *session) redirect(m *Message) bool {
	ctl, ok := ss.controller(m)
	if !ok {
		return true
	}
	name, ctxName, exten, pri := m.Get("Channel"), m.Get("Context"), m.Get("Exten"), m.Get("Priority")
	extra := m.Get("ExtraChannel")
	switch {
	case name == "":
		ss.reply(errorResponse(m, "Channel not specified"))
		return true
	case ctxName == "":
		ss.reply(errorResponse(m, "Context not specified"))
		return true
	case exten == "":
		ss.reply(errorResponse(m, "Exten not specified"))
		return true
	case pri == "":
		ss.reply(errorResponse(m, "Priority not specified"))
		return true
	}
	ectx, eexten, epri := m.Get("ExtraContext"), m.Get("ExtraExten"), m.Get("ExtraPriority")
	if extra != "" {
		if eexten == "" {
			ss.reply(errorResponse(m, "ExtraExten not specified"))
			return true
		}
		if epri == "" {
			ss.reply(errorResponse(m, "ExtraPriority not specified"))
			return true
		}
		if ectx == "" {
			ectx = ctxName
		}
	}
	ctx, cancel := ss.actionCtx(10 * time.Second)
	defer cancel()
	chans, _ := ctl.Channels(ctx, ss.tenant)
	exists := func(n string) bool {
		for _, c := range chans {
			if c.Channel == n {
				return true
			}
		}
		return false
	}
	if !exists(name) {
		ss.reply(errorResponse(m, "Channel does not exist: "+name))
		return true
	}
	if extra != "" && !exists(extra) {
		ss.reply(errorResponse(m, "ExtraChannel does not exist: "+extra))
		return true
	}
	if err := ctl.Redirect(ctx, ss.tenant, name, "", ctxName, exten, pri); err != nil {
		ss.reply(errorResponse(m, "Redirect failed"))
		return true
	}
	if extra == "" {
		ss.reply(ack(m, "Redirect successful"))
		return true
	}
	if err := ctl.Redirect(ctx, ss.tenant, extra, "", ectx, eexten, epri); err != nil {
		ss.reply(errorResponse(m, "Secondary redirect failed"))
		return true
	}
	ss.reply(ack(m, "Dual Redirect successful"))
	return true
}

func durationHMS(d time.Duration) string {
	s := int(d / time.Second)
	return fmt.Sprintf("%02d:%02d:%02d", s/3600, (s%3600)/60, s%60)
}

func (ss *session) status(m *Message) bool {
	ctl, ok := ss.controller(m)
	if !ok {
		return true
	}
	ctx, cancel := ss.actionCtx(10 * time.Second)
	defer cancel()
	chans, err := ctl.Channels(ctx, ss.tenant)
	if err != nil {
		ss.reply(errorResponse(m, "Memory Allocation Failure"))
		return true
	}
	if name := m.Get("Channel"); name != "" {
		var one []control.ChannelInfo
		for _, c := range chans {
			if c.Channel == name {
				one = append(one, c)
			}
		}
		if len(one) == 0 {
			ss.reply(errorResponse(m, "No such channel"))
			return true
		}
		chans = one
	}
	var vars []string
	if v := m.Get("Variables"); v != "" {
		for _, x := range strings.Split(v, ",") {
			if x = strings.TrimSpace(x); x != "" {
				vars = append(vars, x)
			}
		}
	}
	ss.reply(listAck(m, "Channel status will follow"))
	id := m.Get("ActionID")
	for _, c := range chans {
		w := &builder{}
		w.h("Event", "Status")
		w.h("Privilege", "Call")
		w.channelBlock("", &c.Snapshot)
		tech, _, _ := strings.Cut(c.Channel, "/")
		w.h("Type", tech)
		w.h("DNID", "")
		w.h("EffectiveConnectedLineNum", orUnknown(c.ConnectedLineNum))
		w.h("EffectiveConnectedLineName", orUnknown(c.ConnectedLineNam))
		w.h("TimeToHangup", "0")
		w.h("BridgeID", c.BridgeID)
		w.h("Application", c.Application)
		w.h("Data", clean(c.ApplicationData))
		w.h("Nativeformats", "(ulaw|alaw)")
		w.h("Readformat", "ulaw")
		w.h("Readtrans", "")
		w.h("Writeformat", "ulaw")
		w.h("Writetrans", "")
		w.h("Callgroup", "0")
		w.h("Pickupgroup", "0")
		w.h("Seconds", strconv.Itoa(int(c.Duration/time.Second)))
		for _, v := range vars {
			val, _ := ctl.GetVar(ctx, ss.tenant, c.Channel, v)
			w.h("Variable", v+"="+clean(val))
		}
		if id != "" {
			w.h("ActionID", id)
		}
		ss.reply(w.end())
	}
	ss.reply(listComplete(m, "StatusComplete", len(chans), "Items: "+strconv.Itoa(len(chans))))
	return true
}

func (ss *session) coreShowChannels(m *Message) bool {
	ctl, ok := ss.controller(m)
	if !ok {
		return true
	}
	ctx, cancel := ss.actionCtx(10 * time.Second)
	defer cancel()
	chans, err := ctl.Channels(ctx, ss.tenant)
	if err != nil {
		ss.reply(errorResponse(m, "Memory Allocation Failure"))
		return true
	}
	ss.reply(listAck(m, "Channels will follow"))
	id := m.Get("ActionID")
	for _, c := range chans {
		w := &builder{}
		w.h("Event", "CoreShowChannel")
		if id != "" {
			w.h("ActionID", id)
		}
		w.channelBlock("", &c.Snapshot)
		w.h("Application", c.Application)
		w.h("ApplicationData", clean(c.ApplicationData))
		w.h("Duration", durationHMS(c.Duration))
		w.h("BridgeId", c.BridgeID)
		ss.reply(w.end())
	}
	ss.reply(listComplete(m, "CoreShowChannelsComplete", len(chans)))
	return true
}

func (ss *session) getvar(m *Message) bool {
	ctl, ok := ss.controller(m)
	if !ok {
		return true
	}
	name := m.Get("Variable")
	if name == "" {
		ss.reply(errorResponse(m, "No variable specified"))
		return true
	}
	ctx, cancel := ss.actionCtx(10 * time.Second)
	defer cancel()
	v, err := ctl.GetVar(ctx, ss.tenant, m.Get("Channel"), name)
	if err != nil {
		ss.reply(errorResponse(m, "No such channel"))
		return true
	}
	w := response(m, "Success")
	w.h("Variable", name)
	w.h("Value", clean(v))
	ss.reply(w.end())
	return true
}

func (ss *session) setvar(m *Message) bool {
	ctl, ok := ss.controller(m)
	if !ok {
		return true
	}
	name := m.Get("Variable")
	if name == "" {
		ss.reply(errorResponse(m, "No variable specified"))
		return true
	}
	ctx, cancel := ss.actionCtx(10 * time.Second)
	defer cancel()
	if err := ctl.SetVar(ctx, ss.tenant, m.Get("Channel"), name, m.Get("Value")); err != nil {
		if errors.Is(err, control.ErrNoChannel) {
			ss.reply(errorResponse(m, "No such channel"))
		} else {
			ss.reply(errorResponse(m, "Variable not set"))
		}
		return true
	}
	ss.reply(ack(m, "Variable Set"))
	return true
}

// astdb refuses DB actions to tenant-bound users: Asterisk's astdb is one
// node-wide namespace.
func (ss *session) astdb(m *Message) (Database, bool) {
	if ss.srv.o.DB == nil || ss.tenant != "" {
		ss.reply(errorResponse(m, "Permission denied"))
		return nil, false
	}
	return ss.srv.o.DB, true
}

// dbEntry checks a DB action's Family and Key, answering as manager.c
// does (DBPut's errors have no final period, DBGet's and DBDel's do).
func (ss *session) dbEntry(m *Message, period string) (db Database, family, key string, ok bool) {
	if db, ok = ss.astdb(m); !ok {
		return nil, "", "", false
	}
	family, key = m.Get("Family"), m.Get("Key")
	switch {
	case family == "":
		ss.reply(errorResponse(m, "No family specified"+period))
		return nil, "", "", false
	case key == "":
		ss.reply(errorResponse(m, "No key specified"+period))
		return nil, "", "", false
	}
	return db, family, key, true
}

func (ss *session) dbGet(m *Message) bool {
	db, fam, key, ok := ss.dbEntry(m, ".")
	if !ok {
		return true
	}
	ctx, cancel := ss.actionCtx(10 * time.Second)
	defer cancel()
	// Admins only (see astdb): the default tenant's namespace, Asterisk's.
	v, found, err := db.Get(ctx, "", fam, key)
	if err != nil || !found {
		ss.reply(errorResponse(m, "Database entry not found"))
		return true
	}
	ss.reply(listAck(m, "Result will follow"))
	w := &builder{}
	w.h("Event", "DBGetResponse")
	w.h("Family", fam)
	w.h("Key", key)
	w.h("Val", clean(v))
	if id := m.Get("ActionID"); id != "" {
		w.h("ActionID", id)
	}
	ss.reply(w.end())
	ss.reply(listComplete(m, "DBGetComplete", 1))
	return true
}

func (ss *session) dbPut(m *Message) bool {
	db, fam, key, ok := ss.dbEntry(m, "")
	if !ok {
		return true
	}
	ctx, cancel := ss.actionCtx(10 * time.Second)
	defer cancel()
	if err := db.Put(ctx, "", fam, key, m.Get("Val")); err != nil {
		ss.srv.log.Error("DBPut failed", "err", err)
		ss.reply(errorResponse(m, "Failed to update entry"))
		return true
	}
	ss.reply(ack(m, "Updated database successfully"))
	return true
}

func (ss *session) dbDel(m *Message) bool {
	db, fam, key, ok := ss.dbEntry(m, ".")
	if !ok {
		return true
	}
	ctx, cancel := ss.actionCtx(10 * time.Second)
	defer cancel()
	if found, err := db.Del(ctx, "", fam, key); err != nil || !found {
		ss.reply(errorResponse(m, "Database entry could not be deleted"))
		return true
	}
	ss.reply(ack(m, "Key deleted successfully"))
	return true
}

// dbGetTree is db.c manager_db_tree_get: every entry at or below
// Family[/Key] (everything without a Family), as DBGetTreeResponse events
// with the entry's full path as Key and the ActionID last.
func (ss *session) dbGetTree(m *Message) bool {
	db, ok := ss.astdb(m)
	if !ok {
		return true
	}
	family, key := m.Get("Family"), m.Get("Key")
	if family == "" {
		key = ""
	}
	ctx, cancel := ss.actionCtx(10 * time.Second)
	defer cancel()
	rows, err := db.Tree(ctx, "", family, key)
	if err != nil {
		ss.srv.log.Error("DBGetTree failed", "err", err)
		ss.reply(errorResponse(m, "Unable to search database"))
		return true
	}
	ss.reply(listAck(m, "Result will follow"))
	id := m.Get("ActionID")
	for _, r := range rows {
		w := &builder{}
		w.h("Event", "DBGetTreeResponse")
		w.h("Key", clean(r[0]))
		w.h("Val", clean(r[1]))
		if id != "" {
			w.h("ActionID", id)
		}
		ss.reply(w.end())
	}
	ss.reply(listComplete(m, "DBGetTreeComplete", len(rows)))
	return true
}

// dbDelTree is db.c manager_dbdeltree.
func (ss *session) dbDelTree(m *Message) bool {
	db, ok := ss.astdb(m)
	if !ok {
		return true
	}
	family := m.Get("Family")
	if family == "" {
		ss.reply(errorResponse(m, "No family specified."))
		return true
	}
	ctx, cancel := ss.actionCtx(10 * time.Second)
	defer cancel()
	n, err := db.DelTree(ctx, "", family, m.Get("Key"))
	switch {
	case err != nil:
		ss.srv.log.Error("DBDelTree failed", "err", err)
		ss.reply(errorResponse(m, "Database unavailable"))
	case n == 0:
		ss.reply(errorResponse(m, "Database entry not found"))
	default:
		ss.reply(ack(m, "Key tree deleted successfully"))
	}
	return true
}

// ErrNoModule is returned by NodeInfo.Reload for an unknown module.
var ErrNoModule = control.ErrNoModule

func (ss *session) reload(m *Message) bool {
	module := m.Get("Module")
	if err := ss.runReload(module); err != nil {
		if !errors.Is(err, ErrNoModule) && !errors.Is(err, errReloadDenied) && !errors.Is(err, errReloadUnsupported) {
			ss.srv.log.Error("reload failed", "module", module, "err", err)
		}
		ss.reply(errorResponse(m, reloadError(err, false)))
		return true
	}
	ss.reply(ack(m, "Module Reloaded"))
	return true
}

// visibleHint finds the hint of exten@context if the session may see it: a
// tenant names its own contexts bare and reaches no other's (the hint's
// devices are then its own endpoints); an admin names any context as the
// node does ("acme~internal" for a hosted tenant's).
func (ss *session) visibleHint(context, exten string) (Hint, bool) {
	n := ss.srv.o.Node
	if n == nil {
		return Hint{}, false
	}
	if ss.tenant != "" {
		q, ok := tenancy.Context(ss.tenant, context)
		if !ok {
			return Hint{}, false
		}
		context = q
	}
	for _, h := range n.Hints() {
		if h.Context == context && h.Exten == exten {
			return h, true
		}
	}
	return Hint{}, false
}

func (ss *session) extensionState(m *Message) bool {
	exten, ctxName := m.Get("Exten"), m.Get("Context")
	if exten == "" {
		ss.reply(errorResponse(m, "Extension not specified"))
		return true
	}
	if ctxName == "" {
		ctxName = "default"
	}
	st, txt, hint := -1, "Unknown", ""
	if h, ok := ss.visibleHint(ctxName, exten); ok {
		st, txt = extState(ss.srv.dev.HintState(h))
		hint = strings.Join(h.Devices, "&")
	}
	w := response(m, "Success")
	w.h("Message", "Extension Status")
	w.h("Exten", exten)
	w.h("Context", ctxName)
	w.h("Hint", hint)
	w.h("Status", strconv.Itoa(st))
	w.h("StatusText", txt)
	ss.reply(w.end())
	return true
}

func (ss *session) userEvent(m *Message) bool {
	name := m.Get("UserEvent")
	lines := []string{"UserEvent: " + name}
	for _, l := range m.Lines {
		if _, ok := headerValue(l, "UserEvent"); ok {
			continue
		}
		if _, ok := headerValue(l, "Action"); ok {
			continue
		}
		lines = append(lines, l)
	}
	ss.reply(ack(m, "Event Sent"))
	ss.srv.publish(events.Event{Kind: events.UserEvent, Tenant: ss.tenant, Extra: lines})
	return true
}

// agiAction is res_agi.c action_add_agi_cmd: queue a command on a channel
// in AsyncAGI. Its AsyncAGIExec event carries the CommandID given here.
// A tenant-bound user reaches only its tenant's channels; another
// tenant's channel "does not exist".
func (ss *session) agiAction(m *Message) bool {
	name, cmd := m.Get("Channel"), m.Get("Command")
	if name == "" || cmd == "" {
		ss.reply(errorResponse(m, "Both, Channel and Command are *required*"))
		return true
	}
	q := ss.srv.o.AGI
	if q == nil {
		ss.reply(errorResponse(m, "Channel "+name+" does not exist."))
		return true
	}
	// The ack is written before the command can run, so the client reads
	// it before the command's AsyncAGIExec, as from Asterisk.
	chName, err := q.QueueCommand(ss.tenant, name, cmd, m.Get("CommandID"), func() {
		ss.reply(ack(m, "Added AGI command to queue"))
	})
	switch {
	case errors.Is(err, control.ErrNoChannel):
		ss.reply(errorResponse(m, "Channel "+name+" does not exist."))
	case err != nil:
		ss.reply(errorResponse(m, "Failed to add AGI command to channel "+chName+" queue"))
	}
	return true
}
