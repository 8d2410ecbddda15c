package media

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/pion/dtls/v3"
	"github.com/pion/stun/v3"
)

// WebRTC media (RFC 8825 and RFC 8829 for what a browser expects): one
// socket carries STUN, DTLS and SRTP/SRTCP (rtcp-mux, RFC 5761), told apart
// by their first byte (RFC 7983 section 7). The node is an ICE-lite agent
// (RFC 8445 section 2.5): it answers the browser's connectivity checks and
// sends to the address whose check nominated the pair; it is the DTLS
// server (a=setup:passive, or the browser's active), and the SRTP keys
// come from the handshake (DTLS-SRTP, RFC 5764). Nothing is sent, and
// nothing received is accepted, until those keys exist.

// DTLSIdentity is the certificate the node's DTLS servers present, and
// its SHA-256 fingerprint for SDP (RFC 8122 section 5).
type DTLSIdentity struct {
	Cert        tls.Certificate
	Fingerprint string // "AB:CD:..." upper-case hex
}

// NewDTLSIdentity makes a self-signed ECDSA P-256 certificate (RFC 8827
// section 6.5: WebRTC endpoints use self-signed certificates, bound to the
// session by the fingerprint in the signalling).
func NewDTLSIdentity() (*DTLSIdentity, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("media: DTLS key: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		return nil, fmt.Errorf("media: DTLS serial: %w", err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{SerialNumber: serial, Subject: pkix.Name{CommonName: "entVoice"},
		NotBefore: now.Add(-24 * time.Hour), NotAfter: now.AddDate(1, 0, 0)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("media: DTLS certificate: %w", err)
	}
	return &DTLSIdentity{Cert: tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, Fingerprint: fingerprint(der)}, nil
}

func fingerprint(der []byte) string {
	sum := sha256.Sum256(der)
	h := strings.ToUpper(hex.EncodeToString(sum[:]))
	var b strings.Builder
	for i := 0; i < len(h); i += 2 {
		if i > 0 {
			b.WriteByte(':')
		}
		b.WriteString(h[i : i+2])
	}
	return b.String()
}

// WebRTCParams are what the signalling settled for a WebRTC stream.
type WebRTCParams struct {
	Identity *DTLSIdentity
	// LocalUfrag/LocalPwd are our ICE credentials (in our SDP);
	// RemoteUfrag the browser's (its checks carry "ours:theirs").
	LocalUfrag, LocalPwd, RemoteUfrag string
	// RemoteFingerprint is the browser's a=fingerprint (sha-256): its
	// DTLS certificate must match it (RFC 5763 section 5).
	RemoteFingerprint string
}

// NewICECredentials makes an ICE ufrag and password (RFC 8445 section
// 5.3: at least 24 and 128 bits of randomness).
func NewICECredentials() (ufrag, pwd string) {
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	h := hex.EncodeToString(b)
	return h[:8], h[8:]
}

// webrtcState is a session's WebRTC transport.
type webrtcState struct {
	p       WebRTCParams
	in      chan []byte // DTLS records from the reader
	keyed   chan struct{}
	closeMu sync.Mutex
	closed  bool
	done    chan struct{}
}

// ErrNotWebRTC: the stream is not set up for WebRTC.
var ErrNotWebRTC = errors.New("media: not a WebRTC stream")

// StartWebRTC makes the session a WebRTC stream: rtcp-mux, the ICE-lite
// responder, and a DTLS server whose handshake keys SRTP. It returns at
// once; Keyed is closed when SRTP is keyed. Calling it again with the same
// credentials does nothing (a re-INVITE).
func (s *Session) StartWebRTC(p WebRTCParams) error {
	if p.Identity == nil || p.LocalPwd == "" || p.RemoteFingerprint == "" {
		return errors.New("media: WebRTC needs an identity, ICE credentials and the peer's fingerprint")
	}
	if cur := s.webrtc.Load(); cur != nil {
		if cur.p.LocalUfrag == p.LocalUfrag && cur.p.RemoteUfrag == p.RemoteUfrag && cur.p.RemoteFingerprint == p.RemoteFingerprint {
			return nil
		}
		return errors.New("media: WebRTC restart (new ICE or DTLS parameters) is not supported")
	}
	w := &webrtcState{p: p, in: make(chan []byte, 64), keyed: make(chan struct{}), done: make(chan struct{})}
	s.webrtc.Store(w)
	s.wg.Add(1)
	go s.runDTLS(w)
	return nil
}

// Keyed is closed once a WebRTC stream's DTLS handshake has keyed SRTP
// (nil for other streams).
func (s *Session) Keyed() <-chan struct{} {
	if w := s.webrtc.Load(); w != nil {
		return w.keyed
	}
	return nil
}

// demux routes a datagram of a WebRTC stream: STUN (first byte 0-3) to
// the ICE-lite responder, DTLS (20-63) to the handshake; RTP and RTCP
// (128-191) go on. It reports whether the reader is done with it.
func (s *Session) demux(w *webrtcState, b []byte, src netip.AddrPort) bool {
	if len(b) == 0 {
		return true
	}
	switch c := b[0]; {
	case c <= 3:
		s.answerCheck(w, b, src)
		return true
	case c >= 20 && c <= 63:
		pkt := append([]byte(nil), b...)
		select {
		case w.in <- pkt:
		default: // the handshake is not reading: dropped, DTLS retransmits
		}
		return true
	case c >= 128 && c <= 191:
		return false
	}
	s.stats.dropped.Add(1)
	return true
}

// answerCheck answers an ICE connectivity check (a STUN Binding request
// with USERNAME "ours:theirs" and MESSAGE-INTEGRITY keyed with our
// password, RFC 8445 section 7.3) with its source as XOR-MAPPED-ADDRESS.
// A check that nominates (USE-CANDIDATE; a lite agent takes the
// controlling agent's nomination, section 8.2) makes its source where the
// stream's media goes.
func (s *Session) answerCheck(w *webrtcState, b []byte, src netip.AddrPort) {
	m := &stun.Message{Raw: append([]byte(nil), b...)}
	if err := m.Decode(); err != nil || m.Type != stun.BindingRequest {
		s.stats.dropped.Add(1)
		return
	}
	var user stun.Username
	if err := user.GetFrom(m); err != nil || !strings.HasPrefix(user.String(), w.p.LocalUfrag+":") {
		s.stats.dropped.Add(1)
		return
	}
	if err := stun.NewShortTermIntegrity(w.p.LocalPwd).Check(m); err != nil {
		s.stats.dropped.Add(1)
		return
	}
	res, err := stun.Build(stun.NewTransactionIDSetter(m.TransactionID), stun.BindingSuccess,
		&stun.XORMappedAddress{IP: src.Addr().AsSlice(), Port: int(src.Port())},
		stun.NewShortTermIntegrity(w.p.LocalPwd), stun.Fingerprint)
	if err != nil {
		return
	}
	if _, err := s.rtp.WriteToUDPAddrPort(res.Raw, src); err != nil {
		s.logger.Debug("media: STUN answer", "rtp", s.local, "err", err)
	}
	if m.Contains(stun.AttrUseCandidate) || !s.Remote().IsValid() {
		if cur := s.Remote(); cur != src {
			dest := src
			s.dest.Store(&dest)
			s.logger.Debug("media: ICE pair nominated", "rtp", s.local, "remote", src.String())
		}
	}
}

// runDTLS is the DTLS server of a WebRTC stream: the browser (the client,
// a=setup:active) starts the handshake once ICE has a pair; the exported
// keying material keys SRTP (RFC 5764 section 4.2).
func (s *Session) runDTLS(w *webrtcState) {
	defer s.wg.Done()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	go func() {
		select {
		case <-s.closing:
			cancel()
		case <-ctx.Done():
		}
	}()
	pc := &dtlsPacketConn{s: s, w: w, raddr: &net.UDPAddr{IP: net.IPv4zero}}
	conn, err := dtls.ServerWithOptions(pc, pc.raddr,
		dtls.WithCertificates(w.p.Identity.Cert),
		dtls.WithSRTPProtectionProfiles(dtls.SRTP_AEAD_AES_128_GCM, dtls.SRTP_AES128_CM_HMAC_SHA1_80),
		dtls.WithExtendedMasterSecret(dtls.RequireExtendedMasterSecret),
		dtls.WithClientAuth(dtls.RequireAnyClientCert),
		dtls.WithVerifyPeerCertificate(func(raw [][]byte, _ [][]*x509.Certificate) error {
			if len(raw) == 0 || !strings.EqualFold(fingerprint(raw[0]), w.p.RemoteFingerprint) {
				return errors.New("media: DTLS certificate does not match the SDP fingerprint")
			}
			return nil
		}))
	if err != nil {
		s.logger.Warn("media: DTLS", "rtp", s.local, "err", err)
		return
	}
	defer conn.Close()
	if err := conn.HandshakeContext(ctx); err != nil {
		if !s.isClosing() {
			s.logger.Warn("media: DTLS handshake failed; the stream stays silent", "rtp", s.local, "err", err)
		}
		return
	}
	st, ok := conn.ConnectionState()
	if !ok {
		return
	}
	profile, _ := conn.SelectedSRTPProtectionProfile()
	suite, ok := dtlsSuite(profile)
	if !ok {
		s.logger.Warn("media: DTLS chose no SRTP profile", "rtp", s.local)
		return
	}
	kl, sl, _ := keySaltLen(suite)
	km, err := st.ExportKeyingMaterial("EXTRACTOR-dtls_srtp", nil, 2*(kl+sl))
	if err != nil {
		s.logger.Warn("media: DTLS-SRTP keys", "rtp", s.local, "err", err)
		return
	}
	// client key, server key, client salt, server salt; we are the server.
	clientKey, serverKey := km[:kl], km[kl:2*kl]
	clientSalt, serverSalt := km[2*kl:2*kl+sl], km[2*kl+sl:]
	keys := &SRTP{Suite: suite,
		Local:  append(append([]byte(nil), serverKey...), serverSalt...),
		Remote: append(append([]byte(nil), clientKey...), clientSalt...)}
	if err := s.setSRTP(keys); err != nil {
		s.logger.Error("media: DTLS-SRTP keys refused", "rtp", s.local, "err", err)
		return
	}
	close(w.keyed)
	s.logger.Debug("media: DTLS-SRTP keyed", "rtp", s.local, "suite", suite)
	// Keep the association (the browser's close_notify ends it).
	select {
	case <-s.closing:
	case <-w.done:
	}
}

func dtlsSuite(p dtls.SRTPProtectionProfile) (string, bool) {
	switch p {
	case dtls.SRTP_AES128_CM_HMAC_SHA1_80:
		return SuiteAESCM80, true
	case dtls.SRTP_AEAD_AES_128_GCM:
		return SuiteGCM128, true
	}
	return "", false
}

// dtlsPacketConn is the DTLS side of the shared socket: it reads what
// demux handed over and writes to the stream's current remote.
type dtlsPacketConn struct {
	s *Session
	w *webrtcState
	// raddr is the one peer address the DTLS connection knows; where
	// its records really go is the ICE pair's, which may change.
	raddr    net.Addr
	mu       sync.Mutex
	deadline time.Time
}

func (c *dtlsPacketConn) ReadFrom(p []byte) (int, net.Addr, error) {
	c.mu.Lock()
	d := c.deadline
	c.mu.Unlock()
	var timer <-chan time.Time
	if !d.IsZero() {
		t := time.NewTimer(time.Until(d))
		defer t.Stop()
		timer = t.C
	}
	select {
	case b := <-c.w.in:
		return copy(p, b), c.raddr, nil
	case <-c.s.closing:
		return 0, nil, net.ErrClosed
	case <-c.w.done:
		return 0, nil, net.ErrClosed
	case <-timer:
		return 0, nil, timeoutError{}
	}
}

func (c *dtlsPacketConn) WriteTo(p []byte, _ net.Addr) (int, error) {
	r := c.s.Remote()
	if !r.IsValid() {
		return len(p), nil // no nominated pair yet: the handshake retransmits
	}
	return c.s.rtp.WriteToUDPAddrPort(p, r)
}

func (c *dtlsPacketConn) Close() error {
	c.w.closeMu.Lock()
	defer c.w.closeMu.Unlock()
	if !c.w.closed {
		c.w.closed = true
		close(c.w.done)
	}
	return nil
}

func (c *dtlsPacketConn) LocalAddr() net.Addr { return net.UDPAddrFromAddrPort(c.s.local) }

func (c *dtlsPacketConn) SetDeadline(t time.Time) error { return c.SetReadDeadline(t) }

func (c *dtlsPacketConn) SetReadDeadline(t time.Time) error {
	c.mu.Lock()
	c.deadline = t
	c.mu.Unlock()
	return nil
}

func (c *dtlsPacketConn) SetWriteDeadline(time.Time) error { return nil }

type timeoutError struct{}

func (timeoutError) Error() string   { return "media: DTLS read timeout" }
func (timeoutError) Timeout() bool   { return true }
func (timeoutError) Temporary() bool { return true }
