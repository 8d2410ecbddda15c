package prompts

import (
	"errors"
	"reflect"
	"testing"
	"time"
)

// Expected lists below are derived by hand from Asterisk 22's main/say.c
// (the functions named in each test), written with d()'s shorthand.

// ast_say_number_full_de.
func TestSayNumberDE(t *testing.T) {
	runNumbers(t, "de", []numCase{
		{n: 0, want: "0"}, {n: 1, want: "1"}, // "eins"
		{n: 1, gender: "f", want: "1F"}, // "eine"
		{n: 7, want: "7"}, {n: 19, want: "19"}, {n: 20, want: "20"},
		{n: 21, want: "1-and 20"}, {n: 45, want: "5-and 40"}, {n: 99, want: "9-and 90"},
		{n: 100, want: "hundred"}, // "hundert"
		{n: 101, want: "1N hundred 1"}, {n: 101, gender: "f", want: "1N hundred 1F"},
		{n: 136, want: "1N hundred 6-and 30"}, // no "und" after hundert
		{n: 200, want: "2 hundred"},
		{n: 1000, want: "thousand"}, {n: 1001, want: "1N thousand 1"},
		{n: 1100, want: "1N thousand 1N hundred"}, // t is set after a thousand
		{n: 2000, want: "2 thousand"}, {n: 21000, want: "1-and 20 thousand"},
		{n: 100000, want: "hundred thousand"}, // the recursion starts with t = 0
		{n: 1000000, want: "1F million"}, {n: 2000000, want: "2 millions"},
		{n: 1000000000, want: "1F milliard"},
		{n: 2147483647, want: "2 milliards 1N hundred 7-and 40 millions 4 hundred 3-and 80 thousand 6 hundred 7-and 40"},
		{n: -45, want: "minus 5-and 40"},
		{n: -2147483648, want: "minus"}, // say.c cannot negate INT_MIN
		{n: 2147483648, err: true}, {n: -2147483649, err: true},
	})
}

// ast_say_enumeration_full_de.
func TestSayEnumerationDE(t *testing.T) {
	for _, tc := range []struct {
		n            int64
		gender, want string
	}{
		{0, "", "0"}, {1, "", "h-1"}, {1, "f", "h-1F"}, {1, "n", "h-1N"}, {1, "m", "h-1"},
		{19, "", "h-19"}, {20, "f", "h-20F"}, {21, "", "1-and h-20"},
		{100, "", "h-hundred"}, {101, "", "1N hundred and h-1"}, {200, "n", "2 h-hundredN"},
		{1000, "", "h-thousand"}, {1001, "", "1N thousand and h-1"}, {2000, "", "2 h-thousand"},
		{2100, "", "2 thousand 1N h-hundred"}, {1000000, "", "1N h-million"}, {3000000, "f", "3 h-millionF"},
		{1000001, "", "1F million and h-1"}, {2000000000, "", "2 h-milliard"},
		{2147483647, "", "h-last"}, {-3, "", "minus h-3"},
	} {
		got, err := SayEnumerationGender(tc.n, "de_DE", tc.gender)
		if err != nil || !reflect.DeepEqual(got, d(tc.want)) {
			t.Errorf("de enumeration %d %q = %v, %v; want %v", tc.n, tc.gender, got, err, d(tc.want))
		}
	}
	if _, err := SayEnumeration(1<<32, "de"); !errors.Is(err, ErrNumberTooBig) {
		t.Error(err)
	}
}

// ast_say_number_full_it.
func TestSayNumberIT(t *testing.T) {
	runNumbers(t, "it", []numCase{
		{n: 0, want: "0"}, {n: 1, want: "1"}, {n: 1, gender: "f", want: "1"},
		{n: 20, want: "20"}, {n: 21, want: "21"}, {n: 22, want: "20 2"}, {n: 28, want: "28"},
		{n: 33, want: "30 3"}, {n: 98, want: "98"}, {n: 99, want: "90 9"},
		{n: 100, want: "hundred"}, {n: 101, want: "hundred 1"}, {n: 121, want: "hundred 21"},
		{n: 200, want: "2 hundred"}, {n: 999, want: "9 hundred 90 9"},
		{n: 1000, want: "thousand"}, {n: 1999, want: "thousand 9 hundred 90 9"}, // "mille"
		{n: 2000, want: "2 thousands"}, {n: 21000, want: "21 thousands"}, // "mila"
		{n: 100000, want: "hundred thousands"}, {n: 101000, want: "hundred 1 thousands"},
		{n: 1000000, want: "million"}, {n: 2000000, want: "2 millions"},
		{n: 999999999, want: "9 hundred 90 9 millions 9 hundred 90 9 thousands 9 hundred 90 9"},
		{n: -5, want: "minus 5"},
		{n: 1000000000, err: true}, {n: -3000000000, err: true},
	})
}

// ast_say_number_full_pt.
func TestSayNumberPT(t *testing.T) {
	cases := []numCase{
		{n: 0, want: "0"}, {n: 1, want: "1"}, {n: 1, gender: "f", want: "1F"}, {n: 2, gender: "f", want: "2F"},
		{n: 3, gender: "f", want: "3"}, {n: 20, want: "20"}, {n: 21, want: "20 pt-e 1"},
		{n: 21, gender: "f", want: "20 pt-e 1F"},
		{n: 100, want: "100"}, {n: 101, want: "100E 1"}, {n: 150, want: "100E 50"}, // "cem", "cento e"
		{n: 200, want: "200"}, {n: 201, want: "200 pt-e 1"}, {n: 250, gender: "f", want: "200F pt-e 50"},
		{n: 999, want: "900 pt-e 90 pt-e 9"},
		{n: 1000, want: "1000"}, {n: 1001, want: "1000 pt-e 1"}, {n: 1100, want: "1000 pt-e 100"},
		{n: 1101, want: "1000 100E 1"}, {n: 1200, want: "1000 pt-e 200"},
		{n: 2000, want: "2 1000"}, {n: 2000, gender: "f", want: "2F 1000"}, // deviation: say.c says "minus"
		{n: 21000, want: "20 pt-e 1 1000"},
		{n: 1000000, want: "1 1000000"}, {n: 2000000, want: "2 1000000S"},
		{n: 1000001, want: "1 1000000 pt-e 1"}, {n: 1001000, want: "1 1000000 pt-e 1000"},
		{n: 1234567, want: "1 1000000 200 pt-e 30 pt-e 4 1000 500 pt-e 60 pt-e 7"},
		{n: -7, want: "minus 7"},
		{n: 1000000000, err: true},
	}
	runNumbers(t, "pt", cases)
	runNumbers(t, "pt_BR", cases)
}

func TestSayDateTimeMoreLanguages(t *testing.T) {
	for _, tc := range []struct {
		lang string
		f    func(time.Time, string) ([]string, error)
		at   time.Time
		want string
	}{
		// ast_say_date_de: weekday, ordinal day, month, year.
		{"de", SayDate, tuePM, "day-2 h-5 mon-2 2 thousand 4-and 20"},
		{"de", SayDate, time.Date(1967, 1, 1, 0, 0, 0, 0, time.UTC), "day-0 h-1 mon-0 19 hundred 7-and 60"},
		{"de", SayDate, time.Date(1066, 1, 1, 0, 0, 0, 0, time.UTC), "day-1 h-1 mon-0"}, // silent before 1100
		// ast_say_date_pt: weekday, day "de" month "de" year.
		{"pt", SayDate, tuePM, "day-2 5 pt-de mon-2 pt-de 2 1000 pt-e 20 pt-e 4"},
		// it has no ast_say_date_it: English order, Italian numbers.
		{"it", SayDate, tuePM, "day-2 mon-2 5 2 thousands 20 4"},
		// ast_say_time_de: hour, "Uhr", minutes (feminine).
		{"de", SayTime, tuePM, "14 oclock 7"},
		{"de", SayTime, time.Date(2024, 1, 1, 1, 1, 0, 0, time.UTC), "1 oclock 1F"},
		{"de", SayTime, midnit, "0 oclock"},
		// ast_say_time_pt (without its repeated hour) and _pt_BR.
		{"pt", SayTime, tuePM, "14 pt-e 7"},
		{"pt", SayTime, time.Date(2024, 1, 1, 1, 0, 0, 0, time.UTC), "1F pt-hora"},
		{"pt", SayTime, time.Date(2024, 1, 1, 2, 0, 0, 0, time.UTC), "2F pt-hora pt-sss"},
		{"pt_BR", SayTime, tuePM, "14 hours pt-e 7 =minutes"},
		{"pt_BR", SayTime, time.Date(2024, 1, 1, 1, 1, 0, 0, time.UTC), "1F hour pt-e 1 =minute"},
		{"pt_BR", SayTime, midnit, "0 hour"},
		// it has no ast_say_time_it: the English clock.
		{"it", SayTime, tuePM, "2 oh 7 p-m"},
	} {
		got, err := tc.f(tc.at, tc.lang)
		if err != nil || !reflect.DeepEqual(got, d(tc.want)) {
			t.Errorf("%s %v = %v, %v\nwant %v", tc.lang, tc.at, got, err, d(tc.want))
		}
	}
}

func TestSayDateWithFormatMoreLanguages(t *testing.T) {
	at := time.Date(2024, 3, 5, 8, 1, 1, 0, time.UTC) // Tuesday
	for _, tc := range []struct {
		lang   string
		at     time.Time
		format string
		want   string
	}{
		// ast_say_date_with_format_de
		{"de", tuePM, "A dBY", "day-2 h-5 mon-2 2 thousand 4-and 20"},
		{"de", at, "HMS", "8 oclock 1F =minute and 1F =second"}, // minutes said with seconds
		{"de", at, "H M", "8 oclock 1"},
		{"de", time.Date(2024, 3, 5, 8, 0, 0, 0, time.UTC), "HM", "8 oclock"}, // zero minutes not said
		{"de", time.Date(2024, 3, 5, 1, 0, 0, 0, time.UTC), "I", "1N oclock"},
		{"de", tuePM, "IMp", "2 oclock 7 p-m"},
		{"de", tuePM, "m e", "h-3 h-5"},
		{"de", time.Date(1905, 3, 5, 8, 0, 0, 0, time.UTC), "Y", "19 hundred 5"},
		{"de", tuePM, "R", "14 oclock 7"},
		{"de", tuePM, "N", ""}, // not a German code
		// ast_say_date_with_format_it
		{"it", tuePM, "AdB 'digits/at' IMp", "day-2 5 mon-2 at 2 7 p-m"},
		{"it", time.Date(2024, 3, 1, 0, 30, 0, 0, time.UTC), "d H", "h-1 ore-mezzanotte"},
		{"it", time.Date(2024, 3, 1, 1, 30, 0, 0, time.UTC), "H M", "ore-una 30"},
		{"it", tuePM, "Y", "ore-2000 20 4"}, // deviation: the rest as a number
		{"it", time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC), "Y", "ore-2000"},
		{"it", time.Date(1915, 1, 1, 0, 0, 0, 0, time.UTC), "Y", "ore-1900 15"},
		{"it", time.Date(1999, 1, 1, 0, 0, 0, 0, time.UTC), "Y", "ore-1900 90 9"},
		{"it", time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC), "Y", ""},
		{"it", at, "S", "oh 1"}, {"it", tuePM, "m", "h-3"},
		// ast_say_date_with_format_pt, Portugal and Brazil
		{"pt", tuePM, "Ad 'digits/pt-de' B 'digits/pt-de' Y I 'digits/pt-e' Mp",
			"day-2 5 pt-de mon-2 pt-de 2 1000 pt-e 20 pt-e 4 pt-ah pt-sss 2F pt-e 7 p-m"},
		{"pt_BR", tuePM, "I 'digits/pt-e' Mp", "pt-as 2F pt-e 7 =minutes pt-da afternoon"},
		{"pt", midnit, "I", "pt-ah pt-meianoite"}, {"pt_BR", midnit, "l", "pt-meianoite"},
		{"pt", time.Date(2024, 1, 1, 12, 0, 0, 0, time.UTC), "I", "pt-ao pt-meiodia"},
		{"pt", time.Date(2024, 1, 1, 13, 0, 0, 0, time.UTC), "I M", "pt-ah 1F pt-hora pt-sss"},
		{"pt", time.Date(2024, 1, 1, 23, 0, 0, 0, time.UTC), "H", "20 3"}, // deviation: once, no "minus"
		{"pt", midnit, "H", "0"},
		{"pt_BR", tuePM, "H k", "14 hours 14"},
		{"pt_BR", tuePM, "m S", "3 9 =seconds"}, {"pt", tuePM, "m S", "h-3 oh 9"},
		{"pt", tuePM, "R", "14 pt-e 7"},
		{"pt_BR", time.Date(2024, 1, 1, 20, 0, 0, 0, time.UTC), "p", "pt-da night"},
	} {
		got, err := SayDateWithFormat(tc.at, tc.lang, tc.format)
		if err != nil || !reflect.DeepEqual(got, d(tc.want)) {
			t.Errorf("%s %q at %v = %v, %v\nwant %v", tc.lang, tc.format, tc.at, got, err, d(tc.want))
		}
	}
}

// Q and q relative to now (say.c's beg_today arithmetic).
func TestSayDateRelative(t *testing.T) {
	now := time.Date(2024, 3, 5, 10, 0, 0, 0, time.UTC) // Tuesday
	for _, tc := range []struct {
		lang, format string
		at           time.Time
		want         string
	}{
		{"en", "Q", time.Date(2024, 3, 5, 8, 0, 0, 0, time.UTC), "today"},
		{"en", "Q", time.Date(2024, 3, 6, 8, 0, 0, 0, time.UTC), "tomorrow"},
		{"en", "q", time.Date(2024, 3, 4, 20, 0, 0, 0, time.UTC), "yesterday"},
		{"en", "Q", time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC), "day-5"},
		{"en", "Q", time.Date(2024, 3, 9, 12, 0, 0, 0, time.UTC), "day-6"},
		{"en", "Q", time.Date(2024, 2, 20, 12, 0, 0, 0, time.UTC), "day-2 mon-1 h-20"},
		{"en", "Q", time.Date(2023, 12, 25, 12, 0, 0, 0, time.UTC), "mon-11 20 h-5"},
		{"en", "Q", time.Date(2023, 1, 2, 12, 0, 0, 0, time.UTC), "mon-0 h-2 2 thousand 20 3"},
		{"fr", "Q", time.Date(2024, 3, 5, 8, 0, 0, 0, time.UTC), "today"},
		{"fr", "q", time.Date(2024, 3, 5, 8, 0, 0, 0, time.UTC), ""},
		{"fr", "q", time.Date(2024, 3, 1, 8, 0, 0, 0, time.UTC), "day-5"},
		{"fr", "Q", time.Date(2024, 3, 1, 8, 0, 0, 0, time.UTC), "day-5 h-1 mon-2 2 thousand 20 4"},
		{"es", "Q", time.Date(2024, 3, 1, 8, 0, 0, 0, time.UTC), "es-el day-5 1 es-de mon-2 es-de 2 thousand 24"},
		{"es", "q", time.Date(2024, 3, 4, 8, 0, 0, 0, time.UTC), "yesterday"},
		{"de", "Q", time.Date(2024, 2, 1, 8, 0, 0, 0, time.UTC), "day-4 h-1 mon-1 2 thousand 4-and 20"},
		{"it", "Q", time.Date(2024, 2, 1, 8, 0, 0, 0, time.UTC), "day-4 h-1 mon-1"},
		{"pt", "Q", time.Date(2024, 2, 1, 8, 0, 0, 0, time.UTC), "day-4 1 pt-de mon-1 pt-de 2 1000 pt-e 20 pt-e 4"},
	} {
		got, err := SayDateWithFormatAt(tc.at, now, tc.lang, tc.format)
		if err != nil || !reflect.DeepEqual(got, d(tc.want)) {
			t.Errorf("%s %q at %v = %v, %v\nwant %v", tc.lang, tc.format, tc.at, got, err, d(tc.want))
		}
	}
}

// ast_get_money_en_dollars_str, used for every language.
func TestSayMoney(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"12.34", "12 =dollars =and 30 4 =cents"},
		{"1.00", "1 letters/dollar"}, {"1", "1 letters/dollar"},
		{"1.50", "1 letters/dollar_ =and 50 =cents"},
		{"2.01", "2 =dollars =and 1 =cent"},
		{".5", "5 =cents"}, // %02u reads "5" as five cents
		{"12.3", "12 =dollars =and 3 =cents"},
		{"0", "0 =cents"}, {"abc", "0 =cents"}, {"", "0 =cents"},
		{"1234", "1 thousand 2 hundred 30 4 =dollars"},
		{"12. 5", "12 =dollars"}, {"-5", ""},
	} {
		got, err := SayMoney(tc.in, "fr")
		if err != nil || !reflect.DeepEqual(got, d(tc.want)) {
			t.Errorf("SayMoney(%q) = %v, %v; want %v", tc.in, got, err, d(tc.want))
		}
	}
	if _, err := SayMoney("99999999999", "en"); !errors.Is(err, ErrNumberTooBig) {
		t.Error(err)
	}
}
