package prompts

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/entvoice/entvoice/internal/media"
)

// ErrNoSound is a sound name with no file in any language of the chain
// (ast_openstream fails).
var ErrNoSound = errors.New("sound file not found")

// Sounds opens sounds by name in a channel's language: the Library finds
// the file, the FileCache holds it decoded once for every call that plays
// it. Applications and AGI play through it.
type Sounds struct {
	Library *Library
	Files   *media.FileCache
	// Speaker, when set, speaks Say values in languages whose own sound
	// set lacks the names (Say); nil keeps Asterisk's English fallback.
	Speaker Speaker
}

// Say is what a Say application plays for names (a Say function's result)
// in language: names themselves when the language's own set has them all
// or no Speaker is set; else one TTS file saying text (Library.Resolve).
// When synthesis fails it returns names (Asterisk's fallback) and the
// error, for the caller to log.
func (s Sounds) Say(ctx context.Context, names []string, text, language string) ([]string, error) {
	if s.Speaker == nil || s.Library == nil || text == "" || len(s.Library.Missing(names, language)) == 0 {
		return names, nil
	}
	files, err := s.Library.Resolve(ctx, names, text, language, s.Speaker)
	if err != nil {
		return names, err
	}
	// Resolve gives file paths; Find takes absolute names without their
	// extension, as Asterisk's file names are.
	for i, f := range files {
		files[i] = strings.TrimSuffix(f, filepath.Ext(f))
	}
	return files, nil
}

// Open finds name in language and opens it for playback.
func (s Sounds) Open(name, language string) (media.PCMSource, error) {
	if s.Library == nil || s.Files == nil {
		return nil, fmt.Errorf("%w: %s", ErrNoSound, name)
	}
	path, ok := s.Library.Find(name, language)
	if !ok {
		return nil, fmt.Errorf("%w: %s", ErrNoSound, name)
	}
	src, err := s.Files.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	p, ok := src.(media.PCMSource)
	if !ok {
		return nil, fmt.Errorf("%w: %s is not seekable", ErrNoSound, path)
	}
	return p, nil
}
