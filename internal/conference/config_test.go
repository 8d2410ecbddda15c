package conference

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func writeConf(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "confbridge.conf")
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestLoadConfig: profiles with app_confbridge's defaults, templates,
// sounds and menus; the default profiles are added (an empty
// default_menu, as Asterisk's).
func TestLoadConfig(t *testing.T) {
	p, err := LoadConfig(writeConf(t, `
[base_user]
type=user
music_on_hold_when_empty=yes
music_on_hold_class=jazz
announce_user_count_all=3

[leader]
type=user
template=base_user
marked=yes
pin=1234

[big]
type=bridge
max_members=50
sound_join=custom-beep
record_file=room.wav
video_mode=follow_talker
mixing_interval=40

[menu]
type=menu
*=playback_and_continue(conf-usermenu&beep)
1=toggle_mute, playback(beep)
0=dialplan_exec(addcall,1,1)
`))
	if err != nil {
		t.Fatal(err)
	}
	u, ok := p.User("LEADER")
	if !ok || !u.Marked || !u.MOHWhenEmpty || u.MOHClass != "jazz" || u.PIN != "1234" || u.AnnounceUserCountAll != 3 ||
		!u.HearOwnJoinSound || !u.AnnounceOnlyUser || u.TalkingThreshold != 160 || u.SilenceThreshold != 2500 {
		t.Errorf("leader %+v", u)
	}
	b, _ := p.Bridge("big")
	if b.MaxMembers != 50 || b.Sound("join") != "custom-beep" || b.Sound("leave") != "confbridge-leave" || !b.RecordFileAppend || b.Language != "en" {
		t.Errorf("big %+v", b)
	}
	if _, ok := p.Bridge(""); !ok {
		t.Error("default_bridge missing")
	}
	if m, ok := p.MenuNamed(""); !ok || len(m.Entries) != 0 {
		t.Errorf("default_menu %+v, want an empty one (Asterisk's)", m)
	}
	m, _ := p.MenuNamed("menu")
	e, ok := m.Entry("1")
	if !ok || len(e.Actions) != 2 || e.Actions[0].Kind != ActToggleMute || e.Actions[1].Kind != ActPlayback || e.Actions[1].Arg != "beep" {
		t.Errorf("entry 1: %+v", e)
	}
	if e, _ := m.Entry("0"); e.Actions[0].Context != "addcall" || e.Actions[0].Exten != "1" || e.Actions[0].Priority != 1 {
		t.Errorf("dialplan_exec %+v", e.Actions[0])
	}
	if e, _ := m.Entry("*"); e.Actions[0].Arg != "conf-usermenu&beep" {
		t.Errorf("playback_and_continue %+v", e.Actions[0])
	}
}

// TestLoadConfigErrors: what Asterisk would log and skip is an error
// naming the line.
func TestLoadConfigErrors(t *testing.T) {
	for _, c := range []struct{ body, want string }{
		{"[x]\nmarked=yes\n", ":1: section [x] has no type"},
		{"[x]\ntype=room\n", ":1: section [x]: unknown type"},
		{"[u]\ntype=user\nmarkd=yes\n", `:3: unknown key "markd"`},
		{"[u]\ntype=user\nmarked=maybe\n", `:3: marked: "maybe" is not a boolean`},
		{"[u]\ntype=user\ntemplate=nothing\n", `:3: template "nothing" is not a user profile`},
		{"[b]\ntype=bridge\nsound_fanfare=x\n", `:3: unknown sound "sound_fanfare"`},
		{"[b]\ntype=bridge\nmax_members=-1\n", ":3: max_members: -1 is negative"},
		{"[m]\ntype=menu\n1=dance\n", `:3: menu [m] 1: unknown action "dance"`},
		{"[m]\ntype=menu\nX=toggle_mute\n", `:3: menu [m]: "X" is not a DTMF sequence`},
		{"[m]\ntype=menu\n1=dialplan_exec(ctx)\n", ":3: menu [m] 1: dialplan_exec(ctx)"},
		{"[u]\ntype=user\nannounce_join_leave=yes\n", ":3: announce_join_leave: recording the participant's name is not supported"},
		{"[u]\ntype=user\n[u]\ntype=user\n", ":3: user profile [u] defined twice"},
	} {
		_, err := LoadConfig(writeConf(t, c.body))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: err %v, want %q", c.body, err, c.want)
		}
	}
}

// TestDefaultProfiles: without a file, default_menu has the sample
// menu's keys, and a longer sequence keeps a prefix waiting.
func TestDefaultProfiles(t *testing.T) {
	p := DefaultProfiles()
	m, _ := p.MenuNamed("")
	for seq, kind := range map[string]ActionKind{"1": ActToggleMute, "*8": ActLeave, "6": ActIncreaseListening, "*": ActPlaybackAndContinue} {
		if e, ok := m.Entry(seq); !ok || e.Actions[0].Kind != kind {
			t.Errorf("default menu %s: %+v", seq, e)
		}
	}
	if !m.Prefix("*") || m.Prefix("1") || m.Prefix("*1") {
		t.Error("Prefix: * starts longer sequences, 1 and *1 do not")
	}
	if a, ok := p.MenuNamed("sample_admin_menu"); !ok || len(a.Entries) != len(sampleAdminMenu) {
		t.Error("sample_admin_menu missing")
	}
}
