package prompts

import (
	"os"
	"path/filepath"
	"sync"
	"testing"
)

// makeTree creates files (relative paths) under a new temporary directory.
func makeTree(t *testing.T, files ...string) string {
	t.Helper()
	root := t.TempDir()
	for _, f := range files {
		p := filepath.Join(root, filepath.FromSlash(f))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("RIFF"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func TestFindLanguageChain(t *testing.T) {
	root := makeTree(t,
		"en/hello.wav",
		"en/digits/5.wav",
		"en/both.wav", "en/both.ulaw",
		"en/upper.WAV",
		"en/crossfmt.wav",
		"en_US_f_Allison/hello.wav",
		"en_US_f_Allison/only-allison.wav",
		"fr/hello.wav",
		"fr/crossfmt.ulaw",
		"fr/rawonly.ulaw",
		"fr_CA_f_June/digits/5.wav",
		"fr_CA_f_June/bonjour.wav",
		"fr_FR_x/bonjour.wav",
		"root-only.wav",
		"rec/msg1.wav",
	)
	lib := NewLibrary(root)
	tests := []struct {
		name, lang, want string // want "" = not found
	}{
		{"hello", "en", "en/hello.wav"},                            // exact language dir before en_*
		{"only-allison", "en", "en_US_f_Allison/only-allison.wav"}, // voice-named dir
		{"hello", "fr_CA", "fr/hello.wav"},                         // region stripped
		{"bonjour", "fr_CA", "fr_CA_f_June/bonjour.wav"},           // fr_CA_* prefix
		{"bonjour", "fr", "fr_CA_f_June/bonjour.wav"},              // fr_* sorted: fr_CA before fr_FR
		{"digits/5", "fr", "fr_CA_f_June/digits/5.wav"},
		{"digits/5", "de", "en/digits/5.wav"}, // fallback to en
		{"digits/5", "", "en/digits/5.wav"},
		{"hello", "EN", "en/hello.wav"}, // no EN dir: en fallback
		{"root-only", "fr", "root-only.wav"},
		{"both", "en", "en/both.wav"},         // .wav preferred
		{"upper", "en", "en/upper.WAV"},       // .WAV accepted
		{"crossfmt", "fr", "en/crossfmt.wav"}, // playable .wav anywhere before raw formats
		{"rawonly", "fr", "fr/rawonly.ulaw"},
		{"missing", "en", ""},
		{"../etc/passwd", "en", ""},
		{"digits/../../x", "en", ""},
		{"hello", "../en", "en/hello.wav"}, // bad language ignored
		{"", "en", ""},
	}
	for _, tc := range tests {
		got, ok := lib.Find(tc.name, tc.lang)
		if tc.want == "" {
			if ok {
				t.Errorf("Find(%q, %q) = %q, want not found", tc.name, tc.lang, got)
			}
			continue
		}
		want := filepath.Join(root, filepath.FromSlash(tc.want))
		if !ok || got != want {
			t.Errorf("Find(%q, %q) = %q, %v; want %q", tc.name, tc.lang, got, ok, want)
		}
	}

	abs := filepath.Join(root, "rec", "msg1")
	if got, ok := lib.Find(abs, "fr"); !ok || got != abs+".wav" {
		t.Errorf("Find(absolute) = %q, %v", got, ok)
	}
	if _, ok := lib.Find(filepath.Join(root, "rec", "nope"), "en"); ok {
		t.Error("Find(absolute missing) found")
	}
	if !lib.Exists("hello", "en") || lib.Exists("missing", "en") {
		t.Error("Exists disagrees with Find")
	}
	langs := lib.Languages()
	if len(langs) != 6 || langs[0] != "en" || langs[1] != "en_US_f_Allison" {
		t.Errorf("Languages() = %v", langs)
	}
}

// Debian's asterisk-core-sounds-*-wav layout: only voice-named directories.
func TestFindDebianLayout(t *testing.T) {
	root := makeTree(t,
		"en_US_f_Allison/digits/5.wav",
		"es_MX_f_Allison/digits/5.wav",
		"es_MX_f_Allison/digits/1F.wav",
	)
	lib := NewLibrary(root)
	for _, tc := range []struct{ name, lang, want string }{
		{"digits/5", "en", "en_US_f_Allison/digits/5.wav"},
		{"digits/5", "es", "es_MX_f_Allison/digits/5.wav"},
		{"digits/5", "es_MX", "es_MX_f_Allison/digits/5.wav"},
		{"digits/5", "fr", "en_US_f_Allison/digits/5.wav"},
		{"digits/1F", "fr", ""},
	} {
		got, ok := lib.Find(tc.name, tc.lang)
		want := filepath.Join(root, filepath.FromSlash(tc.want))
		if tc.want == "" && ok || tc.want != "" && got != want {
			t.Errorf("Find(%q, %q) = %q, %v; want %q", tc.name, tc.lang, got, ok, tc.want)
		}
	}
}

func TestFindCacheAndRefresh(t *testing.T) {
	root := makeTree(t, "en/digits/1.wav")
	lib := NewLibrary(root)
	if _, ok := lib.Find("digits/1", "en"); !ok {
		t.Fatal("digits/1 not found")
	}
	// The listing of en/digits is cached: a new file is invisible ...
	if err := os.WriteFile(filepath.Join(root, "en", "digits", "2.wav"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, ok := lib.Find("digits/2", "en"); ok {
		t.Fatal("new file seen without Refresh: listing not cached")
	}
	// ... until Refresh.
	lib.Refresh()
	if _, ok := lib.Find("digits/2", "en"); !ok {
		t.Fatal("new file not seen after Refresh")
	}
	// A new language directory also needs Refresh.
	if err := os.MkdirAll(filepath.Join(root, "fr", "digits"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "fr", "digits", "2.wav"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	lib.Refresh()
	if got, _ := lib.Find("digits/2", "fr"); got != filepath.Join(root, "fr", "digits", "2.wav") {
		t.Fatalf("fr after Refresh = %q", got)
	}
}

func TestFindConcurrent(t *testing.T) {
	root := makeTree(t, "en_US_f_Allison/digits/1.wav", "fr_CA_f_June/digits/1.wav")
	lib := NewLibrary(root)
	var wg sync.WaitGroup
	errs := make(chan string, 64)
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 200; i++ {
				if i%50 == 0 {
					lib.Refresh()
				}
				if _, ok := lib.Find("digits/1", "fr"); !ok {
					errs <- "digits/1 fr not found"
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}

func BenchmarkFind(b *testing.B) {
	lib := NewLibrary(installedSounds)
	if _, ok := lib.Find("digits/5", "fr"); !ok {
		b.Skip("no installed sounds")
	}
	for b.Loop() {
		lib.Find("digits/5", "fr")
	}
}
