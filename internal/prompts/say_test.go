package prompts

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

// d expands a compact "5 hundred minus" list into "digits/5 digits/hundred ...";
// entries containing '/' or starting with "vm-" are kept as they are, and a
// leading '=' marks another literal name.
func d(s string) []string {
	var out []string
	for _, w := range strings.Fields(s) {
		switch {
		case strings.HasPrefix(w, "="):
			out = append(out, w[1:])
		case strings.Contains(w, "/") || strings.HasPrefix(w, "vm-"):
			out = append(out, w)
		default:
			out = append(out, "digits/"+w)
		}
	}
	return out
}

type numCase struct {
	n      int64
	gender string
	want   string // "" with err
	err    bool
}

func runNumbers(t *testing.T, lang string, cases []numCase) {
	t.Helper()
	for _, tc := range cases {
		got, err := SayNumber(tc.n, lang, tc.gender)
		if tc.err {
			if !errors.Is(err, ErrNumberTooBig) {
				t.Errorf("%s SayNumber(%d) = %v, %v; want ErrNumberTooBig", lang, tc.n, got, err)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, d(tc.want)) {
			t.Errorf("%s SayNumber(%d, %q) = %v, %v; want %v", lang, tc.n, tc.gender, got, err, d(tc.want))
		}
	}
}

func TestSayNumberEN(t *testing.T) {
	cases := []numCase{
		{n: 0, want: "0"}, {n: 1, want: "1"}, {n: 7, want: "7"},
		{n: 20, want: "20"}, {n: 21, want: "20 1"}, {n: 30, want: "30"},
		{n: 45, want: "40 5"}, {n: 99, want: "90 9"},
		{n: 100, want: "1 hundred"}, {n: 101, want: "1 hundred 1"},
		{n: 115, want: "1 hundred 15"}, {n: 200, want: "2 hundred"},
		{n: 999, want: "9 hundred 90 9"},
		{n: 1000, want: "1 thousand"}, {n: 1001, want: "1 thousand 1"},
		{n: 2000, want: "2 thousand"}, {n: 21000, want: "20 1 thousand"},
		{n: 1000000, want: "1 million"}, {n: 2000000, want: "2 million"},
		{n: 1234567890, want: "1 billion 2 hundred 30 4 million 5 hundred 60 7 thousand 8 hundred 90"},
		{n: 2147483646, want: "2 billion 1 hundred 40 7 million 4 hundred 80 3 thousand 6 hundred 40 6"},
		{n: -45, want: "minus 40 5"}, {n: -1000, want: "minus 1 thousand"},
		{n: 2147483647, err: true}, {n: -2147483647, err: true},
		{n: 1 << 40, err: true}, {n: -1 << 63, err: true},
	}
	for n := int64(10); n <= 19; n++ {
		cases = append(cases, numCase{n: n, want: digit(n)})
	}
	runNumbers(t, "en", cases)
	runNumbers(t, "en_US", cases)
	runNumbers(t, "xx", cases) // unknown languages use English syntax
	// gender is ignored in English
	runNumbers(t, "en", []numCase{{n: 1, gender: "f", want: "1"}})
}

func TestSayNumberENGB(t *testing.T) {
	runNumbers(t, "en_GB", []numCase{
		{n: 0, want: "0"}, {n: 45, want: "40 5"}, {n: 100, want: "1 hundred"},
		{n: 115, want: "1 hundred vm-and 15"},
		{n: 1001, want: "1 thousand vm-and 1"},
		{n: 1100, want: "1 thousand 1 hundred"},
		{n: 2000045, want: "2 million vm-and 40 5"},
		{n: -7, want: "minus 7"},
		{n: 1000000000, err: true},
	})
}

func TestSayNumberES(t *testing.T) {
	cases := []numCase{
		{n: 0, want: "0"}, {n: 1, want: "1"},
		{n: 1, gender: "f", want: "1F"}, {n: 1, gender: "m", want: "1M"},
		{n: 1, gender: "F", want: "1F"},
		{n: 7, want: "7"}, {n: 21, gender: "f", want: "21"}, {n: 29, want: "29"},
		{n: 30, want: "30"}, {n: 31, gender: "f", want: "30 and 1F"},
		{n: 45, want: "40 and 5"}, {n: 99, want: "90 and 9"},
		{n: 100, want: "hundred"}, {n: 101, want: "100-and 1"},
		{n: 115, want: "100-and 15"}, {n: 200, want: "200"},
		{n: 999, want: "900 90 and 9"},
		{n: 1000, want: "thousand"}, {n: 1001, want: "thousand 1"},
		{n: 2000, want: "2 thousand"}, {n: 21000, want: "21 thousand"},
		{n: 100000, want: "hundred thousand"},
		{n: 1000000, want: "1M million"}, {n: 1000001, want: "1M million 1"},
		{n: 2000000, want: "2 millions"},
		{n: 2024, want: "2 thousand 24"},
		{n: -5, want: "minus 5"},
		{n: 2147483639, want: "2 thousand 100-and 40 and 7 millions 400 80 and 3 thousand 600 30 and 9"},
		{n: 2147483640, err: true}, {n: -2147483640, err: true},
	}
	for n := int64(10); n <= 21; n++ {
		cases = append(cases, numCase{n: n, want: digit(n)})
	}
	runNumbers(t, "es", cases)
	runNumbers(t, "es_MX", cases)
}

func TestSayNumberFR(t *testing.T) {
	cases := []numCase{
		{n: 0, want: "0"}, {n: 1, want: "1"},
		{n: 1, gender: "f", want: "1"}, // digits/1F is not in the French set
		{n: 7, want: "7"}, {n: 21, want: "20 et 1"}, {n: 22, want: "20 2"},
		{n: 30, want: "30"}, {n: 45, want: "40 5"}, {n: 61, want: "60 et 1"},
		{n: 70, want: "60 10"}, {n: 71, want: "60 et 11"}, {n: 77, want: "60 17"},
		{n: 80, want: "80"}, {n: 81, want: "80 1"}, {n: 91, want: "80 11"},
		{n: 99, want: "80 19"},
		{n: 100, want: "hundred"}, {n: 101, want: "hundred 1"},
		{n: 115, want: "hundred 15"}, {n: 200, want: "2 hundred"},
		{n: 999, want: "9 hundred 80 19"},
		{n: 1000, want: "thousand"}, {n: 1001, want: "thousand 1"},
		{n: 2000, want: "2 thousand"}, {n: 21000, want: "20 et 1 thousand"},
		{n: 1000000, want: "1 million"}, {n: 2000000, want: "2 million"},
		{n: -21, want: "minus 20 et 1"},
		{n: 999999999, want: "9 hundred 80 19 million 9 hundred 80 19 thousand 9 hundred 80 19"},
		{n: 1000000000, err: true}, {n: -1000000000, err: true},
	}
	for n := int64(10); n <= 20; n++ {
		cases = append(cases, numCase{n: n, want: digit(n)})
	}
	runNumbers(t, "fr", cases)
	runNumbers(t, "fr_CA", cases)
}

func TestSayEnumeration(t *testing.T) {
	for _, tc := range []struct {
		n    int64
		want string
	}{
		{0, ""}, {1, "h-1"}, {12, "h-12"}, {20, "h-20"}, {21, "20 h-1"},
		{30, "h-30"}, {31, "30 h-1"}, {100, "h-hundred"}, {101, "hundred h-1"},
		{200, "2 h-hundred"}, {1000, "h-thousand"}, {2000, "2 h-thousand"},
		{1100, "thousand 1 h-hundred"}, {1000000, "1 h-million"}, {-3, "minus h-3"},
	} {
		got, err := SayEnumeration(tc.n, "en")
		if err != nil || !reflect.DeepEqual(got, d(tc.want)) {
			t.Errorf("SayEnumeration(%d) = %v, %v; want %v", tc.n, got, err, d(tc.want))
		}
	}
	if _, err := SayEnumeration(1<<31, "en"); !errors.Is(err, ErrNumberTooBig) {
		t.Errorf("SayEnumeration(2^31) err = %v", err)
	}
}

func TestSayDigits(t *testing.T) {
	got := SayDigits("12*#-a9 0", "fr")
	want := d("1 2 star pound minus 9 0")
	if !reflect.DeepEqual(got, want) {
		t.Errorf("SayDigits = %v, want %v", got, want)
	}
	if got := SayDigits("", "en"); len(got) != 0 {
		t.Errorf("SayDigits(\"\") = %v", got)
	}
}

func TestSayAlpha(t *testing.T) {
	got := SayAlpha("Ab1@.-!z% *#$=+/\té", "en", false)
	want := []string{
		"letters/a", "letters/b", "digits/1", "letters/at", "letters/dot",
		"letters/dash", "letters/exclaimation-point", "letters/z", "letters/ascii37",
		"letters/space", "digits/star", "digits/pound", "letters/dollar",
		"letters/equals", "letters/plus", "letters/slash",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("SayAlpha = %v\nwant %v", got, want)
	}
	if got, want := SayAlpha("aB1", "en", true), []string{"lowercase", "letters/a", "uppercase", "letters/b", "digits/1"}; !reflect.DeepEqual(got, want) {
		t.Errorf("SayAlpha case-sensitive = %v, want %v", got, want)
	}
	if got, want := SayAlphaCase("aB", "en", CaseUpper), []string{"letters/a", "uppercase", "letters/b"}; !reflect.DeepEqual(got, want) {
		t.Errorf("SayAlphaCase upper = %v, want %v", got, want)
	}
	if got, want := SayAlphaCase("aB", "en", CaseLower), []string{"lowercase", "letters/a", "letters/b"}; !reflect.DeepEqual(got, want) {
		t.Errorf("SayAlphaCase lower = %v, want %v", got, want)
	}
}

func TestSayPhonetic(t *testing.T) {
	got := SayPhonetic("Ab9 0#%-")
	want := []string{"phonetic/a_p", "phonetic/b_p", "phonetic/9_p", "letters/space", "digits/0", "digits/pound", "letters/dash"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("SayPhonetic = %v, want %v", got, want)
	}
}

// 2024-03-05 is a Tuesday (digits/day-2), March is digits/mon-2.
var (
	tuePM  = time.Date(2024, 3, 5, 14, 7, 9, 0, time.UTC)
	midnit = time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC)
	onePM  = time.Date(1999, 12, 31, 13, 0, 5, 0, time.UTC)
)

func TestSayDate(t *testing.T) {
	for _, tc := range []struct {
		lang string
		at   time.Time
		want string
	}{
		{"en", tuePM, "day-2 mon-2 5 2 thousand 20 4"},
		{"es", tuePM, "day-2 mon-2 5 2 thousand 24"},
		{"fr", tuePM, "day-2 5 mon-2 2 thousand 20 4"},
		{"fr", onePM, "day-5 30 et 1 mon-11 thousand 9 hundred 80 19"},
	} {
		got, err := SayDate(tc.at, tc.lang)
		if err != nil || !reflect.DeepEqual(got, d(tc.want)) {
			t.Errorf("SayDate(%v, %s) = %v, %v; want %v", tc.at, tc.lang, got, err, d(tc.want))
		}
	}
}

func TestSayTime(t *testing.T) {
	for _, tc := range []struct {
		lang string
		at   time.Time
		want string
	}{
		{"en", tuePM, "2 oh 7 p-m"},
		{"en", midnit, "12 oclock a-m"},
		{"en", time.Date(2024, 1, 1, 12, 30, 0, 0, time.UTC), "12 30 p-m"},
		{"en", time.Date(2024, 1, 1, 9, 45, 0, 0, time.UTC), "9 40 5 a-m"},
		{"es", tuePM, "2 oh 7 p-m"}, // say.c gives es the English time syntax
		{"fr", tuePM, "14 oclock 7"},
		{"fr", time.Date(2024, 1, 1, 21, 0, 0, 0, time.UTC), "20 et 1 oclock"},
		{"fr", midnit, "0 oclock"},
	} {
		got, err := SayTime(tc.at, tc.lang)
		if err != nil || !reflect.DeepEqual(got, d(tc.want)) {
			t.Errorf("SayTime(%v, %s) = %v, %v; want %v", tc.at, tc.lang, got, err, d(tc.want))
		}
	}
}

func TestSayDateTime(t *testing.T) {
	for _, tc := range []struct {
		lang string
		at   time.Time
		want string
	}{
		{"en", tuePM, "day-2 mon-2 h-5 2 thousand 20 4 at 2 oh 7 p-m"},
		{"en", midnit, "day-5 mon-2 h-1 2 thousand 20 4 at 12 oclock a-m"},
		{"en", onePM, "day-5 mon-11 30 h-1 19 90 9 at 1 oclock p-m"},
		{"es", tuePM, "day-2 mon-2 5 2 thousand 24 at 2 7 afternoon"},
		{"es", onePM, "day-5 mon-11 30 and 1 thousand 900 90 and 9 at 1F 0 afternoon"},
		{"es", midnit, "day-5 mon-2 1 2 thousand 24 at 12 0"},
		{"fr", tuePM, "day-2 mon-2 5 2 thousand 20 4 at 2 oclock 7 p-m"},
		{"fr", midnit, "day-5 mon-2 h-1 2 thousand 20 4 at 12 oclock a-m"},
		{"fr", onePM, "day-5 mon-11 30 et 1 thousand 9 hundred 80 19 at 1 oclock p-m"},
	} {
		got, err := SayDateTime(tc.at, tc.lang)
		if err != nil || !reflect.DeepEqual(got, d(tc.want)) {
			t.Errorf("SayDateTime(%v, %s) = %v, %v\nwant %v", tc.at, tc.lang, got, err, d(tc.want))
		}
	}
}

func TestSayDateWithFormat(t *testing.T) {
	at := time.Date(1905, 7, 4, 8, 3, 7, 0, time.UTC) // Tuesday
	for _, tc := range []struct {
		lang, format, want string
	}{
		{"en", "Y", "19 oh 5"},
		{"en", "HMS", "oh 8 oh 3 oh 7"},
		{"en", "kN", "8 oh 3"},
		{"en", "m 'beep' 'unterminated", "h-7 =beep =unterminated"},
		{"en", "R", "oh 8 oh 3"},
		{"en", "Qq?", ""}, // relative and unknown codes are skipped
		{"es", "R", "8 and 3"},
		{"es", "T", "8 3 oh 7"},
		{"es", "m", "h-7"},
		{"fr", "T", "8 oclock 3 7 =second"},
		{"fr", "Y", "thousand 9 hundred 5"},
	} {
		got, err := SayDateWithFormat(at, tc.lang, tc.format)
		if err != nil || !reflect.DeepEqual(got, d(tc.want)) {
			t.Errorf("SayDateWithFormat(%s, %q) = %v, %v; want %v", tc.lang, tc.format, got, err, d(tc.want))
		}
	}
	// say.c is silent on years up to 1900.
	old := time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, lang := range []string{"en", "fr"} {
		if got, _ := SayDateWithFormat(old, lang, "Y"); len(got) != 0 {
			t.Errorf("%s year 1900 = %v", lang, got)
		}
	}
	// es has no year limit but a number range.
	if _, err := SayDateWithFormat(time.Date(2147483647, 1, 1, 0, 0, 0, 0, time.UTC), "es", "Y"); !errors.Is(err, ErrNumberTooBig) {
		t.Errorf("huge year err = %v", err)
	}
}
