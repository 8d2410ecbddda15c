package agi

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/entvoice/entvoice/internal/media"
)

// cmdRecordFile is handle_recordfile:
//
//	RECORD FILE <file> <format> <escape digits> <timeout ms|-1> [offset samples] [BEEP] [s=silence seconds]
//
// It replies "200 result=<digit> (dtmf) endpos=<n>" on an escape digit
// (the last 200 ms, the key press, are cut), "200 result=<n> (timeout)
// endpos=<n>" when the time is up or after silence (the silence beyond
// the last second is cut), "200 result=-1 (hangup) endpos=<n>" on hangup,
// "(randomerror)" when the beep was interrupted and "(writefile)" when the
// file cannot be written. endpos counts the samples in the file.
func cmdRecordFile(s *session, argv []string) cmdResult {
	if len(argv) < 6 {
		return resultShowUsage
	}
	ms, ok := scanInt(argv[5])
	if !ok {
		return resultShowUsage
	}
	escape := argv[4]
	silence := 0
	for i := 6; i <= 8 && i < len(argv); i++ {
		if j := strings.IndexByte(argv[i], 's'); j >= 0 {
			v := argv[i][j:]
			if len(v) > 2 && strings.HasPrefix(v, "s=") {
				if n := atoi(v[2:]); n > 0 {
					silence = n * 1000
				}
			}
			break
		}
	}
	var offset int64
	beep := false
	if len(argv) > 6 {
		if n, ok := scanInt(argv[6]); ok {
			offset = int64(n)
		} else if !strings.HasPrefix(argv[6], "s=") {
			beep = true
		}
	}
	if len(argv) > 7 && !strings.HasPrefix(argv[7], "s=") {
		beep = true
	}
	var res int
	if beep {
		d, _, err := s.stream("beep", escape, 0)
		switch {
		case err == errNoFile:
			res = -1
		case err != nil:
			res = -1
		default:
			res = int(d)
		}
	}
	if res != 0 {
		s.replyInt(res, "(randomerror)", "endpos="+strconv.FormatInt(offset, 10))
		return resultSuccess
	}
	format := strings.ToLower(argv[3])
	if format != "wav" && format != "wav16" {
		s.log.Warn("RECORD FILE: unsupported format", "format", argv[3])
		s.reply("-1", "(writefile)")
		return resultFailure
	}
	path := s.recordingPath(argv[2]) + ".wav"
	rec, err := openRecording(path, offset)
	if err != nil {
		s.log.Warn("RECORD FILE: cannot write file", "file", path, "err", err)
		s.reply("-1", "(writefile)")
		return resultFailure
	}
	m, err := s.mediaSession()
	if err != nil {
		rec.close(0)
		s.reply("-1", "(hangup)", "endpos="+strconv.FormatInt(rec.samples(), 10))
		return resultFailure
	}
	kind, val := s.recordLoop(m, rec, escape, ms, silence)
	switch kind {
	case "dtmf":
		// ast_stream_rewind(fs, 200): drop the key press.
		endpos := rec.close(200 * 8)
		s.replyInt(val, "(dtmf)", "endpos="+strconv.FormatInt(endpos, 10))
		return resultSuccess
	case "hangup":
		endpos := rec.close(0)
		s.reply("-1", "(hangup)", "endpos="+strconv.FormatInt(endpos, 10))
		return resultFailure
	case "silence":
		endpos := rec.close(int64(silence-1000) * 8)
		s.replyInt(val, "(timeout)", "endpos="+strconv.FormatInt(endpos, 10))
		return resultSuccess
	}
	endpos := rec.close(0)
	s.replyInt(val, "(timeout)", "endpos="+strconv.FormatInt(endpos, 10))
	return resultSuccess
}

// recordLoop reads the caller's audio into rec. val is the digit for
// "dtmf", and for "timeout"/"silence" what Asterisk reports there: the
// milliseconds left in the ast_waitfor call that delivered the last frame.
func (s *session) recordLoop(m *media.Session, rec *recording, escape string, ms, silence int) (kind string, val int) {
	frames := make(chan []int16, 100)
	m.SetSink(func(pcm []int16) {
		f := make([]int16, len(pcm))
		copy(f, pcm)
		select {
		case frames <- f:
		default:
		}
	})
	defer m.SetSink(nil)
	var det *media.SilenceDetector
	if silence > 0 {
		det = &media.SilenceDetector{Threshold: media.DefaultSilenceThreshold, Duration: time.Duration(silence) * time.Millisecond}
	}
	start := time.Now()
	var deadline <-chan time.Time
	if ms >= 0 {
		t := time.NewTimer(time.Duration(ms) * time.Millisecond)
		defer t.Stop()
		deadline = t.C
	}
	left := 0
	for {
		select {
		case f := <-frames:
			if ms >= 0 {
				left = max(0, ms-int(time.Since(start).Milliseconds()))
			}
			if err := rec.write(f); err != nil {
				s.log.Warn("RECORD FILE: write failed", "err", err)
				return "timeout", left
			}
			if det != nil && det.Feed(f) && det.Silence() > det.Duration {
				return "silence", left
			}
		case d, ok := <-m.DTMF():
			if !ok {
				return "hangup", -1
			}
			if strings.ContainsRune(escape, d.Digit) {
				return "dtmf", int(d.Digit)
			}
		case <-deadline:
			return "timeout", left
		case <-s.e.Ctx.Done():
			return "hangup", -1
		}
	}
}

// recording writes a WAV file through a delay line, so that the end can be
// cut (the key press, trailing silence) without rewriting the file.
type recording struct {
	f       *os.File
	w       *media.WAVWriter
	pending []int16 // the newest samples, not written yet
	hold    int
	err     error
}

// recordHold is how many samples stay in the delay line: enough to cut
// the longest tail RECORD FILE cuts (silence windows up to a minute).
const recordHold = 60 * 8000

func openRecording(path string, offset int64) (*recording, error) {
	var keep []int16
	if offset > 0 {
		// O_APPEND + seek to offset + truncate: keep the first offset
		// samples of an existing file.
		if f, err := os.Open(path); err == nil {
			old, err := media.ReadWAV(f)
			f.Close()
			if err == nil {
				keep = old[:min(int64(len(old)), offset)]
			}
		}
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, err
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	w, err := media.NewWAVWriter(f)
	if err != nil {
		f.Close()
		return nil, err
	}
	r := &recording{f: f, w: w, hold: recordHold}
	if len(keep) > 0 {
		if err := w.Write(keep); err != nil {
			f.Close()
			return nil, err
		}
	}
	return r, nil
}

func (r *recording) write(pcm []int16) error {
	r.pending = append(r.pending, pcm...)
	if over := len(r.pending) - r.hold; over > 8000 {
		if err := r.w.Write(r.pending[:over]); err != nil {
			r.err = err
			return err
		}
		r.pending = append(r.pending[:0], r.pending[over:]...)
	}
	return nil
}

func (r *recording) samples() int64 { return r.w.Samples() + int64(len(r.pending)) }

// close drops cut samples from the end, writes the rest and returns the
// file's length in samples.
func (r *recording) close(cut int64) int64 {
	n := int64(len(r.pending)) - max(cut, 0)
	if n < 0 {
		n = 0
	}
	if n > 0 && r.err == nil {
		r.err = r.w.Write(r.pending[:n])
	}
	r.pending = nil
	if err := r.w.Close(); err != nil && r.err == nil {
		r.err = err
	}
	r.f.Close()
	return r.w.Samples()
}
