package media

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
)

func sdpLines(lines ...string) []byte {
	return []byte(strings.Join(lines, "\r\n") + "\r\n")
}

const sdpHead = "v=0\r\no=alice 2890844526 2890844527 IN IP4 10.0.0.1\r\ns=-\r\n"

func TestParseAndNegotiate(t *testing.T) {
	te := func(pt uint8) *Codec { c := TelephoneEvent(pt); return &c }
	tests := []struct {
		name      string
		sdp       string
		supported []Codec
		wantErr   error
		addr      string
		codecs    []string
		dtmf      *Codec
		offerDir  Direction
		hold      bool
		ptime     int
		choose    Codec
		answerDir Direction
	}{
		{
			name: "sipp pcmu + telephone-event",
			sdp: sdpHead + "c=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 6000 RTP/AVP 0 101\r\n" +
				"a=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-15\r\n",
			supported: []Codec{PCMA, PCMU},
			addr:      "127.0.0.1:6000", codecs: []string{"PCMU"}, dtmf: te(101),
			offerDir: SendRecv, choose: PCMU, answerDir: SendRecv,
		},
		{
			name: "static payload types without rtpmap, offerer order wins",
			sdp:  sdpHead + "c=IN IP4 192.0.2.5\r\nt=0 0\r\nm=audio 4000 RTP/AVP 8 0 18\r\na=ptime:30\r\n",
			// we prefer PCMU, but RFC 3264 answers with the offerer's first
			supported: []Codec{PCMU, PCMA},
			addr:      "192.0.2.5:4000", codecs: []string{"PCMA", "PCMU", "G729"},
			offerDir: SendRecv, ptime: 30, choose: PCMA, answerDir: SendRecv,
		},
		{
			name: "dynamic telephone-event PT is kept",
			sdp: sdpHead + "c=IN IP4 192.0.2.5\r\nt=0 0\r\nm=audio 4000 RTP/AVP 9 0 96\r\n" +
				"a=rtpmap:9 G722/8000\r\na=rtpmap:96 telephone-event/8000\r\n",
			supported: []Codec{PCMU},
			addr:      "192.0.2.5:4000", codecs: []string{"G722", "PCMU"}, dtmf: te(96),
			offerDir: SendRecv, choose: PCMU, answerDir: SendRecv,
		},
		{
			name:      "hold with sendonly",
			sdp:       sdpHead + "c=IN IP4 192.0.2.5\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\na=sendonly\r\n",
			supported: []Codec{PCMU},
			addr:      "192.0.2.5:4000", codecs: []string{"PCMU"},
			offerDir: SendOnly, hold: true, choose: PCMU, answerDir: RecvOnly,
		},
		{
			name:      "RFC 2543 hold c=0.0.0.0",
			sdp:       sdpHead + "c=IN IP4 0.0.0.0\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n",
			supported: []Codec{PCMU},
			addr:      "0.0.0.0:4000", codecs: []string{"PCMU"},
			offerDir: SendRecv, hold: true, choose: PCMU, answerDir: RecvOnly,
		},
		{
			name:      "inactive at session level",
			sdp:       sdpHead + "c=IN IP4 192.0.2.5\r\nt=0 0\r\na=inactive\r\nm=audio 4000 RTP/AVP 0\r\n",
			supported: []Codec{PCMU},
			addr:      "192.0.2.5:4000", codecs: []string{"PCMU"},
			offerDir: Inactive, hold: true, choose: PCMU, answerDir: Inactive,
		},
		{
			name:      "recvonly offer gets sendonly",
			sdp:       sdpHead + "c=IN IP4 192.0.2.5\r\nt=0 0\r\nm=audio 4000 RTP/AVP 8\r\na=recvonly\r\n",
			supported: []Codec{PCMA},
			addr:      "192.0.2.5:4000", codecs: []string{"PCMA"},
			offerDir: RecvOnly, choose: PCMA, answerDir: SendOnly,
		},
		{
			name:      "no common codec",
			sdp:       sdpHead + "c=IN IP4 192.0.2.5\r\nt=0 0\r\nm=audio 4000 RTP/AVP 18 101\r\na=rtpmap:101 telephone-event/8000\r\n",
			supported: []Codec{PCMU, PCMA},
			addr:      "192.0.2.5:4000", codecs: []string{"G729"}, dtmf: te(101),
			offerDir: SendRecv, wantErr: ErrNoCommonCodec,
		},
		{
			name: "video first, media-level c= and IPv6",
			sdp: "v=0\r\no=- 1 1 IN IP6 ::1\r\ns=-\r\nt=0 0\r\nm=video 5000 RTP/AVP 96\r\nc=IN IP6 ::1\r\na=rtpmap:96 H264/90000\r\n" +
				"m=audio 5002 RTP/AVP 0\r\nc=IN IP6 2001:db8::7\r\n",
			supported: []Codec{PCMU},
			addr:      "[2001:db8::7]:5002", codecs: []string{"PCMU"},
			offerDir: SendRecv, choose: PCMU, answerDir: SendRecv,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d, err := ParseSDP([]byte(tc.sdp))
			if err != nil {
				t.Fatalf("ParseSDP: %v", err)
			}
			if d.Addr.String() != tc.addr {
				t.Errorf("addr %s, want %s", d.Addr, tc.addr)
			}
			var names []string
			for _, c := range d.Codecs {
				names = append(names, c.Name)
			}
			if strings.Join(names, ",") != strings.Join(tc.codecs, ",") {
				t.Errorf("codecs %v, want %v", names, tc.codecs)
			}
			if (d.DTMF == nil) != (tc.dtmf == nil) || d.DTMF != nil && *d.DTMF != *tc.dtmf {
				t.Errorf("dtmf %v, want %v", d.DTMF, tc.dtmf)
			}
			if d.Direction != tc.offerDir || d.Hold != tc.hold || d.Ptime != tc.ptime {
				t.Errorf("dir %s hold %v ptime %d, want %s %v %d", d.Direction, d.Hold, d.Ptime, tc.offerDir, tc.hold, tc.ptime)
			}
			n, err := Negotiate(d, tc.supported)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("Negotiate err %v, want %v", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if n.Codec != tc.choose || n.Direction != tc.answerDir {
				t.Errorf("negotiated %v %s, want %v %s", n.Codec, n.Direction, tc.choose, tc.answerDir)
			}
			if (n.DTMF == nil) != (tc.dtmf == nil) || n.DTMF != nil && *n.DTMF != *tc.dtmf {
				t.Errorf("negotiated dtmf %v, want %v", n.DTMF, tc.dtmf)
			}
			// The answer must itself parse and keep the m= line count.
			ans := n.Answer(netip.MustParseAddrPort("127.0.0.1:10000"), 9, 9).Marshal()
			ad, err := ParseSDP(ans)
			if err != nil {
				t.Fatalf("answer does not parse: %v\n%s", err, ans)
			}
			if len(ad.Media) != len(d.Media) || ad.AudioIndex != d.AudioIndex {
				t.Errorf("answer has %d m= lines (audio at %d), offer %d (at %d)\n%s", len(ad.Media), ad.AudioIndex, len(d.Media), d.AudioIndex, ans)
			}
			for i, m := range ad.Media {
				if i != ad.AudioIndex && m.Port != 0 {
					t.Errorf("m= line %d not rejected: %+v", i, m)
				}
			}
			if ad.Direction != tc.answerDir || len(ad.Codecs) != 1 || !ad.Codecs[0].Is(tc.choose) || ad.Codecs[0].PayloadType != tc.choose.PayloadType {
				t.Errorf("answer round trip: %+v", ad)
			}
		})
	}
}

func TestParseSDPErrors(t *testing.T) {
	for name, in := range map[string]string{
		"garbage":     "hello",
		"no audio":    sdpHead + "c=IN IP4 1.2.3.4\r\nt=0 0\r\nm=video 5000 RTP/AVP 96\r\n",
		"rejected":    sdpHead + "c=IN IP4 1.2.3.4\r\nt=0 0\r\nm=audio 0 RTP/AVP 0\r\n",
		"no c=":       sdpHead + "t=0 0\r\nm=audio 4000 RTP/AVP 0\r\n",
		"bad address": sdpHead + "c=IN IP4 example.com\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n",
		"sctp only":   sdpHead + "c=IN IP4 1.2.3.4\r\nt=0 0\r\nm=audio 4000 UDP/DTLS/SCTP webrtc-datachannel\r\n",
		"empty":       "",
		"bad port":    sdpHead + "c=IN IP4 1.2.3.4\r\nt=0 0\r\nm=audio 99999 RTP/AVP 0\r\n",
		"network ATM": sdpHead + "c=ATM NSAP 1.2.3.4\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n",
		"missing v=0": "o=x 1 1 IN IP4 1.2.3.4\r\n",
	} {
		if _, err := ParseSDP([]byte(in)); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	_, err := ParseSDP([]byte(sdpHead + "c=IN IP4 1.2.3.4\r\nt=0 0\r\nm=video 5000 RTP/AVP 96\r\n"))
	if !errors.Is(err, ErrNoAudio) {
		t.Errorf("no audio: %v", err)
	}
}

func TestLocalDescriptionMarshal(t *testing.T) {
	te := DefaultTelephoneEvent
	ld := LocalDescription{
		Addr:   netip.MustParseAddrPort("127.0.0.1:10002"),
		Codecs: []Codec{PCMU, PCMA}, DTMF: &te, Direction: SendRecv,
		SessionID: 42, Version: 7,
	}
	got := string(ld.Marshal())
	for _, want := range []string{
		"v=0\r\n", "o=entvoice 42 7 IN IP4 127.0.0.1\r\n", "s=entVoice\r\n", "c=IN IP4 127.0.0.1\r\n", "t=0 0\r\n",
		"m=audio 10002 RTP/AVP 0 8 101\r\n", "a=rtpmap:0 PCMU/8000\r\n", "a=rtpmap:8 PCMA/8000\r\n",
		"a=rtpmap:101 telephone-event/8000\r\n", "a=fmtp:101 0-16\r\n", "a=ptime:20\r\n", "a=sendrecv\r\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("missing %q in\n%s", want, got)
		}
	}
	d, err := ParseSDP([]byte(got))
	if err != nil {
		t.Fatal(err)
	}
	if d.Addr != ld.Addr || len(d.Codecs) != 2 || d.DTMF == nil || d.Ptime != 20 || d.SessionID != 42 {
		t.Errorf("round trip: %+v", d)
	}
}

func FuzzParseSDP(f *testing.F) {
	f.Add([]byte(sdpHead + "c=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 6000 RTP/AVP 0 101\r\na=rtpmap:101 telephone-event/8000\r\n"))
	f.Add([]byte(sdpHead + "c=IN IP4 0.0.0.0\r\nt=0 0\r\nm=audio 4000 RTP/AVP 8 0\r\na=sendonly\r\nm=video 0 RTP/AVP 31\r\n"))
	f.Add(sdpLines("v=0", "o=- 0 0 IN IP6 ::1", "s=-", "c=IN IP6 ::1", "t=0 0", "m=audio 1/2 RTP/AVP 96", "a=rtpmap:96 opus/48000/2"))
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := ParseSDP(b)
		if err != nil {
			return
		}
		if n, err := Negotiate(d, []Codec{PCMU, PCMA}); err == nil {
			ans := n.Answer(netip.MustParseAddrPort("127.0.0.1:10000"), 1, 1).Marshal()
			if _, err := ParseSDP(ans); err != nil {
				t.Fatalf("our answer does not parse: %v\n%s", err, ans)
			}
		}
	})
}
