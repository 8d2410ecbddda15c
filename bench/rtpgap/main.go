// Command rtpgap measures RTP pacing as the receiver sees it: it reads a pcap
// capture (tcpdump -w), groups the UDP packets by destination address and port
// (one stream per call in the benchmarks), and prints the distribution of
// |gap - ptime| between consecutive packets of each stream.
//
//	rtpgap [-ptime 20ms] [-min-packets 50] capture.pcap
//
// Only gaps between packets whose RTP sequence numbers are consecutive
// (RFC 3550 section 5.1) are counted, so a packet lost on the way or dropped by
// the capture does not count as a 40 ms gap; such skips are reported apart.
// RTCP packets (payload type byte 192-223, RFC 5761 section 4) are counted
// apart, and streams with fewer than -min-packets packets are left out.
package main

import (
	"bufio"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"time"
)

// pcap link types (https://www.tcpdump.org/linktypes.html).
const (
	linkNull     = 0
	linkEthernet = 1
	linkRaw      = 101
	linkLinuxSLL = 113
	linkIPv4     = 228
	linkSLL2     = 276
)

type streamKey struct {
	dst  [4]byte
	port uint16
}

type stream struct {
	lastTS  time.Duration // capture time of the previous packet
	lastSeq uint16
	have    bool
	devs    []time.Duration // |gap - ptime| of consecutive packets
	packets int
	skips   int // sequence discontinuities (loss, reorder, capture drops)
}

type reader struct {
	r       *bufio.Reader
	order   binary.ByteOrder
	nanos   bool
	link    uint32
	snaplen uint32
}

func openPcap(r io.Reader) (*reader, error) {
	br := bufio.NewReaderSize(r, 1<<20)
	hdr := make([]byte, 24)
	if _, err := io.ReadFull(br, hdr); err != nil {
		return nil, fmt.Errorf("pcap header: %w", err)
	}
	p := &reader{r: br}
	switch {
	case binary.LittleEndian.Uint32(hdr) == 0xa1b2c3d4:
		p.order = binary.LittleEndian
	case binary.BigEndian.Uint32(hdr) == 0xa1b2c3d4:
		p.order = binary.BigEndian
	case binary.LittleEndian.Uint32(hdr) == 0xa1b23c4d:
		p.order, p.nanos = binary.LittleEndian, true
	case binary.BigEndian.Uint32(hdr) == 0xa1b23c4d:
		p.order, p.nanos = binary.BigEndian, true
	default:
		return nil, errors.New("not a pcap file (pcapng is not supported; use tcpdump -w)")
	}
	p.snaplen = p.order.Uint32(hdr[16:])
	p.link = p.order.Uint32(hdr[20:]) & 0x0fffffff
	return p, nil
}

// next returns the capture time and the captured bytes of the next record.
func (p *reader) next(buf []byte) (time.Duration, []byte, error) {
	var rec [16]byte
	if _, err := io.ReadFull(p.r, rec[:]); err != nil {
		return 0, nil, err
	}
	sec := p.order.Uint32(rec[0:])
	frac := p.order.Uint32(rec[4:])
	incl := p.order.Uint32(rec[8:])
	if incl > 1<<18 {
		return 0, nil, fmt.Errorf("record of %d bytes: corrupt pcap", incl)
	}
	if int(incl) > cap(buf) {
		buf = make([]byte, incl)
	}
	buf = buf[:incl]
	if _, err := io.ReadFull(p.r, buf); err != nil {
		return 0, nil, fmt.Errorf("truncated record: %w", err)
	}
	ts := time.Duration(sec) * time.Second
	if p.nanos {
		ts += time.Duration(frac)
	} else {
		ts += time.Duration(frac) * time.Microsecond
	}
	return ts, buf, nil
}

// ipPayload strips the link-layer header, returning the IPv4 packet.
func ipPayload(link uint32, b []byte) ([]byte, bool) {
	switch link {
	case linkEthernet:
		if len(b) < 14 {
			return nil, false
		}
		et, off := binary.BigEndian.Uint16(b[12:]), 14
		for et == 0x8100 && len(b) >= off+4 { // 802.1Q
			et, off = binary.BigEndian.Uint16(b[off+2:]), off+4
		}
		return b[off:], et == 0x0800
	case linkLinuxSLL:
		if len(b) < 16 {
			return nil, false
		}
		return b[16:], binary.BigEndian.Uint16(b[14:]) == 0x0800
	case linkSLL2:
		if len(b) < 20 {
			return nil, false
		}
		return b[20:], binary.BigEndian.Uint16(b[0:]) == 0x0800
	case linkNull:
		if len(b) < 4 {
			return nil, false
		}
		return b[4:], true
	case linkRaw, linkIPv4:
		return b, true
	}
	return nil, false
}

// udpRTP returns the destination and the UDP payload of an IPv4/UDP packet.
func udpRTP(ip []byte) (streamKey, []byte, bool) {
	var k streamKey
	if len(ip) < 20 || ip[0]>>4 != 4 || ip[9] != 17 {
		return k, nil, false
	}
	if binary.BigEndian.Uint16(ip[6:])&0x3fff != 0 { // fragment
		return k, nil, false
	}
	ihl := int(ip[0]&0x0f) * 4
	if len(ip) < ihl+8 {
		return k, nil, false
	}
	copy(k.dst[:], ip[16:20])
	udp := ip[ihl:]
	k.port = binary.BigEndian.Uint16(udp[2:])
	return k, udp[8:], true
}

func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(p*float64(len(sorted))+0.5) - 1
	i = max(0, min(i, len(sorted)-1))
	return sorted[i]
}

func ms(d time.Duration) string { return fmt.Sprintf("%.3fms", float64(d)/float64(time.Millisecond)) }

func run(path string, ptime time.Duration, minPackets int, w io.Writer) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("open: %w", err)
	}
	defer f.Close()
	p, err := openPcap(f)
	if err != nil {
		return err
	}
	streams := map[streamKey]*stream{}
	var buf []byte
	var total, nonRTP, rtcp int
	for {
		ts, b, err := p.next(buf)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			// a capture cut short by the kill of tcpdump ends with a partial record
			if errors.Is(err, io.ErrUnexpectedEOF) {
				break
			}
			return err
		}
		buf = b
		ip, ok := ipPayload(p.link, b)
		if !ok {
			continue
		}
		k, payload, ok := udpRTP(ip)
		if !ok {
			continue
		}
		if len(payload) < 12 || payload[0]>>6 != 2 { // RTP version 2 (RFC 3550 5.1)
			nonRTP++
			continue
		}
		if pt := payload[1]; pt >= 192 && pt <= 223 { // RTCP (RFC 5761 section 4), e.g. SR to port+1
			rtcp++
			continue
		}
		total++
		seq := binary.BigEndian.Uint16(payload[2:])
		s := streams[k]
		if s == nil {
			s = &stream{}
			streams[k] = s
		}
		s.packets++
		if s.have {
			if seq == s.lastSeq+1 {
				d := ts - s.lastTS - ptime
				s.devs = append(s.devs, max(d, -d))
			} else {
				s.skips++
			}
		}
		s.have, s.lastTS, s.lastSeq = true, ts, seq
	}
	var all []time.Duration
	var worst time.Duration
	var worstKey streamKey
	var used, skips int
	for k, s := range streams {
		if s.packets < minPackets {
			continue
		}
		used++
		skips += s.skips
		slices.Sort(s.devs)
		all = append(all, s.devs...)
		if p99 := percentile(s.devs, 0.99); p99 >= worst {
			worst, worstKey = p99, k
		}
	}
	if len(all) == 0 {
		return fmt.Errorf("no RTP stream with at least %d packets in %s (%d RTP packets, %d streams)", minPackets, path, total, len(streams))
	}
	slices.Sort(all)
	fmt.Fprintf(w, "streams=%d packets=%d gaps=%d p50=%s p99=%s max=%s worst_stream_p99=%s worst_port=%d seq_skips=%d rtcp=%d non_rtp=%d\n",
		used, total, len(all), ms(percentile(all, 0.50)), ms(percentile(all, 0.99)), ms(all[len(all)-1]),
		ms(worst), worstKey.port, skips, rtcp, nonRTP)
	return nil
}

func main() {
	ptime := flag.Duration("ptime", 20*time.Millisecond, "nominal packet interval")
	minPackets := flag.Int("min-packets", 50, "ignore streams with fewer packets (calls starting or ending in the window)")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "usage: rtpgap [-ptime 20ms] [-min-packets N] capture.pcap\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() != 1 {
		flag.Usage()
		os.Exit(2)
	}
	if err := run(flag.Arg(0), *ptime, *minPackets, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "rtpgap:", err)
		os.Exit(1)
	}
}
