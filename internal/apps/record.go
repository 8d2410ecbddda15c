package apps

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/entvoice/entvoice/internal/channel"
	"github.com/entvoice/entvoice/internal/media"
	"github.com/entvoice/entvoice/internal/pbx"
	"github.com/entvoice/entvoice/internal/tenancy"
)

// Echo plays back what the caller says until the caller presses '#' or
// hangs up (app_echo.c).
func Echo(e *pbx.Exec, _ string) error {
	s, err := earlyMedia(e)
	if err != nil {
		return channel.ErrHangup
	}
	s.SetSink(func(pcm []int16) { _ = s.WriteFrame(pcm) })
	defer s.SetSink(nil)
	for {
		select {
		case d := <-s.DTMF():
			if d.Digit == '#' {
				return nil
			}
		case <-e.Ctx.Done():
			return channel.ErrHangup
		}
	}
}

// Record(filename.format[,silence[,maxduration[,options]]]) records the
// caller to a WAV file and sets RECORD_STATUS (DTMF, SILENCE, SKIP,
// TIMEOUT, HANGUP, ERROR) and RECORDED_FILE (app_record.c). Options: a
// append, n do not answer, q no beep, s skip when not answered, t '*'
// terminates instead of '#', x no terminator, y any digit terminates, k
// keep the file on hangup (it is always kept). A relative filename is
// placed under the recordings directory.
func (ap *Apps) Record(e *pbx.Exec, data string) error {
	a := args(data)
	spec := arg(a, 0)
	silence, _ := strconv.Atoi(arg(a, 1))
	maxDur, _ := strconv.Atoi(arg(a, 2))
	opts := arg(a, 3)
	status := func(s string) error {
		e.Ch.SetVar("RECORD_STATUS", s)
		return nil
	}
	if !e.Ch.Allowed(tenancy.ServiceRecording) {
		// Hosted mode: the tenant's or user's recording service is off.
		e.Ch.Log().Warn("Record: recording is switched off for this tenant or user", "tenant", e.Ch.Tenant(), "endpoint", e.Ch.Endpoint)
		return status("ERROR")
	}
	dot := strings.LastIndexByte(spec, '.')
	if spec == "" || dot <= 0 {
		e.Ch.Log().Warn("Record requires an argument (filename.format)", "data", data)
		return status("ERROR")
	}
	base, format := spec[:dot], strings.ToLower(spec[dot+1:])
	if format != "wav" {
		e.Ch.Log().Warn("Record: only the wav format is supported", "format", format)
		return status("ERROR")
	}
	if !filepath.IsAbs(base) {
		base = filepath.Join(ap.svc.RecordingsDir, base)
	}
	if strings.Contains(base, "%d") {
		base = uniqueName(base)
	}
	if e.Ch.State() != channel.StateUp {
		if hasOption(opts, 's') {
			return status("SKIP")
		}
		if !hasOption(opts, 'n') {
			if err := e.Ch.Answer(e.Ctx); err != nil {
				return status("HANGUP")
			}
		}
	}
	terminators := "#"
	switch {
	case hasOption(opts, 'x'):
		terminators = ""
	case hasOption(opts, 'y'):
		terminators = allDigits
	case hasOption(opts, 't'):
		terminators = "*"
	}
	if !hasOption(opts, 'q') {
		if _, err := ap.streamFile(e, "beep", ""); err == channel.ErrHangup {
			return status("HANGUP")
		}
	}
	s := e.Ch.Media()
	if s == nil {
		return status("ERROR")
	}
	if err := os.MkdirAll(filepath.Dir(base), 0o755); err != nil {
		e.Ch.Log().Warn("Record: cannot create directory", "err", err)
		return status("ERROR")
	}
	path := base + ".wav"
	w, err := media.CreateWAV(path, hasOption(opts, 'a'))
	if err != nil {
		e.Ch.Log().Warn("Record: cannot create file", "file", path, "err", err)
		return status("ERROR")
	}
	e.Ch.SetVar("RECORDED_FILE", base)
	result := recordLoop(e, s, w, silence, maxDur, terminators)
	if err := w.Close(); err != nil {
		e.Ch.Log().Warn("Record: cannot finish file", "file", path, "err", err)
		return status("ERROR")
	}
	if result == "HANGUP" {
		status(result)
		return channel.ErrHangup
	}
	return status(result)
}

func recordLoop(e *pbx.Exec, s *media.Session, w *media.WAVFile, silence, maxDur int, terminators string) string {
	frames := make(chan []int16, 100)
	s.SetSink(func(pcm []int16) {
		f := make([]int16, len(pcm))
		copy(f, pcm)
		select {
		case frames <- f:
		default: // the writer fell behind; drop rather than block RTP
		}
	})
	defer s.SetSink(nil)
	drainDTMF(e)
	var det *media.SilenceDetector
	if silence > 0 {
		det = &media.SilenceDetector{Threshold: media.DefaultSilenceThreshold, Duration: time.Duration(silence) * time.Second}
	}
	var deadline <-chan time.Time
	if maxDur > 0 {
		t := time.NewTimer(time.Duration(maxDur) * time.Second)
		defer t.Stop()
		deadline = t.C
	}
	heard := false
	for {
		select {
		case f := <-frames:
			if err := w.Write(f); err != nil {
				e.Ch.Log().Warn("Record: write failed", "err", err)
				return "ERROR"
			}
			if det != nil {
				quiet := det.Feed(f)
				if !quiet && det.Silence() == 0 {
					heard = true
				}
				// Asterisk stops on silence only after the caller has
				// spoken or the silence lasted the whole window.
				if quiet && (heard || det.Silence() >= det.Duration) {
					return "SILENCE"
				}
			}
		case d := <-s.DTMF():
			if strings.ContainsRune(terminators, d.Digit) {
				return "DTMF"
			}
		case <-deadline:
			return "TIMEOUT"
		case <-e.Ctx.Done():
			return "HANGUP"
		}
	}
}

func uniqueName(pattern string) string {
	for i := 0; ; i++ {
		name := strings.Replace(pattern, "%d", strconv.Itoa(i), 1)
		if _, err := os.Stat(name + ".wav"); os.IsNotExist(err) {
			return name
		}
		if i > 100000 {
			return fmt.Sprintf(strings.Replace(pattern, "%d", "%d-%d", 1), i, time.Now().UnixNano())
		}
	}
}
