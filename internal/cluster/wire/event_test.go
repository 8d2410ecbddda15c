package wire

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/entvoice/entvoice/internal/events"
)

// fill sets every field of the struct v points to (recursively through
// pointers to structs) to a distinct non-zero value.
func fill(t *testing.T, v reflect.Value, seed int) {
	t.Helper()
	for i := 0; i < v.NumField(); i++ {
		f, n := v.Field(i), seed*100+i+1
		switch {
		case f.Type() == reflect.TypeOf(time.Time{}):
			f.Set(reflect.ValueOf(time.Date(2026, 11, 29, 10, 0, 0, n, time.UTC)))
		case f.Kind() == reflect.String:
			f.SetString(v.Type().Field(i).Name + "-value")
		case f.Kind() == reflect.Bool:
			f.SetBool(true)
		case f.Kind() == reflect.Int, f.Kind() == reflect.Int32, f.Kind() == reflect.Int64:
			f.SetInt(int64(n))
		case f.Kind() == reflect.Map:
			f.Set(reflect.ValueOf(map[string]string{"Key": "value"}))
		case f.Kind() == reflect.Slice && f.Type().Elem().Kind() == reflect.String:
			f.Set(reflect.ValueOf([]string{"Key: value"}))
		case f.Kind() == reflect.Pointer && f.Type().Elem().Kind() == reflect.Struct:
			p := reflect.New(f.Type().Elem())
			fill(t, p.Elem(), n)
			f.Set(p)
		default:
			t.Fatalf("fill: field %s of %s (%s) unhandled: teach the test", v.Type().Field(i).Name, v.Type(), f.Type())
		}
	}
}

// TestEventFields: every field of events.Event (and of its channel
// snapshots) survives the link's encoding, so a field added to
// events.Event without its twin here fails; the old encoding
// (events.Event's own JSON) and the new one decode into each other, so
// nodes and centrals of both versions understand each other.
func TestEventFields(t *testing.T) {
	et, wt := reflect.TypeOf(events.Event{}), reflect.TypeOf(Event{})
	if et.NumField() != wt.NumField() {
		t.Fatalf("events.Event has %d fields, wire.Event %d", et.NumField(), wt.NumField())
	}
	for i := 0; i < et.NumField(); i++ {
		if et.Field(i).Name != wt.Field(i).Name {
			t.Fatalf("field %d: events.Event.%s vs wire.Event.%s", i, et.Field(i).Name, wt.Field(i).Name)
		}
	}
	var e events.Event
	fill(t, reflect.ValueOf(&e).Elem(), 0)

	raw, err := json.Marshal(&Up{Events: []Event{EncodeEvent(&e)}})
	if err != nil {
		t.Fatal(err)
	}
	var up Up
	if err := json.Unmarshal(raw, &up); err != nil {
		t.Fatal(err)
	}
	if len(up.Events) != 1 || !reflect.DeepEqual(up.Events[0].Decode(), e) {
		t.Fatalf("round trip:\n got %+v\nwant %+v", up.Events, e)
	}
	// An old node's events (events.Event's own JSON) at a new central...
	old, err := json.Marshal(struct {
		Events []events.Event `json:"events"`
	}{[]events.Event{e}})
	if err != nil {
		t.Fatal(err)
	}
	up = Up{}
	if err := json.Unmarshal(old, &up); err != nil || len(up.Events) != 1 || !reflect.DeepEqual(up.Events[0].Decode(), e) {
		t.Fatalf("old encoding at a new central: %v %+v", err, up.Events)
	}
	// ...and a new node's at an old central.
	var oldUp struct {
		Events []events.Event `json:"events"`
	}
	if err := json.Unmarshal(raw, &oldUp); err != nil || len(oldUp.Events) != 1 || !reflect.DeepEqual(oldUp.Events[0], e) {
		t.Fatalf("new encoding at an old central: %v %+v", err, oldUp.Events)
	}
}

// TestEventSmaller: a typical channel event (a Newexten, a few fields
// set) leaves its zero fields out.
func TestEventSmaller(t *testing.T) {
	e := events.Event{Kind: events.Newexten, Time: time.Now(), App: "Answer", Channel: &events.Snapshot{
		Channel: "PJSIP/loadgen-00000001", State: 6, StateDesc: "Up", CallerIDNum: "sipp", CallerIDName: "sipp", Language: "en",
		Context: "bench", Exten: "1000", Priority: 1, UniqueID: "node-1795950434.1", LinkedID: "node-1795950434.1", Tenant: "default"}}
	full, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	w := EncodeEvent(&e)
	compact, err := json.Marshal(&w)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("Newexten: %d bytes as events.Event, %d as wire.Event", len(full), len(compact))
	if len(compact)*3 > len(full)*2 {
		t.Fatalf("wire.Event %d bytes, events.Event %d: zero fields not left out?\n%s", len(compact), len(full), compact)
	}
}
