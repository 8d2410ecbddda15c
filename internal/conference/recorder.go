package conference

import (
	"context"
	"fmt"
	"math/rand/v2"

	"github.com/entvoice/entvoice/internal/channel"
	"github.com/entvoice/entvoice/internal/events"
	"github.com/entvoice/entvoice/internal/media"
	"github.com/entvoice/entvoice/internal/q850"
	"github.com/entvoice/entvoice/internal/tenancy"
)

// RecorderTech is ConfBridge's recording channel technology, CBRec
// (apps/confbridge/conf_chan_record.c): CBRec/<conference> is a channel
// that stands for a conference's recording while it runs, as Asterisk
// puts a CBRec channel running MixMonitor into the bridge. The conference
// requests it through the channel technologies registry when it starts
// recording and hangs it up when the recording stops; it shows in the
// channel list and enters and leaves the conference's bridge.
type RecorderTech struct {
	svc *Service
}

// Recorder returns the CBRec technology of s (its channels are created in
// Options.Channels); register it as "CBRec" with Options.Techs.
func (s *Service) Recorder() *RecorderTech { return &RecorderTech{svc: s} }

var _ channel.Technology = (*RecorderTech)(nil)

// Resolve implements channel.Technology: the resource is a live
// conference of the tenant.
func (t *RecorderTech) Resolve(tenant, resource string) (channel.Destination, error) {
	if _, ok := t.svc.Find(tenant, resource); !ok {
		return channel.Destination{}, &channel.RequestError{Cause: q850.ChanUnavailable,
			Err: fmt.Errorf("%w: CBRec/%s", errNoConference, resource)}
	}
	// A recorder is no call of its own: not counted against max_calls.
	return channel.Destination{Tech: "CBRec", Resource: resource, Tenant: tenancy.Of(tenant), Virtual: true}, nil
}

// Call implements channel.Technology: the recorder channel, up at once
// (ast_request then ast_answer in conf_start_record).
func (t *RecorderTech) Call(_ context.Context, d channel.Destination, r channel.Request) (*channel.Leg, error) {
	name := fmt.Sprintf("CBRec/%s-%08x", d.Resource, rand.Uint32())
	ch := t.svc.o.Channels.New(channel.Options{Name: name, Tech: "CBRec", Endpoint: d.Resource, Direction: channel.Outbound,
		Tenant: d.Tenant, State: channel.StateUp, Driver: recorderLeg{}})
	progress := make(chan channel.Progress, 1)
	progress <- channel.Progress{Kind: channel.Answered}
	close(progress)
	return &channel.Leg{Channel: ch, Events: progress}, nil
}

// recorderLeg drives a CBRec channel: it has no signalling and no RTP
// (the recording reads the mix directly).
type recorderLeg struct{}

func (recorderLeg) Indicate(channel.Indication) error { return nil }
func (recorderLeg) Answer(context.Context) error      { return nil }
func (recorderLeg) Hangup(int)                        {}
func (recorderLeg) Media() *media.Session             { return nil }

// recorderEnter requests the conference's CBRec channel and puts it in
// the bridge (nil when the service has no technologies registry).
func (c *Conference) recorderEnter() (*channel.Channel, error) {
	techs := c.svc.o.Techs
	if techs == nil || c.svc.o.Channels == nil {
		return nil, nil
	}
	leg, err := techs.Request(context.Background(), "CBRec/"+c.Name, channel.Request{Tenant: c.Tenant})
	if err != nil {
		return nil, fmt.Errorf("conference %s: recorder channel: %w", c.Name, err)
	}
	n := int(c.entered.Add(1))
	leg.Channel.Publish(events.Event{Kind: events.BridgeEnter, Bridge: c.bridgeBlock(n)})
	return leg.Channel, nil
}

// recorderLeave takes the CBRec channel out of the bridge and hangs it up.
func (c *Conference) recorderLeave(ch *channel.Channel) {
	if ch == nil {
		return
	}
	n := int(c.entered.Add(-1))
	ch.Publish(events.Event{Kind: events.BridgeLeave, Bridge: c.bridgeBlock(n)})
	ch.Hangup(q850.NormalClearing)
	ch.Publish(events.Event{Kind: events.Hangup, Cause: q850.NormalClearing})
	c.svc.o.Channels.Remove(ch)
}
