package prompts

import (
	"context"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Languages without recorded prompts.
//
// Asterisk plays a missing sound from the English set (fileexists_core's
// fallback), so a German caller hears "einundzwanzig" as "twenty one"
// when no German set is installed, and Debian ships sets for en, es, fr
// and it only. entVoice keeps Asterisk's lookup (Find) and adds a hook:
// when the channel language's own set lacks some of the names a Say
// function returned (Missing), the application speaks the same value as
// text through text to speech in that language (the *Text functions and a
// Speaker, which internal/tts provides over espeak-ng), and falls back to
// Asterisk's behaviour only when no Speaker is configured. Resolve
// implements that choice.

// Speaker speaks text in a language into a playable 8 kHz file (the TTS
// cache's WAV). tts.Synthesizer satisfies it through tts.PromptSpeaker.
type Speaker interface {
	SpeakFile(ctx context.Context, text, language string) (string, error)
}

// FindOwn resolves name in language's own sound sets only: the language,
// its region-less base and their voice directories, without the English
// fallback and the sounds directory's root.
func (l *Library) FindOwn(name, language string) (string, bool) {
	p, ok := l.Find(name, language)
	if !ok || filepath.IsAbs(name) {
		return p, ok
	}
	rel, err := filepath.Rel(l.dir, p)
	if err != nil {
		return "", false
	}
	top, _, _ := strings.Cut(filepath.ToSlash(rel), "/")
	if !ownDir(top, language) {
		return "", false
	}
	return p, true
}

// ownDir reports whether a top-level sounds directory belongs to language
// (en_US_f_Allison belongs to en and en_US, not to de).
func ownDir(dir, language string) bool {
	for _, lang := range []string{language, baseLanguage(language)} {
		if lang != "" && validLanguage(lang) && (dir == lang || strings.HasPrefix(dir, lang+"_")) {
			return true
		}
	}
	return false
}

func baseLanguage(language string) string {
	if i := strings.IndexByte(language, '_'); i > 0 {
		return language[:i]
	}
	return language
}

// HasOwnSounds reports whether a sound set for language is installed
// (not counting the English fallback).
func (l *Library) HasOwnSounds(language string) bool {
	for _, d := range l.languageDirs() {
		if ownDir(d, language) {
			return true
		}
	}
	return false
}

// Missing returns the names that language's own sets lack, which Asterisk
// would play in English (or skip).
func (l *Library) Missing(names []string, language string) []string {
	var out []string
	for _, n := range names {
		if _, ok := l.FindOwn(n, language); !ok {
			out = append(out, n)
		}
	}
	return out
}

// Resolve returns the files a Say application plays for names (from a Say
// function) in language: the recorded prompts when the language's own set
// has them all; otherwise, with a Speaker, one file with text (the value
// from the matching *Text function) spoken in the language; otherwise the
// prompts as Asterisk finds them, English fallback included, skipping
// names no set has (as Asterisk skips missing files).
func (l *Library) Resolve(ctx context.Context, names []string, text, language string, sp Speaker) ([]string, error) {
	if sp != nil && text != "" && len(l.Missing(names, language)) > 0 {
		p, err := sp.SpeakFile(ctx, text, language)
		if err != nil {
			return nil, fmt.Errorf("prompts: speak %q (%s): %w", text, language, err)
		}
		return []string{p}, nil
	}
	out := make([]string, 0, len(names))
	for _, n := range names {
		if p, ok := l.Find(n, language); ok {
			out = append(out, p)
		}
	}
	return out, nil
}

// textLang picks the text tables' language (en for unknown languages).
func textLang(language string) string {
	switch l := strings.ToLower(baseLanguage(strings.ReplaceAll(language, "-", "_"))); l {
	case "es", "fr", "de", "it", "pt":
		return l
	}
	return "en"
}

// NumberText is SayNumber's value as text: TTS voices read numerals in
// their own language.
func NumberText(n int64, language string) string { return strconv.FormatInt(n, 10) }

// DigitsText is SayDigits's value as text: the digits one by one, with
// '*', '#' and '-' as words of the language.
func DigitsText(s, language string) string {
	words := map[string][3]string{
		"en": {"star", "pound", "minus"}, "es": {"asterisco", "almohadilla", "menos"},
		"fr": {"étoile", "dièse", "moins"}, "de": {"Stern", "Raute", "minus"},
		"it": {"asterisco", "cancelletto", "meno"}, "pt": {"asterisco", "cardinal", "menos"},
	}[textLang(language)]
	var out []string
	for _, c := range s {
		switch {
		case c >= '0' && c <= '9':
			out = append(out, string(c))
		case c == '*':
			out = append(out, words[0])
		case c == '#':
			out = append(out, words[1])
		case c == '-':
			out = append(out, words[2])
		}
	}
	return strings.Join(out, " ")
}

// Weekday and month names of the text renderings.
var (
	textDays = map[string][7]string{
		"en": {"Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"},
		"es": {"domingo", "lunes", "martes", "miércoles", "jueves", "viernes", "sábado"},
		"fr": {"dimanche", "lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi"},
		"de": {"Sonntag", "Montag", "Dienstag", "Mittwoch", "Donnerstag", "Freitag", "Samstag"},
		"it": {"domenica", "lunedì", "martedì", "mercoledì", "giovedì", "venerdì", "sabato"},
		"pt": {"domingo", "segunda-feira", "terça-feira", "quarta-feira", "quinta-feira", "sexta-feira", "sábado"},
	}
	textMonths = map[string][12]string{
		"en": {"January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"},
		"es": {"enero", "febrero", "marzo", "abril", "mayo", "junio", "julio", "agosto", "septiembre", "octubre", "noviembre", "diciembre"},
		"fr": {"janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre", "octobre", "novembre", "décembre"},
		"de": {"Januar", "Februar", "März", "April", "Mai", "Juni", "Juli", "August", "September", "Oktober", "November", "Dezember"},
		"it": {"gennaio", "febbraio", "marzo", "aprile", "maggio", "giugno", "luglio", "agosto", "settembre", "ottobre", "novembre", "dicembre"},
		"pt": {"janeiro", "fevereiro", "março", "abril", "maio", "junho", "julho", "agosto", "setembro", "outubro", "novembro", "dezembro"},
	}
)

// DateText is SayDate's value as text in the language's usual order
// ("Dienstag, 5. März 2024", "martes 5 de marzo de 2024").
func DateText(t time.Time, language string) string {
	l := textLang(language)
	day, mon := textDays[l][t.Weekday()], textMonths[l][t.Month()-1]
	switch l {
	case "es":
		return fmt.Sprintf("%s %d de %s de %d", day, t.Day(), mon, t.Year())
	case "pt":
		return fmt.Sprintf("%s, %d de %s de %d", day, t.Day(), mon, t.Year())
	case "de":
		return fmt.Sprintf("%s, %d. %s %d", day, t.Day(), mon, t.Year())
	case "fr", "it":
		return fmt.Sprintf("%s %d %s %d", day, t.Day(), mon, t.Year())
	}
	return fmt.Sprintf("%s, %s %d, %d", day, mon, t.Day(), t.Year())
}

// TimeText is SayTime's value as text: the 12-hour clock in English, the
// 24-hour clock with the language's word for the hour elsewhere.
func TimeText(t time.Time, language string) string {
	h, m := t.Hour(), t.Minute()
	switch textLang(language) {
	case "es":
		return fmt.Sprintf("las %d y %d", h, m)
	case "fr":
		return fmt.Sprintf("%d heures %d", h, m)
	case "de":
		return fmt.Sprintf("%d Uhr %d", h, m)
	case "it":
		return fmt.Sprintf("le %d e %d", h, m)
	case "pt":
		return fmt.Sprintf("%d horas e %d", h, m)
	}
	ampm := "AM"
	if h >= 12 {
		ampm = "PM"
	}
	if h = h % 12; h == 0 {
		h = 12
	}
	if m == 0 {
		return fmt.Sprintf("%d o'clock %s", h, ampm)
	}
	return fmt.Sprintf("%d %02d %s", h, m, ampm)
}

// MoneyText is SayMoney's value as text (dollars, as Asterisk's SayMoney
// says in every language).
func MoneyText(amount, language string) string {
	dollars, cents := parseMoney(strings.TrimSpace(amount))
	w := map[string][3]string{
		"en": {"dollars", "and", "cents"}, "es": {"dólares", "con", "centavos"},
		"fr": {"dollars", "et", "cents"}, "de": {"Dollar", "und", "Cent"},
		"it": {"dollari", "e", "centesimi"}, "pt": {"dólares", "e", "centavos"},
	}[textLang(language)]
	if cents == 0 {
		return fmt.Sprintf("%d %s", dollars, w[0])
	}
	return fmt.Sprintf("%d %s %s %d %s", dollars, w[0], w[1], cents, w[2])
}
