package media

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func writeWAVFile(t *testing.T, path string, pcm []int16) {
	t.Helper()
	if err := os.WriteFile(path, makeWAV(1, 1, 8000, 16, le16(pcm)), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestFileCacheSharesAndInvalidates(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "hello.wav")
	writeWAVFile(t, path, tone(500, 8000, 1600, SampleRate))
	c := NewFileCache(1 << 20)
	p1, err := c.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	p2, err := c.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if p1 != p2 {
		t.Error("second Load did not hit the cache")
	}
	// Two players over the same samples read independently.
	s1, _ := c.Open(path)
	s2, _ := c.Open(path)
	buf := make([]int16, FrameSamples)
	if n, _ := s1.ReadFrame(buf); n != FrameSamples {
		t.Fatal("short read")
	}
	r1, r2 := s1.(*PCMReader), s2.(*PCMReader)
	if r1.Pos() != FrameSamples || r2.Pos() != 0 {
		t.Errorf("positions %d %d", r1.Pos(), r2.Pos())
	}
	// Rewrite with a new mtime: the cache reloads.
	writeWAVFile(t, path, tone(900, 8000, 800, SampleRate))
	future := time.Now().Add(time.Hour)
	if err := os.Chtimes(path, future, future); err != nil {
		t.Fatal(err)
	}
	p3, err := c.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if p3 == p1 || len(p3.PCM) != 800 {
		t.Errorf("changed file not reloaded (%d samples)", len(p3.PCM))
	}
	if len(p1.PCM) != 1600 {
		t.Error("old prompt mutated under its players")
	}
	if _, err := c.Open(filepath.Join(dir, "missing.wav")); err == nil {
		t.Error("missing file opened")
	}
}

func TestFileCacheBounded(t *testing.T) {
	dir := t.TempDir()
	c := NewFileCache(3 * 8000 * 4) // three 1 s prompts
	for i := range 5 {
		path := filepath.Join(dir, string(rune('a'+i))+".wav")
		writeWAVFile(t, path, make([]int16, 8000))
		if _, err := c.Load(path); err != nil {
			t.Fatal(err)
		}
	}
	files, size := c.Len()
	if files != 3 || size != 3*8000*4 {
		t.Errorf("cache holds %d files, %d bytes", files, size)
	}
}

func TestPCMReaderSeekAndEncoded(t *testing.T) {
	pcm := tone(1000, 9000, 1000, SampleRate)
	r := NewPCMReader(pcm)
	if p, _ := r.Seek(100, io.SeekStart); p != 100 {
		t.Errorf("seek start %d", p)
	}
	if p := r.Skip(-500); p != 0 {
		t.Errorf("skip clamps at 0, got %d", p)
	}
	if p, _ := r.Seek(-10, io.SeekEnd); p != 990 {
		t.Errorf("seek end %d", p)
	}
	if _, err := r.Seek(0, 7); err == nil {
		t.Error("bad whence accepted")
	}
	r.Seek(0, io.SeekStart)
	enc := make([]byte, FrameSamples)
	n, ok, err := r.ReadEncoded(PCMA, enc)
	if !ok || err != nil || n != FrameSamples {
		t.Fatalf("ReadEncoded %d %v %v", n, ok, err)
	}
	want := make([]byte, FrameSamples)
	Encode(PCMA, want, pcm[:FrameSamples])
	if !bytes.Equal(enc, want) {
		t.Error("cached A-law differs from direct encoding")
	}
	if _, ok, _ := r.ReadEncoded(Codec{Name: "G722"}, enc); ok {
		t.Error("G722 served")
	}
	r.Seek(0, io.SeekEnd)
	if _, err := r.ReadFrame(make([]int16, 10)); err != io.EOF {
		t.Errorf("read at end: %v", err)
	}
	allocs := testing.AllocsPerRun(50, func() {
		r.Seek(0, io.SeekStart)
		r.ReadEncoded(PCMU, enc)
	})
	if allocs != 0 {
		t.Errorf("%v allocations per cached frame", allocs)
	}
}

func TestLoadRawFormats(t *testing.T) {
	dir := t.TempDir()
	pcm := tone(700, 8000, 400, SampleRate)
	sln := filepath.Join(dir, "x.sln")
	if err := os.WriteFile(sln, le16(pcm), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := LoadFile(sln)
	if err != nil || !slicesEqual(got, pcm) {
		t.Errorf("sln: %v", err)
	}
	ul := make([]byte, len(pcm))
	Encode(PCMU, ul, pcm)
	ulaw := filepath.Join(dir, "x.ulaw")
	if err := os.WriteFile(ulaw, ul, 0o644); err != nil {
		t.Fatal(err)
	}
	got, err = LoadFile(ulaw)
	if err != nil || DetectTone(got, SampleRate, 700) < 0.95 {
		t.Errorf("ulaw: %v", err)
	}
	if _, err := LoadFile(filepath.Join(dir, "x.gsm")); err == nil {
		t.Error("gsm accepted")
	}
}

// TestPlayCachedPrompt plays a cached file through a session so the
// pre-encoded path is exercised end to end.
func TestPlayCachedPrompt(t *testing.T) {
	env := newEnv(t)
	a, b := env.session(t), env.session(t)
	connect(t, a, b, []Codec{PCMA}, []Codec{PCMA}, false)
	path := filepath.Join(t.TempDir(), "p.wav")
	writeWAVFile(t, path, tone(1200, 8000, 4000, SampleRate))
	c := NewFileCache(1 << 20)
	src, err := c.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	var got collector
	b.SetSink(got.sink)
	if err := a.Play(ctxTimeout(t, 5*time.Second), src); err != nil {
		t.Fatal(err)
	}
	pcm := got.waitFor(t, 4000, 2*time.Second)
	if p := DetectTone(pcm[:4000], SampleRate, 1200); p < 0.9 {
		t.Errorf("1.2 kHz power %.3f", p)
	}
}
