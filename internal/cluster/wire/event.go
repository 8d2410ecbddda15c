package wire

import (
	"time"

	"github.com/entvoice/entvoice/internal/events"
)

// Event is a node bus event on the link (Up.Events). It has the keys
// encoding/json gives events.Event (its Go field names), so either form
// decodes into the other, but leaves out the zero fields: a channel event
// sets a handful of its 21 fields and of its snapshot's 15, and most of a
// distributed call's extra CPU is the JSON of its events (8 for a call
// answered and hung up by the dialplan; docs/cluster.md, "Benchmark").
// Leaving the zero fields out takes a Newexten from 613 to 334 bytes and
// about a third off central's decoding.
type Event struct {
	Kind       events.Kind        `json:"Kind"`
	Time       time.Time          `json:"Time"`
	Channel    *Channel           `json:"Channel,omitempty"`
	Dest       *Channel           `json:"Dest,omitempty"`
	App        string             `json:"App,omitempty"`
	AppData    string             `json:"AppData,omitempty"`
	Variable   string             `json:"Variable,omitempty"`
	Value      string             `json:"Value,omitempty"`
	DialString string             `json:"DialString,omitempty"`
	DialStatus string             `json:"DialStatus,omitempty"`
	Cause      int                `json:"Cause,omitempty"`
	Digit      rune               `json:"Digit,omitempty"`
	Duration   time.Duration      `json:"Duration,omitempty"`
	Direction  string             `json:"Direction,omitempty"`
	Peer       string             `json:"Peer,omitempty"`
	Status     string             `json:"Status,omitempty"`
	URI        string             `json:"URI,omitempty"`
	Address    string             `json:"Address,omitempty"`
	AGI        *events.AGI        `json:"AGI,omitempty"`
	Fields     map[string]string  `json:"Fields,omitempty"`
	Bridge     *events.Bridge     `json:"Bridge,omitempty"`
	MusicClass string             `json:"MusicClass,omitempty"`
	Conference *events.Conference `json:"Conference,omitempty"`
	Parked     *events.Parked     `json:"Parked,omitempty"`
	Queue      *events.Queue      `json:"Queue,omitempty"`
	Tenant     string             `json:"Tenant,omitempty"`
	Extra      []string           `json:"Extra,omitempty"`
	Mailbox    *events.Mailbox    `json:"Mailbox,omitempty"`
}

// Channel is events.Snapshot without its zero fields (same field
// names and types, so the two convert into each other).
type Channel struct {
	Channel          string `json:"Channel,omitempty"`
	State            int    `json:"State,omitempty"`
	StateDesc        string `json:"StateDesc,omitempty"`
	CallerIDNum      string `json:"CallerIDNum,omitempty"`
	CallerIDName     string `json:"CallerIDName,omitempty"`
	ConnectedLineNum string `json:"ConnectedLineNum,omitempty"`
	ConnectedLineNam string `json:"ConnectedLineNam,omitempty"`
	Language         string `json:"Language,omitempty"`
	AccountCode      string `json:"AccountCode,omitempty"`
	Context          string `json:"Context,omitempty"`
	Exten            string `json:"Exten,omitempty"`
	Priority         int    `json:"Priority,omitempty"`
	UniqueID         string `json:"UniqueID,omitempty"`
	LinkedID         string `json:"LinkedID,omitempty"`
	Tenant           string `json:"Tenant,omitempty"`
}

func encodeChannel(s *events.Snapshot) *Channel {
	if s == nil {
		return nil
	}
	w := Channel(*s)
	return &w
}

func (w *Channel) decode() *events.Snapshot {
	if w == nil {
		return nil
	}
	s := events.Snapshot(*w)
	return &s
}

// EncodeEvent is e as it goes up the link. TestEventFields keeps it
// complete when events.Event gains a field.
func EncodeEvent(e *events.Event) Event {
	return Event{Kind: e.Kind, Time: e.Time, Channel: encodeChannel(e.Channel), Dest: encodeChannel(e.Dest),
		App: e.App, AppData: e.AppData, Variable: e.Variable, Value: e.Value, DialString: e.DialString, DialStatus: e.DialStatus,
		Cause: e.Cause, Digit: e.Digit, Duration: e.Duration, Direction: e.Direction, Peer: e.Peer, Status: e.Status,
		URI: e.URI, Address: e.Address, AGI: e.AGI, Fields: e.Fields, Bridge: e.Bridge, Queue: e.Queue, Tenant: e.Tenant, Extra: e.Extra,
		MusicClass: e.MusicClass, Conference: e.Conference, Parked: e.Parked, Mailbox: e.Mailbox}
}

// Decode is the bus event central publishes.
func (w *Event) Decode() events.Event {
	return events.Event{Kind: w.Kind, Time: w.Time, Channel: w.Channel.decode(), Dest: w.Dest.decode(),
		App: w.App, AppData: w.AppData, Variable: w.Variable, Value: w.Value, DialString: w.DialString, DialStatus: w.DialStatus,
		Cause: w.Cause, Digit: w.Digit, Duration: w.Duration, Direction: w.Direction, Peer: w.Peer, Status: w.Status,
		URI: w.URI, Address: w.Address, AGI: w.AGI, Fields: w.Fields, Bridge: w.Bridge, Queue: w.Queue, Tenant: w.Tenant, Extra: w.Extra,
		MusicClass: w.MusicClass, Conference: w.Conference, Parked: w.Parked, Mailbox: w.Mailbox}
}
