package main

import (
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

type pkt struct {
	at   time.Duration
	port uint16
	seq  uint16
	pt   byte // second RTP byte; 200 = RTCP sender report
}

// writePcap writes Ethernet/IPv4/UDP/RTP records, microsecond pcap.
func writePcap(t *testing.T, pkts []pkt) string {
	t.Helper()
	var b bytes.Buffer
	hdr := make([]byte, 24)
	binary.LittleEndian.PutUint32(hdr[0:], 0xa1b2c3d4)
	binary.LittleEndian.PutUint16(hdr[4:], 2)
	binary.LittleEndian.PutUint16(hdr[6:], 4)
	binary.LittleEndian.PutUint32(hdr[16:], 65535)
	binary.LittleEndian.PutUint32(hdr[20:], linkEthernet)
	b.Write(hdr)
	for _, p := range pkts {
		frame := make([]byte, 14+20+8+12+160)
		binary.BigEndian.PutUint16(frame[12:], 0x0800)
		ip := frame[14:]
		ip[0] = 0x45
		ip[9] = 17
		copy(ip[12:], []byte{127, 0, 0, 1})
		copy(ip[16:], []byte{127, 0, 0, 1})
		udp := ip[20:]
		binary.BigEndian.PutUint16(udp[0:], 30000)
		binary.BigEndian.PutUint16(udp[2:], p.port)
		rtp := udp[8:]
		rtp[0] = 0x80
		rtp[1] = p.pt
		binary.BigEndian.PutUint16(rtp[2:], p.seq)
		rec := make([]byte, 16)
		binary.LittleEndian.PutUint32(rec[0:], uint32(p.at/time.Second))
		binary.LittleEndian.PutUint32(rec[4:], uint32((p.at%time.Second)/time.Microsecond))
		binary.LittleEndian.PutUint32(rec[8:], uint32(len(frame)))
		binary.LittleEndian.PutUint32(rec[12:], uint32(len(frame)))
		b.Write(rec)
		b.Write(frame)
	}
	path := filepath.Join(t.TempDir(), "c.pcap")
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestRunPerStreamGaps(t *testing.T) {
	var pkts []pkt
	// stream A (port 6000): perfect 20 ms pacing, 100 packets
	// stream B (port 6004): every 10th gap is 23 ms (3 ms late), one lost packet
	tb := 5 * time.Millisecond
	for i := range 100 {
		pkts = append(pkts, pkt{at: time.Second + time.Duration(i)*20*time.Millisecond, port: 6000, seq: uint16(i)})
		if i == 50 { // seq 50 lost on stream B: its 40 ms gap must not count
			tb += 20 * time.Millisecond
			continue
		}
		gap := 20 * time.Millisecond
		if i%10 == 9 {
			gap = 23 * time.Millisecond
		}
		pkts = append(pkts, pkt{at: time.Second + tb, port: 6004, seq: uint16(i)})
		tb += gap
	}
	// RTCP sender reports to port 6001, and a stream too short to count
	pkts = append(pkts, pkt{at: time.Second, port: 6001, pt: 200}, pkt{at: 6 * time.Second, port: 6001, pt: 200})
	pkts = append(pkts, pkt{at: 2 * time.Second, port: 6008, seq: 1}, pkt{at: 3 * time.Second, port: 6008, seq: 9})
	var out bytes.Buffer
	if err := run(writePcap(t, pkts), 20*time.Millisecond, 10, &out); err != nil {
		t.Fatal(err)
	}
	got := out.String()
	for _, want := range []string{"streams=2 ", "packets=201 ", "p50=0.000ms", "max=3.000ms", "worst_stream_p99=3.000ms", "worst_port=6004", "seq_skips=1 ", "rtcp=2 "} {
		if !strings.Contains(got, want) {
			t.Errorf("output %q lacks %q", got, want)
		}
	}
	// gaps: 99 on A, 97 on B (98 consecutive pairs minus the skip)
	if !strings.Contains(got, "gaps=196 ") {
		t.Errorf("output %q: want gaps=196", got)
	}
}

func TestRunRejectsNonPcap(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.pcap")
	if err := os.WriteFile(path, []byte("this is not a capture file at all"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := run(path, 20*time.Millisecond, 1, &bytes.Buffer{}); err == nil {
		t.Fatal("want error for a non-pcap file")
	}
}
