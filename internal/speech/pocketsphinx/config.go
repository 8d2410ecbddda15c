// Package pocketsphinx is entVoice's speech engine on CMU pocketsphinx,
// through cgo against Debian 12's libpocketsphinx ("5prealpha":
// ps_decoder_t configured by a cmd_ln_t). It is compiled with the build
// tag "pocketsphinx" (scripts/setup.sh adds it when pkg-config finds the
// library); without the tag, or without cgo, New returns an error wrapping
// speech.ErrUnavailable that says how to get the engine.
//
// Each model (one per language: Debian's pocketsphinx-en-us by default, any
// pocketsphinx model directory an operator adds) is loaded once, into a
// pool of decoders sized to the CPU cores. A recognition holds a decoder
// only while its utterance is decoded (the recognizer buffers the audio
// between the endpoints), which takes about a hundredth of the audio's
// length, so a pool of two decoders serves dozens of calls; when all are
// busy, a decode waits up to QueueTimeout and then fails with
// speech.ErrBusy.
//
// The en-us acoustic model is a 16 kHz model. Call audio is 8 kHz, so it
// is upsampled by linear interpolation: a band-limiting resampler leaves
// the 4-8 kHz band empty, which the model's filterbank (to 6800 Hz) reads
// as mismatched features; linear interpolation leaves enough imaged
// energy there. This was measured on espeak-ng phrases through G.711
// (docs/speech.md): 56/56 correct with linear interpolation against 28/56
// with a high-quality resampler.
package pocketsphinx

import (
	"bufio"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/entvoice/entvoice/internal/speech"
)

// Name is the engine's registered name, as in SpeechCreate(pocketsphinx).
const Name = "pocketsphinx"

// DebianModelDir is where Debian's pocketsphinx-en-us installs the US
// English model: the acoustic model in en-us/, cmudict-en-us.dict and the
// en-us.lm.bin language model (not used: IVR recognition uses grammars).
const DebianModelDir = "/usr/share/pocketsphinx/model/en-us"

// Model is one language's model.
type Model struct {
	// Language this model serves: "en" serves en, en_US, en-GB...; a
	// regional tag ("pt_BR") is preferred over its base for that region.
	Language string
	// Dir is a pocketsphinx model directory: the acoustic model is the
	// directory (or its subdirectory) holding mdef and feat.params, the
	// dictionary its *.dict file. HMM and Dict override what is found.
	Dir  string
	HMM  string
	Dict string
	// ExtraDict names dictionary files (same format: "word PH PH ...") whose
	// words are added to the model's, for words the dictionary lacks (for
	// example Spanish menu words spelled with the en-us phones).
	ExtraDict []string
}

// Config configures the engine.
type Config struct {
	// Models, the first being the default for languages no model serves.
	// Empty: Debian's en-us model (DebianModelDir) for "en".
	Models []Model
	// Decoders per model; 0 means the number of CPU cores.
	Decoders int
	// QueueTimeout is how long a decode waits for a free decoder before
	// failing with speech.ErrBusy; 0 means 3 s.
	QueueTimeout time.Duration
	// Logger receives the engine's logs (slog.Default() when nil).
	Logger *slog.Logger
}

// DefaultQueueTimeout is the QueueTimeout of a zero Config.
const DefaultQueueTimeout = 3 * time.Second

// resolvedModel is a model with its files found.
type resolvedModel struct {
	lang      string // normalised: lower case, '_' separator
	hmm, dict string
	extra     []string
}

func normLang(l string) string {
	return strings.ReplaceAll(strings.ToLower(strings.TrimSpace(l)), "-", "_")
}

// resolve finds a model's acoustic model directory and dictionary.
func (m Model) resolve() (resolvedModel, error) {
	r := resolvedModel{lang: normLang(m.Language), hmm: m.HMM, dict: m.Dict, extra: m.ExtraDict}
	if r.lang == "" {
		return r, fmt.Errorf("%w: model %s without a language", speech.ErrNoModel, m.Dir)
	}
	if r.hmm == "" {
		if m.Dir == "" {
			return r, fmt.Errorf("%w: %s: no model directory", speech.ErrNoModel, m.Language)
		}
		if isHMM(m.Dir) {
			r.hmm = m.Dir
		} else {
			entries, err := os.ReadDir(m.Dir)
			if err != nil {
				return r, fmt.Errorf("%w: %s: %w", speech.ErrNoModel, m.Language, err)
			}
			for _, e := range entries {
				if p := filepath.Join(m.Dir, e.Name()); e.IsDir() && isHMM(p) {
					r.hmm = p
					break
				}
			}
		}
		if r.hmm == "" {
			return r, fmt.Errorf("%w: %s: no acoustic model (a directory with mdef and feat.params) in %s", speech.ErrNoModel, m.Language, m.Dir)
		}
	}
	if r.dict == "" {
		for _, dir := range []string{m.Dir, filepath.Dir(r.hmm), r.hmm} {
			if dir == "" {
				continue
			}
			matches, _ := filepath.Glob(filepath.Join(dir, "*.dict"))
			for _, p := range matches {
				if filepath.Base(p) != "noisedict" {
					r.dict = p
					break
				}
			}
			if r.dict != "" {
				break
			}
		}
		if r.dict == "" {
			return r, fmt.Errorf("%w: %s: no dictionary (*.dict) in %s", speech.ErrNoModel, m.Language, m.Dir)
		}
	}
	for _, p := range append([]string{r.dict}, r.extra...) {
		if _, err := os.Stat(p); err != nil {
			return r, fmt.Errorf("%w: %s: %w", speech.ErrNoModel, m.Language, err)
		}
	}
	return r, nil
}

func isHMM(dir string) bool {
	for _, f := range []string{"mdef", "feat.params"} {
		if st, err := os.Stat(filepath.Join(dir, f)); err != nil || st.IsDir() {
			return false
		}
	}
	return true
}

// readDict reads the words of a pocketsphinx dictionary ("word PH PH ...",
// alternates as "word(2) ..."): the word set, and the lines' phones by word
// (first pronunciation) when phones is not nil.
func readDict(path string, words map[string]bool, phones map[string]string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("pocketsphinx: dictionary: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for line := 1; sc.Scan(); line++ {
		fields := strings.Fields(sc.Text())
		if len(fields) == 0 || strings.HasPrefix(fields[0], "#") || strings.HasPrefix(fields[0], ";;") {
			continue
		}
		if len(fields) < 2 {
			return fmt.Errorf("pocketsphinx: %s:%d: word %q without phones", path, line, fields[0])
		}
		w := fields[0]
		if i := strings.IndexByte(w, '('); i > 0 && strings.HasSuffix(w, ")") {
			w = w[:i]
		}
		w = strings.ToLower(w)
		words[w] = true
		if phones != nil {
			if _, ok := phones[w]; !ok {
				phones[w] = strings.Join(fields[1:], " ")
			}
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("pocketsphinx: dictionary %s: %w", path, err)
	}
	return nil
}

// upsample2 doubles the sample rate by linear interpolation (see the
// package documentation for why not a band-limiting resampler).
func upsample2(in []int16) []int16 {
	out := make([]int16, 2*len(in))
	for i, v := range in {
		next := v
		if i+1 < len(in) {
			next = in[i+1]
		}
		out[2*i] = v
		out[2*i+1] = int16((int32(v) + int32(next)) / 2)
	}
	return out
}

// checkWords reports the first of words missing from dict.
func checkWords(words []string, dict map[string]bool, lang string) error {
	var missing []string
	for _, w := range words {
		if !dict[w] {
			missing = append(missing, w)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("%w: %s for model %q (add them to an ExtraDict)", speech.ErrUnknownWord, strings.Join(missing, ", "), lang)
	}
	return nil
}
