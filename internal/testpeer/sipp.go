package testpeer

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// SIPpOptions configure one SIPp process. Zero values pick the defaults
// noted on each field.
type SIPpOptions struct {
	// Target is the remote "host:port" (UAC roles); empty for a UAS.
	Target string
	// Scenario is a path to an XML file, the name of a scenario shipped with
	// this package ("uac_call_auth", see Scenarios) or a SIPp built-in
	// ("uac", "uas", ...). Default "uac".
	Scenario string
	// Service is the Request-URI user (-s).
	Service string
	// Calls (-m) stops SIPp after that many calls; Rate (-r, calls per
	// RatePeriod, default 1 s) and Concurrent (-l) shape the load.
	Calls      int
	Rate       float64
	RatePeriod time.Duration
	Concurrent int
	// Transport: "u1" (default), "un", "t1", "tn".
	Transport string
	// AuthUser, AuthPass (-au, -ap) answer digest challenges; AuthURI
	// (-auth_uri) overrides the digest uri (SIPp defaults to
	// sip:remote_ip:remote_port, test-peers.md §1.4).
	AuthUser, AuthPass, AuthURI string
	// Keys are scenario keywords (-key k v). The package scenarios use
	// caller, domain, rtp_port, hold_ms, ring_ms, digits, code and expires; the
	// runner fills in defaults for the ones not given (see defaultKeys).
	// Key "pcap" is the same as Pcap.
	Keys map[string]string
	// Pcap is an RTP pcap to play: it is copied to <Dir>/play.pcap, the
	// file the package scenarios play. When empty and the scenario plays
	// play.pcap, 500 ms of PCMU silence is generated.
	Pcap string
	// RTPEcho makes SIPp echo RTP received on its media port (-rtp_echo).
	RTPEcho bool
	// Timeout is SIPp's global timeout (-timeout, with -timeout_error).
	// Default 30 s for RunSIPp, 120 s for StartSIPp.
	Timeout time.Duration
	// Port, MediaPort, ControlPort: 0 picks free ones (-p, -mp, -cp).
	Port, MediaPort, ControlPort int
	// StopGrace is how long SIPpProc.Stop waits after SIGUSR1 before it
	// kills SIPp (default DefaultStopGrace).
	StopGrace time.Duration
	// ExtraArgs are appended to the command line.
	ExtraArgs []string
	// LocalIP is the address SIPp sends from (-i; default 127.0.0.1):
	// another loopback address is another source to the node.
	LocalIP string
	// Quiet leaves out the message and log traces (a flood of 100,000
	// requests would spend its time writing them).
	Quiet bool
	// Dir is the working directory; default a new t.TempDir(). It gets a
	// pcap symlink to /usr/share/sip-tester (SIPp's bundled pcaps) and all
	// logs.
	Dir string
}

// SIPpResult is the outcome of a SIPp run.
type SIPpResult struct {
	// ExitCode is SIPp's exit status: 0 all calls succeeded, 1 some
	// failed, 97 internal command, 99 no call processed, 255 fatal error,
	// 254 bind error; -1 when killed by a signal.
	ExitCode int
	// Totals from the last row of the -trace_stat CSV (cumulative columns).
	Created, Successful, Failed, Retransmissions int
	// Stats is that whole last row, by column name.
	Stats map[string]string
	// MessageLog (-trace_msg), ErrorLog (-trace_err) and Log (the
	// scenario's <log> actions, -trace_logs) as text.
	MessageLog, ErrorLog, Log string
	// Dir holds every file of the run.
	Dir string
}

// LogLines returns the lines of the <log> output that start with prefix.
func (r *SIPpResult) LogLines(prefix string) []string {
	var out []string
	for _, l := range strings.Split(r.Log, "\n") {
		if strings.HasPrefix(l, prefix) {
			out = append(out, l)
		}
	}
	return out
}

// FinalCodes returns the final response codes logged by uac_expect_code
// ("final SIP/2.0 486"), one per call.
func (r *SIPpResult) FinalCodes() []int {
	var out []int
	for _, l := range r.LogLines("final SIP/2.0 ") {
		f := strings.Fields(strings.TrimPrefix(l, "final SIP/2.0 "))
		if len(f) == 0 {
			continue
		}
		if c, err := strconv.Atoi(f[0]); err == nil {
			out = append(out, c)
		}
	}
	return out
}

// SIPp exit codes (sipp -h).
const (
	SIPpExitOK        = 0
	SIPpExitFailed    = 1
	SIPpExitNoCalls   = 99
	SIPpExitFatal     = 255
	SIPpExitBindError = 254
)

const (
	sippBundledPcaps = "/usr/share/sip-tester"
	sippLoopback     = "127.0.0.1"
	bindRetries      = 4
)

// SIPpPath returns the sipp binary, skipping the test when it is missing.
func SIPpPath(t testing.TB) string {
	t.Helper()
	p, err := exec.LookPath("sipp")
	if err != nil {
		t.Skip("sipp (sip-tester) is not installed")
	}
	return p
}

// sippRun is one prepared invocation.
type sippRun struct {
	bin                string
	dir                string
	args               []string
	port, mport, cport int
	scenario           []byte
}

// prepare resolves the scenario, the ports and the command line.
func prepare(t testing.TB, opts SIPpOptions, defTimeout time.Duration) *sippRun {
	t.Helper()
	bin := SIPpPath(t)
	dir := opts.Dir
	if dir == "" {
		dir = t.TempDir()
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatalf("testpeer: %v", err)
	}
	link := filepath.Join(dir, "pcap")
	if _, err := os.Lstat(link); errors.Is(err, os.ErrNotExist) {
		if err := os.Symlink(sippBundledPcaps, link); err != nil {
			t.Fatalf("testpeer: pcap symlink: %v", err)
		}
	}
	scenArgs, scen, err := resolveScenario(opts.Scenario, dir)
	if err != nil {
		t.Fatal(err)
	}
	keys := map[string]string{}
	for k, v := range opts.Keys {
		keys[k] = v
	}
	pcap := opts.Pcap
	if pcap == "" {
		pcap = keys["pcap"]
	}
	playDur := time.Duration(0)
	if bytes.Contains(scen, []byte(`"play.pcap"`)) || pcap != "" {
		dst := filepath.Join(dir, "play.pcap")
		if pcap == "" {
			if err := WriteRTPPcap(dst, PcapOptions{Audio: GenerateSilence(500 * time.Millisecond)}); err != nil {
				t.Fatal(err)
			}
		} else if err := copyFile(pcap, dst); err != nil {
			t.Fatal(err)
		}
		playDur = pcapDuration(dst)
	}
	timeout := opts.Timeout
	if timeout <= 0 {
		timeout = defTimeout
	}
	r := &sippRun{bin: bin, dir: dir, scenario: scen}
	r.port, r.mport, r.cport = opts.Port, opts.MediaPort, opts.ControlPort
	r.pickPorts(t, opts.Transport)
	if _, ok := keys["domain"]; !ok {
		// The SIP domain of From and To: the target's host unless a
		// hosted-mode test names a tenant's domain.
		keys["domain"] = sippLoopback
		if h, _, err := net.SplitHostPort(opts.Target); err == nil {
			keys["domain"] = h
		}
	}
	defaultKeys(keys, r.mport, playDur)

	var a []string
	if opts.Target != "" {
		a = append(a, opts.Target)
	}
	a = append(a, scenArgs...)
	local := sippLoopback
	if opts.LocalIP != "" {
		local = opts.LocalIP
	}
	a = append(a, "-i", local, "-mi", local, "-nostdin",
		"-trace_stat", "-stf", "stat.csv", "-fd", "1",
		"-trace_err", "-error_file", "errors.log",
		"-timeout", fmt.Sprintf("%dms", timeout.Milliseconds()), "-timeout_error")
	if !opts.Quiet {
		a = append(a, "-trace_msg", "-message_file", "messages.log", "-trace_logs", "-log_file", "logs.log")
	}
	if opts.Service != "" {
		a = append(a, "-s", opts.Service)
	}
	if opts.Calls > 0 {
		a = append(a, "-m", strconv.Itoa(opts.Calls))
	}
	if opts.Rate > 0 {
		a = append(a, "-r", strconv.FormatFloat(opts.Rate, 'f', -1, 64))
	}
	if opts.RatePeriod > 0 {
		a = append(a, "-rp", fmt.Sprintf("%dms", opts.RatePeriod.Milliseconds()))
	}
	if opts.Concurrent > 0 {
		a = append(a, "-l", strconv.Itoa(opts.Concurrent))
	}
	if opts.Transport != "" {
		a = append(a, "-t", opts.Transport)
	}
	if opts.AuthUser != "" {
		a = append(a, "-au", opts.AuthUser)
	}
	if opts.AuthPass != "" {
		a = append(a, "-ap", opts.AuthPass)
	}
	if opts.AuthURI != "" {
		a = append(a, "-auth_uri", opts.AuthURI)
	}
	if opts.RTPEcho {
		a = append(a, "-rtp_echo")
	}
	names := make([]string, 0, len(keys))
	for k := range keys {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		a = append(a, "-key", k, keys[k])
	}
	a = append(a, opts.ExtraArgs...)
	r.args = a
	t.Cleanup(func() {
		if t.Failed() {
			logDiagnostics(t, dir)
		}
	})
	return r
}

// defaultKeys fills in the keywords the package scenarios need (SIPp refuses
// to load a scenario that uses an undefined [key]).
func defaultKeys(keys map[string]string, mport int, play time.Duration) {
	hold := max(500*time.Millisecond, play+300*time.Millisecond)
	def := map[string]string{
		"caller":   "sipp",
		"rtp_port": strconv.Itoa(mport),
		"hold_ms":  strconv.FormatInt(hold.Milliseconds(), 10),
		"ring_ms":  "0",
		"digits":   "",
		"code":     "any",
		"expires":  "3600",
		// uac_flood
		"user_agent": "entVoice-testpeer-SIPp",
	}
	for k, v := range def {
		if _, ok := keys[k]; !ok {
			keys[k] = v
		}
	}
	delete(keys, "pcap")
}

// pickPorts chooses the ports the caller left at 0: SIP (UDP, plus TCP for
// TCP transports), a block of 4 media ports (SIPp binds -mp and -mp+2) and
// the UDP control port.
func (r *sippRun) pickPorts(t testing.TB, transport string) {
	t.Helper()
	if r.port == 0 {
		if strings.HasPrefix(transport, "t") {
			r.port = FreePorts(t, 1)[0]
		} else {
			r.port = FreeUDPPort(t)
		}
	}
	if r.mport == 0 {
		r.mport = FreePortBlock(t, 4)
	}
	if r.cport == 0 {
		r.cport = FreeUDPPort(t)
	}
}

// command builds the exec.Cmd for the current ports.
func (r *sippRun) command(ctx context.Context) (*exec.Cmd, error) {
	args := append([]string{}, r.args...)
	args = append(args, "-p", strconv.Itoa(r.port), "-mp", strconv.Itoa(r.mport), "-cp", strconv.Itoa(r.cport))
	cmd := exec.CommandContext(ctx, r.bin, args...)
	cmd.Dir = r.dir
	out, err := os.Create(filepath.Join(r.dir, "sipp.out"))
	if err != nil {
		return nil, fmt.Errorf("testpeer: %w", err)
	}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.WaitDelay = 5 * time.Second
	cmd.Cancel = func() error { return cmd.Process.Kill() }
	return cmd, nil
}

// bindFailed reports whether a run died because a port was taken.
func (r *sippRun) bindFailed(code int) bool {
	if code == SIPpExitBindError {
		return true
	}
	out, _ := os.ReadFile(filepath.Join(r.dir, "sipp.out"))
	return bytes.Contains(out, []byte("errno = 98")) || bytes.Contains(out, []byte("Address already in use"))
}

// RunSIPp runs SIPp in the foreground until it exits and returns its
// result. It fails the test only when SIPp cannot be run at all; callers
// assert on the result. Port collisions (exit 254) are retried with new
// free ports when the ports were not given.
func RunSIPp(t testing.TB, opts SIPpOptions) *SIPpResult {
	t.Helper()
	r := prepare(t, opts, 30*time.Second)
	timeout := opts.Timeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	for attempt := 0; ; attempt++ {
		ctx, cancel := context.WithTimeout(context.Background(), timeout+20*time.Second)
		cmd, err := r.command(ctx)
		if err != nil {
			cancel()
			t.Fatal(err)
		}
		err = cmd.Run()
		closeOut(cmd)
		cancel()
		code := exitCode(err)
		if code < 0 && err != nil && !isExitError(err) {
			t.Fatalf("testpeer: run sipp: %v", err)
		}
		if r.bindFailed(code) && attempt < bindRetries && opts.Port == 0 && opts.MediaPort == 0 && opts.ControlPort == 0 {
			t.Logf("testpeer: sipp bind error, retrying with new ports")
			r.port, r.mport, r.cport = 0, 0, 0
			r.pickPorts(t, opts.Transport)
			r.rekey(opts)
			continue
		}
		return collect(r.dir, code)
	}
}

// rekey updates the default rtp_port key after the media port changed.
func (r *sippRun) rekey(opts SIPpOptions) {
	if _, set := opts.Keys["rtp_port"]; set {
		return
	}
	for i := 0; i+2 < len(r.args); i++ {
		if r.args[i] == "-key" && r.args[i+1] == "rtp_port" {
			r.args[i+2] = strconv.Itoa(r.mport)
		}
	}
}

func closeOut(cmd *exec.Cmd) {
	if f, ok := cmd.Stdout.(*os.File); ok {
		_ = f.Close()
	}
}

func isExitError(err error) bool {
	var ee *exec.ExitError
	return errors.As(err, &ee)
}

// exitCode extracts the exit status; -1 for a signal death.
func exitCode(err error) int {
	if err == nil {
		return 0
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return -1
		}
		return ee.ExitCode()
	}
	return -1
}

// collect reads the run's files into a result.
func collect(dir string, code int) *SIPpResult {
	res := &SIPpResult{ExitCode: code, Dir: dir}
	res.MessageLog = readString(filepath.Join(dir, "messages.log"))
	res.ErrorLog = readString(filepath.Join(dir, "errors.log"))
	res.Log = readString(filepath.Join(dir, "logs.log"))
	res.Stats = lastStatRow(readString(filepath.Join(dir, "stat.csv")))
	atoi := func(col string) int {
		n, _ := strconv.Atoi(strings.TrimSpace(res.Stats[col]))
		return n
	}
	res.Created = atoi("TotalCallCreated")
	res.Successful = atoi("SuccessfulCall(C)")
	res.Failed = atoi("FailedCall(C)")
	res.Retransmissions = atoi("Retransmissions(C)")
	return res
}

// lastStatRow parses SIPp's ';'-separated -trace_stat CSV (header line, one
// row per -fd period, a final row at exit) and returns its last row.
func lastStatRow(csv string) map[string]string {
	var lines []string
	for _, l := range strings.Split(csv, "\n") {
		if strings.TrimSpace(l) != "" {
			lines = append(lines, l)
		}
	}
	if len(lines) < 2 {
		return map[string]string{}
	}
	head := strings.Split(lines[0], ";")
	row := strings.Split(lines[len(lines)-1], ";")
	out := make(map[string]string, len(head))
	for i, h := range head {
		if h == "" || i >= len(row) {
			continue
		}
		out[h] = row[i]
	}
	return out
}

func readString(p string) string {
	b, err := os.ReadFile(p)
	if err != nil {
		return ""
	}
	return string(b)
}

func copyFile(src, dst string) error {
	b, err := os.ReadFile(src)
	if err != nil {
		return fmt.Errorf("testpeer: read %s: %w", src, err)
	}
	if err := os.WriteFile(dst, b, 0o644); err != nil {
		return fmt.Errorf("testpeer: write %s: %w", dst, err)
	}
	return nil
}

// pcapDuration is the play time of a pcap (last minus first capture time
// plus one 20 ms packet), 0 when unreadable.
func pcapDuration(path string) time.Duration {
	pkts, err := ReadRTPFromPcap(path)
	if err != nil || len(pkts) == 0 {
		return 0
	}
	return pkts[len(pkts)-1].Time.Sub(pkts[0].Time) + ptime
}

// logDiagnostics prints the tail of SIPp's logs for a failed test.
func logDiagnostics(t testing.TB, dir string) {
	for _, f := range []string{"sipp.out", "errors.log", "logs.log", "messages.log"} {
		s := readString(filepath.Join(dir, f))
		if s == "" {
			continue
		}
		t.Logf("testpeer: ---- tail of %s/%s ----\n%s", dir, f, tail(s, 4000))
	}
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "..." + s[len(s)-n:]
}
