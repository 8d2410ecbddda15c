// Command queueload is the agents' side of bench/queue.sh: N SIP agents
// (users a0001.., password = name) register from one UDP socket, answer
// every call after -answer and hang it up after -talk. It measures the
// time from an agent hanging up (its BYE sent: the agent is free) to the
// next INVITE reaching it (the queue rings it again): the
// agent-free-to-ring latency, p50/p99/max over -secs after -warmup. With
// -ami it also counts the AMI events of the window (QueueMemberStatus per
// call tells whether device state storms).
//
// It prints one line of key=value pairs and exits on -secs or SIGTERM.
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
)

type agent struct {
	name string
	mu   sync.Mutex
	free time.Time // when its last call ended (zero: never had one)
}

type load struct {
	agents    map[string]*agent
	dua       *sipgo.DialogUA
	answer    time.Duration
	talk      time.Duration
	measuring atomic.Bool
	mu        sync.Mutex
	samples   []float64 // ms
	calls     atomic.Int64
	invites   atomic.Int64
	ctx       context.Context
	dmu       sync.Mutex
	dialogs   map[string]*sipgo.DialogServerSession // by Call-ID
}

func (l *load) dialog(req *sip.Request) *sipgo.DialogServerSession {
	id := req.CallID()
	if id == nil {
		return nil
	}
	l.dmu.Lock()
	defer l.dmu.Unlock()
	return l.dialogs[id.Value()]
}

func main() {
	target := flag.String("target", "127.0.0.1:5060", "entvoice SIP address")
	local := flag.String("local", "127.0.0.1:0", "agents' UDP address")
	n := flag.Int("agents", 200, "agents a0001..")
	answer := flag.Duration("answer", 100*time.Millisecond, "ring time before answering")
	talk := flag.Duration("talk", 5*time.Second, "talk time, then the agent hangs up")
	warmup := flag.Duration("warmup", 10*time.Second, "time before measuring")
	secs := flag.Duration("secs", 20*time.Second, "measuring window")
	amiAddr := flag.String("ami", "", "AMI address to count events on (user admin/amipass)")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	ua, err := sipgo.NewUA(sipgo.WithUserAgent("queueload"))
	if err != nil {
		fail(err)
	}
	defer ua.Close()
	pc, err := net.ListenPacket("udp", *local)
	if err != nil {
		fail(err)
	}
	addr := pc.LocalAddr().(*net.UDPAddr)
	srv, _ := sipgo.NewServer(ua)
	client, err := sipgo.NewClient(ua, sipgo.WithClientAddr(addr.String()), sipgo.WithClientConnectionAddr(addr.String()))
	if err != nil {
		fail(err)
	}
	l := &load{agents: map[string]*agent{}, answer: *answer, talk: *talk, ctx: ctx, dialogs: map[string]*sipgo.DialogServerSession{}}
	l.dua = &sipgo.DialogUA{Client: client, ContactHDR: sip.ContactHeader{Address: sip.Uri{Scheme: "sip", Host: "127.0.0.1", Port: addr.Port}}}
	srv.OnInvite(l.onInvite)
	srv.OnAck(func(req *sip.Request, tx sip.ServerTransaction) {
		if d := l.dialog(req); d != nil {
			_ = d.ReadAck(req, tx)
		}
	})
	srv.OnBye(func(req *sip.Request, tx sip.ServerTransaction) {
		if d := l.dialog(req); d != nil {
			_ = d.ReadBye(req, tx)
			return
		}
		_ = tx.Respond(sip.NewResponseFromRequest(req, 481, "Call/Transaction Does Not Exist", nil))
	})
	go func() { _ = srv.ServeUDP(pc) }()
	time.Sleep(100 * time.Millisecond)

	host, ps, _ := net.SplitHostPort(*target)
	port, _ := strconv.Atoi(ps)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 20)
	var regFail atomic.Int64
	for i := 1; i <= *n; i++ {
		name := fmt.Sprintf("a%04d", i)
		l.agents[name] = &agent{name: name}
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if !register(ctx, client, host, port, addr.Port, name) {
				regFail.Add(1)
			}
		}()
	}
	wg.Wait()
	if regFail.Load() > 0 {
		fail(fmt.Errorf("%d agents failed to register", regFail.Load()))
	}
	fmt.Fprintf(os.Stderr, "# queueload: %d agents registered from %s\n", *n, addr)

	var amiCount *amiCounter
	if *amiAddr != "" {
		amiCount = countAMI(*amiAddr)
	}
	select {
	case <-ctx.Done():
		return
	case <-time.After(*warmup):
	}
	calls0, inv0 := l.calls.Load(), l.invites.Load()
	waitStart := -1
	if amiCount != nil {
		waitStart = amiCount.waiting()
		amiCount.reset()
	}
	l.measuring.Store(true)
	t0 := time.Now()
	select {
	case <-ctx.Done():
	case <-time.After(*secs):
	}
	l.measuring.Store(false)
	el := time.Since(t0).Seconds()
	calls, inv := l.calls.Load()-calls0, l.invites.Load()-inv0
	l.mu.Lock()
	s := slices.Clone(l.samples)
	l.mu.Unlock()
	slices.Sort(s)
	q := func(p float64) float64 {
		if len(s) == 0 {
			return 0
		}
		return s[min(len(s)-1, int(p*float64(len(s))))]
	}
	line := fmt.Sprintf("agents=%d calls_per_s=%.1f invites_per_s=%.1f free_to_ring_samples=%d free_to_ring_p50=%.1fms free_to_ring_p99=%.1fms free_to_ring_max=%.1fms",
		*n, float64(calls)/el, float64(inv)/el, len(s), q(0.5), q(0.99), q(1))
	if amiCount != nil {
		ev := amiCount.snapshot()
		line += fmt.Sprintf(" waiting_start=%d waiting_end=%d", waitStart, amiCount.waiting())
		total := 0
		for _, v := range ev {
			total += v
		}
		perCall := 0.0
		if calls > 0 {
			perCall = float64(ev["QueueMemberStatus"]) / float64(calls)
		}
		line += fmt.Sprintf(" ami_events_per_s=%.0f member_status_per_call=%.2f device_state_per_call=%.2f", float64(total)/el, perCall,
			float64(ev["DeviceStateChange"])/max(float64(calls), 1))
	}
	fmt.Println(line)
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "queueload:", err)
	os.Exit(1)
}

func register(ctx context.Context, c *sipgo.Client, host string, port, localPort int, name string) bool {
	for try := 0; try < 3; try++ {
		req := sip.NewRequest(sip.REGISTER, sip.Uri{Scheme: "sip", Host: host, Port: port})
		params := sip.NewParams()
		params.Add("tag", sip.GenerateTagN(8))
		req.AppendHeader(&sip.FromHeader{Address: sip.Uri{Scheme: "sip", User: name, Host: host}, Params: params})
		req.AppendHeader(&sip.ToHeader{Address: sip.Uri{Scheme: "sip", User: name, Host: host}})
		req.AppendHeader(&sip.ContactHeader{Address: sip.Uri{Scheme: "sip", User: name, Host: "127.0.0.1", Port: localPort}})
		req.AppendHeader(sip.NewHeader("Expires", "3600"))
		rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		res, err := c.Do(rctx, req)
		if err == nil && res.StatusCode == 401 {
			res, err = c.DoDigestAuth(rctx, req, res, sipgo.DigestAuth{Username: name, Password: name})
		}
		cancel()
		if err == nil && res.StatusCode == 200 {
			return true
		}
	}
	return false
}

func (l *load) onInvite(req *sip.Request, tx sip.ServerTransaction) {
	now := time.Now()
	l.invites.Add(1)
	a := l.agents[req.Recipient.User]
	if a == nil {
		_ = tx.Respond(sip.NewResponseFromRequest(req, 404, "Not Found", nil))
		return
	}
	a.mu.Lock()
	free := a.free
	a.free = time.Time{}
	a.mu.Unlock()
	if !free.IsZero() && l.measuring.Load() {
		l.mu.Lock()
		l.samples = append(l.samples, float64(now.Sub(free).Microseconds())/1000)
		l.mu.Unlock()
	}
	dlg, err := l.dua.ReadInvite(req, tx)
	if err != nil {
		return
	}
	id := req.CallID().Value()
	l.dmu.Lock()
	l.dialogs[id] = dlg
	l.dmu.Unlock()
	defer func() {
		l.dmu.Lock()
		delete(l.dialogs, id)
		l.dmu.Unlock()
	}()
	_ = dlg.Respond(180, "Ringing", nil)
	select {
	case <-time.After(l.answer):
	case <-tx.Done():
		return
	}
	// No media: the SDP points at the discard port.
	sdp := "v=0\r\no=agent 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 9 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\na=sendrecv\r\n"
	if err := dlg.Respond(200, "OK", []byte(sdp), sip.NewHeader("Content-Type", "application/sdp")); err != nil {
		return
	}
	l.calls.Add(1)
	select {
	case <-time.After(l.talk):
	case <-dlg.Context().Done():
		// The caller hung up first.
		a.mu.Lock()
		a.free = time.Now()
		a.mu.Unlock()
		return
	case <-l.ctx.Done():
		return
	}
	bctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	a.mu.Lock()
	a.free = time.Now()
	a.mu.Unlock()
	_ = dlg.Bye(bctx)
}

// amiCounter counts events by name.
type amiCounter struct {
	c       net.Conn
	mu      sync.Mutex
	counts  map[string]int
	callers []int // Callers of each QueueSummary answered
}

// waiting asks QueueSummary and returns the callers waiting (-1 if no
// answer within a second).
func (a *amiCounter) waiting() int {
	a.mu.Lock()
	n := len(a.callers)
	a.mu.Unlock()
	fmt.Fprint(a.c, "Action: QueueSummary\r\nQueue: q\r\n\r\n")
	for i := 0; i < 100; i++ {
		time.Sleep(10 * time.Millisecond)
		a.mu.Lock()
		if len(a.callers) > n {
			v := a.callers[n]
			a.mu.Unlock()
			return v
		}
		a.mu.Unlock()
	}
	return -1
}

func countAMI(addr string) *amiCounter {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		fail(err)
	}
	a := &amiCounter{c: c, counts: map[string]int{}}
	fmt.Fprint(c, "Action: Login\r\nUsername: admin\r\nSecret: amipass\r\n\r\n")
	go func() {
		r := bufio.NewReaderSize(c, 256<<10)
		for {
			l, err := r.ReadString('\n')
			if err != nil {
				return
			}
			l = strings.TrimRight(l, "\r\n")
			if name, ok := strings.CutPrefix(l, "Event: "); ok {
				a.mu.Lock()
				a.counts[name]++
				a.mu.Unlock()
			} else if v, ok := strings.CutPrefix(l, "Callers: "); ok {
				n, _ := strconv.Atoi(v)
				a.mu.Lock()
				a.callers = append(a.callers, n)
				a.mu.Unlock()
			}
		}
	}()
	return a
}

func (a *amiCounter) reset() {
	a.mu.Lock()
	a.counts = map[string]int{}
	a.mu.Unlock()
}

func (a *amiCounter) snapshot() map[string]int {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := map[string]int{}
	for k, v := range a.counts {
		out[k] = v
	}
	return out
}
