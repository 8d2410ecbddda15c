package tariff

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/entvoice/entvoice/internal/billing/money"
)

var eur = money.MustCurrency("EUR")

func nanos(t *testing.T, s string) int64 {
	t.Helper()
	n, err := money.ParseNanos(s)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestCost(t *testing.T) {
	cases := []struct {
		name                     string
		perMin, connect, minimum string
		ini, inc                 int32
		billsec                  int64
		mode                     money.Rounding
		billable, minor          int64
	}{
		{"unanswered costs nothing", "1", "0.5", "0.3", 60, 60, 0, money.HalfUp, 0, 0},
		{"60/60 one second", "0.10", "0", "0", 60, 60, 1, money.HalfUp, 60, 10},
		{"60/60 exactly 60", "0.10", "0", "0", 60, 60, 60, money.HalfUp, 60, 10},
		{"60/60 61 s", "0.10", "0", "0", 60, 60, 61, money.HalfUp, 120, 20},
		{"30/6 1 s", "0.12", "0", "0", 30, 6, 1, money.HalfUp, 30, 6},
		{"30/6 30 s", "0.12", "0", "0", 30, 6, 30, money.HalfUp, 30, 6},
		{"30/6 31 s", "0.12", "0", "0", 30, 6, 31, money.HalfUp, 36, 7}, // 0.072 -> 0.07
		{"30/6 36 s", "0.12", "0", "0", 30, 6, 36, money.HalfUp, 36, 7}, // 0.072
		{"30/6 37 s", "0.12", "0", "0", 30, 6, 37, money.HalfUp, 42, 8}, // 0.084
		{"1/1 61 s", "0.0125", "0", "0", 1, 1, 61, money.HalfUp, 61, 1}, // 0.01270833
		{"0/60 bills whole minutes", "0.10", "0", "0", 0, 60, 1, money.HalfUp, 60, 10},
		{"connect fee added once", "0.10", "0.05", "0", 60, 60, 61, money.HalfUp, 120, 25},
		{"minimum charge lifts a short call", "0.01", "0", "0.15", 1, 1, 10, money.HalfUp, 10, 15},
		{"minimum charge includes the connect fee", "0.60", "0.10", "0.15", 1, 1, 1, money.HalfUp, 1, 15}, // 0.11 < 0.15
		{"above minimum", "0.60", "0.10", "0.15", 1, 1, 10, money.HalfUp, 10, 20},
		{"half-up on .5", "0.15", "0", "0", 1, 1, 2, money.HalfUp, 2, 1},             // 0.005 -> 0.01
		{"half-even on .5 to even", "0.15", "0", "0", 1, 1, 2, money.HalfEven, 2, 0}, // 0.005 -> 0.00
		{"half-even .015 -> .02", "0.45", "0", "0", 1, 1, 2, money.HalfEven, 2, 2},   // 0.015 -> 0.02
		{"up", "0.0125", "0", "0", 1, 1, 1, money.Up, 1, 1},                          // 0.000208 -> 0.01
		{"down", "0.599", "0", "0", 1, 1, 60, money.Down, 60, 59},
		{"rounded once, not per increment", "0.001", "0", "0", 1, 1, 3600, money.HalfUp, 3600, 6}, // per-second rounding would give 0
		{"nine decimals kept", "0.000000001", "0", "0", 1, 1, 60, money.Up, 60, 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := Rate{PerMinute: nanos(t, c.perMin), Connect: nanos(t, c.connect), MinCharge: nanos(t, c.minimum), Initial: c.ini, Increment: c.inc}
			got, err := r.Cost(c.billsec, eur, c.mode)
			if err != nil {
				t.Fatal(err)
			}
			if got.Billable != c.billable || got.Minor != c.minor {
				t.Fatalf("cost %+v, want billable %d minor %d", got, c.billable, c.minor)
			}
		})
	}
	jpy, bhd := money.MustCurrency("JPY"), money.MustCurrency("BHD")
	r := Rate{PerMinute: nanos(t, "10.5"), Initial: 60, Increment: 60}
	if c, _ := r.Cost(60, jpy, money.HalfUp); c.Minor != 11 {
		t.Errorf("JPY cost %d, want 11", c.Minor)
	}
	r = Rate{PerMinute: nanos(t, "0.0125"), Initial: 1, Increment: 1}
	if c, _ := r.Cost(60, bhd, money.HalfUp); c.Minor != 13 {
		t.Errorf("BHD cost %d, want 13 (0.0125 -> 0.013)", c.Minor)
	}
	r = Rate{PerMinute: money.MaxPriceNanos, Connect: money.MaxPriceNanos, Initial: 1, Increment: 1}
	if _, err := r.Cost(MaxBillableSeconds+1, eur, money.HalfUp); !errors.Is(err, ErrTooLong) {
		t.Errorf("overlong call: %v", err)
	}
	if c, err := r.Cost(MaxBillableSeconds, eur, money.HalfUp); err != nil || c.Minor <= 0 {
		t.Errorf("max price, max duration: %v %v", c, err)
	}
}

func TestMaxSeconds(t *testing.T) {
	r := Rate{PerMinute: nanos(t, "0.60"), Initial: 30, Increment: 6} // 1 cent a second
	cases := []struct{ budget, want int64 }{{29, 0}, {30, 30}, {35, 30}, {36, 36}, {41, 36}, {100, 96}, {1_000_000, 3600}}
	for _, c := range cases {
		got, err := r.MaxSeconds(c.budget, eur, money.HalfUp, 3600)
		if err != nil || got != c.want {
			t.Errorf("budget %d: %d %v, want %d", c.budget, got, err, c.want)
		}
		if got > 0 {
			cost, _ := r.Cost(got, eur, money.HalfUp)
			next, _ := r.Cost(got+6, eur, money.HalfUp)
			if cost.Minor > c.budget || (got < 3600 && next.Minor <= c.budget) {
				t.Errorf("budget %d: %d s is not the longest affordable", c.budget, got)
			}
		}
	}
	free := Rate{Initial: 60, Increment: 60}
	if got, _ := free.MaxSeconds(0, eur, money.HalfUp, 7200); got != 7200 {
		t.Errorf("free destination: %d", got)
	}
}

func TestBands(t *testing.T) {
	paris, _ := time.LoadLocation("Europe/Paris")
	at := func(s string) time.Time {
		tm, err := time.ParseInLocation("2006-01-02 15:04", s, paris)
		if err != nil {
			t.Fatal(err)
		}
		return tm
	}
	// 2026-03-02 is a Monday.
	cases := []struct {
		band string
		when string
		in   bool
	}{
		{"mon-fri 08:00-18:00", "2026-03-02 08:00", true},
		{"mon-fri 08:00-18:00", "2026-03-02 07:59", false},
		{"mon-fri 08:00-18:00", "2026-03-02 17:59", true},
		{"mon-fri 08:00-18:00", "2026-03-02 18:00", false},
		{"mon-fri 08:00-18:00", "2026-03-07 12:00", false},
		{"mon-fri 18:00-08:00", "2026-03-06 23:59", true}, // Friday night
		{"mon-fri 18:00-08:00", "2026-03-07 00:00", true}, // Saturday 00:00 belongs to Friday's night
		{"mon-fri 18:00-08:00", "2026-03-07 07:59", true},
		{"mon-fri 18:00-08:00", "2026-03-07 08:00", false},
		{"mon-fri 18:00-08:00", "2026-03-02 07:00", false}, // Monday morning is Sunday's night
		{"sat,sun", "2026-03-08 23:59", true},
		{"sat,sun", "2026-03-09 00:00", false},        // week boundary: Monday 00:00
		{"sun 22:00-02:00", "2026-03-09 01:59", true}, // wraps over the week's end
		{"fri-mon", "2026-03-09 10:00", true},
		{"fri-mon", "2026-03-10 10:00", false},
		{"00:00-24:00", "2026-03-10 10:00", true},
		{"mon 00:00-24:00", "2026-03-09 23:59", true},
		{"mon 00:00-24:00", "2026-03-10 00:00", false},
	}
	for _, c := range cases {
		b, err := ParseBand(c.band)
		if err != nil {
			t.Fatalf("%s: %v", c.band, err)
		}
		if got := b.ContainsMinute(MinuteOfWeek(at(c.when), paris)); got != c.in {
			t.Errorf("%q at %s: %v, want %v", c.band, c.when, got, c.in)
		}
	}
	for _, bad := range []string{"mon-fry", "mon 8-18", "mon 08:00", "mon 08:00-08:00", "mon 25:00-26:00", "mon 08:00-18:00 x", "24:00-01:00"} {
		if _, err := ParseBand(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestNormalize(t *testing.T) {
	fr := NumberPlan{CountryCode: "33", NationalPrefix: "0", InternationalPrefix: "00", AccessCode: "9"}
	for in, want := range map[string]string{
		"0612345678": "33612345678", "+33612345678": "33612345678", "0044 20 7946 0000": "442079460000",
		"33612345678": "33612345678", "90612345678": "33612345678", "(06) 12-34.56.78": "33612345678",
	} {
		got, err := fr.Normalize(in)
		if err != nil || got != want {
			t.Errorf("Normalize(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "*97", "12#", "abc", "+1234567890123456"} {
		if got, err := fr.Normalize(bad); err == nil {
			t.Errorf("Normalize(%q) = %q accepted", bad, got)
		}
	}
	if err := (NumberPlan{NationalPrefix: "0"}).Validate(); err == nil {
		t.Error("national prefix without country code accepted")
	}
}

const header = "prefix,description,rate_per_min,connect_fee,initial_s,increment_s,effective_from"

func parse(t *testing.T, body string) ([]Rate, *ImportError) {
	t.Helper()
	rates, err := ParseCSV(strings.NewReader(body), ParseOptions{Currency: eur})
	if err == nil {
		return rates, nil
	}
	var ie *ImportError
	if !errors.As(err, &ie) {
		t.Fatalf("not an ImportError: %v", err)
	}
	return nil, ie
}

func TestParseCSVAccepts(t *testing.T) {
	body := "\xef\xbb\xbf" + header + ",min_charge,band,currency\r\n" +
		"33,France fixed,0.0125,0,60,60,2026-01-01,,,EUR\r\n" +
		"\"336\",\"France mobile, all\",0.10,0.01,30,6,2026-01-01,0.02,,eur\r\n" +
		"+44,UK,0.02,0,1,1,2026-01-01T00:00:00Z,,mon-fri 08:00-18:00,\r\n" +
		"44,UK off-peak,0.01,0,1,1,2026-01-01T00:00:00Z,,,\r\n"
	rates, ie := parse(t, body)
	if ie != nil {
		t.Fatalf("refused: %+v", ie.Errors)
	}
	if len(rates) != 4 {
		t.Fatalf("%d rates", len(rates))
	}
	ix, err := NewIndex(rates, time.UTC)
	if err != nil {
		t.Fatal(err)
	}
	r, ok := ix.Lookup("33612345678", time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC))
	if !ok || r.Prefix != "336" || r.Description != "France mobile, all" || r.MinCharge != 20_000_000 {
		t.Fatalf("lookup: %+v %v", r, ok)
	}
	peak := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	if r, _ := ix.Lookup("442079460000", peak); r.Description != "UK" {
		t.Errorf("peak: %s", r.Description)
	}
	if r, _ := ix.Lookup("442079460000", peak.Add(10*time.Hour)); r.Description != "UK off-peak" {
		t.Errorf("off-peak: %s", r.Description)
	}
}

func TestParseCSVErrors(t *testing.T) {
	body := header + ",band,effective_to,currency\n" +
		"33,ok,0.01,0,60,60,2026-01-01,,,\n" + // 2
		"3x,bad prefix,0.01,0,60,60,2026-01-01,,,\n" + // 3
		"34,negative,-0.01,0,60,60,2026-01-01,,,\n" + // 4
		"35,bad increment,0.01,0,60,0,2026-01-01,,,\n" + // 5
		"36,bad date,0.01,0,60,60,2026-13-01,,,\n" + // 6
		"37,bad currency,0.01,0,60,60,2026-01-01,,,XYZ\n" + // 7
		"38,other currency,0.01,0,60,60,2026-01-01,,,USD\n" + // 8
		"33,duplicate,0.02,0,60,60,2026-01-01,,,\n" + // 9
		"39,a,0.01,0,60,60,2026-01-01,,2026-06-01,\n" + // 10
		"39,overlaps,0.01,0,60,60,2026-03-01,,,\n" + // 11
		"40,peak,0.01,0,60,60,2026-01-01,mon-fri 08:00-18:00,,\n" + // 12
		"40,overlapping band,0.01,0,60,60,2026-01-01,mon 17:00-19:00,,\n" + // 13
		"41,gap,0.01,0,60,60,2026-01-01,mon-fri,,\n" + // 14
		"42,short,0.01,0\n" + // 15
		"43,too many decimals,0.0000000001,0,60,60,2026-01-01,,,\n" + // 16
		"44,bad band,0.01,0,60,60,2026-01-01,someday,,\n" + // 17
		"45,to before from,0.01,0,60,60,2026-01-01,,2025-01-01,\n" // 18
	_, ie := parse(t, body)
	if ie == nil {
		t.Fatal("accepted")
	}
	want := map[int]string{3: "prefix", 4: "rate_per_min", 5: "increment_s", 6: "effective_from", 7: "currency", 8: "currency",
		9: "prefix", 11: "effective_from", 13: "band", 14: "band", 15: "csv", 16: "rate_per_min", 17: "band", 18: "effective_to"}
	got := map[int]string{}
	for _, e := range ie.Errors {
		got[e.Line] = e.Field
		if e.Message == "" {
			t.Errorf("line %d: empty message", e.Line)
		}
	}
	for line, field := range want {
		if got[line] != field {
			t.Errorf("line %d: error on %q, want %q (all: %+v)", line, got[line], field, ie.Errors)
		}
	}
	if _, bad := got[2]; bad {
		t.Errorf("line 2 is fine: %+v", ie.Errors)
	}
	for _, h := range []string{"", "prefix,description\n33,x\n", header + ",colour\n"} {
		if _, ie := parse(t, h); ie == nil || ie.Errors[0].Line != 1 {
			t.Errorf("header %q: %+v", h, ie)
		}
	}
}

func TestLongestPrefix(t *testing.T) {
	jan := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	mk := func(p, desc string, from time.Time) Rate {
		return Rate{Prefix: p, Description: desc, From: from, Initial: 1, Increment: 1}
	}
	rates := []Rate{
		mk("1", "NANP", jan), mk("1212", "New York", jan), mk("12125", "NY 5", jan),
		mk("4", "never", jan.AddDate(5, 0, 0)), // not yet in force: skipped
		mk("44", "UK", jan), mk("447", "UK mobile until March", jan), mk("447", "UK mobile from March", jan.AddDate(0, 2, 0)),
		mk("123456789012345", "fifteen", jan),
	}
	if errs := Validate(rates); len(errs) != 0 {
		t.Fatal(errs)
	}
	ix, err := NewIndex(rates, time.UTC)
	if err != nil {
		t.Fatal(err)
	}
	feb, apr := jan.AddDate(0, 1, 0), jan.AddDate(0, 3, 0)
	cases := []struct {
		num  string
		at   time.Time
		want string
	}{
		{"12125551234", feb, "NY 5"}, {"12124551234", feb, "New York"}, {"1212", feb, "New York"}, {"121", feb, "NANP"},
		{"13105551234", feb, "NANP"}, {"447700900000", feb, "UK mobile until March"}, {"447700900000", apr, "UK mobile from March"},
		{"447700900000", jan.AddDate(0, 2, 0), "UK mobile from March"}, // the exact switch instant
		{"447700900000", jan.AddDate(0, 2, 0).Add(-time.Nanosecond), "UK mobile until March"},
		{"441234", feb, "UK"}, {"123456789012345", feb, "fifteen"}, {"1234567890123456", feb, "fifteen"},
		{"4915", feb, ""}, {"", feb, ""}, {"33", jan.Add(-time.Second), ""}, {"1212", jan.Add(-time.Second), ""},
	}
	for _, c := range cases {
		r, ok := ix.Lookup(c.num, c.at)
		got := ""
		if ok {
			got = r.Description
		}
		if got != c.want {
			t.Errorf("Lookup(%q, %s) = %q, want %q", c.num, c.at.Format(time.DateOnly), got, c.want)
		}
	}
}
