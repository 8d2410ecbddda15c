// Package moh is music on hold: musiconhold.conf classes (LoadConfig) and
// a Player that streams each class ONCE, however many channels listen.
//
// A class with listeners is one task on the shared media.Pacer: every
// 20 ms it takes the next frame of its current file, already G.711-encoded
// in both laws (files are decoded and encoded once, on a loader goroutine,
// one file ahead), and hands the same bytes to every listener's session,
// which stamps them with its own SSRC, sequence number and timestamp
// (RFC 3550 section 5.1). The listeners are spread over the 20 one-
// millisecond slots of the period, so a class with a thousand listeners
// sends about fifty packets per millisecond rather than a thousand at once,
// and each listener keeps an exact 20 ms spacing. A class nobody listens
// to has no task and no goroutine: it costs nothing, and resumes where it
// stopped.
//
// Unlike Asterisk's mode=files, where each channel plays the files on its
// own (from the start, or from where it left off), every listener of a
// class hears the same stream, joining it where it is: the behaviour of
// Asterisk's mode=custom classes, which is what makes a thousand waiting
// callers cheap. Files are played in order and looped.
package moh

import (
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/entvoice/entvoice/internal/media"
)

// Errors of Attach.
var (
	ErrClosed    = errors.New("moh: player closed")
	ErrAttached  = errors.New("moh: session already listening")
	ErrNoSession = errors.New("moh: no session")
)

const (
	frame = media.FrameSamples
	// slots is how many 1 ms phases a class spreads its listeners over.
	slots = int(media.FrameDuration / time.Millisecond)
	slot  = int64(time.Millisecond)
	// behindLimit: a class this late shifts its schedule instead of
	// sending the backlog in a burst.
	behindLimit = int64(100 * time.Millisecond)
)

// Options configure a Player.
type Options struct {
	// Load decodes a file (default media.LoadFile); pass a FileCache's
	// Load to share decoded audio with Playback.
	Load   func(path string) (*media.Prompt, error)
	Logger *slog.Logger
}

// Player streams the classes of one configuration.
type Player struct {
	prefer  bool // [general] preferchannelclass
	classes map[string]*Class
	names   []string
	wg      sync.WaitGroup // loader goroutines

	tuneOnce sync.Once
	tunePCM  *media.Prompt
}

// tune is the synthesised music of classes without files, made once.
func (p *Player) tune() *media.Prompt {
	p.tuneOnce.Do(func() { p.tunePCM = media.NewPrompt(Tune()) })
	return p.tunePCM
}

// New prepares the classes of cfg (nil: DefaultConfig with no directory).
// A class whose directory or entries give no playable file is left out
// with a warning, as Asterisk does, except "default", which then plays a
// synthesised tune; "default" is added that way when cfg has none. Nothing
// is decoded and no goroutine runs until a class has a listener.
func New(pacer *media.Pacer, cfg *Config, opts Options) (*Player, error) {
	if pacer == nil {
		return nil, errors.New("moh: New needs a pacer")
	}
	if cfg == nil {
		cfg = DefaultConfig("")
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	load := opts.Load
	if load == nil {
		load = func(path string) (*media.Prompt, error) {
			pcm, err := media.LoadFile(path)
			if err != nil {
				return nil, err
			}
			return media.NewPrompt(pcm), nil
		}
	}
	p := &Player{classes: map[string]*Class{}, prefer: cfg.PreferChannelClass}
	for _, cc := range cfg.Classes {
		files, err := cc.files()
		if err != nil || len(files) == 0 {
			if err == nil {
				err = errors.New("no playable files (.wav, .sln, .raw, .ulaw, .alaw)")
			}
			if cc.Name != "default" {
				log.Warn("moh: class left out", "class", cc.Name, "at", fmt.Sprintf("%s:%d", cc.File, cc.Line), "err", err)
				continue
			}
			log.Info("moh: default class has no files; playing a synthesised tune", "dir", cc.Directory, "err", err)
			files = nil
		}
		p.add(newClass(p, pacer, cc, files, load, log))
	}
	if p.classes["default"] == nil {
		p.add(newClass(p, pacer, ClassConfig{Name: "default", Mode: ModeFiles, Sort: SortAlpha}, nil, load, log))
	}
	return p, nil
}

func (p *Player) add(c *Class) {
	p.classes[c.cfg.Name] = c
	p.names = append(p.names, c.cfg.Name)
}

// Class returns the named class.
func (p *Player) Class(name string) (*Class, bool) {
	c, ok := p.classes[name]
	return c, ok
}

// Classes lists the class names in configuration order.
func (p *Player) Classes() []string { return slices.Clone(p.names) }

// Close detaches every listener, stops every class and waits for their

// PreferChannelClass is [general] preferchannelclass: a channel's own
// class wins over the one an application asks for.
func (p *Player) PreferChannelClass() bool { return p.prefer }

// goroutines. Attach fails afterwards.
func (p *Player) Close() {
	for _, c := range p.classes {
		c.close()
	}
	p.wg.Wait()
}

// playable lists what LoadFile decodes, best first: for files of one name
// in several formats the first of these is played.
var playable = []string{".wav", ".sln", ".raw", ".ulaw", ".pcmu", ".mulaw", ".alaw", ".pcma"}

// files resolves the class's files in their base order.
func (cc ClassConfig) files() ([]string, error) {
	if cc.Mode == ModePlaylist {
		var out []string
		for _, e := range cc.Entries {
			if f := pick(e); f != "" {
				out = append(out, f)
			}
		}
		return out, nil
	}
	if cc.Directory == "" {
		return nil, nil
	}
	ents, err := os.ReadDir(cc.Directory)
	if err != nil {
		return nil, fmt.Errorf("moh: class %s: %w", cc.Name, err)
	}
	best := map[string]string{} // base name -> file
	for _, e := range ents {
		name := e.Name()
		ext := strings.ToLower(filepath.Ext(name))
		rank := slices.Index(playable, ext)
		if e.IsDir() || strings.HasPrefix(name, ".") || rank < 0 {
			continue
		}
		base := strings.TrimSuffix(name, filepath.Ext(name))
		if cur, ok := best[base]; !ok || rank < slices.Index(playable, strings.ToLower(filepath.Ext(cur))) {
			best[base] = name
		}
	}
	var out []string
	for _, base := range slices.Sorted(mapKeys(best)) {
		out = append(out, filepath.Join(cc.Directory, best[base]))
	}
	return out, nil
}

func mapKeys(m map[string]string) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// pick resolves a playlist entry: the file itself when it has a playable
// extension, else the first playable format of that name (Asterisk's
// entries have no extension).
func pick(entry string) string {
	if slices.Contains(playable, strings.ToLower(filepath.Ext(entry))) {
		if _, err := os.Stat(entry); err == nil {
			return entry
		}
	}
	for _, ext := range playable {
		if _, err := os.Stat(entry + ext); err == nil {
			return entry + ext
		}
	}
	return ""
}

// Class is one music class: a stream shared by its listeners.
type Class struct {
	player *Player
	pacer  *media.Pacer
	cfg    ClassConfig
	files  []string // empty: the synthesised tune
	load   func(string) (*media.Prompt, error)
	log    *slog.Logger

	mu     sync.Mutex
	closed bool
	groups [slots][]*Listener
	count  int
	run    *run   // non-nil while the task is scheduled
	cur    *track // the stream's position, kept between runs
	frames uint64 // frames streamed

	sent, underruns atomic.Uint64
}

// track is a decoded file being played, encoded in both laws.
type track struct {
	index  int
	ulaw   *media.PCMReader
	alaw   *media.PCMReader
	frameU [frame]byte
	frameA [frame]byte
}

// run is one period during which the class has listeners.
type run struct {
	want  chan int    // file index for the loader
	ready chan *track // its result
	quit  chan struct{}

	frameStart int64 // deadline of slot 0 of the current frame
	g          int   // slot being served
	haveFrame  bool
}

func newClass(p *Player, pacer *media.Pacer, cc ClassConfig, files []string, load func(string) (*media.Prompt, error), log *slog.Logger) *Class {
	return &Class{player: p, pacer: pacer, cfg: cc, files: files, load: load, log: log.With("class", cc.Name)}
}

// Name is the class name.
func (c *Class) Name() string { return c.cfg.Name }

// Config is the class's configuration.
func (c *Class) Config() ClassConfig { return c.cfg }

// Files are the files the class plays, in base order (none: the
// synthesised tune).
func (c *Class) Files() []string { return slices.Clone(c.files) }

// Stats of a class.
type Stats struct {
	Listeners int
	// Sent counts frames handed to listeners.
	Sent uint64
	// Underruns counts frames of silence sent because the next file was
	// not decoded in time.
	Underruns uint64
}

// Stats returns the class's counters.
func (c *Class) Stats() Stats {
	c.mu.Lock()
	n := c.count
	c.mu.Unlock()
	return Stats{Listeners: n, Sent: c.sent.Load(), Underruns: c.underruns.Load()}
}

// Listener is one session hearing a class.
type Listener struct {
	class *Class
	sess  *media.Session
	slot  int
	done  chan struct{}

	alaw, lawKnown bool // under Class.mu
}

// lawRefresh is how often (in frames) a listener's codec is looked up.
const lawRefresh = 50

// Attach makes s hear the class from its current position until
// Listener.Stop or until s closes. The class streams to s directly: do not
// Play on s meanwhile.
func (c *Class) Attach(s *media.Session) (*Listener, error) {
	if s == nil {
		return nil, ErrNoSession
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, ErrClosed
	}
	best := 0
	for g := range c.groups {
		for _, l := range c.groups[g] {
			if l.sess == s {
				return nil, ErrAttached
			}
		}
		if len(c.groups[g]) < len(c.groups[best]) {
			best = g
		}
	}
	l := &Listener{class: c, sess: s, slot: best, done: make(chan struct{})}
	c.groups[best] = append(c.groups[best], l)
	c.count++
	if c.run == nil {
		if err := c.startLocked(); err != nil {
			c.removeLocked(l)
			return nil, err
		}
	}
	return l, nil
}

// Done is closed once the listener no longer hears the class.
func (l *Listener) Done() <-chan struct{} { return l.done }

// Class is the class heard.
func (l *Listener) Class() *Class { return l.class }

// Stop ends listening; once it returns nothing more is sent to the
// session. It is idempotent.
func (l *Listener) Stop() {
	c := l.class
	c.mu.Lock()
	c.removeLocked(l)
	c.mu.Unlock()
}

func (c *Class) removeLocked(l *Listener) {
	g := c.groups[l.slot]
	if i := slices.Index(g, l); i >= 0 {
		c.groups[l.slot] = slices.Delete(g, i, i+1)
		c.count--
		close(l.done)
	}
}

func (c *Class) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	for g := range c.groups {
		for _, l := range c.groups[g] {
			close(l.done)
		}
		c.groups[g] = nil
	}
	c.count = 0
	c.stopLocked() // the task sees closed and ends at its next tick
}

// startLocked schedules the class's task and starts its loader.
func (c *Class) startLocked() error {
	r := &run{want: make(chan int, 1), ready: make(chan *track, 1), quit: make(chan struct{})}
	r.frameStart = media.MonotonicNow() + int64(2*time.Millisecond)
	c.run = r
	c.player.wg.Add(1)
	go c.loader(r)
	switch {
	case c.cur == nil:
		r.want <- c.first()
	default:
		r.want <- c.after(c.cur.index)
	}
	// The first frame goes out at slot 0 of the first period; a track
	// not loaded by then starts a frame or two later (silence).
	if err := c.pacer.ScheduleFunc(r.frameStart, c.tick, nil); err != nil {
		c.stopLocked()
		return fmt.Errorf("moh: start class %s: %w", c.cfg.Name, err)
	}
	return nil
}

func (c *Class) stopLocked() {
	if c.run != nil {
		close(c.run.quit)
		c.run = nil
	}
}

// first is the index of the first file of a fresh stream.
func (c *Class) first() int {
	if c.cfg.Sort != SortAlpha && len(c.files) > 1 {
		return rand.IntN(len(c.files))
	}
	return 0
}

// after is the index of the file that follows file i.
func (c *Class) after(i int) int {
	n := max(1, len(c.files))
	switch {
	case c.cfg.LoopLast && i == n-1:
		return i
	case c.cfg.Sort == SortRandom && n > 1:
		j := rand.IntN(n - 1) // any other file
		if j >= i {
			j++
		}
		return j
	}
	return (i + 1) % n
}

// tick serves one slot of listeners and schedules the next non-empty one;
// after slot 19 the stream moves on by a frame. It runs on the pacing
// thread.
func (c *Class) tick(now int64) (int64, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	r := c.run
	if c.closed || r == nil {
		return 0, false
	}
	if !r.haveFrame {
		c.advanceLocked(r)
	}
	c.serveLocked(r.g)
	for g := r.g + 1; g < slots; g++ {
		if len(c.groups[g]) > 0 {
			r.g = g
			return r.frameStart + int64(g)*slot, true
		}
	}
	if c.count == 0 {
		c.stopLocked() // nobody left: the class costs nothing until Attach
		return 0, false
	}
	r.frameStart += int64(media.FrameDuration)
	c.frames++
	if lag := now - r.frameStart; lag > behindLimit {
		r.frameStart += lag
	}
	c.advanceLocked(r)
	r.g = 0
	for len(c.groups[r.g]) == 0 {
		r.g++
	}
	return r.frameStart + int64(r.g)*slot, true
}

// serveLocked sends the current frame to slot g's listeners, dropping
// those whose session closed.
func (c *Class) serveLocked(g int) {
	t := c.cur
	keep := c.groups[g][:0]
	for _, l := range c.groups[g] {
		var err error
		// The codec is looked up once a second; in between a frame of the
		// old law after a re-INVITE is transcoded by WriteEncoded.
		if c.frames%lawRefresh == 0 || !l.lawKnown {
			l.alaw, l.lawKnown = l.sess.Negotiated().Codec.Is(media.PCMA), true
		}
		switch {
		case t == nil:
			err = l.sess.WriteEncoded(media.PCMU, silenceU[:])
		case l.alaw:
			err = l.sess.WriteEncoded(media.PCMA, t.frameA[:])
		default:
			err = l.sess.WriteEncoded(media.PCMU, t.frameU[:])
		}
		if errors.Is(err, media.ErrSessionClosed) {
			c.count--
			close(l.done)
			continue
		}
		c.sent.Add(1)
		keep = append(keep, l)
	}
	clear(c.groups[g][len(keep):])
	c.groups[g] = keep
}

// silenceU is a frame of PCMU silence (0xFF), sent while no file is ready.
var silenceU = func() (b [frame]byte) {
	for i := range b {
		b[i] = 0xFF
	}
	return b
}()

// advanceLocked moves the stream on by one frame, switching to the next
// file (prepared by the loader) at the end of one.
func (c *Class) advanceLocked(r *run) {
	r.haveFrame = true
	if t := c.cur; t != nil {
		n, _, _ := t.ulaw.ReadEncoded(media.PCMU, t.frameU[:])
		if n > 0 {
			t.alaw.ReadEncoded(media.PCMA, t.frameA[:])
			if n < frame { // the end of a file is padded with silence
				fill(t.frameU[n:], 0xFF)
				fill(t.frameA[n:], 0xD5)
			}
			return
		}
	}
	select {
	case t := <-r.ready:
		c.cur = t
		select {
		case r.want <- c.after(t.index):
		default:
		}
		c.advanceLocked(r)
	default:
		if c.cur != nil {
			c.underruns.Add(1)
			c.cur = nil // silence until the next file is ready
		}
	}
}

func fill(b []byte, v byte) {
	for i := range b {
		b[i] = v
	}
}

// loader decodes the files the stream asks for, one ahead of it.
func (c *Class) loader(r *run) {
	defer c.player.wg.Done()
	for {
		select {
		case <-r.quit:
			return
		case i := <-r.want:
			t := c.prepare(i)
			select {
			case r.ready <- t:
			case <-r.quit:
				return
			}
		}
	}
}

// prepare decodes file i (or the synthesised tune) and encodes it in both
// laws; a file that fails is skipped for the next one, and when none can
// be read the tune plays.
func (c *Class) prepare(i int) *track {
	for range max(1, len(c.files)) {
		var pr *media.Prompt
		if len(c.files) == 0 {
			pr = c.player.tune()
		} else {
			var err error
			if pr, err = c.load(c.files[i]); err != nil || len(pr.PCM) == 0 {
				c.log.Warn("moh: file skipped", "file", c.files[i], "err", err)
				i = c.after(i)
				continue
			}
		}
		t := &track{index: i, ulaw: pr.Reader(), alaw: pr.Reader()}
		// Build both encodings here, not on the pacing thread.
		t.ulaw.ReadEncoded(media.PCMU, nil)
		t.alaw.ReadEncoded(media.PCMA, nil)
		return t
	}
	c.log.Error("moh: no file of the class can be played; playing the synthesised tune")
	pr := c.player.tune()
	t := &track{index: i, ulaw: pr.Reader(), alaw: pr.Reader()}
	t.ulaw.ReadEncoded(media.PCMU, nil)
	t.alaw.ReadEncoded(media.PCMA, nil)
	return t
}
