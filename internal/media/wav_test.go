package media

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// makeWAV builds a WAV file by hand (not with WAVWriter) so ReadWAV is
// tested against an independent encoder. extra chunks go before data.
func makeWAV(tag uint16, channels, rate, bits int, data []byte, extra ...[]byte) []byte {
	var fmtc bytes.Buffer
	w := func(v any) { _ = binary.Write(&fmtc, binary.LittleEndian, v) }
	w(tag)
	w(uint16(channels))
	w(uint32(rate))
	w(uint32(rate * channels * bits / 8))
	w(uint16(channels * bits / 8))
	w(uint16(bits))
	var body bytes.Buffer
	body.WriteString("WAVE")
	chunk := func(id string, b []byte) {
		body.WriteString(id)
		_ = binary.Write(&body, binary.LittleEndian, uint32(len(b)))
		body.Write(b)
		if len(b)%2 == 1 {
			body.WriteByte(0)
		}
	}
	chunk("fmt ", fmtc.Bytes())
	for _, e := range extra {
		chunk(string(e[:4]), e[4:])
	}
	chunk("data", data)
	var out bytes.Buffer
	out.WriteString("RIFF")
	_ = binary.Write(&out, binary.LittleEndian, uint32(body.Len()))
	out.Write(body.Bytes())
	return out.Bytes()
}

func le16(pcm []int16) []byte {
	b := make([]byte, 2*len(pcm))
	for i, s := range pcm {
		binary.LittleEndian.PutUint16(b[2*i:], uint16(s))
	}
	return b
}

func TestReadWAVFormats(t *testing.T) {
	src := tone(440, 10000, 800, SampleRate)
	t.Run("16-bit mono with LIST and fact chunks", func(t *testing.T) {
		got, err := ReadWAV(bytes.NewReader(makeWAV(1, 1, 8000, 16, le16(src), []byte("LISTodd"), []byte("fact\x20\x03\x00\x00"))))
		if err != nil {
			t.Fatal(err)
		}
		if !slicesEqual(got, src) {
			t.Error("samples differ")
		}
	})
	t.Run("stereo downmix", func(t *testing.T) {
		st := make([]int16, 2*len(src))
		for i, s := range src {
			st[2*i], st[2*i+1] = s, -s/2 // average = s/4
		}
		got, err := ReadWAV(bytes.NewReader(makeWAV(1, 2, 8000, 16, le16(st))))
		if err != nil {
			t.Fatal(err)
		}
		for i := range src {
			want := (int(src[i]) + int(-src[i]/2)) / 2
			if int(got[i]) != want {
				t.Fatalf("sample %d: %d want %d", i, got[i], want)
			}
		}
	})
	t.Run("8-bit unsigned", func(t *testing.T) {
		b := make([]byte, len(src))
		for i, s := range src {
			b[i] = byte(int(s>>8) + 128)
		}
		got, err := ReadWAV(bytes.NewReader(makeWAV(1, 1, 8000, 8, b)))
		if err != nil {
			t.Fatal(err)
		}
		if p := DetectTone(got, SampleRate, 440); p < 0.95 {
			t.Errorf("440 Hz power %.3f", p)
		}
	})
	for _, c := range []struct {
		tag   uint16
		codec Codec
	}{{7, PCMU}, {6, PCMA}} {
		t.Run(c.codec.Name, func(t *testing.T) {
			b := make([]byte, len(src))
			Encode(c.codec, b, src)
			got, err := ReadWAV(bytes.NewReader(makeWAV(c.tag, 1, 8000, 8, b)))
			if err != nil {
				t.Fatal(err)
			}
			want := make([]int16, len(b))
			Decode(c.codec, want, b)
			if !slicesEqual(got, want) {
				t.Error("G.711 WAV decoded differently")
			}
		})
	}
}

func slicesEqual(a, b []int16) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestReadWAVResamples: a 16 kHz (and 44.1 kHz) file plays as 8 kHz with
// the same duration and pitch, and content above 4 kHz is filtered out.
func TestReadWAVResamples(t *testing.T) {
	for _, rate := range []int{16000, 44100, 48000, 11025} {
		in := tone(1000, 10000, rate, rate) // 1 s
		got, err := ReadWAV(bytes.NewReader(makeWAV(1, 1, rate, 16, le16(in))))
		if err != nil {
			t.Fatal(err)
		}
		if d := len(got) - SampleRate; d < -1 || d > 1 {
			t.Errorf("%d Hz: %d samples, want 8000", rate, len(got))
		}
		mid := got[400 : len(got)-400]
		if p := DetectTone(mid, SampleRate, 1000); p < 0.95 {
			t.Errorf("%d Hz: 1 kHz power %.3f", rate, p)
		}
		if p := DetectTone(mid, SampleRate, 2000); p > 0.01 {
			t.Errorf("%d Hz: pitch moved, 2 kHz power %.3f", rate, p)
		}
		if rms := Energy(mid); rms < 10000/1.414*0.95 || rms > 10000/1.414*1.05 {
			t.Errorf("%d Hz: RMS %.0f changed", rate, rms)
		}
	}
	// A 6 kHz tone at 16 kHz cannot be represented at 8 kHz: the low-pass
	// must remove it instead of aliasing it to 2 kHz.
	in := tone(6000, 10000, 16000, 16000)
	got, err := ReadWAV(bytes.NewReader(makeWAV(1, 1, 16000, 16, le16(in))))
	if err != nil {
		t.Fatal(err)
	}
	if rms := Energy(got[400 : len(got)-400]); rms > 300 {
		t.Errorf("6 kHz leaked through the resampler: RMS %.0f", rms)
	}
}

func TestReadWAVErrors(t *testing.T) {
	good := makeWAV(1, 1, 8000, 16, le16(make([]int16, 10)))
	cases := map[string][]byte{
		"empty":       nil,
		"not riff":    []byte("RIFX....WAVEfmt "),
		"truncated":   good[:30],
		"no data":     good[:36],
		"float":       makeWAV(3, 1, 8000, 32, make([]byte, 8)),
		"24-bit":      makeWAV(1, 1, 8000, 24, make([]byte, 6)),
		"0 channels":  makeWAV(1, 0, 8000, 16, make([]byte, 4)),
		"rate 0":      makeWAV(1, 1, 0, 16, make([]byte, 4)),
		"ulaw 16k":    makeWAV(7, 1, 16000, 8, make([]byte, 4)),
		"data first":  append([]byte("RIFF\x10\x00\x00\x00WAVEdata\x00\x00\x00\x00"), good[12:]...),
		"huge fmt":    []byte("RIFF\x10\x00\x00\x00WAVEfmt \xff\xff\xff\x7f"),
		"short chunk": []byte("RIFF\x10\x00\x00\x00WAVELIST\xff\xff\x00\x00abc"),
	}
	for name, b := range cases {
		if _, err := ReadWAV(bytes.NewReader(b)); !errors.Is(err, ErrBadWAV) {
			t.Errorf("%s: err %v", name, err)
		}
	}
}

func FuzzReadWAV(f *testing.F) {
	f.Add(makeWAV(1, 1, 8000, 16, le16(tone(440, 1000, 64, 8000))))
	f.Add(makeWAV(1, 2, 16000, 8, make([]byte, 64), []byte("LISTxx")))
	f.Add(makeWAV(7, 1, 8000, 8, make([]byte, 33)))
	f.Add(makeWAV(0xFFFE, 1, 22050, 16, make([]byte, 16)))
	f.Fuzz(func(t *testing.T, b []byte) {
		pcm, err := ReadWAV(bytes.NewReader(b))
		if err == nil && len(pcm) > len(b)*48 {
			t.Fatalf("%d samples from %d bytes", len(pcm), len(b))
		}
	})
}

func TestWAVWriterRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "rec.wav")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w, err := NewWAVWriter(f)
	if err != nil {
		t.Fatal(err)
	}
	src := tone(300, 12000, 1234, SampleRate)
	for i := 0; i < len(src); i += FrameSamples {
		if err := w.Write(src[i:min(len(src), i+FrameSamples)]); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := w.Write(src); err == nil {
		t.Error("write after Close accepted")
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(raw) != 44+2*len(src) || binary.LittleEndian.Uint32(raw[4:]) != uint32(36+2*len(src)) ||
		binary.LittleEndian.Uint32(raw[40:]) != uint32(2*len(src)) {
		t.Errorf("header sizes not fixed up: len %d riff %d data %d", len(raw), binary.LittleEndian.Uint32(raw[4:]), binary.LittleEndian.Uint32(raw[40:]))
	}
	got, err := ReadWAV(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	if !slicesEqual(got, src) || w.Samples() != int64(len(src)) {
		t.Error("round trip differs")
	}
}

// TestRealPrompt reads an installed Asterisk prompt when present.
func TestRealPrompt(t *testing.T) {
	path := "/usr/share/asterisk/sounds/en_US_f_Allison/vm-goodbye.wav"
	if _, err := os.Stat(path); err != nil {
		t.Skip("Asterisk prompts not installed")
	}
	pcm, err := LoadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	fi, _ := os.Stat(path)
	// 8 kHz 16-bit mono: about (size-44)/2 samples, audibly non-silent.
	if n := int64(len(pcm)); n < (fi.Size()-200)/2 || n > fi.Size()/2 {
		t.Errorf("%d samples from %d bytes", n, fi.Size())
	}
	if Energy(pcm) < 100 {
		t.Errorf("prompt RMS %.1f: silent?", Energy(pcm))
	}
}
