package apps

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/entvoice/entvoice/internal/channel"
	"github.com/entvoice/entvoice/internal/conference"
	"github.com/entvoice/entvoice/internal/media"
	"github.com/entvoice/entvoice/internal/pbx"
)

// maxConfName is MAX_CONF_NAME less its NUL.
const maxConfName = 127

// featureDigitTimeout is features.conf's featuredigittimeout: how long a
// DTMF menu waits for the next digit of a longer sequence.
const featureDigitTimeout = time.Second

// maxPIN is MAX_PIN: the longest PIN read.
const maxPIN = 80

// ConfBridge(conference[,bridge_profile[,user_profile[,menu]]]) puts the
// caller into a conference (app_confbridge.c confbridge_exec): profiles
// from confbridge.conf (default_bridge, default_user, default_menu when
// not named), the user's PIN, announcements and user count, join and
// leave sounds, the DTMF menu, then the conference until the caller
// hangs up, leaves with the menu, is kicked, or the last marked user
// leaves (end_marked). CONFBRIDGE_RESULT is FAILED, HANGUP, KICKED,
// ENDMARKED, DTMF or TIMEOUT; on FAILED the call ends, as ConfBridge
// returns -1.
func (ap *Apps) ConfBridge(e *pbx.Exec, data string) error {
	fail := func(format string, a ...any) error {
		if format != "" {
			e.Ch.Log().Warn("ConfBridge: "+format, a...)
		}
		e.Ch.SetVar("CONFBRIDGE_RESULT", "FAILED")
		return pbx.ErrStop()
	}
	svc := ap.svc.Conferences
	if svc == nil {
		return fail("conferences are not configured")
	}
	a := args(data)
	name := arg(a, 0)
	switch {
	case name == "":
		return fail("ConfBridge requires an argument (conference name[,options])")
	case len(name) > maxConfName:
		return fail("ConfBridge does not accept conference names longer than 127", "conference", name)
	}
	profiles := svc.Profiles()
	bridge, ok := profiles.Bridge(arg(a, 1))
	if !ok {
		return fail("conference bridge profile does not exist", "profile", arg(a, 1))
	}
	user, ok := profiles.User(arg(a, 2))
	if !ok {
		return fail("conference user profile does not exist", "profile", arg(a, 2))
	}
	if e.Ch.State() != channel.StateUp && user.AnswerChannel {
		if err := e.Ch.Answer(e.Ctx); err != nil {
			e.Ch.SetVar("CONFBRIDGE_RESULT", "HANGUP")
			return channel.ErrHangup
		}
	}
	s, err := earlyMedia(e)
	if err != nil {
		return fail("the channel has no media", "err", err)
	}
	// The PIN is asked right after the user profile is found, whether
	// quiet or not.
	if user.PIN != "" && !ap.confPIN(e, bridge, user.PIN) {
		if e.Ch.IsHungUp() {
			e.Ch.SetVar("CONFBRIDGE_RESULT", "FAILED")
			return channel.ErrHangup
		}
		return fail("")
	}
	menu, ok := profiles.MenuNamed(arg(a, 3))
	if !ok {
		return fail("conference menu profile does not exist", "menu", arg(a, 3))
	}
	ap.StopMOH(e.Ch)
	u, err := svc.Join(conference.JoinRequest{Name: name, Ch: e.Ch, Session: s, Bridge: bridge, User: user,
		Music: func(ch *channel.Channel, s *media.Session, class string) (func(), error) {
			if err := ap.startMOHOn(ch, s, class); err != nil {
				return nil, err
			}
			return func() { ap.StopMOH(ch) }, nil
		}})
	var locked *conference.LockedError
	switch {
	case errors.As(err, &locked):
		e.Ch.Log().Info("ConfBridge: conference is locked (or full) and the caller is not an admin", "conference", name)
		_, _ = conference.PlayTo(e.Ctx, svc.Sounds(), e.Ch, s, "", locked.Sound)
		return fail("")
	case err != nil:
		return fail("cannot join the conference", "conference", name, "err", err)
	}
	result := ap.inConference(e, u, menu)
	// The leave sound goes to the others, as the user leaves.
	conf := u.Conference()
	if !user.Quiet {
		conf.Announce(conf.Bridge.Sound("leave"))
	}
	u.Leave()
	if result == "" {
		result = u.Result()
	}
	hungUp := e.Ch.IsHungUp()
	if u.Kicked() && !user.Quiet && !hungUp {
		_, _ = conference.PlayTo(e.Ctx, svc.Sounds(), e.Ch, s, "", conf.Bridge.Sound("kicked"))
	}
	if hungUp && !u.Kicked() {
		result = "HANGUP"
	}
	e.Ch.SetVar("CONFBRIDGE_RESULT", result)
	if e.Ch.IsHungUp() {
		return channel.ErrHangup
	}
	return nil
}

// confPIN asks for the user profile's PIN, three times at most
// (conf_get_pin); a digit pressed during the "invalid PIN" prompt starts
// the next try.
func (ap *Apps) confPIN(e *pbx.Exec, bridge *conference.BridgeProfile, pin string) bool {
	first := ""
	for try := 0; try < 3; try++ {
		digits, err := ap.readDigits(e, []string{bridge.Sound("get_pin")}, maxPIN-len(first), "#", responseTimeout, digitTimeout)
		if err != nil {
			return false
		}
		if strings.EqualFold(first+digits, pin) {
			return true
		}
		d, _, err := ap.streamFiles(e, []string{bridge.Sound("invalid_pin")}, allDigits)
		if err != nil {
			return false
		}
		first = ""
		if d != 0 {
			first = string(d)
		}
	}
	e.Ch.Log().Info("ConfBridge: wrong PIN three times")
	return false
}

// inConference runs the user's time in the conference, from its
// announcements to its leaving; it returns the CONFBRIDGE_RESULT it set
// itself ("" when the conference removed the user, or on hangup).
func (ap *Apps) inConference(e *pbx.Exec, u *conference.User, menu *conference.Menu) string {
	conf, p := u.Conference(), u.Profile
	if p.Announcement != "" {
		if _, err := u.Play(e.Ctx, "", p.Announcement); err != nil {
			return ""
		}
	}
	if p.AnnounceUserCount {
		if err := u.AnnounceCount(e.Ctx); err != nil {
			return ""
		}
	}
	if active, _ := conf.Users(); p.AnnounceUserCountAll >= 0 && active > p.AnnounceUserCountAll {
		conf.AnnounceCount()
	}
	join := conf.Bridge.Sound("join")
	if !p.Quiet && !p.HearOwnJoinSound {
		// The others hear the join sound before the user is in.
		if err := conf.AnnounceWait(e.Ctx, join); err != nil {
			return ""
		}
	}
	if err := u.Enter(e.Ctx); err != nil {
		if !errors.Is(err, context.Canceled) {
			e.Ch.Log().Warn("ConfBridge: cannot enter the conference", "conference", conf.Name, "err", err)
		}
		return ""
	}
	if !p.Quiet && p.HearOwnJoinSound {
		conf.Announce(join)
	}
	var timeout <-chan time.Time
	if p.Timeout > 0 {
		t := time.NewTimer(time.Duration(p.Timeout) * time.Second)
		defer t.Stop()
		timeout = t.C
	}
	s := u.Session
	for {
		select {
		case <-e.Ctx.Done():
			return ""
		case <-u.Removed():
			return ""
		case <-timeout:
			// user_timeout: the user leaves with TIMEOUT.
			return "TIMEOUT"
		case d := <-s.DTMF():
			if res := ap.confMenu(e, u, menu, d.Digit); res != "" {
				return res
			}
		}
	}
}

// confMenu collects a DTMF sequence of the user's menu, starting with
// first: it runs the entry it names once no longer entry can match, or
// featuredigittimeout after the last digit. It returns DTMF when the user
// chose to leave.
func (ap *Apps) confMenu(e *pbx.Exec, u *conference.User, menu *conference.Menu, first rune) string {
	seq := string(first)
	for {
		entry, exact := menu.Entry(seq)
		if !menu.Prefix(seq) {
			if !exact {
				return "" // no such sequence: the digits are dropped
			}
			return ap.runMenuEntry(e, u, menu, entry)
		}
		t := time.NewTimer(featureDigitTimeout)
		select {
		case d := <-u.Session.DTMF():
			t.Stop()
			seq += string(d.Digit)
		case <-t.C:
			if !exact {
				return ""
			}
			return ap.runMenuEntry(e, u, menu, entry)
		case <-u.Removed():
			t.Stop()
			return ""
		case <-e.Ctx.Done():
			t.Stop()
			return ""
		}
	}
}

// runMenuEntry runs a menu entry's actions in order (execute_menu_entry).
func (ap *Apps) runMenuEntry(e *pbx.Exec, u *conference.User, menu *conference.Menu, entry conference.MenuEntry) string {
	conf, p := u.Conference(), u.Profile
	sound := conf.Bridge.Sound
	stopPrompts := false
	play := func(files ...string) {
		_, _ = u.Play(e.Ctx, "", files...)
	}
	for _, a := range entry.Actions {
		switch a.Kind {
		case conference.ActToggleMute:
			mute := !u.Muted()
			u.SetMuted(mute)
			if mute {
				play(sound("muted"))
			} else {
				play(sound("unmuted"))
			}
		case conference.ActAdminToggleMuteParticipants:
			if !p.Admin {
				continue
			}
			if conf.ToggleMuteParticipants() {
				conf.Announce(sound("participants_muted"))
			} else {
				conf.Announce(sound("participants_unmuted"))
			}
		case conference.ActParticipantCount:
			_ = u.AnnounceCount(e.Ctx)
		case conference.ActPlayback:
			if !stopPrompts {
				play(strings.Split(a.Arg, "&")...)
			}
		case conference.ActPlaybackAndContinue:
			if stopPrompts {
				continue
			}
			// A digit during the prompt selects the entry of this
			// sequence plus that digit, and no further prompt plays.
			d, err := u.Play(e.Ctx, allDigits, strings.Split(a.Arg, "&")...)
			if err != nil || d == 0 {
				continue
			}
			stopPrompts = true
			if next, ok := menu.Entry(entry.DTMF + string(d)); ok && len(entry.DTMF) < 10 {
				if res := ap.runMenuEntry(e, u, menu, next); res != "" {
					return res
				}
			}
		case conference.ActResetListening:
			u.AdjustVolume(false, 0)
		case conference.ActResetTalking:
			u.AdjustVolume(true, 0)
		case conference.ActIncreaseListening:
			u.AdjustVolume(false, 1)
		case conference.ActDecreaseListening:
			u.AdjustVolume(false, -1)
		case conference.ActIncreaseTalking:
			u.AdjustVolume(true, 1)
		case conference.ActDecreaseTalking:
			u.AdjustVolume(true, -1)
		case conference.ActDialplanExec:
			ap.confDialplanExec(e, u, a)
		case conference.ActAdminToggleLock:
			if !p.Admin {
				continue
			}
			locked := !conf.Locked()
			conf.SetLocked(locked)
			if locked {
				play(sound("locked_now"))
			} else {
				play(sound("unlocked_now"))
			}
		case conference.ActAdminKickLast:
			if !p.Admin {
				play(sound("error_menu"))
				e.Ch.Log().Warn("ConfBridge: only admin users can use the kick_last menu action", "conference", conf.Name)
				continue
			}
			if !conf.KickLast(u) {
				play(sound("error_menu"))
			}
		case conference.ActLeave:
			return "DTMF"
		case conference.ActNoOp, conference.ActToggleBinaural, conference.ActSetSingleVideoSrc, conference.ActReleaseSingleVideoSrc:
			// No video and no binaural mixing: nothing to do.
		}
		if e.Ch.IsHungUp() {
			return ""
		}
	}
	return ""
}

// confDialplanExec runs the dialplan at context,exten,priority out of
// the conference, then puts the user back (action_dialplan_exec).
func (ap *Apps) confDialplanExec(e *pbx.Exec, u *conference.User, a conference.Action) {
	ctxName, ok := e.QualifyContext(a.Context)
	if !ok {
		e.Ch.Log().Warn("ConfBridge: dialplan_exec context is not reachable", "context", a.Context)
		return
	}
	u.Suspend()
	defer u.Resume()
	e.RunSubroutine(ctxName, a.Exten, a.Priority, nil)
}
