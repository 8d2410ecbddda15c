package ami

import (
	"strconv"
	"strings"

	"github.com/entvoice/entvoice/internal/events"
)

// Mailboxes answers MailboxCount and MailboxStatus: a voicemail mailbox's
// state within a tenant (the node's voicemail store; a mailbox that does
// not exist has no messages).
type Mailboxes interface {
	State(tenant, mailbox string) events.Mailbox
}

// mailboxState sums the mailboxes of a "box@context&box@context" list, as
// ast_app_inboxcount2 and ast_app_has_voicemail accept (',' too). Without
// a voicemail store every count is 0, as in an Asterisk without
// app_voicemail. A tenant's AMI user sees its own mailboxes; an admin the
// default tenant's.
func (ss *session) mailboxState(list string) events.Mailbox {
	var sum events.Mailbox
	mb := ss.srv.o.Mailboxes
	if mb == nil {
		return sum
	}
	tenant := ss.tenant
	for _, one := range strings.FieldsFunc(list, func(r rune) bool { return r == '&' || r == ',' }) {
		st := mb.State(tenant, strings.TrimSpace(one))
		sum.New += st.New
		sum.Old += st.Old
		sum.Urgent += st.Urgent
	}
	return sum
}

// mailboxCount is action_mailboxcount (manager.c).
func (ss *session) mailboxCount(m *Message) bool {
	box := m.Get("Mailbox")
	if box == "" {
		ss.reply(errorResponse(m, "Mailbox not specified"))
		return true
	}
	st := ss.mailboxState(box)
	w := response(m, "Success")
	w.h("Message", "Mailbox Message Count")
	w.h("Mailbox", clean(box))
	// inboxcount2 reports urgent and INBOX messages apart: New here is
	// INBOX alone.
	w.h("UrgMessages", strconv.Itoa(st.Urgent))
	w.h("NewMessages", strconv.Itoa(st.New-st.Urgent))
	w.h("OldMessages", strconv.Itoa(st.Old))
	ss.reply(w.end())
	return true
}

// mailboxStatus is action_mailboxstatus (manager.c): Waiting is
// ast_app_has_voicemail, 1 when a new message waits.
func (ss *session) mailboxStatus(m *Message) bool {
	box := m.Get("Mailbox")
	if box == "" {
		ss.reply(errorResponse(m, "Mailbox not specified"))
		return true
	}
	w := response(m, "Success")
	w.h("Message", "Mailbox Status")
	w.h("Mailbox", clean(box))
	w.h("Waiting", waiting(ss.mailboxState(box)))
	ss.reply(w.end())
	return true
}

func waiting(st events.Mailbox) string {
	if st.New > 0 {
		return "1"
	}
	return "0"
}

// renderMessageWaiting is manager_mwi.c's MessageWaiting: the channel that
// changed the mailbox, if any, then the mailbox's state.
func (w *builder) messageWaiting(e *events.Event) {
	if e.Channel != nil {
		w.channelBlock("", e.Channel)
	}
	st := e.Mailbox
	if st == nil {
		st = &events.Mailbox{}
	}
	w.h("Mailbox", clean(st.Mailbox))
	w.h("Waiting", waiting(*st))
	w.h("New", strconv.Itoa(st.New))
	w.h("Old", strconv.Itoa(st.Old))
}
