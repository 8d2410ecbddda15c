package conference

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/entvoice/entvoice/internal/astconf"
)

// Profile names app_confbridge falls back to (confbridge.h).
const (
	DefaultBridgeProfile = "default_bridge"
	DefaultUserProfile   = "default_user"
	DefaultMenu          = "default_menu"
)

// Talk detection defaults of a user profile (confbridge.h).
const (
	DefaultTalkingThreshold = 160
	DefaultSilenceThreshold = 2500 // ms
)

// Sounds a bridge profile may replace (sound_* keys), with app_confbridge's
// defaults (conf_get_sound).
var defaultSounds = map[string]string{
	"has_joined":            "conf-hasjoin",
	"has_left":              "conf-hasleft",
	"kicked":                "conf-kicked",
	"muted":                 "conf-muted",
	"unmuted":               "conf-unmuted",
	"binaural_on":           "confbridge-binaural-on",
	"binaural_off":          "confbridge-binaural-off",
	"only_one":              "conf-onlyone",
	"there_are":             "conf-thereare",
	"other_in_party":        "conf-otherinparty",
	"place_into_conference": "conf-placeintoconf",
	"wait_for_leader":       "conf-waitforleader",
	"leader_has_left":       "conf-leaderhasleft",
	"get_pin":               "conf-getpin",
	"invalid_pin":           "conf-invalidpin",
	"only_person":           "conf-onlyperson",
	"locked":                "conf-locked",
	"locked_now":            "conf-lockednow",
	"unlocked_now":          "conf-unlockednow",
	"error_menu":            "conf-errormenu",
	"join":                  "confbridge-join",
	"leave":                 "confbridge-leave",
	"participants_muted":    "conf-now-muted",
	"participants_unmuted":  "conf-now-unmuted",
	"begin":                 "confbridge-conf-begin",
}

// BridgeProfile is a confbridge.conf section of type=bridge: what a
// conference is, fixed by the first user who opens it.
type BridgeProfile struct {
	Name string
	// MaxMembers bounds the participants (0: no limit); an admin may
	// still join a full conference.
	MaxMembers int
	// RecordConference records the mix from the start (record_conference).
	RecordConference bool
	// RecordFile is the recording's name (relative: under the
	// recordings directory); empty: confbridge-<conference>-<time>.wav.
	RecordFile          string
	RecordFileAppend    bool // record_file_append (default yes)
	RecordFileTimestamp bool // record_file_timestamp (default yes)
	// Language of the prompts played to the whole conference (default en).
	Language string
	sounds   map[string]string
}

// Sound is the file of a conference sound ("join", "only_person"...): the
// profile's sound_* value, else app_confbridge's default.
func (b *BridgeProfile) Sound(name string) string {
	if f := b.sounds[name]; f != "" {
		return f
	}
	return defaultSounds[name]
}

// UserProfile is a confbridge.conf section of type=user: how one
// participant takes part.
type UserProfile struct {
	Name              string
	Admin             bool
	Marked            bool
	StartMuted        bool
	MOHWhenEmpty      bool // music_on_hold_when_empty
	Quiet             bool
	HearOwnJoinSound  bool // default yes
	AnnounceUserCount bool
	// AnnounceUserCountAll announces the count to everyone when more
	// than this many are in (announce_user_count_all: yes is 0); -1: off.
	AnnounceUserCountAll int
	AnnounceOnlyUser     bool // default yes
	WaitMarked           bool
	EndMarked            bool
	EndMarkedAny         bool
	TalkDetectionEvents  bool
	DTMFPassthrough      bool
	AnswerChannel        bool // default yes
	PIN                  string
	MOHClass             string
	Announcement         string
	DropSilence          bool
	TalkingThreshold     int
	SilenceThreshold     int // ms
	// Timeout is how long the user may stay, seconds (0: no limit).
	Timeout int
}

// ActionKind is a menu action (confbridge.conf menu sections).
type ActionKind int

// Menu actions, as confbridge.conf names them.
const (
	ActToggleMute ActionKind = iota + 1
	ActToggleBinaural
	ActNoOp
	ActIncreaseListening
	ActDecreaseListening
	ActResetListening
	ActIncreaseTalking
	ActDecreaseTalking
	ActResetTalking
	ActAdminToggleLock
	ActAdminToggleMuteParticipants
	ActParticipantCount
	ActAdminKickLast
	ActLeave
	ActSetSingleVideoSrc
	ActReleaseSingleVideoSrc
	ActDialplanExec
	ActPlayback
	ActPlaybackAndContinue
)

var actionNames = map[string]ActionKind{
	"toggle_mute":                    ActToggleMute,
	"toggle_binaural":                ActToggleBinaural,
	"no_op":                          ActNoOp,
	"increase_listening_volume":      ActIncreaseListening,
	"decrease_listening_volume":      ActDecreaseListening,
	"reset_listening_volume":         ActResetListening,
	"increase_talking_volume":        ActIncreaseTalking,
	"decrease_talking_volume":        ActDecreaseTalking,
	"reset_talking_volume":           ActResetTalking,
	"admin_toggle_conference_lock":   ActAdminToggleLock,
	"admin_toggle_mute_participants": ActAdminToggleMuteParticipants,
	"participant_count":              ActParticipantCount,
	"admin_kick_last":                ActAdminKickLast,
	"leave_conference":               ActLeave,
	"set_as_single_video_src":        ActSetSingleVideoSrc,
	"release_as_single_video_src":    ActReleaseSingleVideoSrc,
}

// Action is one action of a menu entry. Arg is the file list of playback
// and playback_and_continue, or "context,exten,priority" of dialplan_exec.
type Action struct {
	Kind ActionKind
	Arg  string
	// Context, Exten and Priority: dialplan_exec's target.
	Context, Exten string
	Priority       int
}

// MenuEntry is a DTMF sequence of a menu and what it does, in order.
type MenuEntry struct {
	DTMF    string
	Actions []Action
}

// Menu is a confbridge.conf section of type=menu.
type Menu struct {
	Name    string
	Entries []MenuEntry
}

// Entry finds the entry of a DTMF sequence (case-insensitive, as
// conf_find_menu_entry_by_sequence).
func (m *Menu) Entry(dtmf string) (MenuEntry, bool) {
	for _, e := range m.Entries {
		if strings.EqualFold(e.DTMF, dtmf) {
			return e, true
		}
	}
	return MenuEntry{}, false
}

// Prefix reports whether a longer entry starts with dtmf (more digits may
// still select one).
func (m *Menu) Prefix(dtmf string) bool {
	for _, e := range m.Entries {
		if len(e.DTMF) > len(dtmf) && strings.EqualFold(e.DTMF[:len(dtmf)], dtmf) {
			return true
		}
	}
	return false
}

// Profiles are the bridge profiles, user profiles and menus of a
// confbridge.conf.
type Profiles struct {
	Bridges map[string]*BridgeProfile
	Users   map[string]*UserProfile
	Menus   map[string]*Menu
}

// Bridge, User and MenuNamed find a profile by name ("" is the default
// one), case-insensitively as app_confbridge's containers.
func (p *Profiles) Bridge(name string) (*BridgeProfile, bool) {
	return lookup(p.Bridges, name, DefaultBridgeProfile)
}

// User finds a user profile.
func (p *Profiles) User(name string) (*UserProfile, bool) {
	return lookup(p.Users, name, DefaultUserProfile)
}

// MenuNamed finds a menu.
func (p *Profiles) MenuNamed(name string) (*Menu, bool) {
	return lookup(p.Menus, name, DefaultMenu)
}

func lookup[T any](m map[string]*T, name, def string) (*T, bool) {
	if name == "" {
		name = def
	}
	v, ok := m[strings.ToLower(name)]
	return v, ok
}

func newBridgeProfile(name string) *BridgeProfile {
	return &BridgeProfile{Name: name, RecordFileAppend: true, RecordFileTimestamp: true, Language: "en"}
}

func newUserProfile(name string) *UserProfile {
	return &UserProfile{Name: name, HearOwnJoinSound: true, AnnounceUserCountAll: -1, AnnounceOnlyUser: true,
		AnswerChannel: true, TalkingThreshold: DefaultTalkingThreshold, SilenceThreshold: DefaultSilenceThreshold}
}

// sampleMenu is confbridge.conf.sample's sample_user_menu; without a
// confbridge.conf it is the default menu, so that a newcomer's conference
// answers the keys the sample documents.
var sampleMenu = []string{
	"*=playback_and_continue(conf-usermenu)",
	"*1=toggle_mute", "1=toggle_mute",
	"*4=decrease_listening_volume", "4=decrease_listening_volume",
	"*6=increase_listening_volume", "6=increase_listening_volume",
	"*7=decrease_talking_volume", "7=decrease_talking_volume",
	"*8=leave_conference", "8=leave_conference",
	"*9=increase_talking_volume", "9=increase_talking_volume",
}

// sampleAdminMenu is confbridge.conf.sample's sample_admin_menu.
var sampleAdminMenu = []string{
	"*=playback_and_continue(conf-adminmenu)",
	"*1=toggle_mute", "1=toggle_mute",
	"*2=admin_toggle_conference_lock", "2=admin_toggle_conference_lock",
	"*3=admin_kick_last", "3=admin_kick_last",
	"*4=decrease_listening_volume", "4=decrease_listening_volume",
	"*6=increase_listening_volume", "6=increase_listening_volume",
	"*7=decrease_talking_volume", "7=decrease_talking_volume",
	"*8=no_op", "8=no_op",
	"*9=increase_talking_volume", "9=increase_talking_volume",
}

// DefaultProfiles are the profiles without a confbridge.conf:
// default_bridge and default_user with app_confbridge's defaults, and
// default_menu with the keys of confbridge.conf.sample's sample_user_menu
// (also there as sample_user_menu, beside sample_admin_menu). Asterisk's
// built-in default_menu is empty; an operator who has no file gets the
// sample's keys instead, which the README documents.
func DefaultProfiles() *Profiles {
	p := &Profiles{Bridges: map[string]*BridgeProfile{}, Users: map[string]*UserProfile{}, Menus: map[string]*Menu{}}
	p.Bridges[DefaultBridgeProfile] = newBridgeProfile(DefaultBridgeProfile)
	p.Users[DefaultUserProfile] = newUserProfile(DefaultUserProfile)
	for name, lines := range map[string][]string{DefaultMenu: sampleMenu, "sample_user_menu": sampleMenu, "sample_admin_menu": sampleAdminMenu} {
		m := &Menu{Name: name}
		for _, l := range lines {
			dtmf, actions, _ := strings.Cut(l, "=")
			e, err := parseMenuEntry(dtmf, actions)
			if err != nil {
				panic(err) // constant tables: a programming error
			}
			m.Entries = append(m.Entries, e)
		}
		p.Menus[name] = m
	}
	return p
}

// LoadConfig reads a confbridge.conf. Every section needs type=bridge,
// user or menu; a profile's template= copies an earlier profile of its
// type. As app_confbridge does, default_bridge, default_user and
// default_menu (empty) are added when the file lacks them. Errors name
// file:line: unknown keys and types, malformed values, a menu action that
// does not exist, a template that is not defined before.
//
// Accepted and ignored (no video, no text messages, no jitter buffer or
// denoise filter in entVoice): video_mode, video_update_discard, remb_*,
// enable_events, internal_sample_rate, maximum_sample_rate,
// mixing_interval (always 20 ms), binaural_active, record_options,
// record_command, regcontext, jitterbuffer, denoise, text_messaging,
// send_events, echo_events. Refused: announce_join_leave and
// announce_join_leave_review (recording the user's name is not
// supported).
func LoadConfig(path string) (*Profiles, error) {
	secs, err := astconf.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("confbridge: %w", err)
	}
	p := &Profiles{Bridges: map[string]*BridgeProfile{}, Users: map[string]*UserProfile{}, Menus: map[string]*Menu{}}
	for _, s := range secs {
		if s.Template {
			continue
		}
		if err := p.section(s); err != nil {
			return nil, fmt.Errorf("confbridge: %w", err)
		}
	}
	if _, ok := p.Bridges[DefaultBridgeProfile]; !ok {
		p.Bridges[DefaultBridgeProfile] = newBridgeProfile(DefaultBridgeProfile)
	}
	if _, ok := p.Users[DefaultUserProfile]; !ok {
		p.Users[DefaultUserProfile] = newUserProfile(DefaultUserProfile)
	}
	if _, ok := p.Menus[DefaultMenu]; !ok {
		p.Menus[DefaultMenu] = &Menu{Name: DefaultMenu}
	}
	return p, nil
}

func (p *Profiles) section(s *astconf.Section) error {
	typ := ""
	for _, v := range s.Vars {
		if strings.EqualFold(v.Name, "type") {
			typ = strings.ToLower(strings.TrimSpace(v.Value))
		}
	}
	key := strings.ToLower(s.Name)
	switch typ {
	case "bridge":
		if _, dup := p.Bridges[key]; dup {
			return s.Errorf("bridge profile [%s] defined twice", s.Name)
		}
		b, err := p.bridge(s)
		if err != nil {
			return err
		}
		p.Bridges[key] = b
	case "user":
		if _, dup := p.Users[key]; dup {
			return s.Errorf("user profile [%s] defined twice", s.Name)
		}
		u, err := p.user(s)
		if err != nil {
			return err
		}
		p.Users[key] = u
	case "menu":
		if _, dup := p.Menus[key]; dup {
			return s.Errorf("menu [%s] defined twice", s.Name)
		}
		m, err := p.menu(s)
		if err != nil {
			return err
		}
		p.Menus[key] = m
	case "":
		return s.Errorf("section [%s] has no type (bridge, user or menu)", s.Name)
	default:
		return s.Errorf("section [%s]: unknown type %q (bridge, user or menu)", s.Name, typ)
	}
	return nil
}

func (p *Profiles) bridge(s *astconf.Section) (*BridgeProfile, error) {
	b := newBridgeProfile(s.Name)
	for _, v := range s.Vars {
		name := strings.ToLower(v.Name)
		var err error
		switch {
		case name == "type":
		case name == "template":
			t, ok := p.Bridges[strings.ToLower(v.Value)]
			if !ok {
				return nil, v.Errorf("template %q is not a bridge profile defined before [%s]", v.Value, s.Name)
			}
			c := *t
			c.Name = s.Name
			c.sounds = cloneMap(t.sounds)
			b = &c
		case name == "max_members":
			b.MaxMembers, err = uintVar(v)
		case name == "record_conference":
			b.RecordConference, err = v.Bool()
		case name == "record_file":
			b.RecordFile = v.Value
		case name == "record_file_append":
			b.RecordFileAppend, err = v.Bool()
		case name == "record_file_timestamp":
			b.RecordFileTimestamp, err = v.Bool()
		case name == "language":
			b.Language = v.Value
		case strings.HasPrefix(name, "sound_"):
			snd := strings.TrimPrefix(name, "sound_")
			if _, known := defaultSounds[snd]; !known {
				return nil, v.Errorf("unknown sound %q in bridge profile [%s]", v.Name, s.Name)
			}
			if b.sounds == nil {
				b.sounds = map[string]string{}
			}
			b.sounds[snd] = v.Value
		case name == "jitterbuffer" || name == "binaural_active" || name == "enable_events":
			_, err = v.Bool()
		case name == "internal_sample_rate", name == "maximum_sample_rate", name == "mixing_interval",
			name == "video_mode", name == "video_update_discard", strings.HasPrefix(name, "remb_"),
			name == "record_options", name == "record_command", name == "regcontext":
		default:
			return nil, v.Errorf("unknown key %q in bridge profile [%s]", v.Name, s.Name)
		}
		if err != nil {
			return nil, err
		}
	}
	return b, nil
}

func (p *Profiles) user(s *astconf.Section) (*UserProfile, error) {
	u := newUserProfile(s.Name)
	for _, v := range s.Vars {
		name := strings.ToLower(v.Name)
		var err error
		flag := func(f *bool) { *f, err = v.Bool() }
		switch name {
		case "type":
		case "template":
			t, ok := p.Users[strings.ToLower(v.Value)]
			if !ok {
				return nil, v.Errorf("template %q is not a user profile defined before [%s]", v.Value, s.Name)
			}
			c := *t
			c.Name = s.Name
			u = &c
		case "admin":
			flag(&u.Admin)
		case "marked":
			flag(&u.Marked)
		case "startmuted":
			flag(&u.StartMuted)
		case "music_on_hold_when_empty":
			flag(&u.MOHWhenEmpty)
		case "quiet":
			flag(&u.Quiet)
		case "hear_own_join_sound":
			flag(&u.HearOwnJoinSound)
		case "announce_user_count":
			flag(&u.AnnounceUserCount)
		case "announce_user_count_all":
			// yes, or a number: announce when more than that many are in.
			if n, e := strconv.Atoi(strings.TrimSpace(v.Value)); e == nil && n >= 0 {
				u.AnnounceUserCountAll = n
				break
			}
			var on bool
			if on, err = v.Bool(); err == nil {
				u.AnnounceUserCountAll = -1
				if on {
					u.AnnounceUserCountAll = 0
				}
			}
		case "announce_only_user":
			flag(&u.AnnounceOnlyUser)
		case "wait_marked":
			flag(&u.WaitMarked)
		case "end_marked":
			flag(&u.EndMarked)
		case "end_marked_any":
			flag(&u.EndMarkedAny)
		case "talk_detection_events":
			flag(&u.TalkDetectionEvents)
		case "dtmf_passthrough":
			flag(&u.DTMFPassthrough)
		case "answer_channel":
			flag(&u.AnswerChannel)
		case "dsp_drop_silence":
			flag(&u.DropSilence)
		case "pin":
			u.PIN = strings.TrimSpace(v.Value)
		case "music_on_hold_class":
			u.MOHClass = v.Value
		case "announcement":
			u.Announcement = v.Value
		case "dsp_talking_threshold":
			u.TalkingThreshold, err = uintVar(v)
		case "dsp_silence_threshold":
			u.SilenceThreshold, err = uintVar(v)
		case "timeout":
			u.Timeout, err = uintVar(v)
		case "jitterbuffer", "denoise", "text_messaging", "send_events", "echo_events":
			_, err = v.Bool()
		case "announce_join_leave", "announce_join_leave_review":
			var on bool
			if on, err = v.Bool(); on {
				return nil, v.Errorf("%s: recording the participant's name is not supported", v.Name)
			}
		default:
			return nil, v.Errorf("unknown key %q in user profile [%s]", v.Name, s.Name)
		}
		if err != nil {
			return nil, err
		}
	}
	return u, nil
}

func (p *Profiles) menu(s *astconf.Section) (*Menu, error) {
	m := &Menu{Name: s.Name}
	for _, v := range s.Vars {
		name := strings.ToLower(v.Name)
		switch {
		case name == "type":
			continue
		case name == "template":
			t, ok := p.Menus[strings.ToLower(v.Value)]
			if !ok {
				return nil, v.Errorf("template %q is not a menu defined before [%s]", v.Value, s.Name)
			}
			m.Entries = append(m.Entries, t.Entries...)
			continue
		}
		if !validDTMF(v.Name) {
			return nil, v.Errorf("menu [%s]: %q is not a DTMF sequence (0-9, A-D, * and #)", s.Name, v.Name)
		}
		e, err := parseMenuEntry(v.Name, v.Value)
		if err != nil {
			return nil, v.Errorf("menu [%s] %s: %v", s.Name, v.Name, err)
		}
		// A later line for the same sequence replaces the earlier one.
		replaced := false
		for i := range m.Entries {
			if strings.EqualFold(m.Entries[i].DTMF, e.DTMF) {
				m.Entries[i], replaced = e, true
			}
		}
		if !replaced {
			m.Entries = append(m.Entries, e)
		}
	}
	return m, nil
}

// maxDTMF is MAXIMUM_DTMF_FEATURE_STRING less its NUL.
const maxDTMF = 10

func validDTMF(s string) bool {
	if s == "" || len(s) > maxDTMF {
		return false
	}
	for _, c := range strings.ToUpper(s) {
		if !strings.ContainsRune("0123456789ABCD*#", c) {
			return false
		}
	}
	return true
}

// parseMenuEntry parses "action[,action...]" where playback(),
// playback_and_continue() and dialplan_exec() take arguments in
// parentheses (add_menu_entry).
func parseMenuEntry(dtmf, text string) (MenuEntry, error) {
	e := MenuEntry{DTMF: dtmf}
	rest := strings.TrimSpace(text)
	for rest != "" {
		var item string
		if i := strings.IndexAny(rest, ",("); i >= 0 && rest[i] == '(' {
			j := strings.IndexByte(rest[i:], ')')
			if j < 0 {
				return e, fmt.Errorf("unclosed parenthesis in %q", text)
			}
			item, rest = rest[:i+j+1], strings.TrimSpace(rest[i+j+1:])
			rest = strings.TrimSpace(strings.TrimPrefix(rest, ","))
		} else {
			item, rest, _ = strings.Cut(rest, ",")
			rest = strings.TrimSpace(rest)
		}
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		a, err := parseAction(item)
		if err != nil {
			return e, err
		}
		e.Actions = append(e.Actions, a)
	}
	if len(e.Actions) == 0 {
		return e, fmt.Errorf("no action")
	}
	return e, nil
}

func parseAction(item string) (Action, error) {
	name, arg, hasArg := strings.Cut(item, "(")
	name = strings.ToLower(strings.TrimSpace(name))
	arg = strings.TrimSuffix(arg, ")")
	if !hasArg {
		if k, ok := actionNames[name]; ok {
			return Action{Kind: k}, nil
		}
		return Action{}, fmt.Errorf("unknown action %q", item)
	}
	switch name {
	case "playback":
		return Action{Kind: ActPlayback, Arg: arg}, nil
	case "playback_and_continue":
		return Action{Kind: ActPlaybackAndContinue, Arg: arg}, nil
	case "dialplan_exec":
		// dialplan_exec(context,exten,priority), priority default 1.
		parts := strings.Split(arg, ",")
		a := Action{Kind: ActDialplanExec, Arg: arg, Priority: 1}
		if len(parts) < 2 || strings.TrimSpace(parts[0]) == "" || strings.TrimSpace(parts[1]) == "" {
			return Action{}, fmt.Errorf("dialplan_exec(%s): want context,exten[,priority]", arg)
		}
		a.Context, a.Exten = strings.TrimSpace(parts[0]), strings.TrimSpace(parts[1])
		if len(parts) > 2 {
			n, err := strconv.Atoi(strings.TrimSpace(parts[2]))
			if err != nil || n < 1 {
				return Action{}, fmt.Errorf("dialplan_exec(%s): bad priority", arg)
			}
			a.Priority = n
		}
		return a, nil
	}
	return Action{}, fmt.Errorf("unknown action %q", item)
}

func uintVar(v astconf.Var) (int, error) {
	n, err := v.Int()
	if err != nil {
		return 0, err
	}
	if n < 0 {
		return 0, v.Errorf("%s: %d is negative", v.Name, n)
	}
	return n, nil
}

func cloneMap(m map[string]string) map[string]string {
	if m == nil {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}
