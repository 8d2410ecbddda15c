package apps

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/entvoice/entvoice/internal/channel"
	"github.com/entvoice/entvoice/internal/media"
	"github.com/entvoice/entvoice/internal/pbx"
	"github.com/entvoice/entvoice/internal/voicemail"
)

// vmIO is what the voicemail applications do with the caller: chanIO on a
// channel in a call, a script in the menus' unit tests. Every method
// returns channel.ErrHangup once the caller is gone.
type vmIO interface {
	// play plays sounds in order: names in the channel's language, or
	// recordings by absolute path without ".wav". A digit of escape stops
	// it and is returned (0: played to the end); other digits are
	// discarded (ast_waitstream). Missing sounds are skipped.
	play(escape string, names ...string) (rune, error)
	// playMessage plays a message with Asterisk's listen controls
	// (ast_control_streamfile): # skips forward and * back by skip, 0
	// pauses and resumes, 2 starts again; 1 and 3-9 stop it and are
	// returned.
	playMessage(path string, skip time.Duration) (rune, error)
	// waitDigit waits for a digit; 0 on timeout.
	waitDigit(timeout time.Duration) (rune, error)
	// readString plays prompts, any digit interrupting them, and reads
	// up to max digits until one of enders (not included) or a timeout:
	// first for the first digit, next between digits (ast_readstring).
	readString(max int, first, next time.Duration, enders string, prompts ...string) (string, error)
	// record records the caller into a new file of the mailbox's tmp
	// directory (ast_play_and_record_full).
	record(m *voicemail.Mailbox, spec recordSpec) (recording, error)
	language() string
	setLanguage(lang string)
	// exists reports whether a sound is installed in the channel's language.
	exists(name string) bool
}

// recordSpec is how a message or greeting is recorded.
type recordSpec struct {
	// Prompt is played before the beep (playfile); the beep is played
	// when Beep is set (greetings) or Prompt is.
	Prompt string
	Beep   bool
	// MaxSecs bounds the recording (0: no limit); MaxSilence ends it
	// after that many seconds below Threshold (0: never).
	MaxSecs, MaxSilence, Threshold int
	// Accept ends the recording and keeps it; Cancel ends it (the caller
	// pressed 0 for the operator).
	Accept, Cancel string
}

// Why a recording ended.
const (
	recAccept  = 'A' // a digit of Accept
	recCancel  = 'C' // a digit of Cancel
	recSilence = 'S'
	recTimeout = 't'
	recHangup  = 'H'
	recError   = 'E' // the file could not be written (full disk)
)

// recording is a finished recording: a WAV file in the mailbox's tmp
// directory (Path), removed on recError.
type recording struct {
	Path string
	// End says why it ended; Digit is the digit that ended it.
	End   rune
	Digit rune
	// Duration is its length, SoundDuration without the trailing silence
	// that ended it (what minsecs compares), both in whole seconds.
	Duration, SoundDuration int
	Err                     error
}

// chanIO is vmIO on the caller's channel.
type chanIO struct {
	ap *Apps
	e  *pbx.Exec
	vm Voicemail
}

func (c *chanIO) language() string        { return c.e.Ch.Language() }
func (c *chanIO) setLanguage(lang string) { c.e.Ch.SetLanguage(lang) }

func (c *chanIO) exists(name string) bool {
	if c.ap.svc.Sounds.Library == nil {
		return false
	}
	_, ok := c.ap.svc.Sounds.Library.Find(name, c.e.Ch.Language())
	return ok
}

// open finds a sound or a recording (absolute path without ".wav");
// recordings are read afresh each time (they change and are renumbered).
func (c *chanIO) open(name string) (media.Source, error) {
	if filepath.IsAbs(name) {
		pcm, err := media.LoadFile(name + ".wav")
		if err != nil {
			return nil, err
		}
		return media.NewPCMReader(pcm), nil
	}
	return c.ap.svc.Sounds.Open(name, c.e.Ch.Language())
}

func (c *chanIO) play(escape string, names ...string) (rune, error) {
	for _, n := range names {
		if n == "" {
			continue
		}
		src, err := c.open(n)
		if err != nil {
			c.e.Ch.Log().Warn("voicemail: sound not played", "sound", n, "err", err)
			continue
		}
		d, err := playSource(c.e, src, escape)
		if err != nil || d != 0 {
			return d, err
		}
	}
	return 0, nil
}

func (c *chanIO) playMessage(path string, skip time.Duration) (rune, error) {
	pcm, err := media.LoadFile(path + ".wav")
	if err != nil {
		c.e.Ch.Log().Warn("voicemail: message not played", "file", path, "err", err)
		return 0, nil
	}
	r := media.NewPCMReader(pcm)
	step := int64(skip / time.Second * media.SampleRate)
	for {
		d, err := playSource(c.e, r, allDigits)
		if err != nil || d == 0 {
			return 0, err
		}
		switch d {
		case '#':
			r.Skip(step)
			if r.Pos() >= r.Len() {
				return 0, nil
			}
		case '*':
			r.Skip(-step)
		case '2':
			_, _ = r.Seek(0, 0)
		case '0':
			// Paused until 0 again; another control digit stops.
			for {
				p, err := waitDigit(c.e, time.Hour)
				if err != nil {
					return 0, err
				}
				if p == '0' {
					break
				}
				if strings.ContainsRune("13456789", p) {
					return p, nil
				}
			}
		default:
			return d, nil
		}
	}
}

func (c *chanIO) waitDigit(timeout time.Duration) (rune, error) { return waitDigit(c.e, timeout) }

func (c *chanIO) readString(max int, first, next time.Duration, enders string, prompts ...string) (string, error) {
	return readStringIO(c, max, first, next, enders, prompts...)
}

// readStringIO is ast_readstring over any vmIO.
func readStringIO(io vmIO, max int, first, next time.Duration, enders string, prompts ...string) (string, error) {
	d, err := io.play(allDigits, prompts...)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	timeout := first
	for {
		if d == 0 {
			if d, err = io.waitDigit(timeout); err != nil {
				return b.String(), err
			}
			if d == 0 {
				return b.String(), nil
			}
		}
		if strings.ContainsRune(enders, d) {
			return b.String(), nil
		}
		b.WriteRune(d)
		if b.Len() >= max {
			return b.String(), nil
		}
		d, timeout = 0, next
	}
}

func (c *chanIO) record(m *voicemail.Mailbox, spec recordSpec) (recording, error) {
	if spec.Prompt != "" {
		if _, err := c.play(allDigits, spec.Prompt); err != nil {
			return recording{End: recHangup}, err
		}
	}
	if spec.Prompt != "" || spec.Beep {
		if _, err := c.play("", "beep"); err != nil {
			return recording{End: recHangup}, err
		}
	}
	s := c.e.Ch.Media()
	if s == nil {
		return recording{End: recHangup}, channel.ErrHangup
	}
	f, err := c.vm.TempFile(m, "rec-*.wav")
	if err != nil {
		return recording{End: recError, Err: err}, nil
	}
	rec := recordInto(c.e, s, f, spec)
	if rec.End == recError {
		_ = os.Remove(f.Name())
		return rec, nil
	}
	rec.Path = f.Name()
	if rec.End == recHangup {
		return rec, channel.ErrHangup
	}
	return rec, nil
}

// recordInto records the caller into f (closed on return): the silence
// that ends a recording is left out but for its first 200 ms, as
// __ast_play_and_record rewinds over it; a write error (a full disk)
// ends it with recError.
func recordInto(e *pbx.Exec, s *media.Session, f *os.File, spec recordSpec) recording {
	w, err := media.NewWAVWriter(f)
	if err != nil {
		f.Close()
		return recording{End: recError, Err: err}
	}
	frames := make(chan []int16, 100)
	s.SetSink(func(pcm []int16) {
		fr := make([]int16, len(pcm))
		copy(fr, pcm)
		select {
		case frames <- fr:
		default: // the writer fell behind; drop rather than block RTP
		}
	})
	defer s.SetSink(nil)
	drainDTMF(e)
	var deadline <-chan time.Time
	if spec.MaxSecs > 0 {
		t := time.NewTimer(time.Duration(spec.MaxSecs) * time.Second)
		defer t.Stop()
		deadline = t.C
	}
	det := &media.SilenceDetector{Threshold: spec.Threshold, Duration: time.Duration(spec.MaxSilence) * time.Second}
	var held [][]int16 // silent frames not yet written
	heldSamples := 0
	written := int64(0)
	flush := func(keep int) error {
		for _, fr := range held {
			if keep <= 0 {
				break
			}
			n := min(len(fr), keep)
			if err := w.Write(fr[:n]); err != nil {
				return err
			}
			written += int64(n)
			keep -= n
		}
		held, heldSamples = held[:0], 0
		return nil
	}
	rec := recording{}
	finish := func(end rune) recording {
		rec.End = end
		keep := heldSamples
		if end == recSilence {
			keep = media.SampleRate / 5 // 200 ms of the silence
		}
		err := flush(keep)
		if cerr := w.Close(); err == nil {
			err = cerr
		}
		if err == nil {
			err = f.Sync()
		}
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			e.Ch.Log().Warn("voicemail: recording not written", "file", f.Name(), "err", err)
			return recording{End: recError, Err: fmt.Errorf("voicemail: %w", err)}
		}
		rec.SoundDuration = int((written + media.SampleRate/2) / media.SampleRate)
		rec.Duration = rec.SoundDuration
		if end == recSilence {
			rec.Duration = rec.SoundDuration + spec.MaxSilence
		}
		return rec
	}
	for {
		select {
		case fr := <-frames:
			if spec.MaxSilence > 0 {
				done := det.Feed(fr)
				if det.Silence() > 0 { // a silent frame: held until speech resumes
					held = append(held, fr)
					heldSamples += len(fr)
					if done {
						return finish(recSilence)
					}
					continue
				}
			}
			err := flush(heldSamples)
			if err == nil {
				err = w.Write(fr)
			}
			if err != nil {
				e.Ch.Log().Warn("voicemail: recording write failed", "file", f.Name(), "err", err)
				f.Close()
				return recording{End: recError, Err: fmt.Errorf("voicemail: %w", err)}
			}
			written += int64(len(fr))
		case d := <-s.DTMF():
			switch {
			case strings.ContainsRune(spec.Accept, d.Digit):
				rec.Digit = d.Digit
				return finish(recAccept)
			case strings.ContainsRune(spec.Cancel, d.Digit):
				rec.Digit = d.Digit
				return finish(recCancel)
			}
		case <-deadline:
			return finish(recTimeout)
		case <-e.Ctx.Done():
			return finish(recHangup)
		}
	}
}
