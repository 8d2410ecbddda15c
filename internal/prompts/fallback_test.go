package prompts

import (
	"context"
	"errors"
	"path/filepath"
	"reflect"
	"testing"
	"time"
)

type fakeSpeaker struct {
	calls []string
	err   error
}

func (f *fakeSpeaker) SpeakFile(_ context.Context, text, language string) (string, error) {
	f.calls = append(f.calls, language+":"+text)
	return "/cache/" + language + ".wav", f.err
}

func TestFallbackToSpeech(t *testing.T) {
	root := makeTree(t,
		"en_US_f_Allison/digits/1.wav", "en_US_f_Allison/digits/20.wav", "en_US_f_Allison/digits/hundred.wav",
		"it_IT_m_Carlo/digits/21.wav", "it_IT_m_Carlo/digits/hundred.wav",
	)
	lib := NewLibrary(root)
	for lang, want := range map[string]bool{"en": true, "en_GB": true, "it": true, "it_CH": true, "de": false, "pt_BR": false, "": false} {
		if got := lib.HasOwnSounds(lang); got != want {
			t.Errorf("HasOwnSounds(%q) = %v", lang, got)
		}
	}
	// Italian 121: both names in the Italian set: recorded prompts.
	names, _ := SayNumber(121, "it", "")
	sp := &fakeSpeaker{}
	files, err := lib.Resolve(context.Background(), names, NumberText(121, "it"), "it", sp)
	want := []string{filepath.Join(root, "it_IT_m_Carlo/digits/hundred.wav"), filepath.Join(root, "it_IT_m_Carlo/digits/21.wav")}
	if err != nil || !reflect.DeepEqual(files, want) || len(sp.calls) != 0 {
		t.Fatalf("it: %v %v (speaker %v)", files, err, sp.calls)
	}
	// German 21: no German set: one spoken file, in German.
	names, _ = SayNumber(21, "de", "")
	if m := lib.Missing(names, "de"); !reflect.DeepEqual(m, names) {
		t.Fatalf("Missing = %v", m)
	}
	files, err = lib.Resolve(context.Background(), names, NumberText(21, "de"), "de", sp)
	if err != nil || !reflect.DeepEqual(files, []string{"/cache/de.wav"}) || !reflect.DeepEqual(sp.calls, []string{"de:21"}) {
		t.Fatalf("de: %v %v %v", files, err, sp.calls)
	}
	// Without a speaker: Asterisk's behaviour, English fallback, missing skipped.
	names, _ = SayNumber(121, "en", "")
	names = append(names, "digits/7") // in no set: skipped, as Asterisk skips it
	files, _ = lib.Resolve(context.Background(), names, "", "de", nil)
	en := func(n string) string { return filepath.Join(root, "en_US_f_Allison/digits", n+".wav") }
	if want := []string{en("1"), en("hundred"), en("20"), en("1")}; !reflect.DeepEqual(files, want) {
		t.Fatalf("no speaker: %v", files)
	}
	sp.err = errors.New("espeak broke")
	if _, err := lib.Resolve(context.Background(), []string{"digits/5"}, "5", "de", sp); err == nil {
		t.Fatal("speaker error not returned")
	}
	if _, ok := lib.FindOwn("digits/1", "de"); ok {
		t.Error("FindOwn used the English fallback")
	}
	if p, ok := lib.FindOwn("digits/1", "en_US"); !ok || filepath.Base(filepath.Dir(filepath.Dir(p))) != "en_US_f_Allison" {
		t.Errorf("FindOwn en_US = %q %v", p, ok)
	}
}

func TestTextRenderings(t *testing.T) {
	at := time.Date(2024, 3, 5, 14, 7, 0, 0, time.UTC)
	for _, tc := range []struct{ got, want string }{
		{DateText(at, "de_DE"), "Dienstag, 5. März 2024"},
		{DateText(at, "es"), "martes 5 de marzo de 2024"},
		{DateText(at, "pt_BR"), "terça-feira, 5 de março de 2024"},
		{DateText(at, "fr"), "mardi 5 mars 2024"},
		{DateText(at, "it"), "martedì 5 marzo 2024"},
		{DateText(at, "xx"), "Tuesday, March 5, 2024"},
		{TimeText(at, "de"), "14 Uhr 7"}, {TimeText(at, "en"), "2 07 PM"},
		{TimeText(time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC), "en"), "12 o'clock AM"},
		{TimeText(at, "pt"), "14 horas e 7"},
		{DigitsText("12*#-x", "de"), "1 2 Stern Raute minus"},
		{NumberText(-1234, "it"), "-1234"},
		{MoneyText("12.34", "es"), "12 dólares con 34 centavos"},
		{MoneyText("3", "de"), "3 Dollar"},
	} {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
}
