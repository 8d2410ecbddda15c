package testpeer

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/pion/rtp"
)

// Defaults of PcapOptions.
const (
	DefaultDTMFPayloadType = 101
	DefaultDigitDuration   = 200 * time.Millisecond
	DefaultDigitGap        = 200 * time.Millisecond
	ptime                  = 20 * time.Millisecond
	samplesPerPacket       = SampleRate * 20 / 1000 // 160 samples per 20 ms
)

// PcapOptions describe the RTP stream WriteRTPPcap builds. SIPp's
// play_pcap_audio rewrites only addresses and ports when it replays a file:
// payload types, SSRC, sequence numbers and timestamps come from the file, so
// they must match what the SDP negotiates (test-peers.md §1.3).
type PcapOptions struct {
	// Audio is 8 kHz linear audio, sent first in 20 ms packets (the last
	// packet is padded with silence).
	Audio []int16
	// Codec is PCMU (payload type 0, the zero value) or PCMA (8).
	Codec Codec
	// DTMF digits (0-9, *, #, A-D) appended after the audio as RFC 4733
	// telephone-events in the same SSRC, sequence and timestamp space.
	DTMF string
	// DTMFPayloadType defaults to 101.
	DTMFPayloadType uint8
	// DigitDuration (default 200 ms) and DigitGap (silence after each digit,
	// default 200 ms) are rounded to whole 20 ms packets.
	DigitDuration, DigitGap time.Duration
	// SSRC defaults to 0x12345678; Seq and Timestamp are the first sequence
	// number and timestamp (default 1000 and 0).
	SSRC      uint32
	Seq       uint16
	Timestamp uint32
	// Src and Dst addresses of the IPv4/UDP headers (SIPp replaces them);
	// defaults 10.0.0.1:16000 and 10.0.0.2:6000.
	Src, Dst netip.AddrPort
}

// PcapPacket is one RTP packet with its capture time.
type PcapPacket struct {
	Time   time.Time
	Packet rtp.Packet
}

// BuildRTPStream returns the packets WriteRTPPcap writes, with capture times
// spaced 20 ms apart from a fixed base (the three RFC 4733 end packets of a
// digit share one capture time, as in test-peers.md §1.5).
func BuildRTPStream(opts PcapOptions) ([]PcapPacket, error) {
	if opts.Codec != PCMU && opts.Codec != PCMA {
		return nil, fmt.Errorf("testpeer: unsupported codec %d", opts.Codec)
	}
	dtmfPT := opts.DTMFPayloadType
	if dtmfPT == 0 {
		dtmfPT = DefaultDTMFPayloadType
	}
	if dtmfPT > 127 || dtmfPT == uint8(opts.Codec) {
		return nil, fmt.Errorf("testpeer: bad DTMF payload type %d", dtmfPT)
	}
	digitPkts := packetsFor(opts.DigitDuration, DefaultDigitDuration)
	gapPkts := packetsFor(opts.DigitGap, DefaultDigitGap)
	ssrc := opts.SSRC
	if ssrc == 0 {
		ssrc = 0x12345678
	}
	seq := opts.Seq
	if seq == 0 {
		seq = 1000
	}
	ts := opts.Timestamp
	at := time.Unix(1700000000, 0).UTC()
	var out []PcapPacket
	add := func(pt uint8, marker bool, ts uint32, payload []byte) {
		out = append(out, PcapPacket{Time: at, Packet: rtp.Packet{
			Header: rtp.Header{
				Version: 2, Marker: marker, PayloadType: pt,
				SequenceNumber: seq, Timestamp: ts, SSRC: ssrc,
			},
			Payload: payload,
		}})
		seq++
	}
	silence := opts.Codec.Encode(make([]int16, samplesPerPacket))
	first := true
	for i := 0; i < len(opts.Audio); i += samplesPerPacket {
		chunk := make([]int16, samplesPerPacket)
		copy(chunk, opts.Audio[i:min(i+samplesPerPacket, len(opts.Audio))])
		// RFC 3551 §4.1: marker on the first packet of a talkspurt.
		add(uint8(opts.Codec), first, ts, opts.Codec.Encode(chunk))
		first = false
		ts += samplesPerPacket
		at = at.Add(ptime)
	}
	for _, d := range opts.DTMF {
		code, ok := DTMFEventCode(d)
		if !ok {
			return nil, fmt.Errorf("testpeer: bad DTMF digit %q", d)
		}
		// RFC 4733 §2.5.1: every packet of the event carries the event's
		// start timestamp; the first has the marker bit, the duration grows,
		// and the final packet (E bit) is sent three times (§2.5.1.4).
		evTS := ts
		for k := range digitPkts {
			ev := TelephoneEvent{Event: code, Volume: 10, Duration: uint16((k + 1) * samplesPerPacket)}
			add(dtmfPT, k == 0, evTS, marshalTelephoneEvent(ev))
			at = at.Add(ptime)
		}
		end := TelephoneEvent{Event: code, End: true, Volume: 10, Duration: uint16(digitPkts * samplesPerPacket)}
		for range 3 {
			add(dtmfPT, false, evTS, marshalTelephoneEvent(end))
		}
		ts += uint32(digitPkts * samplesPerPacket)
		for range gapPkts {
			add(uint8(opts.Codec), false, ts, silence)
			ts += samplesPerPacket
			at = at.Add(ptime)
		}
	}
	return out, nil
}

func packetsFor(d, def time.Duration) int {
	if d <= 0 {
		d = def
	}
	return max(1, int((d+ptime/2)/ptime))
}

// pcap file constants (libpcap format, LINKTYPE_ETHERNET).
const (
	pcapMagic        = 0xa1b2c3d4
	linkTypeEthernet = 1
	linkTypeLinuxSLL = 113
	etherTypeIPv4    = 0x0800
)

// WriteRTPPcap writes the stream described by opts as a libpcap file of
// Ethernet/IPv4/UDP/RTP frames that SIPp's play_pcap_audio replays, pacing
// the packets by their capture times (20 ms apart).
func WriteRTPPcap(path string, opts PcapOptions) error {
	pkts, err := BuildRTPStream(opts)
	if err != nil {
		return err
	}
	src, dst := opts.Src, opts.Dst
	if !src.IsValid() {
		src = netip.MustParseAddrPort("10.0.0.1:16000")
	}
	if !dst.IsValid() {
		dst = netip.MustParseAddrPort("10.0.0.2:6000")
	}
	if !src.Addr().Is4() || !dst.Addr().Is4() {
		return errors.New("testpeer: pcap addresses must be IPv4")
	}
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("testpeer: create pcap: %w", err)
	}
	w := bufio.NewWriter(f)
	if err := writePcap(w, pkts, src, dst); err != nil {
		_ = f.Close()
		return err
	}
	if err := w.Flush(); err != nil {
		_ = f.Close()
		return fmt.Errorf("testpeer: write pcap: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("testpeer: close pcap: %w", err)
	}
	return nil
}

func writePcap(w io.Writer, pkts []PcapPacket, src, dst netip.AddrPort) error {
	var hdr [24]byte
	le := binary.LittleEndian
	le.PutUint32(hdr[0:], pcapMagic)
	le.PutUint16(hdr[4:], 2) // version 2.4
	le.PutUint16(hdr[6:], 4)
	le.PutUint32(hdr[16:], 65535) // snaplen
	le.PutUint32(hdr[20:], linkTypeEthernet)
	if _, err := w.Write(hdr[:]); err != nil {
		return fmt.Errorf("testpeer: write pcap: %w", err)
	}
	for i, p := range pkts {
		payload, err := p.Packet.Marshal()
		if err != nil {
			return fmt.Errorf("testpeer: marshal rtp: %w", err)
		}
		frame := ethernetIPv4UDP(uint16(i), src, dst, payload)
		var rec [16]byte
		le.PutUint32(rec[0:], uint32(p.Time.Unix()))
		le.PutUint32(rec[4:], uint32(p.Time.Nanosecond()/1000))
		le.PutUint32(rec[8:], uint32(len(frame)))
		le.PutUint32(rec[12:], uint32(len(frame)))
		if _, err := w.Write(rec[:]); err != nil {
			return fmt.Errorf("testpeer: write pcap: %w", err)
		}
		if _, err := w.Write(frame); err != nil {
			return fmt.Errorf("testpeer: write pcap: %w", err)
		}
	}
	return nil
}

// ethernetIPv4UDP frames payload in Ethernet II, IPv4 (RFC 791, header
// checksum set) and UDP (RFC 768, checksum 0 = none) headers.
func ethernetIPv4UDP(id uint16, src, dst netip.AddrPort, payload []byte) []byte {
	be := binary.BigEndian
	frame := make([]byte, 14+20+8+len(payload))
	copy(frame[0:6], []byte{0, 0, 0, 0, 0, 2})
	copy(frame[6:12], []byte{0, 0, 0, 0, 0, 1})
	be.PutUint16(frame[12:], etherTypeIPv4)
	ip := frame[14:34]
	ip[0] = 0x45
	be.PutUint16(ip[2:], uint16(20+8+len(payload)))
	be.PutUint16(ip[4:], id)
	ip[8] = 64 // TTL
	ip[9] = 17 // UDP
	s, d := src.Addr().As4(), dst.Addr().As4()
	copy(ip[12:16], s[:])
	copy(ip[16:20], d[:])
	var sum uint32
	for i := 0; i < 20; i += 2 {
		sum += uint32(be.Uint16(ip[i:]))
	}
	for sum>>16 != 0 {
		sum = sum&0xffff + sum>>16
	}
	be.PutUint16(ip[10:], ^uint16(sum))
	udp := frame[34:42]
	be.PutUint16(udp[0:], src.Port())
	be.PutUint16(udp[2:], dst.Port())
	be.PutUint16(udp[4:], uint16(8+len(payload)))
	copy(frame[42:], payload)
	return frame
}

// ReadRTPFromPcap reads the RTP packets of every IPv4/UDP frame of a libpcap
// file (Ethernet or Linux cooked capture). Frames that are not IPv4/UDP or do
// not parse as RTP are skipped.
func ReadRTPFromPcap(path string) ([]PcapPacket, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("testpeer: read pcap: %w", err)
	}
	return parsePcap(data)
}

func parsePcap(data []byte) ([]PcapPacket, error) {
	if len(data) < 24 {
		return nil, errors.New("testpeer: pcap too short")
	}
	var bo binary.ByteOrder
	nano := false
	switch binary.LittleEndian.Uint32(data) {
	case pcapMagic:
		bo = binary.LittleEndian
	case 0xa1b23c4d:
		bo, nano = binary.LittleEndian, true
	default:
		switch binary.BigEndian.Uint32(data) {
		case pcapMagic:
			bo = binary.BigEndian
		case 0xa1b23c4d:
			bo, nano = binary.BigEndian, true
		default:
			return nil, errors.New("testpeer: not a libpcap file")
		}
	}
	link := bo.Uint32(data[20:])
	var l2 int
	switch link {
	case linkTypeEthernet:
		l2 = 14
	case linkTypeLinuxSLL:
		l2 = 16
	default:
		return nil, fmt.Errorf("testpeer: unsupported pcap link type %d", link)
	}
	var out []PcapPacket
	for off := 24; off+16 <= len(data); {
		sec, frac := bo.Uint32(data[off:]), bo.Uint32(data[off+4:])
		incl := int(bo.Uint32(data[off+8:]))
		off += 16
		if incl < 0 || off+incl > len(data) {
			return out, errors.New("testpeer: truncated pcap record")
		}
		frame := data[off : off+incl]
		off += incl
		if len(frame) < l2+20 || binary.BigEndian.Uint16(frame[l2-2:]) != etherTypeIPv4 {
			continue
		}
		ip := frame[l2:]
		ihl := int(ip[0]&0x0f) * 4
		if ip[0]>>4 != 4 || ip[9] != 17 || ihl < 20 || len(ip) < ihl+8 {
			continue
		}
		var p rtp.Packet
		if err := p.Unmarshal(ip[ihl+8:]); err != nil {
			continue
		}
		ns := int64(frac) * 1000
		if nano {
			ns = int64(frac)
		}
		out = append(out, PcapPacket{Time: time.Unix(int64(sec), ns).UTC(), Packet: p})
	}
	return out, nil
}

// TonePcap writes a PCMU pcap of a freq Hz tone (amplitude 8000) lasting dur
// followed by the RFC 4733 digits, into a new temporary directory, and
// returns its path: "1 kHz for 2 s then 123#" is TonePcap(t, 1000, 2*time.Second, "123#").
func TonePcap(t testing.TB, freq float64, dur time.Duration, digits string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "tone.pcap")
	if err := WriteRTPPcap(path, PcapOptions{Audio: GenerateTone(freq, dur, 8000), DTMF: digits}); err != nil {
		t.Fatalf("testpeer: %v", err)
	}
	return path
}
