// Package prompts resolves Asterisk sound names to files by language and
// turns numbers, digit strings, letters, dates and money into the lists of
// sound names that Asterisk's main/say.c would play (Asterisk 22, languages
// en, es, fr, de, it and pt). The Say functions are pure: they return names
// such as "digits/5" that the Playback/Say applications resolve with
// Library.Find. For languages without an installed sound set (Debian ships
// none for de and pt) the *Text functions give the same value as text for
// text to speech (see fallback.go).
package prompts

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// ErrNumberTooBig is returned for numbers a language's say.c routine refuses
// ("Number '%d' is too big for me").
var ErrNumberTooBig = errors.New("prompts: number too big")

// syntax picks the say.c rules for language the way say.c does, by a
// case-insensitive prefix of the language code; unknown languages use
// English rules. en_GB has its own number syntax.
type syntax int

const (
	synEN syntax = iota
	synENGB
	synES
	synFR
	synDE
	synIT
	synPT
	synPTBR
)

func syntaxOf(language string) syntax {
	l := strings.ToLower(language)
	switch {
	case strings.HasPrefix(l, "en_gb"):
		return synENGB
	case strings.HasPrefix(l, "es"):
		return synES
	case strings.HasPrefix(l, "fr"):
		return synFR
	case strings.HasPrefix(l, "de"):
		return synDE
	case strings.HasPrefix(l, "it"):
		return synIT
	case strings.HasPrefix(l, "pt_br"):
		return synPTBR
	case strings.HasPrefix(l, "pt"):
		return synPT
	}
	return synEN
}

// SayNumber returns the sound names for n as say.c's say_number_full.
// gender is Asterisk's option argument: "f" (feminine) or "m" (masculine)
// for es, fr, de and pt; it is ignored by en and it.
func SayNumber(n int64, language, gender string) ([]string, error) {
	var (
		out []string
		err error
	)
	switch syntaxOf(language) {
	case synES:
		out, err = numberES(nil, n, gender)
	case synFR:
		out, err = numberFR(nil, n)
	case synDE:
		out, err = numberDE(nil, n, gender)
	case synIT:
		out, err = numberIT(nil, n)
	case synPT, synPTBR:
		out, err = numberPT(nil, n, gender)
	case synENGB:
		out, err = numberENGB(nil, n)
	default:
		out, err = numberEN(nil, n)
	}
	if err != nil {
		return nil, fmt.Errorf("say number %d (%s): %w", n, language, err)
	}
	return out, nil
}

// SayEnumeration returns the sound names for the ordinal n ("first",
// "twenty-second") as say.c's say_enumeration_full. Of the languages here
// only de has its own enumeration syntax in say.c (SayEnumerationGender);
// the others use the English rules (digits/h-N files, which every
// installed set provides).
func SayEnumeration(n int64, language string) ([]string, error) {
	return SayEnumerationGender(n, language, "")
}

// SayEnumerationGender is SayEnumeration with Asterisk's gender option
// ("f", "m", "n"), which German ordinals use (digits/h-1F, h-1N).
func SayEnumerationGender(n int64, language, gender string) ([]string, error) {
	var out []string
	var err error
	if syntaxOf(language) == synDE {
		out, err = enumerationDE(nil, n, gender)
	} else {
		out, err = enumerationEN(nil, n)
	}
	if err != nil {
		return nil, fmt.Errorf("say enumeration %d (%s): %w", n, language, err)
	}
	return out, nil
}

// SayDigits returns the sound names for each character of s as say.c's
// ast_get_digit_str: digits/0..9, '*' digits/star, '#' digits/pound,
// '-' digits/minus; other characters are skipped. The language does not
// change the names.
func SayDigits(s string, language string) []string {
	out := make([]string, 0, len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9':
			out = append(out, "digits/"+string(c))
		case c == '*':
			out = append(out, "digits/star")
		case c == '#':
			out = append(out, "digits/pound")
		case c == '-':
			out = append(out, "digits/minus")
		}
	}
	return out
}

// Case selects how SayAlphaCase announces letter case, as Asterisk's
// enum ast_say_case_sensitivity (SayAlphaCase options n, u, l, a).
type Case int

// Case sensitivity modes.
const (
	CaseNone  Case = iota // letters only
	CaseUpper             // "uppercase" before each upper-case letter
	CaseLower             // "lowercase" before each lower-case letter
	CaseAll               // both
)

// SayAlpha returns the sound names that spell s, as Asterisk's SayAlpha
// (case-insensitive) or, with caseSensitive, SayAlphaCase with option 'a'.
func SayAlpha(s string, language string, caseSensitive bool) []string {
	c := CaseNone
	if caseSensitive {
		c = CaseAll
	}
	return SayAlphaCase(s, language, c)
}

// SayAlphaCase follows say.c's ast_get_character_str. Asterisk keeps a name
// only if the file exists, trying letters/asciiNN when the first choice is
// missing; this package applies that rule against the standard core sound
// set (see alphaName), so unknown characters and non-ASCII text are skipped.
func SayAlphaCase(s string, language string, c Case) []string {
	out := make([]string, 0, len(s))
	for i := 0; i < len(s); i++ {
		ch := s[i]
		switch {
		case ch >= 'A' && ch <= 'Z':
			if c == CaseUpper || c == CaseAll {
				out = append(out, "uppercase")
			}
			ch += 'a' - 'A'
		case ch >= 'a' && ch <= 'z':
			if c == CaseLower || c == CaseAll {
				out = append(out, "lowercase")
			}
		}
		if name, ok := alphaName(ch); ok {
			out = append(out, name)
		}
	}
	return out
}

// asciiSounds are the letters/asciiNN files of the core sound sets
// (identical in en, es and fr).
var asciiSounds = map[byte]bool{
	'"': true, '$': true, '%': true, '&': true, '\'': true, '(': true,
	')': true, '*': true, ',': true, ':': true, ';': true, '<': true,
	'>': true, '?': true, '[': true, '\\': true, ']': true, '^': true,
	'_': true, '`': true, '{': true, '|': true, '}': true, '~': true,
}

// alphaName maps one (lower-cased) character to its sound as
// ast_get_character_str does.
func alphaName(ch byte) (string, bool) {
	switch ch {
	case '*':
		return "digits/star", true
	case '#':
		return "digits/pound", true
	case '!':
		return "letters/exclaimation-point", true // sic, as the sound set
	case '@':
		return "letters/at", true
	case '$':
		return "letters/dollar", true
	case '-':
		return "letters/dash", true
	case '.':
		return "letters/dot", true
	case '=':
		return "letters/equals", true
	case '+':
		return "letters/plus", true
	case '/':
		return "letters/slash", true
	case ' ':
		return "letters/space", true
	}
	switch {
	case ch >= '0' && ch <= '9':
		return "digits/" + string(ch), true
	case ch >= 'a' && ch <= 'z':
		return "letters/" + string(ch), true
	case asciiSounds[ch]:
		return fmt.Sprintf("letters/ascii%d", ch), true
	}
	return "", false
}

// SayPhonetic returns the NATO-alphabet sound names for s as say.c's
// ast_get_phonetic_str: letters and '9' as phonetic/<c>_p, digits 0-8 as
// digits/N and the punctuation of SayAlpha. Characters with no sound in the
// core set are skipped, as Asterisk skips missing files.
func SayPhonetic(s string) []string {
	out := make([]string, 0, len(s))
	for i := 0; i < len(s); i++ {
		ch := s[i]
		if ch >= 'A' && ch <= 'Z' {
			ch += 'a' - 'A'
		}
		switch {
		case ch >= 'a' && ch <= 'z', ch == '9':
			out = append(out, "phonetic/"+string(ch)+"_p")
		case ch >= '0' && ch <= '8':
			out = append(out, "digits/"+string(ch))
		default:
			// say.c only maps these specials; other characters fall to
			// phonetic/<c>_p, which no sound set provides.
			if name, ok := alphaName(ch); ok && !strings.HasPrefix(name, "letters/ascii") {
				out = append(out, name)
			}
		}
	}
	return out
}

// Default formats of AGI SAY DATETIME (res_agi.c handle_saydatetime) and
// SayUnixTime.
const DefaultDateTimeFormat = "ABdY 'digits/at' IMp"

// SayDate returns the sound names of AGI SAY DATE (say.c ast_say_date_*):
// en/es/it: weekday, month, day number, year; fr: weekday, day, month,
// year; de: weekday, ordinal day, month, year (ast_say_date_de); pt:
// weekday, day "de" month "de" year (ast_say_date_pt). The fields of t are
// used as they are: convert t to the wanted zone first.
func SayDate(t time.Time, language string) ([]string, error) {
	day := fmt.Sprintf("digits/day-%d", int(t.Weekday()))
	mon := fmt.Sprintf("digits/mon-%d", int(t.Month())-1)
	var out []string
	var err error
	switch syntaxOf(language) {
	case synFR:
		out = append(out, day)
		if out, err = appendNumber(out, int64(t.Day()), language, ""); err != nil {
			return nil, err
		}
		out = append(out, mon)
	case synDE:
		names, err := SayEnumeration(int64(t.Day()), language)
		if err != nil {
			return nil, err
		}
		out = append(append(append(out, day), names...), mon)
		return yearDE(out, t.Year(), language)
	case synPT, synPTBR:
		out = append(out, day)
		if out, err = appendNumber(out, int64(t.Day()), language, ""); err != nil {
			return nil, err
		}
		out = append(out, "digits/pt-de", mon, "digits/pt-de")
	default: // ast_say_date_en, used for es and it too
		out = append(out, day, mon)
		if out, err = appendNumber(out, int64(t.Day()), language, ""); err != nil {
			return nil, err
		}
	}
	return appendNumber(out, int64(t.Year()), language, "")
}

// SayTime returns the sound names of AGI SAY TIME (say.c ast_say_time_*).
// en (and es and it, which say.c gives the English syntax): 12-hour clock,
// minutes as "oclock", "oh N" or a number, then a-m/p-m. fr: 24-hour clock
// in the feminine, "heure", then the minutes. de: hour, "Uhr", minutes
// (ast_say_time_de). pt: hour (feminine), then "e" and the minutes or
// "hora(s)" (ast_say_time_pt); pt_BR: hour, "hora(s)", "e" minutes
// "minuto(s)" (ast_say_time_pt_BR).
//
// Deviation: ast_say_time_pt says the hour a second time at the end; that
// repetition is left out.
func SayTime(t time.Time, language string) ([]string, error) {
	switch syntaxOf(language) {
	case synDE:
		return timeDE(t, language)
	case synPT:
		return timePT(t, language)
	case synPTBR:
		return timePTBR(t, language)
	}
	if syntaxOf(language) == synFR {
		out, err := appendNumber(nil, int64(t.Hour()), language, "f")
		if err != nil {
			return nil, err
		}
		out = append(out, "digits/oclock")
		if t.Minute() != 0 {
			return appendNumber(out, int64(t.Minute()), language, "f")
		}
		return out, nil
	}
	return timeEN(nil, t, language)
}

// timeEN is ast_say_time_en.
func timeEN(out []string, t time.Time, language string) ([]string, error) {
	hour, pm := t.Hour(), false
	switch {
	case hour == 0:
		hour = 12
	case hour == 12:
		pm = true
	case hour > 12:
		hour -= 12
		pm = true
	}
	out, err := appendNumber(out, int64(hour), language, "")
	if err != nil {
		return nil, err
	}
	switch m := t.Minute(); {
	case m > 9:
		out, err = appendNumber(out, int64(m), language, "")
	case m > 0:
		out = append(out, "digits/oh")
		out, err = appendNumber(out, int64(m), language, "")
	default:
		out = append(out, "digits/oclock")
	}
	if err != nil {
		return nil, err
	}
	if pm {
		return append(out, "digits/p-m"), nil
	}
	return append(out, "digits/a-m"), nil
}

// SayDateTime returns the sound names of AGI SAY DATETIME with no format,
// which res_agi.c plays as SayDateWithFormat(DefaultDateTimeFormat).
func SayDateTime(t time.Time, language string) ([]string, error) {
	return SayDateWithFormat(t, language, DefaultDateTimeFormat)
}

func appendNumber(out []string, n int64, language, gender string) ([]string, error) {
	names, err := SayNumber(n, language, gender)
	if err != nil {
		return nil, err
	}
	return append(out, names...), nil
}

// signed says zero, refuses |n| >= limit as say.c does for each language,
// says "minus" for a negative n, then the positive part with say.
func signed(out []string, n, limit int64, say func([]string, int64) []string) ([]string, error) {
	if n == 0 {
		return append(out, "digits/0"), nil
	}
	if n >= limit || n <= -limit {
		return nil, ErrNumberTooBig
	}
	if n < 0 {
		out = append(out, "digits/minus")
		n = -n
	}
	return say(out, n), nil
}
