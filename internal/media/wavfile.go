package media

import (
	"fmt"
	"os"
)

// WAVFile is a WAV file being written (a recording).
type WAVFile struct {
	f *os.File
	w *WAVWriter
}

// CreateWAV creates path for writing 8 kHz 16-bit mono WAV. With
// appendTo, the samples already in the file are kept and new ones follow
// them (Record's a option, ConfBridge's record_file_append).
func CreateWAV(path string, appendTo bool) (*WAVFile, error) {
	var old []int16
	if appendTo {
		if f, err := os.Open(path); err == nil {
			old, err = ReadWAV(f)
			f.Close()
			if err != nil {
				return nil, fmt.Errorf("append to %s: %w", path, err)
			}
		}
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	ww, err := NewWAVWriter(f)
	if err != nil {
		f.Close()
		return nil, err
	}
	wf := &WAVFile{f: f, w: ww}
	if len(old) > 0 {
		if err := wf.Write(old); err != nil {
			wf.Close()
			return nil, err
		}
	}
	return wf, nil
}

// Write appends samples.
func (wf *WAVFile) Write(pcm []int16) error { return wf.w.Write(pcm) }

// Close fixes the header's sizes and closes the file.
func (wf *WAVFile) Close() error {
	err := wf.w.Close()
	if cerr := wf.f.Close(); err == nil {
		err = cerr
	}
	return err
}
