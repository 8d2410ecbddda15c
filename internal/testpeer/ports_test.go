package testpeer

import (
	"fmt"
	"net"
	"testing"
	"time"
)

func TestFreePorts(t *testing.T) {
	ports := FreePorts(t, 5)
	seen := map[int]bool{}
	for _, p := range ports {
		if seen[p] {
			t.Fatalf("duplicate port %d in %v", p, ports)
		}
		seen[p] = true
		u, err := net.ListenPacket("udp4", fmt.Sprintf("127.0.0.1:%d", p))
		if err != nil {
			t.Fatalf("udp %d not free: %v", p, err)
		}
		l, err := net.Listen("tcp4", fmt.Sprintf("127.0.0.1:%d", p))
		if err != nil {
			t.Fatalf("tcp %d not free: %v", p, err)
		}
		_ = u.Close()
		_ = l.Close()
	}
	if p := FreeUDPPort(t); p < portLow || p >= portHigh {
		t.Errorf("udp port %d outside [%d,%d)", p, portLow, portHigh)
	}
	if p := FreeTCPPort(t); p < portLow || p >= portHigh {
		t.Errorf("tcp port %d outside range", p)
	}
	b := FreePortBlock(t, 4)
	if b%2 != 0 {
		t.Errorf("block start %d is odd", b)
	}
	for p := b; p < b+4; p++ {
		c, err := net.ListenPacket("udp4", fmt.Sprintf("0.0.0.0:%d", p))
		if err != nil {
			t.Fatalf("block port %d not free: %v", p, err)
		}
		_ = c.Close()
	}
}

func TestPortInUse(t *testing.T) {
	c, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := c.LocalAddr().(*net.UDPAddr).Port
	if !PortInUse("udp", p) {
		t.Error("bound UDP port not seen")
	}
	_ = c.Close()
	if PortInUse("udp", p) {
		t.Error("closed UDP port still seen")
	}
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	tp := l.Addr().(*net.TCPAddr).Port
	if !PortInUse("tcp", tp) {
		t.Error("listening TCP port not seen")
	}
	_ = l.Close()
}

func TestRecordRTP(t *testing.T) {
	rec := RecordRTP(t)
	conn, err := net.Dial("udp4", rec.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = conn.Close() }()
	pkts, err := BuildRTPStream(PcapOptions{Audio: GenerateTone(1000, 200*time.Millisecond, 8000), DTMF: "7"})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pkts {
		b, err := p.Packet.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := conn.Write(b); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := conn.Write([]byte("not rtp")); err != nil {
		t.Fatal(err)
	}
	if !rec.WaitPackets(len(pkts), 2*time.Second) {
		t.Fatalf("got %d of %d packets", len(rec.Packets()), len(pkts))
	}
	if !rec.WaitQuiet(50*time.Millisecond, time.Second) {
		t.Error("stream not quiet")
	}
	if n := len(rec.Packets()); n != len(pkts) {
		t.Errorf("recorded %d packets (non-RTP kept?), want %d", n, len(pkts))
	}
	if got := rec.Digits(DefaultDTMFPayloadType); got != "7" {
		t.Errorf("digits %q", got)
	}
	if g := Goertzel(rec.PCM(PCMU)[:1600], SampleRate, 1000); g < 7000 {
		t.Errorf("tone level %.0f", g)
	}
	if len(rec.Gaps(uint8(PCMU))) != len(rec.PCM(PCMU))/160-1 {
		t.Error("gaps count")
	}
	rec.Close()
	rec.Close() // idempotent
}
