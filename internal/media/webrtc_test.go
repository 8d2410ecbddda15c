package media

import (
	"context"
	"crypto/x509"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/pion/dtls/v3"
	"github.com/pion/rtp"
	"github.com/pion/srtp/v3"
	"github.com/pion/stun/v3"
)

// TestWebRTCStream plays a browser against a session: its ICE check (with
// the session's credentials) is answered and nominates its address, its
// DTLS handshake (as the client, presenting the certificate its SDP
// fingerprint names) keys SRTP both ways, and audio crosses; a check with
// a wrong password and a certificate the fingerprint does not name fail.
func TestWebRTCStream(t *testing.T) {
	env := newEnv(t)
	s := env.session(t)
	node, err := NewDTLSIdentity()
	if err != nil {
		t.Fatal(err)
	}
	browser, _ := NewDTLSIdentity()
	ufrag, pwd := NewICECredentials()
	te := DefaultTelephoneEvent
	s.SetRemote(Negotiated{Codec: PCMU, DTMF: &te, Direction: SendRecv})
	if err := s.StartWebRTC(WebRTCParams{Identity: node, LocalUfrag: ufrag, LocalPwd: pwd, RemoteUfrag: "brws", RemoteFingerprint: browser.Fingerprint}); err != nil {
		t.Fatal(err)
	}
	pc, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	dst := net.UDPAddrFromAddrPort(s.LocalAddr())
	check := func(password string) bool {
		req, _ := stun.Build(stun.TransactionID, stun.BindingRequest, stun.NewUsername(ufrag+":brws"),
			stun.RawAttribute{Type: stun.AttrUseCandidate}, stun.NewShortTermIntegrity(password), stun.Fingerprint)
		_, _ = pc.WriteToUDP(req.Raw, dst)
		_ = pc.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
		buf := make([]byte, 1500)
		n, _, err := pc.ReadFromUDP(buf)
		if err != nil {
			return false
		}
		res := &stun.Message{Raw: buf[:n]}
		if res.Decode() != nil || res.Type != stun.BindingSuccess || stun.NewShortTermIntegrity(pwd).Check(res) != nil {
			t.Fatalf("bad check answer")
		}
		var xa stun.XORMappedAddress
		if err := xa.GetFrom(res); err != nil || xa.Port != pc.LocalAddr().(*net.UDPAddr).Port {
			t.Errorf("XOR-MAPPED-ADDRESS %v %v", xa, err)
		}
		return true
	}
	if check("wrong-password") {
		t.Fatal("a check with a wrong password was answered")
	}
	if !check(pwd) {
		t.Fatal("the check was not answered")
	}
	if s.Remote() != pc.LocalAddr().(*net.UDPAddr).AddrPort() {
		t.Fatalf("nominated remote %v", s.Remote())
	}
	// Plain RTP before the keys: dropped.
	plain, _ := (&rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: 1, SSRC: 9}, Payload: make([]byte, 160)}).Marshal()
	_, _ = pc.WriteToUDP(plain, dst)

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = pc.SetReadDeadline(time.Time{})
	mux := &testDemux{UDPConn: pc, media: make(chan []byte, 64)}
	conn, err := dtls.ClientWithOptions(mux, dst, dtls.WithCertificates(browser.Cert), dtls.WithInsecureSkipVerify(true),
		dtls.WithSRTPProtectionProfiles(dtls.SRTP_AES128_CM_HMAC_SHA1_80), dtls.WithExtendedMasterSecret(dtls.RequireExtendedMasterSecret),
		dtls.WithVerifyPeerCertificate(func(raw [][]byte, _ [][]*x509.Certificate) error {
			if len(raw) == 0 || fingerprint(raw[0]) != node.Fingerprint {
				return errors.New("node fingerprint")
			}
			return nil
		}))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := conn.HandshakeContext(ctx); err != nil {
		t.Fatalf("DTLS: %v", err)
	}
	select {
	case <-s.Keyed():
	case <-ctx.Done():
		t.Fatal("not keyed")
	}
	st, _ := conn.ConnectionState()
	km, err := st.ExportKeyingMaterial("EXTRACTOR-dtls_srtp", nil, 60)
	if err != nil {
		t.Fatal(err)
	}
	tx, _ := srtp.CreateContext(km[:16], km[32:46], srtp.ProtectionProfileAes128CmHmacSha1_80)
	rx, _ := srtp.CreateContext(km[16:32], km[46:60], srtp.ProtectionProfileAes128CmHmacSha1_80)

	var heard collector
	s.SetSink(heard.sink)
	for i := range 10 {
		raw, _ := (&rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: uint16(100 + i), Timestamp: uint32(i * 160), SSRC: 9},
			Payload: Encode160(tone(1000, 8000, 160, SampleRate))}).Marshal()
		enc, _ := tx.EncryptRTP(nil, raw, nil)
		_, _ = pc.WriteToUDP(enc, dst)
	}
	if got := heard.waitFor(t, 1600, 2*time.Second); len(got) < 1600 {
		t.Fatalf("heard %d samples", len(got))
	}
	if err := s.WriteFrame(tone(700, 8000, 160, SampleRate)); err != nil {
		t.Fatal(err)
	}
	select {
	case b := <-mux.media:
		if _, err := rx.DecryptRTP(nil, b, nil); err != nil {
			t.Fatalf("node's SRTP: %v", err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("no SRTP from the node")
	}
	if !strings.Contains(s.Negotiated().Codec.Name, "PCMU") {
		t.Errorf("codec %v", s.Negotiated().Codec)
	}
}

// testDemux hands the DTLS client only DTLS records; RTP goes to media.
type testDemux struct {
	*net.UDPConn
	media chan []byte
}

func (d *testDemux) ReadFrom(p []byte) (int, net.Addr, error) {
	for {
		n, a, err := d.UDPConn.ReadFrom(p)
		if err != nil || n == 0 || p[0] < 128 {
			return n, a, err
		}
		select {
		case d.media <- append([]byte(nil), p[:n]...):
		default:
		}
	}
}
