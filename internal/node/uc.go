package node

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/entvoice/entvoice/internal/channel"
	"github.com/entvoice/entvoice/internal/conference"
	"github.com/entvoice/entvoice/internal/config"
	"github.com/entvoice/entvoice/internal/control"
	"github.com/entvoice/entvoice/internal/dialplan"
	"github.com/entvoice/entvoice/internal/events"
	"github.com/entvoice/entvoice/internal/media"
	"github.com/entvoice/entvoice/internal/parking"
	"github.com/entvoice/entvoice/internal/prompts"
	"github.com/entvoice/entvoice/internal/provision"
)

// newConferences builds the conference service: confbridge.conf's
// profiles when the configuration names one (errors with file:line),
// else app_confbridge's defaults with the sample menu; its recorder
// technology, CBRec, joins the node's technologies.
func newConferences(cfg *config.Config, pacer *media.Pacer, sounds prompts.Sounds, bus *events.Bus, techs *channel.Technologies,
	channels *channel.Registry, recordings string, log *slog.Logger) (*conference.Service, error) {
	var profiles *conference.Profiles
	if cfg.ConfBridge != "" {
		var err error
		if profiles, err = conference.LoadConfig(cfg.ConfBridge); err != nil {
			return nil, err
		}
	}
	svc := conference.New(conference.Options{Pacer: pacer, Sounds: sounds, Bus: bus, RecordingsDir: recordings,
		Profiles: profiles, Techs: techs, Channels: channels, Logger: log})
	// A recording's channel, as ConfBridge's CBRec.
	techs.Register(svc.Recorder(), "CBRec")
	return svc, nil
}

// noConferences is the Conferences of a controller without a conference
// service: there are none.
type noConferences struct{}

var errNoConferences = fmt.Errorf("%w", control.ErrNoConferences)

func (noConferences) ConferenceRooms(context.Context, string) ([]control.ConferenceInfo, error) {
	return nil, errNoConferences
}

func (noConferences) ConferenceParticipants(context.Context, string, string) ([]control.ParticipantInfo, error) {
	return nil, errNoConferences
}

func (noConferences) ConferenceMute(context.Context, string, string, string, bool) error {
	return errNoConferences
}

func (noConferences) ConferenceKick(context.Context, string, string, string) error {
	return errNoConferences
}

func (noConferences) ConferenceLock(context.Context, string, string, bool) error {
	return errNoConferences
}

func (noConferences) ConferenceRecord(context.Context, string, string, bool, string) error {
	return errNoConferences
}

// newParking builds the parking lots (res_parking.conf when the
// configuration names one, else the default lot) and adds their
// extensions to the dialplan.
func newParking(cfg *config.Config, plan *dialplan.Dialplan) (*parking.Service, error) {
	var pc *parking.Config
	if cfg.Parking != "" {
		var err error
		if pc, err = parking.LoadConfig(cfg.Parking); err != nil {
			return nil, err
		}
	}
	svc := parking.New(pc)
	if err := svc.AddExtensions(plan); err != nil {
		return nil, err
	}
	return svc, nil
}

// noParking is the Parking of a controller without parking lots.
type noParking struct{}

func (noParking) ParkedCalls(context.Context, string, string) ([]control.ParkedInfo, error) {
	return nil, nil
}

func (noParking) ParkingLots(context.Context, string) ([]control.LotInfo, error) { return nil, nil }

// userGroups parses a static user's call and pickup groups.
func userGroups(u config.User) (channel.Groups, error) {
	return parseGroups(u.CallGroup, u.PickupGroup, u.NamedCallGroup, u.NamedPickupGroup)
}

// parseGroups parses call_group, pickup_group and their named forms.
func parseGroups(call, pickup, namedCall, namedPickup string) (channel.Groups, error) {
	var g channel.Groups
	var err error
	if g.Call, err = config.ParseGroups(call); err != nil {
		return g, fmt.Errorf("callgroup: %w", err)
	}
	if g.Pickup, err = config.ParseGroups(pickup); err != nil {
		return g, fmt.Errorf("pickupgroup: %w", err)
	}
	if g.NamedCall, err = config.ParseNamedGroups(namedCall); err != nil {
		return g, fmt.Errorf("named_callgroup: %w", err)
	}
	if g.NamedPickup, err = config.ParseNamedGroups(namedPickup); err != nil {
		return g, fmt.Errorf("named_pickupgroup: %w", err)
	}
	return g, nil
}

// realtimeGroups parses a provisioned user's call and pickup groups (the
// repository validated them: a value it refused cannot arrive here; one
// that does anyway gives no group).
func realtimeGroups(u provision.User) channel.Groups {
	g, _ := parseGroups(u.CallGroup, u.PickupGroup, u.NamedCallGroup, u.NamedPickupGroup)
	return g
}
