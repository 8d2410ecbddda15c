package media

import (
	"net"
	"syscall"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/srtp/v3"
)

// The relay cost of a bridged call, plain RTP against SRTP on both legs:
// a phone sends packets into leg A, the bridge forwards them out of leg B
// to the far phone. The phones' packets are made before the timer starts
// (encrypted ones too), so what grows with SRTP is the session's own
// work: decrypting on A, encrypting on B. cpu-ns/pkt is the process's CPU
// (user+system, the kernel's socket work included) per relayed packet;
// bench/srtp.sh turns it into calls per core.

func BenchmarkRelayRTP(b *testing.B)  { benchRelay(b, "") }
func BenchmarkRelaySRTP(b *testing.B) { benchRelay(b, SuiteAESCM80) }
func BenchmarkRelayGCM(b *testing.B)  { benchRelay(b, SuiteGCM128) }

func benchRelay(b *testing.B, suite string) {
	env := newEnv(b)
	a, bb := env.session(b), env.session(b)
	phone, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		b.Fatal(err)
	}
	defer phone.Close()
	far, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		b.Fatal(err)
	}
	defer far.Close()
	_ = far.SetReadBuffer(4 << 20)
	te := DefaultTelephoneEvent
	na := Negotiated{Remote: phone.LocalAddr().(*net.UDPAddr).AddrPort(), Codec: PCMU, DTMF: &te, Direction: SendRecv}
	nb := Negotiated{Remote: far.LocalAddr().(*net.UDPAddr).AddrPort(), Codec: PCMU, DTMF: &te, Direction: SendRecv}
	var phoneKey []byte
	if suite != "" {
		ka, _ := NewCrypto(1, suite)
		kp, _ := NewCrypto(1, suite)
		kb, _ := NewCrypto(1, suite)
		kf, _ := NewCrypto(1, suite)
		na.SRTP = &SRTP{Suite: suite, Local: ka.Key, Remote: kp.Key}
		nb.SRTP = &SRTP{Suite: suite, Local: kb.Key, Remote: kf.Key}
		phoneKey = kp.Key
	}
	a.SetRemote(na)
	bb.SetRemote(nb)
	stop := Bridge(a, bb)
	defer stop()

	n := min(b.N, 200000)
	pkts := make([][]byte, n)
	payload := make([]byte, 160)
	var ctx *srtp.Context
	if suite != "" {
		p, _ := suiteProfile(suite)
		kl, _, _ := keySaltLen(suite)
		ctx, err = srtp.CreateContext(phoneKey[:kl], phoneKey[kl:], p)
		if err != nil {
			b.Fatal(err)
		}
	}
	for i := range pkts {
		h := rtp.Header{Version: 2, PayloadType: 0, SequenceNumber: uint16(i), Timestamp: uint32(i * 160), SSRC: 0x1234}
		raw, _ := (&rtp.Packet{Header: h, Payload: payload}).Marshal()
		if ctx != nil {
			if raw, err = ctx.EncryptRTP(nil, raw, nil); err != nil {
				b.Fatal(err)
			}
		}
		pkts[i] = raw
	}
	dst := net.UDPAddrFromAddrPort(a.LocalAddr())
	buf := make([]byte, 1500)
	lost := 0
	relay := func(k int) {
		sent := 0
		got := 0
		for sent < k {
			// Bursts small enough for the socket buffers.
			burst := min(64, k-sent)
			for j := 0; j < burst; j++ {
				_, _ = phone.WriteToUDP(pkts[(sent+j)%n], dst)
			}
			sent += burst
			_ = far.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
			for got < sent {
				if _, _, err := far.ReadFromUDP(buf); err != nil {
					lost += sent - got // lost in a burst
					break
				}
				got++
			}
			got = sent
		}
	}
	relay(min(200, n)) // latch symmetric RTP, warm up
	// Replays would be dropped: restart the sequence space of the phone.
	if suite != "" {
		n2 := min(b.N, 200000)
		for i := range pkts[:n2] {
			h := rtp.Header{Version: 2, PayloadType: 0, SequenceNumber: uint16(1000 + i), Timestamp: uint32(i * 160), SSRC: 0x1234}
			raw, _ := (&rtp.Packet{Header: h, Payload: payload}).Marshal()
			pkts[i], _ = ctx.EncryptRTP(nil, raw, nil)
		}
	}
	var r0, r1 syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &r0)
	b.ResetTimer()
	relay(min(b.N, n))
	b.StopTimer()
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &r1)
	cpu := time.Duration(r1.Utime.Nano()-r0.Utime.Nano()) + time.Duration(r1.Stime.Nano()-r0.Stime.Nano())
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(min(b.N, n)), "cpu-ns/pkt")
	b.ReportMetric(float64(lost)/float64(min(b.N, n)+200), "lost/pkt")
	if st := a.Stats(); st.SRTPDropped > 0 {
		b.Logf("SRTP drops %d", st.SRTPDropped)
	}
}
