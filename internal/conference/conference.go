// Package conference is the state of ConfBridge conferences over the
// media mixer (internal/media/mixer): who is in which conference, marked
// and waiting users, app_confbridge's state machine (empty, inactive,
// single, single marked, multi, multi marked: apps/confbridge/conf_state_*.c),
// locks, mutes, kicks, recording of the mix, prompts to the conference
// and to one participant, and the Confbridge* events. The ConfBridge
// application (internal/apps) drives one participant through it; AMI and
// the API act on it through control.Conferences.
//
// A participant's media session is the mixer's while it is in the
// conference, except while it is "suspended": out of the mix both ways
// (mixer hold) so that a prompt meant for it alone, or its music on hold,
// can use the session, as Asterisk suspends a bridge channel while a DTMF
// hook or music on hold runs.
package conference

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/entvoice/entvoice/internal/channel"
	"github.com/entvoice/entvoice/internal/events"
	"github.com/entvoice/entvoice/internal/media"
	"github.com/entvoice/entvoice/internal/media/mixer"
	"github.com/entvoice/entvoice/internal/prompts"
	"github.com/entvoice/entvoice/internal/tenancy"
)

// Music plays music on hold of class (a user profile's
// music_on_hold_class, "" for the channel's own) to a participant's
// session until stop.
type Music func(ch *channel.Channel, s *media.Session, class string) (stop func(), err error)

// Options configure a Service.
type Options struct {
	Pacer  *media.Pacer
	Sounds prompts.Sounds
	// Bus carries the events without a channel (ConfbridgeStart, End,
	// Record, StopRecord, BridgeCreate, BridgeDestroy).
	Bus *events.Bus
	// Techs and Channels, when set, give each recording its CBRec
	// channel (Recorder, registered in Techs as "CBRec").
	Techs    *channel.Technologies
	Channels *channel.Registry
	// RecordingsDir is where recordings with a relative name go.
	RecordingsDir string
	// Profiles are confbridge.conf's (nil: DefaultProfiles).
	Profiles *Profiles
	// Timing, when set, collects the rooms' mixer frame times.
	Timing *mixer.Timing
	Logger *slog.Logger
}

// Service holds a node's conferences.
type Service struct {
	o        Options
	log      *slog.Logger
	profiles *Profiles

	mu     sync.Mutex
	confs  map[confKey]*Conference
	closed bool
}

type confKey struct{ tenant, name string }

func keyOf(tenant, name string) confKey {
	return confKey{tenancy.Of(tenant), strings.ToLower(name)}
}

// New returns a Service with no conference.
func New(o Options) *Service {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	p := o.Profiles
	if p == nil {
		p = DefaultProfiles()
	}
	return &Service{o: o, log: o.Logger, profiles: p, confs: map[confKey]*Conference{}}
}

// Profiles are the confbridge.conf profiles in force.
func (s *Service) Profiles() *Profiles { return s.profiles }

// Sounds opens prompts.
func (s *Service) Sounds() prompts.Sounds { return s.o.Sounds }

// Close ends every conference: their participants are kicked out of them
// (the node is shutting down) and the rooms closed.
func (s *Service) Close() {
	s.mu.Lock()
	s.closed = true
	confs := make([]*Conference, 0, len(s.confs))
	for _, c := range s.confs {
		confs = append(confs, c)
	}
	s.mu.Unlock()
	for _, c := range confs {
		c.kick(func(*User) bool { return true }, "HANGUP")
	}
}

// ErrClosed is a join after Close.
var ErrClosed = errors.New("conference: service closed")

// LockedError is a join refused because the conference is locked or full
// and the user is no admin; Sound is what the caller hears (the
// conference's sound_locked).
type LockedError struct{ Sound string }

func (e *LockedError) Error() string { return "conference is locked or full" }

// JoinRequest is a participant entering a conference.
type JoinRequest struct {
	Name    string
	Ch      *channel.Channel
	Session *media.Session
	Bridge  *BridgeProfile
	User    *UserProfile
	// Music plays music on hold to this user when the conference calls
	// for it (nil: silence).
	Music Music
}

// Join adds a user to a conference (creating it with the request's bridge
// profile when it does not exist: ConfbridgeStart), as
// join_conference_bridge does: the user counts in the conference from now
// on, and the state machine has decided what the user and the others hear.
// The user is not in the mix yet: play its own prompts, then Enter.
func (s *Service) Join(r JoinRequest) (*User, error) {
	key := keyOf(r.Ch.Tenant(), r.Name)
	for {
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			return nil, ErrClosed
		}
		c := s.confs[key]
		if c == nil {
			var err error
			if c, err = s.newConference(key, r); err != nil {
				s.mu.Unlock()
				return nil, err
			}
			s.confs[key] = c
			s.mu.Unlock()
			c.started()
		} else {
			s.mu.Unlock()
		}
		u, err := c.join(r)
		if errors.Is(err, errEnded) {
			continue // it ended meanwhile: open a new one
		}
		return u, err
	}
}

var errEnded = errors.New("conference ended")

func (s *Service) newConference(key confKey, r JoinRequest) (*Conference, error) {
	b := *r.Bridge
	c := &Conference{svc: s, Name: r.Name, Tenant: key.tenant, key: key, Bridge: &b, id: channel.NewBridgeID(),
		announcements: make(chan []announcement, 32), done: make(chan struct{}), created: time.Now()}
	room, err := mixer.NewRoom(s.o.Pacer, mixer.Options{
		TalkThreshold:   r.User.TalkingThreshold,
		SilenceHangover: time.Duration(r.User.SilenceThreshold) * time.Millisecond,
		OnTalking:       c.onTalking,
		Timing:          s.o.Timing,
		Logger:          s.log,
	})
	if err != nil {
		return nil, fmt.Errorf("conference %s: %w", r.Name, err)
	}
	c.room = room
	return c, nil
}

// find returns the conference a caller of scope names: a tenant's own
// (bare name), or for an admin ("") the default tenant's, or
// "tenant~name" for a hosted tenant's.
func (s *Service) find(scope, name string) (*Conference, error) {
	tenant := scope
	if scope == "" {
		if t, n, ok := strings.Cut(name, "~"); ok {
			tenant, name = t, n
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.anyIn(scope) {
		return nil, errNoConferences
	}
	c := s.confs[keyOf(tenant, name)]
	if c == nil {
		return nil, errNoConference
	}
	return c, nil
}

// anyIn reports whether scope sees a conference (under s.mu).
func (s *Service) anyIn(scope string) bool {
	for k := range s.confs {
		if scope == "" || k.tenant == tenancy.Of(scope) {
			return true
		}
	}
	return false
}

func (s *Service) remove(c *Conference) {
	s.mu.Lock()
	if s.confs[c.key] == c {
		delete(s.confs, c.key)
	}
	s.mu.Unlock()
}

// Conference is one live conference.
type Conference struct {
	svc    *Service
	Name   string
	Tenant string
	key    confKey
	// Bridge is the profile the first user opened it with.
	Bridge  *BridgeProfile
	room    *mixer.Room
	id      string // the bridge's uniqueid
	created time.Time

	announcements chan []announcement
	done          chan struct{} // closed when the conference ends
	byPart        sync.Map      // *mixer.Participant -> *User, for the pacer thread
	// entered counts the channels in the bridge (BridgeNumChannels); the
	// pacer thread reads it (ConfbridgeTalking) without taking mu.
	entered atomic.Int32

	mu      sync.Mutex
	state   state
	active  []*User // unmarked and marked users in the mix, in joining order
	waiting []*User // wait_marked users waiting for a marked one
	marked  int
	locked  bool
	muted   bool // admin_toggle_mute_participants
	ended   bool
	rec     *recording
	lastRec struct{ path, file string }
}

// announcement is one file (or a number to say) played to the conference.
type announcement struct {
	file   string
	number int           // with file "": say this number
	done   chan struct{} // closed once played, when set
}

// started publishes the new conference's events and starts its
// announcer and, with record_conference, its recording.
func (c *Conference) started() {
	c.publishBridge(events.BridgeCreate, 0)
	c.publish(events.ConfbridgeStart, nil, events.Conference{})
	go c.announcer()
	if c.Bridge.RecordConference {
		if err := c.startRecording(""); err != nil {
			c.svc.log.Warn("ConfBridge: cannot record the conference", "conference", c.Name, "err", err)
		}
	}
}

// bridgeBlock is the conference's bridge as events show it: ConfBridge's
// bridge is a multimix base bridge of technology softmix, created by
// ConfBridge and named after the conference.
func (c *Conference) bridgeBlock(n int) *events.Bridge {
	return &events.Bridge{UniqueID: c.id, Type: "base", Technology: "softmix", Creator: "ConfBridge", Name: c.Name, NumChannels: n}
}

func (c *Conference) publishBridge(kind events.Kind, n int) {
	if bus := c.svc.o.Bus; bus != nil && bus.HasSubscribers() {
		bus.Publish(events.Event{Kind: kind, Bridge: c.bridgeBlock(n), Tenant: c.Tenant})
	}
}

// publish sends a Confbridge* event, about u's channel when u is set.
func (c *Conference) publish(kind events.Kind, u *User, body events.Conference) {
	body.Name = c.Name
	e := events.Event{Kind: kind, Conference: &body, Bridge: c.bridgeBlock(int(c.entered.Load())), Tenant: c.Tenant}
	if u != nil {
		u.Ch.Publish(e)
		return
	}
	if bus := c.svc.o.Bus; bus != nil && bus.HasSubscribers() {
		bus.Publish(e)
	}
}

// join runs the state machine's join for a new user.
func (c *Conference) join(r JoinRequest) (*User, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ended {
		return nil, errEnded
	}
	full := c.Bridge.MaxMembers > 0 && len(c.active) >= c.Bridge.MaxMembers
	if (full || c.locked) && !r.User.Admin {
		return nil, &LockedError{Sound: c.Bridge.Sound("locked")}
	}
	u := &User{conf: c, Ch: r.Ch, Session: r.Session, Profile: r.User, music: r.Music, removed: make(chan struct{}), joined: time.Now()}
	// Join muted: startmuted, or a conference whose participants an
	// admin muted.
	u.muted = r.User.StartMuted || (!r.User.Admin && c.muted)
	// Music on hold waits until the user is in the bridge
	// (suspended_moh), so its own prompts come first.
	u.suspended = 1
	switch {
	case r.User.Marked:
		c.joinMarked(u)
	case r.User.WaitMarked:
		c.joinWaitMarked(u)
	default:
		c.joinUnmarked(u)
	}
	return u, nil
}

// Users counts the active and waiting users.
func (c *Conference) Users() (active, waiting int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.active), len(c.waiting)
}

// Locked reports whether the conference is locked.
func (c *Conference) Locked() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.locked
}

// SetLocked locks or unlocks the conference.
func (c *Conference) SetLocked(on bool) {
	c.mu.Lock()
	c.locked = on
	c.mu.Unlock()
}

// Announce plays files to the whole conference, after what is already
// queued (app_confbridge's async_play_sound_file through its announcer
// channel); it does not wait.
func (c *Conference) Announce(files ...string) {
	var list []announcement
	for _, f := range files {
		if f != "" {
			list = append(list, announcement{file: f})
		}
	}
	c.queue(list)
}

// AnnounceCount says how many others are in to the whole conference
// (announce_user_count with no user: only_one, or there_are, the number
// and other_in_party).
func (c *Conference) AnnounceCount() {
	active, _ := c.Users()
	c.queue(c.countAnnouncement(active))
}

func (c *Conference) countAnnouncement(active int) []announcement {
	switch {
	case active <= 1:
		return nil
	case active == 2:
		return []announcement{{file: c.Bridge.Sound("only_one")}}
	}
	return []announcement{{file: c.Bridge.Sound("there_are")}, {number: active - 1}, {file: c.Bridge.Sound("other_in_party")}}
}

// AnnounceCount says how many others are in to the user alone
// (announce_user_count with a user).
func (u *User) AnnounceCount(ctx context.Context) error {
	active, _ := u.conf.Users()
	var files []string
	for _, a := range u.conf.countAnnouncement(active) {
		if a.file != "" {
			files = append(files, a.file)
			continue
		}
		n, err := prompts.SayNumber(int64(a.number), u.Ch.Language(), "")
		if err != nil {
			return err
		}
		files = append(files, n...)
	}
	_, err := u.Play(ctx, "", files...)
	return err
}

// AnnounceWait plays files to the whole conference after what is queued
// and waits until they have played (play_sound_file), or ctx ends.
func (c *Conference) AnnounceWait(ctx context.Context, files ...string) error {
	done := make(chan struct{})
	var list []announcement
	for _, f := range files {
		if f != "" {
			list = append(list, announcement{file: f})
		}
	}
	if len(list) == 0 {
		return nil
	}
	list[len(list)-1].done = done
	select {
	case c.announcements <- list:
	case <-c.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case <-done:
	case <-c.done:
	case <-ctx.Done():
		return ctx.Err()
	}
	return nil
}

func (c *Conference) queue(list []announcement) {
	if len(list) == 0 {
		return
	}
	select {
	case <-c.done:
	case c.announcements <- list:
	default:
		c.svc.log.Warn("ConfBridge: too many announcements queued, dropping one", "conference", c.Name)
	}
}

// announcer plays the queued announcements one after the other into the
// mix until the conference ends.
func (c *Conference) announcer() {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		<-c.done
		cancel()
	}()
	for {
		select {
		case <-c.done:
			return
		case list := <-c.announcements:
			for _, a := range list {
				c.play(ctx, a)
				if a.done != nil {
					close(a.done)
				}
			}
		}
	}
}

// play plays one announcement into the mix.
func (c *Conference) play(ctx context.Context, a announcement) {
	files := []string{a.file}
	if a.file == "" {
		var err error
		if files, err = prompts.SayNumber(int64(a.number), c.Bridge.Language, ""); err != nil {
			return
		}
	}
	for _, f := range files {
		src, err := c.svc.o.Sounds.Open(f, c.Bridge.Language)
		if err != nil {
			c.svc.log.Warn("ConfBridge: cannot play to the conference", "conference", c.Name, "sound", f, "err", err)
			continue
		}
		if err := c.room.Play(ctx, src); err != nil {
			return
		}
	}
}

// onTalking reports a participant's talk spurts (the pacer thread: it must
// not block nor take c.mu).
func (c *Conference) onTalking(p *mixer.Participant, talking bool) {
	v, ok := c.byPart.Load(p)
	if !ok {
		return
	}
	u := v.(*User)
	if !u.Profile.TalkDetectionEvents {
		return
	}
	u.talking.Store(talking)
	c.publish(events.ConfbridgeTalking, u, events.Conference{Admin: u.Profile.Admin, Talking: talking})
}

// end runs when the last user has left (conf_ended): the conference is
// gone for new callers, its recording stops, its room closes.
func (c *Conference) end() {
	c.svc.remove(c)
	c.publish(events.ConfbridgeEnd, nil, events.Conference{})
	c.stopRecording()
	close(c.done)
	c.room.Close()
	c.publishBridge(events.BridgeDestroy, 0)
}

// kick removes the users match selects, with CONFBRIDGE_RESULT result;
// it reports whether any matched.
func (c *Conference) kick(match func(*User) bool, result string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	found := false
	for _, list := range [][]*User{c.active, c.waiting} {
		for _, u := range list {
			if u.kicked || !match(u) {
				continue
			}
			u.removeLocked(result)
			found = true
		}
	}
	return found
}

// User is one participant.
type User struct {
	conf    *Conference
	Ch      *channel.Channel
	Session *media.Session
	Profile *UserProfile
	music   Music
	joined  time.Time

	part     *mixer.Participant // nil until Enter, and after Leave
	removed  chan struct{}      // closed when kicked or ended by a marked user leaving
	talking  atomic.Bool
	talkGain atomic.Int32 // dB steps applied by the menu
	listen   atomic.Int32

	// Under conf.mu.
	muted      bool // the user's (or an admin's) mute request
	playingMOH bool
	suspended  int // >0: out of the mix, music held back
	stopMusic  func()
	kicked     bool
	result     string
	postJoin   []func(context.Context) error
	waiting    bool
	left       bool
}

// Conference is the user's conference.
func (u *User) Conference() *Conference { return u.conf }

// Removed is closed when the user was removed from the conference (kick,
// the last marked user leaving, shutdown); Result says why.
func (u *User) Removed() <-chan struct{} { return u.removed }

// Result is the CONFBRIDGE_RESULT a removal set ("" if none).
func (u *User) Result() string {
	u.conf.mu.Lock()
	defer u.conf.mu.Unlock()
	return u.result
}

// Kicked reports whether the user was removed by someone else.
func (u *User) Kicked() bool {
	u.conf.mu.Lock()
	defer u.conf.mu.Unlock()
	return u.kicked
}

func (u *User) removeLocked(result string) {
	if u.kicked {
		return
	}
	u.kicked = true
	u.result = result
	close(u.removed)
}

// Muted reports the user's own mute request.
func (u *User) Muted() bool {
	u.conf.mu.Lock()
	defer u.conf.mu.Unlock()
	return u.muted
}

// Enter puts the user into the mix (ast_bridge_join): BridgeEnter and
// ConfbridgeJoin, then the prompts the state machine queued for it (you
// are the only person, wait for the leader, the conference begins), then
// its music on hold if it should hear some.
func (u *User) Enter(ctx context.Context) error {
	c := u.conf
	c.mu.Lock()
	hold := u.suspended > 0 || u.playingMOH
	p, err := c.room.Join(u.Session, mixer.JoinOptions{Muted: u.effectiveMuteLocked(), Hold: hold,
		TalkGain: float64(u.talkGain.Load()), ListenGain: float64(u.listen.Load())})
	if err != nil {
		c.mu.Unlock()
		return fmt.Errorf("conference %s: %w", c.Name, err)
	}
	u.part = p
	c.byPart.Store(p, u)
	n := int(c.entered.Add(1))
	muted := u.muted
	actions := u.postJoin
	u.postJoin = nil
	c.mu.Unlock()

	b := c.bridgeBlock(n)
	u.Ch.Publish(events.Event{Kind: events.BridgeEnter, Bridge: b})
	c.publish(events.ConfbridgeJoin, u, events.Conference{Admin: u.Profile.Admin, Muted: muted})
	for _, a := range actions {
		if err := a(ctx); err != nil {
			u.Resume()
			return err
		}
	}
	u.Resume() // the initial suspension: music may start now
	return nil
}

// Leave takes the user out of the conference (leave_conference):
// ConfbridgeLeave and BridgeLeave, the state machine's leave (which may
// end the conference). Idempotent.
func (u *User) Leave() {
	c := u.conf
	c.mu.Lock()
	if u.left {
		c.mu.Unlock()
		return
	}
	u.left = true
	p := u.part
	u.part = nil
	stop := u.stopMusic
	u.stopMusic = nil
	c.mu.Unlock()
	if p != nil {
		c.publish(events.ConfbridgeLeave, u, events.Conference{Admin: u.Profile.Admin})
		p.Leave()
		c.byPart.Delete(p)
		n := int(c.entered.Add(-1))
		u.Ch.Publish(events.Event{Kind: events.BridgeLeave, Bridge: c.bridgeBlock(n)})
	}
	if stop != nil {
		stop()
	}
	c.mu.Lock()
	u.playingMOH = false
	switch {
	case u.Profile.Marked:
		c.leaveMarked(u)
	case u.Profile.WaitMarked:
		c.leaveWaitMarked(u)
	default:
		c.leaveUnmarked(u)
	}
	ended := c.state == stateEmpty && !c.ended
	if ended {
		c.ended = true
	}
	c.mu.Unlock()
	if ended {
		c.end()
	}
}

// Suspend takes the user out of the mix (and stops its music) so that a
// prompt can be played to it alone (conf_moh_suspend and the bridge's
// suspension while a DTMF hook runs); Resume undoes it.
func (u *User) Suspend() {
	c := u.conf
	c.mu.Lock()
	u.suspended++
	stop := u.stopMusic
	u.stopMusic = nil
	if u.part != nil {
		u.part.SetHold(true)
	}
	c.mu.Unlock()
	if stop != nil {
		stop()
	}
}

func (u *User) Resume() {
	c := u.conf
	c.mu.Lock()
	defer c.mu.Unlock()
	if u.suspended > 0 {
		u.suspended--
	}
	u.applyMusicLocked()
}

// applyMusicLocked starts or stops the user's music and mixer hold as its
// state calls for.
func (u *User) applyMusicLocked() {
	if u.suspended > 0 || u.part == nil || u.left {
		return
	}
	switch {
	case u.playingMOH && u.stopMusic == nil:
		u.part.SetHold(true)
		if u.music != nil {
			stop, err := u.music(u.Ch, u.Session, u.Profile.MOHClass)
			if err != nil {
				u.Ch.Log().Warn("ConfBridge: cannot start music on hold", "class", u.Profile.MOHClass, "err", err)
			} else {
				u.stopMusic = stop
			}
		}
	case !u.playingMOH:
		if u.stopMusic != nil {
			u.stopMusic()
			u.stopMusic = nil
		}
		u.part.SetHold(false)
	}
}

// Play plays files to the user alone, in its language, out of the mix
// meanwhile (play_prompt_to_user). escape digits stop it; the digit is
// returned.
func (u *User) Play(ctx context.Context, escape string, files ...string) (rune, error) {
	u.Suspend()
	defer u.Resume()
	return PlayTo(ctx, u.conf.svc.o.Sounds, u.Ch, u.Session, escape, files...)
}

// PlayTo plays files to ch on its session s in its language, one after
// the other; a digit of escape stops them and is returned. Missing files
// are skipped with a warning.
func PlayTo(ctx context.Context, sounds prompts.Sounds, ch *channel.Channel, s *media.Session, escape string, files ...string) (rune, error) {
	for _, f := range files {
		if f == "" {
			continue
		}
		src, err := sounds.Open(f, ch.Language())
		if err != nil {
			ch.Log().Warn("ConfBridge: cannot play sound", "sound", f, "err", err)
			continue
		}
		pctx, cancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- s.Play(pctx, src) }()
		var digit rune
	wait:
		for {
			select {
			case err = <-done:
				break wait
			case d := <-s.DTMF():
				if strings.ContainsRune(escape, d.Digit) {
					digit = d.Digit
					cancel()
					err = <-done
					break wait
				}
			case <-ctx.Done():
				cancel()
				<-done
				return 0, ctx.Err()
			}
		}
		cancel()
		if digit != 0 {
			return digit, nil
		}
		if err != nil && !errors.Is(err, context.Canceled) {
			return 0, err
		}
	}
	return 0, nil
}

// effectiveMuteLocked is conf_update_user_mute: the user's request, or
// the system's (music on hold, or a wait_marked user without a marked
// one present).
func (u *User) effectiveMuteLocked() bool {
	return u.muted || u.playingMOH || (u.conf.marked == 0 && u.Profile.WaitMarked)
}

func (u *User) updateMuteLocked() {
	if u.part != nil {
		u.part.SetMuted(u.effectiveMuteLocked())
	}
}

// SetMuted sets the user's mute request (generic_mute_unmute_user):
// ConfbridgeMute or ConfbridgeUnmute.
func (u *User) SetMuted(on bool) {
	c := u.conf
	c.mu.Lock()
	u.muted = on
	u.updateMuteLocked()
	c.mu.Unlock()
	kind := events.ConfbridgeUnmute
	if on {
		kind = events.ConfbridgeMute
	}
	c.publish(kind, u, events.Conference{Admin: u.Profile.Admin})
}

// Volume steps of the menu's volume actions, in dB: Asterisk's audiohook
// volume multiplies or divides the samples by the step count beyond the
// first; entVoice moves 3 dB a step, within the mixer's -96..+18 dB.
const volumeStep = 3

// AdjustVolume changes what the user says (talk) or hears by steps (0:
// reset to unity).
func (u *User) AdjustVolume(talk bool, steps int) {
	g := &u.listen
	if talk {
		g = &u.talkGain
	}
	v := int32(0)
	if steps != 0 {
		v = max(-30, min(18, g.Load()+int32(steps*volumeStep)))
	}
	g.Store(v)
	c := u.conf
	c.mu.Lock()
	defer c.mu.Unlock()
	if u.part == nil {
		return
	}
	if talk {
		u.part.SetTalkGain(float64(v))
	} else {
		u.part.SetListenGain(float64(v))
	}
}

// state is the conference's state (conf_state.h).
type state int

const (
	stateEmpty state = iota
	stateInactive
	stateSingle
	stateSingleMarked
	stateMulti
	stateMultiMarked
)

// The state machine of apps/confbridge/conf_state_*.c, under c.mu. Post
// join actions are queued on the joining user; music and mutes of others
// change at once.

func (c *Conference) addActive(u *User) { c.active = append(c.active, u) }

func (c *Conference) addMarked(u *User) {
	c.active = append(c.active, u)
	c.marked++
}

func (c *Conference) addWaiting(u *User) {
	c.waiting = append(c.waiting, u)
	u.waiting = true
}

func removeUser(list []*User, u *User) ([]*User, bool) {
	for i, x := range list {
		if x == u {
			return append(list[:i:i], list[i+1:]...), true
		}
	}
	return list, false
}

func (c *Conference) removeActive(u *User) {
	c.active, _ = removeUser(c.active, u)
}

func (c *Conference) removeMarked(u *User) {
	var ok bool
	if c.active, ok = removeUser(c.active, u); ok {
		c.marked--
	}
}

func (c *Conference) removeWaiting(u *User) {
	var ok bool
	if c.waiting, ok = removeUser(c.waiting, u); ok {
		u.waiting = false
	}
}

func (u *User) mohStart() {
	u.playingMOH = true
	u.applyMusicLocked()
}

func (u *User) mohStop() {
	u.playingMOH = false
	u.applyMusicLocked()
}

func (u *User) after(f func(context.Context) error) { u.postJoin = append(u.postJoin, f) }

// onlyPerson is conf_handle_only_person, after the user has joined.
func (u *User) onlyPerson(ctx context.Context) error {
	if u.Profile.Quiet || !u.Profile.AnnounceOnlyUser {
		return nil
	}
	_, err := u.Play(ctx, "", u.conf.Bridge.Sound("only_person"))
	return err
}

// waitForLeader is conf_handle_inactive_waitmarked.
func (u *User) waitForLeader(ctx context.Context) error {
	if u.Profile.Quiet {
		return nil
	}
	_, err := u.Play(ctx, "", u.conf.Bridge.Sound("wait_for_leader"))
	return err
}

// playBegin is post_join_play_begin: the conference begins, to everyone.
func (u *User) playBegin(context.Context) error {
	u.conf.Announce(u.conf.Bridge.Sound("begin"))
	return nil
}

func (c *Conference) setState(s state, u *User) {
	c.state = s
	switch s {
	case stateSingle, stateSingleMarked:
		c.firstActiveMusic(true)
	case stateMultiMarked:
		c.transitionToMarked(u)
	}
}

// firstActiveMusic is conf_mute_only_active (on: the only active user
// hears music, with music_on_hold_when_empty) and
// conf_handle_second_active (off: a second user came, the first one's
// music stops); either updates the first user's mute.
func (c *Conference) firstActiveMusic(on bool) {
	if len(c.active) == 0 {
		return
	}
	first := c.active[0]
	if first.Profile.MOHWhenEmpty {
		first.playingMOH = on
		first.applyMusicLocked()
	}
	first.updateMuteLocked()
}

// joinWaitMarkedDefault is conf_default_join_waitmarked.
func (c *Conference) joinWaitMarkedDefault(u *User) {
	c.addWaiting(u)
	if u.Profile.MOHWhenEmpty {
		u.mohStart()
	}
	u.updateMuteLocked()
	u.after(u.waitForLeader)
}

// leaveWaitMarkedDefault is conf_default_leave_waitmarked.
func (c *Conference) leaveWaitMarkedDefault(u *User) {
	c.removeWaiting(u)
}

func (c *Conference) joinUnmarked(u *User) {
	switch c.state {
	case stateEmpty, stateInactive:
		c.addActive(u)
		u.after(u.onlyPerson)
		c.setState(stateSingle, u)
	case stateSingle:
		c.addActive(u)
		c.firstActiveMusic(false)
		u.updateMuteLocked()
		c.setState(stateMulti, u)
	case stateSingleMarked:
		c.addActive(u)
		c.firstActiveMusic(false)
		u.updateMuteLocked()
		c.setState(stateMultiMarked, u)
	case stateMulti, stateMultiMarked:
		c.addActive(u)
		u.updateMuteLocked()
	}
}

func (c *Conference) joinWaitMarked(u *User) {
	switch c.state {
	case stateEmpty:
		c.joinWaitMarkedDefault(u)
		c.setState(stateInactive, u)
	case stateInactive, stateSingle, stateMulti:
		c.joinWaitMarkedDefault(u)
	case stateSingleMarked:
		c.addActive(u)
		c.firstActiveMusic(false)
		u.updateMuteLocked()
		c.setState(stateMultiMarked, u)
	case stateMultiMarked:
		c.addActive(u)
		u.updateMuteLocked()
	}
}

func (c *Conference) joinMarked(u *User) {
	switch c.state {
	case stateEmpty:
		c.addMarked(u)
		u.after(u.onlyPerson)
		c.setState(stateSingleMarked, u)
	case stateInactive:
		c.addMarked(u)
		u.updateMuteLocked()
		c.setState(stateMultiMarked, u)
	case stateSingle, stateSingleMarked:
		c.addMarked(u)
		c.firstActiveMusic(false)
		u.updateMuteLocked()
		c.setState(stateMultiMarked, u)
	case stateMulti:
		c.addMarked(u)
		u.updateMuteLocked()
		c.setState(stateMultiMarked, u)
	case stateMultiMarked:
		c.addMarked(u)
		u.updateMuteLocked()
	}
}

// transitionToMarked: entering MULTI_MARKED, the waiting users join the
// active ones (their music stops, they may talk), and a marked user who
// brought them in is followed by "the conference begins".
func (c *Conference) transitionToMarked(u *User) {
	moved := 0
	for _, w := range c.waiting {
		w.waiting = false
		c.active = append(c.active, w)
		if w.playingMOH {
			w.mohStop()
		}
		w.updateMuteLocked()
		moved++
	}
	c.waiting = nil
	if c.marked == 1 && u.Profile.Marked && !u.Profile.Quiet && moved > 0 {
		u.after(u.playBegin)
	}
}

func (c *Conference) leaveUnmarked(u *User) {
	switch c.state {
	case stateSingle:
		c.removeActive(u)
		if len(c.waiting) > 0 {
			c.state = stateInactive
		} else {
			c.state = stateEmpty
		}
	case stateMulti:
		c.removeActive(u)
		if len(c.active) == 1 {
			c.setState(stateSingle, u)
		}
	case stateMultiMarked:
		c.removeActive(u)
		if len(c.active) == 1 {
			c.setState(stateSingleMarked, u)
		}
	default:
		// An unmarked user in another state is not in the conference
		// (conf_invalid_event_fn): nothing to undo.
		c.removeActive(u)
	}
}

func (c *Conference) leaveWaitMarked(u *User) {
	switch c.state {
	case stateInactive:
		c.leaveWaitMarkedDefault(u)
		if len(c.waiting) == 0 {
			c.state = stateEmpty
		}
	case stateSingle, stateMulti:
		c.leaveWaitMarkedDefault(u)
	case stateMultiMarked:
		c.removeActive(u)
		if len(c.active) == 1 {
			c.setState(stateSingleMarked, u)
		}
	default:
		c.removeWaiting(u)
		c.removeActive(u)
	}
}

func (c *Conference) leaveMarked(u *User) {
	switch c.state {
	case stateSingleMarked:
		c.removeMarked(u)
		c.state = stateEmpty
	case stateMultiMarked:
		c.leaveMarkedMulti(u)
	default:
		c.removeMarked(u)
	}
}

// leaveMarkedMulti is conf_state_multi_marked.c leave_marked: when the
// last marked user leaves (or any, for end_marked_any users), end_marked
// users are removed (CONFBRIDGE_RESULT=ENDMARKED), wait_marked users go
// back to waiting, and the others hear that the leader has left.
func (c *Conference) leaveMarkedMulti(u *User) {
	c.removeMarked(u)
	prompt := false
	var stay []*User
	for _, x := range c.active {
		if c.marked > 0 && !x.Profile.EndMarkedAny {
			stay = append(stay, x)
			continue
		}
		switch {
		case (x.Profile.EndMarked || x.Profile.EndMarkedAny) && !x.kicked:
			if x.Profile.WaitMarked && (!x.Profile.Marked || x.Profile.EndMarkedAny) {
				c.waiting = append(c.waiting, x)
				x.waiting = true
			} else {
				stay = append(stay, x)
			}
			x.removeLocked("ENDMARKED")
		case x.Profile.WaitMarked && !x.Profile.Marked:
			prompt = true
			c.waiting = append(c.waiting, x)
			x.waiting = true
		default:
			prompt = true
			stay = append(stay, x)
		}
	}
	c.active = stay
	switch n := len(c.active); {
	case n == 0 && len(c.waiting) == 0:
		c.state = stateEmpty
	case n == 0:
		c.state = stateInactive
	case n == 1 && c.marked == 0:
		c.setState(stateSingle, u)
	case n == 1 && len(c.waiting) == 0:
		c.setState(stateSingleMarked, u)
	case n > 1 && c.marked == 0:
		c.setState(stateMulti, u)
	}
	if prompt {
		if !u.Profile.Quiet {
			c.queueLocked(c.Bridge.Sound("leader_has_left"))
		}
		for _, w := range c.waiting {
			if w.kicked {
				continue
			}
			if w.Profile.MOHWhenEmpty {
				w.mohStart()
			}
			w.updateMuteLocked()
		}
	}
}

// queueLocked queues an announcement without waiting (under c.mu: the
// announcer never takes it).
func (c *Conference) queueLocked(file string) {
	c.queue([]announcement{{file: file}})
}

// KickLast removes the last user to have joined the active ones
// (admin_kick_last) unless it is by, or an admin: it reports whether it
// did.
func (c *Conference) KickLast(by *User) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.active) == 0 {
		return true
	}
	last := c.active[len(c.active)-1]
	if last == by || last.Profile.Admin {
		return false
	}
	last.removeLocked("KICKED")
	return true
}

// ToggleMuteParticipants mutes (or unmutes) every active user who is not
// an admin (admin_toggle_mute_participants, a conference-level mute that
// users joining later inherit) and reports the new state.
func (c *Conference) ToggleMuteParticipants() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.muted = !c.muted
	for _, u := range c.active {
		if !u.Profile.Admin {
			u.muted = c.muted
			u.updateMuteLocked()
		}
	}
	return c.muted
}
