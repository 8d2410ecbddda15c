package media

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"

	"github.com/zaf/g711"
)

// WAVE format tags (RFC 2361).
const (
	wavePCM        = 0x0001
	waveALaw       = 0x0006
	waveMuLaw      = 0x0007
	waveExtensible = 0xFFFE
)

// maxWAVData bounds the audio data ReadWAV accepts (about 35 minutes of
// 48 kHz stereo 16-bit) so a hostile header cannot exhaust memory.
const maxWAVData = 400 << 20

// ErrBadWAV wraps every format error from ReadWAV.
var ErrBadWAV = errors.New("media: bad WAV file")

func badWAV(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrBadWAV, fmt.Sprintf(format, args...))
}

type wavFormat struct {
	tag        uint16
	channels   int
	rate       int
	blockAlign int
	bits       int
}

// ReadWAV reads a RIFF WAVE file and returns 8 kHz mono linear PCM. It
// accepts PCM 16-bit and 8-bit (unsigned) at any sample rate, mono or
// multi-channel (averaged to mono), resampled with Resample; and G.711
// mu-law/A-law at 8 kHz. Chunks other than fmt and data (LIST, fact, ...)
// are skipped. Malformed input returns an error wrapping ErrBadWAV.
func ReadWAV(r io.Reader) ([]int16, error) {
	var hdr [12]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return nil, badWAV("short RIFF header: %v", err)
	}
	if string(hdr[0:4]) != "RIFF" || string(hdr[8:12]) != "WAVE" {
		return nil, badWAV("not a RIFF WAVE file")
	}
	var f *wavFormat
	for {
		var ch [8]byte
		if _, err := io.ReadFull(r, ch[:]); err != nil {
			return nil, badWAV("no data chunk: %v", err)
		}
		id := string(ch[0:4])
		size := int64(binary.LittleEndian.Uint32(ch[4:8]))
		switch id {
		case "fmt ":
			if size < 16 || size > 1024 {
				return nil, badWAV("fmt chunk size %d", size)
			}
			b := make([]byte, size+size%2)
			if _, err := io.ReadFull(r, b); err != nil {
				return nil, badWAV("short fmt chunk: %v", err)
			}
			pf, err := parseFmt(b[:size])
			if err != nil {
				return nil, err
			}
			f = pf
		case "data":
			if f == nil {
				return nil, badWAV("data chunk before fmt chunk")
			}
			// Streaming writers leave the size at 0 or 0xFFFFFFFF: read to EOF.
			limit := size
			if size == 0 || size == math.MaxUint32 || size > maxWAVData {
				limit = maxWAVData
			}
			data, err := io.ReadAll(io.LimitReader(r, limit))
			if err != nil {
				return nil, badWAV("reading data: %v", err)
			}
			return decodeWAVData(f, data)
		default:
			// Skip LIST, fact, cue, ... (chunks are padded to even sizes).
			if _, err := io.CopyN(io.Discard, r, size+size%2); err != nil {
				return nil, badWAV("short %q chunk: %v", id, err)
			}
		}
	}
}

func parseFmt(b []byte) (*wavFormat, error) {
	f := &wavFormat{
		tag:        binary.LittleEndian.Uint16(b[0:2]),
		channels:   int(binary.LittleEndian.Uint16(b[2:4])),
		rate:       int(binary.LittleEndian.Uint32(b[4:8])),
		blockAlign: int(binary.LittleEndian.Uint16(b[12:14])),
		bits:       int(binary.LittleEndian.Uint16(b[14:16])),
	}
	if f.tag == waveExtensible {
		// WAVEFORMATEXTENSIBLE: the sub-format GUID starts with the tag.
		if len(b) < 26 {
			return nil, badWAV("short WAVE_FORMAT_EXTENSIBLE")
		}
		f.tag = binary.LittleEndian.Uint16(b[24:26])
	}
	if f.channels < 1 || f.channels > 8 {
		return nil, badWAV("%d channels", f.channels)
	}
	if f.rate < 1000 || f.rate > 384000 {
		return nil, badWAV("sample rate %d", f.rate)
	}
	switch f.tag {
	case wavePCM:
		if f.bits != 8 && f.bits != 16 {
			return nil, badWAV("%d-bit PCM not supported (8 or 16)", f.bits)
		}
	case waveMuLaw, waveALaw:
		if f.bits != 8 {
			return nil, badWAV("%d-bit G.711", f.bits)
		}
		if f.rate != SampleRate {
			return nil, badWAV("G.711 WAV at %d Hz (need 8000)", f.rate)
		}
	default:
		return nil, badWAV("format tag %#x not supported", f.tag)
	}
	if f.blockAlign != f.channels*f.bits/8 {
		return nil, badWAV("block align %d for %d channels of %d bits", f.blockAlign, f.channels, f.bits)
	}
	return f, nil
}

func decodeWAVData(f *wavFormat, data []byte) ([]int16, error) {
	frames := len(data) / f.blockAlign // a trailing partial frame is dropped
	out := make([]int16, frames)
	bps := f.bits / 8
	for i := range frames {
		var sum int
		for c := range f.channels {
			off := i*f.blockAlign + c*bps
			var v int16
			switch {
			case f.tag == waveMuLaw:
				v = g711.DecodeUlawFrame(data[off])
			case f.tag == waveALaw:
				v = g711.DecodeAlawFrame(data[off])
			case bps == 1:
				v = int16(int(data[off])-128) << 8
			default:
				v = int16(binary.LittleEndian.Uint16(data[off:]))
			}
			sum += int(v)
		}
		out[i] = int16(sum / f.channels)
	}
	if f.rate != SampleRate {
		out = Resample(out, f.rate, SampleRate)
	}
	return out, nil
}

// WAVWriter writes 8 kHz 16-bit mono PCM WAV. The header's sizes are
// written as 0 at first and fixed by Close, so w must be seekable.
type WAVWriter struct {
	w       io.WriteSeeker
	samples int64
	buf     []byte
	closed  bool
}

// NewWAVWriter writes a provisional header to w.
func NewWAVWriter(w io.WriteSeeker) (*WAVWriter, error) {
	ww := &WAVWriter{w: w}
	if _, err := w.Write(ww.header(0)); err != nil {
		return nil, fmt.Errorf("media: write WAV header: %w", err)
	}
	return ww, nil
}

func (ww *WAVWriter) header(dataBytes uint32) []byte {
	h := make([]byte, 44)
	copy(h[0:], "RIFF")
	binary.LittleEndian.PutUint32(h[4:], 36+dataBytes)
	copy(h[8:], "WAVEfmt ")
	binary.LittleEndian.PutUint32(h[16:], 16)
	binary.LittleEndian.PutUint16(h[20:], wavePCM)
	binary.LittleEndian.PutUint16(h[22:], 1)
	binary.LittleEndian.PutUint32(h[24:], SampleRate)
	binary.LittleEndian.PutUint32(h[28:], SampleRate*2)
	binary.LittleEndian.PutUint16(h[32:], 2)
	binary.LittleEndian.PutUint16(h[34:], 16)
	copy(h[36:], "data")
	binary.LittleEndian.PutUint32(h[40:], dataBytes)
	return h
}

// Write appends samples.
func (ww *WAVWriter) Write(pcm []int16) error {
	if ww.closed {
		return errors.New("media: WAV writer closed")
	}
	need := len(pcm) * 2
	if cap(ww.buf) < need {
		ww.buf = make([]byte, need)
	}
	b := ww.buf[:need]
	for i, s := range pcm {
		binary.LittleEndian.PutUint16(b[2*i:], uint16(s))
	}
	if _, err := ww.w.Write(b); err != nil {
		return fmt.Errorf("media: write WAV data: %w", err)
	}
	ww.samples += int64(len(pcm))
	return nil
}

// Samples returns how many samples were written.
func (ww *WAVWriter) Samples() int64 { return ww.samples }

// Close rewrites the header with the final sizes and leaves the writer
// positioned at the end. It does not close w.
func (ww *WAVWriter) Close() error {
	if ww.closed {
		return nil
	}
	ww.closed = true
	data := ww.samples * 2
	if data > math.MaxUint32-36 {
		data = math.MaxUint32 - 36
	}
	if _, err := ww.w.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("media: seek WAV header: %w", err)
	}
	if _, err := ww.w.Write(ww.header(uint32(data))); err != nil {
		return fmt.Errorf("media: rewrite WAV header: %w", err)
	}
	if _, err := ww.w.Seek(0, io.SeekEnd); err != nil {
		return fmt.Errorf("media: seek WAV end: %w", err)
	}
	return nil
}
