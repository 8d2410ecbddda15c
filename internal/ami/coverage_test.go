package ami

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/entvoice/entvoice/internal/control"
	"github.com/entvoice/entvoice/internal/dialplan"
	"github.com/entvoice/entvoice/internal/events"
)

// fakeNode is a NodeInfo with a default-tenant user 1001 (registered), a
// trunk, and hosted tenant acme's user 1001 with its own contexts.
type fakeNode struct {
	plan *dialplan.Dialplan
}

var fakeExpires = time.Unix(1700003600, 0)

func (f *fakeNode) Endpoints(tenant string) []EndpointInfo {
	all := []EndpointInfo{
		{Name: "1001", Context: "internal", Codecs: []string{"ulaw", "alaw"}, CallerName: "Alice", CallerNum: "1001",
			MaxContacts: 5, Realm: "entvoice", MinExpires: 60, MaxExpires: 7200, DefaultExpires: 3600,
			Contacts: []ContactInfo{{URI: "sip:1001@192.0.2.10:5062;ob", Expires: fakeExpires, UserAgent: "phone/1.0",
				CallID: "c1@x", ViaAddr: "192.0.2.10", ViaPort: 5062}}},
		{Name: "carrier", Trunk: true, Transport: "udp", Context: "from-carrier", Codecs: []string{"alaw"},
			MinExpires: 60, MaxExpires: 7200, DefaultExpires: 3600,
			Contacts: []ContactInfo{{URI: "sip:198.51.100.1:5060", Static: true}}},
		{Name: "1001", Tenant: "acme", Context: "acme~internal", Codecs: []string{"ulaw"}, MaxContacts: 5,
			Realm: "acme.example", MinExpires: 60, MaxExpires: 7200, DefaultExpires: 3600},
	}
	var out []EndpointInfo
	for _, e := range all {
		if tenant == "" || e.Tenant == tenant {
			out = append(out, e)
		}
	}
	return out
}

func (f *fakeNode) Registered(tenant, ep string) bool {
	return (tenant == "" || tenant == "default") && (ep == "1001" || ep == "carrier")
}

func (f *fakeNode) Hints() []Hint {
	return []Hint{{Context: "internal", Exten: "1001", Devices: []string{"PJSIP/1001"}},
		{Context: "internal", Exten: "_2XXX", Devices: []string{"PJSIP/${EXTEN}"}},
		{Context: "acme~internal", Exten: "1001", Devices: []string{"PJSIP/1001"}}}
}

func (f *fakeNode) Dialplan() *dialplan.Dialplan { return f.plan }

func (f *fakeNode) ProcessedCalls(tenant string) int {
	if tenant == "" {
		return 7
	}
	return 2
}

func (f *fakeNode) Reload(_ context.Context, module string) error {
	if !control.ReloadsDialplan(module) {
		return control.ErrNoModule
	}
	return nil
}

func (f *fakeNode) Version() string { return "test" }

// fakeControl lists a bridged call between PJSIP/1001 and a Local pair
// whose other half is bridged with PJSIP/carrier, and acme's own call.
type fakeControl struct{ control.Controller }

func chanInfo(name, tenant, uid, bridge string) control.ChannelInfo {
	return control.ChannelInfo{Snapshot: events.Snapshot{Channel: name, Tenant: tenant, UniqueID: uid}, BridgeID: bridge}
}

func (fakeControl) Channels(_ context.Context, tenant string) ([]control.ChannelInfo, error) {
	all := []control.ChannelInfo{
		chanInfo("PJSIP/1001-00000001", "", "1", "b1"),
		chanInfo("Local/200@internal-00000002;1", "", "2", "b1"),
		chanInfo("Local/200@internal-00000002;2", "", "3", "b2"),
		chanInfo("PJSIP/carrier-00000003", "", "4", "b2"),
		chanInfo("PJSIP/1001-00000004", "acme", "5", ""),
	}
	var out []control.ChannelInfo
	for _, c := range all {
		if tenant == "" || c.Tenant == tenant {
			out = append(out, c)
		}
	}
	return out, nil
}

const fakePlan = `[internal]
exten => 1001,hint,PJSIP/1001
exten => 1001,1,Dial(PJSIP/1001)
 same => n(after),Hangup()
include => shared
ignorepat => 9

[shared]
exten => _8X.,1,Playback(demo)

[acme~internal]
exten => 1001,1,Dial(PJSIP/1001)
include => acme~shared

[acme~shared]
exten => 500,1,Answer()
`

func nodeServer(t *testing.T) *Server {
	t.Helper()
	plan, err := dialplan.Parse("extensions.conf", strings.NewReader(fakePlan))
	if err != nil {
		t.Fatal(err)
	}
	return testServer(t, Options{Node: &fakeNode{plan: plan}, Control: fakeControl{}, SystemName: "pbx1",
		Started: time.Date(2026, 1, 2, 3, 4, 5, 0, time.Local)})
}

// act logs in and sends one action, returning every message up to the one
// that starts with last ("Response:" for a plain response).
func act(t *testing.T, s *Server, user, secret, last string, lines ...string) []string {
	t.Helper()
	c := dialAMI(t, s)
	c.login(user, secret)
	c.send(lines...)
	var out []string
	for {
		m := c.read()
		if strings.HasPrefix(m, "Event: FullyBooted") || strings.HasPrefix(m, "Event: SuccessfulAuth") {
			continue
		}
		out = append(out, m)
		if strings.HasPrefix(m, last) {
			return out
		}
	}
}

func TestCoreSettingsStatus(t *testing.T) {
	s := nodeServer(t)
	m := act(t, s, "admin", "secret", "Response:", "Action: CoreSettings", "ActionID: cs")[0]
	if got := headerNames(m); got != "Response,ActionID,AMIversion,AsteriskVersion,SystemName,CoreMaxCalls,CoreMaxLoadAvg,CoreRunUser,CoreRunGroup,CoreMaxFilehandles,CoreRealTimeEnabled,CoreCDRenabled,CoreHTTPenabled,SoundsSearchCustomDir" {
		t.Errorf("CoreSettings fields %s", got)
	}
	for k, v := range map[string]string{"AMIversion": "11.0.0", "SystemName": "pbx1", "CoreMaxLoadAvg": "0.000000",
		"CoreRealTimeEnabled": "No", "CoreCDRenabled": "Yes"} {
		if header(m, k) != v {
			t.Errorf("CoreSettings %s = %q, want %q", k, header(m, k), v)
		}
	}
	if !strings.HasPrefix(header(m, "AsteriskVersion"), "22.") {
		t.Errorf("AsteriskVersion %q", header(m, "AsteriskVersion"))
	}
	m = act(t, s, "admin", "secret", "Response:", "Action: CoreStatus")[0]
	want := "Response: Success\r\nCoreStartupDate: 2026-01-02\r\nCoreStartupTime: 03:04:05\r\nCoreReloadDate: 2026-01-02\r\n" +
		"CoreReloadTime: 03:04:05\r\nCoreCurrentCalls: 5\r\nCoreProcessedCalls: 7\r\n\r\n"
	if m != want {
		t.Errorf("CoreStatus %q, want %q", m, want)
	}
	// A tenant counts its own calls.
	m = act(t, s, "acme", "acmepw", "Response:", "Action: CoreStatus")[0]
	if header(m, "CoreCurrentCalls") != "1" || header(m, "CoreProcessedCalls") != "2" {
		t.Errorf("tenant CoreStatus %q", m)
	}
	// Asterisk's authority: system or reporting.
	if m := act(t, s, "callonly", "pw", "Response:", "Action: CoreStatus")[0]; m != "Response: Error\r\nMessage: Permission denied\r\n\r\n" {
		t.Errorf("call-only CoreStatus %q", m)
	}
}

func TestCoreShowChannelMap(t *testing.T) {
	s := nodeServer(t)
	out := act(t, s, "admin", "secret", "Event: CoreShowChannelMapComplete", "Action: CoreShowChannelMap", "Channel: PJSIP/1001-00000001", "ActionID: 7")
	want := []string{
		"Response: Success\r\nActionID: 7\r\nEventList: start\r\nMessage: Channel map will follow\r\n\r\n",
		"Event: CoreShowChannelMap\r\nActionID: 7\r\nChannel: PJSIP/1001-00000001\r\nConnectedChannel: Local/200@internal-00000002;1\r\n\r\n",
		"Event: CoreShowChannelMap\r\nActionID: 7\r\nChannel: PJSIP/1001-00000001\r\nConnectedChannel: Local/200@internal-00000002;2\r\n\r\n",
		"Event: CoreShowChannelMap\r\nActionID: 7\r\nChannel: PJSIP/1001-00000001\r\nConnectedChannel: PJSIP/carrier-00000003\r\n\r\n",
		"Event: CoreShowChannelMapComplete\r\nActionID: 7\r\nEventList: Complete\r\nListItems: 3\r\n\r\n",
	}
	if strings.Join(out, "") != strings.Join(want, "") {
		t.Errorf("CoreShowChannelMap:\n%q\nwant\n%q", out, want)
	}
	for _, tc := range []struct{ user, pw, ch, want string }{
		{"admin", "secret", "", "Response: Error\r\nMessage: CoreShowChannelMap requires a channel.\n\r\n"},
		{"admin", "secret", "PJSIP/none", "Response: Error\r\nMessage: Could not get channel snapshot\n\r\n"},
		// Another tenant's channel does not exist for acme.
		{"acme", "acmepw", "PJSIP/1001-00000001", "Response: Error\r\nMessage: Could not get channel snapshot\n\r\n"},
	} {
		if m := act(t, s, tc.user, tc.pw, "Response:", "Action: CoreShowChannelMap", "Channel: "+tc.ch)[0]; m != tc.want {
			t.Errorf("%s %q: %q, want %q", tc.user, tc.ch, m, tc.want)
		}
	}
	// A channel in no bridge: an empty list.
	out = act(t, s, "acme", "acmepw", "Event: CoreShowChannelMapComplete", "Action: CoreShowChannelMap", "Channel: PJSIP/1001-00000004")
	if len(out) != 2 || header(out[1], "ListItems") != "0" {
		t.Errorf("unbridged map %q", out)
	}
}

// listNames returns the Event (or Response) of each message.
func listNames(out []string) string {
	var n []string
	for _, m := range out {
		if e := header(m, "Event"); e != "" {
			n = append(n, e)
		} else {
			n = append(n, "Response:"+header(m, "Response"))
		}
	}
	return strings.Join(n, ",")
}

func TestPJSIPListings(t *testing.T) {
	s := nodeServer(t)
	out := act(t, s, "admin", "secret", "Event: ContactListComplete", "Action: PJSIPShowContacts", "ActionID: c")
	want := "Event: ContactList\r\nActionID: c\r\nObjectType: contact\r\n" +
		"ObjectName: 1001;@" + md5hex("sip:1001@192.0.2.10:5062;ob") + "\r\n" +
		// The fields in Asterisk's sorcery hash order.
		"ViaAddr: 192.0.2.10\r\nQualifyTimeout: 3.000000\r\nQualify2xxOnly: false\r\nCallId: c1@x\r\nRegServer: \r\n" +
		"PruneOnBoot: no\r\nPath: \r\nEndpoint: 1001\r\nViaPort: 5062\r\nAuthenticateQualify: no\r\n" +
		"Uri: sip:1001@192.0.2.10:5062;ob\r\nQualifyFrequency: 0\r\nUserAgent: phone/1.0\r\nExpirationTime: 1700003600\r\n" +
		"OutboundProxy: \r\nStatus: NonQualified\r\nRoundtripUsec: N/A\r\n\r\n"
	if listNames(out) != "Response:Success,ContactList,ContactList,ContactListComplete" || out[1] != want {
		t.Errorf("PJSIPShowContacts %s:\n%q\nwant\n%q", listNames(out), out[1], want)
	}
	if out[0] != "Response: Success\r\nActionID: c\r\nEventList: start\r\nMessage: A listing of Contacts follows, presented as ContactList events\r\n\r\n" {
		t.Errorf("ack %q", out[0])
	}
	out = act(t, s, "admin", "secret", "Event: AorListComplete", "Action: PJSIPShowAors")
	if got := headerNames(out[1]); got != "Event,ObjectType,ObjectName,MinimumExpiration,DefaultExpiration,QualifyTimeout,Qualify2xxOnly,Mailboxes,SupportPath,RemoveUnavailable,VoicemailExtension,MaxContacts,AuthenticateQualify,Contacts,MaximumExpiration,QualifyFrequency,RemoveExisting,OutboundProxy" {
		t.Errorf("AorList fields %s", got)
	}
	// An admin sees every tenant's endpoints: the default tenant's 1001,
	// acme's, then the trunk.
	if header(out[3], "ObjectName") != "carrier" || header(out[3], "Contacts") != "carrier/sip:198.51.100.1:5060" {
		t.Errorf("trunk AorList %q", out[2])
	}
	out = act(t, s, "admin", "secret", "Event: EndpointListComplete", "Action: PJSIPShowEndpoints")
	if header(out[1], "Contacts") != "1001/sip:1001@192.0.2.10:5062;ob," || header(out[3], "Contacts") != "carrier/sip:198.51.100.1:5060," ||
		header(out[1], "ActiveChannels") != "1" || header(out[2], "Contacts") != "" {
		t.Errorf("EndpointList %q", out[1:3])
	}
	out = act(t, s, "admin", "secret", "Event: AuthListComplete", "Action: PJSIPShowAuths")
	if listNames(out) != "Response:Success,AuthList,AuthList,AuthListComplete" || header(out[1], "Realm") != "entvoice" ||
		header(out[1], "Password") != "" || header(out[1], "Username") != "1001" {
		t.Errorf("PJSIPShowAuths %q", out)
	}
	out = act(t, s, "admin", "secret", "Event: InboundRegistrationDetailComplete", "Action: PJSIPShowRegistrationsInbound")
	if listNames(out) != "Response:Success,InboundRegistrationDetail,InboundRegistrationDetail,InboundRegistrationDetail,InboundRegistrationDetailComplete" ||
		header(out[1], "Contacts") != "1001/sip:1001@192.0.2.10:5062;ob," || !strings.Contains(out[1], "\r\nContact: \r\n") {
		t.Errorf("PJSIPShowRegistrationsInbound %q", out)
	}
	out = act(t, s, "admin", "secret", "Event: EndpointDetailComplete", "Action: PJSIPShowEndpoint", "Endpoint: PJSIP/1001")
	if listNames(out) != "Response:Success,EndpointDetail,AuthDetail,AorDetail,ContactStatusDetail,EndpointDetailComplete" ||
		header(out[5], "ListItems") != "4" {
		t.Errorf("PJSIPShowEndpoint %s", listNames(out))
	}
	d := out[1]
	for k, v := range map[string]string{"Context": "internal", "Allow": "(ulaw|alaw)", "Callerid": `"Alice" <1001>`, "Aors": "1001",
		"Auth": "1001", "DtmfMode": "rfc4733", "DirectMedia": "false", "DeviceState": "Not in use"} {
		if header(d, k) != v {
			t.Errorf("EndpointDetail %s = %q, want %q", k, header(d, k), v)
		}
	}
	if !strings.HasPrefix(headerNames(d), "Event,ObjectType,ObjectName,") || !strings.HasSuffix(headerNames(d), ",DeviceState,ActiveChannels") ||
		strings.Count(d, "\r\n") != 3+140+2+1 {
		t.Errorf("EndpointDetail shape %s", headerNames(d))
	}
	if m := out[4]; !strings.HasPrefix(m, "Event: ContactStatusDetail\r\nAOR: 1001\r\nURI: sip:1001@192.0.2.10:5062;ob\r\nUserAgent: phone/1.0\r\nRegExpire: 1700003600\r\nViaAddress: 192.0.2.10:5062\r\nCallID: c1@x\r\nStatus: NonQualified\r\n") {
		t.Errorf("ContactStatusDetail %q", m)
	}
	out = act(t, s, "admin", "secret", "Event: ContactStatusDetailComplete", "Action: PJSIPShowRegistrationInboundContactStatuses")
	if listNames(out) != "Response:Success,ContactStatusDetail,ContactStatusDetailComplete" || header(out[1], "URI") != "sip:1001@192.0.2.10:5062;ob" {
		t.Errorf("PJSIPShowRegistrationInboundContactStatuses %q", out)
	}
	for _, tc := range []struct{ user, pw, ep, want string }{
		{"admin", "secret", "", "Response: Error\r\nMessage: PJSIPShowEndpoint requires an endpoint name\n\r\n"},
		{"admin", "secret", "nobody", "Response: Error\r\nMessage: Unable to retrieve endpoint nobody\n\r\n"},
		// acme does not see the default tenant's trunk.
		{"acme", "acmepw", "carrier", "Response: Error\r\nMessage: Unable to retrieve endpoint carrier\n\r\n"},
	} {
		if m := act(t, s, tc.user, tc.pw, "Response:", "Action: PJSIPShowEndpoint", "Endpoint: "+tc.ep)[0]; m != tc.want {
			t.Errorf("%s %q: %q", tc.user, tc.ep, m)
		}
	}
	// acme sees its own endpoint, its context bare, and no contacts.
	out = act(t, s, "acme", "acmepw", "Event: EndpointDetailComplete", "Action: PJSIPShowEndpoint", "Endpoint: 1001")
	if header(out[1], "Context") != "internal" || header(out[1], "Tenantid") != "acme" {
		t.Errorf("acme EndpointDetail %q", out[1])
	}
	if m := act(t, s, "acme", "acmepw", "Response:", "Action: PJSIPShowContacts")[0]; m != "Response: Error\r\nMessage: No Contacts found\n\r\n" {
		t.Errorf("acme contacts %q", m)
	}
	if m := act(t, s, "callonly", "pw", "Response:", "Action: PJSIPShowContacts")[0]; m != "Response: Error\r\nMessage: Permission denied\r\n\r\n" {
		t.Errorf("call-only PJSIPShowContacts %q", m)
	}
}

func TestSorceryOrder(t *testing.T) {
	// The published ContactList field order of the Asterisk documentation
	// (taken from a live system), less ViaPort, which its author moved
	// beside ViaAddr.
	var names []string
	for _, f := range sorceryOrder(contactFields(&EndpointInfo{}, ContactInfo{})) {
		if f[0] != "qualify_2xx_only" && f[0] != "via_port" {
			names = append(names, camel(f[0]))
		}
	}
	if got := strings.Join(names, ","); got != "ViaAddr,QualifyTimeout,CallId,RegServer,PruneOnBoot,Path,Endpoint,AuthenticateQualify,Uri,QualifyFrequency,UserAgent,ExpirationTime,OutboundProxy" {
		t.Errorf("contact order %s", got)
	}
}

func TestStateLists(t *testing.T) {
	s := nodeServer(t)
	out := act(t, s, "admin", "secret", "Event: ExtensionStateListComplete", "Action: ExtensionStateList", "ActionID: e")
	want := []string{"Response: Success\r\nActionID: e\r\nEventList: start\r\nMessage: Extension Statuses will follow\r\n\r\n",
		"Event: ExtensionStatus\r\nActionID: e\r\nExten: 1001\r\nContext: internal\r\nHint: PJSIP/1001\r\nStatus: 0\r\nStatusText: Idle\r\n\r\n",
		"Event: ExtensionStatus\r\nActionID: e\r\nExten: 1001\r\nContext: acme~internal\r\nHint: PJSIP/1001\r\nStatus: 4\r\nStatusText: Unavailable\r\n\r\n",
		"Event: ExtensionStateListComplete\r\nActionID: e\r\nEventList: Complete\r\nListItems: 2\r\n\r\n"}
	if strings.Join(out, "") != strings.Join(want, "") {
		t.Errorf("ExtensionStateList %q", out)
	}
	out = act(t, s, "acme", "acmepw", "Event: ExtensionStateListComplete", "Action: ExtensionStateList")
	if len(out) != 3 || header(out[1], "Context") != "internal" {
		t.Errorf("acme ExtensionStateList %q", out)
	}
	out = act(t, s, "admin", "secret", "Event: DeviceStateListComplete", "Action: DeviceStateList")
	want = []string{"Response: Success\r\nEventList: start\r\nMessage: Device State Changes will follow\r\n\r\n",
		"Event: DeviceStateChange\r\nDevice: PJSIP/1001\r\nState: NOT_INUSE\r\n\r\n",
		"Event: DeviceStateChange\r\nDevice: PJSIP/1001\r\nState: UNAVAILABLE\r\n\r\n",
		"Event: DeviceStateChange\r\nDevice: PJSIP/carrier\r\nState: NOT_INUSE\r\n\r\n",
		"Event: DeviceStateListComplete\r\nEventList: Complete\r\nListItems: 3\r\n\r\n"}
	if strings.Join(out, "") != strings.Join(want, "") {
		t.Errorf("DeviceStateList %q", out)
	}
	for _, tc := range []struct {
		lines []string
		want  string
	}{
		{[]string{"Action: PresenceState"}, "Response: Error\r\nMessage: No provider specified\r\n\r\n"},
		{[]string{"Action: PresenceState", "Provider: CustomPresence:1001"}, "Response: Error\r\nMessage: Invalid provider CustomPresence:1001 or provider in invalid state\r\n\r\n"},
	} {
		if m := act(t, s, "admin", "secret", "Response:", tc.lines...)[0]; m != tc.want {
			t.Errorf("%v: %q", tc.lines, m)
		}
	}
	out = act(t, s, "admin", "secret", "Event: PresenceStateListComplete", "Action: PresenceStateList", "ActionID: p")
	if strings.Join(out, "") != "Response: Success\r\nActionID: p\r\nEventList: start\r\nMessage: Presence State Changes will follow\r\n\r\n"+
		"Event: PresenceStateListComplete\r\nActionID: p\r\nEventList: Complete\r\nListItems: 0\r\n\r\n" {
		t.Errorf("PresenceStateList %q", out)
	}
	// Central: no node, no hints.
	c := testServer(t, Options{})
	if m := act(t, c, "admin", "secret", "Response:", "Action: ExtensionStateList")[0]; m != "Response: Error\r\nMessage: No dialplan hints are available\r\n\r\n" {
		t.Errorf("central ExtensionStateList %q", m)
	}
}

func TestShowDialPlan(t *testing.T) {
	s := nodeServer(t)
	out := act(t, s, "admin", "secret", "Event: ShowDialPlanComplete", "Action: ShowDialPlan", "Context: internal", "ActionID: d")
	want := []string{"Response: Success\r\nActionID: d\r\nEventList: start\r\nMessage: DialPlan list will follow\r\n\r\n",
		"Event: ListDialplan\r\nActionID: d\r\nContext: internal\r\nExtension: 1001\r\nPriority: hint\r\nApplication: PJSIP/1001\r\nRegistrar: pbx_config\r\n\r\n",
		"Event: ListDialplan\r\nActionID: d\r\nContext: internal\r\nExtension: 1001\r\nPriority: 1\r\nApplication: Dial\r\nAppData: PJSIP/1001\r\nRegistrar: pbx_config\r\n\r\n",
		"Event: ListDialplan\r\nActionID: d\r\nContext: internal\r\nExtension: 1001\r\nExtensionLabel: after\r\nPriority: 2\r\nApplication: Hangup\r\nAppData: \r\nRegistrar: pbx_config\r\n\r\n",
		"Event: ListDialplan\r\nActionID: d\r\nContext: internal\r\nIncludeContext: shared\r\nRegistrar: pbx_config\r\n\r\n",
		"Event: ListDialplan\r\nActionID: d\r\nContext: internal\r\nIgnorePattern: 9\r\nRegistrar: pbx_config\r\n\r\n",
		"Event: ShowDialPlanComplete\r\nActionID: d\r\nEventList: Complete\r\nListItems: 5\r\nListExtensions: 1\r\nListPriorities: 3\r\nListContexts: 1\r\n\r\n"}
	if strings.Join(out, "") != strings.Join(want, "") {
		t.Errorf("ShowDialPlan:\n%q\nwant\n%q", out, want)
	}
	// Looking for an extension follows includes.
	out = act(t, s, "admin", "secret", "Event: ShowDialPlanComplete", "Action: ShowDialPlan", "Context: internal", "Extension: 8123")
	if listNames(out) != "Response:Success,ListDialplan,ShowDialPlanComplete" || header(out[1], "Context") != "shared" ||
		header(out[2], "ListContexts") != "2" {
		t.Errorf("ShowDialPlan through include %q", out)
	}
	// A tenant sees its own contexts, named bare, and nothing else.
	out = act(t, s, "acme", "acmepw", "Event: ShowDialPlanComplete", "Action: ShowDialPlan")
	var ctxs []string
	for _, m := range out[1 : len(out)-1] {
		ctxs = append(ctxs, header(m, "Context")+">"+header(m, "Extension")+header(m, "IncludeContext"))
	}
	if strings.Join(ctxs, ",") != "internal>1001,internal>shared,shared>500" {
		t.Errorf("tenant ShowDialPlan %v", ctxs)
	}
	for _, tc := range []struct{ user, pw, ctx, ext, want string }{
		{"acme", "acmepw", "shared", "", ""},
		{"acme", "acmepw", "acme~shared", "", ""},
		{"admin", "secret", "nowhere", "", "Response: Error\r\nMessage: Did not find context nowhere\r\n\r\n"},
		{"admin", "secret", "internal", "555", "Response: Error\r\nMessage: Did not find extension 555@internal\r\n\r\n"},
		{"admin", "secret", "", "555", "Response: Error\r\nMessage: Did not find extension 555 in any context\r\n\r\n"},
		// The default tenant's "shared" is not acme's.
		{"acme", "acmepw", "internal", "8123", "Response: Error\r\nMessage: Did not find extension 8123@internal\r\n\r\n"},
	} {
		lines := []string{"Action: ShowDialPlan", "Context: " + tc.ctx, "Extension: " + tc.ext}
		m := act(t, s, tc.user, tc.pw, "Response:", lines...)[0]
		if tc.want == "" && !strings.HasPrefix(m, "Response: Success") || tc.want != "" && m != tc.want {
			t.Errorf("%s %s/%s: %q", tc.user, tc.ctx, tc.ext, m)
		}
	}
}

func TestModules(t *testing.T) {
	s := nodeServer(t)
	for _, tc := range []struct {
		lines []string
		want  string
	}{
		{[]string{"Action: ModuleCheck", "Module: chan_pjsip.so", "ActionID: 1"}, "Response: Success\r\nActionID: 1\r\nVersion: \r\n\r\n"},
		{[]string{"Action: ModuleCheck", "Module: chan_sip"}, "Response: Error\r\nMessage: Module not loaded\r\n\r\n"},
		{[]string{"Action: ModuleLoad", "Module: chan_pjsip"}, "Response: Error\r\nMessage: Incomplete ModuleLoad action.\r\n\r\n"},
		{[]string{"Action: ModuleLoad", "LoadType: load"}, "Response: Error\r\nMessage: Need module name\r\n\r\n"},
		{[]string{"Action: ModuleLoad", "Module: chan_sip.so", "LoadType: load"}, "Response: Error\r\nMessage: Module not found.\r\n\r\n"},
		{[]string{"Action: ModuleLoad", "Module: chan_pjsip.so", "LoadType: unload"}, "Response: Error\r\nMessage: Could not unload module.\r\n\r\n"},
		{[]string{"Action: ModuleLoad", "Module: pbx_config.so", "LoadType: reload"}, "Response: Success\r\nMessage: Module reloaded.\r\n\r\n"},
		{[]string{"Action: ModuleLoad", "Module: chan_pjsip.so", "LoadType: reload"}, "Response: Error\r\nMessage: Module does not support reload action.\r\n\r\n"},
		{[]string{"Action: ModuleLoad", "LoadType: reload"}, "Response: Success\r\nMessage: All modules reloaded\r\n\r\n"},
		{[]string{"Action: Reload", "Module: chan_pjsip"}, "Response: Error\r\nMessage: Module does not support reload\r\n\r\n"},
		{[]string{"Action: Reload", "Module: chan_sip"}, "Response: Error\r\nMessage: No such module\r\n\r\n"},
		{[]string{"Action: Reload", "Module: pbx_config"}, "Response: Success\r\nMessage: Module Reloaded\r\n\r\n"},
		{[]string{"Action: LoggerRotate"}, "Response: Success\r\nMessage: Reloaded the logger and rotated log files\r\n\r\n"},
		// Transfers are not there yet: Asterisk's answer for an action
		// it does not have.
		{[]string{"Action: BlindTransfer", "Channel: PJSIP/1001-00000001", "Exten: 200"}, "Response: Error\r\nMessage: Invalid/unknown command: BlindTransfer. Use Action: ListCommands to show available commands.\r\n\r\n"},
	} {
		if m := act(t, s, "admin", "secret", "Response:", tc.lines...)[0]; m != tc.want {
			t.Errorf("%v: %q, want %q", tc.lines, m, tc.want)
		}
	}
}

// TestFilter: Filter's legacy and advanced filters, as should_send_event
// applies them to UserEvents.
func TestFilter(t *testing.T) {
	for _, tc := range []struct {
		name    string
		filters [][2]string // MatchCriteria, Filter
		pass    []string    // UserEvent names that must arrive, in order
	}{
		{"include regex", [][2]string{{"", "UserEvent: (a|c)"}}, []string{"a", "c"}},
		{"exclude only", [][2]string{{"", "!UserEvent: b"}}, []string{"a", "c", "end"}},
		{"include then exclude", [][2]string{{"", "Event: UserEvent"}, {"", "!UserEvent: c"}}, []string{"a", "b", "end"}},
		{"regex over lines", [][2]string{{"", "Event: UserEvent.*UserEvent: b"}}, []string{"b"}},
		{"advanced header", [][2]string{{"name(UserEvent),header(UserEvent),method(starts_with)", "en"}}, []string{"end"}},
		{"advanced exclude", [][2]string{{"action(exclude),header(UserEvent),method(exact)", "a"}}, []string{"b", "c", "end"}},
		{"name only", [][2]string{{"name(UserEvent)", ""}}, []string{"a", "b", "c", "end"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := testServer(t, Options{})
			c := dialAMI(t, s)
			c.login("admin", "secret")
			for _, f := range tc.filters {
				lines := []string{"Action: Filter", "Operation: Add", "Filter: " + f[1]}
				if f[0] != "" {
					lines = append(lines, "MatchCriteria: "+f[0])
				}
				c.send(lines...)
				if m := c.until("Response:"); m != "Response: Success\r\nMessage: Success\r\n\r\n" {
					t.Fatalf("Filter %v: %q", f, m)
				}
			}
			for _, ev := range []string{"a", "b", "c", "end"} {
				c.send("Action: UserEvent", "UserEvent: "+ev)
			}
			// The events go out through the bus after their responses:
			// collect them until the line has been quiet for a while.
			var got []string
			for {
				_ = c.c.SetReadDeadline(time.Now().Add(400 * time.Millisecond))
				m, err := c.readRaw()
				if err != nil {
					break
				}
				if strings.HasPrefix(m, "Event: UserEvent") {
					got = append(got, header(m, "UserEvent"))
				}
			}
			if strings.Join(got, ",") != strings.Join(tc.pass, ",") {
				t.Errorf("events %v, want %v", got, tc.pass)
			}
		})
	}
	s := testServer(t, Options{})
	for _, tc := range []struct{ crit, filter, want string }{
		{"", "", "Filter was formatted incorrectly.  Check the syntax of the filter given."},
		{"", "a(", "Filter did not compile.  Check the syntax of the filter given."},
		{"name(X)", "x", "Filter was formatted incorrectly.  Check the syntax of the filter given."},
		{"action(maybe)", "", "Filter was formatted incorrectly.  Check the syntax of the filter given."},
		{"colour(red)", "", "Filter was formatted incorrectly.  Check the syntax of the filter given."},
		{"method(exact)", "", "Filter was formatted incorrectly.  Check the syntax of the filter given."},
	} {
		m := act(t, s, "admin", "secret", "Response:", "Action: Filter", "Operation: Add", "MatchCriteria: "+tc.crit, "Filter: "+tc.filter)[0]
		if m != "Response: Error\r\nMessage: "+tc.want+"\r\n\r\n" {
			t.Errorf("%q %q: %q", tc.crit, tc.filter, m)
		}
	}
	if m := act(t, s, "admin", "secret", "Response:", "Action: Filter", "Operation: Remove", "Filter: x")[0]; m != "Response: Error\r\nMessage: Unknown operation\r\n\r\n" {
		t.Errorf("Remove: %q", m)
	}
	if m := act(t, s, "callonly", "pw", "Response:", "Action: Filter", "Operation: Add", "Filter: x")[0]; m != "Response: Error\r\nMessage: Permission denied\r\n\r\n" {
		t.Errorf("call-only Filter: %q", m)
	}
}

func TestWaitEvent(t *testing.T) {
	bus := events.New()
	s := testServer(t, Options{Bus: bus})
	c := dialAMI(t, s)
	c.login("admin", "secret")
	c.until("Event: SuccessfulAuth")
	// Timeout 0 answers at once, with no event.
	c.send("Action: WaitEvent", "Timeout: 0", "ActionID: w0")
	if m := c.read(); m != "Response: Success\r\nActionID: w0\r\nMessage: Waiting for Event completed.\r\n\r\n" {
		t.Fatalf("WaitEvent 0: %q", m)
	}
	if m := c.read(); m != "Event: WaitEventComplete\r\nActionID: w0\r\n\r\n" {
		t.Fatalf("WaitEventComplete: %q", m)
	}
	// An event ends the wait and follows the response.
	c.send("Action: WaitEvent", "Timeout: 30", "ActionID: w1")
	time.Sleep(100 * time.Millisecond)
	bus.Publish(events.Event{Kind: events.UserEvent, Extra: []string{"UserEvent: x"}})
	start := time.Now()
	msgs := []string{c.read(), c.read(), c.read()}
	if time.Since(start) > 5*time.Second || header(msgs[0], "Message") != "Waiting for Event completed." ||
		!strings.HasPrefix(msgs[1], "Event: UserEvent\r\n") || msgs[2] != "Event: WaitEventComplete\r\nActionID: w1\r\n\r\n" {
		t.Fatalf("WaitEvent with event: %q", msgs)
	}
	// Anything the client sends ends the wait first.
	c.send("Action: WaitEvent", "ActionID: w2")
	time.Sleep(100 * time.Millisecond)
	c.send("Action: Ping", "ActionID: p")
	msgs = []string{c.read(), c.read(), c.read()}
	if header(msgs[0], "ActionID") != "w2" || msgs[1] != "Event: WaitEventComplete\r\nActionID: w2\r\n\r\n" || header(msgs[2], "Ping") != "Pong" {
		t.Fatalf("WaitEvent ended by the client: %q", msgs)
	}
	// A timeout of a second.
	c.send("Action: WaitEvent", "Timeout: 1")
	start = time.Now()
	if m := c.read(); header(m, "Message") != "Waiting for Event completed." || time.Since(start) < 900*time.Millisecond {
		t.Fatalf("WaitEvent timeout: %q after %v", m, time.Since(start))
	}
	c.read()
	// A session that goes away while waiting leaves nothing behind
	// (goleak in TestMain).
	c.send("Action: WaitEvent")
	time.Sleep(50 * time.Millisecond)
}

// memDB is an in-memory astdb for the DB actions.
type memDB map[string]string

func (d memDB) Get(_ context.Context, _, f, k string) (string, bool, error) {
	v, ok := d["/"+f+"/"+k]
	return v, ok, nil
}
func (d memDB) Put(_ context.Context, _, f, k, v string) error { d["/"+f+"/"+k] = v; return nil }
func (d memDB) Del(_ context.Context, _, f, k string) (bool, error) {
	_, ok := d["/"+f+"/"+k]
	delete(d, "/"+f+"/"+k)
	return ok, nil
}
func (d memDB) under(f, k string) []string {
	p := "/" + f
	if k != "" {
		p += "/" + k
	}
	var out []string
	for key := range d {
		if f == "" || key == p || strings.HasPrefix(key, p+"/") {
			out = append(out, key)
		}
	}
	return out
}
func (d memDB) DelTree(_ context.Context, _, f, k string) (int64, error) {
	keys := d.under(f, k)
	for _, key := range keys {
		delete(d, key)
	}
	return int64(len(keys)), nil
}
func (d memDB) Tree(_ context.Context, _, f, k string) ([][2]string, error) {
	if f == "fail" {
		return nil, errors.New("disk on fire")
	}
	var out [][2]string
	for _, key := range d.under(f, k) {
		out = append(out, [2]string{key, d[key]})
	}
	sortPairs(out)
	return out, nil
}

func sortPairs(p [][2]string) {
	for i := range p {
		for j := i + 1; j < len(p); j++ {
			if p[j][0] < p[i][0] {
				p[i], p[j] = p[j], p[i]
			}
		}
	}
}

func TestDBTree(t *testing.T) {
	db := memDB{"/cf/1001": "555", "/cf/1002": "556", "/dnd/1001": "yes"}
	s := testServer(t, Options{DB: db})
	out := act(t, s, "admin", "secret", "Event: DBGetTreeComplete", "Action: DBGetTree", "Family: cf", "ActionID: g")
	want := []string{"Response: Success\r\nActionID: g\r\nEventList: start\r\nMessage: Result will follow\r\n\r\n",
		"Event: DBGetTreeResponse\r\nKey: /cf/1001\r\nVal: 555\r\nActionID: g\r\n\r\n",
		"Event: DBGetTreeResponse\r\nKey: /cf/1002\r\nVal: 556\r\nActionID: g\r\n\r\n",
		"Event: DBGetTreeComplete\r\nActionID: g\r\nEventList: Complete\r\nListItems: 2\r\n\r\n"}
	if strings.Join(out, "") != strings.Join(want, "") {
		t.Errorf("DBGetTree %q", out)
	}
	if out := act(t, s, "admin", "secret", "Event: DBGetTreeComplete", "Action: DBGetTree"); len(out) != 5 {
		t.Errorf("whole DBGetTree %q", out)
	}
	for _, tc := range []struct {
		user, pw string
		lines    []string
		want     string
	}{
		{"admin", "secret", []string{"Action: DBGetTree", "Family: fail"}, "Response: Error\r\nMessage: Unable to search database\r\n\r\n"},
		{"admin", "secret", []string{"Action: DBDelTree"}, "Response: Error\r\nMessage: No family specified.\r\n\r\n"},
		{"admin", "secret", []string{"Action: DBDelTree", "Family: cf", "Key: 9"}, "Response: Error\r\nMessage: Database entry not found\r\n\r\n"},
		{"admin", "secret", []string{"Action: DBDelTree", "Family: cf"}, "Response: Success\r\nMessage: Key tree deleted successfully\r\n\r\n"},
		{"acme", "acmepw", []string{"Action: DBGetTree", "Family: dnd"}, "Response: Error\r\nMessage: Permission denied\r\n\r\n"},
	} {
		if m := act(t, s, tc.user, tc.pw, "Response:", tc.lines...); m[0] != tc.want {
			t.Errorf("%v: %q", tc.lines, m[0])
		}
	}
	if len(db) != 1 {
		t.Errorf("after DBDelTree: %v", db)
	}
}

func md5hex(s string) string {
	return contactID("", ContactInfo{URI: s})[2:]
}
