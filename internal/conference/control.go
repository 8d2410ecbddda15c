package conference

import (
	"context"
	"sort"
	"strings"
	"time"

	"github.com/entvoice/entvoice/internal/control"
	"github.com/entvoice/entvoice/internal/media/mixer"
	"github.com/entvoice/entvoice/internal/tenancy"
)

var (
	errNoConferences = control.ErrNoConferences
	errNoConference  = control.ErrNoConference
)

var _ control.Conferences = (*Service)(nil)

// nameFor is how scope names a conference: bare for its own tenant, and
// for an admin "tenant~name" when the conference is a hosted tenant's.
func (c *Conference) nameFor(scope string) string {
	if scope == "" && !tenancy.IsDefault(c.Tenant) {
		return c.Tenant + "~" + c.Name
	}
	return c.Name
}

// ConferenceRooms implements control.Conferences (ConfbridgeListRooms).
func (s *Service) ConferenceRooms(_ context.Context, scope string) ([]control.ConferenceInfo, error) {
	s.mu.Lock()
	var confs []*Conference
	for k, c := range s.confs {
		if scope == "" || k.tenant == tenancy.Of(scope) {
			confs = append(confs, c)
		}
	}
	s.mu.Unlock()
	if len(confs) == 0 {
		return nil, errNoConferences
	}
	sort.Slice(confs, func(i, j int) bool { return confs[i].created.Before(confs[j].created) })
	out := make([]control.ConferenceInfo, 0, len(confs))
	for _, c := range confs {
		c.mu.Lock()
		out = append(out, control.ConferenceInfo{Name: c.nameFor(scope), Tenant: c.Tenant, Parties: len(c.active) + len(c.waiting),
			Marked: c.marked, Locked: c.locked, Muted: c.muted, Recording: c.rec != nil})
		c.mu.Unlock()
	}
	return out, nil
}

// ConferenceParticipants implements control.Conferences (ConfbridgeList).
func (s *Service) ConferenceParticipants(_ context.Context, scope, name string) ([]control.ParticipantInfo, error) {
	c, err := s.find(scope, name)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	type entry struct {
		u       *User
		waiting bool
		muted   bool
	}
	var list []entry
	for _, u := range c.active {
		list = append(list, entry{u, false, u.muted})
	}
	for _, u := range c.waiting {
		list = append(list, entry{u, true, u.muted})
	}
	c.mu.Unlock()
	out := make([]control.ParticipantInfo, 0, len(list))
	for _, e := range list {
		p := e.u.Profile
		var up time.Duration
		if t := e.u.Ch.AnsweredAt(); !t.IsZero() {
			up = time.Since(t)
		}
		out = append(out, control.ParticipantInfo{Snapshot: *e.u.Ch.Snapshot(), Conference: c.Name,
			Admin: p.Admin, Marked: p.Marked, WaitMarked: p.WaitMarked, EndMarked: p.EndMarked, EndMarkedAny: p.EndMarkedAny,
			Waiting: e.waiting, Muted: e.muted, Talking: e.u.talking.Load(), AnsweredTime: up})
	}
	return out, nil
}

// matcher selects participants as app_confbridge's actions do: "all",
// "participants" (not admins), or a channel name (mute: its leading part,
// case-insensitively; kick: the whole name).
func matcher(channel string, prefix bool) func(*User) bool {
	switch {
	case strings.EqualFold(channel, "all"):
		return func(*User) bool { return true }
	case strings.EqualFold(channel, "participants"):
		return func(u *User) bool { return !u.Profile.Admin }
	case prefix:
		return func(u *User) bool {
			return len(u.Ch.Name) >= len(channel) && strings.EqualFold(u.Ch.Name[:len(channel)], channel)
		}
	}
	return func(u *User) bool { return strings.EqualFold(u.Ch.Name, channel) }
}

// ConferenceMute implements control.Conferences (ConfbridgeMute and
// ConfbridgeUnmute, generic_mute_unmute_helper): a channel that matches
// is the only one changed.
func (s *Service) ConferenceMute(_ context.Context, scope, name, channel string, mute bool) error {
	c, err := s.find(scope, name)
	if err != nil {
		return err
	}
	match := matcher(channel, true)
	single := !strings.EqualFold(channel, "all") && !strings.EqualFold(channel, "participants")
	c.mu.Lock()
	var targets []*User
	for _, u := range append(append([]*User(nil), c.active...), c.waiting...) {
		if match(u) {
			targets = append(targets, u)
			if single {
				break
			}
		}
	}
	c.mu.Unlock()
	if len(targets) == 0 {
		return control.ErrNoParticipant
	}
	for _, u := range targets {
		u.SetMuted(mute)
	}
	return nil
}

// ConferenceKick implements control.Conferences (ConfbridgeKick,
// kick_conference_participant).
func (s *Service) ConferenceKick(_ context.Context, scope, name, channel string) error {
	c, err := s.find(scope, name)
	if err != nil {
		return err
	}
	if !c.kick(matcher(channel, false), "KICKED") {
		return control.ErrNoParticipant
	}
	return nil
}

// ConferenceLock implements control.Conferences (ConfbridgeLock and
// ConfbridgeUnlock).
func (s *Service) ConferenceLock(_ context.Context, scope, name string, lock bool) error {
	c, err := s.find(scope, name)
	if err != nil {
		return err
	}
	c.SetLocked(lock)
	return nil
}

// ConferenceRecord implements control.Conferences
// (ConfbridgeStartRecord and ConfbridgeStopRecord).
func (s *Service) ConferenceRecord(_ context.Context, scope, name string, start bool, file string) error {
	c, err := s.find(scope, name)
	if err != nil {
		return err
	}
	if start {
		return c.startRecording(file)
	}
	if !c.stopRecording() {
		return control.ErrNotRecording
	}
	return nil
}

// Find returns a conference of tenant by name.
func (s *Service) Find(tenant, name string) (*Conference, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.confs[keyOf(tenant, name)]
	return c, ok
}

// MixerStats adds up the counters of every conference's mixer room.
func (s *Service) MixerStats() (st mixer.Stats) {
	s.mu.Lock()
	confs := make([]*Conference, 0, len(s.confs))
	for _, c := range s.confs {
		confs = append(confs, c)
	}
	s.mu.Unlock()
	for _, c := range confs {
		x := c.room.Stats()
		st.Mixed += x.Mixed
		st.Sent += x.Sent
		st.Encoded += x.Encoded
	}
	return st
}
