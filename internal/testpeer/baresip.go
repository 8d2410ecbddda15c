package testpeer

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"
)

// BaresipOptions configure a headless baresip 1.0.0 (baresip-core) peer.
type BaresipOptions struct {
	// User and Pass form the account sip:User@Registrar (auth_pass).
	User, Pass string
	// Registrar "host:port"; empty means no registration (regint=0) and an
	// AOR on 127.0.0.1.
	Registrar string
	// AudioFile is an 8 kHz mono 16-bit WAV sent as the microphone. In
	// baresip 1.0.0 the call hangs up at its end (test-peers.md §2.1); when
	// empty, 60 s of silence is generated.
	AudioFile string
	// RecordDir receives dump-*-enc.wav / -dec.wav recordings (sndfile);
	// empty disables recording.
	RecordDir string
	// AnswerMode is manual, early or auto (default auto).
	AnswerMode string
	// MWI loads baresip's mwi module: it subscribes to message-summary
	// once registered and reports each NOTIFY as an MWI_NOTIFY event.
	MWI bool
	// Transport is the account's SIP transport: udp (default), tcp or
	// tls; CAFile is the PEM bundle the registrar's TLS certificate is
	// checked against (sip_cafile).
	Transport, CAFile string
	// MediaEnc is the account's mediaenc: "" (plain RTP) or srtp-mand
	// (SDES, RFC 4568; the srtp module is loaded).
	MediaEnc string
}

// BaresipEvent is an event sent by ctrl_tcp.
type BaresipEvent struct {
	Class      string `json:"class"`
	Type       string `json:"type"`
	Param      string `json:"param"`
	Direction  string `json:"direction"`
	PeerURI    string `json:"peeruri"`
	AccountAOR string `json:"accountaor"`
	ID         string `json:"id"`
}

// Baresip is a running baresip controlled over ctrl_tcp (netstring-framed
// JSON, test-peers.md §2.2).
type Baresip struct {
	// SIPPort is the port baresip listens on (UDP and TCP, 127.0.0.1).
	SIPPort int
	Dir     string

	cmd    *exec.Cmd
	conn   net.Conn
	done   chan struct{}
	reader chan struct{}

	mu        sync.Mutex
	events    []BaresipEvent
	responses map[string]baresipResponse
	notify    chan struct{}
	token     int
	stopOnce  sync.Once
}

type baresipResponse struct {
	OK   bool   `json:"ok"`
	Data string `json:"data"`
}

// StartBaresip writes a config directory, starts baresip and connects to
// its control socket. It is stopped at t.Cleanup; the test is skipped when
// baresip is not installed.
func StartBaresip(t testing.TB, opts BaresipOptions) *Baresip {
	t.Helper()
	bin, err := exec.LookPath("baresip")
	if err != nil {
		t.Skip("baresip is not installed")
	}
	dir := t.TempDir()
	ports := FreePorts(t, 2)
	sipPort, ctrlPort := ports[0], ports[1]
	rtpBase := FreePortBlock(t, 40)
	audio := opts.AudioFile
	if audio == "" {
		audio = filepath.Join(dir, "silence.wav")
		if err := WriteWAV(audio, GenerateSilence(60*time.Second)); err != nil {
			t.Fatal(err)
		}
	}
	if abs, err := filepath.Abs(audio); err == nil {
		audio = abs
	}
	conf := fmt.Sprintf(`poll_method		epoll
sip_listen		127.0.0.1:%d
net_interface		127.0.0.1
call_local_timeout	120
call_max_calls		4
audio_player		aubridge,nil
audio_source		aufile,%s
audio_alert		aubridge,nil
ausrc_srate		8000
auplay_srate		8000
ausrc_channels		1
auplay_channels		1
audio_buffer		20-160
rtp_ports		%d-%d
rtcp_mux		no
jitter_buffer_delay	5-10
module_path		/usr/lib/baresip/modules
module			g711.so
module			aufile.so
module			aubridge.so
module_tmp		uuid.so
module_tmp		account.so
module_app		menu.so
module_app		ctrl_tcp.so
ctrl_tcp_listen		127.0.0.1:%d
`, sipPort, audio, rtpBase, rtpBase+39, ctrlPort)
	if opts.CAFile != "" {
		conf += "sip_cafile\t\t" + opts.CAFile + "\n"
	}
	if opts.MediaEnc != "" {
		conf += "module\t\t\tsrtp.so\n"
	}
	if opts.RecordDir != "" {
		conf += "module\t\t\tsndfile.so\nsnd_path\t\t" + opts.RecordDir + "\n"
	}
	if opts.MWI {
		conf += "module_app\t\tmwi.so\n"
	}
	mode := opts.AnswerMode
	if mode == "" {
		mode = "auto"
	}
	user := opts.User
	if user == "" {
		user = "baresip"
	}
	host, regint := "127.0.0.1", "0"
	if opts.Registrar != "" {
		host, regint = opts.Registrar, "600"
	}
	uri := "sip:" + user + "@" + host
	if opts.Transport != "" && opts.Transport != "udp" {
		uri += ";transport=" + opts.Transport
	}
	account := fmt.Sprintf("<%s>;auth_pass=%s;answermode=%s;regint=%s;audio_codecs=pcmu,pcma", uri, opts.Pass, mode, regint)
	if opts.MediaEnc != "" {
		account += ";mediaenc=" + opts.MediaEnc
	}
	account += "\n"
	for name, body := range map[string]string{"config": conf, "accounts": account, "contacts": ""} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	out, err := os.Create(filepath.Join(dir, "baresip.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-f", dir)
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		_ = out.Close()
		t.Fatalf("testpeer: start baresip: %v", err)
	}
	b := &Baresip{SIPPort: sipPort, Dir: dir, cmd: cmd, done: make(chan struct{}),
		reader: make(chan struct{}), responses: map[string]baresipResponse{}, notify: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		_ = out.Close()
		close(b.done)
	}()
	t.Cleanup(func() {
		b.Stop()
		if t.Failed() {
			t.Logf("testpeer: ---- tail of baresip.log ----\n%s", tail(readString(filepath.Join(dir, "baresip.log")), 4000))
		}
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", ctrlPort), time.Second)
		if err == nil {
			b.conn = c
			break
		}
		select {
		case <-b.done:
			t.Fatalf("testpeer: baresip exited early")
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("testpeer: baresip ctrl_tcp: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	go b.readLoop()
	return b
}

// readLoop decodes netstrings ("LEN:JSON,") from ctrl_tcp.
func (b *Baresip) readLoop() {
	defer close(b.reader)
	r := bufio.NewReader(b.conn)
	for {
		lenStr, err := r.ReadString(':')
		if err != nil {
			return
		}
		n, err := strconv.Atoi(lenStr[:len(lenStr)-1])
		if err != nil || n < 0 || n > 1<<20 {
			return
		}
		buf := make([]byte, n+1)
		if _, err := io.ReadFull(r, buf); err != nil {
			return
		}
		var m struct {
			Event    bool   `json:"event"`
			Response bool   `json:"response"`
			Token    string `json:"token"`
			baresipResponse
			BaresipEvent
		}
		if json.Unmarshal(buf[:n], &m) != nil {
			continue
		}
		b.mu.Lock()
		if m.Event {
			b.events = append(b.events, m.BaresipEvent)
		}
		if m.Response {
			b.responses[m.Token] = m.baresipResponse
		}
		close(b.notify)
		b.notify = make(chan struct{})
		b.mu.Unlock()
	}
}

// Command sends a ctrl_tcp command (dial, hangup, accept, sndcode, reginfo,
// listcalls, quit ...) and returns its response data.
func (b *Baresip) Command(name, params string, timeout time.Duration) (string, error) {
	b.mu.Lock()
	b.token++
	tok := strconv.Itoa(b.token)
	b.mu.Unlock()
	body, err := json.Marshal(map[string]string{"command": name, "params": params, "token": tok})
	if err != nil {
		return "", fmt.Errorf("testpeer: %w", err)
	}
	if _, err := fmt.Fprintf(b.conn, "%d:%s,", len(body), body); err != nil {
		return "", fmt.Errorf("testpeer: baresip ctrl: %w", err)
	}
	var res baresipResponse
	ok := b.waitFor(timeout, func() bool {
		var found bool
		res, found = b.responses[tok]
		return found
	})
	if !ok {
		return "", fmt.Errorf("testpeer: baresip %s: no response", name)
	}
	if !res.OK {
		return res.Data, fmt.Errorf("testpeer: baresip %s failed: %s", name, res.Data)
	}
	return res.Data, nil
}

// WaitEvent waits for an event of the given type (e.g. CALL_ESTABLISHED)
// among all events received since start, and returns the first one.
func (b *Baresip) WaitEvent(typ string, timeout time.Duration) (BaresipEvent, bool) {
	var ev BaresipEvent
	ok := b.waitFor(timeout, func() bool {
		for _, e := range b.events {
			if e.Type == typ {
				ev = e
				return true
			}
		}
		return false
	})
	return ev, ok
}

// Events returns a copy of the events received so far.
func (b *Baresip) Events() []BaresipEvent {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]BaresipEvent(nil), b.events...)
}

// waitFor evaluates cond under the lock whenever a message arrives.
func (b *Baresip) waitFor(timeout time.Duration, cond func() bool) bool {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	for {
		b.mu.Lock()
		ok, ch := cond(), b.notify
		b.mu.Unlock()
		if ok {
			return true
		}
		select {
		case <-ch:
		case <-b.reader:
			b.mu.Lock()
			ok = cond()
			b.mu.Unlock()
			return ok
		case <-ctx.Done():
			return false
		}
	}
}

// Stop asks baresip to quit, kills it after 3 s, and reaps it.
func (b *Baresip) Stop() {
	b.stopOnce.Do(func() {
		if b.conn != nil {
			_, _ = b.Command("quit", "", time.Second)
		}
		select {
		case <-b.done:
		case <-time.After(3 * time.Second):
			_ = b.cmd.Process.Kill()
			<-b.done
		}
		if b.conn != nil {
			_ = b.conn.Close()
			<-b.reader
		}
	})
}
