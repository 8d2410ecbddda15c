package prompts

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
)

// DefaultLanguage is the final language fallback, as in Asterisk's
// fileexists_core() (main/file.c), which tries "en" after the channel
// language and its region-less form.
const DefaultLanguage = "en"

// Extensions Find accepts, in order of preference. The media layer plays
// only WAV for now, so .wav/.WAV are searched across the whole language
// chain before the raw formats are considered.
var (
	playableExts = []string{"wav", "WAV"}
	otherExts    = []string{"ulaw", "alaw", "sln"}
)

// Library resolves Asterisk sound names ("hello-world", "digits/5") to files
// under a sounds directory, following Asterisk's language lookup. Directory
// listings are cached; call Refresh after sound files are added or removed.
// A Library is safe for concurrent use.
type Library struct {
	dir string

	mu    sync.RWMutex
	langs []string                       // top-level directory names, sorted; nil = not read yet
	lists map[string]map[string]struct{} // directory path -> file names in it
}

// NewLibrary returns a Library rooted at soundsDir (for example
// /usr/share/asterisk/sounds). The directory is read lazily.
func NewLibrary(soundsDir string) *Library {
	return &Library{dir: filepath.Clean(soundsDir), lists: map[string]map[string]struct{}{}}
}

// Dir returns the sounds directory the library was created with.
func (l *Library) Dir() string { return l.dir }

// Refresh drops every cached directory listing.
func (l *Library) Refresh() {
	l.mu.Lock()
	l.langs = nil
	l.lists = map[string]map[string]struct{}{}
	l.mu.Unlock()
}

// Find resolves name for language and returns the file path.
//
// name is a sound name without extension, relative to the sounds directory
// ("digits/5"), or an absolute path without extension
// ("/var/lib/entvoice/recordings/msg1"), which Asterisk plays as is, without
// language handling. Absolute paths are not cached: recordings change at run
// time.
//
// Relative names are searched, like Asterisk, in <dir>/<language>/, then
// <dir>/<language without region>/ (en_GB -> en), then <dir>/en/, then <dir>/.
// For each language L the directory named exactly L is preferred, then any
// directory whose name starts with "L_" in sorted order: Debian's
// asterisk-core-sounds-* packages install voice-named directories such as
// en_US_f_Allison with no "en" link.
func (l *Library) Find(name, language string) (string, bool) {
	if name == "" || strings.ContainsRune(name, 0) {
		return "", false
	}
	if filepath.IsAbs(name) {
		return findAbsolute(filepath.Clean(name))
	}
	if !safeRelative(name) {
		return "", false
	}
	dirs := l.searchDirs(language)
	for _, exts := range [][]string{playableExts, otherExts} {
		for _, d := range dirs {
			if p, ok := l.findIn(d, name, exts); ok {
				return p, true
			}
		}
	}
	return "", false
}

// Exists reports whether Find would resolve name for language.
func (l *Library) Exists(name, language string) bool {
	_, ok := l.Find(name, language)
	return ok
}

// Languages returns the top-level directory names of the sounds directory
// (the installed languages and voices), sorted.
func (l *Library) Languages() []string {
	return append([]string(nil), l.languageDirs()...)
}

func findAbsolute(base string) (string, bool) {
	for _, exts := range [][]string{playableExts, otherExts} {
		for _, e := range exts {
			p := base + "." + e
			if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() {
				return p, true
			}
		}
	}
	return "", false
}

// safeRelative rejects names that would climb out of the sounds directory.
func safeRelative(name string) bool {
	for _, part := range strings.Split(filepath.ToSlash(name), "/") {
		if part == ".." {
			return false
		}
	}
	return true
}

// validLanguage accepts only a plain directory name as a language.
func validLanguage(lang string) bool {
	return lang != "" && lang != "." && lang != ".." && !strings.ContainsAny(lang, "/\\\x00")
}

// searchDirs lists the directories to search for language, in order.
func (l *Library) searchDirs(language string) []string {
	var chain []string
	add := func(lang string) {
		if !validLanguage(lang) {
			return
		}
		for _, c := range chain {
			if c == lang {
				return
			}
		}
		chain = append(chain, lang)
	}
	add(language)
	if i := strings.IndexByte(language, '_'); i > 0 {
		add(language[:i])
	}
	add(DefaultLanguage)

	langs := l.languageDirs()
	var dirs []string
	seen := map[string]bool{}
	push := func(d string) {
		if !seen[d] {
			seen[d] = true
			dirs = append(dirs, filepath.Join(l.dir, d))
		}
	}
	for _, lang := range chain {
		for _, d := range langs {
			if d == lang {
				push(d)
			}
		}
		for _, d := range langs { // sorted
			if strings.HasPrefix(d, lang+"_") {
				push(d)
			}
		}
	}
	return append(dirs, l.dir)
}

// languageDirs returns the cached sorted list of subdirectories of l.dir.
func (l *Library) languageDirs() []string {
	l.mu.RLock()
	langs := l.langs
	l.mu.RUnlock()
	if langs != nil {
		return langs
	}
	entries, _ := os.ReadDir(l.dir) // missing directory: no languages
	langs = []string{}
	for _, e := range entries {
		if isDir(l.dir, e) {
			langs = append(langs, e.Name())
		}
	}
	sort.Strings(langs)
	l.mu.Lock()
	if l.langs == nil {
		l.langs = langs
	}
	langs = l.langs
	l.mu.Unlock()
	return langs
}

// isDir follows symlinks, since sound sets are often linked into place.
func isDir(parent string, e os.DirEntry) bool {
	if e.IsDir() {
		return true
	}
	if e.Type()&os.ModeSymlink == 0 {
		return false
	}
	st, err := os.Stat(filepath.Join(parent, e.Name()))
	return err == nil && st.IsDir()
}

// findIn looks for name.<ext> in base using the cached listing of the
// directory that holds it.
func (l *Library) findIn(base, name string, exts []string) (string, bool) {
	full := filepath.Join(base, filepath.FromSlash(name))
	dir, file := filepath.Split(full)
	dir = filepath.Clean(dir)
	list := l.listing(dir)
	for _, e := range exts {
		if _, ok := list[file+"."+e]; ok {
			return full + "." + e, true
		}
	}
	return "", false
}

func (l *Library) listing(dir string) map[string]struct{} {
	l.mu.RLock()
	list, ok := l.lists[dir]
	l.mu.RUnlock()
	if ok {
		return list
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		// Not cached: names come from dialplans and callers, so caching
		// misses would let the cache grow without bound.
		return nil
	}
	list = make(map[string]struct{}, len(entries))
	for _, e := range entries {
		if !e.IsDir() {
			list[e.Name()] = struct{}{}
		}
	}
	l.mu.Lock()
	if cur, ok := l.lists[dir]; ok {
		list = cur
	} else {
		l.lists[dir] = list
	}
	l.mu.Unlock()
	return list
}
