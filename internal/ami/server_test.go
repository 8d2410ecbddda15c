package ami

import (
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"net"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/entvoice/entvoice/internal/events"
)

var (
	reTimestamp = regexp.MustCompile(`Timestamp: \d+\.\d{6}\r\n`)
	reUptime    = regexp.MustCompile(`(Uptime|LastReload): \d+\r\n`)
)

// TestCaptureBannerLoginPingLogoff compares the bytes of the banner,
// Login, FullyBooted, Ping and Logoff with the Asterisk 22 capture.
func TestCaptureBannerLoginPingLogoff(t *testing.T) {
	s := testServer(t, Options{})
	c := dialAMI(t, s)
	if got, want := c.banner(), captureMsgs(t, 1, "Banner")[0]; got != want {
		t.Fatalf("banner %q, want %q", got, want)
	}
	c.raw("Action: Login\r\nUsername: admin\r\nSecret: secret\r\nActionID: login-1\r\n\r\n")
	login := captureMsgs(t, 1, "Login")
	if got := c.read(); got != login[0] {
		t.Fatalf("login reply %q, want %q", got, login[0])
	}
	fb := c.read()
	if got, want := reUptime.ReplaceAllString(fb, "$1: N\r\n"), reUptime.ReplaceAllString(login[1], "$1: N\r\n"); got != want {
		t.Fatalf("FullyBooted %q, want %q", got, want)
	}
	// SuccessfulAuth: the same headers in the same order.
	sa := c.until("Event: SuccessfulAuth")
	if got, want := headerNames(sa), headerNames(login[2]); got != want {
		t.Errorf("SuccessfulAuth headers %s, want %s", got, want)
	}
	if header(sa, "AccountID") != "admin" || !strings.HasPrefix(header(sa, "RemoteAddress"), "IPV4/TCP/127.0.0.1/") {
		t.Errorf("SuccessfulAuth %q", sa)
	}
	pings := captureMsgs(t, 1, "Ping")
	c.raw("Action: Ping\r\nActionID: ping-1\r\n\r\n")
	if got := c.read(); reTimestamp.ReplaceAllString(got, "T") != reTimestamp.ReplaceAllString(pings[0], "T") {
		t.Errorf("ping %q, want %q", got, pings[0])
	}
	c.raw("Action: Ping\r\n\r\n")
	if got := c.read(); reTimestamp.ReplaceAllString(got, "T") != reTimestamp.ReplaceAllString(pings[1], "T") {
		t.Errorf("ping without ActionID %q, want %q", got, pings[1])
	}
	c.raw("Action: Logoff\r\nActionID: logoff-1\r\n\r\n")
	if got, want := c.read(), captureMsgs(t, 1, "Logoff")[0]; got != want {
		t.Errorf("logoff %q, want %q", got, want)
	}
	if !c.closed() {
		t.Error("connection still open after Logoff")
	}
}

func headerNames(msg string) string {
	var names []string
	for _, l := range strings.Split(strings.TrimSpace(msg), "\r\n") {
		k, _, _ := strings.Cut(l, ":")
		names = append(names, k)
	}
	return strings.Join(names, ",")
}

// TestBadInput: Asterisk's answers to malformed requests, with the
// connection kept.
func TestBadInput(t *testing.T) {
	s := testServer(t, Options{})
	c := dialAMI(t, s)
	c.banner()
	c.send("Action: Ping")
	if got := c.read(); got != "Response: Error\r\nMessage: Permission denied\r\n\r\n" {
		t.Errorf("action before login: %q", got)
	}
	c.send("Action: Login", "Username: admin", "Secret: secret")
	c.until("Response: Success")
	cases := []struct{ in, want string }{
		{"ActionID: 7\r\nFoo: bar\r\n\r\n", "Response: Error\r\nActionID: 7\r\nMessage: Missing action in request\r\n\r\n"},
		{"Action: \r\nAction: \r\n\r\n", "Response: Error\r\nMessage: Missing action in request\r\n\r\n"},
		{"Action: Frobnicate\r\nActionID: x1\r\n\r\n", "Response: Error\r\nActionID: x1\r\nMessage: Invalid/unknown command: Frobnicate. Use Action: ListCommands to show available commands.\r\n\r\n"},
		{"action: PING\nactionid: lf\n\n", "Response: Success\r\nActionID: lf\r\nPing: Pong\r\nTimestamp: T"},
		{"Action: Ping\r\nActionID: a\r\nX: " + strings.Repeat("y", 2000) + "\r\n\r\n", "Response: Error\r\nActionID: a\r\nMessage: Failed to parse message: line too long\r\n\r\n"},
		{"Action: Ping\r\nActionID: b\r\n" + strings.Repeat("X-H: 1\r\n", 200) + "\r\n", "Response: Error\r\nActionID: b\r\nMessage: Too many lines in message or allocation failure\r\n\r\n"},
		{"Action: Events\r\nEventMask: \r\n\r\n", "Response: Error\r\nMessage: Invalid event mask\r\n\r\n"},
		{"Action: Login\r\nUsername: admin\r\nSecret: secret\r\n\r\n", "Response: Success\r\nMessage: Already authenticated\r\n\r\n"},
	}
	for _, tc := range cases {
		c.raw(tc.in)
		got := c.until("Response:")
		got = reTimestamp.ReplaceAllString(got, "Timestamp: T")
		if !strings.HasPrefix(got, tc.want) {
			t.Errorf("%.60q: got %q, want %q", tc.in, got, tc.want)
		}
	}
	c.send("Action: Ping", "ActionID: still-here")
	if got := c.until("Response:"); header(got, "ActionID") != "still-here" {
		t.Errorf("connection unusable after bad input: %q", got)
	}
}

// TestLoginFailure: a wrong secret waits a second, answers Authentication
// failed and closes; the admin sees InvalidPassword; repeated failures ban
// the address.
func TestLoginFailure(t *testing.T) {
	s := testServer(t, Options{MaxAuthFailures: 2, BanTime: time.Minute})
	admin := dialAMI(t, s)
	admin.login("admin", "secret")
	c := dialAMI(t, s)
	c.banner()
	start := time.Now()
	c.send("Action: Login", "Username: admin", "Secret: wrong", "ActionID: f1")
	if got := c.read(); got != "Response: Error\r\nActionID: f1\r\nMessage: Authentication failed\r\n\r\n" {
		t.Errorf("failed login: %q", got)
	}
	if d := time.Since(start); d < 900*time.Millisecond {
		t.Errorf("failed login answered after %v, Asterisk waits 1 s", d)
	}
	if !c.closed() {
		t.Error("connection open after a failed login")
	}
	ev := admin.until("Event: InvalidPassword")
	if header(ev, "AccountID") != "admin" || header(ev, "Service") != "AMI" || header(ev, "Privilege") != "security,all" {
		t.Errorf("InvalidPassword event %q", ev)
	}
	// Second failure (unknown user) bans 127.0.0.1.
	c2 := dialAMI(t, s)
	c2.login("nobody", "x")
	if !c2.closed() {
		t.Error("connection open after a failed login")
	}
	c3, err := net.Dial("tcp", s.Addrs()[0].String())
	if err != nil {
		t.Fatal(err)
	}
	defer c3.Close()
	_ = c3.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 64)
	if n, err := c3.Read(buf); err == nil {
		t.Errorf("banned address got %q", buf[:n])
	}
	// The logged-in admin is not affected.
	admin.send("Action: Ping")
	admin.until("Response: Success")
}

func TestMD5Login(t *testing.T) {
	s := testServer(t, Options{})
	c := dialAMI(t, s)
	c.banner()
	c.send("Action: Challenge", "AuthType: plain")
	if got := c.read(); got != "Response: Error\r\nMessage: Must specify AuthType\r\n\r\n" {
		t.Errorf("challenge without MD5: %q", got)
	}
	c.send("Action: Challenge", "AuthType: MD5", "ActionID: ch")
	r := c.read()
	ch := header(r, "Challenge")
	if !regexp.MustCompile(`^Response: Success\r\nActionID: ch\r\nChallenge: \d+\r\n\r\n$`).MatchString(r) {
		t.Fatalf("challenge reply %q", r)
	}
	sum := md5.Sum([]byte(ch + "secret"))
	c.send("Action: Login", "AuthType: MD5", "Username: admin", "Key: "+hex.EncodeToString(sum[:]))
	if got := c.read(); got != "Response: Success\r\nMessage: Authentication accepted\r\n\r\n" {
		t.Errorf("MD5 login: %q", got)
	}
}

// TestLoginPolicies: ACL, allowmultiplelogin, authtimeout, authlimit.
func TestLoginPolicies(t *testing.T) {
	s := testServer(t, Options{AuthTimeout: 300 * time.Millisecond, AuthLimit: 2})
	acl := dialAMI(t, s)
	if got := acl.login("remote", "pw"); !strings.Contains(got, "Authentication failed") {
		t.Errorf("login from outside the user's permit list: %q", got)
	}
	one := dialAMI(t, s)
	if got := one.login("single", "pw"); !strings.Contains(got, "Authentication accepted") {
		t.Fatalf("first login: %q", got)
	}
	two := dialAMI(t, s)
	if got := two.login("single", "pw"); got != "Response: Error\r\nMessage: Login Already In Use\r\n\r\n" {
		t.Errorf("second login of a single-login user: %q", got)
	}
	if !two.closed() {
		t.Error("connection open after Login Already In Use")
	}
	idle := dialAMI(t, s)
	idle.banner()
	if !idle.closed() {
		t.Error("unauthenticated connection outlived authtimeout")
	}
	// authlimit 2: a third unauthenticated connection is refused at once.
	a, b := dialAMI(t, s), dialAMI(t, s)
	a.banner()
	b.banner()
	third := dialAMI(t, s)
	_ = third.c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if l, err := third.r.ReadString('\n'); err == nil {
		t.Errorf("connection over authlimit got %q", l)
	}
}

// TestClassesAndMasks: read classes and Events masks select events with
// Asterisk's (send_events & class) == class; write classes gate actions.
func TestClassesAndMasks(t *testing.T) {
	bus := events.New()
	s := testServer(t, Options{Bus: bus})
	callOnly := dialAMI(t, s)
	callOnly.login("callonly", "pw")
	off := dialAMI(t, s)
	off.banner()
	off.send("Action: Login", "Username: admin", "Secret: secret", "Events: off")
	if got := off.read(); !strings.Contains(got, "Authentication accepted") {
		t.Fatal(got)
	}
	snap := &events.Snapshot{Channel: "PJSIP/a-00000001", State: 4, StateDesc: "Ring", UniqueID: "1.1", LinkedID: "1.1", Language: "en", Priority: 1}
	bus.Publish(events.Event{Kind: events.VarSet, Channel: snap, Variable: "X", Value: "1"})
	bus.Publish(events.Event{Kind: events.Newchannel, Channel: snap})
	if got := callOnly.until("Event:"); !strings.HasPrefix(got, "Event: Newchannel\r\nPrivilege: call,all\r\n") {
		t.Errorf("call-only user got %q first, want Newchannel (VarSet is dialplan)", got)
	}
	// Write class call: no Command, no Originate.
	callOnly.send("Action: Command", "Command: core show version")
	if got := callOnly.until("Response:"); got != "Response: Error\r\nMessage: Permission denied\r\n\r\n" {
		t.Errorf("Command without the command class: %q", got)
	}
	// AGI needs the agi write class.
	callOnly.send("Action: AGI", "Channel: PJSIP/a-00000001", "Command: NOOP")
	if got := callOnly.until("Response:"); got != "Response: Error\r\nMessage: Permission denied\r\n\r\n" {
		t.Errorf("AGI without the agi class: %q", got)
	}
	// AsyncAGI events are in the agi read class, which callonly lacks.
	bus.Publish(events.Event{Kind: events.AsyncAGIExec, Channel: snap, AGI: &events.AGI{Result: "200 result=0\n"}})
	bus.Publish(events.Event{Kind: events.Newstate, Channel: snap})
	if got := callOnly.until("Event:"); !strings.HasPrefix(got, "Event: Newstate\r\n") {
		t.Errorf("call-only user got %q, want Newstate (AsyncAGIExec is agi)", got)
	}
	// Events: off user turns events on for the call class only.
	off.send("Action: Events", "EventMask: call", "ActionID: e")
	if got := off.read(); got != "Response: Success\r\nActionID: e\r\nEvents: On\r\n\r\n" {
		t.Errorf("Events: %q", got)
	}
	bus.Publish(events.Event{Kind: events.VarSet, Channel: snap, Variable: "Y", Value: "2"})
	bus.Publish(events.Event{Kind: events.Hangup, Channel: snap, Cause: 16})
	got := off.read()
	if !strings.HasPrefix(got, "Event: Hangup\r\n") || header(got, "Cause-txt") != "Normal Clearing" {
		t.Errorf("after Events: call, got %q", got)
	}
	off.send("Action: Events", "EventMask: off")
	if got := off.read(); got != "Response: Success\r\nEvents: Off\r\n\r\n" {
		t.Errorf("Events off: %q", got)
	}
}

// TestTenantEvents: a tenant user sees its tenant's events only, never the
// default tenant's; an admin sees every event.
func TestTenantEvents(t *testing.T) {
	bus := events.New()
	s := testServer(t, Options{Bus: bus})
	admin := dialAMI(t, s)
	admin.login("admin", "secret")
	acme := dialAMI(t, s)
	acme.login("acme", "acmepw")
	mk := func(name, tenant string) *events.Snapshot {
		return &events.Snapshot{Channel: name, StateDesc: "Down", UniqueID: name, LinkedID: name, Tenant: tenant}
	}
	bus.Publish(events.Event{Kind: events.Newchannel, Channel: mk("PJSIP/static-1", "")})
	bus.Publish(events.Event{Kind: events.Newchannel, Channel: mk("PJSIP/static-2", "default")})
	bus.Publish(events.Event{Kind: events.Newchannel, Channel: mk("PJSIP/other-1", "globex")})
	bus.Publish(events.Event{Kind: events.PeerStatus, Peer: "PJSIP/static", Status: "Reachable"})
	bus.Publish(events.Event{Kind: events.Newchannel, Channel: mk("PJSIP/acme-1", "acme")})
	bus.Publish(events.Event{Kind: events.UserEvent, Tenant: "acme", Extra: []string{"UserEvent: done"}})
	got := acme.until("Event: Newchannel")
	if header(got, "Channel") != "PJSIP/acme-1" || header(got, "Tenantid") != "acme" {
		t.Errorf("tenant user's first channel event: %q", got)
	}
	if got := acme.until("Event:"); !strings.HasPrefix(got, "Event: UserEvent") {
		t.Errorf("tenant user got %q, want its UserEvent", got)
	}
	var seen []string
	for len(seen) < 4 {
		m := admin.until("Event: Newchannel")
		seen = append(seen, header(m, "Channel"))
		// Asterisk 22 emits Tenantid only for a channel with a tenant
		// id; the default tenant's channels are a plain Asterisk's.
		want := map[string]string{"PJSIP/other-1": "globex", "PJSIP/acme-1": "acme"}[header(m, "Channel")]
		if header(m, "Tenantid") != want || (want == "" && strings.Contains(m, "Tenantid")) {
			t.Errorf("admin's %q: Tenantid want %q", m, want)
		}
	}
	if fmt.Sprint(seen) != "[PJSIP/static-1 PJSIP/static-2 PJSIP/other-1 PJSIP/acme-1]" {
		t.Errorf("admin saw %v", seen)
	}
}

// TestBackPressure: a client that stops reading is disconnected once its
// queue is full; the other session keeps getting every event.
func TestBackPressure(t *testing.T) {
	bus := events.New()
	s := testServer(t, Options{Bus: bus, QueueSize: 2000})
	slow := dialAMI(t, s)
	slow.login("admin", "secret")
	fast := dialAMI(t, s)
	fast.login("admin", "secret")
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			m, err := fast.readMsg()
			if err != nil {
				t.Errorf("fast reader: %v", err)
				return
			}
			if strings.Contains(m, "UserEvent: last") {
				return
			}
		}
	}()
	snap := &events.Snapshot{Channel: "PJSIP/x-00000001", UniqueID: "1", LinkedID: "1"}
	for i := 0; s.Kicked.Load() == 0 && i < 2_000_000; i++ {
		bus.Publish(events.Event{Kind: events.VarSet, Channel: snap, Variable: "N", Value: strings.Repeat("v", 200)})
		if i%50 == 49 {
			// Pace the load so the reading client keeps up.
			time.Sleep(time.Millisecond)
		}
	}
	if s.Kicked.Load() == 0 {
		t.Fatal("the session that does not read was never disconnected")
	}
	t.Logf("kicked after %d events delivered", s.Delivered.Load())
	bus.Publish(events.Event{Kind: events.UserEvent, Extra: []string{"UserEvent: last"}})
	<-done
	// The server dropped the session (the client has megabytes of events
	// still in its socket buffer to read through: it is not read here).
	deadline := time.Now().Add(10 * time.Second)
	for len(*s.sessions.Load()) != 1 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := len(*s.sessions.Load()); n != 1 {
		t.Errorf("%d sessions left, want the reading one only", n)
	}
}

func TestUserEventAction(t *testing.T) {
	s := testServer(t, Options{})
	a := dialAMI(t, s)
	a.login("admin", "secret")
	a.send("Action: UserEvent", "UserEvent: Wallboard", "Queue: sales", "ActionID: u1")
	if got := a.until("Response:"); got != "Response: Success\r\nActionID: u1\r\nMessage: Event Sent\r\n\r\n" {
		t.Errorf("UserEvent reply %q", got)
	}
	if got := a.until("Event: UserEvent"); got != "Event: UserEvent\r\nPrivilege: user,all\r\nUserEvent: Wallboard\r\nQueue: sales\r\nActionID: u1\r\n\r\n" {
		t.Errorf("UserEvent %q", got)
	}
	a.send("Action: ListCommands")
	lc := a.until("Response:")
	for _, want := range []string{"Originate: Originate a call. (Priv: originate,all)", "Ping: Keepalive command. (Priv: <none>)"} {
		if !strings.Contains(lc, want+"\r\n") {
			t.Errorf("ListCommands lacks %q", want)
		}
	}
}

// TestRenderEvents: the bodies of events raised elsewhere in the node.
func TestRenderEvents(t *testing.T) {
	snap := &events.Snapshot{Channel: "PJSIP/1001-00000001", State: 6, StateDesc: "Up", CallerIDNum: "1001",
		CallerIDName: `Al "x"`, Language: "en", Context: "ivr", Exten: "s", Priority: 2, UniqueID: "1.1", LinkedID: "1.1"}
	block := "Channel: PJSIP/1001-00000001\r\nChannelState: 6\r\nChannelStateDesc: Up\r\nCallerIDNum: 1001\r\nCallerIDName: Al \\\"x\\\"\r\n" +
		"ConnectedLineNum: <unknown>\r\nConnectedLineName: <unknown>\r\nLanguage: en\r\nAccountCode: \r\nContext: ivr\r\nExten: s\r\nPriority: 2\r\nUniqueid: 1.1\r\nLinkedid: 1.1\r\n"
	br := &events.Bridge{UniqueID: "b-1", Type: "basic", Technology: "simple_bridge", Creator: "Dial", NumChannels: 2}
	for _, tc := range []struct {
		e    events.Event
		want string
	}{
		{events.Event{Kind: events.DTMFEnd, Channel: snap, Digit: '5', Duration: 120 * time.Millisecond, Direction: "Received"},
			"Event: DTMFEnd\r\nPrivilege: dtmf,all\r\n" + block + "Digit: 5\r\nDurationMs: 120\r\nDirection: Received\r\n\r\n"},
		{events.Event{Kind: events.DTMFBegin, Channel: snap, Digit: '#', Direction: "Received"},
			"Event: DTMFBegin\r\nPrivilege: dtmf,all\r\n" + block + "Digit: #\r\nDirection: Received\r\n\r\n"},
		{events.Event{Kind: events.BridgeEnter, Channel: snap, Bridge: br},
			"Event: BridgeEnter\r\nPrivilege: call,all\r\nBridgeUniqueid: b-1\r\nBridgeType: basic\r\nBridgeTechnology: simple_bridge\r\nBridgeCreator: Dial\r\nBridgeName: \r\nBridgeNumChannels: 2\r\nBridgeVideoSourceMode: none\r\n" + block + "\r\n"},
		{events.Event{Kind: events.DialBegin, Dest: snap, DialString: "1001"},
			"Event: DialBegin\r\nPrivilege: call,all\r\nDest" + strings.ReplaceAll(strings.TrimSuffix(block, "\r\n"), "\r\n", "\r\nDest") + "\r\nDialString: 1001\r\n\r\n"},
		{events.Event{Kind: events.HangupRequest, Channel: snap},
			"Event: HangupRequest\r\nPrivilege: call,all\r\n" + block + "\r\n"},
		{events.Event{Kind: events.PeerStatus, Peer: "PJSIP/1001", Status: "Reachable"},
			"Event: PeerStatus\r\nPrivilege: system,all\r\nChannelType: PJSIP\r\nPeer: PJSIP/1001\r\nPeerStatus: Reachable\r\n\r\n"},
		{events.Event{Kind: events.VarSet, Variable: "G", Value: "1"},
			"Event: VarSet\r\nPrivilege: dialplan,all\r\nChannel: none\r\nUniqueid: none\r\nVariable: G\r\nValue: 1\r\n\r\n"},
		{events.Event{Kind: events.AGIExecEnd, Channel: snap, AGI: &events.AGI{CommandID: "7", Command: "ANSWER", ResultCode: "200", Result: "Success"}},
			"Event: AGIExecEnd\r\nPrivilege: agi,all\r\n" + block + "CommandId: 7\r\nCommand: ANSWER\r\nResultCode: 200\r\nResult: Success\r\n\r\n"},
		{events.Event{Kind: events.AsyncAGIStart, Channel: snap, AGI: &events.AGI{Env: "agi_request: async\n\n"}},
			"Event: AsyncAGIStart\r\nPrivilege: agi,all\r\n" + block + "Env: agi_request%3A%20async%0A%0A\r\n\r\n"},
		{events.Event{Kind: events.AsyncAGIExec, Channel: snap, AGI: &events.AGI{Result: "200 result=0\n", CommandID: "c1"}},
			"Event: AsyncAGIExec\r\nPrivilege: agi,all\r\n" + block + "Result: 200%20result%3D0%0A\r\nCommandId: c1\r\n\r\n"},
		{events.Event{Kind: events.AsyncAGIEnd, Channel: snap},
			"Event: AsyncAGIEnd\r\nPrivilege: agi,all\r\n" + block + "\r\n"},
	} {
		_, got, _ := render(&tc.e, renderOpts{})
		if string(got) != tc.want {
			t.Errorf("%s:\n got %q\nwant %q", tc.e.Kind, got, tc.want)
		}
	}
}

// TestCloseEndsUnauthenticated: Close ends connections that never logged
// in (they would otherwise hold the node's shutdown for authtimeout).
func TestCloseEndsUnauthenticated(t *testing.T) {
	s := testServer(t, Options{AuthTimeout: time.Hour})
	c := dialAMI(t, s)
	c.banner()
	done := make(chan struct{})
	go func() { _ = s.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("Close waits for an unauthenticated connection")
	}
	if !c.closed() {
		t.Error("connection still open after Close")
	}
}

// TestTimestampEvents: timestampevents adds Timestamp (when the event
// happened) after Privilege, and systemname adds SystemName.
func TestTimestampEvents(t *testing.T) {
	bus := events.New()
	s := testServer(t, Options{Bus: bus, TimestampEvents: true, SystemName: "node1"})
	c := dialAMI(t, s)
	c.login("admin", "secret")
	at := time.Unix(1795925948, 116372000)
	bus.Publish(events.Event{Kind: events.UserEvent, Time: at, Extra: []string{"UserEvent: tick"}})
	if got := c.until("Event: UserEvent"); got != "Event: UserEvent\r\nPrivilege: user,all\r\nTimestamp: 1795925948.116372\r\nSystemName: node1\r\nUserEvent: tick\r\n\r\n" {
		t.Errorf("event %q", got)
	}
}

// TestEventDemand: the server's own subscription is no demand for events;
// each logged-in session is, until it logs off or drops (on central, the
// nodes send their events up only while a session is there).
func TestEventDemand(t *testing.T) {
	bus := events.New()
	s := testServer(t, Options{Bus: bus})
	wanted := func() bool { w, _ := bus.Wanted(); return w }
	if wanted() {
		t.Fatal("an AMI server with no session wants events")
	}
	c := dialAMI(t, s)
	c.banner()
	if wanted() {
		t.Fatal("a connection not logged in wants events")
	}
	c.send("Action: Login", "Username: admin", "Secret: secret")
	c.until("Response: Success")
	if !wanted() {
		t.Fatal("a logged-in session does not want events")
	}
	d := dialAMI(t, s)
	d.login("admin", "secret")
	c.send("Action: Logoff")
	c.until("Response: Goodbye")
	if !c.closed() {
		t.Fatal("Logoff left the connection open")
	}
	deadline := time.Now().Add(5 * time.Second)
	if !wanted() {
		t.Fatal("one session logged off, the other still wants events")
	}
	_ = d.c.Close()
	for wanted() && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if wanted() {
		t.Fatal("no session left, events still wanted")
	}
}
