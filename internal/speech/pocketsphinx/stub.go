//go:build !pocketsphinx || !cgo

package pocketsphinx

import (
	"fmt"

	"github.com/entvoice/entvoice/internal/speech"
)

// Available reports whether this binary was built with the engine.
const Available = false

// New reports that the engine was not compiled in.
func New(cfg Config) (speech.Engine, error) {
	return nil, fmt.Errorf("%w: %s: this binary was built without the pocketsphinx engine "+
		"(install libpocketsphinx-dev and pkg-config, then build with CGO_ENABLED=1 and -tags pocketsphinx; scripts/setup.sh does)",
		speech.ErrUnavailable, Name)
}
