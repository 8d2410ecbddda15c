package ami

import (
	"errors"
	"strconv"
	"time"

	"github.com/entvoice/entvoice/internal/control"
)

// confbridgeActions are app_confbridge's manager actions, with its
// authorities and synopses.
func confbridgeActions() []action {
	return []action{
		{"ConfbridgeList", ClassReporting, "List participants in a conference.", (*session).confbridgeList},
		{"ConfbridgeListRooms", ClassReporting, "List active conferences.", (*session).confbridgeListRooms},
		{"ConfbridgeMute", ClassCall, "Mute a Confbridge user.", func(ss *session, m *Message) bool { return ss.confbridgeMute(m, true) }},
		{"ConfbridgeUnmute", ClassCall, "Unmute a Confbridge user.", func(ss *session, m *Message) bool { return ss.confbridgeMute(m, false) }},
		{"ConfbridgeKick", ClassCall, "Kick a Confbridge user.", (*session).confbridgeKick},
		{"ConfbridgeLock", ClassCall, "Lock a Confbridge conference.", func(ss *session, m *Message) bool { return ss.confbridgeLock(m, true) }},
		{"ConfbridgeUnlock", ClassCall, "Unlock a Confbridge conference.", func(ss *session, m *Message) bool { return ss.confbridgeLock(m, false) }},
		{"ConfbridgeStartRecord", ClassSystem, "Start recording a Confbridge conference.", func(ss *session, m *Message) bool { return ss.confbridgeRecord(m, true) }},
		{"ConfbridgeStopRecord", ClassSystem, "Stop recording a Confbridge conference.", func(ss *session, m *Message) bool { return ss.confbridgeRecord(m, false) }},
	}
}

// conferences is the node's conference control; on central, which has
// none, every conference action finds no conference.
func (ss *session) conferences() control.Conferences {
	if c, ok := ss.srv.o.Control.(control.Conferences); ok {
		return c
	}
	return nil
}

// confbridgeError answers a Conferences error with app_confbridge's text.
func (ss *session) confbridgeError(m *Message, err error) {
	msg := "No active conferences."
	switch {
	case errors.Is(err, control.ErrNoConferences):
	case errors.Is(err, control.ErrNoConference):
		msg = "No Conference by that name found."
	case errors.Is(err, control.ErrNoParticipant):
		msg = "No Channel by that name found in Conference."
	case errors.Is(err, control.ErrRecording):
		msg = "Conference is already being recorded."
	case errors.Is(err, control.ErrNotRecording):
		msg = "Internal error while stopping recording."
	default:
		ss.srv.log.Warn("conference action failed", "action", m.Get("Action"), "err", err)
		msg = "Internal error starting conference recording."
	}
	ss.reply(errorResponse(m, msg))
}

// conference checks the Conference header and finds the control; false
// when it answered already.
func (ss *session) conference(m *Message) (control.Conferences, string, bool) {
	name := m.Get("Conference")
	if name == "" {
		ss.reply(errorResponse(m, "No Conference name provided."))
		return nil, "", false
	}
	c := ss.conferences()
	if c == nil {
		ss.reply(errorResponse(m, "No active conferences."))
		return nil, "", false
	}
	return c, name, true
}

// confbridgeList is action_confbridgelist: one ConfbridgeList event per
// participant, active ones first.
func (ss *session) confbridgeList(m *Message) bool {
	c, name, ok := ss.conference(m)
	if !ok {
		return true
	}
	ctx, cancel := ss.actionCtx(10 * time.Second)
	defer cancel()
	parts, err := c.ConferenceParticipants(ctx, ss.tenant, name)
	if err != nil {
		ss.confbridgeError(m, err)
		return true
	}
	ss.reply(listAck(m, "Confbridge user list will follow"))
	id := m.Get("ActionID")
	for _, p := range parts {
		w := &builder{}
		w.h("Event", "ConfbridgeList")
		if id != "" {
			w.h("ActionID", id)
		}
		w.h("Conference", clean(p.Conference))
		w.h("Admin", yesNo(p.Admin))
		w.h("MarkedUser", yesNo(p.Marked))
		w.h("WaitMarked", yesNo(p.WaitMarked))
		w.h("EndMarked", yesNo(p.EndMarked))
		w.h("EndMarkedAny", yesNo(p.EndMarkedAny))
		w.h("Waiting", yesNo(p.Waiting))
		w.h("Muted", yesNo(p.Muted))
		w.h("Talking", yesNo(p.Talking))
		w.h("AnsweredTime", strconv.Itoa(int(p.AnsweredTime/time.Second)))
		w.channelBlock("", &p.Snapshot)
		ss.reply(w.end())
	}
	ss.reply(listComplete(m, "ConfbridgeListComplete", len(parts)))
	return true
}

// confbridgeListRooms is action_confbridgelistrooms.
func (ss *session) confbridgeListRooms(m *Message) bool {
	c := ss.conferences()
	if c == nil {
		ss.reply(errorResponse(m, "No active conferences."))
		return true
	}
	ctx, cancel := ss.actionCtx(10 * time.Second)
	defer cancel()
	rooms, err := c.ConferenceRooms(ctx, ss.tenant)
	if err != nil {
		ss.confbridgeError(m, err)
		return true
	}
	ss.reply(listAck(m, "Confbridge conferences will follow"))
	id := m.Get("ActionID")
	for _, r := range rooms {
		w := &builder{}
		w.h("Event", "ConfbridgeListRooms")
		if id != "" {
			w.h("ActionID", id)
		}
		w.h("Conference", clean(r.Name))
		w.h("Parties", strconv.Itoa(r.Parties))
		w.h("Marked", strconv.Itoa(r.Marked))
		w.h("Locked", yesNo(r.Locked))
		w.h("Muted", yesNo(r.Muted))
		ss.reply(w.end())
	}
	ss.reply(listComplete(m, "ConfbridgeListRoomsComplete", len(rooms)))
	return true
}

// confbridgeMute is action_mute_unmute_helper.
func (ss *session) confbridgeMute(m *Message, mute bool) bool {
	if m.Get("Conference") == "" {
		ss.reply(errorResponse(m, "No Conference name provided."))
		return true
	}
	channel := m.Get("Channel")
	if channel == "" {
		ss.reply(errorResponse(m, "No channel name provided."))
		return true
	}
	c, name, ok := ss.conference(m)
	if !ok {
		return true
	}
	ctx, cancel := ss.actionCtx(10 * time.Second)
	defer cancel()
	if err := c.ConferenceMute(ctx, ss.tenant, name, channel, mute); err != nil {
		ss.confbridgeError(m, err)
		return true
	}
	msg := "User unmuted"
	if mute {
		msg = "User muted"
	}
	ss.reply(ack(m, msg))
	return true
}

// confbridgeKick is action_confbridgekick.
func (ss *session) confbridgeKick(m *Message) bool {
	c, name, ok := ss.conference(m)
	if !ok {
		return true
	}
	channel := m.Get("Channel")
	ctx, cancel := ss.actionCtx(10 * time.Second)
	defer cancel()
	if err := c.ConferenceKick(ctx, ss.tenant, name, channel); err != nil {
		ss.confbridgeError(m, err)
		return true
	}
	msg := "User kicked"
	if channel == "all" {
		msg = "All participants kicked"
	}
	ss.reply(ack(m, msg))
	return true
}

// confbridgeLock is action_lock_unlock_helper.
func (ss *session) confbridgeLock(m *Message, lock bool) bool {
	c, name, ok := ss.conference(m)
	if !ok {
		return true
	}
	ctx, cancel := ss.actionCtx(10 * time.Second)
	defer cancel()
	if err := c.ConferenceLock(ctx, ss.tenant, name, lock); err != nil {
		ss.confbridgeError(m, err)
		return true
	}
	msg := "Conference unlocked"
	if lock {
		msg = "Conference locked"
	}
	ss.reply(ack(m, msg))
	return true
}

// confbridgeRecord is action_confbridgestartrecord and
// action_confbridgestoprecord.
func (ss *session) confbridgeRecord(m *Message, start bool) bool {
	c, name, ok := ss.conference(m)
	if !ok {
		return true
	}
	ctx, cancel := ss.actionCtx(10 * time.Second)
	defer cancel()
	if err := c.ConferenceRecord(ctx, ss.tenant, name, start, m.Get("RecordFile")); err != nil {
		ss.confbridgeError(m, err)
		return true
	}
	msg := "Conference Recording Stopped."
	if start {
		msg = "Conference Recording Started."
	}
	ss.reply(ack(m, msg))
	return true
}
