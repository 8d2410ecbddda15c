package agi

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/entvoice/entvoice/internal/channel"
	"github.com/entvoice/entvoice/internal/media"
	"github.com/entvoice/entvoice/internal/prompts"
	"github.com/entvoice/entvoice/internal/q850"
)

// errNoFile is a sound file that does not exist (ast_openstream fails).
var errNoFile = errors.New("sound file not found")

// errNoMedia is a channel without an RTP session.
var errNoMedia = errors.New("channel has no media")

// answer is ast_answer followed by the wait for media __ast_answer does
// (at most 500 ms): the AGI reply comes once audio flows.
func (s *session) answer() error {
	if err := s.e.Ch.Answer(s.e.Ctx); err != nil {
		return err
	}
	m := s.e.Ch.Media()
	if m == nil {
		return nil
	}
	t := time.NewTimer(500 * time.Millisecond)
	defer t.Stop()
	select {
	case <-m.MediaStarted():
	case <-t.C:
	case <-s.e.Ctx.Done():
		return channel.ErrHangup
	}
	return nil
}

// mediaSession returns the channel's RTP session; an unanswered channel
// gets 183 early media first, as chan_pjsip does when audio is written.
func (s *session) mediaSession() (*media.Session, error) {
	if s.e.Ch.IsHungUp() {
		return nil, channel.ErrHangup
	}
	if s.e.Ch.State() != channel.StateUp {
		_ = s.e.Ch.Indicate(channel.IndicateProgress)
	}
	m := s.e.Ch.Media()
	if m == nil {
		return nil, errNoMedia
	}
	return m, nil
}

// open finds a sound by name in the channel's language.
func (s *session) open(name string) (media.PCMSource, error) {
	src, err := s.a.opts.Sounds.Open(name, s.e.Ch.Language())
	if err != nil {
		if !errors.Is(err, prompts.ErrNoSound) {
			s.log.Warn("cannot open sound file", "sound", name, "err", err)
		}
		return nil, errNoFile
	}
	return src, nil
}

// stream plays a sound from sample offset until its end or an escape
// digit (ast_waitstream_full: other digits are read and dropped). endpos
// is where playback stopped, in samples: the file's length when it played
// to the end.
func (s *session) stream(name, escape string, offset int64) (rune, int64, error) {
	src, err := s.open(name)
	if err != nil {
		return 0, offset, err
	}
	if offset > 0 {
		if _, err := src.Seek(offset, io.SeekStart); err != nil {
			return 0, offset, errNoFile
		}
	}
	d, err := s.play(src, escape)
	if err == nil && d == 0 {
		return 0, src.Len(), nil
	}
	return d, src.Pos(), err
}

// play sends src, returning the escape digit pressed (0: none).
func (s *session) play(src media.PCMSource, escape string) (rune, error) {
	m, err := s.mediaSession()
	if err != nil {
		return 0, err
	}
	ctx, cancel := context.WithCancel(s.e.Ctx)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- m.Play(ctx, src) }()
	for {
		select {
		case err := <-done:
			if s.e.Ch.IsHungUp() {
				return 0, channel.ErrHangup
			}
			if err != nil && !errors.Is(err, context.Canceled) {
				return 0, err
			}
			return 0, nil
		case d, ok := <-m.DTMF():
			if !ok {
				cancel()
				<-done
				return 0, channel.ErrHangup
			}
			if escape != "" && strings.ContainsRune(escape, d.Digit) {
				cancel()
				<-done
				return d.Digit, nil
			}
		case <-s.e.Ctx.Done():
			cancel()
			<-done
			return 0, channel.ErrHangup
		}
	}
}

// waitDigit is ast_waitfordigit_full: any digit, 0 after ms
// milliseconds (negative: no limit), an error on hangup.
func (s *session) waitDigit(ms int) (rune, error) {
	if s.e.Ch.IsHungUp() {
		return 0, channel.ErrHangup
	}
	m := s.e.Ch.Media()
	if m == nil {
		return 0, errNoMedia
	}
	var timeout <-chan time.Time
	if ms >= 0 {
		t := time.NewTimer(time.Duration(ms) * time.Millisecond)
		defer t.Stop()
		timeout = t.C
	}
	select {
	case d, ok := <-m.DTMF():
		if !ok {
			return 0, channel.ErrHangup
		}
		return d.Digit, nil
	case <-timeout:
		return 0, nil
	case <-s.e.Ctx.Done():
		return 0, channel.ErrHangup
	}
}

// Results of ast_readstring_full (AST_GETDATA_*).
const (
	getDataFailed   = -1
	getDataComplete = 0
	getDataTimeout  = 1
	getDataEmptyEnd = 3
)

// getData is ast_app_getdata_full: play the prompt, read up to max digits
// ended by '#', 6 s for the first digit and 2 s between digits unless a
// timeout is given (a negative one waits forever).
func (s *session) getData(prompt string, max, timeout int) (string, int) {
	first, next := 6000, 2000
	if timeout > 0 {
		first, next = timeout, timeout
	} else if timeout < 0 {
		first, next = -1, -1
	}
	if max > 1023 {
		max = 1023 // res_agi.c's 1024-byte buffer
	}
	var src media.PCMSource
	if prompt != "" {
		var err error
		if src, err = s.open(prompt); err != nil {
			return "", getDataFailed
		}
	}
	if s.e.Ch.IsHungUp() || max <= 0 {
		return "", getDataFailed
	}
	var b strings.Builder
	to := first
	for {
		var d rune
		var err error
		if src != nil {
			d, err = s.play(src, allDigits)
			src = nil
			if err == nil && d == 0 {
				d, err = s.waitDigit(to)
			}
		} else {
			d, err = s.waitDigit(to)
		}
		if err != nil {
			return b.String(), getDataFailed
		}
		if d == 0 {
			return b.String(), getDataTimeout
		}
		if d == '#' && b.Len() == 0 {
			return "", getDataEmptyEnd
		}
		if d != '#' {
			b.WriteRune(d)
		}
		if d == '#' || b.Len() >= max {
			return b.String(), getDataComplete
		}
		to = next
	}
}

const allDigits = "0123456789*#ABCD"

// cmdControlStreamFile is handle_controlstreamfile over app.c's
// control_streamfile: fwd/rev keys skip skipms, the pause key pauses and
// resumes, a stop key ends playback; endpos is in milliseconds, -1 when
// the file played to its end.
func cmdControlStreamFile(s *session, argv []string) cmdResult {
	if len(argv) < 5 || len(argv) > 10 {
		return resultShowUsage
	}
	stop := argv[4]
	skipms := 3000
	if len(argv) > 5 {
		n, ok := scanInt(argv[5])
		if !ok {
			return resultShowUsage
		}
		skipms = n
	}
	fwd, rev, pause := "#", "*", ""
	if len(argv) > 6 && argv[6] != "" {
		fwd = argv[6]
	}
	if len(argv) > 7 && argv[7] != "" {
		rev = argv[7]
	}
	if len(argv) > 8 && argv[8] != "" {
		pause = argv[8]
	}
	var offsetms int64
	if len(argv) > 9 {
		n, ok := scanInt(argv[9])
		if !ok {
			return resultShowUsage
		}
		offsetms = int64(n)
	}
	res, endms := s.controlStream(argv[3], fwd, rev, stop, pause, skipms, offsetms)
	switch {
	case res > 0 && stop != "" && strings.ContainsRune(stop, rune(res)):
		s.e.Ch.SetVar("CPLAYBACKSTATUS", "USERSTOPPED")
		s.e.Ch.SetVar("CPLAYBACKSTOPKEY", string(rune(res)))
	case res < 0:
		s.e.Ch.SetVar("CPLAYBACKSTATUS", "ERROR")
	default:
		s.e.Ch.SetVar("CPLAYBACKSTATUS", "SUCCESS")
	}
	off := strconv.FormatInt(endms, 10)
	s.e.Ch.SetVar("CPLAYBACKOFFSET", off)
	s.replyInt(res, "endpos="+off)
	if res < 0 {
		return resultFailure
	}
	return resultSuccess
}

func (s *session) controlStream(name, fwd, rev, stop, pause string, skipms int, offsetms int64) (int, int64) {
	src, err := s.open(name)
	if err != nil {
		return -1, -1
	}
	if offsetms > 0 {
		_, _ = src.Seek(offsetms*8, io.SeekStart)
	}
	skip := int64(skipms) * 8
	keys := fwd + rev + stop + pause
	for {
		d, err := s.play(src, keys)
		if err != nil {
			return -1, src.Pos() / 8
		}
		if d == 0 {
			return 0, -1
		}
		switch {
		case stop != "" && strings.ContainsRune(stop, d):
			return int(d), src.Pos() / 8
		case pause != "" && strings.ContainsRune(pause, d):
			for {
				k, err := s.waitDigit(1000)
				if err != nil {
					return -1, src.Pos() / 8
				}
				if k == 0 {
					continue
				}
				if strings.ContainsRune(pause, k) {
					break
				}
				if stop != "" && strings.ContainsRune(stop, k) {
					return int(k), src.Pos() / 8
				}
			}
		case strings.ContainsRune(fwd, d):
			pos := min(src.Pos()+skip, src.Len())
			_, _ = src.Seek(pos, io.SeekStart)
		case strings.ContainsRune(rev, d):
			_, _ = src.Seek(max(src.Pos()-skip, 0), io.SeekStart)
		}
	}
}

// setAutoHangup schedules a hangup (ast_channel_setwhentohangup_tv); 0
// cancels one. It outlives the session, as a channel property does.
func (s *session) setAutoHangup(d time.Duration) {
	ch := s.e.Ch
	if s.autoHangup != nil {
		s.autoHangup.Stop()
		s.autoHangup = nil
	}
	if d <= 0 {
		return
	}
	s.autoHangup = time.AfterFunc(d, func() {
		ch.Log().Info("AGI autohangup: time is up")
		ch.Hangup(q850.NormalClearing)
	})
}

// EAGI: the caller's audio, 8 kHz signed linear little-endian, goes to the
// script's fd 3. Frames are queued and written by one goroutine so a
// script that does not read never blocks RTP; a full queue drops audio, as
// Asterisk's non-blocking pipe write does.
func (s *session) startEAGI() {
	if s.t.audio == nil {
		return
	}
	s.eagi = make(chan []int16, 50)
	s.eagiStop = make(chan struct{})
	s.eagiEnd = make(chan struct{})
	go func(w *os.File, in <-chan []int16, stop <-chan struct{}, end chan<- struct{}) {
		defer close(end)
		buf := make([]byte, 0, 2*media.FrameSamples)
		for {
			select {
			case pcm := <-in:
				buf = buf[:0]
				for _, v := range pcm {
					buf = binary.LittleEndian.AppendUint16(buf, uint16(v))
				}
				if _, err := w.Write(buf); err != nil {
					return
				}
			case <-stop:
				return
			}
		}
	}(s.t.audio, s.eagi, s.eagiStop, s.eagiEnd)
	s.restoreEAGISink()
}

// restoreEAGISink (re)installs the EAGI tap: applications run by EXEC or
// RECORD FILE take the sink over and clear it when they end.
func (s *session) restoreEAGISink() {
	m := s.e.Ch.Media()
	if m == nil || s.eagi == nil {
		return
	}
	q := s.eagi
	m.SetSink(func(pcm []int16) {
		f := make([]int16, len(pcm))
		copy(f, pcm)
		select {
		case q <- f:
		default:
		}
	})
}

func (s *session) stopEAGI() {
	if s.eagi == nil {
		return
	}
	if m := s.e.Ch.Media(); m != nil {
		m.SetSink(nil)
	}
	// The queue is never closed (a late sink call may still send to it);
	// closing our end of the pipe unblocks a write the script is not
	// reading.
	close(s.eagiStop)
	s.t.audio.Close()
	<-s.eagiEnd
	s.eagi = nil
}

// recordingPath places a relative RECORD FILE name under the recordings
// directory (Asterisk: under its sounds directory).
func (s *session) recordingPath(name string) string {
	if filepath.IsAbs(name) {
		return name
	}
	return filepath.Join(s.a.opts.RecordingsDir, name)
}
