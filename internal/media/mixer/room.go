// Package mixer is the conference audio engine under ConfBridge: a Room
// mixes its participants' media.Sessions (PCMU and PCMA mixed in one room)
// every 20 ms on the shared media.Pacer thread.
//
// Each tick takes one frame from every participant's receive buffer,
// classifies it with an energy VAD (Asterisk's ConfBridge talk detection:
// a frame is speech when its mean |sample| reaches TalkThreshold, and a
// talker stops after SilenceHangover without speech), sums the talkers once
// in int32 with their talk gain, and gives each listener the sum minus its
// own contribution with its listen gain, through a soft-knee limiter (see
// limit). Only talkers are mixed (ConfBridge's dsp_drop_silence=yes, always
// on here), so a silent or muted participant costs a buffer read and a
// level check. Every listener who is not talking hears the same frame:
// it is computed and G.711-encoded once per codec (and listen gain) and
// the same bytes are sent to each of them; each talker's own mix is
// encoded once, in its codec. Room prompts, per-participant prompts and a
// recording of the mix are part of the same tick.
//
// The tick runs on the pacing thread at absolute 20 ms deadlines (like
// Play), each room at its own phase within the 20 ms so that many rooms
// spread over the pacer's 1 ms slots. It holds the room's lock while it
// runs, so once Leave, Close or a Play call returns the tick no longer
// touches that participant or source.
package mixer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/entvoice/entvoice/internal/media"
)

// Errors returned by Room and Participant.
var (
	ErrRoomClosed = errors.New("mixer: room closed")
	ErrLeft       = errors.New("mixer: participant left the room")
	ErrJoined     = errors.New("mixer: session is already in a room")
	ErrRecording  = errors.New("mixer: room is already being recorded")
)

// Asterisk's ConfBridge defaults (confbridge.conf user profile).
const (
	// DefaultTalkThreshold is dsp_talking_threshold.
	DefaultTalkThreshold = 160
	// DefaultSilenceHangover is dsp_silence_threshold.
	DefaultSilenceHangover = 2500 * time.Millisecond
)

// behindLimit: when the pacer is this late (GC pause, overload) the room
// shifts its schedule instead of mixing the backlog in a burst.
const behindLimit = 100 * time.Millisecond

// Options configure a Room; the zero value gives Asterisk's defaults.
type Options struct {
	// TalkThreshold is the mean |sample| of a frame at or above which the
	// participant is talking (0: DefaultTalkThreshold).
	TalkThreshold int
	// SilenceHangover is how long a talker stays talking, and mixed, after
	// its last frame of speech (0: DefaultSilenceHangover).
	SilenceHangover time.Duration
	// OnTalking is told when a participant starts and stops talking
	// (ConfbridgeTalking); every start is followed by a stop, also when the
	// participant is muted, put on hold or leaves, or the room closes. It
	// runs on the pacing thread, in order, outside the room's lock, and
	// must not block.
	OnTalking func(p *Participant, talking bool)
	// Timing, when set, collects the room's frame times (shared by rooms).
	Timing *Timing
	Logger *slog.Logger
}

// Room is one conference's mixer.
type Room struct {
	pacer     *media.Pacer
	log       *slog.Logger
	threshold int
	hangover  int // ms
	onTalking func(*Participant, bool)
	timing    *Timing

	start, frame int64 // schedule: deadline k is start + k*20ms
	detached     chan struct{}

	mu      sync.Mutex
	closed  bool
	parts   []*Participant
	plays   []*player
	rec     *Recording
	scratch scratch
	pending []talkEvent // stops of participants who left, for the next tick

	mixed, sent, encoded atomic.Uint64
}

// scratch is the tick's working memory (under Room.mu).
type scratch struct {
	sum     [frame]int32
	outs    []sharedOut
	pcm     [frame]int16
	enc     [frame]byte
	events  []talkEvent
	active  int
	playing bool
}

// sharedOut is the frame heard by every non-talking listener with one
// listen gain, encoded at most once per law.
type sharedOut struct {
	gain    int32
	pcm     [frame]int16
	encoded [2]bool
	enc     [2][frame]byte
}

type talkEvent struct {
	p       *Participant
	talking bool
}

// G.711 laws, indexes of per-law arrays.
const (
	ulaw = iota
	alaw
)

var lawCodec = [2]media.Codec{media.PCMU, media.PCMA}

// silence is one encoded frame of digital silence per law.
var silence = func() (s [2][frame]byte) {
	var zero [frame]int16
	media.Encode(media.PCMU, s[ulaw][:], zero[:])
	media.Encode(media.PCMA, s[alaw][:], zero[:])
	return s
}()

// lawRefresh is how often (in ticks) a participant's codec is looked up.
const lawRefresh = 50

func lawOf(s *media.Session) int {
	if s.Negotiated().Codec.Is(media.PCMA) {
		return alaw
	}
	return ulaw
}

// NewRoom starts a room's 20 ms cycle on pacer. Close stops it.
func NewRoom(pacer *media.Pacer, opts Options) (*Room, error) {
	if pacer == nil {
		return nil, errors.New("mixer: NewRoom needs a pacer")
	}
	r := &Room{
		pacer:     pacer,
		log:       opts.Logger,
		threshold: opts.TalkThreshold,
		hangover:  int(opts.SilenceHangover / time.Millisecond),
		onTalking: opts.OnTalking,
		timing:    opts.Timing,
		detached:  make(chan struct{}),
	}
	if r.log == nil {
		r.log = slog.New(slog.DiscardHandler)
	}
	if r.threshold <= 0 {
		r.threshold = DefaultTalkThreshold
	}
	if r.hangover <= 0 {
		r.hangover = int(DefaultSilenceHangover / time.Millisecond)
	}
	// A random phase within the 20 ms period spreads rooms over the
	// pacer's 1 ms slots.
	r.start = media.MonotonicNow() + int64(2*time.Millisecond) + rand.Int64N(20)*int64(time.Millisecond)
	if err := pacer.ScheduleFunc(r.start, r.tick, r.onDetached); err != nil {
		return nil, fmt.Errorf("mixer: new room: %w", err)
	}
	return r, nil
}

func (r *Room) onDetached() {
	r.mu.Lock()
	r.shutdownLocked()
	events := append([]talkEvent(nil), r.pending...)
	r.pending = nil
	r.mu.Unlock()
	r.fire(events)
	close(r.detached)
}

func (r *Room) fire(events []talkEvent) {
	if r.onTalking != nil {
		for _, e := range events {
			r.onTalking(e.p, e.talking)
		}
	}
}

// stopTalkingLocked queues the stop of a departing participant's talk
// spurt for the pacing thread, which delivers every event in order.
func (r *Room) stopTalkingLocked(p *Participant) {
	if p.talking {
		p.talking = false
		p.talkingNow.Store(false)
		r.pending = append(r.pending, talkEvent{p, false})
	}
}

// Close stops the room: participants are removed (their sinks cleared),
// running Play calls return ErrRoomClosed and a recording is stopped. It
// waits for the pacing thread to let go of the room and is idempotent.
func (r *Room) Close() {
	r.mu.Lock()
	r.shutdownLocked()
	r.mu.Unlock()
	<-r.detached
}

func (r *Room) shutdownLocked() {
	if r.closed {
		return
	}
	r.closed = true
	for _, p := range r.parts {
		p.sess.SetSink(nil)
		p.endPlaysLocked(ErrRoomClosed)
		r.stopTalkingLocked(p)
	}
	r.parts = nil
	for _, pl := range r.plays {
		pl.finish(ErrRoomClosed)
	}
	r.plays = nil
	if r.rec != nil {
		r.rec.endLocked()
		r.rec = nil
	}
}

// Len is the number of participants.
func (r *Room) Len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.parts)
}

// Participants returns the participants in join order.
func (r *Room) Participants() []*Participant {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]*Participant(nil), r.parts...)
}

// Stats are a room's counters.
type Stats struct {
	// Mixed counts ticks in which at least one participant talked or a
	// room prompt played.
	Mixed uint64
	// Sent counts frames sent to participants.
	Sent uint64
	// Encoded counts G.711 encodings of a frame: one per codec for the
	// frame every non-talker hears, one per talker (silence is encoded
	// once for good).
	Encoded uint64
}

// Stats returns the room's counters.
func (r *Room) Stats() Stats {
	return Stats{Mixed: r.mixed.Load(), Sent: r.sent.Load(), Encoded: r.encoded.Load()}
}

// JoinOptions are a participant's settings from its first frame on.
type JoinOptions struct {
	Muted, Deaf, Hold    bool
	TalkGain, ListenGain float64 // dB
}

// Join adds s to the room: from the next tick its audio is mixed and it is
// sent the room's mix. The room owns s's sink (media.Session.SetSink) and
// what s sends until Leave; play to the participant with Participant.Play,
// not Session.Play. s must be in at most one room.
func (r *Room) Join(s *media.Session, o JoinOptions) (*Participant, error) {
	p := &Participant{room: r, sess: s}
	p.muted.Store(o.Muted)
	p.deaf.Store(o.Deaf)
	p.hold.Store(o.Hold)
	p.talkGain.Store(gainQ12(o.TalkGain))
	p.listenGain.Store(gainQ12(o.ListenGain))
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil, ErrRoomClosed
	}
	for _, q := range r.parts {
		if q.sess == s {
			return nil, ErrJoined
		}
	}
	r.parts = append(r.parts, p)
	s.SetSink(p.rx.push)
	return p, nil
}

// Play mixes src into what every participant hears (join and leave sounds,
// announcements) and returns when it ends (nil), when ctx ends (its
// error) or when the room closes (ErrRoomClosed). src is read on the
// pacing thread and must not block: give it audio in memory, such as a
// media.Prompt's Reader from the FileCache.
func (r *Room) Play(ctx context.Context, src media.Source) error {
	pl := newPlayer(src)
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return ErrRoomClosed
	}
	r.plays = append(r.plays, pl)
	r.mu.Unlock()
	return pl.wait(ctx, func() {
		r.mu.Lock()
		r.plays = removePlayer(r.plays, pl)
		r.mu.Unlock()
	})
}

func (r *Room) tick(now int64) (int64, bool) {
	t0 := media.MonotonicNow()
	deadline := r.start + r.frame*int64(media.FrameDuration)
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return 0, false
	}
	clear(r.scratch.events)
	r.scratch.events = append(r.scratch.events[:0], r.pending...)
	clear(r.pending)
	r.pending = r.pending[:0]
	r.mixLocked()
	events := r.scratch.events
	r.mu.Unlock()
	// Only this thread appends to scratch.events, so it can be read
	// unlocked until the next tick.
	r.fire(events)
	if r.timing != nil {
		r.timing.observe(time.Duration(media.MonotonicNow()-t0), time.Duration(now-deadline))
	}
	r.frame++
	next := r.start + r.frame*int64(media.FrameDuration)
	if lag := now - next; lag > int64(behindLimit) {
		r.start += lag
		next += lag
	}
	return next, true
}

// mixLocked is one 20 ms cycle.
func (r *Room) mixLocked() {
	sc := &r.scratch
	sc.active = 0
	// 1. Take each participant's frame and classify it.
	for _, p := range r.parts {
		r.listenTo(p)
	}
	// 2. The room sum: talkers (with talk gain) and room prompts.
	clear(sc.sum[:])
	for _, p := range r.parts {
		if p.active {
			for i, v := range p.contrib {
				sc.sum[i] += v
			}
		}
	}
	sc.playing = false
	for i := 0; i < len(r.plays); {
		pl := r.plays[i]
		if pl.read() {
			sc.playing = true
			for j, v := range pl.buf {
				sc.sum[j] += int32(v)
			}
		}
		if pl.ended() {
			r.plays = removePlayer(r.plays, pl)
			continue
		}
		i++
	}
	if sc.active > 0 || sc.playing {
		r.mixed.Add(1)
	}
	if r.rec != nil {
		r.rec.add(sc)
	}
	// 3. What each participant hears.
	sc.outs = sc.outs[:0]
	for _, p := range r.parts {
		if !p.hold.Load() {
			r.speakTo(p)
		}
	}
}

// listenTo takes p's next frame and updates its talking state.
func (r *Room) listenTo(p *Participant) {
	sc := &r.scratch
	p.active = false
	has := p.rx.pop(&p.in)
	level := 0
	if has {
		level = media.AverageAmplitude(p.in[:])
	}
	quiet := p.muted.Load() || p.hold.Load()
	switch {
	case quiet:
		p.silentMs = r.hangover
	case level >= r.threshold:
		p.silentMs = 0
	default:
		p.silentMs = min(p.silentMs+int(media.FrameDuration/time.Millisecond), r.hangover)
	}
	talking := !quiet && p.silentMs < r.hangover && (p.talking || level >= r.threshold)
	if talking != p.talking {
		p.talking = talking
		p.talkingNow.Store(talking)
		sc.events = append(sc.events, talkEvent{p, talking})
	}
	g := p.talkGain.Load()
	if !talking || !has || g == 0 {
		return
	}
	p.active = true
	sc.active++
	if g == unity {
		for i, v := range p.in {
			p.contrib[i] = int32(v)
		}
	} else {
		for i, v := range p.in {
			p.contrib[i] = int32(v) * g >> 12
		}
	}
}

// speakTo sends p its frame: the shared mix when it is not talking and
// has nothing of its own to hear, else its own mix.
func (r *Room) speakTo(p *Participant) {
	sc := &r.scratch
	// The codec is looked up once a second: a frame encoded in the old law
	// after a re-INVITE changed it is transcoded by WriteEncoded, so a
	// stale law costs a table lookup per sample, never wrong audio.
	if r.frame%lawRefresh == 0 || !p.lawKnown {
		p.law, p.lawKnown = lawOf(p.sess), true
	}
	law := p.law
	deaf := p.deaf.Load()
	var own *player
	if len(p.plays) > 0 {
		own = p.plays[0] // one at a time, in order
		if !own.read() {
			own = nil
		}
		if p.plays[0].ended() {
			p.plays = removePlayer(p.plays, p.plays[0])
		}
	}
	others := sc.active > 0 && (!p.active || sc.active > 1)
	hearsRoom := !deaf && (others || sc.playing)
	var payload []byte
	switch {
	case !hearsRoom && own == nil:
		payload = silence[law][:]
	case !p.active && own == nil:
		payload = r.shared(p.listenGain.Load(), law)
	default:
		g := p.listenGain.Load()
		for i := range sc.pcm {
			var x int32
			if hearsRoom {
				x = sc.sum[i]
				if p.active {
					x -= p.contrib[i]
				}
				if g != unity {
					x = int32(int64(x) * int64(g) >> 12)
				}
			}
			if own != nil {
				x += int32(own.buf[i])
			}
			sc.pcm[i] = limit(x)
		}
		media.Encode(lawCodec[law], sc.enc[:], sc.pcm[:])
		r.encoded.Add(1)
		payload = sc.enc[:]
	}
	if err := p.sess.WriteEncoded(lawCodec[law], payload); err == nil {
		r.sent.Add(1)
	} else if !errors.Is(err, media.ErrSessionClosed) {
		r.log.Debug("mixer: send", "rtp", p.sess.LocalAddr(), "err", err)
	}
}

// shared returns the non-talkers' frame for listen gain g in law,
// computing and encoding it on first use in this tick.
func (r *Room) shared(g int32, law int) []byte {
	sc := &r.scratch
	var o *sharedOut
	for i := range sc.outs {
		if sc.outs[i].gain == g {
			o = &sc.outs[i]
			break
		}
	}
	if o == nil {
		if len(sc.outs) < cap(sc.outs) {
			sc.outs = sc.outs[:len(sc.outs)+1]
		} else {
			sc.outs = append(sc.outs, sharedOut{})
		}
		o = &sc.outs[len(sc.outs)-1]
		o.gain, o.encoded = g, [2]bool{}
		for i, x := range sc.sum {
			if g != unity {
				x = int32(int64(x) * int64(g) >> 12)
			}
			o.pcm[i] = limit(x)
		}
	}
	if !o.encoded[law] {
		media.Encode(lawCodec[law], o.enc[law][:], o.pcm[:])
		o.encoded[law] = true
		r.encoded.Add(1)
	}
	return o.enc[law][:]
}

// Participant is one session in a room.
type Participant struct {
	room *Room
	sess *media.Session
	rx   rxBuffer

	muted, deaf, hold    atomic.Bool
	talkGain, listenGain atomic.Int32
	talkingNow           atomic.Bool
	left                 atomic.Bool

	// Owned by the tick (under Room.mu).
	in       [frame]int16
	contrib  [frame]int32
	active   bool
	talking  bool
	silentMs int
	plays    []*player
	law      int
	lawKnown bool
}

// Session is the participant's media session.
func (p *Participant) Session() *media.Session { return p.sess }

// Room is the participant's room.
func (p *Participant) Room() *Room { return p.room }

// Talking reports whether the participant is talking (its last speech is
// less than the room's SilenceHangover ago).
func (p *Participant) Talking() bool { return p.talkingNow.Load() }

// SetMuted stops (or resumes) mixing the participant's audio; a muted
// participant is not talking.
func (p *Participant) SetMuted(on bool) { p.muted.Store(on) }

// Muted reports SetMuted's state.
func (p *Participant) Muted() bool { return p.muted.Load() }

// SetDeaf stops (or resumes) sending the room's audio to the participant;
// its own prompts still play. It is sent silence meanwhile.
func (p *Participant) SetDeaf(on bool) { p.deaf.Store(on) }

// Deaf reports SetDeaf's state.
func (p *Participant) Deaf() bool { return p.deaf.Load() }

// SetHold takes the participant out of the mix both ways while on: its
// audio is not mixed and nothing is sent to it, so its session is free
// for music on hold or a Playback (ConfBridge's wait for a marked user,
// music when alone). Its receive buffer keeps being fed and is flushed
// when hold ends.
func (p *Participant) SetHold(on bool) {
	if !on && p.hold.Load() {
		p.rx.reset()
	}
	p.hold.Store(on)
}

// SetTalkGain sets the gain (dB, -96..+18) applied to what the participant
// says before it is mixed.
func (p *Participant) SetTalkGain(db float64) { p.talkGain.Store(gainQ12(db)) }

// SetListenGain sets the gain (dB, -96..+18) applied to what the
// participant hears.
func (p *Participant) SetListenGain(db float64) { p.listenGain.Store(gainQ12(db)) }

// Leave removes the participant from the room and clears its session's
// sink; its running Play calls return ErrLeft. Once Leave returns the room
// sends nothing more to the session. It is idempotent.
func (p *Participant) Leave() {
	if p.left.Swap(true) {
		return
	}
	r := p.room
	r.mu.Lock()
	defer r.mu.Unlock()
	if i := slices.Index(r.parts, p); i >= 0 {
		r.parts = slices.Delete(r.parts, i, i+1)
		p.sess.SetSink(nil)
		r.stopTalkingLocked(p)
	}
	p.endPlaysLocked(ErrLeft)
}

func (p *Participant) endPlaysLocked(err error) {
	for _, pl := range p.plays {
		pl.finish(err)
	}
	p.plays = nil
}

// Play plays src to this participant alone, mixed with what it hears from
// the room (its PIN prompt, "you are the only person in this conference",
// a menu), after any earlier Play to it has finished; while the
// participant is on hold its prompts wait. It returns nil when src ends,
// ctx's error, ErrLeft or ErrRoomClosed. src is read on the pacing thread
// and must not block (audio in memory).
func (p *Participant) Play(ctx context.Context, src media.Source) error {
	pl := newPlayer(src)
	r := p.room
	r.mu.Lock()
	switch {
	case r.closed:
		r.mu.Unlock()
		return ErrRoomClosed
	case p.left.Load():
		r.mu.Unlock()
		return ErrLeft
	}
	p.plays = append(p.plays, pl)
	r.mu.Unlock()
	return pl.wait(ctx, func() {
		r.mu.Lock()
		p.plays = removePlayer(p.plays, pl)
		r.mu.Unlock()
	})
}
