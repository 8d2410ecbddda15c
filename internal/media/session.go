package media

import (
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
)

// ErrSessionClosed is returned by operations on a closed Session.
var ErrSessionClosed = errors.New("media: session closed")

// dtmfQueue is the DTMF channel's buffer; digits beyond it are dropped with
// a warning rather than blocking the RTP reader.
const dtmfQueue = 32

// learnPackets is how many consecutive packets from one new source address
// switch the send address to it (symmetric RTP, RFC 4961; Asterisk's
// "comedia"/rtp_symmetric).
const learnPackets = 2

// Session is one RTP endpoint of a call leg: an RTP/RTCP socket pair from the
// pool, a reader goroutine decoding what arrives, and a sender used by
// WriteFrame, Play, SendDTMF and the Bridge.
type Session struct {
	pool   *PortPool
	pacer  *Pacer
	logger *slog.Logger
	ports  *Pair
	rtp    *net.UDPConn // ports.RTP
	rtcp   *net.UDPConn // ports.RTCP
	local  netip.AddrPort

	// params is what the sender and reader use; replaced by SetRemote.
	params atomic.Pointer[sessionParams]
	// dest is where RTP goes: the signalled address, or the learned one.
	dest atomic.Pointer[netip.AddrPort]

	// crypt is the SRTP of the session (nil: plain RTP), replaced by
	// SetRemote when the keys change.
	crypt atomic.Pointer[srtpSession]
	// webrtc is set for a WebRTC stream (webrtc.go): ICE-lite, DTLS-SRTP,
	// rtcp-mux on the one socket.
	webrtc atomic.Pointer[webrtcState]

	sink atomic.Pointer[func([]int16)]
	fwd  atomic.Pointer[bridgeLeg]

	tx        sender
	stats     counters
	rtcpState rtcpState

	dtmfMu     sync.Mutex
	dtmf       chan DTMF
	dtmfClosed bool
	onDigit    atomic.Pointer[func(DTMF)]
	onBegin    atomic.Pointer[func(rune)]

	closeOnce sync.Once
	closing   chan struct{}
	mediaIn   chan struct{} // closed on the first accepted packet
	wg        sync.WaitGroup
}

// sessionParams is the negotiated state, immutable once published.
type sessionParams struct {
	neg Negotiated
	// generation changes on every SetRemote; the reader restarts learning.
	generation uint64
}

// NewSession allocates ports from pool and starts receiving. pacer clocks
// Play and SendDTMF. Until SetRemote (or symmetric RTP learning) gives a
// destination nothing is sent; received audio is decoded as PCMU/PCMA by
// payload type.
func NewSession(pool *PortPool, pacer *Pacer, logger *slog.Logger) (*Session, error) {
	if pool == nil || pacer == nil {
		return nil, errors.New("media: NewSession needs a port pool and a pacer")
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	ports, err := pool.Allocate()
	if err != nil {
		return nil, fmt.Errorf("media: new session: %w", err)
	}
	local := ports.RTP.LocalAddr().(*net.UDPAddr).AddrPort()
	s := &Session{
		pool:    pool,
		pacer:   pacer,
		logger:  logger, // "rtp" is added per message: a With per call costs a handler clone
		ports:   ports,
		rtp:     ports.RTP,
		rtcp:    ports.RTCP,
		local:   netip.AddrPortFrom(local.Addr().Unmap(), local.Port()),
		dtmf:    make(chan DTMF, dtmfQueue),
		closing: make(chan struct{}),
		mediaIn: make(chan struct{}),
	}
	s.tx.init(rand.Uint32(), uint16(rand.Uint32()), rand.Uint32())
	s.params.Store(&sessionParams{neg: Negotiated{Codec: PCMU, Direction: SendRecv}})
	s.wg.Add(2)
	go s.readLoop()
	go s.rtcpLoop()
	return s, nil
}

// LocalAddr is the RTP address to put in our SDP.
func (s *Session) LocalAddr() netip.AddrPort { return s.local }

// SSRC is the synchronisation source of what this session sends.
func (s *Session) SSRC() uint32 { return s.tx.ssrc }

// SetRemote applies an offer/answer outcome. It may be called again on a
// re-INVITE (hold, resume, new address or codec); symmetric-RTP learning
// restarts each time.
func (s *Session) SetRemote(n Negotiated) {
	if err := s.setSRTP(n.SRTP); err != nil {
		// Never fall back to sending in clear what was to be encrypted.
		s.logger.Error("media: SRTP keys refused; the stream stays silent", "rtp", s.local, "err", err)
		n.Direction = Inactive
	}
	old := s.params.Load()
	s.params.Store(&sessionParams{neg: n, generation: old.generation + 1})
	if s.webrtc.Load() != nil {
		return // the destination is the ICE pair's, not the SDP's
	}
	var dest netip.AddrPort
	if n.Remote.IsValid() && !n.Remote.Addr().IsUnspecified() && n.Remote.Port() != 0 {
		dest = netip.AddrPortFrom(n.Remote.Addr().Unmap(), n.Remote.Port())
	}
	s.dest.Store(&dest)
}

// Negotiated returns the parameters last given to SetRemote.
func (s *Session) Negotiated() Negotiated { return s.params.Load().neg }

// Remote returns where RTP is currently sent (the learned source after
// symmetric RTP latched), or an invalid AddrPort when nowhere.
func (s *Session) Remote() netip.AddrPort {
	if d := s.dest.Load(); d != nil {
		return *d
	}
	return netip.AddrPort{}
}

// SetSink sets the function that receives decoded audio (linear PCM, 8 kHz)
// of every received audio packet, on the reader goroutine. The slice is only
// valid during the call. It must not block; nil discards audio.
func (s *Session) SetSink(f func(pcm []int16)) {
	if f == nil {
		s.sink.Store(nil)
		return
	}
	s.sink.Store(&f)
}

func (s *Session) currentSink() func([]int16) {
	if p := s.sink.Load(); p != nil {
		return *p
	}
	return nil
}

// DTMF delivers received digits (RFC 4733 and injected SIP INFO). It is
// closed after Close.
func (s *Session) DTMF() <-chan DTMF { return s.dtmf }

// MediaStarted is closed when the first RTP packet from the peer has been
// accepted (Asterisk's Answer waits for it, see apps.Answer).
func (s *Session) MediaStarted() <-chan struct{} { return s.mediaIn }

// InjectDTMF takes a digit received by other means (SIP INFO,
// application/dtmf-relay): it begins now and ends, queued on the DTMF
// channel, once its duration has passed, as Asterisk emulates the end of
// a digit that arrives whole (main/channel.c, emulated DTMF). Source
// defaults to "info".
func (s *Session) InjectDTMF(d DTMF) {
	if d.Source == "" {
		d.Source = DTMFSourceInfo
	}
	s.beginDigit(d.Digit)
	if d.Duration <= 0 {
		s.deliverDTMF(d)
		return
	}
	time.AfterFunc(d.Duration, func() { s.deliverDTMF(d) })
}

// OnDigit sets a function told of every digit when it ends, before it is
// queued (the channel layer reports DTMFEnd with it). It must not block.
func (s *Session) OnDigit(f func(DTMF)) { s.onDigit.Store(&f) }

// OnDigitBegin sets a function told of every digit when it begins: the
// first RFC 4733 packet of its event, or the SIP INFO (the channel layer
// reports DTMFBegin with it). It must not block.
func (s *Session) OnDigitBegin(f func(rune)) { s.onBegin.Store(&f) }

func (s *Session) beginDigit(d rune) {
	if f := s.onBegin.Load(); f != nil {
		(*f)(d)
	}
}

func (s *Session) deliverDTMF(d DTMF) {
	if f := s.onDigit.Load(); f != nil {
		(*f)(d)
	}
	s.dtmfMu.Lock()
	defer s.dtmfMu.Unlock()
	if s.dtmfClosed {
		return
	}
	select {
	case s.dtmf <- d:
	default:
		s.logger.Warn("media: DTMF queue full, digit dropped", "rtp", s.local, "digit", string(d.Digit))
	}
}

// Done is closed when the session starts closing.
func (s *Session) Done() <-chan struct{} { return s.closing }

// Close stops the session: running Play/SendDTMF calls return
// ErrSessionClosed, the goroutines exit, the ports return to the pool and
// the DTMF channel is closed. It is idempotent.
func (s *Session) Close() error {
	s.closeOnce.Do(func() {
		close(s.closing)
		// A read deadline in the past unblocks the readers and leaves the
		// sockets open, for the pool to reuse.
		_ = s.rtp.SetReadDeadline(aLongTimeAgo)
		_ = s.rtcp.SetReadDeadline(aLongTimeAgo)
		s.wg.Wait()
		// A packet being sent finishes; later ones see closing (writeLocked).
		s.tx.mu.Lock()
		//lint:ignore SA2001 an empty critical section: a barrier for senders
		s.tx.mu.Unlock()
		s.pool.Release(s.ports)
		s.dtmfMu.Lock()
		s.dtmfClosed = true
		close(s.dtmf)
		s.dtmfMu.Unlock()
	})
	return nil
}

// aLongTimeAgo is a read deadline that has passed.
var aLongTimeAgo = time.Unix(1, 0)

func (s *Session) isClosing() bool {
	select {
	case <-s.closing:
		return true
	default:
		return false
	}
}

// Stats is a snapshot of a session's counters.
type Stats struct {
	PacketsIn, BytesIn   uint64
	PacketsOut, BytesOut uint64
	// Lost is expected minus received audio packets from sequence numbers
	// (RFC 3550 A.3), never negative.
	Lost int64
	// Jitter is the RFC 3550 A.8 interarrival jitter estimate.
	Jitter time.Duration
	// JitterUnits is the same estimate in timestamp units, as sent in RTCP.
	JitterUnits uint32
	// DTMFIn counts digits received from RFC 4733 events.
	DTMFIn uint64
	// Dropped counts packets ignored (wrong source, malformed, unknown PT).
	Dropped uint64
	// SRTPDropped counts SRTP and SRTCP packets that failed
	// authentication or were replayed (RFC 3711 sections 3.3.2, 3.4).
	SRTPDropped uint64
	// RTCP: reports sent and received, and what the peer last reported
	// about our stream (cumulative loss, jitter in timestamp units).
	RTCPOut, RTCPIn          uint64
	RemoteLost, RemoteJitter uint32
}

// Stats returns the current counters.
func (s *Session) Stats() Stats {
	st := s.stats.snapshot()
	st.RTCPOut = s.rtcpState.reportsOut.Load()
	st.RTCPIn = s.rtcpState.reportsIn.Load()
	st.RemoteLost = s.rtcpState.remoteLost.Load()
	st.RemoteJitter = s.rtcpState.remoteJitter.Load()
	return st
}

type counters struct {
	packetsIn, bytesIn   atomic.Uint64
	packetsOut, bytesOut atomic.Uint64
	lost                 atomic.Int64
	jitterUnits          atomic.Uint32
	clockRate            atomic.Uint32
	dtmfIn               atomic.Uint64
	dropped              atomic.Uint64
	srtpDropped          atomic.Uint64
}

func (c *counters) snapshot() Stats {
	rate := c.clockRate.Load()
	if rate == 0 {
		rate = SampleRate
	}
	j := c.jitterUnits.Load()
	return Stats{
		PacketsIn:   c.packetsIn.Load(),
		BytesIn:     c.bytesIn.Load(),
		PacketsOut:  c.packetsOut.Load(),
		BytesOut:    c.bytesOut.Load(),
		Lost:        max(0, c.lost.Load()),
		Jitter:      time.Duration(j) * time.Second / time.Duration(rate),
		JitterUnits: j,
		DTMFIn:      c.dtmfIn.Load(),
		Dropped:     c.dropped.Load(),
		SRTPDropped: c.srtpDropped.Load(),
	}
}

// NewLoopbackPair returns two sessions on the pool's address that send to
// each other: the two halves of a Local channel, so that bridges carry
// audio through it as through any SIP leg.
func NewLoopbackPair(pool *PortPool, pacer *Pacer, logger *slog.Logger) (a, b *Session, err error) {
	if a, err = NewSession(pool, pacer, logger); err != nil {
		return nil, nil, err
	}
	if b, err = NewSession(pool, pacer, logger); err != nil {
		a.Close()
		return nil, nil, err
	}
	dtmf := DefaultTelephoneEvent
	a.SetRemote(Negotiated{Remote: b.LocalAddr(), Codec: PCMU, DTMF: &dtmf, Direction: SendRecv})
	b.SetRemote(Negotiated{Remote: a.LocalAddr(), Codec: PCMU, DTMF: &dtmf, Direction: SendRecv})
	return a, b, nil
}
