package media

import (
	"net"
	"strings"
	"testing"
	"time"
)

func TestParseCrypto(t *testing.T) {
	c, err := NewCrypto(1, SuiteAESCM80)
	if err != nil {
		t.Fatal(err)
	}
	back, err := ParseCrypto(c.String())
	if err != nil || back.Tag != 1 || back.Suite != SuiteAESCM80 || string(back.Key) != string(c.Key) {
		t.Fatalf("round trip %+v %v", back, err)
	}
	if g, _ := NewCrypto(2, SuiteGCM128); len(g.Key) != 28 {
		t.Errorf("AEAD_AES_128_GCM key+salt %d bytes, want 28 (RFC 7714 section 12)", len(g.Key))
	}
	// RFC 4568 section 9.1's example, lifetime kept.
	if _, err := ParseCrypto("1 AES_CM_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR|2^20"); err != nil {
		t.Errorf("RFC 4568 example: %v", err)
	}
	for _, bad := range []string{
		"", "1", "x AES_CM_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR",
		"1 F8_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR",
		"1 AES_CM_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR|2^20|1:4",
		"1 AES_CM_128_HMAC_SHA1_80 inline:c2hvcnQ=",
		"1 AES_CM_128_HMAC_SHA1_80 inline:@@@@",
		"1 AES_CM_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR KDR=1",
	} {
		if _, err := ParseCrypto(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// srtpConnect sets up a call a (offerer) <-> b with SDES: a offers every
// suite, b answers with the first it takes.
func srtpConnect(t *testing.T, a, b *Session, offered []string) {
	t.Helper()
	var ours []Crypto
	for i, s := range offered {
		c, err := NewCrypto(i+1, s)
		if err != nil {
			t.Fatal(err)
		}
		ours = append(ours, c)
	}
	ld := LocalDescription{Addr: a.LocalAddr(), Codecs: []Codec{PCMU}, Direction: SendRecv, Proto: "RTP/SAVP", Crypto: ours}
	offer, err := ParseSDP(ld.Marshal())
	if err != nil || !Secure(offer.Proto) || len(offer.Crypto) != len(ours) {
		t.Fatalf("offer %+v %v", offer, err)
	}
	nb, err := Negotiate(offer, []Codec{PCMU})
	if err != nil {
		t.Fatal(err)
	}
	mine, keys, err := AnswerCrypto(offer.Crypto, func(s string) (Crypto, error) { return NewCrypto(0, s) })
	if err != nil {
		t.Fatal(err)
	}
	nb.SRTP = keys
	b.SetRemote(nb)
	ad := nb.Answer(b.LocalAddr(), 2, 1)
	ad.Proto, ad.Crypto = offer.Proto, []Crypto{mine}
	answer, err := ParseSDP(ad.Marshal())
	if err != nil {
		t.Fatal(err)
	}
	na, err := Negotiate(answer, []Codec{PCMU})
	if err != nil {
		t.Fatal(err)
	}
	if na.SRTP, err = OfferedCrypto(ours, answer.Crypto); err != nil {
		t.Fatal(err)
	}
	a.SetRemote(na)
}

// TestSRTPCall: a tone crosses an SRTP call with each suite, both ways,
// and what goes on the wire is not the plain RTP.
func TestSRTPCall(t *testing.T) {
	for _, suite := range Suites() {
		t.Run(suite, func(t *testing.T) {
			env := newEnv(t)
			a, b := env.session(t), env.session(t)
			srtpConnect(t, a, b, []string{suite})
			if !a.Encrypted() || !b.Encrypted() {
				t.Fatal("not encrypted")
			}
			var atB, atA collector
			b.SetSink(atB.sink)
			a.SetSink(atA.sink)
			go func() { _ = b.Play(ctxTimeout(t, 5*time.Second), NewPCMReader(tone(700, 8000, 4000, SampleRate))) }()
			if err := a.Play(ctxTimeout(t, 5*time.Second), NewPCMReader(tone(1000, 8000, 4000, SampleRate))); err != nil {
				t.Fatal(err)
			}
			pcm := atB.waitFor(t, 3000, 2*time.Second)
			if p := DetectTone(pcm[400:3000], SampleRate, 1000); p < 0.8 {
				t.Errorf("b hears 1 kHz at %.2f", p)
			}
			pcm = atA.waitFor(t, 3000, 2*time.Second)
			if p := DetectTone(pcm[400:3000], SampleRate, 700); p < 0.8 {
				t.Errorf("a hears 700 Hz at %.2f", p)
			}
			if st := b.Stats(); st.SRTPDropped != 0 {
				t.Errorf("SRTP drops on a clean call: %+v", st)
			}
		})
	}
}

// TestSRTPRefusesForgedAndReplayed: a packet replayed from the wire, one
// keyed otherwise and one in clear are dropped and counted; the call's
// audio goes on.
func TestSRTPRefusesForgedAndReplayed(t *testing.T) {
	env := newEnv(t)
	a, b := env.session(t), env.session(t)
	srtpConnect(t, a, b, Suites())
	// A tap between a and b: a sends to it, it forwards to b and keeps
	// copies.
	tap, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer tap.Close()
	n := a.Negotiated()
	n.Remote = tap.LocalAddr().(*net.UDPAddr).AddrPort()
	a.SetRemote(n)
	var got collector
	b.SetSink(got.sink)
	if err := a.WriteFrame(tone(1000, 8000, 160, SampleRate)); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 1500)
	_ = tap.SetReadDeadline(time.Now().Add(2 * time.Second))
	k, _, err := tap.ReadFromUDP(buf)
	if err != nil {
		t.Fatal(err)
	}
	pkt := append([]byte(nil), buf[:k]...)
	if strings.Contains(string(pkt), string(Encode160(tone(1000, 8000, 160, SampleRate)))) {
		t.Fatal("payload on the wire in clear")
	}
	dst := net.UDPAddrFromAddrPort(b.LocalAddr())
	send := func(p []byte) {
		if _, err := tap.WriteToUDP(p, dst); err != nil {
			t.Fatal(err)
		}
	}
	send(pkt)
	got.waitFor(t, 160, 2*time.Second)
	send(pkt) // replayed
	forged := append([]byte(nil), pkt...)
	forged[len(forged)-1] ^= 0xff // auth tag broken
	send(forged)
	send(pkt[:12]) // truncated
	deadline := time.Now().Add(2 * time.Second)
	for b.Stats().SRTPDropped < 3 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if st := b.Stats(); st.SRTPDropped < 3 || st.PacketsIn != 1 {
		t.Fatalf("stats after replay, forgery, truncation: %+v", st)
	}
	if len(got.samples()) != 160 {
		t.Errorf("%d samples decoded, want the one genuine frame", len(got.samples()))
	}
}

// TestSRTPBridgesPlainRTP: an SRTP leg bridged to a plain RTP leg hears and
// is heard (the B2BUA decrypts on one side and encrypts on the other).
func TestSRTPBridgesPlainRTP(t *testing.T) {
	env := newEnv(t)
	phone, a := env.session(t), env.session(t)
	b, plain := env.session(t), env.session(t)
	srtpConnect(t, phone, a, []string{SuiteAESCM80})
	connect(t, b, plain, []Codec{PCMU}, []Codec{PCMU}, false)
	stop := Bridge(a, b)
	defer stop()
	var atPlain, atPhone collector
	plain.SetSink(atPlain.sink)
	phone.SetSink(atPhone.sink)
	go func() {
		_ = plain.Play(ctxTimeout(t, 5*time.Second), NewPCMReader(tone(700, 8000, 4000, SampleRate)))
	}()
	if err := phone.Play(ctxTimeout(t, 5*time.Second), NewPCMReader(tone(1000, 8000, 4000, SampleRate))); err != nil {
		t.Fatal(err)
	}
	if p := DetectTone(atPlain.waitFor(t, 3000, 2*time.Second)[400:3000], SampleRate, 1000); p < 0.8 {
		t.Errorf("plain leg hears the SRTP phone at %.2f", p)
	}
	if p := DetectTone(atPhone.waitFor(t, 3000, 2*time.Second)[400:3000], SampleRate, 700); p < 0.8 {
		t.Errorf("SRTP phone hears the plain leg at %.2f", p)
	}
}

// Encode160 is 160 PCMU bytes of pcm.
func Encode160(pcm []int16) []byte {
	out := make([]byte, 160)
	Encode(PCMU, out, pcm)
	return out
}
