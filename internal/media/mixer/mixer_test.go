package mixer

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/entvoice/entvoice/internal/media"
	"github.com/entvoice/entvoice/internal/media/mediatest"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// phone is a participant's far end: it sends a tone (or nothing) and
// collects what the room sends it.
type phone struct {
	sess  *media.Session
	part  *Participant
	freq  float64
	heard mediatest.Collector
	stop  context.CancelFunc
	done  chan struct{}
}

// speak makes the phone send a looped tone until hush (or the test ends).
func (ph *phone) speak(t *testing.T, freq, amp float64) {
	t.Helper()
	ph.hush()
	ph.freq = freq
	ctx, cancel := context.WithCancel(context.Background())
	ph.stop, ph.done = cancel, make(chan struct{})
	loop := &mediatest.Looper{PCM: mediatest.Tone(freq, amp, 8000)} // 1 s: whole periods of multiples of 1 Hz
	go func() {
		defer close(ph.done)
		_ = ph.sess.Play(ctx, loop)
	}()
	t.Cleanup(ph.hush)
}

func (ph *phone) hush() {
	if ph.stop != nil {
		ph.stop()
		<-ph.done
		ph.stop = nil
	}
}

// conference makes a room with n phones joined, codecs alternating PCMU
// and PCMA.
func conference(t *testing.T, env *mediatest.Env, n int, opts Options) (*Room, []*phone) {
	t.Helper()
	room, err := NewRoom(env.Pacer, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(room.Close)
	phones := make([]*phone, n)
	for i := range phones {
		c := media.PCMU
		if i%2 == 1 {
			c = media.PCMA
		}
		far, pbx := env.Pair(t, c)
		ph := &phone{sess: far}
		far.SetSink(ph.heard.Sink)
		if ph.part, err = room.Join(pbx, JoinOptions{}); err != nil {
			t.Fatal(err)
		}
		phones[i] = ph
	}
	return room, phones
}

// lastSamples waits until the phone has heard at least after more samples
// than it had, and returns the last n.
func lastSamples(t *testing.T, ph *phone, after, n int) []int16 {
	t.Helper()
	got := ph.heard.WaitFor(t, ph.heard.Len()+after, 5*time.Second)
	return got[len(got)-n:]
}

// TestEachHearsTheOthers: every phone sends its own tone; each hears all
// the others' and not its own, with PCMU and PCMA phones in one room.
func TestEachHearsTheOthers(t *testing.T) {
	for _, n := range []int{3, 10} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			env := mediatest.NewEnv(t)
			room, phones := conference(t, env, n, Options{})
			for i, ph := range phones {
				ph.speak(t, float64(350+150*i), 2500)
			}
			const window = 1600 // 200 ms: Goertzel bins of 5 Hz
			for _, ph := range phones {
				ph.heard.Reset()
			}
			worstOther, worstOwn := 1.0, 0.0
			for i, ph := range phones {
				got := ph.heard.WaitFor(t, 8000, 5*time.Second) // 1 s since all were talking
				pcm := got[len(got)-window:]
				for j, other := range phones {
					level := media.DetectTone(pcm, media.SampleRate, other.freq)
					if i == j {
						worstOwn = max(worstOwn, level)
					} else {
						worstOther = min(worstOther, level)
					}
					switch {
					case i == j && level > 0.01:
						t.Errorf("phone %d hears its own %v Hz tone (%.3f)", i, other.freq, level)
					case i != j && level < 0.5/float64(n-1):
						t.Errorf("phone %d hears phone %d's %v Hz tone at only %.3f", i, j, other.freq, level)
					}
				}
			}
			t.Logf("%d participants: weakest other tone %.3f (1/%d = %.3f), strongest own tone %.5f", n, worstOther, n-1, 1/float64(n-1), worstOwn)
			for _, ph := range phones {
				if !ph.part.Talking() {
					t.Errorf("%v Hz phone not talking", ph.freq)
				}
			}
			if st := room.Stats(); st.Sent == 0 || st.Mixed == 0 {
				t.Fatalf("stats %+v", st)
			}
		})
	}
}

// TestOneTalkerEncodesOnce: with one talker among PCMU and PCMA listeners
// the room encodes one frame per codec per tick (the talker hears
// silence, which is never encoded again).
func TestOneTalkerEncodesOnce(t *testing.T) {
	env := mediatest.NewEnv(t)
	room, phones := conference(t, env, 10, Options{})
	phones[0].speak(t, 700, 3000)
	pcm := lastSamples(t, phones[5], 4000, 1600)
	if l := media.DetectTone(pcm, media.SampleRate, 700); l < 0.8 {
		t.Fatalf("listener hears the talker at %.2f", l)
	}
	before, t0 := room.Stats(), time.Now()
	time.Sleep(500 * time.Millisecond)
	after, elapsed := room.Stats(), time.Since(t0)
	ticks := float64(after.Sent-before.Sent) / 10 // every tick sends to all 10
	if perTick := float64(after.Encoded-before.Encoded) / ticks; perTick < 1.9 || perTick > 2.1 {
		t.Fatalf("%.2f encodings per tick, want 2 (one per codec)", perTick)
	}
	if most := float64(elapsed)/float64(media.FrameDuration) + 2; ticks < 5 || ticks > most {
		t.Fatalf("%.0f ticks in %v", ticks, elapsed)
	}
	talker := lastSamples(t, phones[0], 1600, 1600)
	if e := media.Energy(talker); e > 10 {
		t.Fatalf("the talker hears energy %.0f, want silence", e)
	}
}

// rms is the median of the per-frame RMS of pcm, so that a frame lost to
// a late packet on a loaded machine does not move it.
func rms(pcm []int16) float64 {
	var r []float64
	for i := 0; i+frame <= len(pcm); i += frame {
		r = append(r, media.Energy(pcm[i:i+frame]))
	}
	slices.Sort(r)
	return r[len(r)/2]
}

// TestGains: talk gain scales what others hear of a participant, listen
// gain what a participant hears.
func TestGains(t *testing.T) {
	env := mediatest.NewEnv(t)
	_, phones := conference(t, env, 3, Options{})
	a, b, c := phones[0], phones[1], phones[2]
	a.speak(t, 500, 8000)
	ref := rms(lastSamples(t, b, 2400, 1600))
	if math.Abs(ref-8000/math.Sqrt2) > 300 {
		t.Fatalf("unity gain: rms %.0f, want about %.0f", ref, 8000/math.Sqrt2)
	}
	a.part.SetTalkGain(-6.02)
	c.part.SetListenGain(6.02)
	time.Sleep(100 * time.Millisecond)
	gotB := rms(lastSamples(t, b, 2400, 1600))
	gotC := rms(lastSamples(t, c, 2400, 1600))
	if math.Abs(gotB/ref-0.5) > 0.03 {
		t.Errorf("talk gain -6 dB: rms ratio %.3f, want 0.5", gotB/ref)
	}
	if math.Abs(gotC/ref-1) > 0.03 {
		t.Errorf("talk -6 dB and listen +6 dB: rms ratio %.3f, want 1", gotC/ref)
	}
	a.part.SetTalkGain(0)
	c.part.SetListenGain(-96)
	time.Sleep(100 * time.Millisecond)
	if got := rms(lastSamples(t, c, 2400, 1600)); got > 10 {
		t.Errorf("listen gain -96 dB: rms %.0f", got)
	}
}

// captureWriter is a FrameWriter keeping the recording in memory.
type captureWriter struct {
	mu  sync.Mutex
	pcm []int16
}

func (w *captureWriter) Write(pcm []int16) error {
	w.mu.Lock()
	w.pcm = append(w.pcm, pcm...)
	w.mu.Unlock()
	return nil
}

func (w *captureWriter) samples() []int16 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]int16(nil), w.pcm...)
}

// checkNoClipping: samples stay off full scale and never jump as a
// wrapped-around int16 would; the limiter was engaged.
func checkNoClipping(t *testing.T, what string, pcm []int16, maxStep int) {
	t.Helper()
	peak, atRail, step := 0, 0, 0
	for i, v := range pcm {
		peak = max(peak, abs(int(v)))
		if v == math.MaxInt16 || v == math.MinInt16 || v == -math.MaxInt16 {
			atRail++
		}
		if i > 0 {
			step = max(step, abs(int(v)-int(pcm[i-1])))
		}
	}
	if atRail > 0 || step > maxStep || peak <= knee {
		t.Errorf("%s: %d samples at full scale, largest step %d (max %d), peak %d (knee %d)", what, atRail, step, maxStep, peak, knee)
	}
}

func abs(x int) int { return max(x, -x) }

// TestNoClipping: three loud talkers sum far beyond int16; the recording
// (the mix before G.711) and each listener's audio are bent by the limiter,
// neither clipped flat nor wrapped.
func TestNoClipping(t *testing.T) {
	env := mediatest.NewEnv(t)
	room, phones := conference(t, env, 4, Options{})
	for i, ph := range phones[:3] {
		ph.speak(t, float64(400+100*i), 20000)
	}
	w := &captureWriter{}
	rec, err := room.Record(w)
	if err != nil {
		t.Fatal(err)
	}
	heard := lastSamples(t, phones[3], 8000, 4000)
	if err := rec.Stop(); err != nil {
		t.Fatal(err)
	}
	// Three tones of 20000 at up to 600 Hz change by at most
	// 3 x 2pi x 600 x 20000 / 8000, about 28300 per sample; a wrap jumps ~65000.
	checkNoClipping(t, "listener", heard, 30000)
	mix := w.samples()
	if len(mix) < 4000 {
		t.Fatalf("recorded %d samples", len(mix))
	}
	checkNoClipping(t, "recording", mix[len(mix)-4000:], 30000)
}

func TestLimiter(t *testing.T) {
	prev := limit(-1 << 30)
	for x := int32(-1 << 22); x <= 1<<22; x += 7 {
		y := limit(x)
		if y < prev {
			t.Fatalf("not monotonic at %d: %d after %d", x, y, prev)
		}
		if abs(int(x)) <= knee && int32(y) != x {
			t.Fatalf("limit(%d) = %d under the knee", x, y)
		}
		if y == math.MaxInt16 || y <= -math.MaxInt16 {
			t.Fatalf("limit(%d) = %d reaches full scale", x, y)
		}
		prev = y
	}
	if y := limit(math.MaxInt32); y == math.MaxInt16 || y < 32000 {
		t.Fatalf("limit(MaxInt32) = %d", y)
	}
	// Slope 1 at the knee: no kink.
	if d := limit(knee+100) - limit(knee); d < 98 || d > 100 {
		t.Fatalf("slope at the knee %d/100", d)
	}
}

func TestRxBuffer(t *testing.T) {
	var b rxBuffer
	var out [frame]int16
	seq := func(base int16, n int) []int16 {
		s := make([]int16, n)
		for i := range s {
			s[i] = base + int16(i%100)
		}
		return s
	}
	b.push(seq(0, frame))
	if b.pop(&out) {
		t.Fatal("played out before two frames were buffered")
	}
	b.push(seq(1000, 80)) // 10 ms packets are fine
	b.push(seq(2000, 80))
	if !b.pop(&out) || out[0] != 0 || out[159] != 59 {
		t.Fatalf("first frame %v...%v", out[0], out[159])
	}
	if !b.pop(&out) || out[0] != 1000 || out[80] != 2000 {
		t.Fatalf("second frame %v %v", out[0], out[80])
	}
	if b.pop(&out) {
		t.Fatal("underrun not reported")
	}
	b.push(seq(0, frame))
	if b.pop(&out) {
		t.Fatal("no re-priming after an underrun")
	}
	// Overflow keeps the newest audio; a long backlog is trimmed.
	b.reset()
	for i := range 12 {
		b.push(seq(int16(i*100), frame))
	}
	if b.n != rxCap {
		t.Fatalf("buffered %d", b.n)
	}
	if !b.pop(&out) || out[0] != 400 {
		t.Fatalf("after overflow got %d, want frame 4", out[0])
	}
	b.reset()
	for range 6 {
		b.push(seq(0, frame))
	}
	drops := 0
	for range 2 * driftTicks {
		before := b.n
		b.push(seq(0, frame))
		b.pop(&out)
		if b.n < before {
			drops++
		}
	}
	if drops != 2 {
		t.Fatalf("%d drift drops in %d ticks with 5 frames queued, want 2", drops, 2*driftTicks)
	}
}

// TestTalkingEvents: start and stop events in order, also on mute and leave.
func TestTalkingEvents(t *testing.T) {
	env := mediatest.NewEnv(t)
	type ev struct {
		p       *Participant
		talking bool
	}
	events := make(chan ev, 100)
	_, phones := conference(t, env, 3, Options{
		SilenceHangover: 200 * time.Millisecond,
		OnTalking:       func(p *Participant, on bool) { events <- ev{p, on} },
	})
	next := func(want *Participant, on bool) {
		t.Helper()
		select {
		case e := <-events:
			if e.p != want || e.talking != on {
				t.Fatalf("event talking=%v for %p, want %v for %p", e.talking, e.p, on, want)
			}
		case <-time.After(3 * time.Second):
			t.Fatalf("no talking=%v event", on)
		}
	}
	a, b := phones[0], phones[1]
	a.speak(t, 440, 3000)
	next(a.part, true)
	start := time.Now()
	a.hush()
	next(a.part, false)
	if el := time.Since(start); el < 200*time.Millisecond {
		t.Fatalf("stopped after %v, before the hangover", el)
	}
	a.speak(t, 440, 3000)
	next(a.part, true)
	a.part.SetMuted(true)
	next(a.part, false)
	if !a.part.Muted() || a.part.Talking() {
		t.Fatal("muted participant still talking")
	}
	a.part.SetMuted(false)
	next(a.part, true)
	b.speak(t, 600, 3000)
	next(b.part, true)
	b.part.Leave()
	next(b.part, false)
	b.part.Leave() // idempotent
	select {
	case e := <-events:
		t.Fatalf("unexpected event %+v", e)
	case <-time.After(100 * time.Millisecond):
	}
}

// TestPlayPrompts: a room prompt is heard by everyone (a talker too), a
// participant's prompt only by that participant.
func TestPlayPrompts(t *testing.T) {
	env := mediatest.NewEnv(t)
	room, phones := conference(t, env, 3, Options{})
	phones[0].speak(t, 400, 3000)
	ctx := context.Background()
	errc := make(chan error, 2)
	for _, ph := range phones {
		ph.heard.Reset()
	}
	go func() { errc <- room.Play(ctx, media.NewPCMReader(mediatest.Tone(1000, 3000, 8000))) }()
	go func() { errc <- phones[2].part.Play(ctx, media.NewPCMReader(mediatest.Tone(1500, 3000, 8000))) }()
	for i := range 2 {
		if err := <-errc; err != nil {
			t.Fatalf("play %d: %v", i, err)
		}
	}
	for i, ph := range phones {
		pcm := ph.heard.Samples()
		if len(pcm) < 8000 {
			t.Fatalf("phone %d heard %d samples", i, len(pcm))
		}
		best1000, best1500 := 0.0, 0.0
		for off := 0; off+1600 <= len(pcm); off += 800 {
			best1000 = max(best1000, media.DetectTone(pcm[off:off+1600], media.SampleRate, 1000))
			best1500 = max(best1500, media.DetectTone(pcm[off:off+1600], media.SampleRate, 1500))
		}
		if best1000 < 0.2 {
			t.Errorf("phone %d did not hear the room prompt (%.2f)", i, best1000)
		}
		if hears := best1500 > 0.2; hears != (i == 2) {
			t.Errorf("phone %d hears the private prompt: %.2f", i, best1500)
		}
	}
	// A cancelled Play returns at once with the context's error.
	cctx, cancel := context.WithCancel(ctx)
	go func() { time.Sleep(50 * time.Millisecond); cancel() }()
	if err := room.Play(cctx, &mediatest.Looper{PCM: make([]int16, 160)}); err != context.Canceled {
		t.Fatalf("cancelled play: %v", err)
	}
}

// TestRecordingWAV records a two-party mix to a WAV file.
func TestRecordingWAV(t *testing.T) {
	env := mediatest.NewEnv(t)
	room, phones := conference(t, env, 2, Options{})
	phones[0].speak(t, 500, 3000)
	phones[1].speak(t, 900, 3000)
	lastSamples(t, phones[0], 1600, 160) // audio flows
	path := filepath.Join(t.TempDir(), "conf.wav")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w, err := media.NewWAVWriter(f)
	if err != nil {
		t.Fatal(err)
	}
	rec, err := room.Record(w)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := room.Record(w); err != ErrRecording {
		t.Fatalf("second recording: %v", err)
	}
	time.Sleep(600 * time.Millisecond)
	if err := rec.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := rec.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	f.Close()
	pcm, err := media.LoadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(pcm) < 4000 || len(pcm) > 8000 || rec.Dropped() != 0 {
		t.Fatalf("recorded %d samples (dropped %d) in 600 ms", len(pcm), rec.Dropped())
	}
	tail := pcm[len(pcm)-1600:]
	for _, f := range []float64{500, 900} {
		if l := media.DetectTone(tail, media.SampleRate, f); l < 0.3 {
			t.Errorf("%v Hz at %.2f in the recording", f, l)
		}
	}
}

// TestHoldAndDeaf: a held participant is neither mixed nor sent anything;
// a deaf one is sent silence.
func TestHoldAndDeaf(t *testing.T) {
	env := mediatest.NewEnv(t)
	room, phones := conference(t, env, 3, Options{})
	a, b, c := phones[0], phones[1], phones[2]
	a.speak(t, 450, 3000)
	b.speak(t, 750, 3000)
	lastSamples(t, c, 1600, 160)
	a.part.SetHold(true)
	c.part.SetDeaf(true)
	time.Sleep(100 * time.Millisecond)
	n := a.heard.Len()
	pcm := lastSamples(t, c, 1600, 1600)
	if e := media.Energy(pcm); e > 10 {
		t.Errorf("deaf participant hears energy %.0f", e)
	}
	if !c.part.Deaf() {
		t.Error("Deaf() false")
	}
	if got := a.heard.Len() - n; got > 160 {
		t.Errorf("held participant was sent %d samples", got)
	}
	pcm = lastSamples(t, b, 1600, 1600)
	if l := media.DetectTone(pcm, media.SampleRate, 450); l > 0.01 {
		t.Errorf("held participant is still mixed (%.2f)", l)
	}
	a.part.SetHold(false)
	pcm = lastSamples(t, b, 3200, 1600)
	if l := media.DetectTone(pcm, media.SampleRate, 450); l < 0.5 {
		t.Errorf("participant back from hold not mixed (%.2f)", l)
	}
	if room.Len() != 3 {
		t.Fatal(room.Len())
	}
}

// TestJoinLeaveRace churns participants, settings and prompts while the
// room mixes; run under -race.
func TestJoinLeaveRace(t *testing.T) {
	env := mediatest.NewEnv(t)
	room, phones := conference(t, env, 4, Options{SilenceHangover: 100 * time.Millisecond, OnTalking: func(*Participant, bool) {}})
	for i, ph := range phones {
		ph.speak(t, float64(300+200*i), 3000)
	}
	var pbx []*media.Session
	for range 6 {
		far, s := env.Pair(t, media.PCMA)
		_ = far
		pbx = append(pbx, s)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
	defer cancel()
	var wg sync.WaitGroup
	for g, s := range pbx {
		wg.Go(func() {
			for i := 0; ctx.Err() == nil; i++ {
				p, err := room.Join(s, JoinOptions{Muted: i%3 == 0, TalkGain: -3})
				if err != nil {
					t.Error(err)
					return
				}
				if _, err := room.Join(s, JoinOptions{}); err != ErrJoined {
					t.Errorf("double join: %v", err)
				}
				p.SetDeaf(i%2 == 0)
				p.SetListenGain(float64(g))
				if i%4 == 0 {
					pctx, pcancel := context.WithTimeout(ctx, 30*time.Millisecond)
					_ = p.Play(pctx, media.NewPCMReader(mediatest.Tone(800, 2000, 800)))
					pcancel()
				}
				time.Sleep(time.Duration(5+g) * time.Millisecond)
				p.Leave()
				if err := p.Play(ctx, media.NewPCMReader(make([]int16, 160))); err != ErrLeft {
					t.Errorf("play after leave: %v", err)
				}
			}
		})
	}
	wg.Go(func() {
		for ctx.Err() == nil {
			pctx, pcancel := context.WithTimeout(ctx, 50*time.Millisecond)
			_ = room.Play(pctx, media.NewPCMReader(mediatest.Tone(1200, 2000, 400)))
			pcancel()
			for _, ph := range phones {
				ph.part.SetMuted(!ph.part.Muted())
			}
		}
	})
	wg.Wait()
	if room.Len() != len(phones) {
		t.Fatalf("%d participants left in the room", room.Len())
	}
	room.Close()
	room.Close()
	if _, err := room.Join(pbx[0], JoinOptions{}); err != ErrRoomClosed {
		t.Fatalf("join after close: %v", err)
	}
	if err := room.Play(ctx, media.NewPCMReader(make([]int16, 160))); err != ErrRoomClosed {
		t.Fatalf("play after close: %v", err)
	}
}

// TestCodecChange: a re-INVITE switching a participant from PCMU to PCMA
// mid-conference keeps its audio right (transcoded until the room looks
// the codec up again).
func TestCodecChange(t *testing.T) {
	env := mediatest.NewEnv(t)
	_, phones := conference(t, env, 2, Options{})
	phones[0].speak(t, 600, 5000)
	b := phones[1]
	if l := media.DetectTone(lastSamples(t, b, 4000, 1600), media.SampleRate, 600); l < 0.95 {
		t.Fatalf("before: %.2f", l)
	}
	mediatest.Connect(b.sess, b.part.Session(), media.PCMA)
	for range 3 {
		if l := media.DetectTone(lastSamples(t, b, 1600, 1600), media.SampleRate, 600); l < 0.95 {
			t.Fatalf("after the switch: %.2f", l)
		}
	}
}
