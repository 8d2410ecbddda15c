//go:build !central

package main

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/entvoice/entvoice/internal/media"
	"github.com/entvoice/entvoice/internal/speech"
	"github.com/entvoice/entvoice/internal/speech/pocketsphinx"
	"github.com/entvoice/entvoice/internal/tts"
	"github.com/spf13/cobra"
)

// newSpeech is `entvoice speech`: the speech engine and TTS from the
// command line, for operators checking a model, a grammar or a voice
// before a dialplan uses them (docs/speech.md).
func newSpeech() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "speech",
		Short: "Speech recognition and text to speech tools (engines, recognize, say)",
	}
	var models []string
	modelFlag := func(c *cobra.Command) {
		c.Flags().StringArrayVar(&models, "model", nil,
			"LANG=DIR pocketsphinx model directory (repeatable; default en="+pocketsphinx.DebianModelDir+")")
	}
	engine := func() (speech.Engine, error) {
		cfg := pocketsphinx.Config{Decoders: 1, Logger: slog.New(slog.DiscardHandler)}
		for _, m := range models {
			lang, dir, ok := strings.Cut(m, "=")
			if !ok || lang == "" || dir == "" {
				return nil, &exitError{2, fmt.Errorf("--model %q: want LANG=DIR", m)}
			}
			cfg.Models = append(cfg.Models, pocketsphinx.Model{Language: lang, Dir: dir})
		}
		e, err := pocketsphinx.New(cfg)
		if err != nil {
			return nil, &exitError{3, err}
		}
		return e, nil
	}

	engines := &cobra.Command{
		Use:   "engines",
		Short: "List the speech engines of this binary and whether they can run",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			e, err := engine()
			if err != nil {
				fmt.Fprintf(cmd.OutOrStdout(), "%s\tunavailable\t%v\n", pocketsphinx.Name, errors.Unwrap(err))
				return nil
			}
			defer e.Close()
			langs := e.(interface{ Languages() []string }).Languages()
			fmt.Fprintf(cmd.OutOrStdout(), "%s\tavailable\tmodels: %s\n", e.Name(), strings.Join(langs, ", "))
			return nil
		},
	}
	modelFlag(engines)

	var grammar, language string
	recognize := &cobra.Command{
		Use:   "recognize FILE...",
		Short: "Recognise audio files (WAV at any rate, .ulaw, .alaw, .sln) against a grammar",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, files []string) error {
			e, err := engine()
			if err != nil {
				return err
			}
			defer e.Close()
			r := speech.NewRecognizer(cmd.Context(), e, speech.Options{Language: language, Logger: slog.New(slog.DiscardHandler)})
			defer r.Close()
			if err := r.LoadGrammarRef("g", grammar); err != nil {
				return &exitError{5, err}
			}
			if err := r.ActivateGrammar("g"); err != nil {
				return err
			}
			for _, f := range files {
				pcm, err := media.LoadFile(f)
				if err != nil {
					return &exitError{5, err}
				}
				// Silence around the file, as a call has around an answer.
				pcm = append(append(make([]int16, 2400), pcm...), make([]int16, 8000)...)
				res, reason, err := r.Recognize(cmd.Context(), pcm)
				switch {
				case err != nil:
					fmt.Fprintf(cmd.OutOrStdout(), "%s\t%s\t%v\n", f, reason, err)
				case len(res) == 0:
					fmt.Fprintf(cmd.OutOrStdout(), "%s\t%s\n", f, reason)
				default:
					fmt.Fprintf(cmd.OutOrStdout(), "%s\t%s\ttext=%q score=%d grammar=%s\n", f, reason, res[0].Text, res[0].Score, grammar)
				}
			}
			return nil
		},
	}
	modelFlag(recognize)
	recognize.Flags().StringVar(&grammar, "grammar", "builtin:digits", "grammar: a JSGF file, a .kws keyword file or builtin:digits|yesno|menu?words=a,b")
	recognize.Flags().StringVar(&language, "language", "en", "language (selects the model)")

	var voice, out, cacheDir string
	var rate int
	say := &cobra.Command{
		Use:   "say TEXT",
		Short: "Synthesise TEXT with espeak-ng to an 8 kHz WAV file (the TTS cache's format)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := tts.New(tts.Config{CacheDir: cacheDir, Logger: slog.New(slog.DiscardHandler)})
			if err != nil {
				return &exitError{3, err}
			}
			defer s.Close()
			p, err := s.Speak(cmd.Context(), tts.Request{Text: args[0], Voice: voice, Language: language, Rate: rate})
			if err != nil {
				return &exitError{5, err}
			}
			if err := writeWAVFile(out, p.PCM); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: %.2f s, voice %s\n", out, float64(len(p.PCM))/media.SampleRate, firstNonEmpty(voice, s.Voice(language)))
			return nil
		},
	}
	say.Flags().StringVar(&voice, "voice", "", "espeak-ng voice (default: from --language)")
	say.Flags().StringVar(&language, "language", "en", "language (en, es, fr, de, it, pt, pt_BR, ...)")
	say.Flags().IntVar(&rate, "rate", tts.DefaultRate, "words per minute")
	say.Flags().StringVarP(&out, "out", "o", "say.wav", "output WAV file")
	say.Flags().StringVar(&cacheDir, "cache", "", "TTS cache directory (default: none)")

	cmd.AddCommand(engines, recognize, say)
	return cmd
}

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func writeWAVFile(path string, pcm []int16) error {
	if dir := filepath.Dir(path); dir != "." {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w, err := media.NewWAVWriter(f)
	if err == nil {
		err = w.Write(pcm)
	}
	if err == nil {
		err = w.Close()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
