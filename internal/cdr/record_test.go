package cdr

import (
	"testing"
	"time"
)

func TestDurations(t *testing.T) {
	base := time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC)
	at := func(ms, us int) time.Time {
		return base.Add(time.Duration(ms)*time.Millisecond + time.Duration(us)*time.Microsecond)
	}
	cases := []struct {
		name               string
		start, answer, end time.Time
		initiated          bool
		dur, bill          int64
	}{
		{"unanswered", at(0, 0), time.Time{}, at(10000, 0), false, 10, 0},
		{"truncates 2.999s", at(0, 0), at(0, 0), at(2999, 0), false, 2, 2},
		{"sub-ms floors", at(0, 900), at(0, 900), at(3000, 899), false, 2, 2},
		{"across second boundary", at(500, 0), at(1700, 0), at(62400, 0), false, 61, 60},
		{"initiatedseconds rounds billsec at 500ms", at(0, 0), at(1000, 0), at(3500, 0), true, 3, 3},
		{"initiatedseconds keeps below 500ms", at(0, 0), at(1000, 0), at(3499, 0), true, 3, 2},
		{"nanoseconds ignored like timeval", at(0, 0), at(0, 0), base.Add(1999999999), false, 1, 1},
	}
	for _, c := range cases {
		d, b := Durations(c.start, c.answer, c.end, c.initiated)
		if d != c.dur || b != c.bill {
			t.Errorf("%s: Durations = %d, %d; want %d, %d", c.name, d, b, c.dur, c.bill)
		}
	}
}

func TestDispositionFromDialStatus(t *testing.T) {
	cases := map[string]string{
		"ANSWER":      "ANSWERED",
		"BUSY":        "BUSY",
		"NOANSWER":    "NO ANSWER",
		"CANCEL":      "NO ANSWER",
		"CONGESTION":  "FAILED",
		"CHANUNAVAIL": "FAILED",
		"FAILED":      "FAILED",
		"answer":      "FAILED", // strcmp is case-sensitive
		"":            "FAILED",
	}
	for in, want := range cases {
		if got := DispositionFromDialStatus(in); got != want {
			t.Errorf("DispositionFromDialStatus(%q) = %q, want %q", in, got, want)
		}
	}
	if got := DispositionFromDialStatusCongestion("CONGESTION", true); got != "CONGESTION" {
		t.Errorf("congestion=yes: %q", got)
	}
}

func TestNormalize(t *testing.T) {
	r := Record{Src: "10\x0001", CLID: "bad\xffutf8", Start: time.Date(2024, 1, 1, 0, 0, 0, 1999, time.FixedZone("X", 7200))}
	r.Normalize()
	if r.Src != "10" || r.CLID != "bad\uFFFDutf8" || r.Disposition != "NO ANSWER" || r.AMAFlags != "DOCUMENTATION" {
		t.Fatalf("normalize: %+v", r)
	}
	if r.Start.Location() != time.UTC || r.Start.Nanosecond() != 1000 {
		t.Fatalf("start %v", r.Start)
	}
}
