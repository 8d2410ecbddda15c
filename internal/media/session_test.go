package media

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/pion/rtp"
)

// TestToneAcrossCall plays a generated 1 kHz tone from one session to the
// other and detects it on the far side with Goertzel.
func TestToneAcrossCall(t *testing.T) {
	env := newEnv(t)
	a, b := env.session(t), env.session(t)
	connect(t, a, b, []Codec{PCMU, PCMA}, []Codec{PCMA}, true)
	if a.Negotiated().Codec != PCMA || b.Negotiated().Codec != PCMA {
		t.Fatalf("negotiated %v / %v", a.Negotiated().Codec, b.Negotiated().Codec)
	}
	var got collector
	b.SetSink(got.sink)
	src := NewPCMReader(tone(1000, 8000, 8000, SampleRate)) // 1 s
	if err := a.Play(ctxTimeout(t, 5*time.Second), src); err != nil {
		t.Fatal(err)
	}
	pcm := got.waitFor(t, 7000, 2*time.Second)
	if p := DetectTone(pcm[800:7000], SampleRate, 1000); p < 0.8 {
		t.Errorf("1 kHz relative power %.3f at the far end", p)
	}
	if p := DetectTone(pcm[800:7000], SampleRate, 1500); p > 0.05 {
		t.Errorf("1.5 kHz relative power %.3f: not a clean tone", p)
	}
	if src.Pos() != 8000 {
		t.Errorf("source position %d after full play", src.Pos())
	}
	sa, sb := a.Stats(), b.Stats()
	if sa.PacketsOut != 50 || sa.BytesOut != 8000 {
		t.Errorf("sender stats %+v", sa)
	}
	if sb.PacketsIn != 50 || sb.Lost != 0 {
		t.Errorf("receiver stats %+v", sb)
	}
}

// TestBridgeTranscodes: C (PCMU) <-> A ==Bridge== B <-> D (PCMA). Tones go
// both ways, RFC 4733 digits cross with the peer's payload type and still
// show on the bridged leg's own DTMF channel.
func TestBridgeTranscodes(t *testing.T) {
	env := newEnv(t)
	c, a := env.session(t), env.session(t)
	b, d := env.session(t), env.session(t)
	connect(t, c, a, []Codec{PCMU}, []Codec{PCMU, PCMA}, true)
	// B offers PCMA with telephone-event on PT 96 (different from C's 101).
	ld := LocalDescription{Addr: b.LocalAddr(), Codecs: []Codec{PCMA}, DTMF: &Codec{Name: "telephone-event", PayloadType: 96, ClockRate: 8000}}
	offer, err := ParseSDP(ld.Marshal())
	if err != nil {
		t.Fatal(err)
	}
	nd, err := Negotiate(offer, []Codec{PCMA})
	if err != nil {
		t.Fatal(err)
	}
	d.SetRemote(nd)
	ans, _ := ParseSDP(nd.Answer(d.LocalAddr(), 1, 1).Marshal())
	nb, err := Negotiate(ans, []Codec{PCMA})
	if err != nil {
		t.Fatal(err)
	}
	b.SetRemote(nb)
	if a.Negotiated().Codec != PCMU || b.Negotiated().Codec != PCMA || b.Negotiated().DTMF.PayloadType != 96 {
		t.Fatalf("setup: a=%v b=%v", a.Negotiated(), b.Negotiated())
	}

	var prevA collector
	a.SetSink(prevA.sink)
	stop := Bridge(a, b)

	var atD, atC collector
	d.SetSink(atD.sink)
	c.SetSink(atC.sink)
	ctx := ctxTimeout(t, 5*time.Second)
	errc := make(chan error, 1)
	go func() { errc <- d.Play(ctx, NewPCMReader(tone(700, 8000, 8000, SampleRate))) }()
	if err := c.Play(ctx, NewPCMReader(tone(1000, 8000, 8000, SampleRate))); err != nil {
		t.Fatal(err)
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	pd := atD.waitFor(t, 7000, 2*time.Second)
	pc := atC.waitFor(t, 7000, 2*time.Second)
	if p := DetectTone(pd[800:7000], SampleRate, 1000); p < 0.8 {
		t.Errorf("1 kHz at D: %.3f", p)
	}
	if p := DetectTone(pc[800:7000], SampleRate, 700); p < 0.8 {
		t.Errorf("700 Hz at C: %.3f", p)
	}
	if n := len(prevA.samples()); n != 0 {
		t.Errorf("A's previous sink got %d samples while bridged", n)
	}

	// DTMF from C crosses to D (PT 101 -> 96) and shows on A too.
	if err := c.SendDTMF(ctx, '7', 120*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	for name, s := range map[string]*Session{"A": a, "D": d} {
		select {
		case got := <-s.DTMF():
			if got.Digit != '7' || got.Source != DTMFSourceRFC4733 {
				t.Errorf("%s got %+v", name, got)
			}
		case <-time.After(2 * time.Second):
			t.Errorf("%s: no digit", name)
		}
	}

	stop()
	stop() // idempotent
	// After stop A decodes into its previous sink again, nothing reaches D.
	before := len(atD.samples())
	if err := c.Play(ctx, NewPCMReader(tone(1000, 8000, 1600, SampleRate))); err != nil {
		t.Fatal(err)
	}
	prevA.waitFor(t, 1200, 2*time.Second)
	if after := len(atD.samples()); after != before {
		t.Errorf("D received %d samples after the bridge stopped", after-before)
	}
}

// TestDTMFSendReceive: digits sent with SendDTMF arrive exactly once, with
// about the right duration, and audio around them still flows.
func TestDTMFSendReceive(t *testing.T) {
	env := newEnv(t)
	a, b := env.session(t), env.session(t)
	connect(t, a, b, []Codec{PCMU}, []Codec{PCMU}, true)
	ctx := ctxTimeout(t, 10*time.Second)
	digits := "1#9*A"
	for _, d := range digits {
		if err := a.SendDTMF(ctx, d, 100*time.Millisecond); err != nil {
			t.Fatal(err)
		}
	}
	var got []DTMF
	timeout := time.After(2 * time.Second)
	for len(got) < len(digits) {
		select {
		case d := <-b.DTMF():
			got = append(got, d)
		case <-timeout:
			t.Fatalf("got %v, want %q", got, digits)
		}
	}
	for i, d := range got {
		if d.Digit != rune(digits[i]) || d.Duration != 100*time.Millisecond || d.Source != DTMFSourceRFC4733 {
			t.Errorf("digit %d: %+v", i, d)
		}
	}
	select {
	case d := <-b.DTMF():
		t.Errorf("extra digit %+v", d)
	case <-time.After(200 * time.Millisecond):
	}
	if st := b.Stats(); st.DTMFIn != uint64(len(digits)) {
		t.Errorf("DTMFIn %d", st.DTMFIn)
	}
	if err := a.SendDTMF(ctx, 'x', time.Second); err == nil {
		t.Error("bad digit accepted")
	}
	b.InjectDTMF(DTMF{Digit: '4', Duration: 250 * time.Millisecond})
	if d := <-b.DTMF(); d.Digit != '4' || d.Source != DTMFSourceInfo {
		t.Errorf("injected %+v", d)
	}
}

// sippDTMF replays the packets of SIPp's bundled dtmf_2833_1.pcap: a
// separate SSRC and sequence space, 20 ms updates, three identical end
// packets (same sequence number too).
func sippDTMF(t *testing.T, conn *net.UDPConn, to netip.AddrPort, event uint8, ts uint32) {
	t.Helper()
	seq := uint16(7984)
	send := func(marker, end bool, dur uint16) {
		p := rtp.Packet{Header: rtp.Header{Version: 2, Marker: marker, PayloadType: 101, SequenceNumber: seq, Timestamp: ts, SSRC: 0x0e05384e}}
		p.Payload = make([]byte, 4)
		telephoneEvent{Event: event, End: end, Volume: 10, Duration: dur}.marshalTo(p.Payload)
		b, _ := p.Marshal()
		if _, err := conn.WriteToUDPAddrPort(b, to); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 7 {
		send(i == 0, false, uint16(i*320))
		seq++
		time.Sleep(20 * time.Millisecond)
	}
	for range 3 {
		send(false, true, 2240)
	}
}

func TestDTMFSIPpPcapStyle(t *testing.T) {
	env := newEnv(t)
	s := env.session(t)
	peer, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer peer.Close()
	paddr := peer.LocalAddr().(*net.UDPAddr).AddrPort()
	te := DefaultTelephoneEvent
	s.SetRemote(Negotiated{Remote: paddr, Codec: PCMU, DTMF: &te, Direction: SendRecv})

	// Some audio on its own SSRC first, as a call would have.
	audio := rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 0, SequenceNumber: 100, Timestamp: 5000, SSRC: 0xabcdef}, Payload: make([]byte, 160)}
	for i := range 5 {
		audio.SequenceNumber = uint16(100 + i)
		audio.Timestamp = uint32(5000 + 160*i)
		b, _ := audio.Marshal()
		_, _ = peer.WriteToUDPAddrPort(b, s.LocalAddr())
	}
	sippDTMF(t, peer, s.LocalAddr(), 1, 13280)
	// The same pcap played again (same SSRC, seq and timestamp) is a new press.
	time.Sleep(300 * time.Millisecond)
	sippDTMF(t, peer, s.LocalAddr(), 1, 13280)
	sippDTMF(t, peer, s.LocalAddr(), 11, 92640)

	want := "11#"
	for i, w := range want {
		select {
		case d := <-s.DTMF():
			if d.Digit != w || d.Duration != 280*time.Millisecond {
				t.Errorf("digit %d: %+v, want %q 280ms", i, d, w)
			}
		case <-time.After(2 * time.Second):
			t.Fatalf("digit %d missing", i)
		}
	}
	select {
	case d := <-s.DTMF():
		t.Errorf("duplicate digit %+v", d)
	case <-time.After(200 * time.Millisecond):
	}
	if st := s.Stats(); st.Lost != 0 {
		t.Errorf("events disturbed audio loss accounting: %+v", st)
	}
}

// TestSymmetricRTP: the peer signals one port but sends from another; after
// its first packets we answer to where it really is.
func TestSymmetricRTP(t *testing.T) {
	env := newEnv(t)
	s := env.session(t)
	peer, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer peer.Close()
	signalled := netip.MustParseAddrPort("127.0.0.1:9") // discard: nobody there
	s.SetRemote(Negotiated{Remote: signalled, Codec: PCMU, Direction: SendRecv})
	if s.Remote() != signalled {
		t.Fatalf("remote %v", s.Remote())
	}
	pkt := rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 0, SSRC: 1}, Payload: make([]byte, 160)}
	for i := range learnPackets {
		pkt.SequenceNumber = uint16(i)
		b, _ := pkt.Marshal()
		_, _ = peer.WriteToUDPAddrPort(b, s.LocalAddr())
	}
	want := peer.LocalAddr().(*net.UDPAddr).AddrPort()
	deadline := time.Now().Add(2 * time.Second)
	for s.Remote() != want && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if s.Remote() != want {
		t.Fatalf("did not latch: %v", s.Remote())
	}
	if err := s.WriteFrame(make([]int16, FrameSamples)); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 1500)
	_ = peer.SetReadDeadline(time.Now().Add(2 * time.Second))
	n, _, err := peer.ReadFromUDPAddrPort(buf)
	if err != nil {
		t.Fatalf("no RTP at the learned address: %v", err)
	}
	var got rtp.Packet
	if err := got.Unmarshal(buf[:n]); err != nil || got.PayloadType != 0 || len(got.Payload) != 160 || !got.Marker {
		t.Errorf("got %v (err %v)", got.Header, err)
	}
	// Hold (re-INVITE with c=0.0.0.0): nothing is sent any more.
	s.SetRemote(Negotiated{Remote: netip.MustParseAddrPort("0.0.0.0:4000"), Codec: PCMU, Direction: RecvOnly, Hold: true})
	before := s.Stats().PacketsOut
	_ = s.WriteFrame(make([]int16, FrameSamples))
	if s.Stats().PacketsOut != before {
		t.Error("sent while on hold")
	}
}

func TestPlayCancelAndClose(t *testing.T) {
	env := newEnv(t)
	a, b := env.session(t), env.session(t)
	connect(t, a, b, []Codec{PCMU}, []Codec{PCMU}, false)
	src := NewPCMReader(make([]int16, 10*SampleRate))
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := a.Play(ctx, src)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Play: %v", err)
	}
	if el := time.Since(start); el > time.Second {
		t.Errorf("cancel took %v", el)
	}
	// Position is where playback stopped, not where read-ahead got to.
	sent := int64(a.Stats().PacketsOut) * FrameSamples
	if src.Pos() != sent {
		t.Errorf("Pos %d, sent %d samples", src.Pos(), sent)
	}
	if errors.Is(a.SendDTMF(context.Background(), '1', time.Second), ErrNoTelephoneEvent) == false {
		t.Error("SendDTMF without telephone-event should fail")
	}

	done := make(chan error, 1)
	go func() { done <- b.Play(context.Background(), NewPCMReader(make([]int16, 10*SampleRate))) }()
	time.Sleep(100 * time.Millisecond)
	_ = b.Close()
	select {
	case err := <-done:
		if !errors.Is(err, ErrSessionClosed) {
			t.Errorf("Play after Close: %v", err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("Play did not return on Close")
	}
	if _, ok := <-b.DTMF(); ok {
		t.Error("DTMF channel not closed")
	}
	if err := b.WriteFrame(make([]int16, FrameSamples)); !errors.Is(err, ErrSessionClosed) {
		t.Errorf("WriteFrame after Close: %v", err)
	}
}

// TestTimestampContinuity: successive Play calls continue sequence numbers;
// the timestamp jumps over the pause and the marker bit flags the restart.
func TestTimestampContinuity(t *testing.T) {
	env := newEnv(t)
	s := env.session(t)
	peer, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer peer.Close()
	s.SetRemote(Negotiated{Remote: peer.LocalAddr().(*net.UDPAddr).AddrPort(), Codec: PCMU, Direction: SendRecv})
	ctx := ctxTimeout(t, 5*time.Second)
	if err := s.Play(ctx, NewPCMReader(make([]int16, 3*FrameSamples))); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond)
	if err := s.Play(ctx, NewPCMReader(make([]int16, 2*FrameSamples))); err != nil {
		t.Fatal(err)
	}
	var pkts []rtp.Packet
	buf := make([]byte, 1500)
	for len(pkts) < 5 {
		_ = peer.SetReadDeadline(time.Now().Add(time.Second))
		n, _, err := peer.ReadFromUDPAddrPort(buf)
		if err != nil {
			t.Fatalf("after %d packets: %v", len(pkts), err)
		}
		var p rtp.Packet
		if err := p.Unmarshal(append([]byte(nil), buf[:n]...)); err != nil {
			t.Fatal(err)
		}
		pkts = append(pkts, p)
	}
	for i := 1; i < 5; i++ {
		if pkts[i].SequenceNumber != pkts[i-1].SequenceNumber+1 || pkts[i].SSRC != pkts[0].SSRC {
			t.Errorf("packet %d: seq %d after %d", i, pkts[i].SequenceNumber, pkts[i-1].SequenceNumber)
		}
	}
	markers := []bool{true, false, false, true, false}
	for i, p := range pkts {
		if p.Marker != markers[i] {
			t.Errorf("packet %d marker %v", i, p.Marker)
		}
	}
	if d := pkts[1].Timestamp - pkts[0].Timestamp; d != 160 {
		t.Errorf("ts step %d", d)
	}
	// ~200 ms pause (+ the 20 ms frame) in 8 kHz units, allow scheduling slop.
	if d := pkts[3].Timestamp - pkts[2].Timestamp; d < 1600 || d > 2400 {
		t.Errorf("ts across the pause advanced %d", d)
	}
}
