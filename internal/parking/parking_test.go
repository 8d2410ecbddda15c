package parking

import (
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/entvoice/entvoice/internal/channel"
	"github.com/entvoice/entvoice/internal/dialplan"
	"github.com/entvoice/entvoice/internal/events"
	"github.com/entvoice/entvoice/internal/q850"
)

func writeConf(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "res_parking.conf")
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestLoadConfig: lots with res_parking's defaults; a default lot is
// added when the file has none.
func TestLoadConfig(t *testing.T) {
	cfg, err := LoadConfig(writeConf(t, "[general]\nparkeddynamic=no\n\n[sales]\nparkext => 800\nparkpos => 801-803\ncontext => salesparking\nfindslot => next\ncomebacktoorigin = no\n"))
	if err != nil {
		t.Fatal(err)
	}
	d, ok := cfg.Lot("default")
	if !ok || d.ParkExt != "" || d.Start != 701 || d.Stop != 750 || d.ParkingTime != 45 || !d.ComebackToOrigin || d.ComebackContext != "parkedcallstimeout" {
		t.Errorf("default lot %+v", d)
	}
	s, _ := cfg.Lot("sales")
	if s.ParkExt != "800" || s.Start != 801 || s.Stop != 803 || s.FindSlot != FindNext || s.ComebackToOrigin || s.Line != 4 {
		t.Errorf("sales lot %+v", s)
	}
	for _, c := range []struct{ body, want string }{
		{"[a]\nparkpos => 720-701\n", ":2: parkpos: \"720-701\""},
		{"[a]\nparktime => 3\n", `:2: unknown key "parktime"`},
		{"[a]\nfindslot => last\n", ":2: findslot"},
		{"[general]\nparkeddynamic=yes\n", ":2: parkeddynamic: dynamic parking lots are not supported"},
		{"[a]\nparkext => 700\nparkpos => 701-705\n[b]\nparkext => 800\nparkpos => 705-710\n", ":4: parking lot [b]: spaces 705-710 overlap lot [a]"},
		{"[a]\nparkext => 702\nparkpos => 701-705\n", ":1: parking lot [a]: parkext 702 is one of its spaces"},
	} {
		if _, err := LoadConfig(writeConf(t, c.body)); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: err %v, want %q", c.body, err, c.want)
		}
	}
}

// TestAddExtensions: the lot's parkext and spaces in its context; a
// conflicting extension is an error.
func TestAddExtensions(t *testing.T) {
	plan, err := dialplan.Parse("x.conf", strings.NewReader("[phones]\ninclude => parkedcalls\n"))
	if err != nil {
		t.Fatal(err)
	}
	svc := New(nil)
	if err := svc.AddExtensions(plan); err != nil {
		t.Fatal(err)
	}
	if st := plan.Steps("parkedcalls", "700"); len(st) != 1 || st[0].App != "Park" || st[0].Data != "" {
		t.Errorf("700: %+v", st)
	}
	if st := plan.Steps("parkedcalls", "720"); len(st) != 1 || st[0].App != "ParkedCall" || st[0].Data != "default,720" {
		t.Errorf("720: %+v", st)
	}
	taken, _ := dialplan.Parse("x.conf", strings.NewReader("[parkedcalls]\nexten => 705,1,NoOp()\n"))
	if err := svc.AddExtensions(taken); err == nil || !strings.Contains(err.Error(), "space 705@parkedcalls already exists") {
		t.Errorf("conflict: %v", err)
	}
}

// TestParkRetrieve: spaces in order, PARKINGEXTEN, retrieval of the
// first parked call, the space freed by a hangup (ParkedCallGiveUp).
func TestParkRetrieve(t *testing.T) {
	bus := events.New()
	sub := bus.Subscribe(64, nil)
	defer sub.Close()
	reg := channel.NewRegistry("", bus, slog.New(slog.DiscardHandler))
	svc := New(nil)
	a := reg.New(channel.Options{Tech: "PJSIP", Endpoint: "1001"})
	b := reg.New(channel.Options{Tech: "PJSIP", Endpoint: "1002"})
	b.SetVar("PARKINGEXTEN", "710")
	pa, err := svc.Park(a, ParkOptions{Timeout: -1})
	if err != nil || pa.Space != 701 || pa.ParkerDial != "PJSIP/1001" || pa.Timeout != 45*time.Second {
		t.Fatalf("park a: %+v %v", pa, err)
	}
	pb, err := svc.Park(b, ParkOptions{ParkerDial: "PJSIP/1003", Timeout: 0})
	if err != nil || pb.Space != 710 || pb.ParkerDial != "PJSIP/1003" || pb.Timeout != 0 {
		t.Fatalf("park b: %+v %v", pb, err)
	}
	if _, err := svc.Park(a, ParkOptions{Timeout: -1}); err == nil {
		t.Error("parked the same channel twice")
	}
	r := reg.New(channel.Options{Tech: "PJSIP", Endpoint: "1004"})
	got, err := svc.Retrieve("", "default", -1, r)
	if err != nil || got != pa || pa.Resolution() != Retrieved || pa.Retriever() != r {
		t.Fatalf("retrieve first: %v %v", got, err)
	}
	if _, err := svc.Retrieve("", "default", 701, r); err == nil {
		t.Error("retrieved an empty space")
	}
	b.Hangup(q850.NormalClearing)
	if pb.Resolution() != GaveUp {
		t.Errorf("b's resolution %v after its hangup, want GaveUp", pb.Resolution())
	}
	if calls, _ := svc.ParkedCalls(t.Context(), "", ""); len(calls) != 0 {
		t.Errorf("parked calls left: %+v", calls)
	}
	var kinds []string
	for len(sub.C) > 0 {
		if e := <-sub.C; e.Parked != nil {
			kinds = append(kinds, string(e.Kind))
		}
	}
	if strings.Join(kinds, ",") != "ParkedCall,ParkedCall,UnParkedCall,ParkedCallGiveUp" {
		t.Errorf("events %v", kinds)
	}
}

func TestDialString(t *testing.T) {
	for in, want := range map[string]string{"PJSIP/1001-00000001": "PJSIP/1001", "Local/100@ctx-00000002;1": "Local/100@ctx", "PJSIP/1001": "PJSIP/1001"} {
		if got := DialString(in); got != want {
			t.Errorf("DialString(%q) = %q, want %q", in, got, want)
		}
	}
	if Flat("PJSIP/1001") != "PJSIP_1001" {
		t.Error("Flat")
	}
}
