package sipua

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/emiago/sipgo/siptest"
	"github.com/icholy/digest"

	"github.com/entvoice/entvoice/internal/acl"
	"github.com/entvoice/entvoice/internal/channel"
	"github.com/entvoice/entvoice/internal/events"
	"github.com/entvoice/entvoice/internal/media"
	"github.com/entvoice/entvoice/internal/sipauth"
	"github.com/entvoice/entvoice/internal/tenancy"
	"github.com/entvoice/entvoice/internal/testpeer"
)

const testRealm = "entvoice.test"

// Where requests come from: a user's phone, the carrier's trunk, an
// address nobody is configured for.
const (
	phoneSrc    = "192.0.2.10:5070"
	trunkSrc    = "198.51.100.7:5060"
	strangerSrc = "203.0.113.9:5060"
)

// sipEnv is a Server (not started: requests are handed to its handlers
// as sipgo's server would hand them, on transactions that record the
// responses) with a directory of users and a trunk, and a dialplan the
// test stands in for.
type sipEnv struct {
	t      *testing.T
	srv    *Server
	reg    *channel.Registry
	limits *tenancy.Limits
	pool   *media.PortPool
	pacer  *media.Pacer
	log    *slog.Logger
	// exts are the extensions the dialplan has, as "context/exten".
	exts map[string]bool
	// calls receives each channel handed to the dialplan.
	calls chan *channel.Channel

	mu sync.Mutex
	// dialplan is what the dialplan does with a call (default: answer,
	// then wait until the call is over).
	dialplan func(ch *channel.Channel)
}

func newSIPEnv(t *testing.T) *sipEnv {
	t.Helper()
	e := &sipEnv{t: t, log: slog.New(slog.NewTextHandler(io.Discard, nil)), limits: tenancy.NewLimits(),
		exts: map[string]bool{"phones/100": true, "from-trunk/100": true}, calls: make(chan *channel.Channel, 8)}
	e.reg = channel.NewRegistry("", events.New(), e.log)
	first := testpeer.FreePortBlock(t, 20)
	var err error
	if e.pool, err = media.NewPortPool(netip.MustParseAddr("127.0.0.1"), first, first+19, media.PoolOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.pool.Close)
	e.pacer = media.NewPacer(e.log)
	t.Cleanup(e.pacer.Close)
	lan, err := acl.ParseList([]string{"10.0.0.0/8"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	user := func(name string) *Endpoint {
		return &Endpoint{Name: name, Enabled: true, Credentials: sipauth.CredentialsFromPassword(name, testRealm, "pass"+name),
			Context: "phones", Codecs: []media.Codec{media.PCMU, media.PCMA}}
	}
	lanOnly, disabled := user("1002"), user("1003")
	lanOnly.ACL = lan
	disabled.Enabled = false
	dir := NewDirectory([]*Endpoint{user("1001"), lanOnly, disabled, {
		Name: "carrier", Trunk: true, Enabled: true, Context: "from-trunk", Codecs: []media.Codec{media.PCMU},
		Match: []netip.Prefix{netip.MustParsePrefix("198.51.100.0/24")},
	}})
	port := uint16(testpeer.FreePorts(t, 1)[0])
	listen := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), port)
	e.srv, err = New(Options{
		Listeners: []Listener{{Transport: "udp", Addr: listen}, {Transport: "tcp", Addr: listen}},
		Realm:     testRealm, UserAgent: "entvoice-test", MediaAddr: netip.MustParseAddr("127.0.0.1"),
		Ports: e.pool, Pacer: e.pacer, Channels: e.reg, Handler: e,
		Challenger:     sipauth.NewChallenger(sipauth.Options{Realm: testRealm, Key: []byte("test key"), Algorithms: []string{"MD5"}}),
		SessionExpires: 1800, Logger: e.log, Directory: dir, Limits: e.limits,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.srv.Close() })
	return e
}

// Exists implements CallHandler.
func (e *sipEnv) Exists(context, exten string) bool { return e.exts[context+"/"+exten] }

// HandleCall implements CallHandler.
func (e *sipEnv) HandleCall(ch *channel.Channel) {
	e.calls <- ch
	e.mu.Lock()
	run := e.dialplan
	e.mu.Unlock()
	if run == nil {
		run = func(ch *channel.Channel) {
			_ = ch.Answer(context.Background())
			<-ch.Done()
		}
	}
	run(ch)
}

// setDialplan replaces what the dialplan does with calls.
func (e *sipEnv) setDialplan(f func(ch *channel.Channel)) {
	e.mu.Lock()
	e.dialplan = f
	e.mu.Unlock()
}

// nextCall waits for the channel of a call handed to the dialplan.
func (e *sipEnv) nextCall() *channel.Channel {
	e.t.Helper()
	select {
	case ch := <-e.calls:
		return ch
	case <-time.After(10 * time.Second):
		e.t.Fatal("no call reached the dialplan")
		return nil
	}
}

// txRec is a server transaction that records the responses sent on it
// (siptest's recorder) and hands each to the test as it is sent.
type txRec struct {
	*siptest.ServerTxRecorder
	res chan *sip.Response
}

// newTx is a recording transaction for req, terminated at cleanup.
func newTx(t *testing.T, req *sip.Request) *txRec {
	tx := &txRec{ServerTxRecorder: siptest.NewServerTxRecorder(req), res: make(chan *sip.Response, 64)}
	t.Cleanup(tx.Terminate)
	return tx
}

func (r *txRec) Respond(res *sip.Response) error {
	err := r.ServerTxRecorder.Respond(res)
	r.res <- res.Clone()
	return err
}

// final waits for the final response sent on the transaction.
func (r *txRec) final(t *testing.T) *sip.Response {
	t.Helper()
	for {
		select {
		case res := <-r.res:
			if res.StatusCode >= 200 {
				return res
			}
		case <-time.After(10 * time.Second):
			t.Fatal("no final response")
			return nil
		}
	}
}

// send hands a request to the server's handler for its method, as
// sipgo's server does (on a transaction it terminates once the handler
// returns), on a goroutine of its own: an INVITE's handler runs the whole
// call. done is closed when the handler has returned.
func (e *sipEnv) send(req *sip.Request) (tx *txRec, done <-chan struct{}) {
	tx = newTx(e.t, req)
	d := make(chan struct{})
	go func() {
		defer close(d)
		e.handler(req.Method)(req, tx)
		tx.TerminateGracefully()
	}()
	return tx, d
}

// ack hands an ACK for a 2xx to the server (no transaction, as sipgo).
func (e *sipEnv) ack(req *sip.Request) { e.handler(sip.ACK)(req, nil) }

func (e *sipEnv) handler(m sip.RequestMethod) func(*sip.Request, sip.ServerTransaction) {
	if h, ok := e.srv.routes[m]; ok {
		return h
	}
	return e.srv.onNoRoute
}

// wait waits until a handler has returned.
func wait(t *testing.T, done <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatalf("%s never returned", what)
	}
}

// dialog builds the requests of one call from a phone or trunk.
type dialog struct {
	t        *testing.T
	fromUser string
	src      string // where the requests come from
	ruri     string
	callID   string
	fromTag  string
	toTag    string // set from the final response to the INVITE
	cseq     uint32
	branches int
}

var callIDs struct {
	sync.Mutex
	n int
}

func newDialog(t *testing.T, fromUser, src, exten string) *dialog {
	callIDs.Lock()
	callIDs.n++
	n := callIDs.n
	callIDs.Unlock()
	return &dialog{t: t, fromUser: fromUser, src: src, ruri: "sip:" + exten + "@127.0.0.1",
		callID: fmt.Sprintf("call-%d@test", n), fromTag: fmt.Sprintf("from%d", n)}
}

// request builds a request of the dialog; cseq 0 takes the next one.
func (d *dialog) request(method string, cseq uint32, body string, extra ...string) *sip.Request {
	d.t.Helper()
	if cseq == 0 {
		d.cseq++
		cseq = d.cseq
	}
	d.branches++
	host, _, _ := strings.Cut(d.src, ":")
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s SIP/2.0\r\n", method, d.ruri)
	fmt.Fprintf(&b, "Via: SIP/2.0/TCP %s;branch=z9hG4bK-%s-%d\r\n", d.src, d.fromTag, d.branches)
	b.WriteString("Max-Forwards: 70\r\n")
	fmt.Fprintf(&b, "From: <sip:%s@%s>;tag=%s\r\n", d.fromUser, host, d.fromTag)
	to := fmt.Sprintf("To: <%s>", d.ruri)
	if d.toTag != "" {
		to += ";tag=" + d.toTag
	}
	b.WriteString(to + "\r\n")
	fmt.Fprintf(&b, "Call-ID: %s\r\n", d.callID)
	fmt.Fprintf(&b, "CSeq: %d %s\r\n", cseq, method)
	fmt.Fprintf(&b, "Contact: <sip:%s@%s;transport=tcp>\r\n", d.fromUser, d.src)
	for _, h := range extra {
		b.WriteString(h + "\r\n")
	}
	if body != "" && !hasHeader(extra, "Content-Type") {
		b.WriteString("Content-Type: application/sdp\r\n")
	}
	fmt.Fprintf(&b, "Content-Length: %d\r\n\r\n%s", len(body), body)
	m, err := sip.ParseMessage([]byte(b.String()))
	if err != nil {
		d.t.Fatalf("parse %q: %v", b.String(), err)
	}
	req := m.(*sip.Request)
	req.SetSource(d.src)
	return req
}

func hasHeader(hs []string, name string) bool {
	for _, h := range hs {
		if strings.HasPrefix(strings.ToLower(h), strings.ToLower(name)+":") {
			return true
		}
	}
	return false
}

// established takes the To tag of a 2xx to the INVITE.
func (d *dialog) established(res *sip.Response) {
	d.t.Helper()
	tag, ok := res.To().Params.Get("tag")
	if !ok {
		d.t.Fatalf("no To tag in\n%s", res)
	}
	d.toTag = tag
}

// authorization answers the challenge of a 401 for the INVITE.
func (d *dialog) authorization(res *sip.Response, password string) string {
	d.t.Helper()
	return d.authorizationAs(res, d.fromUser, password)
}

// authorizationAs answers it as user.
func (d *dialog) authorizationAs(res *sip.Response, user, password string) string {
	d.t.Helper()
	h := res.GetHeader("WWW-Authenticate")
	if h == nil {
		d.t.Fatalf("no challenge in\n%s", res)
	}
	ch, err := digest.ParseChallenge(h.Value())
	if err != nil {
		d.t.Fatal(err)
	}
	cr, err := digest.Digest(ch, digest.Options{Method: "INVITE", URI: d.ruri, Username: user, Password: password})
	if err != nil {
		d.t.Fatal(err)
	}
	return "Authorization: " + cr.String()
}

// offer is an SDP offer from the phone with the given payload types
// (0 PCMU, 8 PCMA, 18 G729, 101 telephone-event) and direction.
func offer(pts, direction string) string {
	var b strings.Builder
	b.WriteString("v=0\r\no=phone 1 1 IN IP4 192.0.2.10\r\ns=-\r\nc=IN IP4 192.0.2.10\r\nt=0 0\r\n")
	fmt.Fprintf(&b, "m=audio 40000 RTP/AVP %s\r\n", pts)
	for _, pt := range strings.Fields(pts) {
		switch pt {
		case "0":
			b.WriteString("a=rtpmap:0 PCMU/8000\r\n")
		case "8":
			b.WriteString("a=rtpmap:8 PCMA/8000\r\n")
		case "18":
			b.WriteString("a=rtpmap:18 G729/8000\r\n")
		case "101":
			b.WriteString("a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\n")
		}
	}
	b.WriteString("a=" + direction + "\r\n")
	return b.String()
}
