package e2e

import (
	"context"
	"errors"
	"fmt"
	"net"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
)

// reinvite sends a re-INVITE on a call the phone placed, offering the same
// codec and RTP port with the given direction (RFC 3264 section 8.4: hold
// is a=sendonly, unhold a=sendrecv), and ACKs a 2xx (RFC 3261 section
// 13.2.2.4: the UAC core sends the ACK of a 2xx itself). version is the
// o= line's session version, which must grow with each offer (RFC 3264
// section 8).
func (c *call) reinvite(ctx context.Context, dir string, version int) (*sip.Response, error) {
	if c.cli == nil {
		return nil, errors.New("reinvite: not the caller's side")
	}
	body := strings.Replace(string(c.p.sdp(c.rtp)), "a=sendrecv", "a="+dir, 1)
	body = strings.Replace(body, "o=- 1 1 ", fmt.Sprintf("o=- 1 %d ", version), 1)
	target := c.cli.InviteRequest.Recipient
	if ct := c.cli.InviteResponse.Contact(); ct != nil {
		target = ct.Address
	}
	req := sip.NewRequest(sip.INVITE, target)
	req.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	req.SetBody([]byte(body))
	res, err := c.cli.Do(ctx, req)
	if err != nil {
		return nil, err
	}
	if res.IsSuccess() {
		ack := sip.NewRequest(sip.ACK, target)
		if err := c.cli.WriteRequest(ack); err != nil {
			return res, fmt.Errorf("ACK of re-INVITE: %w", err)
		}
	}
	return res, nil
}

var sdpDirRe = regexp.MustCompile(`(?m)^a=(sendrecv|sendonly|recvonly|inactive)\r?$`)

// sdpDirection is the media direction an SDP body states (sendrecv when it
// states none, RFC 3264 section 5.1).
func sdpDirection(body []byte) string {
	m := sdpDirRe.FindSubmatch(body)
	if m == nil {
		return "sendrecv"
	}
	return string(m[1])
}

// rawUDP is a bare UDP socket for sending hand-written SIP datagrams.
type rawUDP struct {
	t    *testing.T
	conn *net.UDPConn
	dst  *net.UDPAddr
}

func newRawUDP(t *testing.T, dst string) *rawUDP {
	t.Helper()
	r, err := newRawUDPAt(t, dst, &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// newRawUDPAt binds the socket to laddr.
func newRawUDPAt(t *testing.T, dst string, laddr *net.UDPAddr) (*rawUDP, error) {
	t.Helper()
	c, err := net.ListenUDP("udp", laddr)
	if err != nil {
		return nil, err
	}
	t.Cleanup(func() { c.Close() })
	ua, err := net.ResolveUDPAddr("udp", dst)
	if err != nil {
		return nil, err
	}
	return &rawUDP{t: t, conn: c, dst: ua}, nil
}

// port is the local port, for Via and Contact headers.
func (r *rawUDP) port() int { return r.conn.LocalAddr().(*net.UDPAddr).Port }

// exchange sends one datagram and collects every datagram that arrives
// until quiet has passed without one (or until a final response arrives
// when stopAtFinal is set).
func (r *rawUDP) exchange(msg []byte, quiet time.Duration, stopAtFinal bool) []string {
	r.t.Helper()
	if _, err := r.conn.WriteToUDP(msg, r.dst); err != nil {
		r.t.Fatalf("send: %v", err)
	}
	return r.collect(quiet, stopAtFinal)
}

// collect gathers the datagrams that arrive until quiet passes without one
// (shortened once a final response arrives, when stopAtFinal is set).
func (r *rawUDP) collect(quiet time.Duration, stopAtFinal bool) []string {
	var got []string
	buf := make([]byte, 70000)
	for {
		_ = r.conn.SetReadDeadline(time.Now().Add(quiet))
		n, _, err := r.conn.ReadFromUDP(buf)
		if err != nil {
			return got
		}
		got = append(got, string(buf[:n]))
		if stopAtFinal && statusOf(string(buf[:n])) >= 200 {
			// Drain the retransmissions a little so the next
			// exchange starts clean.
			quiet = 50 * time.Millisecond
		}
	}
}

// statusOf is the status code of a response's start line, 0 for anything else.
func statusOf(msg string) int {
	line, _, _ := strings.Cut(msg, "\r\n")
	f := strings.Fields(line)
	if len(f) < 2 || f[0] != "SIP/2.0" {
		return 0
	}
	code := 0
	for _, c := range f[1] {
		if c < '0' || c > '9' {
			return 0
		}
		code = code*10 + int(c-'0')
	}
	return code
}
