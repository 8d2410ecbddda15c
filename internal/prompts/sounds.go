package prompts

import (
	"errors"
	"fmt"

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
