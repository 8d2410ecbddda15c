package ami

import (
	"strings"
	"testing"

	"github.com/entvoice/entvoice/internal/events"
)

// fakeMailboxes stands for the node's voicemail store.
type fakeMailboxes map[string]events.Mailbox // tenant/mailbox@context

func (f fakeMailboxes) State(tenant, mailbox string) events.Mailbox {
	if !strings.Contains(mailbox, "@") {
		mailbox += "@default"
	}
	if tenant == "" {
		tenant = "default"
	}
	return f[tenant+"/"+mailbox]
}

// TestMailboxActions: MailboxCount and MailboxStatus answer with Asterisk
// 22's fields and order, per tenant, summing a & list; a missing Mailbox
// is an error.
func TestMailboxActions(t *testing.T) {
	s := testServer(t, Options{Mailboxes: fakeMailboxes{
		"default/1001@default": {New: 3, Urgent: 1, Old: 2},
		"default/1002@sales":   {New: 1, Old: 5},
		"acme/1001@default":    {Old: 7},
	}})
	c := dialAMI(t, s)
	c.login("admin", "secret")
	c.send("Action: MailboxCount", "ActionID: 1", "Mailbox: 1001@default")
	if got, want := c.until("Response:"), "Response: Success\r\nActionID: 1\r\nMessage: Mailbox Message Count\r\nMailbox: 1001@default\r\nUrgMessages: 1\r\nNewMessages: 2\r\nOldMessages: 2\r\n\r\n"; got != want {
		t.Errorf("MailboxCount:\n%q\nwant\n%q", got, want)
	}
	c.send("Action: MailboxCount", "ActionID: 2", "Mailbox: 1001&1002@sales")
	if got := c.until("Response:"); !strings.Contains(got, "UrgMessages: 1\r\nNewMessages: 3\r\nOldMessages: 7\r\n") {
		t.Errorf("a & list is summed: %q", got)
	}
	c.send("Action: MailboxStatus", "ActionID: 3", "Mailbox: 1001")
	if got, want := c.until("Response:"), "Response: Success\r\nActionID: 3\r\nMessage: Mailbox Status\r\nMailbox: 1001\r\nWaiting: 1\r\n\r\n"; got != want {
		t.Errorf("MailboxStatus:\n%q\nwant\n%q", got, want)
	}
	c.send("Action: MailboxStatus", "ActionID: 4", "Mailbox: 9999@nowhere")
	if got := c.until("Response:"); !strings.Contains(got, "Waiting: 0\r\n") {
		t.Errorf("unknown mailbox: %q", got)
	}
	c.send("Action: MailboxCount", "ActionID: 5")
	if got := c.until("Response:"); got != "Response: Error\r\nActionID: 5\r\nMessage: Mailbox not specified\r\n\r\n" {
		t.Errorf("no mailbox: %q", got)
	}
	// A tenant's user sees its own tenant's 1001.
	a := dialAMI(t, s)
	a.login("acme", "acmepw")
	a.send("Action: MailboxCount", "ActionID: 6", "Mailbox: 1001@default")
	if got := a.until("Response:"); !strings.Contains(got, "UrgMessages: 0\r\nNewMessages: 0\r\nOldMessages: 7\r\n") {
		t.Errorf("tenant: %q", got)
	}
}

// TestMessageWaitingEvent: rendered as manager_mwi.c does, the channel
// block first when a channel changed the mailbox, and only to the
// sessions of the mailbox's tenant (and admins).
func TestMessageWaitingEvent(t *testing.T) {
	bus := events.New()
	s := testServer(t, Options{Bus: bus})
	admin := dialAMI(t, s)
	admin.login("admin", "secret")
	acme := dialAMI(t, s)
	acme.login("acme", "acmepw")
	bus.Publish(events.Event{Kind: events.MessageWaiting, Tenant: "default", Mailbox: &events.Mailbox{Mailbox: "1001@default", New: 2, Old: 1}})
	bus.Publish(events.Event{Kind: events.MessageWaiting, Tenant: "acme", Channel: &events.Snapshot{Channel: "PJSIP/2001-00000001", State: 6, StateDesc: "Up",
		CallerIDNum: "2001", Context: "acme~internal", Exten: "*97", Priority: 2, UniqueID: "u1", LinkedID: "u1", Tenant: "acme", Language: "en"},
		Mailbox: &events.Mailbox{Mailbox: "2001@default"}})
	got := admin.untilHas("Mailbox: 1001@default")
	if !strings.HasSuffix(got, "Event: MessageWaiting\r\nPrivilege: call,all\r\nMailbox: 1001@default\r\nWaiting: 1\r\nNew: 2\r\nOld: 1\r\n\r\n") {
		t.Errorf("admin:\n%q", got)
	}
	got = acme.untilHas("MessageWaiting")
	if strings.Contains(got, "1001@default") {
		t.Errorf("acme saw the default tenant's mailbox:\n%q", got)
	}
	want := "Event: MessageWaiting\r\nPrivilege: call,all\r\nChannel: PJSIP/2001-00000001\r\nChannelState: 6\r\nChannelStateDesc: Up\r\n" +
		"CallerIDNum: 2001\r\nCallerIDName: <unknown>\r\nConnectedLineNum: <unknown>\r\nConnectedLineName: <unknown>\r\nLanguage: en\r\n" +
		"AccountCode: \r\nContext: internal\r\nExten: *97\r\nPriority: 2\r\nUniqueid: u1\r\nLinkedid: u1\r\nTenantid: acme\r\n" +
		"Mailbox: 2001@default\r\nWaiting: 0\r\nNew: 0\r\nOld: 0\r\n"
	if !strings.Contains(got, want) {
		t.Errorf("acme:\n%q\nwant\n%q", got, want)
	}
}

// untilHas reads messages until one contains s, returning it.
func (c *client) untilHas(s string) string {
	c.t.Helper()
	for {
		if m := c.read(); strings.Contains(m, s) {
			return m
		}
	}
}
