package apps

import (
	"context"
	"errors"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/entvoice/entvoice/internal/channel"
	"github.com/entvoice/entvoice/internal/media"
	"github.com/entvoice/entvoice/internal/pbx"
	"github.com/entvoice/entvoice/internal/tts"
)

// TTS speaks text (internal/tts's Synthesizer, espeak-ng behind a cache).
type TTS interface {
	Speak(ctx context.Context, req tts.Request) (*media.Prompt, error)
	// SpeakFile returns the cached WAV file of the phrase.
	SpeakFile(ctx context.Context, req tts.Request) (string, error)
}

// ttsFunction is the dialplan function TTS(text[,voice[,rate]]): the
// phrase spoken by the node's TTS, as a sound file name any application
// plays (Playback, Background, Read, SpeechBackground: so a TTS prompt can
// be barged in on). The file is cached; an empty value when there is no
// TTS (logged).
func (ap *Apps) ttsFunction() pbx.Function {
	return pbx.Function{Read: func(e *pbx.Exec, data string) (string, error) {
		a := args(data)
		if ap.svc.TTS == nil {
			return "", tts.ErrUnavailable
		}
		rate, _ := strconv.Atoi(arg(a, 2))
		path, err := ap.svc.TTS.SpeakFile(e.Ctx, tts.Request{Text: arg(a, 0), Voice: arg(a, 1), Language: e.Ch.Language(), Rate: rate})
		if err != nil {
			e.Ch.Log().Warn("TTS() failed", "err", err, "text", arg(a, 0))
			return "", err
		}
		// Sound names carry no extension (the player finds the format).
		return strings.TrimSuffix(path, filepath.Ext(path)), nil
	}}
}

// SayText(text[,voice[,rate]]) speaks text with the node's text to speech
// (espeak-ng) in the channel's language, or in the espeak-ng voice given
// ("en-us", "es", "de", "en-us+f3"), at rate words per minute (80-450,
// default 150). It is entVoice's counterpart of Asterisk's Festival(): it
// answers the channel first, and a repeated phrase comes from the cache.
// Commas in the text must be quoted or escaped, as in any application's
// arguments. SAYTEXTSTATUS is SUCCESS, or FAILED (no TTS on the node, bad
// text or voice: logged) and the call goes on.
func (ap *Apps) SayText(e *pbx.Exec, data string) error {
	a := args(data)
	text, voice := arg(a, 0), arg(a, 1)
	rate := 0
	if v := arg(a, 2); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			e.Ch.Log().Warn("SayText: rate is not a number", "rate", v)
			e.Ch.SetVar("SAYTEXTSTATUS", "FAILED")
			return nil
		}
		rate = n
	}
	if e.Ch.State() != channel.StateUp {
		if err := e.Ch.Answer(e.Ctx); err != nil {
			return channel.ErrHangup
		}
	}
	fail := func(msg string, err error) error {
		e.Ch.Log().Warn("SayText: "+msg, "err", err, "text", text, "voice", voice)
		e.Ch.SetVar("SAYTEXTSTATUS", "FAILED")
		return nil
	}
	if ap.svc.TTS == nil {
		return fail("no text to speech on this node", tts.ErrUnavailable)
	}
	p, err := ap.svc.TTS.Speak(e.Ctx, tts.Request{Text: text, Voice: voice, Language: e.Ch.Language(), Rate: rate})
	if err != nil {
		if e.Ch.IsHungUp() {
			return channel.ErrHangup
		}
		return fail("synthesis failed", err)
	}
	s, err := earlyMedia(e)
	if err != nil {
		return channel.ErrHangup
	}
	if err := s.Play(e.Ctx, p.Reader()); err != nil && !errors.Is(err, context.Canceled) {
		return fail("playback failed", err)
	}
	if e.Ch.IsHungUp() {
		return channel.ErrHangup
	}
	e.Ch.SetVar("SAYTEXTSTATUS", "SUCCESS")
	return nil
}
