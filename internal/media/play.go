package media

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync/atomic"
	"time"
)

// Source produces 8 kHz linear PCM. ReadFrame fills pcm (normally 160
// samples) and returns how many samples it wrote; io.EOF (possibly with
// n > 0) ends the source.
type Source interface {
	ReadFrame(pcm []int16) (n int, err error)
}

// PCMSource is a seekable Source that knows where it is, in samples. Play
// rewinds it by what was read ahead but never sent, so Pos after an
// interrupted Play is where the caller stopped hearing it (AGI's endpos).
type PCMSource interface {
	Source
	Pos() int64
	Len() int64
	// Seek is io.Seeker with offsets in samples.
	Seek(offset int64, whence int) (int64, error)
}

// EncodedSource is an optional fast path for sources whose G.711 encoding
// is cached (FileCache prompts): ReadEncoded fills dst with up to len(dst)
// bytes of codec c, or returns ok=false when it cannot serve c.
type EncodedSource interface {
	ReadEncoded(c Codec, dst []byte) (n int, ok bool, err error)
}

// playRing is how many frames Play reads ahead of the pacer, so a source
// that is briefly slow never stalls the shared pacer thread.
const playRing = 3

// behindLimit: when the pacer is this late (a GC pause, overload), the stream
// shifts its schedule instead of bursting the backlog.
const behindLimit = 100 * time.Millisecond

type frameBuf struct {
	codec   Codec
	n       int // payload bytes (padded to a whole frame)
	samples int // source samples it holds
	data    [FrameSamples]byte
}

// playStream is a Play call as seen by the pacer thread.
type playStream struct {
	s        *Session
	start    int64
	frame    int64
	ready    chan *frameBuf
	free     chan *frameBuf
	stop     atomic.Bool
	complete atomic.Bool
	finished chan struct{}

	// direct is set for sources whose G.711 encoding is in memory (cached
	// prompts): the pacer thread copies each frame itself, so a playing
	// prompt costs no goroutine hand-off per packet. The ring is unused.
	direct EncodedSource
	buf    [FrameSamples]byte
}

// tickDirect sends the next frame of a cached prompt.
func (ps *playStream) tickDirect(now int64) bool {
	codec := ps.s.params.Load().neg.Codec
	if !codec.IsG711() {
		codec = PCMU
	}
	n, ok, err := ps.direct.ReadEncoded(codec, ps.buf[:])
	if !ok || n == 0 {
		return false
	}
	if n < FrameSamples {
		var zero [FrameSamples]int16
		n += Encode(codec, ps.buf[n:], zero[:FrameSamples-n])
	}
	_ = ps.s.sendEncoded(codec, ps.buf[:n], now)
	return err == nil
}

func (ps *playStream) tick(now int64) (int64, bool) {
	if ps.stop.Load() {
		return 0, false
	}
	if ps.direct != nil {
		if !ps.tickDirect(now) {
			ps.complete.Store(true)
			return 0, false
		}
		ps.frame++
		next := ps.start + ps.frame*int64(FrameDuration)
		if lag := now - next; lag > int64(behindLimit) {
			ps.start += lag
			next += lag
		}
		return next, true
	}
	select {
	case b, ok := <-ps.ready:
		if !ok {
			ps.complete.Store(true)
			return 0, false
		}
		_ = ps.s.sendEncoded(b.codec, b.data[:b.n], now)
		ps.free <- b // never blocks: free has room for every buffer
	default:
		// Underrun: the source is slower than real time; skip this slot.
	}
	ps.frame++
	next := ps.start + ps.frame*int64(FrameDuration)
	if lag := now - next; lag > int64(behindLimit) {
		ps.start += lag
		next += lag
	}
	return next, true
}

func (ps *playStream) detached() { close(ps.finished) }

// Play sends src to the peer paced at one 20 ms frame per deadline of the
// shared Pacer. It returns nil when src is exhausted, ctx.Err() when ctx is
// cancelled, ErrSessionClosed when the session closes, or the source's
// error. Timestamps and sequence numbers continue from earlier sends; the
// first packet after a pause carries the marker bit.
func (s *Session) Play(ctx context.Context, src Source) error {
	if s.isClosing() {
		return ErrSessionClosed
	}
	ps := &playStream{
		s:        s,
		ready:    make(chan *frameBuf, playRing),
		free:     make(chan *frameBuf, playRing),
		finished: make(chan struct{}),
	}
	for range playRing {
		ps.free <- new(frameBuf)
	}
	var pcm [FrameSamples]int16
	enc, _ := src.(EncodedSource)
	if enc != nil {
		if ok, err := s.playDirect(ctx, ps, enc); ok {
			return err
		}
	}
	// produce fills one buffer; it reports eof once the source is done.
	produce := func(b *frameBuf) (eof bool, err error) {
		codec := s.params.Load().neg.Codec
		if !codec.IsG711() {
			codec = PCMU
		}
		b.codec = codec
		var n int
		ok := false
		if enc != nil {
			n, ok, err = enc.ReadEncoded(codec, b.data[:])
		}
		if !ok {
			n, err = src.ReadFrame(pcm[:])
			n = Encode(codec, b.data[:], pcm[:max(0, min(n, FrameSamples))])
		}
		b.samples = n
		if n > 0 && n < FrameSamples {
			// Pad a short last frame with encoded silence.
			var zero [FrameSamples]int16
			n += Encode(codec, b.data[n:], zero[:FrameSamples-n])
		}
		b.n = n
		if errors.Is(err, io.EOF) {
			return true, nil
		}
		return false, err
	}
	var eof bool
	push := func(b *frameBuf) error {
		var err error
		eof, err = produce(b)
		if b.n > 0 {
			ps.ready <- b
		} else {
			ps.free <- b
		}
		if err != nil {
			return fmt.Errorf("media: play source: %w", err)
		}
		if eof {
			close(ps.ready)
		}
		return nil
	}
	for i := 0; i < playRing && !eof; i++ {
		if err := push(<-ps.free); err != nil {
			return err
		}
	}
	ps.start = monotonicNow() + int64(startDelay)
	if err := s.pacer.schedule(ps.start, ps); err != nil {
		return err
	}
	var srcErr error
	for {
		var free <-chan *frameBuf
		if !eof && srcErr == nil {
			free = ps.free
		}
		select {
		case b := <-free:
			if err := push(b); err != nil {
				srcErr = err
				ps.stop.Store(true)
			}
		case <-ps.finished:
			switch {
			case srcErr != nil:
				return srcErr
			case ps.complete.Load():
				return nil
			default:
				ps.rewind(src)
				return ErrPacerClosed
			}
		case <-ctx.Done():
			ps.stop.Store(true)
			<-ps.finished
			ps.rewind(src)
			return ctx.Err()
		case <-s.closing:
			ps.stop.Store(true)
			<-ps.finished
			ps.rewind(src)
			return ErrSessionClosed
		}
	}
}

// playDirect plays a source whose encoding is in memory from the pacer
// thread (see playStream.direct). It reports ok=false, having sent
// nothing, when the source cannot serve G.711 directly.
func (s *Session) playDirect(ctx context.Context, ps *playStream, enc EncodedSource) (bool, error) {
	// Probe with an empty read: it builds the cached encoding here rather
	// than on the pacer thread, and tells whether the fast path applies.
	codec := s.params.Load().neg.Codec
	if !codec.IsG711() {
		codec = PCMU
	}
	if _, ok, _ := enc.ReadEncoded(codec, nil); !ok {
		return false, nil
	}
	ps.direct = enc
	ps.start = monotonicNow() + int64(startDelay)
	if err := s.pacer.schedule(ps.start, ps); err != nil {
		return true, err
	}
	select {
	case <-ps.finished:
		if ps.complete.Load() {
			return true, nil
		}
		return true, ErrPacerClosed
	case <-ctx.Done():
		ps.stop.Store(true)
		<-ps.finished
		return true, ctx.Err()
	case <-s.closing:
		ps.stop.Store(true)
		<-ps.finished
		return true, ErrSessionClosed
	}
}

// rewind seeks a PCMSource back over frames read ahead but never sent. Only
// called after the pacer detached the stream, so the ring is ours.
func (ps *playStream) rewind(src Source) {
	seeker, ok := src.(PCMSource)
	if !ok {
		return
	}
	unsent := int64(0)
	for {
		select {
		case b, ok := <-ps.ready:
			if !ok {
				goto done
			}
			unsent += int64(b.samples)
		default:
			goto done
		}
	}
done:
	if unsent > 0 {
		_, _ = seeker.Seek(-unsent, io.SeekCurrent)
	}
}

// dtmfUpdate is the RFC 4733 update interval we send at (section 2.5.1.2
// suggests 50 ms).
const dtmfUpdate = 50 * time.Millisecond

// dtmfStream sends one RFC 4733 event as a pacer task.
type dtmfStream struct {
	s        *Session
	code     uint8
	total    uint16 // event duration in samples
	start    int64
	k        int64
	ts       uint32
	ends     int
	stop     atomic.Bool
	finished chan struct{}
	err      error
}

func (d *dtmfStream) tick(now int64) (int64, bool) {
	ev := telephoneEvent{Event: d.code, Volume: 10}
	if d.k == 0 {
		// Start packet: marker bit, duration 0 (RFC 4733 2.5.1.1/2.5.1.2).
		var marker bool
		d.ts, marker = d.s.beginEvent(now)
		d.err = d.s.sendEvent(d.ts, marker, ev, now)
		d.k++
		return d.start + d.k*int64(dtmfUpdate), true
	}
	elapsed := uint16(min(int64(d.total), d.k*int64(dtmfUpdate)*SampleRate/int64(time.Second)))
	if d.stop.Load() && d.ends == 0 {
		d.total = elapsed
		d.ends = 2 // one end packet is enough on cancel
	}
	if elapsed < d.total && d.ends == 0 {
		ev.Duration = elapsed
		d.err = d.s.sendEvent(d.ts, false, ev, now)
		d.k++
		return d.start + d.k*int64(dtmfUpdate), true
	}
	// End packets, sent three times at the update interval (2.5.1.4).
	ev.End, ev.Duration = true, d.total
	d.err = d.s.sendEvent(d.ts, false, ev, now)
	d.ends++
	if d.ends >= 3 {
		d.s.endEvent(d.ts, d.total)
		return 0, false
	}
	d.k++
	return d.start + d.k*int64(dtmfUpdate), true
}

func (d *dtmfStream) detached() {
	if d.k > 0 && d.ends < 3 {
		d.s.endEvent(d.ts, d.total) // pacer closed mid-event
	}
	close(d.finished)
}

// SendDTMF sends digit as an RFC 4733 telephone-event lasting duration
// (clamped to 40 ms .. 8 s, the 16-bit duration field): a start packet with
// the marker bit, updates every 50 ms and three end packets with the same
// timestamp, clocked by the Pacer. Audio is held back meanwhile. It returns
// when the last end packet is sent.
func (s *Session) SendDTMF(ctx context.Context, digit rune, duration time.Duration) error {
	code, ok := EventCode(digit)
	if !ok {
		return fmt.Errorf("media: %q is not a DTMF digit", digit)
	}
	if s.isClosing() {
		return ErrSessionClosed
	}
	if s.params.Load().neg.DTMF == nil {
		return ErrNoTelephoneEvent
	}
	duration = min(max(duration, 40*time.Millisecond), 8*time.Second)
	d := &dtmfStream{
		s:        s,
		code:     code,
		total:    uint16(duration * SampleRate / time.Second),
		finished: make(chan struct{}),
	}
	d.start = monotonicNow() + int64(startDelay)
	if err := s.pacer.schedule(d.start, d); err != nil {
		return err
	}
	select {
	case <-d.finished:
		return d.err
	case <-ctx.Done():
		d.stop.Store(true)
		<-d.finished
		return ctx.Err()
	case <-s.closing:
		d.stop.Store(true)
		<-d.finished
		return ErrSessionClosed
	}
}
