package main

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/entvoice/entvoice/internal/channel"
	"github.com/entvoice/entvoice/internal/conference"
	"github.com/entvoice/entvoice/internal/events"
	"github.com/entvoice/entvoice/internal/media"
	"github.com/entvoice/entvoice/internal/media/mixer"
)

// statter is what the bench reads a mixer's counters from: a room, or
// every room of the conference service.
type statter interface{ Stats() mixer.Stats }

// benchLeg is the channel driver of a bench participant: its session.
type benchLeg struct{ s *media.Session }

func (benchLeg) Indicate(channel.Indication) error { return nil }
func (benchLeg) Answer(context.Context) error      { return nil }
func (benchLeg) Hangup(int)                        {}
func (l benchLeg) Media() *media.Session           { return l.s }
func (c confService) Stats() (st mixer.Stats)      { return c.svc.MixerStats() }

// confService is the conference service as a statter.
type confService struct{ svc *conference.Service }

// confbridgeRooms builds rooms of size participants as ConfBridge does
// (internal/conference: join, state machine, enter), with talk detection
// events on and an AMI-like subscriber draining the bus, so the figure
// includes what the application adds to the mixer.
func confbridgeRooms(pacer *media.Pacer, timing *mixer.Timing, rooms, size int, session func() (*media.Session, error)) (statter, func(), error) {
	bus := events.New()
	sub := bus.Subscribe(1<<16, nil)
	drained := make(chan struct{})
	go func() {
		defer close(drained)
		for range sub.C {
		}
	}()
	reg := channel.NewRegistry("", bus, slog.New(slog.DiscardHandler))
	svc := conference.New(conference.Options{Pacer: pacer, Bus: bus, Timing: timing, Logger: slog.New(slog.DiscardHandler)})
	profiles := svc.Profiles()
	bridge, _ := profiles.Bridge("")
	def, _ := profiles.User("")
	user := *def
	user.Quiet, user.TalkDetectionEvents = true, true
	var users []*conference.User
	stop := func() {
		for _, u := range users {
			u.Leave()
		}
		svc.Close()
		sub.Close()
		<-drained
	}
	for r := range rooms {
		for i := range size {
			s, err := session()
			if err != nil {
				return nil, stop, err
			}
			ch := reg.New(channel.Options{Tech: "Bench", Endpoint: fmt.Sprint(r*size + i), Driver: benchLeg{s}, State: channel.StateUp})
			u, err := svc.Join(conference.JoinRequest{Name: fmt.Sprint(1000 + r), Ch: ch, Session: s, Bridge: bridge, User: &user})
			if err != nil {
				return nil, stop, err
			}
			users = append(users, u)
			if err := u.Enter(context.Background()); err != nil {
				return nil, stop, err
			}
		}
	}
	return confService{svc}, stop, nil
}
