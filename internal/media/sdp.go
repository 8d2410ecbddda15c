package media

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/pion/sdp/v3"
)

// Direction is an SDP media direction attribute (RFC 3264 section 5.1).
type Direction string

// The four RFC 3264 directions.
const (
	SendRecv Direction = "sendrecv"
	SendOnly Direction = "sendonly"
	RecvOnly Direction = "recvonly"
	Inactive Direction = "inactive"
)

// Reverse returns the direction an answerer uses for an offered direction
// (RFC 3264 section 6.1): sendonly <-> recvonly; sendrecv and inactive stay.
func (d Direction) Reverse() Direction {
	switch d {
	case SendOnly:
		return RecvOnly
	case RecvOnly:
		return SendOnly
	case Inactive:
		return Inactive
	default:
		return SendRecv
	}
}

// CanSend reports whether the side holding direction d may send media.
func (d Direction) CanSend() bool { return d == SendRecv || d == SendOnly || d == "" }

// CanRecv reports whether the side holding direction d expects to receive.
func (d Direction) CanRecv() bool { return d == SendRecv || d == RecvOnly || d == "" }

func parseDirection(attrs []sdp.Attribute) (Direction, bool) {
	for _, a := range attrs {
		switch Direction(a.Key) {
		case SendRecv, SendOnly, RecvOnly, Inactive:
			return Direction(a.Key), true
		}
	}
	return "", false
}

// ErrNoCommonCodec is returned by Negotiate when no offered audio codec is
// supported; the SIP layer answers 488 Not Acceptable Here (RFC 3261 21.4.26).
var ErrNoCommonCodec = errors.New("media: no common codec")

// ErrNoAudio is returned when an SDP has no audio stream we can use.
var ErrNoAudio = errors.New("media: no audio stream in SDP")

// MediaLine is one m= line of a session description.
type MediaLine struct {
	Media   string   // "audio", "video", "application", ...
	Port    int      // 0 = rejected/disabled stream (RFC 3264 section 6)
	Proto   string   // "RTP/AVP", "RTP/SAVP", ...
	Formats []string // the fmt list as written
}

// SessionDescription is the part of a remote SDP the media layer needs. The
// audio fields describe the first usable RTP/AVP audio stream.
type SessionDescription struct {
	Origin    string // o= username
	SessionID uint64
	Version   uint64

	// Addr is the audio connection address (media-level c= overrides
	// session-level) and the audio port.
	Addr netip.AddrPort
	// Codecs are the offered audio formats in offer order, excluding
	// telephone-event. Static payload types without rtpmap get their RFC
	// 3551 names; unknown dynamic types without rtpmap are omitted.
	Codecs []Codec
	// DTMF is the offered telephone-event/8000 format, nil when absent.
	DTMF *Codec
	// Direction of the audio stream as the remote wrote it (default sendrecv).
	Direction Direction
	// Hold is true for an RFC 2543 style hold (c=0.0.0.0) or when the remote
	// does not want to receive (sendonly/inactive).
	Hold bool
	// Ptime is the a=ptime value in milliseconds (0 when absent).
	Ptime int
	// Proto is the audio stream's transport profile: RTP/AVP, or RTP/SAVP
	// (SRTP, RFC 3711 section 12) with its Crypto attributes (SDES,
	// RFC 4568; lines entVoice cannot use are left out).
	Proto  string
	Crypto []Crypto
	// WebRTC (RFC 8829 section 5): ICE credentials, the DTLS certificate
	// fingerprint (sha-256) and setup role, the audio stream's mid,
	// rtcp-mux, and the mids of an a=group:BUNDLE.
	ICEUfrag, ICEPwd string
	Fingerprint      string
	Setup, Mid       string
	RTCPMux          bool
	Bundle           []string

	// Media lists every m= line in order; AudioIndex is the one described
	// above (-1 when there is none).
	Media      []MediaLine
	AudioIndex int
}

// ParseSDP parses a remote session description (RFC 4566) with pion/sdp and
// extracts the audio stream. It never panics on malformed input.
func ParseSDP(b []byte) (desc *SessionDescription, err error) {
	defer func() {
		// pion/sdp is well behaved, but input is untrusted: turn any
		// library panic into an error rather than crash a call.
		if r := recover(); r != nil {
			desc, err = nil, fmt.Errorf("media: malformed SDP: %v", r)
		}
	}()
	var s sdp.SessionDescription
	if err := s.Unmarshal(b); err != nil {
		return nil, fmt.Errorf("media: parse SDP: %w", err)
	}
	d := &SessionDescription{
		Origin:     s.Origin.Username,
		SessionID:  s.Origin.SessionID,
		Version:    s.Origin.SessionVersion,
		AudioIndex: -1,
	}
	sessDir, _ := parseDirection(s.Attributes)
	sessPtime := attrInt(s.Attributes, "ptime")
	for i, m := range s.MediaDescriptions {
		ml := MediaLine{
			Media:   m.MediaName.Media,
			Port:    m.MediaName.Port.Value,
			Proto:   strings.Join(m.MediaName.Protos, "/"),
			Formats: append([]string(nil), m.MediaName.Formats...),
		}
		d.Media = append(d.Media, ml)
		if d.AudioIndex >= 0 || ml.Media != "audio" || ml.Port <= 0 || ml.Port > 65535 {
			continue
		}
		if !audioProto(ml.Proto) {
			continue
		}
		conn := m.ConnectionInformation
		if conn == nil {
			conn = s.ConnectionInformation
		}
		addr, err := connAddr(conn)
		if err != nil {
			return nil, err
		}
		d.AudioIndex = i
		d.Proto = ml.Proto
		d.parseWebRTC(s.Attributes, m.Attributes)
		for _, a := range m.Attributes {
			if a.Key == "crypto" {
				if c, err := ParseCrypto(a.Value); err == nil {
					d.Crypto = append(d.Crypto, c)
				}
			}
		}
		d.Addr = netip.AddrPortFrom(addr, uint16(ml.Port))
		d.Codecs, d.DTMF = parseFormats(ml.Formats, m.Attributes)
		dir, ok := parseDirection(m.Attributes)
		if !ok {
			dir = sessDir
		}
		if dir == "" {
			dir = SendRecv
		}
		d.Direction = dir
		// A WebRTC stream's address is ICE's (its c= may be 0.0.0.0
		// before candidates are known, RFC 8840); it holds only by
		// direction.
		d.Hold = (addr.IsUnspecified() && d.ICEUfrag == "") || !dir.CanRecv()
		d.Ptime = attrInt(m.Attributes, "ptime")
		if d.Ptime == 0 {
			d.Ptime = sessPtime
		}
	}
	if d.AudioIndex < 0 {
		return d, ErrNoAudio
	}
	return d, nil
}

// audioProto reports the audio transport profiles entVoice speaks: RTP/AVP
// and RTP/SAVP (RFC 3711), with or without feedback (AVPF, SAVPF).
func audioProto(p string) bool {
	switch strings.ToUpper(p) {
	case "RTP/AVP", "RTP/SAVP", "RTP/AVPF", "RTP/SAVPF", "UDP/TLS/RTP/SAVP", "UDP/TLS/RTP/SAVPF":
		return true
	}
	return false
}

// Secure reports an SRTP transport profile.
func Secure(proto string) bool { return strings.Contains(strings.ToUpper(proto), "SAVP") }

func connAddr(c *sdp.ConnectionInformation) (netip.Addr, error) {
	if c == nil || c.Address == nil {
		return netip.Addr{}, errors.New("media: SDP audio stream has no connection address")
	}
	if c.NetworkType != "IN" {
		return netip.Addr{}, fmt.Errorf("media: unsupported SDP network type %q", c.NetworkType)
	}
	a, err := netip.ParseAddr(c.Address.Address)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("media: SDP connection address %q: %w", c.Address.Address, err)
	}
	return a.Unmap(), nil
}

func attrInt(attrs []sdp.Attribute, key string) int {
	for _, a := range attrs {
		if a.Key == key {
			n, err := strconv.Atoi(strings.TrimSpace(a.Value))
			if err == nil && n > 0 && n < 1000 {
				return n
			}
		}
	}
	return 0
}

// parseFormats resolves the m= format list through a=rtpmap lines (RFC 4566
// section 6), falling back to the RFC 3551 static table.
func parseFormats(formats []string, attrs []sdp.Attribute) ([]Codec, *Codec) {
	rtpmap := map[uint8]Codec{}
	for _, a := range attrs {
		if a.Key != "rtpmap" {
			continue
		}
		// a=rtpmap:<pt> <name>/<clock>[/<channels>]
		ptStr, enc, ok := strings.Cut(strings.TrimSpace(a.Value), " ")
		if !ok {
			continue
		}
		pt, err := strconv.ParseUint(ptStr, 10, 7)
		if err != nil {
			continue
		}
		parts := strings.Split(strings.TrimSpace(enc), "/")
		if len(parts) < 2 || parts[0] == "" {
			continue
		}
		rate, err := strconv.ParseUint(parts[1], 10, 32)
		if err != nil {
			continue
		}
		rtpmap[uint8(pt)] = Codec{Name: parts[0], PayloadType: uint8(pt), ClockRate: uint32(rate)}
	}
	var codecs []Codec
	var dtmf *Codec
	for _, f := range formats {
		pt, err := strconv.ParseUint(f, 10, 7)
		if err != nil {
			continue
		}
		c, ok := rtpmap[uint8(pt)]
		if !ok {
			c, ok = staticPayloadTypes[uint8(pt)]
		}
		if !ok {
			continue
		}
		if c.IsTelephoneEvent() {
			if dtmf == nil && c.ClockRate == 8000 {
				cc := c
				dtmf = &cc
			}
			continue
		}
		codecs = append(codecs, c)
	}
	return codecs, dtmf
}

// Negotiated is the outcome of an offer/answer exchange for the audio stream.
type Negotiated struct {
	// Remote is where to send RTP; invalid or unspecified while on hold.
	Remote netip.AddrPort
	// Codec is the single audio codec both sides use, with the offerer's
	// payload type.
	Codec Codec
	// DTMF is telephone-event with the offerer's payload type, nil when the
	// offer had none.
	DTMF *Codec
	// Direction is our direction (the answer's a= line).
	Direction Direction
	// Ptime is the remote's requested packetisation in ms (0 = default 20).
	Ptime int
	// Hold mirrors SessionDescription.Hold.
	Hold bool
	// SRTP keys the stream (SDES or DTLS-SRTP); nil: plain RTP.
	SRTP *SRTP

	// Offer is the parsed offer; the answer keeps its m= line order.
	Offer *SessionDescription
}

// Negotiate builds an RFC 3264 answer to offer: the first offered codec that
// appears in supported (offerer's preference, section 6.1), telephone-event
// only when offered (with the offerer's payload type), and the mirrored
// direction. An RFC 2543 hold (c=0.0.0.0) with sendrecv is answered recvonly.
// The offerer uses it too, on the parsed answer: the answer holds one codec
// and its direction reversed is the offerer's (answer recvonly -> we send).
func Negotiate(offer *SessionDescription, supported []Codec) (Negotiated, error) {
	if offer == nil || offer.AudioIndex < 0 {
		return Negotiated{}, ErrNoAudio
	}
	var chosen *Codec
	for _, oc := range offer.Codecs {
		for _, sc := range supported {
			if oc.Is(sc) {
				c := oc
				chosen = &c
				break
			}
		}
		if chosen != nil {
			break
		}
	}
	if chosen == nil {
		return Negotiated{}, ErrNoCommonCodec
	}
	n := Negotiated{
		Remote:    offer.Addr,
		Codec:     *chosen,
		Direction: offer.Direction.Reverse(),
		Ptime:     offer.Ptime,
		Hold:      offer.Hold,
		Offer:     offer,
	}
	if offer.Addr.Addr().IsUnspecified() && offer.ICEUfrag == "" && n.Direction == SendRecv {
		n.Direction = RecvOnly
	}
	if offer.DTMF != nil {
		d := *offer.DTMF
		n.DTMF = &d
	}
	return n, nil
}

// Answer returns the local description answering the offer this Negotiated
// came from: the chosen codec, DTMF, our direction, and every non-audio (or
// second audio) m= line rejected with port 0 (RFC 3264 section 6).
func (n Negotiated) Answer(local netip.AddrPort, sessionID, version uint64) LocalDescription {
	ld := LocalDescription{
		Addr:      local,
		Codecs:    []Codec{n.Codec},
		DTMF:      n.DTMF,
		Direction: n.Direction,
		SessionID: sessionID,
		Version:   version,
	}
	if n.Offer != nil {
		ld.AudioIndex = n.Offer.AudioIndex
		for i, m := range n.Offer.Media {
			if i != n.Offer.AudioIndex {
				ld.Rejected = append(ld.Rejected, RejectedMedia{Index: i, MediaLine: m})
			}
		}
	}
	return ld
}

// RejectedMedia is an m= line answered with port 0.
type RejectedMedia struct {
	Index int
	MediaLine
}

// LocalDescription is our SDP offer or answer.
type LocalDescription struct {
	Addr      netip.AddrPort
	Codecs    []Codec
	DTMF      *Codec
	Direction Direction
	SessionID uint64
	Version   uint64

	// Username is the o= username (default "entvoice").
	Username string
	// AudioIndex and Rejected place the audio m= line among rejected
	// streams when answering a multi-stream offer.
	AudioIndex int
	Rejected   []RejectedMedia
	// Proto is the audio transport profile (default RTP/AVP); Crypto are
	// the a=crypto attributes of an SRTP stream (RFC 4568).
	Proto  string
	Crypto []Crypto
	// WebRTC describes a WebRTC stream (ICE-lite, DTLS-SRTP, rtcp-mux).
	WebRTC *LocalWebRTC
}

// LocalWebRTC is what our SDP says of a WebRTC stream (RFC 8829): we are
// an ICE-lite agent with one host candidate, the DTLS server.
type LocalWebRTC struct {
	Ufrag, Pwd  string
	Fingerprint string // sha-256
	Setup       string // passive (answer) or actpass (offer)
	Mid         string
	Bundle      bool // answer the offer's a=group:BUNDLE
}

// Marshal renders the description as SDP (RFC 4566 with RFC 3264 rules):
// o=, s=, c=, t=0 0, the m=audio line with rtpmap lines, a=fmtp:<pt> 0-16 for
// telephone-event (RFC 4733 section 7.1.1), a=ptime:20 and the direction.
func (l LocalDescription) Marshal() []byte {
	user := l.Username
	if user == "" {
		user = "entvoice"
	}
	addr := l.Addr.Addr().Unmap()
	ipVer := "IP4"
	if addr.Is6() {
		ipVer = "IP6"
	}
	if !addr.IsValid() {
		addr = netip.IPv4Unspecified()
	}
	dir := l.Direction
	if dir == "" {
		dir = SendRecv
	}
	var b strings.Builder
	fmt.Fprintf(&b, "v=0\r\no=%s %d %d IN %s %s\r\ns=entVoice\r\nc=IN %s %s\r\nt=0 0\r\n",
		user, l.SessionID, l.Version, ipVer, addr, ipVer, addr)
	if w := l.WebRTC; w != nil {
		// RFC 8445 section 5.1.2: a lite agent says so at session level.
		b.WriteString("a=ice-lite\r\n")
		if w.Bundle && w.Mid != "" {
			fmt.Fprintf(&b, "a=group:BUNDLE %s\r\n", w.Mid)
		}
		b.WriteString("a=msid-semantic: WMS\r\n")
	}
	for _, m := range l.lines() {
		if m == nil {
			l.writeAudio(&b, dir)
			continue
		}
		proto, media, fmts := m.Proto, m.Media, m.Formats
		if proto == "" {
			proto = "RTP/AVP"
		}
		if media == "" {
			media = "audio"
		}
		if len(fmts) == 0 {
			fmts = []string{"0"}
		}
		fmt.Fprintf(&b, "m=%s 0 %s %s\r\n", media, proto, strings.Join(fmts, " "))
	}
	return []byte(b.String())
}

// lines orders the m= lines: nil is the audio stream, others are rejected.
// Rejected entries go to their Index when it is free and in range, the rest
// fill the remaining slots in order.
func (l LocalDescription) lines() []*MediaLine {
	total := len(l.Rejected) + 1
	audioAt := l.AudioIndex
	if audioAt < 0 || audioAt >= total {
		audioAt = 0
	}
	out := make([]*MediaLine, total)
	used := make([]bool, total)
	used[audioAt] = true
	var rest []*MediaLine
	for i := range l.Rejected {
		r := &l.Rejected[i]
		if r.Index >= 0 && r.Index < total && !used[r.Index] {
			out[r.Index] = &r.MediaLine
			used[r.Index] = true
			continue
		}
		rest = append(rest, &r.MediaLine)
	}
	for i := range out {
		if !used[i] && len(rest) > 0 {
			out[i], rest = rest[0], rest[1:]
		}
	}
	return out
}

func (l LocalDescription) writeAudio(b *strings.Builder, dir Direction) {
	proto := l.Proto
	if proto == "" {
		proto = "RTP/AVP"
		if l.WebRTC != nil {
			proto = "UDP/TLS/RTP/SAVPF"
		}
	}
	fmt.Fprintf(b, "m=audio %d %s", l.Addr.Port(), proto)
	for _, c := range l.Codecs {
		fmt.Fprintf(b, " %d", c.PayloadType)
	}
	if l.DTMF != nil {
		fmt.Fprintf(b, " %d", l.DTMF.PayloadType)
	}
	b.WriteString("\r\n")
	for _, c := range l.Codecs {
		fmt.Fprintf(b, "a=rtpmap:%d %s/%d\r\n", c.PayloadType, c.Name, c.ClockRate)
	}
	if l.DTMF != nil {
		fmt.Fprintf(b, "a=rtpmap:%d telephone-event/%d\r\n", l.DTMF.PayloadType, l.DTMF.ClockRate)
		fmt.Fprintf(b, "a=fmtp:%d 0-16\r\n", l.DTMF.PayloadType)
	}
	for _, c := range l.Crypto {
		fmt.Fprintf(b, "a=crypto:%s\r\n", c)
	}
	if w := l.WebRTC; w != nil {
		fmt.Fprintf(b, "a=ice-ufrag:%s\r\na=ice-pwd:%s\r\n", w.Ufrag, w.Pwd)
		fmt.Fprintf(b, "a=fingerprint:sha-256 %s\r\na=setup:%s\r\n", w.Fingerprint, w.Setup)
		if w.Mid != "" {
			fmt.Fprintf(b, "a=mid:%s\r\n", w.Mid)
		}
		b.WriteString("a=rtcp-mux\r\n")
		// One host candidate: the RTP socket (RFC 8445 section 5.1.2.1
		// priority for a host candidate, component 1).
		fmt.Fprintf(b, "a=candidate:1 1 udp 2130706431 %s %d typ host\r\na=end-of-candidates\r\n", l.Addr.Addr().Unmap(), l.Addr.Port())
	}
	fmt.Fprintf(b, "a=ptime:%d\r\n", FrameDuration.Milliseconds())
	fmt.Fprintf(b, "a=%s\r\n", dir)
}

// parseWebRTC reads the WebRTC attributes of the audio stream, media level
// first, then session level (ice-ufrag, ice-pwd and fingerprint may be
// either, RFC 8839 section 5.4, RFC 8122 section 5).
func (d *SessionDescription) parseWebRTC(session, media []sdp.Attribute) {
	get := func(key string) string {
		for _, attrs := range [][]sdp.Attribute{media, session} {
			for _, a := range attrs {
				if a.Key == key {
					return strings.TrimSpace(a.Value)
				}
			}
		}
		return ""
	}
	d.ICEUfrag, d.ICEPwd = get("ice-ufrag"), get("ice-pwd")
	if alg, v, ok := strings.Cut(get("fingerprint"), " "); ok && strings.EqualFold(alg, "sha-256") {
		d.Fingerprint = strings.TrimSpace(v)
	}
	d.Setup, d.Mid = get("setup"), get("mid")
	for _, a := range media {
		if a.Key == "rtcp-mux" {
			d.RTCPMux = true
		}
	}
	for _, a := range session {
		if a.Key == "group" {
			if f := strings.Fields(a.Value); len(f) > 1 && f[0] == "BUNDLE" {
				d.Bundle = f[1:]
			}
		}
	}
}

// WebRTC reports a WebRTC offer: DTLS-SRTP over ICE (RFC 8829).
func (d *SessionDescription) WebRTC() bool {
	return strings.HasPrefix(strings.ToUpper(d.Proto), "UDP/TLS/") && d.ICEUfrag != "" && d.Fingerprint != ""
}
