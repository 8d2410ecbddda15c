package dialplan

import (
	"fmt"
	"strings"
	"testing"
)

func TestReplaceContextMatchesAddRow(t *testing.T) {
	rows := []Row{
		{"_X.", 1, "NoOp", "any"},
		{"100", 2, "Playback", "b"},
		{"100", 1, "Answer", ""},
		{"_1XX", 1, "NoOp", "1xx"},
		{"_[1]XX", 2, "NoOp", "same pattern, other spelling"},
		{"200/555", 1, "NoOp", "cid"},
		{"200", 1, "NoOp", "plain"},
		{"_NXXNXXXXXX", 1, "Dial", "PJSIP/${EXTEN}@trunk"},
		{"300", PriorityHint, "PJSIP/300&PJSIP/301", ""},
	}
	want := New()
	for _, r := range rows {
		if err := want.AddRow("ctx", r.Exten, r.Priority, "", r.App, r.AppData); err != nil {
			t.Fatalf("AddRow %v: %v", r, err)
		}
	}
	got := New().Derive()
	if errs := got.ReplaceContext("ctx", nil, rows); len(errs) != 0 {
		t.Fatalf("ReplaceContext: %v", errs)
	}
	if w, g := strings.Join(want.Extensions("ctx"), " "), strings.Join(got.Extensions("ctx"), " "); w != g {
		t.Fatalf("extension order: got %q, want %q", g, w)
	}
	for _, q := range []struct {
		exten, cid string
		pri        int
	}{{"100", "", 1}, {"100", "", 2}, {"123", "", 1}, {"123", "", 2}, {"200", "555", 1}, {"200", "", 1}, {"2125551234", "", 1}, {"9", "", 1}, {"9", "", 3}} {
		ws, wok := want.Find("ctx", q.exten, q.pri, q.cid)
		gs, gok := got.Find("ctx", q.exten, q.pri, q.cid)
		if wok != gok || (wok && (ws.App != gs.App || ws.Data != gs.Data || ws.Exten != gs.Exten)) {
			t.Errorf("Find(%s/%s,%d): got %+v %v, want %+v %v", q.exten, q.cid, q.pri, gs, gok, ws, wok)
		}
	}
	if st := got.Steps("ctx", "300"); len(st) != 1 || st[0].Priority != PriorityHint || st[0].App != "PJSIP/300&PJSIP/301" {
		t.Errorf("hint row: %+v", st)
	}
}

func TestReplaceContextStaticWins(t *testing.T) {
	static, err := Parse("extensions.conf", strings.NewReader("[default]\nexten => 100,1,Answer()\nexten => 100,2,Hangup()\ninclude => other\n[other]\nexten => 5,1,NoOp()\n"))
	if err != nil {
		t.Fatal(err)
	}
	d := static.Derive()
	errs := d.ReplaceContext("default", static, []Row{{"100", 1, "Playback", "x"}, {"100", 3, "Playback", "tail"}, {"", 1, "NoOp", ""}, {"_[9", 1, "NoOp", ""}, {"101", 0, "NoOp", ""}, {"102", 1, "", ""}})
	if len(errs) != 5 {
		t.Fatalf("want 5 refused rows, got %v", errs)
	}
	if !strings.Contains(errs[0].Error(), "shadowed by the static dialplan (extensions.conf:2)") {
		t.Errorf("shadow error: %v", errs[0])
	}
	if st, _ := d.Find("default", "100", 1, ""); st.App != "Answer" {
		t.Errorf("static priority lost: %+v", st)
	}
	if st, ok := d.Find("default", "100", 3, ""); !ok || st.App != "Playback" {
		t.Errorf("realtime priority missing: %+v", st)
	}
	if !d.Exists("default", "5", 1) {
		t.Error("static include lost")
	}
	// The published static plan is untouched.
	if static.Exists("default", "100", 3) {
		t.Error("ReplaceContext changed the base plan")
	}
	d.RemoveContext("other")
	if d.Exists("default", "5", 1) || !static.Exists("default", "5", 1) {
		t.Error("RemoveContext")
	}
	if strings.Join(d.Contexts(), ",") != "default" {
		t.Errorf("contexts: %v", d.Contexts())
	}
}

func TestTenantContext(t *testing.T) {
	for _, c := range []struct {
		tenant, ctx, want string
		ok                bool
	}{
		{"", "internal", "internal", true},
		{"default", "internal", "internal", true},
		{"default", "acme~internal", "acme~internal", false},
		{"acme", "internal", "acme~internal", true},
		{"acme", "acme~internal", "acme~internal", true},
		{"acme", "beta~internal", "acme~beta~internal", true},
	} {
		got, ok := TenantContext(c.tenant, c.ctx)
		if got != c.want || ok != c.ok {
			t.Errorf("TenantContext(%q,%q) = %q,%v", c.tenant, c.ctx, got, ok)
		}
	}
	if BareContext("acme", "acme~internal") != "internal" || BareContext("default", "x~y") != "x~y" {
		t.Error("BareContext")
	}
}

// BenchmarkReplaceContext builds one context of 50,000 rows (10,000
// extensions of 5 priorities), the worst case of a realtime rebuild.
func BenchmarkReplaceContext(b *testing.B) {
	rows := make([]Row, 0, 50000)
	for i := 0; i < 10000; i++ {
		for p := 1; p <= 5; p++ {
			rows = append(rows, Row{Exten: fmt.Sprint(100000 + i), Priority: p, App: "NoOp", AppData: "x"})
		}
	}
	base := New()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		d := base.Derive()
		if errs := d.ReplaceContext("big", nil, rows); len(errs) != 0 {
			b.Fatal(errs[0])
		}
	}
}
