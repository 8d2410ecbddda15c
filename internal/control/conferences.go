package control

import (
	"context"
	"errors"
	"time"

	"github.com/entvoice/entvoice/internal/events"
)

// Conferences is what AMI (app_confbridge's manager actions) and the API
// do with a node's ConfBridge conferences. A node's Controller implements
// it (ask with a type assertion: central's cluster-wide controller does
// not). Every method takes the caller's tenant scope, as Controller's do:
// a tenant sees its own conferences, named bare; an admin ("") names a
// hosted tenant's conference "tenant~name".
type Conferences interface {
	// ConferenceRooms lists the live conferences.
	ConferenceRooms(ctx context.Context, scope string) ([]ConferenceInfo, error)
	// ConferenceParticipants lists a conference's participants, the
	// active ones then those waiting for a marked user.
	ConferenceParticipants(ctx context.Context, scope, conference string) ([]ParticipantInfo, error)
	// ConferenceMute mutes or unmutes participants: a channel name (or
	// its leading part, as app_confbridge matches), "all", or
	// "participants" (everyone but the admins).
	ConferenceMute(ctx context.Context, scope, conference, channel string, mute bool) error
	// ConferenceKick removes participants (a channel name, "all" or
	// "participants"); they go on in the dialplan with
	// CONFBRIDGE_RESULT=KICKED.
	ConferenceKick(ctx context.Context, scope, conference, channel string) error
	// ConferenceLock locks or unlocks a conference: only admins join a
	// locked one.
	ConferenceLock(ctx context.Context, scope, conference string, lock bool) error
	// ConferenceRecord starts (file: the recording's name, "" for the
	// bridge profile's) or stops recording the mix.
	ConferenceRecord(ctx context.Context, scope, conference string, start bool, file string) error
}

// Errors of Conferences (AMI answers them with app_confbridge's texts).
var (
	// ErrNoConferences: no conference is live ("No active conferences.").
	ErrNoConferences = errors.New("no active conferences")
	// ErrNoConference: none by that name ("No Conference by that name found.").
	ErrNoConference = errors.New("no conference by that name")
	// ErrNoParticipant: no such channel in the conference.
	ErrNoParticipant = errors.New("no channel by that name in the conference")
	// ErrRecording: the conference is already being recorded.
	ErrRecording = errors.New("conference is already being recorded")
	// ErrNotRecording: a stop of a conference that is not being recorded.
	ErrNotRecording = errors.New("conference is not being recorded")
)

// ConferenceInfo is a live conference (ConfbridgeListRooms).
type ConferenceInfo struct {
	Name   string `json:"name"`
	Tenant string `json:"tenant,omitempty"`
	// Parties counts the active and waiting participants, Marked the
	// marked ones.
	Parties   int  `json:"parties"`
	Marked    int  `json:"marked"`
	Locked    bool `json:"locked"`
	Muted     bool `json:"muted"`
	Recording bool `json:"recording"`
}

// ParticipantInfo is a participant of a conference (ConfbridgeList).
type ParticipantInfo struct {
	events.Snapshot
	Conference   string        `json:"conference"`
	Admin        bool          `json:"admin"`
	Marked       bool          `json:"marked"`
	WaitMarked   bool          `json:"wait_marked"`
	EndMarked    bool          `json:"end_marked"`
	EndMarkedAny bool          `json:"end_marked_any"`
	Waiting      bool          `json:"waiting"`
	Muted        bool          `json:"muted"`
	Talking      bool          `json:"talking"`
	AnsweredTime time.Duration `json:"answered_time"`
}
