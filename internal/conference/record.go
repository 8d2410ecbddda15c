package conference

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/entvoice/entvoice/internal/channel"
	"github.com/entvoice/entvoice/internal/control"
	"github.com/entvoice/entvoice/internal/events"
	"github.com/entvoice/entvoice/internal/media"
	"github.com/entvoice/entvoice/internal/media/mixer"
)

// recording is the conference's mix being written to a WAV file.
type recording struct {
	path string
	file *media.WAVFile
	rec  *mixer.Recording
	ch   *channel.Channel // its CBRec channel, if any
}

// Recording reports whether the mix is being recorded, and where.
func (c *Conference) Recording() (path string, on bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.rec == nil {
		return "", false
	}
	return c.rec.path, true
}

// recordPath is set_rec_filename: record_file (relative to the
// recordings directory) with the time inserted before its extension when
// record_file_timestamp is on, or confbridge-<conference>-<time>.wav.
func (c *Conference) recordPath(file string, now time.Time) string {
	stamp := strconv.FormatInt(now.Unix(), 10)
	switch {
	case file == "":
		file = "confbridge-" + c.Name + "-" + stamp + ".wav"
	case c.Bridge.RecordFileTimestamp:
		if ext := filepath.Ext(file); ext != "" {
			file = strings.TrimSuffix(file, ext) + "-" + stamp + ext
		} else {
			file += "-" + stamp
		}
	}
	if filepath.Ext(file) == "" {
		file += ".wav"
	}
	if !filepath.IsAbs(file) {
		file = filepath.Join(c.svc.o.RecordingsDir, file)
	}
	return file
}

// startRecording records the mix to file ("" : the bridge profile's
// record_file) and publishes ConfbridgeRecord (conf_start_record). With
// record_file_append and the same name as the last recording, the file
// grows.
func (c *Conference) startRecording(file string) error {
	if err := c.openRecording(file); err != nil {
		return err
	}
	ch, err := c.recorderEnter()
	if err != nil {
		c.closeRecording(false)
		return err
	}
	c.mu.Lock()
	if c.rec != nil {
		c.rec.ch = ch
	}
	c.mu.Unlock()
	c.publish(events.ConfbridgeRecord, nil, events.Conference{})
	return nil
}

func (c *Conference) openRecording(file string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ended {
		return control.ErrNoConference
	}
	if c.rec != nil {
		return control.ErrRecording
	}
	if file == "" {
		file = c.Bridge.RecordFile
	}
	// With record_file_append, a recording restarted under the same
	// record_file continues the last file (set_rec_filename,
	// is_new_rec_file).
	path := c.lastRec.path
	if path == "" || !c.Bridge.RecordFileAppend || file != c.lastRec.file {
		path = c.recordPath(file, time.Now())
	}
	c.lastRec.path, c.lastRec.file = path, file
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("conference %s: record: %w", c.Name, err)
	}
	f, err := media.CreateWAV(path, c.Bridge.RecordFileAppend)
	if err != nil {
		return fmt.Errorf("conference %s: record: %w", c.Name, err)
	}
	rec, err := c.room.Record(f)
	if err != nil {
		f.Close()
		os.Remove(path)
		return fmt.Errorf("conference %s: record: %w", c.Name, err)
	}
	c.rec = &recording{path: path, file: f, rec: rec}
	return nil
}

// stopRecording ends the recording, if any (conf_stop_record):
// ConfbridgeStopRecord.
func (c *Conference) stopRecording() bool {
	return c.closeRecording(true)
}

// closeRecording ends the recording; with announce, ConfbridgeStopRecord
// and its CBRec channel's leaving.
func (c *Conference) closeRecording(announce bool) bool {
	c.mu.Lock()
	r := c.rec
	c.rec = nil
	c.mu.Unlock()
	if r == nil {
		return false
	}
	err := r.rec.Stop()
	if cerr := r.file.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		c.svc.log.Warn("ConfBridge: recording incomplete", "conference", c.Name, "file", r.path, "err", err)
	}
	if n := r.rec.Dropped(); n > 0 {
		c.svc.log.Warn("ConfBridge: recording lost frames (disk too slow)", "conference", c.Name, "frames", n)
	}
	if announce {
		c.publish(events.ConfbridgeStopRecord, nil, events.Conference{})
	}
	c.recorderLeave(r.ch)
	return true
}
