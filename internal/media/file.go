package media

import (
	"bufio"
	"container/list"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// Prompt is decoded audio shared read-only by every player of one file,
// with its G.711 encodings built once on first use (docs/design-notes.md,
// "Where the time goes": encode prompts once).
type Prompt struct {
	PCM []int16

	ulawOnce, alawOnce sync.Once
	ulaw, alaw         []byte
}

// NewPrompt wraps samples (8 kHz mono); the caller must not modify them.
func NewPrompt(pcm []int16) *Prompt { return &Prompt{PCM: pcm} }

func (p *Prompt) encoded(c Codec) ([]byte, bool) {
	switch {
	case c.isULaw():
		p.ulawOnce.Do(func() {
			p.ulaw = make([]byte, len(p.PCM))
			Encode(PCMU, p.ulaw, p.PCM)
		})
		return p.ulaw, true
	case c.isALaw():
		p.alawOnce.Do(func() {
			p.alaw = make([]byte, len(p.PCM))
			Encode(PCMA, p.alaw, p.PCM)
		})
		return p.alaw, true
	}
	return nil, false
}

// Reader returns a fresh player positioned at the start.
func (p *Prompt) Reader() *PCMReader { return &PCMReader{prompt: p} }

// PCMReader plays a Prompt. It implements PCMSource (position and seeking
// in samples, for AGI's offset/endpos) and EncodedSource. One reader
// belongs to one player; make another with Prompt.Reader.
type PCMReader struct {
	prompt *Prompt
	pos    int64
}

// NewPCMReader plays pcm (8 kHz mono), which must not be modified.
func NewPCMReader(pcm []int16) *PCMReader { return NewPrompt(pcm).Reader() }

// ReadFrame copies the next samples into pcm.
func (r *PCMReader) ReadFrame(pcm []int16) (int, error) {
	all := r.prompt.PCM
	if r.pos >= int64(len(all)) {
		return 0, io.EOF
	}
	n := copy(pcm, all[r.pos:])
	r.pos += int64(n)
	return n, nil
}

// ReadEncoded copies the next samples already encoded as c.
func (r *PCMReader) ReadEncoded(c Codec, dst []byte) (int, bool, error) {
	enc, ok := r.prompt.encoded(c)
	if !ok {
		return 0, false, nil
	}
	if r.pos >= int64(len(enc)) {
		return 0, true, io.EOF
	}
	n := copy(dst, enc[r.pos:])
	r.pos += int64(n)
	return n, true, nil
}

// Pos is the next sample to be read.
func (r *PCMReader) Pos() int64 { return r.pos }

// Len is the prompt length in samples.
func (r *PCMReader) Len() int64 { return int64(len(r.prompt.PCM)) }

// Seek moves to a sample position (io.Seeker semantics in samples); the
// result is clamped to [0, Len].
func (r *PCMReader) Seek(offset int64, whence int) (int64, error) {
	var base int64
	switch whence {
	case io.SeekStart:
	case io.SeekCurrent:
		base = r.pos
	case io.SeekEnd:
		base = r.Len()
	default:
		return r.pos, fmt.Errorf("media: bad whence %d", whence)
	}
	r.pos = min(max(0, base+offset), r.Len())
	return r.pos, nil
}

// Skip moves forward (or back, when negative) by n samples, like AGI's
// CONTROL STREAM FILE skipms; it returns the new position.
func (r *PCMReader) Skip(n int64) int64 {
	p, _ := r.Seek(n, io.SeekCurrent)
	return p
}

// FileCache loads prompt files once and serves them to many players. An
// entry is reloaded when the file's modification time or size changes, and
// the least recently used entries are evicted beyond the byte budget
// (readers already playing an evicted prompt keep their copy).
type FileCache struct {
	maxBytes int64

	mu      sync.Mutex
	entries map[string]*list.Element
	lru     *list.List // front = most recently used
	bytes   int64
}

type cacheEntry struct {
	path    string
	modTime time.Time
	size    int64
	prompt  *Prompt
	cost    int64
}

// NewFileCache makes a cache holding at most maxBytes of decoded audio
// (counting 4 bytes per sample: PCM plus one G.711 encoding).
func NewFileCache(maxBytes int64) *FileCache {
	return &FileCache{maxBytes: maxBytes, entries: map[string]*list.Element{}, lru: list.New()}
}

// Open returns a fresh player over the cached samples of path, loading it
// on a miss. The returned Source is a *PCMReader.
func (c *FileCache) Open(path string) (Source, error) {
	p, err := c.Load(path)
	if err != nil {
		return nil, err
	}
	return p.Reader(), nil
}

// Load returns the cached prompt for path, (re)loading it when absent or
// when the file changed on disk.
func (c *FileCache) Load(path string) (*Prompt, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("media: prompt %s: %w", path, err)
	}
	c.mu.Lock()
	if el, ok := c.entries[path]; ok {
		e := el.Value.(*cacheEntry)
		if e.modTime.Equal(st.ModTime()) && e.size == st.Size() {
			c.lru.MoveToFront(el)
			c.mu.Unlock()
			return e.prompt, nil
		}
		c.removeLocked(el)
	}
	c.mu.Unlock()

	pcm, err := LoadFile(path)
	if err != nil {
		return nil, err
	}
	e := &cacheEntry{path: path, modTime: st.ModTime(), size: st.Size(), prompt: NewPrompt(pcm), cost: int64(len(pcm)) * 4}
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.entries[path]; ok {
		c.removeLocked(el) // loaded concurrently: keep the newest
	}
	if e.cost <= c.maxBytes {
		c.entries[path] = c.lru.PushFront(e)
		c.bytes += e.cost
		for c.bytes > c.maxBytes && c.lru.Len() > 1 {
			c.removeLocked(c.lru.Back())
		}
	}
	return e.prompt, nil
}

func (c *FileCache) removeLocked(el *list.Element) {
	e := c.lru.Remove(el).(*cacheEntry)
	delete(c.entries, e.path)
	c.bytes -= e.cost
}

// Len returns the number of cached files and their cost in bytes.
func (c *FileCache) Len() (files int, bytes int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lru.Len(), c.bytes
}

// LoadFile decodes a prompt file to 8 kHz PCM by extension: .wav (ReadWAV),
// .ulaw/.pcmu and .alaw/.pcma (raw G.711), .sln/.raw (raw 16-bit
// little-endian 8 kHz, Asterisk's slin).
func LoadFile(path string) ([]int16, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("media: open prompt: %w", err)
	}
	defer f.Close()
	r := bufio.NewReaderSize(f, 64<<10)
	var pcm []int16
	switch ext := strings.ToLower(filepath.Ext(path)); ext {
	case ".wav", ".wav49":
		pcm, err = ReadWAV(r)
	case ".ulaw", ".pcmu", ".mulaw", ".alaw", ".pcma":
		var b []byte
		b, err = io.ReadAll(io.LimitReader(r, maxWAVData))
		if err == nil {
			codec := PCMU
			if ext == ".alaw" || ext == ".pcma" {
				codec = PCMA
			}
			pcm = make([]int16, len(b))
			Decode(codec, pcm, b)
		}
	case ".sln", ".raw":
		var b []byte
		b, err = io.ReadAll(io.LimitReader(r, maxWAVData))
		if err == nil {
			pcm = make([]int16, len(b)/2)
			for i := range pcm {
				pcm[i] = int16(binary.LittleEndian.Uint16(b[2*i:]))
			}
		}
	default:
		return nil, fmt.Errorf("media: prompt %s: unsupported format %q", path, ext)
	}
	if err != nil {
		if errors.Is(err, ErrBadWAV) {
			return nil, fmt.Errorf("media: prompt %s: %w", path, err)
		}
		return nil, fmt.Errorf("media: read prompt %s: %w", path, err)
	}
	return pcm, nil
}
