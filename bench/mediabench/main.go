// Command mediabench measures the media engines over real loopback RTP: the
// conference mixer (internal/media/mixer) and music on hold
// (internal/media/moh). It runs the engine in a child process (the server,
// whose CPU is measured from /proc) and plays the phones itself.
//
//	mediabench calibrate
//	mediabench conference [-rooms 50] [-size 10] [-talkers 2] [-secs 10]
//	mediabench moh [-listeners 1000] [-secs 10] [-talk]
//
// The phones share a few plain UDP sockets that the Go runtime does not
// poll: the sockets are drained every 2 ms and packets carry kernel receive
// timestamps (SO_TIMESTAMPNS) for the gap figures. On loopback the kernel
// charges the receiver's delivery work to the sender; a phone that sleeps in
// epoll would add a wake-up per packet to the server's figure, which a real
// network interface would not.
//
// calibrate prints the machine's media figures, printed beside every result
// (after bench/lib.sh's general calibrate line): the CPU time of one G.711
// encoding of a 20 ms frame, and the CPU time of sending one RTP packet
// from per-call sockets over loopback, from raw sockets (sendto plus
// delivery, the floor under any RTP fan-out) and from Go net sockets.
package main

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/entvoice/entvoice/internal/media"
	"github.com/entvoice/entvoice/internal/media/mixer"
	"github.com/entvoice/entvoice/internal/media/moh"
	"golang.org/x/sys/unix"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: mediabench calibrate|conference|confbridge|moh [flags]")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "calibrate":
		err = calibrate()
	case "conference", "confbridge", "moh":
		err = drive(os.Args[1], os.Args[2:])
	case "serve":
		err = serve(os.Args[2:])
	default:
		err = fmt.Errorf("unknown command %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "mediabench:", err)
		os.Exit(1)
	}
}

// ---- calibration ---------------------------------------------------------

func threadCPU() time.Duration {
	var ru unix.Rusage
	_ = unix.Getrusage(unix.RUSAGE_THREAD, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func calibrate() error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	// G.711: best of 5 runs of 20,000 encodings.
	pcm := make([]int16, media.FrameSamples)
	for i := range pcm {
		pcm[i] = int16(8000 * math.Sin(float64(i)/3))
	}
	out := make([]byte, media.FrameSamples)
	enc := time.Duration(math.MaxInt64)
	for range 5 {
		t0 := threadCPU()
		for range 20000 {
			media.Encode(media.PCMU, out, pcm)
		}
		enc = min(enc, (threadCPU()-t0)/20000)
	}
	// UDP: 1000 sockets each send 50 packets to 4 polled receivers.
	rx, err := newPhones(4, 0)
	if err != nil {
		return err
	}
	rx.start(nil)
	defer rx.close()
	var fds []int
	defer func() {
		for _, fd := range fds {
			unix.Close(fd)
		}
	}()
	for range 1000 {
		fd, err := rawSocket(0)
		if err != nil {
			return err
		}
		fds = append(fds, fd)
	}
	pkt := make([]byte, 12+media.FrameSamples)
	pkt[0] = 0x80
	best := time.Duration(math.MaxInt64)
	for range 3 {
		t0 := threadCPU()
		for range 50 {
			for i, fd := range fds {
				_ = unix.Sendto(fd, pkt, 0, rx.sockaddr(i))
			}
			time.Sleep(2 * time.Millisecond)
		}
		best = min(best, (threadCPU()-t0)/50000)
	}
	// The same through Go's net package: its sockets are in the runtime's
	// epoll set, and every packet freed wakes the poller (EPOLLOUT).
	var conns []*net.UDPConn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for range 1000 {
		c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			return err
		}
		conns = append(conns, c)
	}
	bestGo := time.Duration(math.MaxInt64)
	for range 3 {
		// Whole-process CPU (the poller's wake-ups run on other threads)
		// less the receiving thread's.
		t0, d0 := procSelfCPU(), time.Duration(rx.drainCPU.Load())
		for range 50 {
			for i, c := range conns {
				_, _ = c.WriteToUDPAddrPort(pkt, rx.addrs[i%len(rx.addrs)])
			}
			time.Sleep(2 * time.Millisecond)
		}
		time.Sleep(5 * time.Millisecond) // the last packets drained
		bestGo = min(bestGo, (procSelfCPU()-t0-(time.Duration(rx.drainCPU.Load())-d0))/50000)
	}
	load, _ := os.ReadFile("/proc/loadavg")
	fmt.Printf("media calibration: g711_encode=%.2fus/frame udp_send=%.2fus/packet udp_send_go=%.2fus/packet cpu=%q cores=%d loadavg=%q go=%s\n",
		us(enc), us(best), us(bestGo), cpuModel(), runtime.NumCPU(), strings.Join(strings.Fields(string(load))[:3], " "), runtime.Version())
	return nil
}

func procSelfCPU() time.Duration {
	var ru unix.Rusage
	_ = unix.Getrusage(unix.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func us(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }
func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func cpuModel() string {
	b, _ := os.ReadFile("/proc/cpuinfo")
	for line := range strings.Lines(string(b)) {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown"
}

// ---- phones: raw UDP sockets, polled -------------------------------------

func rawSocket(port int) (int, error) {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return 0, fmt.Errorf("socket: %w", err)
	}
	if err := unix.Bind(fd, &unix.SockaddrInet4{Port: port, Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		unix.Close(fd)
		return 0, fmt.Errorf("bind: %w", err)
	}
	return fd, nil
}

// phones are k sockets at even ports (RTCP sockets at the odd ones beside
// them, never read) playing every participant's far end.
type phones struct {
	fds, rtcp []int
	addrs     []netip.AddrPort
	stop      atomic.Bool
	draining  bool
	drainCPU  atomic.Int64 // the drain thread's CPU time so far
	done      chan struct{}
}

func newPhones(k, base int) (*phones, error) {
	p := &phones{done: make(chan struct{})}
	for port := max(base, 10000); len(p.fds) < k && port < 19998; port += 2 {
		fd, err := rawSocket(port)
		if err != nil {
			continue
		}
		fd2, err := rawSocket(port + 1)
		if err != nil {
			unix.Close(fd)
			continue
		}
		_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, 4<<20)
		_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_TIMESTAMPNS, 1)
		p.fds, p.rtcp = append(p.fds, fd), append(p.rtcp, fd2)
		p.addrs = append(p.addrs, netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(port)))
	}
	if len(p.fds) < k {
		p.close()
		return nil, errors.New("no free ports for the phones in 10000-19999")
	}
	return p, nil
}

// sockaddr of phone socket i%k (used as a destination by calibrate).
func (p *phones) sockaddr(i int) *unix.SockaddrInet4 {
	a := p.addrs[i%len(p.addrs)]
	return &unix.SockaddrInet4{Port: int(a.Port()), Addr: a.Addr().As4()}
}

// start drains the sockets on a goroutine until close.
func (p *phones) start(st *rxStats) {
	p.draining = true
	go p.drain(st)
}

func (p *phones) close() {
	p.stop.Store(true)
	if p.draining {
		<-p.done
	}
	for _, fd := range slices.Concat(p.fds, p.rtcp) {
		unix.Close(fd)
	}
}

// rxStats are what the phones received.
type rxStats struct {
	mu      sync.Mutex
	streams map[uint16]*stream // by the server's source port
	packets uint64
	gaps    [2001]uint64 // |gap - 20 ms| in 50 us buckets, last: 100 ms and over
	ngaps   uint64
}

type stream struct {
	seq  uint16
	last int64
	n    uint64
}

func (r *rxStats) add(src uint16, seq uint16, at int64) {
	s := r.streams[src]
	if s == nil {
		s = &stream{}
		r.streams[src] = s
	}
	if s.n > 0 && seq == s.seq+1 {
		d := at - s.last - int64(media.FrameDuration)
		r.gaps[min(2000, max(d, -d)/int64(50*time.Microsecond))]++
		r.ngaps++
	}
	s.seq, s.last = seq, at
	s.n++
	r.packets++
}

func (r *rxStats) reset() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.packets, r.ngaps = 0, 0
	clear(r.gaps[:])
}

func (r *rxStats) gapQuantile(q float64) time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	rank, seen := uint64(q*float64(r.ngaps)), uint64(0)
	for i, n := range r.gaps {
		if seen += n; seen > rank {
			return time.Duration(i+1) * 50 * time.Microsecond
		}
	}
	return 0
}

// drain reads every socket without blocking every 2 ms until close.
func (p *phones) drain(st *rxStats) {
	defer close(p.done)
	runtime.LockOSThread() // so that its CPU time can be told apart
	defer runtime.UnlockOSThread()
	defer func() { p.drainCPU.Store(int64(threadCPU())) }()
	buf := make([]byte, 1500)
	oob := make([]byte, 128)
	for !p.stop.Load() {
		if st != nil {
			st.mu.Lock()
		}
		for _, fd := range p.fds {
			for {
				n, oobn, _, from, err := unix.Recvmsg(fd, buf, oob, unix.MSG_DONTWAIT)
				if err != nil {
					break
				}
				if st == nil || n < 12 {
					continue
				}
				at := time.Now().UnixNano()
				if msgs, err := unix.ParseSocketControlMessage(oob[:oobn]); err == nil {
					for _, m := range msgs {
						if m.Header.Level == unix.SOL_SOCKET && m.Header.Type == unix.SO_TIMESTAMPNS && len(m.Data) >= 16 {
							// struct timespec: two native 64-bit words on linux/amd64 and arm64.
							sec, nsec := binary.NativeEndian.Uint64(m.Data[0:8]), binary.NativeEndian.Uint64(m.Data[8:16])
							at = int64(sec)*int64(time.Second) + int64(nsec)
						}
					}
				}
				if sa, ok := from.(*unix.SockaddrInet4); ok {
					st.add(uint16(sa.Port), uint16(buf[2])<<8|uint16(buf[3]), at)
				}
			}
		}
		if st != nil {
			st.mu.Unlock()
		}
		p.drainCPU.Store(int64(threadCPU()))
		time.Sleep(2 * time.Millisecond)
	}
}

// ---- the driver (parent) -------------------------------------------------

type serverStats struct {
	Frames  uint64  `json:"frames"`
	P50     float64 `json:"p50_ms"`
	P99     float64 `json:"p99_ms"`
	Max     float64 `json:"max_ms"`
	LateMax float64 `json:"late_max_ms"`
	Sent    uint64  `json:"sent"`
	Encoded uint64  `json:"encoded"`
	Mixed   uint64  `json:"mixed"`
	RxIn    uint64  `json:"rx_packets"`
}

func drive(kind string, args []string) error {
	fs := flag.NewFlagSet(kind, flag.ExitOnError)
	rooms := fs.Int("rooms", 50, "conference: rooms")
	size := fs.Int("size", 10, "conference: participants per room")
	talkers := fs.Int("talkers", 2, "conference: talking participants per room (the others send low noise)")
	listeners := fs.Int("listeners", 1000, "moh: listeners of the class")
	talk := fs.Bool("talk", false, "moh: the listeners' phones send RTP too (not counted as music on hold)")
	dir := fs.String("dir", "", "moh: directory of the class's files (default: the synthesised tune)")
	secs := fs.Int("secs", 10, "measuring window, seconds")
	warmup := fs.Int("warmup", 3, "seconds before measuring")
	k := fs.Int("sockets", 4, "phone sockets")
	_ = fs.Parse(args)

	n := *listeners
	if kind == "conference" || kind == "confbridge" {
		n = *rooms * *size
	}
	ph, err := newPhones(*k, 10000+int(time.Now().UnixNano()/1000%2000)*4)
	if err != nil {
		return err
	}
	st := &rxStats{streams: map[uint16]*stream{}}
	ph.start(st)
	defer ph.close()

	var addrs []string
	for _, a := range ph.addrs {
		addrs = append(addrs, a.String())
	}
	cmd := exec.Command(os.Args[0], "serve", "-kind", kind, "-rooms", fmt.Sprint(*rooms), "-size", fmt.Sprint(*size),
		"-listeners", fmt.Sprint(*listeners), "-dir", *dir, "-phones", strings.Join(addrs, ","))
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start server: %w", err)
	}
	defer func() { _ = stdin.Close(); _ = cmd.Wait() }()
	out := bufio.NewScanner(stdout)
	out.Buffer(make([]byte, 1<<20), 1<<24)
	if !out.Scan() {
		return errors.New("server did not start")
	}
	var ports []int
	for f := range strings.FieldsSeq(strings.TrimPrefix(out.Text(), "ready ")) {
		p, _ := strconv.Atoi(f)
		ports = append(ports, p)
	}
	if len(ports) != n {
		return fmt.Errorf("server gave %d ports, want %d", len(ports), n)
	}

	// The phones' sending: participant i sends through socket i%k to its
	// session, in slot i%20 of every 20 ms.
	sendStop := make(chan struct{})
	sendDone := make(chan struct{})
	send := kind == "conference" || kind == "confbridge" || *talk
	go func() {
		defer close(sendDone)
		if send {
			phoneSend(ph, ports, *size, *talkers, kind == "moh", sendStop)
		}
	}()
	defer func() { close(sendStop); <-sendDone }()

	cmdLine := func(c string) (serverStats, error) {
		var s serverStats
		if _, err := io.WriteString(stdin, c+"\n"); err != nil {
			return s, err
		}
		if !out.Scan() {
			return s, errors.New("server died")
		}
		return s, json.Unmarshal(out.Bytes(), &s)
	}
	time.Sleep(time.Duration(*warmup) * time.Second)
	if _, err := cmdLine("reset"); err != nil {
		return err
	}
	st.reset()
	c0, t0 := procCPU(cmd.Process.Pid), time.Now()
	time.Sleep(time.Duration(*secs) * time.Second)
	c1, t1 := procCPU(cmd.Process.Pid), time.Now()
	s, err := cmdLine("stats")
	if err != nil {
		return err
	}
	st.mu.Lock()
	pps := float64(st.packets) / t1.Sub(t0).Seconds()
	st.mu.Unlock()
	cpu := 100 * (c1 - c0).Seconds() / t1.Sub(t0).Seconds()
	gap50, gap99 := st.gapQuantile(0.5), st.gapQuantile(0.99)
	switch kind {
	case "conference", "confbridge":
		fmt.Printf(kind+" rooms=%dx%d talkers=%d/room participants=%d cpu=%.1f%% participants_per_core=%.0f frame_p50=%.3fms frame_p99=%.3fms frame_max=%.3fms tick_late_max=%.2fms encodes/frame=%.2f rx=%.0f/s (want %d) gap_p50=%.2fms gap_p99=%.2fms\n",
			*rooms, *size, *talkers, n, cpu, float64(n)/(cpu/100), s.P50, s.P99, s.Max, s.LateMax,
			float64(s.Encoded)/float64(max(1, s.Frames)), pps, n*50, ms(gap50), ms(gap99))
	default:
		fmt.Printf("moh listeners=%d phones_send=%v cpu=%.1f%% rx=%.0f/s (want %d) gap_p50=%.2fms gap_p99=%.2fms\n",
			n, *talk, cpu, pps, n*50, ms(gap50), ms(gap99))
	}
	return nil
}

// procCPU is utime+stime of pid.
func procCPU(pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	stt, _ := strconv.ParseInt(f[12], 10, 64)
	const clkTck = 100 // sysconf(_SC_CLK_TCK) on Linux
	return time.Duration(ut+stt) * time.Second / clkTck
}

// phoneSend sends every participant's RTP (PCMU for even, PCMA for odd
// indexes, as the server negotiated): the first talkers of each room a
// tone, the others faint noise (below the talking threshold).
func phoneSend(ph *phones, ports []int, size, talkers int, silent bool, stop <-chan struct{}) {
	const period = 50 // frames of the looped signals (1 s)
	tone := make([]int16, period*media.FrameSamples)
	noise := make([]int16, len(tone))
	for i := range tone {
		tone[i] = int16(3000 * math.Sin(2*math.Pi*440*float64(i)/media.SampleRate))
		noise[i] = int16(40 * math.Sin(2*math.Pi*2900*float64(i)/media.SampleRate))
	}
	enc := func(c media.Codec, pcm []int16) []byte {
		b := make([]byte, len(pcm))
		media.Encode(c, b, pcm)
		return b
	}
	payload := [2][2][]byte{{enc(media.PCMU, noise), enc(media.PCMA, noise)}, {enc(media.PCMU, tone), enc(media.PCMA, tone)}}
	type leg struct {
		sa   unix.SockaddrInet4
		fd   int
		seq  uint16
		ts   uint32
		law  int
		talk int
	}
	legs := make([]leg, len(ports))
	for i, p := range ports {
		legs[i] = leg{sa: unix.SockaddrInet4{Port: p, Addr: [4]byte{127, 0, 0, 1}}, fd: ph.fds[i%len(ph.fds)], law: i % 2}
		if !silent && i%max(1, size) < talkers {
			legs[i].talk = 1
		}
	}
	pkt := make([]byte, 12+media.FrameSamples)
	start := time.Now()
	for frame := 0; ; frame++ {
		for slot := range 20 {
			select {
			case <-stop:
				return
			default:
			}
			time.Sleep(time.Until(start.Add(time.Duration(frame)*media.FrameDuration + time.Duration(slot)*time.Millisecond)))
			off := (frame % period) * media.FrameSamples
			for i := slot; i < len(legs); i += 20 {
				l := &legs[i]
				pkt[0], pkt[1] = 0x80, []byte{0, 8}[l.law]
				pkt[2], pkt[3] = byte(l.seq>>8), byte(l.seq)
				pkt[4], pkt[5], pkt[6], pkt[7] = byte(l.ts>>24), byte(l.ts>>16), byte(l.ts>>8), byte(l.ts)
				pkt[8], pkt[9], pkt[10], pkt[11] = 0, 0, byte(i>>8), byte(i)
				copy(pkt[12:], payload[l.talk][l.law][off:off+media.FrameSamples])
				_ = unix.Sendto(l.fd, pkt, 0, &l.sa)
				l.seq++
				l.ts += media.FrameSamples
			}
		}
	}
}

// ---- the server (child) --------------------------------------------------

func serve(args []string) error {
	fs := flag.NewFlagSet("serve", flag.ExitOnError)
	kind := fs.String("kind", "conference", "")
	rooms := fs.Int("rooms", 50, "")
	size := fs.Int("size", 10, "")
	listeners := fs.Int("listeners", 1000, "")
	dir := fs.String("dir", "", "")
	phoneList := fs.String("phones", "", "")
	_ = fs.Parse(args)
	var phones []netip.AddrPort
	for a := range strings.SplitSeq(*phoneList, ",") {
		ap, err := netip.ParseAddrPort(a)
		if err != nil {
			return err
		}
		phones = append(phones, ap)
	}
	pool, err := media.NewPortPool(netip.MustParseAddr("127.0.0.1"), 20000, 60000, media.PoolOptions{})
	if err != nil {
		return err
	}
	defer pool.Close()
	pacer := media.NewPacer(nil)
	defer pacer.Close()
	var sessions []*media.Session
	defer func() {
		for _, s := range sessions {
			_ = s.Close()
		}
	}()
	newSession := func(i int) (*media.Session, error) {
		s, err := media.NewSession(pool, pacer, nil)
		if err != nil {
			return nil, err
		}
		c := []media.Codec{media.PCMU, media.PCMA}[i%2]
		s.SetRemote(media.Negotiated{Remote: phones[i%len(phones)], Codec: c, Direction: media.SendRecv})
		sessions = append(sessions, s)
		return s, nil
	}

	var timing mixer.Timing
	var rs []statter
	defer func() {
		for _, r := range rs {
			if c, ok := r.(interface{ Close() }); ok {
				c.Close()
			}
		}
	}()
	var player *moh.Player
	defer func() {
		if player != nil {
			player.Close()
		}
	}()
	switch *kind {
	case "conference":
		for range *rooms {
			r, err := mixer.NewRoom(pacer, mixer.Options{Timing: &timing})
			if err != nil {
				return err
			}
			rs = append(rs, r)
			for range *size {
				s, err := newSession(len(sessions))
				if err != nil {
					return err
				}
				if _, err := r.Join(s, mixer.JoinOptions{}); err != nil {
					return err
				}
			}
		}
	case "confbridge":
		svc, stop, err := confbridgeRooms(pacer, &timing, *rooms, *size, func() (*media.Session, error) { return newSession(len(sessions)) })
		defer stop()
		if err != nil {
			return err
		}
		rs = append(rs, svc)
	case "moh":
		var cfg *moh.Config
		if *dir != "" {
			cfg = moh.DefaultConfig(*dir)
		}
		if player, err = moh.New(pacer, cfg, moh.Options{}); err != nil {
			return err
		}
		class, _ := player.Class("default")
		for i := range *listeners {
			s, err := newSession(i)
			if err != nil {
				return err
			}
			if _, err := class.Attach(s); err != nil {
				return err
			}
		}
	}
	var ports []string
	for _, s := range sessions {
		ports = append(ports, fmt.Sprint(s.LocalAddr().Port()))
	}
	fmt.Println("ready " + strings.Join(ports, " "))
	in := bufio.NewScanner(os.Stdin)
	var base mixer.Stats
	total := func() (st mixer.Stats) {
		for _, r := range rs {
			x := r.Stats()
			st.Mixed += x.Mixed
			st.Sent += x.Sent
			st.Encoded += x.Encoded
		}
		return st
	}
	for in.Scan() {
		switch in.Text() {
		case "reset":
			timing.Reset()
			base = total()
			fmt.Println("{}")
		case "stats":
			t := total()
			var rx uint64
			for _, s := range sessions {
				rx += s.Stats().PacketsIn
			}
			b, _ := json.Marshal(serverStats{
				Frames: timing.Count(), P50: ms(timing.Quantile(0.5)), P99: ms(timing.Quantile(0.99)),
				Max: ms(timing.Max()), LateMax: ms(timing.MaxLate()),
				Sent: t.Sent - base.Sent, Encoded: t.Encoded - base.Encoded, Mixed: t.Mixed - base.Mixed, RxIn: rx,
			})
			fmt.Println(string(b))
		}
	}
	return nil
}
